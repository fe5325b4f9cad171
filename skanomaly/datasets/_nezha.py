"""Reader for the Nezha multimodal microservice data (TrainTicket, OnlineBoutique).

Layout: ``rca_data/<day>/{metric,log,trace}/*.csv.gz`` and ``<day>-fault_list.json``;
``construct_data/<day>/`` holds the fault-free reference. Outputs use canonical column
names so they feed :class:`~skanomaly.preprocessing.TraceWindowStats`,
:func:`~skanomaly.preprocessing.count_per_bin` and
:func:`~skanomaly.preprocessing.align_channels` without renaming.
"""

import json
import re
import warnings
import zlib

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import _resolve_dir, _unknown_name_error

__all__ = ["load_nezha"]

_FOLDERS = {"trainticket": "nezha_trainticket", "onlineboutique": "nezha_onlineboutique"}
_POD_SUFFIX = re.compile(r"-[a-z0-9]{8,10}-[a-z0-9]{5}$")
_SPAN_COLS = ["TraceID", "SpanID", "ParentID", "PodName", "OperationName",
              "StartTimeUnixNano", "EndTimeUnixNano", "Duration"]
# Unix-nanosecond times outside 2000-2100 are corrupt (some log rows hold an overflowed
# sentinel); such rows fall back to their ISO ``Timestamp`` column.
_NS_RANGE = (946_684_800 * 10**9, 4_102_444_800 * 10**9)


def _service(pods):
    """Pod name -> service name (Kubernetes' replica-set and pod hashes stripped)."""
    return pods.astype(str).str.replace(_POD_SUFFIX, "", regex=True)


class _BadLines:
    """Applies ``on_bad_lines`` and counts the lines it drops, per file."""

    def __init__(self, policy):
        self.policy = policy
        self.skipped = {}

    def read(self, path, required):
        """Read one CSV; malformed lines raise, or are dropped and counted."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            try:
                df = pd.read_csv(path, on_bad_lines="error" if self.policy == "error" else "warn")
            except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError,
                    zlib.error) as exc:
                hint = (" Pass on_bad_lines='skip' (or 'warn') to drop malformed lines."
                        if isinstance(exc, pd.errors.ParserError) else "")
                raise ValueError(f"Malformed Nezha file {path}: {str(exc).strip()}.{hint}") from exc
        lines = [ln for w in caught if issubclass(w.category, pd.errors.ParserWarning)
                 for ln in str(w.message).splitlines() if ln.startswith("Skipping line")]
        missing = [c for c in required if c not in df.columns]
        if missing:
            raise ValueError(f"Malformed Nezha file {path}: missing column(s) {missing}; "
                             f"its columns are {list(df.columns)}.")
        return df, lines

    def drop(self, path, df, bad, lines, what):
        """Drop rows flagged ``bad`` (missing or unparseable fields) under the policy."""
        if bad.any():
            rows = np.flatnonzero(bad)
            if self.policy == "error":
                raise ValueError(
                    f"Malformed line {rows[0] + 2} in Nezha file {path}: {what}. Pass "
                    "on_bad_lines='skip' (or 'warn') to drop malformed lines.")
            lines = lines + [f"Skipping row {r + 2}: {what}" for r in rows]
            df = df[~bad]
        if lines:
            self.skipped[str(path)] = len(lines)
            if self.policy == "warn":
                warnings.warn(f"Nezha file {path}: " + "; ".join(lines), stacklevel=4)
        return df

    def summary(self):
        if self.skipped and self.policy == "skip":
            files = ", ".join(f"{p} ({n})" for p, n in self.skipped.items())
            warnings.warn(f"load_nezha skipped {sum(self.skipped.values())} malformed line(s) "
                          f"in {len(self.skipped)} file(s): {files}", stacklevel=3)
        return sum(self.skipped.values())


def _read_spans(files, bad_lines):
    frames = []
    for f in files:
        raw, lines = bad_lines.read(f, _SPAN_COLS)
        num = raw[_SPAN_COLS[5:]].apply(pd.to_numeric, errors="coerce")
        bad = num.isna().any(axis=1) | raw[_SPAN_COLS[:5]].isna().any(axis=1)
        keep = ~bad.to_numpy()
        raw = bad_lines.drop(f, raw, bad.to_numpy(), lines,
                             "a missing or non-numeric span field")
        num = num[keep]
        frames.append(pd.DataFrame({
            "trace_id": raw["TraceID"].astype(str), "span_id": raw["SpanID"].astype(str),
            "parent_id": raw["ParentID"].astype(str), "pod": raw["PodName"].astype(str),
            "service": _service(raw["PodName"]), "operation": raw["OperationName"].astype(str),
            "start": pd.to_datetime(num["StartTimeUnixNano"].astype(np.int64), unit="ns"),
            "end": pd.to_datetime(num["EndTimeUnixNano"].astype(np.int64), unit="ns"),
            "duration": num["Duration"].to_numpy(np.float64) * 1e-6,  # µs -> s
        }))
    if not frames:
        return pd.DataFrame(columns=["trace_id", "span_id", "parent_id", "pod", "service",
                                     "operation", "start", "end", "duration"])
    return pd.concat(frames, ignore_index=True)


def _message(log):
    # The Log column is a raw container JSON line; its "log" field is the message.
    try:
        return json.loads(log).get("log", log).rstrip("\n")
    except (ValueError, AttributeError, TypeError):
        return str(log)


def _log_times(raw):
    """Unix-ns times, or the ISO ``Timestamp`` where the ns value is corrupt."""
    ns = pd.to_numeric(raw.get("TimeUnixNano"), errors="coerce") if "TimeUnixNano" in raw \
        else pd.Series(np.nan, index=raw.index)
    ok = ns.between(*_NS_RANGE)
    t = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    t[ok] = pd.to_datetime(ns[ok].astype(np.int64), unit="ns")
    if (~ok).any() and "Timestamp" in raw:
        iso = pd.to_datetime(raw.loc[~ok, "Timestamp"], format="ISO8601", utc=True,
                             errors="coerce")
        t[~ok] = iso.dt.tz_localize(None).astype("datetime64[ns]")
    return t


def _read_logs(files, bad_lines):
    frames = []
    for f in files:
        raw, lines = bad_lines.read(f, ["PodName", "Log"])
        if "TimeUnixNano" not in raw and "Timestamp" not in raw:
            raise ValueError(f"Malformed Nezha file {f}: no 'TimeUnixNano' or 'Timestamp' "
                             f"column; its columns are {list(raw.columns)}.")
        t = _log_times(raw)
        bad = (t.isna() | raw["PodName"].isna() | raw["Log"].isna()).to_numpy()
        raw = bad_lines.drop(f, raw, bad, lines, "a missing pod, message or time")
        trace = raw["TraceID"].astype(str) if "TraceID" in raw else ""
        frames.append(pd.DataFrame({
            "time": t[~bad], "pod": raw["PodName"].astype(str),
            "service": _service(raw["PodName"]), "trace_id": trace,
            "message": [_message(x) for x in raw["Log"].to_numpy()],
        }))
    if not frames:
        return pd.DataFrame(columns=["time", "pod", "service", "trace_id", "message"])
    return pd.concat(frames, ignore_index=True)


def _metric_times(df, path):
    """Scrape times floored to the minute, from ``Time`` (``TimeStamp`` can be corrupt)."""
    if "Time" in df:
        text = df["Time"].astype(str).str.split(" +", regex=False).str[0]
        t = pd.to_datetime(text, format="ISO8601", errors="coerce")
    elif "TimeStamp" in df:
        t = pd.to_datetime(pd.to_numeric(df["TimeStamp"], errors="coerce"), unit="s")
    else:
        raise ValueError(f"Malformed Nezha file {path}: no 'Time' or 'TimeStamp' column; "
                         f"its columns are {list(df.columns)}.")
    return t.dt.floor("min")


def _read_metrics(files, bad_lines):
    """Pod metric files -> one wide table: minute x ``"<pod>__<metric>"``."""
    frames = []
    for f in files:
        df, lines = bad_lines.read(f, ["PodName"])
        t = _metric_times(df, f)
        df = bad_lines.drop(f, df, t.isna().to_numpy(), lines, "an unparseable time")
        t = t.dropna()
        pod = str(df["PodName"].iloc[0]) if len(df) else f.name.split("_metric")[0]
        num = df.drop(columns=["Time", "TimeStamp", "PodName"], errors="ignore")
        num = num.apply(pd.to_numeric, errors="coerce")
        num.index = pd.DatetimeIndex(t, name="time").as_unit("ns")
        dup = num.index.duplicated()
        if dup.any():
            raise ValueError(f"Malformed Nezha file {f}: {int(dup.sum())} row(s) fall in a "
                             "minute that already has a row.")
        num.columns = [f"{pod}__{c}" for c in num.columns]
        frames.append(num)
    if not frames:
        return pd.DataFrame(index=pd.DatetimeIndex([], dtype="datetime64[ns]", name="time"))
    out = pd.concat(frames, axis=1, sort=True)
    out.index.name = "time"
    return out


def _read_faults(path, fault_duration):
    rows = [f for hour in json.loads(path.read_text()).values() for f in hour]
    cols = ["time", "end", "pod", "service", "type"]
    if not rows:
        return pd.DataFrame(columns=cols)
    fl = pd.DataFrame(rows)
    missing = [c for c in ("inject_time", "inject_pod", "inject_type") if c not in fl]
    if missing:
        raise ValueError(f"Malformed Nezha fault list {path}: missing field(s) {missing}.")
    time = pd.to_datetime(fl["inject_time"], errors="coerce")
    if time.isna().any():
        raise ValueError(f"Malformed Nezha fault list {path}: unparseable inject_time "
                         f"{fl.loc[time.isna(), 'inject_time'].tolist()}.")
    time = time.astype("datetime64[ns]")
    if "duration" in fl:
        length = pd.to_timedelta(pd.to_numeric(fl["duration"], errors="coerce"), unit="s")
        length = length.fillna(pd.Timedelta(fault_duration))
    else:
        length = pd.Timedelta(fault_duration)
    if "inject_timestamp" in fl:
        stamp = pd.to_datetime(pd.to_numeric(fl["inject_timestamp"], errors="coerce"), unit="s")
        off = (stamp - time).abs() > pd.Timedelta("5min")
        if off.any():
            warnings.warn(
                f"{path}: inject_timestamp differs from inject_time by more than 5 minutes "
                f"for {int(off.sum())} of {len(fl)} faults; fault times are taken from "
                "inject_time.", stacklevel=3)
    out = pd.DataFrame({"time": time, "end": time + length,
                        "pod": fl["inject_pod"].astype(str), "service": _service(fl["inject_pod"]),
                        "type": fl["inject_type"].astype(str)})
    return out.sort_values("time", ignore_index=True)


def load_nezha(system="trainticket", day=None, data_home=None, *, reference=False,
               modalities=("metric", "log", "trace"), on_bad_lines="error",
               fault_duration="3min"):
    """Load one day of Nezha data: metrics, logs, spans and injected faults.

    Parameters
    ----------
    system : {"trainticket", "onlineboutique"}, default="trainticket"
        Which of Nezha's two systems.
    day : str or None, default=None
        Folder name of the day (e.g. ``"2023-01-30"``); None takes the first one.
    data_home : path-like or None, default=None
        Folder holding ``nezha_<system>/`` (see :func:`skanomaly.datasets.get_data_home`).
    reference : bool, default=False
        Read ``construct_data`` (Nezha's fault-free reference) instead of ``rca_data``.
    modalities : tuple of str, default=("metric", "log", "trace")
        Which tables to read (the others are returned empty).
    on_bad_lines : {"error", "skip", "warn"}, default="error"
        What to do with a malformed line (wrong number of fields, or a missing or
        unparseable required field): ``"error"`` raises a ``ValueError`` naming the file
        and line; ``"skip"`` drops such lines and warns once with their count per file;
        ``"warn"`` drops them and warns per file naming each line. A file that cannot be
        read at all (not gzip, a required column missing) always raises, naming the file.
    fault_duration : str or Timedelta, default="3min"
        Length of a fault period when the fault list gives no ``duration`` (Nezha's lists
        give none; Nezha labels the few minutes after an injection as faulty).

    Returns
    -------
    data : sklearn.utils.Bunch
        - ``metrics``: one row a minute (scrape times floored to the minute, read from
          the ``Time`` column), columns ``"<pod>__<metric>"``; only the
          ``<pod>_metric.csv.gz`` files (the front-end and per-edge tables are not read);
        - ``logs``: ``time, pod, service, trace_id, message`` (``time`` from
          ``TimeUnixNano``, or from the ISO ``Timestamp`` where that value is corrupt);
        - ``spans``: ``trace_id, span_id, parent_id, pod, service, operation, start, end,
          duration`` (seconds); Nezha records no span status;
        - ``faults``: ``time, end, pod, service, type``; ``time`` is ``inject_time`` (it
          matches the log/trace file names; see the user guide on ``inject_timestamp``),
          ``end`` is ``time`` plus the fault's ``duration`` or ``fault_duration``; empty
          for the reference;
        - ``day``: str; ``n_bad_lines``: number of malformed lines dropped.

    Examples
    --------
    >>> from skanomaly.datasets import load_nezha
    >>> try:
    ...     d = load_nezha(modalities=("trace",))
    ... except FileNotFoundError:
    ...     d = None
    >>> d is None or {"span_id", "service", "start", "duration"} <= set(d.spans.columns)
    True
    """
    if system not in _FOLDERS:
        raise _unknown_name_error("Nezha system", system, list(_FOLDERS))
    if on_bad_lines not in ("error", "skip", "warn"):
        raise ValueError(f"on_bad_lines must be 'error', 'skip' or 'warn'; got {on_bad_lines!r}.")
    unknown = sorted(set(modalities) - {"metric", "log", "trace"})
    if unknown:
        raise ValueError(f"Unknown modalities {unknown}; use 'metric', 'log' and/or 'trace'.")
    pd.Timedelta(fault_duration)  # a bad duration fails here, before any reading
    part = "construct_data" if reference else "rca_data"
    root = _resolve_dir(data_home, _FOLDERS[system], ("",),
                        lambda p: (p / "rca_data").is_dir(), f"Nezha {system}")
    days = sorted(p.name for p in (root / part).iterdir() if p.is_dir()) \
        if (root / part).is_dir() else []
    if day is None:
        if not days:
            raise FileNotFoundError(f"No day folder under {root / part}.")
        day = days[0]
    elif day not in days:
        raise _unknown_name_error("day", day, days)
    base = root / part / day
    pattern = {"metric": "*_metric.csv.gz", "log": "*.csv.gz", "trace": "*.csv.gz"}
    files = {m: sorted((base / m).glob(pattern[m])) if m in modalities else []
             for m in ("metric", "log", "trace")}
    faults = pd.DataFrame(columns=["time", "end", "pod", "service", "type"])
    fault_file = root / "rca_data" / day / f"{day}-fault_list.json"
    if not reference and fault_file.is_file():
        faults = _read_faults(fault_file, fault_duration)
    bad_lines = _BadLines(on_bad_lines)
    data = Bunch(metrics=_read_metrics(files["metric"], bad_lines),
                 logs=_read_logs(files["log"], bad_lines),
                 spans=_read_spans(files["trace"], bad_lines), faults=faults, day=day)
    data.n_bad_lines = bad_lines.summary()
    return data
