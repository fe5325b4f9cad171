"""Loader for the Numenta Anomaly Benchmark (NAB) layout:
``data/<group>/<name>.csv`` and ``labels/combined_windows.json``."""

import json

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import _require_file, _resolve_dir, _unknown_name_error
from ._tables import malformed_file_error

__all__ = ["load_nab", "list_nab_series"]

_GROUP = "realAWSCloudwatch"

_DESCR = """\
NAB {group}/{name}
{underline}

Numenta Anomaly Benchmark (Lavin & Ahmad, ICMLA 2015; numenta/NAB, licence in
the data folder's LICENSE.txt). Univariate series at 5-minute steps with
labelled anomaly windows (NAB scoring rewards early detection inside a window).

- frame : {n} rows, timestamp index, column ``value``
- y : {n_anom} rows inside {n_win} anomaly window(s) (1 = anomaly)

Files read from: {path}
"""


def _nab_root(data_home, group):
    return _resolve_dir(
        data_home,
        "nab",
        ("", "NAB"),
        lambda p: (p / "data" / group).is_dir() and (p / "labels").is_dir(),
        f"NAB ({group})",
    )


def _names(root, group):
    return sorted(p.stem for p in (root / "data" / group).glob("*.csv"))


def list_nab_series(data_home=None, *, group=_GROUP):
    """List the NAB series of one group available under ``data_home``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        As in :func:`load_nab`.
    group : str, default="realAWSCloudwatch"
        NAB data group (a folder under ``data/``).

    Returns
    -------
    names : list of str
        Sorted series names (file names without ``.csv``).

    Examples
    --------
    >>> from skanomaly.datasets import list_nab_series
    >>> list_nab_series()[:2]  # doctest: +SKIP
    ['ec2_cpu_utilization_24ae8d', 'ec2_cpu_utilization_53ea38']
    """
    return _names(_nab_root(data_home, group), group)


def _first_bad(mask):
    return int(np.flatnonzero(mask)[0])


def _read_series(path):
    """The ``timestamp,value`` table, every row a valid time and a finite number."""
    what = "NAB data file"
    try:
        frame = pd.read_csv(path, engine="c", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise malformed_file_error(path, what, "it is empty") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed_file_error(path, what, f"the CSV parser said: {exc}") from None
    missing = {"timestamp", "value"} - set(frame.columns)
    if missing:
        raise malformed_file_error(
            path, what, f"it lacks the column(s) {sorted(missing)} (header: "
            f"{list(frame.columns)[:5]}); NAB files have a 'timestamp,value' header"
        )
    if frame.empty:
        raise malformed_file_error(path, what, "it holds no rows")
    stamps = pd.to_datetime(frame["timestamp"], errors="coerce", format="mixed")
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64)
    # data rows are numbered from 1 after the header line
    if stamps.isna().any():
        row = _first_bad(stamps.isna().to_numpy())
        raise malformed_file_error(
            path, what, f"data row {row + 1} has timestamp {frame['timestamp'].iloc[row]!r}, "
            "not a date and time"
        )
    if not np.isfinite(values).all():
        row = _first_bad(~np.isfinite(values))
        raise malformed_file_error(
            path, what, f"data row {row + 1} has value {frame['value'].iloc[row]!r}, not a "
            "finite number"
        )
    ts = stamps.to_numpy()
    # NAB itself repeats a timestamp now and then (clock changes); going back is an error
    if ts.shape[0] > 1 and (ts[1:] < ts[:-1]).any():
        row = _first_bad(ts[1:] < ts[:-1]) + 1
        raise malformed_file_error(
            path, what, f"data row {row + 1} ({stamps.iloc[row]}) comes before the row "
            f"before it ({stamps.iloc[row - 1]}); timestamps must not go back"
        )
    return pd.DataFrame({"value": values}, index=pd.DatetimeIndex(stamps, name="timestamp"))


def _read_windows_json(path):
    """``labels/combined_windows.json``: a mapping of series keys to [start, end] pairs."""
    try:
        with open(path, encoding="utf-8") as fh:
            windows_all = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise malformed_file_error(path, "NAB windows file", f"not valid JSON ({exc})") from None
    if not isinstance(windows_all, dict):
        raise malformed_file_error(
            path, "NAB windows file", f"its top level is a {type(windows_all).__name__}; NAB "
            "labels map 'group/name.csv' to a list of [start, end] windows"
        )
    return windows_all


def _parse_windows(raw, key, path):
    """``[[start, end], ...]`` of one series into checked Timestamp pairs."""
    def bad(detail):
        return malformed_file_error(path, "NAB windows file", f"the entry {key!r} {detail}")

    if not isinstance(raw, list):
        raise bad(f"is a {type(raw).__name__}, not a list of [start, end] windows")
    windows = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise bad(f"has window {i} = {pair!r}; each window is [start, end]")
        try:
            start, end = pd.Timestamp(pair[0]), pd.Timestamp(pair[1])
        except (TypeError, ValueError):
            raise bad(f"has window {i} = {pair!r}, whose bounds are not dates and times") from None
        if pd.isna(start) or pd.isna(end) or start > end:
            raise bad(f"has window {i} = {pair!r}; a window needs start <= end")
        windows.append((start, end))
    return windows


def _load_one(root, group, name, windows_all, windows_path):
    path = _require_file(root / "data" / group / f"{name}.csv", "NAB data file")
    frame = _read_series(path)

    key = f"{group}/{name}.csv"
    raw = windows_all.get(key)
    if raw is None:
        raise malformed_file_error(windows_path, "NAB windows file", f"it has no entry for {key!r}")
    windows = _parse_windows(raw, key, windows_path)

    ts = frame.index.to_numpy()
    y = np.zeros(len(frame), dtype=np.int8)
    if windows:
        starts = np.array([s.to_datetime64() for s, _ in windows]).astype(ts.dtype)
        ends = np.array([e.to_datetime64() for _, e in windows]).astype(ts.dtype)
        inside = (ts[:, None] >= starts[None, :]) & (ts[:, None] <= ends[None, :])
        y[inside.any(axis=1)] = 1

    descr = _DESCR.format(
        group=group,
        name=name,
        underline="=" * (len(group) + len(name) + 5),
        n=len(frame),
        n_anom=int(y.sum()),
        n_win=len(windows),
        path=path,
    )
    return Bunch(frame=frame, y=y, windows=windows, name=name, group=group, DESCR=descr)


def load_nab(name=None, data_home=None, *, group=_GROUP):
    """Load NAB series with per-row labels from their anomaly windows.

    Parameters
    ----------
    name : str, default=None
        Series name, e.g. ``"ec2_cpu_utilization_24ae8d"`` (``.csv`` and a
        ``"<group>/"`` prefix are accepted). ``None`` loads every series of
        the group (see Returns).
    data_home : str or path-like, default=None
        NAB folder (holding ``data/`` and ``labels/``) or a data root holding
        ``nab/``. When ``None``: ``$SKANOMALY_DATA``, then ``../shared/data/nab``
        relative to the current directory and to the source repository.
    group : str, default="realAWSCloudwatch"
        NAB data group (a folder under ``data/``).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        For one series, a Bunch with attributes:

        frame : DataFrame of shape (n_samples, 1)
            Column ``value`` (float64), indexed by ``timestamp``
            (DatetimeIndex).
        y : ndarray of shape (n_samples,), dtype int8
            1 for a row whose timestamp lies inside any anomaly window
            (bounds included), else 0.
        windows : list of tuple of (Timestamp, Timestamp)
            The series' anomaly windows ``(start, end)`` from
            ``labels/combined_windows.json``.
        name, group, DESCR : str
            Series name, NAB group, and a description.

        With ``name=None``, a Bunch with ``series`` (dict of name -> the
        Bunch above), ``names`` (sorted list) and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the NAB folder or a file is missing (the message lists the paths
        tried).
    ValueError
        If ``name`` is unknown (the message lists the available ones).

    Examples
    --------
    >>> from skanomaly.datasets import load_nab
    >>> nab = load_nab("ec2_cpu_utilization_24ae8d")  # doctest: +SKIP
    >>> nab.frame.shape, int(nab.y.sum()), len(nab.windows)  # doctest: +SKIP
    ((4032, 1), 402, 2)
    """
    root = _nab_root(data_home, group)
    available = _names(root, group)
    windows_path = _require_file(root / "labels" / "combined_windows.json", "NAB windows file")
    windows_all = _read_windows_json(windows_path)

    if name is None:
        series = {n: _load_one(root, group, n, windows_all, windows_path) for n in available}
        descr = (
            f"NAB {group}: {len(series)} series, "
            f"{sum(len(b.windows) for b in series.values())} anomaly windows.\n"
            f"Files read from: {root}\n"
        )
        return Bunch(series=series, names=available, group=group, DESCR=descr)

    name = str(name)
    if name.startswith(f"{group}/"):
        name = name[len(group) + 1:]
    if name.endswith(".csv"):
        name = name[:-4]
    if name not in available:
        raise _unknown_name_error("NAB series", name, available)
    return _load_one(root, group, name, windows_all, windows_path)
