"""Fault tables -> per-bin 0/1 labels."""

import numpy as np
import pandas as pd

__all__ = ["fault_labels"]


def _bin_width(index, freq):
    if freq is not None:
        width = pd.Timedelta(freq)
    elif index.freq is not None:
        width = pd.Timedelta(index.freq)
    elif len(index) >= 2:
        # The smallest step: a gap in the index must not widen every bin.
        width = pd.Timedelta(int(np.diff(index.as_unit("ns").asi8).min()), unit="ns")
    else:
        raise ValueError(
            "freq cannot be inferred from an index with fewer than 2 rows; pass freq=..."
        )
    if width <= pd.Timedelta(0):
        raise ValueError(f"freq must be a positive duration; got {freq!r}.")
    return width


def _fault_bounds(faults, default_duration):
    missing = [c for c in ("time",) if c not in faults.columns]
    if missing:
        raise ValueError(
            f"faults must have a 'time' column (fault start); got columns {list(faults.columns)}."
        )
    start = pd.to_datetime(faults["time"])
    if "end" in faults.columns:
        end = pd.to_datetime(faults["end"])
    else:
        end = pd.Series(pd.NaT, index=faults.index, dtype=start.dtype)
    if end.isna().any():
        if default_duration is None:
            raise ValueError(
                f"{int(end.isna().sum())} fault(s) have no 'end'; pass default_duration=... "
                "(e.g. '3min') to label a fixed period after each start."
            )
        end = end.fillna(start + pd.Timedelta(default_duration))
    if start.isna().any():
        raise ValueError(f"{int(start.isna().sum())} fault(s) have no start 'time'.")
    if (end <= start).any():
        bad = int((end <= start).sum())
        raise ValueError(f"{bad} fault(s) end at or before their start; check 'end'.")
    return start, end


def fault_labels(index, faults, *, freq=None, by=None, columns=None, default_duration=None):
    """Turn a table of faults (start and end times) into per-bin 0/1 labels.

    A bin starts at ``index[i]`` and lasts ``freq``: ``[index[i], index[i] + freq)``.
    It is labelled 1 when it overlaps a fault's period ``[time, end)``, so a fault that
    starts inside a bin labels that whole bin, and a fault that ends exactly at a bin's
    start does not label it.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Start of each bin, sorted (e.g. the index of a metrics table).
    faults : pandas.DataFrame
        One row per fault with columns ``time`` (start) and ``end``; ``end`` may be
        absent or NaT when ``default_duration`` is given. With ``by`` the column of that
        name (``"service"`` or ``"pod"``) is needed too. Other columns are ignored.
    freq : str, Timedelta or None, default=None
        Bin width. None takes ``index.freq``, else the smallest step of ``index``.
    by : {None, "service", "pod"}, default=None
        None: one label per bin (any fault). ``"service"`` / ``"pod"``: one 0/1 column
        per service / pod, set only while a fault on that service / pod is active.
    columns : sequence of str or None, default=None
        With ``by``, the columns to return (e.g. every service of the system, so that
        services without faults get an all-zero column). None: the services / pods
        named in ``faults``. A fault on a name not in ``columns`` raises an error.
    default_duration : str, Timedelta or None, default=None
        Length of the fault period for faults without an ``end``. None: every fault
        must have an ``end``.

    Returns
    -------
    labels : pandas.Series or pandas.DataFrame of int8
        A Series named ``"label"`` on ``index`` when ``by`` is None, else a DataFrame
        on ``index`` with one column per service / pod.

    Examples
    --------
    >>> import pandas as pd
    >>> from skanomaly.datasets import fault_labels
    >>> index = pd.date_range("2024-01-01", periods=6, freq="min")
    >>> faults = pd.DataFrame({"time": [pd.Timestamp("2024-01-01 00:01:30")],
    ...                        "end": [pd.Timestamp("2024-01-01 00:03:00")],
    ...                        "service": ["cart"]})
    >>> fault_labels(index, faults).tolist()
    [0, 1, 1, 0, 0, 0]
    >>> fault_labels(index, faults, by="service", columns=["cart", "ads"]).sum().tolist()
    [2, 0]
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(f"index must be a pandas.DatetimeIndex; got {type(index).__name__}.")
    if not index.is_monotonic_increasing:
        raise ValueError("index must be sorted in increasing time order.")
    if not isinstance(faults, pd.DataFrame):
        raise TypeError(f"faults must be a pandas.DataFrame; got {type(faults).__name__}.")
    if by not in (None, "service", "pod"):
        raise ValueError(f"by must be None, 'service' or 'pod'; got {by!r}.")
    if by is not None and by not in faults.columns:
        raise ValueError(f"by={by!r} needs a {by!r} column in faults.")
    width = _bin_width(index, freq) if len(index) else pd.Timedelta(0)
    width = width.as_unit("ns")
    start, end = _fault_bounds(faults, default_duration)
    if index.tz is not None or start.dt.tz is not None:
        if (index.tz is None) != (start.dt.tz is None):
            raise ValueError(
                "index and fault times must both be time-zone aware or both naive; "
                f"got index tz={index.tz}, faults tz={start.dt.tz}."
            )
    bins = index.as_unit("ns").asi8
    s_ns = start.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    e_ns = end.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    # bins overlapping [s, e): bin_start < e and bin_start + width > s
    lo = np.searchsorted(bins, s_ns - width.value, side="right")
    hi = np.searchsorted(bins, e_ns, side="left")
    if by is None:
        diff = np.zeros(len(index) + 1, dtype=np.int64)
        np.add.at(diff, lo, 1)
        np.add.at(diff, np.maximum(hi, lo), -1)
        y = (np.cumsum(diff[:-1]) > 0).astype(np.int8)
        return pd.Series(y, index=index, name="label")
    names = faults[by].astype(str).to_numpy()
    cols = list(pd.unique(names)) if columns is None else [str(c) for c in columns]
    unknown = sorted(set(names) - set(cols))
    if unknown:
        raise ValueError(f"faults name {by}(s) {unknown} that are not in columns.")
    pos = {c: j for j, c in enumerate(cols)}
    j = np.array([pos[n] for n in names], dtype=np.int64)
    diff = np.zeros((len(index) + 1, len(cols)), dtype=np.int64)
    np.add.at(diff, (lo, j), 1)
    np.add.at(diff, (np.maximum(hi, lo), j), -1)
    y = (np.cumsum(diff[:-1], axis=0) > 0).astype(np.int8)
    return pd.DataFrame(y, index=index, columns=cols)
