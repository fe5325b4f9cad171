"""Reader for the ChangeRCA OnlineBoutique cases (change-induced failures).

Layout (the upstream ``data/`` folder): ``<day>/<case>/<case>.json`` (labels and
rollout plan), ``<pod>_<caller>_<callee>.csv`` (one file per pod and call edge
the pod takes part in: per-pod CPU/memory, the edge's latency and success rate),
``destination_success.csv`` (per-edge success rate, service level) and
``dependency.csv`` (call graph).
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import _require_file, _resolve_dir, _unknown_name_error

__all__ = ["list_changerca_cases", "load_changerca"]

_CASE = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})_(?P<n>\d+)$")
# Pod names are "<service>-v<version>-<replica-set hash>-<pod hash>".
_POD = re.compile(r"^(?P<service>.+?)-(?P<version>v\d+)-[a-z0-9]+-[a-z0-9]+$")
_POD_COLUMNS = ("CPUUsageRate(%)", "MemoryUsageRate(%)", "NodeCpuUsageRate(%)",
                "NodeMemoryUsageRate(%)")
_LOG_COLUMNS = ["time", "pod", "service", "trace_id", "message"]
_SPAN_COLUMNS = ["trace_id", "span_id", "parent_id", "pod", "service", "operation",
                 "start", "end", "duration"]

_DESCR = """\
ChangeRCA OnlineBoutique case {case}
{underline}

Change-induced failure (Yu et al., "ChangeRCA: Finding Root Causes from Software
Changes in Large Online Systems", FSE 2024; IntelligentDDS/ChangeRCA, no licence:
research use only, never redistribute). {n_changed} service(s) roll out v2 at
once; {faulty} carries the defect ({fault}), {harmless} get a harmless v2.

- metrics : {n_rows} one-minute rows x {n_cols} columns ({n_pods} pods, {n_edges} edges)
- faults : the faulty service's v2 pods, from their rollout step to the case's end
- releases : {n_steps} rollout steps of the changed services
- logs, spans : empty (the data set has none)

Files read from: {path}
"""


def _root(data_home):
    return _resolve_dir(data_home, "changerca", ("",),
                        lambda p: p.is_dir() and any(_case_dirs(p)), "ChangeRCA")


def _case_dirs(root):
    try:
        days = [d for d in root.iterdir() if d.is_dir()]
    except OSError:
        return []
    return [c for d in days for c in d.iterdir()
            if c.is_dir() and _CASE.match(c.name) and _CASE.match(c.name)["day"] == d.name]


def _case_key(name):
    m = _CASE.match(name)
    return m["day"], int(m["n"])


def list_changerca_cases(data_home=None, *, day=None):
    """List the ChangeRCA cases available under ``data_home``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``changerca/`` or that folder itself (see
        :func:`~skanomaly.datasets.get_data_home`).
    day : str or None, default=None
        Only the cases of this day (e.g. ``"2023-09-22"``).

    Returns
    -------
    cases : list of str
        Case names (``"<day>_<n>"``), in time order.

    Examples
    --------
    >>> from skanomaly.datasets import list_changerca_cases
    >>> list_changerca_cases()[:2]  # doctest: +SKIP
    ['2023-09-22_1', '2023-09-22_2']
    """
    root = _root(data_home)
    cases = sorted((c.name for c in _case_dirs(root)), key=_case_key)
    if day is not None:
        days = sorted({_case_key(c)[0] for c in cases})
        if day not in days:
            raise _unknown_name_error("ChangeRCA day", day, days)
        cases = [c for c in cases if _case_key(c)[0] == day]
    return cases


def _pod_service(pod):
    m = _POD.match(pod)
    if m is None:
        raise ValueError(f"Pod name {pod!r} does not follow <service>-v<n>-<hash>-<hash>.")
    return m["service"], m["version"]


def _minutes(seconds):
    """Unix seconds -> timestamps floored to the minute (rows sit 0-25 s past it)."""
    return pd.to_datetime(np.asarray(seconds, dtype=np.int64) // 60 * 60, unit="s")


def _read_edge_file(path):
    frame = pd.read_csv(path)
    need = {"Timestamp", "SuccessRate", "Latency", *_POD_COLUMNS}
    if need - set(frame.columns):
        raise ValueError(f"ChangeRCA file {path} lacks column(s) "
                         f"{sorted(need - set(frame.columns))}.")
    frame.index = _minutes(frame["Timestamp"])
    return frame[~frame.index.duplicated()].drop(columns=["Time", "Timestamp"])


def _read_tables(folder):
    """Pod files -> per-pod metrics and caller-side edge latencies (wide, one row a minute)."""
    pod_parts, latency = {}, {}
    for path in sorted(folder.glob("*_*_*.csv")):
        parts = path.stem.split("_")
        if len(parts) != 3:
            continue
        pod, caller, callee = parts
        frame = _read_edge_file(path)
        pod_parts.setdefault(pod, []).append(frame[list(_POD_COLUMNS)])
        if _pod_service(pod)[0] == caller:
            latency.setdefault(f"{caller}->{callee}", []).append(frame["Latency"])
    if not pod_parts:
        raise FileNotFoundError(f"No <pod>_<caller>_<callee>.csv file in {folder}.")
    columns = {}
    for pod, frames in pod_parts.items():
        # A pod's metric columns are the same in all its files; a file only has
        # the minutes its edge carried calls, so take the first value per minute.
        merged = pd.concat(frames).groupby(level=0).first()
        for name in _POD_COLUMNS:
            columns[f"{pod}__{name}"] = merged[name]
    for edge, series in sorted(latency.items()):
        # The latency the callers saw: mean over the caller service's pods.
        columns[f"{edge}__Latency"] = pd.concat(series, axis=1, sort=True).mean(axis=1)
    return columns


def _read_success(folder):
    path = _require_file(folder / "destination_success.csv", "ChangeRCA success-rate file")
    frame = pd.read_csv(path)
    if "timestamp" not in frame:
        raise ValueError(f"ChangeRCA file {path} lacks the column 'timestamp'.")
    frame.index = _minutes(frame["timestamp"])
    frame = frame[~frame.index.duplicated()].drop(columns=["time", "timestamp"])
    out = {}
    for col in frame.columns:
        caller, _, callee = col.partition("_")
        out[f"{caller}->{callee}__SuccessRate"] = frame[col].astype(np.float64)
    return out


def _releases(info, path):
    rows = []
    for service, plan in info["plan"].items():
        steps = sorted(plan["process"].values(), key=lambda s: s["release_complete_timestamp"])
        for k, step in enumerate(steps):
            rows.append({
                "service": service, "step": k,
                "time": pd.to_datetime(int(step["release_complete_timestamp"]), unit="s"),
                "release_pods": list(step.get("release_pod", [])),
                "delete_pods": list(step.get("delete_pod", [])),
                "faulty": service == info["fault_release_service"]})
    if not rows:
        raise ValueError(f"ChangeRCA case file {path} has an empty rollout plan.")
    return pd.DataFrame(rows).sort_values(["time", "service"], ignore_index=True)


def load_changerca(case=None, day=None, data_home=None, *, cut_at_end=True):
    """Load one ChangeRCA OnlineBoutique case: metrics, rollout plan and fault.

    Each case runs OnlineBoutique for about 40 minutes: about 17 normal
    minutes, then 1 to 6 services roll out a new version at once (a canary
    pod first, the others 13-22 minutes later). Exactly one release is
    defective; the others are harmless, a built-in false-alarm test. The
    faulty version is never rolled back. The data set has no logs and no raw
    spans: ``logs`` and ``spans`` are empty tables with the usual columns.

    Parameters
    ----------
    case : str or None, default=None
        Case name, e.g. ``"2023-09-22_1"`` (see :func:`list_changerca_cases`).
        None takes the first case (of ``day`` when given).
    day : str or None, default=None
        Day folder, e.g. ``"2023-09-23"``; must agree with ``case``.
    data_home : str or path-like, default=None
        Folder holding ``changerca/`` or that folder itself (see
        :func:`~skanomaly.datasets.get_data_home`).
    cut_at_end : bool, default=True
        Drop the rows after the experiment's recorded end (one case,
        ``2023-09-23_13``, has two more hours of data with the faulty
        version still deployed).

    Returns
    -------
    data : sklearn.utils.Bunch
        - ``metrics``: DataFrame, a ``DatetimeIndex`` named ``"time"`` (UTC,
          one row a minute, every minute of the case; a row's ``Timestamp``
          floored to the minute) and the columns

          * ``"<pod>__CPUUsageRate(%)"``, ``"<pod>__MemoryUsageRate(%)"``,
            ``"<pod>__NodeCpuUsageRate(%)"``, ``"<pod>__NodeMemoryUsageRate(%)"``
            (the last is not a plausible percentage upstream: treat it as an
            unknown node signal); NaN while the pod does not exist;
          * ``"<caller>-><callee>__Latency"``: mean call latency on the
            service-level edge as the caller saw it (mean over the caller's
            pods; probably ms), NaN in minutes without calls;
          * ``"<caller>-><callee>__SuccessRate"``: % of successful calls on
            the edge (``destination_success.csv``).

          Edge columns (``"->"`` in the entity) are trace-derived; pod columns
          are resource metrics.
        - ``logs``: empty DataFrame (``time, pod, service, trace_id, message``).
        - ``spans``: empty DataFrame (``trace_id, span_id, parent_id, pod,
          service, operation, start, end, duration``).
        - ``faults``: DataFrame ``time, end, pod, service, type``, one row per
          v2 pod of the defective release: from its rollout step's completion
          to the case's end (a step completing at the end has no faulty
          minute and is only in ``releases``). ``faults["time"].min()`` is the
          service-level onset. The pod may have no data (10 of the 33 public
          cases).
        - ``releases``: DataFrame ``service, step, time, release_pods,
          delete_pods, faulty``, one row per rollout step of every changed
          service (``time``: the step's new pods are ready).
        - ``pods``: DataFrame ``pod, service, version`` of the pods with data.
        - ``detect_time``: the upstream alarm time (ChangeRCA's input, not
          ground truth; it can precede the onset).
        - ``case``, ``day``, ``descr``.

    Examples
    --------
    >>> from skanomaly.datasets import load_changerca
    >>> try:
    ...     d = load_changerca("2023-09-22_1")
    ... except FileNotFoundError:
    ...     d = None
    >>> d is None or bool((d.faults["service"] == "adservice").all())
    True
    >>> d is None or set(d.releases["service"]) == {"adservice", "currencyservice",
    ...                                             "productcatalogservice"}
    True
    """
    root = _root(data_home)
    cases = sorted((c.name for c in _case_dirs(root)), key=_case_key)
    if day is not None and day not in {_case_key(c)[0] for c in cases}:
        raise _unknown_name_error("ChangeRCA day", day, sorted({_case_key(c)[0] for c in cases}))
    if case is None:
        choices = [c for c in cases if day is None or _case_key(c)[0] == day]
        case = choices[0]
    elif case not in cases:
        raise _unknown_name_error("ChangeRCA case", case, cases)
    if day is not None and _case_key(case)[0] != day:
        raise ValueError(f"Case {case!r} is not of day {day!r}; pass day=None or a case "
                         f"of that day.")
    day = _case_key(case)[0]
    folder = root / day / case
    info_path = _require_file(folder / f"{case}.json", "ChangeRCA case file")
    info = json.loads(Path(info_path).read_text())
    missing = {"plan", "fault", "fault_release_service", "experiment_time",
               "experiemnt_end_time"} - set(info)
    if missing:
        raise ValueError(f"ChangeRCA case file {info_path} lacks key(s) {sorted(missing)}.")

    columns = {**_read_tables(folder), **_read_success(folder)}
    metrics = pd.DataFrame(columns).sort_index()
    end = pd.Timestamp(info["experiemnt_end_time"])
    if cut_at_end:
        metrics = metrics.loc[:end]
    metrics = metrics.reindex(pd.date_range(metrics.index[0], metrics.index[-1], freq="min"))
    metrics.index.name = "time"

    releases = _releases(info, info_path)
    faulty = releases[releases["faulty"]]
    fault_end = end if cut_at_end else max(end, metrics.index[-1] + pd.Timedelta("1min"))
    faults = pd.DataFrame(
        [{"time": r.time, "end": fault_end, "pod": pod, "service": r.service,
          "type": str(info["fault"])} for r in faulty.itertuples() for pod in r.release_pods
         if r.time < fault_end],
        columns=["time", "end", "pod", "service", "type"])
    pod_names = sorted({c.split("__")[0] for c in metrics.columns if "->" not in c})
    pods = pd.DataFrame([(p, *_pod_service(p)) for p in pod_names],
                        columns=["pod", "service", "version"])
    changed = list(dict.fromkeys(releases["service"]))
    descr = _DESCR.format(
        case=case, underline="=" * len(f"ChangeRCA OnlineBoutique case {case}"),
        n_changed=len(changed),
        faulty=info["fault_release_service"], fault=info["fault"],
        harmless=", ".join(s for s in changed if s != info["fault_release_service"]) or "none",
        n_rows=len(metrics), n_cols=metrics.shape[1], n_pods=len(pods),
        n_edges=sum(c.endswith("__SuccessRate") for c in metrics.columns),
        n_steps=len(releases), path=folder)
    detect = info.get("detect_timestamp")
    return Bunch(
        metrics=metrics, logs=pd.DataFrame(columns=_LOG_COLUMNS),
        spans=pd.DataFrame(columns=_SPAN_COLUMNS), faults=faults, releases=releases,
        pods=pods, detect_time=None if detect is None else pd.to_datetime(int(detect), unit="s"),
        case=case, day=day, descr=descr)
