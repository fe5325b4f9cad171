"""Reader for the Nezha multimodal microservice data (TrainTicket, OnlineBoutique).

Layout: ``rca_data/<day>/{metric,log,trace}/*.csv.gz`` and ``<day>-fault_list.json``;
``construct_data/<day>/`` holds the fault-free reference. Outputs use canonical column
names so they feed :class:`~skanomaly.preprocessing.TraceWindowStats`,
:func:`~skanomaly.preprocessing.count_per_bin` and
:func:`~skanomaly.preprocessing.align_channels` without renaming.
"""

import json
import re

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import _resolve_dir, _unknown_name_error

__all__ = ["load_nezha"]

_FOLDERS = {"trainticket": "nezha_trainticket", "onlineboutique": "nezha_onlineboutique"}
_POD_SUFFIX = re.compile(r"-[a-z0-9]{8,10}-[a-z0-9]{5}$")


def _service(pods):
    """Pod name -> service name (Kubernetes' replica-set and pod hashes stripped)."""
    return pods.astype(str).str.replace(_POD_SUFFIX, "", regex=True)


def _read_spans(files):
    if not files:
        return pd.DataFrame(columns=["trace_id", "span_id", "parent_id", "pod", "service",
                                     "operation", "start", "end", "duration"])
    raw = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    return pd.DataFrame({
        "trace_id": raw["TraceID"].astype(str), "span_id": raw["SpanID"].astype(str),
        "parent_id": raw["ParentID"].astype(str), "pod": raw["PodName"].astype(str),
        "service": _service(raw["PodName"]), "operation": raw["OperationName"].astype(str),
        "start": pd.to_datetime(raw["StartTimeUnixNano"], unit="ns"),
        "end": pd.to_datetime(raw["EndTimeUnixNano"], unit="ns"),
        "duration": raw["Duration"].to_numpy(np.float64) * 1e-6,  # µs -> s
    })


def _message(log):
    # The Log column is a raw container JSON line; its "log" field is the message.
    try:
        return json.loads(log).get("log", log).rstrip("\n")
    except (ValueError, AttributeError, TypeError):
        return str(log)


def _read_logs(files):
    if not files:
        return pd.DataFrame(columns=["time", "pod", "service", "message"])
    raw = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    return pd.DataFrame({
        "time": pd.to_datetime(raw["TimeUnixNano"], unit="ns"),
        "pod": raw["PodName"].astype(str), "service": _service(raw["PodName"]),
        "trace_id": raw["TraceID"].astype(str),
        "message": [_message(x) for x in raw["Log"].to_numpy()],
    })


def _read_metrics(files):
    """Pod metric files -> one wide table: time x ``"<pod>__<metric>"``."""
    frames = []
    for f in files:
        df = pd.read_csv(f)
        if "TimeStamp" not in df or "PodName" not in df:
            continue  # front_service / edge tables have another layout
        pod = str(df["PodName"].iloc[0])
        num = df.drop(columns=["Time", "TimeStamp", "PodName"], errors="ignore")
        num = num.apply(pd.to_numeric, errors="coerce")
        num.index = pd.to_datetime(df["TimeStamp"], unit="s")
        num = num[~num.index.duplicated()]
        num.columns = [f"{pod}__{c}" for c in num.columns]
        frames.append(num)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, axis=1, sort=True)
    out.index.name = "time"
    return out


def load_nezha(system="trainticket", day=None, data_home=None, *, reference=False,
               modalities=("metric", "log", "trace")):
    """Load one day of Nezha data: metrics, logs, spans and injected faults.

    Parameters
    ----------
    system : {"trainticket", "onlineboutique"}, default="trainticket"
    day : str or None, default=None
        Folder name of the day (e.g. ``"2023-01-30"``); None takes the first one.
    data_home : path-like or None, default=None
        Folder holding ``nezha_<system>/`` (see :func:`skanomaly.datasets.get_data_home`).
    reference : bool, default=False
        Read ``construct_data`` (Nezha's fault-free reference) instead of ``rca_data``.
    modalities : tuple of str, default=("metric", "log", "trace")
        Which tables to read (the others are returned empty).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``metrics`` (time x ``"<pod>__<metric>"``, one row a minute), ``logs``
        (``time, pod, service, trace_id, message``), ``spans`` (``trace_id, span_id,
        parent_id, pod, service, operation, start, end, duration`` in seconds),
        ``faults`` (``time, pod, service, type``; empty for the reference) and ``day``.

    Examples
    --------
    >>> from skanomaly.datasets._nezha import load_nezha
    >>> try:
    ...     d = load_nezha(modalities=("trace",))
    ... except FileNotFoundError:
    ...     d = None
    >>> d is None or {"span_id", "service", "start", "duration"} <= set(d.spans.columns)
    True
    """
    if system not in _FOLDERS:
        raise _unknown_name_error("Nezha system", system, list(_FOLDERS))
    part = "construct_data" if reference else "rca_data"
    root = _resolve_dir(data_home, _FOLDERS[system], ("",),
                        lambda p: (p / "rca_data").is_dir(), f"Nezha {system}")
    days = sorted(p.name for p in (root / part).iterdir() if p.is_dir())
    if day is None:
        if not days:
            raise FileNotFoundError(f"No day folder under {root / part}.")
        day = days[0]
    elif day not in days:
        raise _unknown_name_error("day", day, days)
    base = root / part / day
    files = {m: sorted((base / m).glob("*.csv.gz")) if m in modalities else []
             for m in ("metric", "log", "trace")}
    faults = pd.DataFrame(columns=["time", "pod", "service", "type"])
    fault_file = root / "rca_data" / day / f"{day}-fault_list.json"
    if not reference and fault_file.is_file():
        rows = [f for hour in json.loads(fault_file.read_text()).values() for f in hour]
        if rows:
            fl = pd.DataFrame(rows)
            faults = pd.DataFrame({
                "time": pd.to_datetime(fl["inject_timestamp"].astype(np.int64), unit="s"),
                "pod": fl["inject_pod"].astype(str), "service": _service(fl["inject_pod"]),
                "type": fl["inject_type"].astype(str)}).sort_values("time", ignore_index=True)
    return Bunch(metrics=_read_metrics(files["metric"]), logs=_read_logs(files["log"]),
                 spans=_read_spans(files["trace"]), faults=faults, day=day)
