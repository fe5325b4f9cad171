"""Loaders for the OmniAnomaly layout: SMD (Server Machine Dataset) and ASD
(Application Server Dataset), plus the small SMD sample shipped in the package.

Layout (``<root>/{train,test,test_label,interpretation_label}/<entity>.txt``):

- ``train/<entity>.txt``: comma-separated floats, one row per time step, no header;
- ``test/<entity>.txt``: same columns, the period right after train;
- ``test_label/<entity>.txt``: one 0/1 per test row (1 = anomalous);
- ``interpretation_label/<entity>.txt``: lines ``start-end:d1,d2,...`` giving a
  test-row range (1-based, inclusive) and the 1-based dimensions that explain it.
"""

from importlib import resources

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import _require_file, _resolve_dir, _unknown_name_error, label_segments
from ._tables import malformed_file_error, read_numeric_table

__all__ = [
    "load_smd",
    "list_smd_machines",
    "load_asd",
    "list_asd_servers",
    "load_smd_sample",
    "parse_interpretation_label",
]

_PARTS = ("train", "test", "test_label")

_LAYOUTS = {
    # dataset key: (folder under a data root, layout folder, entity kind, human name)
    "smd": ("smd", "ServerMachineDataset", "machine", "SMD (Server Machine Dataset)"),
    "asd": ("asd", "ApplicationServerDataset", "server", "ASD (Application Server Dataset)"),
}

_SAMPLE_FILE = "smd_machine-1-7_sample.npz"

_DESCR = """\
{human}, {kind} {entity}
{underline}

Multivariate server metrics in the OmniAnomaly layout ({source}). Licence: MIT.

- X_train : {n_train} rows x {n_features} features (anomaly-free period, not
  guaranteed clean)
- X_test : {n_test} rows x {n_features} features, the period right after train
- y_test : {n_anom} anomalous test rows ({pct:.2f} %) in {n_seg} labelled segments
- interpretation : {n_interp} segments with their root-cause dimensions, as
  0-based half-open row ranges ``(start, end)`` and 0-based dimension indices
  (the file's ``a-b:d1,d2`` becomes ``(a - 1, b, [d1 - 1, d2 - 1])``, then
  snapped to the labelled segment it overlaps: the files are off by one row
  against test_label)

Files read from: {path}
"""

_SOURCES = {
    "smd": "Su et al., 'Robust Anomaly Detection for Multivariate Time Series through "
    "Stochastic Recurrent Neural Network', KDD 2019; NetManAIOps/OmniAnomaly",
    "asd": "Li et al., 'Multivariate Time Series Anomaly Detection and Interpretation "
    "using Hierarchical Inter-Metric and Temporal Embedding', KDD 2021; zhhlee/InterFusion",
}


def _check_layout(path):
    return all((path / part).is_dir() for part in _PARTS)


def _layout_dir(dataset, data_home):
    folder, layout, _, human = _LAYOUTS[dataset]
    return _resolve_dir(data_home, folder, (layout, ""), _check_layout, human)


def _list_entities(root):
    return sorted(p.stem for p in (root / "train").glob("*.txt"))


def parse_interpretation_label(lines):
    """Parse interpretation labels from their text form into 0-based ranges.

    The files hold lines ``start-end:d1,d2,...`` where ``start`` and ``end``
    are 1-based, inclusive test-row numbers and ``d1, d2, ...`` 1-based
    dimension numbers. They are converted to Python conventions: the row range
    becomes ``(start - 1, end)`` (0-based, half-open, so ``X_test[s:e]`` is the
    segment) and the dimensions ``d - 1`` (0-based column indices, sorted,
    duplicates removed).

    Parameters
    ----------
    lines : iterable of str
        Lines of an ``interpretation_label`` file; blank lines are skipped.

    Returns
    -------
    interpretation : list of tuple of (int, int, list of int)
        ``(start, end, dims)`` per line, in file order.

    Raises
    ------
    ValueError
        If a line does not have the ``start-end:d1,d2`` form or its range is
        empty or starts below 1.

    Examples
    --------
    >>> from skanomaly.datasets import parse_interpretation_label
    >>> parse_interpretation_label(["837-858:1,6,9"])
    [(836, 858, [0, 5, 8])]
    """
    out = []
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            rng, dims = line.split(":", 1)
            start, end = (int(v) for v in rng.split("-"))
            dim_list = sorted({int(d) - 1 for d in dims.split(",") if d.strip()})
        except ValueError:
            raise ValueError(
                f"Interpretation label line {lineno} is not of the form "
                f"'start-end:d1,d2,...': {line!r}"
            ) from None
        if start < 1 or end < start or (dim_list and dim_list[0] < 0):
            raise ValueError(
                f"Interpretation label line {lineno} has an invalid range or dimension "
                f"(1-based, inclusive, start <= end expected): {line!r}"
            )
        out.append((start - 1, end, dim_list))
    return out


def _align_to_labels(interpretation, y):
    """Snap each interpretation range to the labelled segment it overlaps.

    The shared copies of the files disagree with ``test_label`` by one row: after
    the 1-based inclusive conversion, SMD ranges start one row before the
    labelled segment and ASD ranges end one row before it. ``test_label`` is
    taken as the reference: a range overlapping exactly one labelled segment is
    replaced by that segment; any other range is kept as converted.
    """
    segments = label_segments(y)
    if not segments:
        return interpretation
    seg = np.asarray(segments)
    out = []
    for start, end, dims in interpretation:
        hit = np.flatnonzero((seg[:, 0] < end) & (seg[:, 1] > start))
        if hit.size == 1:
            start, end = (int(v) for v in seg[hit[0]])
        out.append((start, end, dims))
    return out


def _load_layout(dataset, entity, data_home, as_frame, return_X_y):
    folder, layout, kind, human = _LAYOUTS[dataset]
    root = _layout_dir(dataset, data_home)
    available = _list_entities(root)
    entity = str(entity)
    if entity.endswith(".txt"):
        entity = entity[:-4]
    if entity not in available:
        raise _unknown_name_error(kind, entity, available)

    X_train = read_numeric_table(
        root / "train" / f"{entity}.txt", f"{human} train file", dtype=np.float32
    )
    X_test = read_numeric_table(
        root / "test" / f"{entity}.txt", f"{human} test file", dtype=np.float32,
        n_fields=X_train.shape[1],
    )
    label_path = root / "test_label" / f"{entity}.txt"
    y_test = read_numeric_table(label_path, f"{human} test_label file", n_fields=1).ravel()

    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(
            f"{human} {kind} {entity}: train has {X_train.shape[1]} columns but test has "
            f"{X_test.shape[1]}."
        )
    if y_test.shape[0] != X_test.shape[0]:
        raise ValueError(
            f"{human} {kind} {entity}: test_label has {y_test.shape[0]} rows but test has "
            f"{X_test.shape[0]}."
        )
    bad = np.flatnonzero(~np.isin(y_test, (0, 1)))
    if bad.size:
        raise malformed_file_error(
            label_path, f"{human} test_label file",
            f"{bad.size} value(s) are not 0 or 1 (first {y_test[bad[0]]:g} on data row "
            f"{bad[0] + 1})",
        )
    y_test = y_test.astype(np.int8)

    interp_path = root / "interpretation_label" / f"{entity}.txt"
    if interp_path.is_file():
        try:
            lines = interp_path.read_text(encoding="utf-8").splitlines()
            parsed = parse_interpretation_label(lines)
        except (ValueError, UnicodeDecodeError) as exc:
            raise malformed_file_error(
                interp_path, f"{human} interpretation_label file", str(exc).rstrip(".")
            ) from None
        interpretation = _align_to_labels(parsed, y_test)
    else:
        interpretation = None

    n_features = X_train.shape[1]
    feature_names = [f"dim_{j}" for j in range(n_features)]
    if as_frame:
        X_train = pd.DataFrame(X_train, columns=feature_names)
        X_test = pd.DataFrame(X_test, columns=feature_names)
        y_test = pd.Series(y_test, name="anomaly")
    if return_X_y:
        return X_train, X_test, y_test

    title = f"{human}, {kind} {entity}"
    descr = _DESCR.format(
        human=human,
        kind=kind,
        entity=entity,
        underline="=" * len(title),
        source=_SOURCES[dataset],
        n_train=X_train.shape[0],
        n_test=X_test.shape[0],
        n_features=n_features,
        n_anom=int(np.asarray(y_test).sum()),
        pct=100.0 * float(np.asarray(y_test).mean()) if len(y_test) else 0.0,
        n_seg=len(label_segments(np.asarray(y_test))),
        n_interp="no" if interpretation is None else len(interpretation),
        path=root,
    )
    bunch = Bunch(
        X_train=X_train,
        X_test=X_test,
        y_test=y_test,
        interpretation=interpretation,
        feature_names=feature_names,
        DESCR=descr,
    )
    bunch[kind] = entity
    return bunch


def load_smd(machine="machine-1-7", data_home=None, *, as_frame=False, return_X_y=False):
    """Load one machine of the Server Machine Dataset (SMD).

    SMD (Su et al., KDD 2019, MIT licence) holds 38 metrics of servers at
    1-minute steps: an anomaly-free training period, a test period right after
    it with per-row 0/1 labels, and per labelled segment the dimensions that
    explain it (interpretation labels). Files are read from OmniAnomaly's
    layout ``ServerMachineDataset/{train,test,test_label,interpretation_label}/
    machine-X-Y.txt``.

    Parameters
    ----------
    machine : str, default="machine-1-7"
        Machine name, e.g. ``"machine-2-1"`` (see :func:`list_smd_machines`).
    data_home : str or path-like, default=None
        Either the folder holding ``ServerMachineDataset`` or that folder
        itself (a data root holding ``smd/ServerMachineDataset`` also works).
        When ``None``: ``$SKANOMALY_DATA``, then ``../shared/data/smd``
        relative to the current directory and to the source repository.
    as_frame : bool, default=False
        If True, ``X_train`` and ``X_test`` are DataFrames with columns
        ``feature_names`` and ``y_test`` a Series named ``"anomaly"``.
    return_X_y : bool, default=False
        If True, return ``(X_train, X_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        X_train : ndarray of shape (n_train, 38), dtype float32
            Training period (no labels; believed mostly normal).
        X_test : ndarray of shape (n_test, 38), dtype float32
            Test period.
        y_test : ndarray of shape (n_test,), dtype int8
            1 for an anomalous test row, 0 otherwise.
        interpretation : list of tuple of (int, int, list of int) or None
            Per labelled segment ``(start, end, dims)``: 0-based half-open test
            row range and 0-based dimension indices. The file's 1-based
            inclusive ``a-b:d1,d2`` becomes ``(a - 1, b, [d1 - 1, d2 - 1])``
            (see :func:`parse_interpretation_label`); a range that overlaps
            exactly one labelled segment of ``y_test`` is then snapped to it,
            because the public files are off by one row against
            ``test_label`` (SMD ranges start one row early, ASD ranges end one
            row early). So ``X_test[start:end, dims]`` is the segment and its
            root-cause columns. ``None`` if the machine has no interpretation
            file.
        feature_names : list of str
            ``["dim_0", ..., "dim_37"]`` (SMD does not name its metrics).
        machine : str
            The machine loaded.
        DESCR : str
            Description of the data.

    (X_train, X_test, y_test) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If no SMD folder is found (the message lists the paths tried) or one
        of the machine's files is missing.
    ValueError
        If ``machine`` is unknown (the message lists the available ones) or
        the files disagree in shape.

    See Also
    --------
    load_asd : Same layout, Application Server Dataset.
    load_smd_sample : Small slice of machine-1-7 shipped in the package.

    Examples
    --------
    >>> from skanomaly.datasets import load_smd
    >>> smd = load_smd("machine-1-7")  # doctest: +SKIP
    >>> smd.X_test.shape, int(smd.y_test.sum())  # doctest: +SKIP
    ((23697, 38), 2398)
    >>> smd.interpretation[0]  # doctest: +SKIP
    (836, 858, [0, 5, 8, 11, 12, 13, 14, 15])
    """
    return _load_layout("smd", machine, data_home, as_frame, return_X_y)


def list_smd_machines(data_home=None):
    """List the SMD machines available under ``data_home``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        As in :func:`load_smd`.

    Returns
    -------
    machines : list of str
        Sorted machine names, e.g. ``["machine-1-7", "machine-2-1"]``.

    Examples
    --------
    >>> from skanomaly.datasets import list_smd_machines
    >>> list_smd_machines()  # doctest: +SKIP
    ['machine-1-7', 'machine-2-1', 'machine-3-2', 'machine-3-4']
    """
    return _list_entities(_layout_dir("smd", data_home))


def load_asd(server="omi-1", data_home=None, *, as_frame=False, return_X_y=False):
    """Load one server of the Application Server Dataset (ASD).

    ASD (Li et al., KDD 2021, MIT licence) has the same layout and label
    formats as SMD (``ApplicationServerDataset/{train,test,test_label,
    interpretation_label}/omi-N.txt``) with 19 metrics at 5-minute steps.

    Parameters
    ----------
    server : str, default="omi-1"
        Server name, e.g. ``"omi-3"`` (see :func:`list_asd_servers`).
    data_home : str or path-like, default=None
        Either the folder holding ``ApplicationServerDataset`` or that folder
        itself (a data root holding ``asd/ApplicationServerDataset`` also
        works). When ``None``: ``$SKANOMALY_DATA``, then ``../shared/data/asd``
        relative to the current directory and to the source repository.
    as_frame : bool, default=False
        If True, ``X_train``/``X_test`` are DataFrames and ``y_test`` a Series.
    return_X_y : bool, default=False
        If True, return ``(X_train, X_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Same fields as :func:`load_smd` (``X_train``, ``X_test``, ``y_test``,
        ``interpretation``, ``feature_names``, ``DESCR``) with ``server``
        instead of ``machine``; arrays have 19 columns.

    (X_train, X_test, y_test) : tuple
        If ``return_X_y`` is True.

    Examples
    --------
    >>> from skanomaly.datasets import load_asd
    >>> asd = load_asd("omi-1")  # doctest: +SKIP
    >>> asd.X_train.shape, asd.X_test.shape, int(asd.y_test.sum())  # doctest: +SKIP
    ((8640, 19), (4320, 19), 441)
    """
    return _load_layout("asd", server, data_home, as_frame, return_X_y)


def list_asd_servers(data_home=None):
    """List the ASD servers available under ``data_home``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        As in :func:`load_asd`.

    Returns
    -------
    servers : list of str
        Sorted server names, e.g. ``["omi-1", "omi-2"]``.

    Examples
    --------
    >>> from skanomaly.datasets import list_asd_servers
    >>> list_asd_servers()  # doctest: +SKIP
    ['omi-1', 'omi-2', 'omi-3', 'omi-4']
    """
    return _list_entities(_layout_dir("asd", data_home))


def load_smd_sample(*, as_frame=False, return_X_y=False):
    """Load the small slice of SMD machine-1-7 shipped inside the package.

    It needs no download and backs the ``skanomaly demo`` command. The file
    ``skanomaly/datasets/data/smd_machine-1-7_sample.npz`` holds the last 6000
    rows of machine-1-7's training period and a contiguous 7000-row window of
    its test period chosen by a fixed rule (the window, starting 200 rows
    before a labelled segment, that fully contains the most labelled
    segments; see ``benchmarks/make_demo_sample.py``). SMD is MIT licensed
    (NetManAIOps/OmniAnomaly); see ``skanomaly/datasets/data/README.md``.

    Parameters
    ----------
    as_frame : bool, default=False
        If True, ``X_train``/``X_test`` are DataFrames and ``y_test`` a Series.
    return_X_y : bool, default=False
        If True, return ``(X_train, X_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Same fields as :func:`load_smd`, plus ``train_rows`` and ``test_rows``:
        the ``(start, end)`` 0-based half-open row ranges of the slices in the
        full machine-1-7 train and test files. ``interpretation`` is shifted to
        the sample's test rows (segments cut by the window are clipped).

    (X_train, X_test, y_test) : tuple
        If ``return_X_y`` is True.

    Examples
    --------
    >>> from skanomaly.datasets import load_smd_sample
    >>> sample = load_smd_sample()
    >>> sample.X_train.shape, sample.X_test.shape
    ((6000, 38), (7000, 38))
    >>> sample.X_test.dtype
    dtype('float32')
    """
    ref = resources.files("skanomaly.datasets").joinpath("data", _SAMPLE_FILE)
    with resources.as_file(ref) as path:
        _require_file(path, "packaged SMD sample (reinstall skanomaly)")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}

    X_train = arrays["X_train"].astype(np.float32, copy=False)
    X_test = arrays["X_test"].astype(np.float32, copy=False)
    y_test = arrays["y_test"].astype(np.int8, copy=False)
    feature_names = [str(f) for f in arrays["feature_names"]]
    interp = arrays["interpretation"]  # rows: start, end, then a 0/1 mask per dim
    interpretation = [
        (int(r[0]), int(r[1]), [int(j) for j in np.flatnonzero(r[2:])]) for r in interp
    ]
    train_rows = tuple(int(v) for v in arrays["train_rows"])
    test_rows = tuple(int(v) for v in arrays["test_rows"])
    machine = str(arrays["machine"])

    if as_frame:
        X_train = pd.DataFrame(X_train, columns=feature_names)
        X_test = pd.DataFrame(X_test, columns=feature_names)
        y_test = pd.Series(y_test, name="anomaly")
    if return_X_y:
        return X_train, X_test, y_test

    n_seg = len(label_segments(np.asarray(y_test)))
    descr = (
        f"SMD {machine} sample (shipped with skanomaly)\n"
        f"{'=' * (len(machine) + 35)}\n\n"
        f"A slice of the Server Machine Dataset (Su et al., KDD 2019; NetManAIOps/"
        f"OmniAnomaly; MIT licence).\n\n"
        f"- X_train : rows [{train_rows[0]}, {train_rows[1]}) of the {machine} train file "
        f"({X_train.shape[0]} x {X_train.shape[1]}, float32)\n"
        f"- X_test : rows [{test_rows[0]}, {test_rows[1]}) of the {machine} test file "
        f"({X_test.shape[0]} x {X_test.shape[1]}, float32)\n"
        f"- y_test : {int(np.asarray(y_test).sum())} anomalous rows in {n_seg} labelled "
        f"segments\n"
        f"- interpretation : 0-based half-open rows of the sample, 0-based dimensions\n\n"
        f"Test window rule: 7000 rows starting 200 rows before a labelled segment, the one "
        f"fully containing the most segments (earliest on ties); see "
        f"benchmarks/make_demo_sample.py.\n"
    )
    return Bunch(
        X_train=X_train,
        X_test=X_test,
        y_test=y_test,
        interpretation=interpretation,
        feature_names=feature_names,
        machine=machine,
        train_rows=train_rows,
        test_rows=test_rows,
        DESCR=descr,
    )

