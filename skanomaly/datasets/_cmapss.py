"""Loader for NASA C-MAPSS turbofan run-to-failure data (``train_FD00x.txt``,
``test_FD00x.txt``, ``RUL_FD00x.txt``)."""

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import _resolve_dir, _unknown_name_error
from ._tables import malformed_file_error, read_numeric_table

__all__ = ["load_cmapss", "CMAPSS_COLUMNS"]

_SUBSETS = ("FD001", "FD002", "FD003", "FD004")

#: Column names of the C-MAPSS tables.
CMAPSS_COLUMNS = (
    ["unit", "cycle"]
    + [f"setting_{i}" for i in range(1, 4)]
    + [f"sensor_{i}" for i in range(1, 22)]
)

_DESCR = """\
NASA C-MAPSS turbofan degradation, {subset}
==========================================

Simulated run-to-failure trajectories of turbofan engines (Saxena et al.,
'Damage Propagation Modeling for Aircraft Engine Run-to-Failure Simulation',
PHM 2008; NASA Prognostics Data Repository; US-government public data).

- train : {n_train} rows, {u_train} engines run to failure
- test : {n_test} rows, {u_test} engines cut off before failure
- columns : unit, cycle, setting_1..3, sensor_1..21
- rul_test : true remaining useful life of each test engine at its last cycle
- rul_train / rul_test_rows : per-row remaining useful life
- y_train / y_test : per-row labels of the common protocol, 1 (degraded) when
  RUL <= {thr}, else 0 ({a_train} and {a_test} degraded rows)

Files read from: {path}
"""


def _non_integer_row(values):
    """Index of the first value that is not a whole number, or None."""
    bad = np.flatnonzero(values != np.round(values))
    return int(bad[0]) if bad.size else None


def _read_cmapss_table(path, what):
    # The shared train file is tab-separated with CRLF endings, the test file
    # space-separated with trailing spaces: whitespace splitting reads both.
    # Every field must be a number and every line hold the 26 columns (unit,
    # cycle, 3 settings, 21 sensors): no text column, no NaN-padded short row.
    values = read_numeric_table(path, what, sep=None, n_fields=len(CMAPSS_COLUMNS))
    frame = pd.DataFrame(values, columns=CMAPSS_COLUMNS)
    for column in ("unit", "cycle"):
        row = _non_integer_row(frame[column].to_numpy())
        if row is not None:
            raise malformed_file_error(
                path, what, f"data row {row + 1} has {column} {float(frame[column].iloc[row])!r}, "
                "not a whole number"
            )
    frame = frame.astype({"unit": np.int64, "cycle": np.int64})
    # RUL counts cycles to the unit's last row: cycles must increase within a unit.
    unit, cycle = frame["unit"].to_numpy(), frame["cycle"].to_numpy()
    back = np.flatnonzero((unit[1:] == unit[:-1]) & (cycle[1:] <= cycle[:-1]))
    if back.size:
        row = int(back[0]) + 1
        raise malformed_file_error(
            path, what, f"data row {row + 1}: unit {unit[row]} goes from cycle "
            f"{cycle[row - 1]} to {cycle[row]}; cycles must increase within a unit"
        )
    return frame


def load_cmapss(subset="FD001", data_home=None, *, rul_threshold=30, as_frame=True):
    """Load a NASA C-MAPSS turbofan subset with per-row anomaly labels.

    C-MAPSS comes with remaining useful life (RUL), not anomaly labels. This
    loader adds the common protocol's labels: a row is degraded (1) when its
    RUL is at most ``rul_threshold`` cycles, normal (0) otherwise. Training
    engines run to failure, so a training row's RUL is the engine's last cycle
    minus the row's cycle; a test row's RUL adds the engine's true RUL at its
    last cycle (``RUL_FD00x.txt``).

    Parameters
    ----------
    subset : {"FD001", "FD002", "FD003", "FD004"}, default="FD001"
        Which subset to read (``train_<subset>.txt`` etc.).
    data_home : str or path-like, default=None
        Folder holding the text files, or a data root holding ``cmapss/``
        (or ``CMAPSSData/``). When ``None``: ``$SKANOMALY_DATA``, then
        ``../shared/data/cmapss`` relative to the current directory and to
        the source repository.
    rul_threshold : int, default=30
        Rows with RUL <= ``rul_threshold`` are labelled 1 (degraded).
    as_frame : bool, default=True
        If True, ``train`` and ``test`` are DataFrames (columns ``unit``,
        ``cycle``, ``setting_1..3``, ``sensor_1..21``) and the label and RUL
        vectors Series aligned with them; ``rul_test`` is a Series indexed by
        unit. If False, all are ndarrays (``train``/``test`` float64 with the
        same column order).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        train : DataFrame or ndarray of shape (n_train, 26)
            Training trajectories (run to failure).
        test : DataFrame or ndarray of shape (n_test, 26)
            Test trajectories (cut off before failure).
        rul_test : Series or ndarray of shape (n_test_units,)
            True RUL of each test engine at its last cycle, in unit order.
        rul_train : Series or ndarray of shape (n_train,)
            Per-row RUL of the training rows.
        rul_test_rows : Series or ndarray of shape (n_test,)
            Per-row RUL of the test rows.
        y_train : Series or ndarray of shape (n_train,), dtype int8
            1 when ``rul_train <= rul_threshold`` (degraded), else 0.
        y_test : Series or ndarray of shape (n_test,), dtype int8
            1 when ``rul_test_rows <= rul_threshold``, else 0.
        feature_names : list of str
            The 24 setting and sensor columns (``unit`` and ``cycle`` are
            identifiers, not features).
        frame_columns : list of str
            All 26 column names.
        subset : str
            The subset loaded.
        DESCR : str
            Description of the data and the labelling rule.

    Raises
    ------
    FileNotFoundError
        If the files are not found (the message lists the paths tried).
    ValueError
        If ``subset`` is unknown or the RUL file does not match the test units.

    Examples
    --------
    >>> from skanomaly.datasets import load_cmapss
    >>> cm = load_cmapss("FD001")  # doctest: +SKIP
    >>> cm.train.shape, cm.test.shape, cm.rul_test.shape  # doctest: +SKIP
    ((20631, 26), (13096, 26), (100,))
    >>> X = cm.train[cm.feature_names]  # doctest: +SKIP
    """
    subset = str(subset).upper()
    if subset not in _SUBSETS:
        raise _unknown_name_error("C-MAPSS subset", subset, _SUBSETS)
    if isinstance(rul_threshold, bool) or not isinstance(rul_threshold, (int, np.integer)):
        raise TypeError(
            f"rul_threshold must be a whole number of cycles; got {rul_threshold!r}."
        )
    if rul_threshold < 0:
        raise ValueError(f"rul_threshold must be >= 0; got {rul_threshold}.")

    root = _resolve_dir(
        data_home,
        "cmapss",
        ("", "CMAPSSData"),
        lambda p: (p / f"train_{subset}.txt").is_file(),
        f"C-MAPSS {subset}",
    )
    train = _read_cmapss_table(root / f"train_{subset}.txt", "C-MAPSS train file")
    test = _read_cmapss_table(root / f"test_{subset}.txt", "C-MAPSS test file")
    rul_path = root / f"RUL_{subset}.txt"
    rul_final = read_numeric_table(rul_path, "C-MAPSS RUL file", sep=None, n_fields=1)[:, 0]
    row = _non_integer_row(rul_final)
    if row is None and (rul_final < 0).any():
        row = int(np.flatnonzero(rul_final < 0)[0])
    if row is not None:
        raise malformed_file_error(
            rul_path, "C-MAPSS RUL file",
            f"data row {row + 1} is {float(rul_final[row])!r}; a remaining useful life is a "
            "whole number of cycles >= 0",
        )
    rul_final = rul_final.astype(np.int64)

    test_units = np.sort(test["unit"].unique())
    if rul_final.shape[0] != test_units.shape[0]:
        raise malformed_file_error(
            rul_path, "C-MAPSS RUL file",
            f"it has {rul_final.shape[0]} values but the test file has "
            f"{test_units.shape[0]} engines (one value per test engine, in unit order)",
        )
    rul_test = pd.Series(rul_final, index=pd.Index(test_units, name="unit"), name="rul")

    last_train = train.groupby("unit")["cycle"].transform("max")
    rul_train = (last_train - train["cycle"]).rename("rul")
    last_test = test.groupby("unit")["cycle"].transform("max")
    rul_test_rows = (last_test - test["cycle"] + test["unit"].map(rul_test)).rename("rul")
    y_train = (rul_train <= rul_threshold).astype(np.int8).rename("anomaly")
    y_test = (rul_test_rows <= rul_threshold).astype(np.int8).rename("anomaly")

    descr = _DESCR.format(
        subset=subset,
        n_train=len(train),
        u_train=train["unit"].nunique(),
        n_test=len(test),
        u_test=len(test_units),
        thr=rul_threshold,
        a_train=int(y_train.sum()),
        a_test=int(y_test.sum()),
        path=root,
    )
    if not as_frame:
        train = train.to_numpy(dtype=np.float64)
        test = test.to_numpy(dtype=np.float64)
        rul_test, rul_train, rul_test_rows, y_train, y_test = (
            s.to_numpy() for s in (rul_test, rul_train, rul_test_rows, y_train, y_test)
        )
    return Bunch(
        train=train,
        test=test,
        rul_test=rul_test,
        rul_train=rul_train,
        rul_test_rows=rul_test_rows,
        y_train=y_train,
        y_test=y_test,
        feature_names=list(CMAPSS_COLUMNS[2:]),
        frame_columns=list(CMAPSS_COLUMNS),
        subset=subset,
        rul_threshold=rul_threshold,
        DESCR=descr,
    )
