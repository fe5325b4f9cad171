"""Reader for the Loghub-2k samples (``<System>_2k.log_structured[_corrected].csv``)."""

import pandas as pd

from ._base import _require_file, _resolve_dir, _unknown_name_error

__all__ = ["LOGHUB_SYSTEMS", "list_loghub_systems", "load_loghub"]

#: Systems of the Loghub-2k benchmark (Zhu et al., ICSE-SEIP 2019).
LOGHUB_SYSTEMS = ("Apache", "BGL", "HDFS", "HPC", "Hadoop", "OpenStack", "Spark", "Zookeeper")


def _root(data_home):
    return _resolve_dir(data_home, "loghub", ("",),
                        lambda p: (p / "HDFS").is_dir() or (p / "BGL").is_dir(), "Loghub-2k")


def list_loghub_systems(data_home=None):
    """Systems present under the Loghub folder.

    Parameters
    ----------
    data_home : path-like or None, default=None
        Folder holding ``loghub/`` (or the ``loghub`` folder itself).

    Returns
    -------
    systems : list of str

    Examples
    --------
    >>> from skanomaly.datasets._loghub import list_loghub_systems
    >>> try:
    ...     "HDFS" in list_loghub_systems()
    ... except FileNotFoundError:
    ...     True
    True
    """
    root = _root(data_home)
    return sorted(p.name for p in root.iterdir()
                  if (p / f"{p.name}_2k.log_structured.csv").is_file())


def load_loghub(system="HDFS", data_home=None, *, corrected=False):
    """Load one Loghub-2k sample with its ground-truth templates.

    Parameters
    ----------
    system : str, default="HDFS"
        One of :data:`LOGHUB_SYSTEMS`.
    data_home : path-like or None, default=None
        Folder holding ``loghub/`` (see :func:`skanomaly.datasets.get_data_home`).
    corrected : bool, default=False
        Use the corrected ground truth of Khan et al. (ICSE 2022).

    Returns
    -------
    frame : pandas.DataFrame
        One row per line: ``LineId``, the system's header fields, ``Content`` (the
        message), ``EventId`` and ``EventTemplate`` (ground truth); BGL also has
        ``Label``.

    Examples
    --------
    >>> from skanomaly.datasets._loghub import load_loghub
    >>> try:
    ...     df = load_loghub("HDFS")
    ... except FileNotFoundError:
    ...     df = None
    >>> df is None or (len(df) == 2000 and "Content" in df)
    True
    """
    if system not in LOGHUB_SYSTEMS:
        raise _unknown_name_error("Loghub system", system, list(LOGHUB_SYSTEMS))
    root = _root(data_home)
    suffix = "_corrected" if corrected else ""
    path = _require_file(root / system / f"{system}_2k.log_structured{suffix}.csv",
                         f"Loghub {system} structured file")
    df = pd.read_csv(path, dtype={"Content": str, "EventId": str, "EventTemplate": str},
                     keep_default_na=False)
    return df
