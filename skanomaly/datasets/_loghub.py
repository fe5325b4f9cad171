"""Reader for Loghub-2k system folders (``<System>/<System>_2k.log*``)."""

from pathlib import Path

import pandas as pd

from ._base import _require_file, _resolve_dir, _unknown_name_error

__all__ = ["LOGHUB_FORMATS", "LOGHUB_SYSTEMS", "list_loghub_systems", "load_loghub"]

#: Header format of each Loghub-2k system's raw lines (logpai/logparser's benchmark
#: settings), read by :class:`~skanomaly.preprocessing.LogHeaderParser` when a folder
#: has the raw ``<System>_2k.log`` but no structured file.
LOGHUB_FORMATS = {
    "Android": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "BGL": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> "
           "<Content>",
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "HPC": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "HealthApp": r"<Time>\|<Component>\|<Pid>\|<Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "Mac": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "OpenStack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "Proxifier": r"\[<Time>\] <Program> - <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Thunderbird": r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> "
                   r"<Component>(\[<PID>\])?: <Content>",
    "Windows": "<Date> <Time>, <Level>                  <Component>    <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
}

#: The sixteen systems of the Loghub-2k benchmark (Zhu et al., ICSE-SEIP 2019).
LOGHUB_SYSTEMS = tuple(sorted(LOGHUB_FORMATS, key=str.lower))


def _has_sample(folder):
    folder = Path(folder)
    return folder.is_dir() and any(folder.glob(f"{folder.name}_2k.log*"))


def _root(data_home):
    return _resolve_dir(data_home, "loghub", ("",),
                        lambda p: p.is_dir() and any(_has_sample(c) for c in p.iterdir()),
                        "Loghub-2k")


def list_loghub_systems(data_home=None):
    """Systems present under the Loghub folder (any folder in the Loghub-2k layout).

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
    return sorted(p.name for p in _root(data_home).iterdir() if _has_sample(p))


def _folder(system, data_home):
    """The folder of ``system``: a path to a system folder, or a name under the root."""
    path = Path(system)
    if path.is_dir() and _has_sample(path):
        return path
    if len(path.parts) > 1 or path.is_dir():
        raise FileNotFoundError(
            f"{str(system)!r} is not a Loghub-2k system folder: it should hold "
            f"{path.name}_2k.log_structured.csv or {path.name}_2k.log."
        )
    root = _root(data_home)
    folder = root / str(system)
    if not _has_sample(folder):
        present = [p.name for p in root.iterdir() if _has_sample(p)]
        if str(system) not in LOGHUB_SYSTEMS:
            raise _unknown_name_error("Loghub system", system, sorted(set(present)
                                                                      | set(LOGHUB_SYSTEMS)))
        raise FileNotFoundError(
            f"Loghub system {system!r} is not under {root} (present: {', '.join(present)}). "
            f"Put the logpai/loghub folder {system}/ with {system}_2k.log (and, for the "
            "ground truth, its _structured.csv) there, or pass its path as system."
        )
    return folder


def load_loghub(system="HDFS", data_home=None, *, corrected=False, log_format=None,
                decode_errors="strict"):
    """Load one Loghub-2k sample, with its ground-truth templates when present.

    Parameters
    ----------
    system : str or path-like, default="HDFS"
        One of :data:`LOGHUB_SYSTEMS` (the sixteen Loghub-2k systems; looked up under
        ``data_home``), or the path of a folder in the Loghub-2k layout: a folder
        ``<Name>/`` holding ``<Name>_2k.log_structured.csv`` and/or ``<Name>_2k.log``.
    data_home : path-like or None, default=None
        Folder holding ``loghub/`` (see :func:`skanomaly.datasets.get_data_home`).
    corrected : bool, default=False
        Use the corrected ground truth of Khan et al. (ICSE 2022),
        ``<Name>_2k.log_structured_corrected.csv``.
    log_format : str or None, default=None
        Used only when the folder has no structured file: the raw ``<Name>_2k.log`` is
        split with :class:`~skanomaly.preprocessing.LogHeaderParser` and this format
        (None: :data:`LOGHUB_FORMATS` for the sixteen names). Lines that do not match
        raise, naming the line.
    decode_errors : {"strict", "replace"}, default="strict"
        Raw lines that are not UTF-8: raise naming the row, or replace the bad bytes
        with U+FFFD.

    Returns
    -------
    frame : pandas.DataFrame
        One row per line: ``LineId``, the system's header fields, ``Content`` (the
        message) and, from a structured file, ``EventId`` and ``EventTemplate``
        (ground truth); BGL and Thunderbird also have ``Label``.

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
    folder = _folder(system, data_home)
    name = folder.name
    suffix = "_corrected" if corrected else ""
    structured = folder / f"{name}_2k.log_structured{suffix}.csv"
    if structured.is_file():
        return pd.read_csv(structured, dtype={"Content": str, "EventId": str,
                                              "EventTemplate": str}, keep_default_na=False)
    raw = folder / f"{name}_2k.log"
    if corrected or not raw.is_file():
        _require_file(structured, f"Loghub {name} structured file")
    if log_format is None:
        if name not in LOGHUB_FORMATS:
            raise ValueError(
                f"{raw} has no structured file and {name!r} is not a Loghub system with a "
                "known format; pass log_format='<Date> <Time> <Level>: <Content>' (its header)."
            )
        log_format = LOGHUB_FORMATS[name]
    from ..preprocessing.log_header import LogHeaderParser

    with open(raw, "rb") as fh:
        lines = fh.read().splitlines()
    return LogHeaderParser(log_format, decode_errors=decode_errors).fit_transform(lines)
