"""Raw telemetry (metrics, log lines, spans) to one aligned channel table.

:class:`TelemetryChannels` is the Pipeline step in front of a multimodal detector: it
takes the raw tables the loaders and the simulator return and emits one row per time
bin and one column per channel, named ``"<modality>__<entity>__<name>"`` so that the
detector reads each column's modality from its name. :class:`TelemetryFrames` holds
the same raw tables cut into time bins and slices by bin, so ``GridSearchCV`` and
``TimeSeriesSplit`` can split raw telemetry as they split rows of a table.
"""

import re
import warnings
from collections.abc import Mapping
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..utils._compat import HasMethods, Interval, StrOptions, fit_context
from ._binning import check_time_range, fmt_duration, make_index, to_ns
from .align import MODALITIES
from .logs import DrainTemplates, SemanticTemplateClusters
from .traces import ROOT, TRACE_STATS, trace_window_stats

__all__ = ["TelemetryChannels", "TelemetryFrames", "channel_modalities", "default_service_of"]

SEP = "__"
_TABLES = ("metrics", "logs", "spans")
_TIME_COL = {"logs": "time", "spans": "start"}
# Kubernetes Deployment pods: <name>-<pod-template-hash (6-10)>-<pod suffix (5)>, both in
# Kubernetes' safe alphabet (no vowels); then a trailing version label (<name>-v2).
_K8S_HASHES = re.compile(r"-[0-9bcdfghjklmnpqrstvwxz]{6,10}-[0-9bcdfghjklmnpqrstvwxz]{5}$")
_VERSION = re.compile(r"-v\d+$")
_LATENCY_STATS = tuple(s for s in TRACE_STATS if s.startswith("lat_"))


def default_service_of(pod):
    """Service of a Kubernetes pod name: hashes and a version label stripped.

    ``<service>-<replicaset hash>-<pod hash>`` loses both hashes (Kubernetes' pod
    template hash of 6-10 and pod suffix of 5 characters, no vowels), then a trailing
    version label ``-v<N>`` (versioned deployments such as ``reviews-v2``) goes. A bare
    service name is returned unchanged.

    Parameters
    ----------
    pod : str
        Pod (or service) name.

    Returns
    -------
    service : str
        The service name.

    See Also
    --------
    TelemetryChannels : Takes it (or any pod -> service rule) as ``service_of``.

    Examples
    --------
    >>> from skanomaly.preprocessing import default_service_of
    >>> default_service_of("cartservice-v2-685f9dd56f-b9ffz")
    'cartservice'
    >>> default_service_of("ts-order-service-84cbf6c798-jpzbd"), default_service_of("redis")
    ('ts-order-service', 'redis')
    """
    return _VERSION.sub("", _K8S_HASHES.sub("", str(pod)))


def channel_modalities(columns):
    """Modality of each ``"<modality>__<entity>__<name>"`` column name.

    Parameters
    ----------
    columns : array-like of str
        Column names as :class:`TelemetryChannels` emits them.

    Returns
    -------
    modality : ndarray of str
        The prefix of each name (``"metric"``, ``"log"`` or ``"trace"``).

    Examples
    --------
    >>> from skanomaly.preprocessing import channel_modalities
    >>> channel_modalities(["metric__cart__cpu", "log__cart__other"]).tolist()
    ['metric', 'log']
    """
    out = np.array([str(c).split(SEP, 1)[0] for c in columns], dtype=object)
    bad = [str(c) for c, m in zip(columns, out) if m not in MODALITIES or SEP not in str(c)]
    if bad:
        raise ValueError(f"Column(s) {bad[:5]} are not named '<modality>__<entity>__<name>' "
                         f"with a modality in {MODALITIES}.")
    return out


# ------------------------------------------------------------------ raw tables
def _times(values, name):
    """datetime64 values (or a DatetimeIndex) as naive-UTC int64 ns; clear dtype errors."""
    if isinstance(values, pd.DatetimeIndex):
        idx = values
    elif pd.api.types.is_datetime64_any_dtype(values):
        idx = pd.DatetimeIndex(values)
    else:
        kind = getattr(values, "dtype", type(values).__name__)
        raise TypeError(f"{name} must hold datetime64 values, got {kind}; convert it with "
                        "pandas.to_datetime (epoch numbers: pass their unit, e.g. unit='ns').")
    if idx.tz is not None:
        idx = idx.tz_convert(None)
    t = idx.as_unit("ns").asi8
    if (t == np.iinfo(np.int64).min).any():
        i = int(np.flatnonzero(t == np.iinfo(np.int64).min)[0])
        raise ValueError(f"{name}: row {i} is missing (NaT); every row needs a time.")
    return t


def _read_tables(telemetry):
    """Validated tables (absent/empty -> None) and each table's row times (ns)."""
    if isinstance(telemetry, TelemetryFrames):
        return telemetry.tables, telemetry._times
    if not isinstance(telemetry, Mapping):
        raise TypeError("telemetry must be a dict or Bunch with 'metrics', 'logs' and/or "
                        f"'spans' tables (or a TelemetryFrames); got {type(telemetry).__name__}.")
    unknown_only = not any(k in telemetry for k in _TABLES)
    if unknown_only:
        raise ValueError(f"telemetry has none of the tables {_TABLES}; its keys are "
                         f"{sorted(map(str, telemetry))}.")
    tables, times = {}, {}
    for name in _TABLES:
        df = telemetry.get(name)
        if df is None:
            tables[name] = None
            continue
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"telemetry[{name!r}] must be a pandas DataFrame, got "
                            f"{type(df).__name__}.")
        if len(df) == 0:
            tables[name] = None
            continue
        if name == "metrics":
            if not isinstance(df.index, pd.DatetimeIndex):
                raise TypeError("telemetry['metrics'] must be indexed by a DatetimeIndex "
                                f"(sample times); got {type(df.index).__name__}.")
            t = _times(df.index, "metrics index")
            bad = [c for c in df.columns if not (pd.api.types.is_numeric_dtype(df[c])
                                                 or pd.api.types.is_bool_dtype(df[c]))]
            if bad:
                raise TypeError(f"metrics column(s) {bad[:5]} are not numeric "
                                f"({df[bad[0]].dtype}); metrics must be numbers.")
            unnamed = [c for c in df.columns if SEP not in str(c)]
            if unnamed:
                raise ValueError(f"metrics column(s) {unnamed[:5]} are not named "
                                 "'<pod>__<metric>'.")
        else:
            col = _TIME_COL[name]
            if col not in df.columns:
                raise ValueError(f"telemetry[{name!r}] has no {col!r} column; it has "
                                 f"{list(df.columns)}.")
            t = _times(df[col], f"{name}[{col!r}]")
        check_time_range(t, name=f"telemetry[{name!r}] times")
        tables[name], times[name] = df, t
    faults = telemetry.get("faults")
    tables["faults"] = faults if isinstance(faults, pd.DataFrame) else None
    present = [n for n in _TABLES if tables[n] is not None]
    if not present:
        raise ValueError("telemetry holds no data: 'metrics', 'logs' and 'spans' are all "
                         "empty or absent.")
    for a in present:  # every table must share time with some other one
        others = [b for b in present if b != a]
        if others and not any(times[a].min() <= times[b].max() and times[b].min()
                              <= times[a].max() for b in others):
            ranges = "; ".join(f"{n}: {pd.Timestamp(times[n].min())} .. "
                               f"{pd.Timestamp(times[n].max())}" for n in present)
            raise ValueError(f"telemetry[{a!r}] does not overlap in time with the other "
                             f"tables ({ranges}); they must describe the same period.")
    return tables, times


class TelemetryFrames:
    """Raw telemetry cut into time bins, sliceable by bin (for ``GridSearchCV``).

    A raw table bundle (a dict or the Bunch the loaders return) cannot be split by
    rows: its tables have different rows. ``TelemetryFrames`` gives it one row per time
    bin: ``len(frames)`` bins, ``frames[idx]`` keeps the bins ``idx`` and only the
    metric samples, log lines and spans that fall in them. So ``TimeSeriesSplit`` and
    ``GridSearchCV`` split raw telemetry like a table, labels ``y`` have one entry per
    bin, and a :class:`TelemetryChannels` fitted on a training split never sees a
    later log line.

    Parameters
    ----------
    telemetry : dict or Bunch
        Tables ``metrics`` (wide, DatetimeIndex, ``"<pod>__<metric>"``), ``logs``
        (``time``, ...), ``spans`` (``start``, ...), optional ``faults`` (kept, never
        read by the transformer). Absent or empty tables are allowed, not all of them.
    freq : str or Timedelta, default="1min"
        Bin width. Bins start on whole multiples of ``freq`` (since the epoch) and run
        from the bin of the earliest time of any table to that of the latest.

    Attributes
    ----------
    bins : DatetimeIndex
        The bins, one per row.
    tables : dict
        The tables (``None`` where absent or empty) and ``faults``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skanomaly.preprocessing import TelemetryFrames
    >>> t = pd.date_range("2024-01-01", periods=6, freq="30s", name="time")
    >>> frames = TelemetryFrames({"metrics": pd.DataFrame({"api__cpu": range(6)}, index=t)})
    >>> len(frames), frames.shape
    (3, (3,))
    >>> len(frames[1:]), frames[1:].tables["metrics"]["api__cpu"].tolist()
    (2, [2, 3, 4, 5])
    """

    def __init__(self, telemetry, freq="1min"):
        self.freq = freq
        self._step = to_ns(freq, "freq")
        self.tables, self._times = _read_tables(telemetry)
        stamps = np.concatenate([t for t in self._times.values()])
        self.bins = make_index(stamps, self._step, name="telemetry times").rename("time")

    @property
    def shape(self):
        """``(n_bins,)``: one row per bin."""
        return (len(self.bins),)

    def __len__(self):
        return len(self.bins)

    def _bin_positions(self, times_ns):
        """Position in ``bins`` of each time (ns), -1 outside every bin."""
        key = (np.asarray(times_ns) // self._step) * self._step
        b = self.bins.asi8
        pos = np.searchsorted(b, key)
        ok = pos < len(b)
        ok[ok] = b[pos[ok]] == key[ok]
        return np.where(ok, pos, -1)

    def __getitem__(self, key):
        if isinstance(key, tuple):  # scikit-learn indexes arrays as X[key, ...]
            if any(k is not Ellipsis for k in key[1:]):
                raise IndexError("TelemetryFrames has one axis (time bins).")
            key = key[0]
        pos = np.arange(len(self.bins))[key]
        pos = np.atleast_1d(pos)
        out = object.__new__(TelemetryFrames)
        out.freq, out._step, out.bins = self.freq, self._step, self.bins[pos]
        out.tables, out._times = {"faults": self.tables.get("faults")}, {}
        for name in _TABLES:
            df = self.tables.get(name)
            if df is None:
                out.tables[name] = None
                continue
            keep = np.isin((self._times[name] // self._step) * self._step, out.bins.asi8)
            if not keep.any():
                out.tables[name] = None
                continue
            out.tables[name] = df[keep]
            out._times[name] = self._times[name][keep]
        return out

    def __repr__(self):
        parts = ", ".join(f"{n}: {len(self.tables[n])} rows" for n in _TABLES
                          if self.tables.get(n) is not None)
        return f"TelemetryFrames({len(self)} bins of {fmt_duration(self._step)}; {parts})"


# ------------------------------------------------------------------- transformer
class TelemetryChannels(TransformerMixin, BaseEstimator):
    """Raw metrics, log lines and spans to one aligned table of named channels.

    One row per time bin, one column per channel, named
    ``"<modality>__<entity>__<name>"`` with modality ``"metric"``, ``"log"`` or
    ``"trace"`` (:func:`channel_modalities` reads it back;
    ``AnoFusionDetector(modalities="auto")`` does so itself), so
    ``make_pipeline(TelemetryChannels(), AnoFusionDetector(modalities="auto"))``
    goes from raw tables to alarms. ``fit`` learns the channel set on the training
    tables (entities, log templates or clusters, trace groups); ``transform`` emits
    exactly those columns in the same order for any new data.

    Channels, in this order (each block sorted by name):

    - **metric**: ``metrics`` column ``"<pod>__<metric>"`` becomes
      ``"metric__<entity>__<metric>"``: samples averaged per bin, then pods of one
      entity combined by ``metric_agg``. A column whose entity is a call edge
      (``"<caller>-><callee>"``, e.g. an edge latency a loader derived from traces)
      is a **trace** channel ``"trace__<caller>-><callee>__<metric>"``.
    - **log**: lines mapped to template ids (:class:`DrainTemplates`) or semantic
      clusters (:class:`SemanticTemplateClusters`) fitted on the training lines in
      scope; per entity the ``max_log_channels - 1`` most frequent ids of the
      training lines get a channel ``"log__<entity>__<id name>"`` and all other ids,
      including lines matching no template, count in ``"log__<entity>__other"``.
    - **trace**: span statistics per bin and entity (``trace_by="service"``) or
      caller->callee edge (``trace_by="edge"``): ``"trace__<group>__<stat>"``.

    Fill rules (the output holds no NaN, as detectors need): log counts and span
    ``count`` are 0 in bins without lines or spans and ``error_rate`` is 0 in bins
    without spans; metrics and latency statistics carry the last value forward, and
    bins before a channel's first value (or a channel with no data in ``X``) take the
    channel's training median (``fill_values_``).

    Parameters
    ----------
    freq : str or Timedelta, default="1min"
        Bin width. Bins start on whole multiples of ``freq``; a
        :class:`TelemetryFrames` input brings its own bins and must have this ``freq``.
    scope : str, list of str or None, default=None
        Services whose channels are emitted (None: all). A call edge is in scope when
        its caller or callee is. A service not in the training data raises.
    entity : {"service", "pod"}, default="service"
        Channel level: per service (pods combined) or per pod. Pod names change when
        a service is redeployed; ``"pod"`` suits data from one deployment only.
    service_of : callable, dict or None, default=None
        Pod name -> service name. None: :func:`default_service_of` (Kubernetes hashes
        and a ``-v<N>`` version label stripped). A table without a ``pod`` column uses
        its ``service`` column.
    modalities : list of {"metric", "log", "trace"} or None, default=None
        Modalities to emit. None: every modality whose table holds data in ``fit``.
        A modality named here whose table is empty raises.
    log_channels : {"templates", "clusters"}, estimator or None, default="templates"
        How log lines become ids: ``"templates"`` a default :class:`DrainTemplates`,
        ``"clusters"`` a default :class:`SemanticTemplateClusters` (seeded by
        ``random_state``), or an unfitted estimator of either kind (cloned) to set
        their options. None: no log channels.
    max_log_channels : int or None, default=10
        Most log channels per entity, the ``"other"`` channel included (AnoFusion's
        M = 10). None: one per id seen in training, plus ``"other"``.
    log_transform : {"sqrt"} or None, default="sqrt"
        ``"sqrt"``: each log channel is the square root of its per-bin line count.
        Counts are Poisson-like, their noise growing with the square root of their
        level; the root gives busy and quiet hours the same noise, so a detector's
        error scale fits both. None: the counts themselves. (Chosen on the
        simulator, leave one seed out: see ``docs/anofusion.rst``.)
    trace_features : list of str or None, default=None
        Span statistics per group, from ``count``, ``lat_mean``, ``lat_std``,
        ``lat_p25``, ``lat_p50``, ``lat_p75``, ``lat_p95``, ``lat_max``,
        ``error_rate`` (seconds; see :class:`TraceWindowStats`). None:
        ``count, lat_mean, lat_p95``, plus ``error_rate`` when spans have a
        ``status`` or ``error`` column. ``error_rate`` without one raises.
    trace_by : {"service", "edge"}, default="service"
        Group spans by their entity, or by caller->callee edge (the parent span's
        entity; ``<root>`` for roots), which needs ``span_id`` and ``parent_id``.
    metric_agg : {"mean", "sum", "max"}, default="mean"
        How the per-bin values of an entity's pods combine (``entity="service"``).
    random_state : int, RandomState instance or None, default=None
        Seeds ``log_channels="clusters"`` (KMeans).

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        Output columns, ``"<modality>__<entity>__<name>"``.
    modality_ : ndarray of str
        Modality of each output column.
    modalities_ : tuple of str
        Modalities emitted.
    services_ : ndarray of str
        Services in scope seen in ``fit``.
    log_parser_ : estimator or None
        The fitted log parser.
    fill_values_ : pandas.Series
        Training median of every metric and latency channel (fills bins before a
        channel's first value).

    See Also
    --------
    TelemetryFrames : Raw telemetry sliceable by bin, for GridSearchCV.
    align_channels : The same alignment from tables already binned.

    Examples
    --------
    >>> import pandas as pd
    >>> from skanomaly.preprocessing import TelemetryChannels
    >>> t = pd.date_range("2024-01-01", periods=3, freq="1min", name="time")
    >>> raw = {
    ...     "metrics": pd.DataFrame({"cart-7d9f8c6b5-x2k4p__cpu": [0.2, 0.4, 0.3]}, index=t),
    ...     "logs": pd.DataFrame({"time": t[[0, 0, 2]], "pod": "cart-7d9f8c6b5-x2k4p",
    ...                           "message": ["GET /cart 12 ms", "GET /cart 9 ms",
    ...                                       "db timeout"]})}
    >>> tc = TelemetryChannels(max_log_channels=2, log_transform=None).fit(raw)
    >>> table = tc.transform(raw)
    >>> table.columns.tolist()
    ['metric__cart__cpu', 'log__cart__template_id_1', 'log__cart__other']
    >>> table.to_numpy().tolist()
    [[0.2, 2.0, 0.0], [0.4, 0.0, 0.0], [0.3, 0.0, 1.0]]
    """

    _parameter_constraints = {
        "freq": [str, pd.Timedelta],
        "scope": [str, list, tuple, None],
        "entity": [StrOptions({"service", "pod"})],
        "service_of": [callable, Mapping, None],
        "modalities": [list, tuple, None],
        "log_channels": [StrOptions({"templates", "clusters"}),
                         HasMethods(["fit", "transform"]), None],
        "max_log_channels": [Interval(Integral, 1, None, closed="left"), None],
        "log_transform": [StrOptions({"sqrt"}), None],
        "trace_features": [list, tuple, None],
        "trace_by": [StrOptions({"service", "edge"})],
        "metric_agg": [StrOptions({"mean", "sum", "max"})],
        "random_state": ["random_state"],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [{"max_log_channels": 2}]

    def __init__(self, freq="1min", scope=None, entity="service", service_of=None,
                 modalities=None, log_channels="templates", max_log_channels=10,
                 log_transform="sqrt", trace_features=None, trace_by="service", metric_agg="mean",
                 random_state=None):
        self.freq = freq
        self.scope = scope
        self.entity = entity
        self.service_of = service_of
        self.modalities = modalities
        self.log_channels = log_channels
        self.max_log_channels = max_log_channels
        self.log_transform = log_transform
        self.trace_features = trace_features
        self.trace_by = trace_by
        self.metric_agg = metric_agg
        self.random_state = random_state

    # ---------------------------------------------------------------- helpers
    def _frames(self, X):
        if isinstance(X, TelemetryFrames):
            if X._step != to_ns(self.freq, "freq"):
                raise ValueError(f"X is binned at {fmt_duration(X._step)} but freq="
                                 f"{self.freq!r}; build TelemetryFrames(..., freq={self.freq!r}).")
            return X
        return TelemetryFrames(X, freq=self.freq)

    def _services(self, names):
        """Service of each pod/service name (vectorised over distinct names)."""
        names = pd.Series(names, dtype=object).astype(str)
        uniq = names.unique()
        rule = self.service_of
        if rule is None:
            mapped = [default_service_of(u) for u in uniq]
        elif isinstance(rule, Mapping):
            missing = [u for u in uniq if u not in rule]
            if missing:
                raise ValueError(f"service_of has no service for pod(s) {missing[:5]}.")
            mapped = [str(rule[u]) for u in uniq]
        else:
            mapped = [str(rule(u)) for u in uniq]
        return names.map(dict(zip(uniq, mapped))).to_numpy(object)

    def _entities(self, df, name):
        """Entity and service of every row of a logs/spans table."""
        if "pod" in df.columns:
            pods = df["pod"].astype(str).to_numpy(object)
            svc = self._services(pods)
            return (pods if self.entity == "pod" else svc), svc
        if self.entity == "pod":
            raise ValueError(f"telemetry[{name!r}] has no 'pod' column; use entity='service'.")
        if "service" not in df.columns:
            raise ValueError(f"telemetry[{name!r}] needs a 'pod' or 'service' column; it has "
                             f"{list(df.columns)}.")
        svc = df["service"].astype(str).to_numpy(object)
        return svc, svc

    def _in_scope(self, services):
        """Mask of rows whose service (either end for a caller->callee edge) is in scope."""
        if self.scope is None:
            return np.ones(len(services), dtype=bool)
        scope = {self.scope} if isinstance(self.scope, str) else set(map(str, self.scope))
        codes, uniq = pd.factorize(pd.Series(services, dtype=object).astype(str))
        hit = np.array([bool(scope & set(u.split("->"))) for u in uniq], dtype=bool)
        return hit[codes] if len(codes) else np.zeros(0, dtype=bool)

    def _metric_columns(self, metrics):
        """Per metrics column: channel name, service, modality."""
        pods, names = zip(*(str(c).split(SEP, 1) for c in metrics.columns))
        edge = np.array(["->" in p for p in pods])
        svc = np.array([p if e else s for p, s, e in
                        zip(pods, self._services(pods), edge)], dtype=object)
        ent = np.asarray(pods, dtype=object) if self.entity == "pod" else svc
        mod = np.where(edge, "trace", "metric")
        chan = np.array([f"{m}{SEP}{e}{SEP}{n}" for m, e, n in zip(mod, ent, names)], object)
        return chan, svc, mod

    # ------------------------------------------------------------- modalities
    def _metric_block(self, frames, fitting, notes):
        df = frames.tables["metrics"]
        if df is None:
            return None
        chan, svc, mod = self._metric_columns(df)
        keep = self._in_scope(svc) & np.isin(mod, self.modalities_)
        if not fitting:
            notes["unseen"]["metric"] = sorted(set(chan[keep]) - set(self.feature_names_out_)
                                               - self._empty_in_fit)
        if not keep.any():
            return None
        pos = frames._bin_positions(frames._times["metrics"])
        inside = pos >= 0
        values = df.loc[inside, keep].astype(np.float64)
        per_bin = values.groupby(pos[inside]).mean()  # bin x column
        per_bin.columns = chan[keep]
        agg = per_bin.T.groupby(level=0, sort=True)
        table = (agg.sum(min_count=1) if self.metric_agg == "sum" else
                 getattr(agg, self.metric_agg)()).T
        return table.reindex(range(len(frames)))

    def _log_block(self, frames, fitting, notes):
        df = frames.tables["logs"]
        if df is None or "log" not in self.modalities_:
            return None
        if "message" not in df.columns:
            raise ValueError(f"telemetry['logs'] has no 'message' column; it has "
                             f"{list(df.columns)}.")
        ent, svc = self._entities(df, "logs")
        pos = frames._bin_positions(frames._times["logs"])
        keep = self._in_scope(svc) & (pos >= 0)
        msgs = df["message"].to_numpy(object)[keep]
        ent, pos = ent[keep], pos[keep]
        if fitting:
            if not len(msgs):
                raise ValueError("No log line in scope to fit log channels on; pass "
                                 "log_channels=None or widen scope.")
            self.log_parser_ = self._make_parser().fit(msgs)
        ids = (np.asarray(self.log_parser_.transform(msgs)).ravel() if len(msgs)
               else np.empty(0, np.int64))
        if fitting:
            self._fit_log_channels(ent, ids)
        label = f"{self.log_parser_.get_feature_names_out()[0]}_"
        keys = pd.MultiIndex.from_arrays([[e for e, _ in self._log_keys],
                                          np.array([i for _, i in self._log_keys], np.int64)])
        pairs = pd.MultiIndex.from_arrays([ent.astype(str), ids.astype(np.int64)])
        col = keys.get_indexer(pairs)
        other = pd.Index(self._log_entities).get_indexer(ent.astype(str))
        col = np.where(col >= 0, col, np.where(other >= 0, len(self._log_keys) + other, -1))
        notes["unseen"]["log"] = sorted(set(ent[other < 0]))
        ok = col >= 0
        n_col = len(self._log_keys) + len(self._log_entities)
        counts = np.bincount(col[ok] * len(frames) + pos[ok],
                             minlength=n_col * len(frames)).reshape(n_col, len(frames)).T
        names = [f"log{SEP}{e}{SEP}{label}{i}" for e, i in self._log_keys] + [
            f"log{SEP}{e}{SEP}other" for e in self._log_entities]
        # per entity: its ids in order, then its "other" channel
        order = sorted(range(len(names)), key=lambda k: (
            (self._log_keys[k][0], 0, self._log_keys[k][1]) if k < len(self._log_keys)
            else (self._log_entities[k - len(self._log_keys)], 1, 0)))
        values = counts[:, order].astype(np.float64)
        if self.log_transform == "sqrt":
            values = np.sqrt(values)
        return pd.DataFrame(values, columns=[names[k] for k in order])

    def _make_parser(self):
        if self.log_channels == "templates":
            return DrainTemplates()
        if self.log_channels == "clusters":
            return SemanticTemplateClusters(random_state=self.random_state)
        return clone(self.log_channels)

    def _fit_log_channels(self, ent, ids):
        """Keep each entity's most frequent ids; the rest count in its 'other' channel."""
        unknown = getattr(self.log_parser_, "unknown_value", -1)
        real = (ids >= 0) & (ids != unknown)  # unknown/empty lines only count in "other"
        counts = pd.Series(1, index=pd.MultiIndex.from_arrays(
            [ent[real].astype(str), ids[real].astype(np.int64)])).groupby(level=[0, 1]).sum()
        n_keep = None if self.max_log_channels is None else self.max_log_channels - 1
        keys = []
        for e, grp in counts.groupby(level=0, sort=True):
            top = grp.droplevel(0).sort_index().sort_values(ascending=False, kind="stable")
            kept = top.index[:n_keep] if n_keep is not None else top.index
            keys += [(str(e), int(i)) for i in sorted(kept)]
        self._log_keys = keys  # plain (entity, id) pairs: saved by skanomaly.persistence
        self._log_entities = sorted(set(ent.astype(str)))

    def _trace_block(self, frames, fitting, notes):
        df = frames.tables["spans"]
        if df is None or "trace" not in self.modalities_:
            return None
        status = next((c for c in ("status", "error") if c in df.columns), None)
        if fitting:
            feats = self.trace_features
            if feats is None:
                feats = ("count", "lat_mean", "lat_p95") + (("error_rate",) if status else ())
            unknown = sorted(set(feats) - set(TRACE_STATS))
            if unknown:
                raise ValueError(f"Unknown trace_features {unknown}; choose from {TRACE_STATS}.")
            if "error_rate" in feats and status is None:
                raise ValueError("trace_features has 'error_rate' but the spans have no "
                                 "'status' or 'error' column.")
            self._trace_features = [s for s in TRACE_STATS if s in feats]
        if "duration" not in df.columns and "end" not in df.columns:
            raise ValueError("telemetry['spans'] needs a 'duration' (seconds) or an 'end' "
                             f"column; it has {list(df.columns)}.")
        ent, svc = self._entities(df, "spans")
        spans = df.assign(_entity=ent, start=pd.DatetimeIndex(frames._times["spans"]))
        if self.trace_by == "service":
            spans = spans[self._in_scope(svc)]
        index = pd.date_range(frames.bins[0], frames.bins[-1], freq=pd.Timedelta(
            frames._step, "ns")) if len(frames) else frames.bins
        dur = "duration" if "duration" in spans.columns else None
        if len(spans):
            stats = trace_window_stats(
                spans, window=pd.Timedelta(frames._step, "ns"), index=index, by=self.trace_by,
                start_col="start", end_col="end", duration_col=dur, service_col="_entity",
                span_col="span_id", parent_col="parent_id",
                status_col=status if "error_rate" in self._trace_features else None)
            stats = stats.reindex(frames.bins)
        else:
            stats = pd.DataFrame(index=frames.bins)
        groups = np.array([c.rsplit(SEP, 1)[0] for c in stats.columns], dtype=object)
        wanted = np.isin([c.rsplit(SEP, 1)[1] for c in stats.columns], self._trace_features)
        if self.trace_by == "edge" and self.scope is not None:  # caller or callee in scope
            ends = [[p for p in g.split("->") if p != ROOT] for g in groups]
            wanted &= np.array([self._in_scope(self._services(e) if self.entity == "pod"
                                               else e).any() for e in ends], dtype=bool)
        stats = stats.loc[:, wanted]
        stats.columns = [f"trace{SEP}{c}" for c in stats.columns]
        if not fitting:
            known = {c.rsplit(SEP, 1)[0] for c in self.feature_names_out_}
            notes["unseen"]["trace"] = sorted({c.rsplit(SEP, 1)[0] for c in stats.columns}
                                              - known)
        return stats.reset_index(drop=True)

    # ---------------------------------------------------------------- compute
    def _table(self, frames, fitting, notes):
        blocks = [b for b in (self._metric_block(frames, fitting, notes),
                              self._log_block(frames, fitting, notes),
                              self._trace_block(frames, fitting, notes)) if b is not None]
        table = pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=range(len(frames)))
        if fitting:
            names = sorted(table.columns, key=lambda c: MODALITIES.index(c.split(SEP)[0]))
            table = table[names]  # stable: each block keeps its own order
        else:
            table = table.reindex(columns=self.feature_names_out_)
        table.index = frames.bins
        # Counts and error rates of spans/lines: 0 where none. Metrics (edge columns of
        # the metrics table included) and latencies: carried forward, then medians.
        stat = np.array([c.rsplit(SEP, 1)[-1] for c in table.columns], dtype=object)
        mod = np.array([c.split(SEP, 1)[0] for c in table.columns], dtype=object)
        zero = ((mod == "log") | ((mod == "trace") & np.isin(stat, ("count", "error_rate")))) \
            & ~np.isin(table.columns, self._from_metrics)
        table.loc[:, zero] = table.loc[:, zero].fillna(0.0)
        table = table.ffill()
        if fitting:
            empty = table.isna().all().to_numpy()
            self._empty_in_fit = set(table.columns[empty])
            if empty.any():
                warnings.warn(f"TelemetryChannels: {int(empty.sum())} channel(s) hold no value "
                              f"in the training data and are left out: "
                              f"{list(table.columns[empty])[:10]}.", UserWarning, stacklevel=3)
                table, zero = table.loc[:, ~empty], zero[~empty]
            if table.shape[1] == 0:
                raise ValueError("No channel in scope: the tables in scope hold no data for "
                                 f"modalities {list(self.modalities_)}.")
            self.feature_names_out_ = np.asarray(table.columns, dtype=object)
            self.fill_values_ = table.loc[:, ~zero].median()
        return table.fillna(self.fill_values_).astype(np.float64)

    # -------------------------------------------------------------- interface
    def _setup(self, frames):
        present = [m for m, t in zip(MODALITIES, _TABLES) if frames.tables.get(t) is not None]
        if self.log_channels is None and "log" in present:
            present.remove("log")
        if frames.tables.get("metrics") is not None and "trace" not in present:
            if any("->" in str(c).split(SEP, 1)[0] for c in frames.tables["metrics"].columns):
                present.append("trace")  # edge statistics carried in the metrics table
        if self.modalities is None:
            mods = present
        else:
            unknown = sorted(set(map(str, self.modalities)) - set(MODALITIES))
            if unknown:
                raise ValueError(f"Unknown modalities {unknown}; choose from {MODALITIES}.")
            missing = [m for m in self.modalities if m not in present]
            if missing:
                raise ValueError(f"modalities {missing} requested but X has no data for them "
                                 f"(tables with data: {present}; log_channels="
                                 f"{self.log_channels!r}).")
            mods = [m for m in MODALITIES if m in self.modalities]
        self.modalities_ = tuple(mods)
        metrics = frames.tables.get("metrics")
        self._from_metrics = (self._metric_columns(metrics)[0] if metrics is not None
                              else np.array([], dtype=object))
        seen = set() if metrics is None else set(self._metric_columns(metrics)[1])
        for name in ("logs", "spans"):
            if frames.tables.get(name) is not None:
                seen |= set(self._entities(frames.tables[name], name)[1])
        seen = sorted({p for s in seen for p in str(s).split("->")})
        if self.scope is not None:
            scope = [self.scope] if isinstance(self.scope, str) else list(self.scope)
            missing = [s for s in scope if s not in seen]
            if missing:
                raise ValueError(f"scope names service(s) {missing} absent from the training "
                                 f"data; its services are {seen[:20]}.")
        self.services_ = np.asarray([s for s in seen if self._in_scope([s])[0]], dtype=object)

    def _fit_table(self, X):
        frames = self._frames(X)
        self._setup(frames)
        table = self._table(frames, True, {"unseen": {}})
        self.modality_ = channel_modalities(self.feature_names_out_)
        return table

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Learn the channel set from training telemetry.

        Parameters
        ----------
        X : dict, Bunch or TelemetryFrames
            Raw tables ``metrics``, ``logs`` and/or ``spans`` (see the class notes).
        y : None
            Ignored.

        Returns
        -------
        self : TelemetryChannels
            The fitted transformer.
        """
        self._fit_table(X)
        return self

    @fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None):
        """Fit and return the training channel table (one pass over the tables).

        Parameters
        ----------
        X : dict, Bunch or TelemetryFrames
            Raw tables.
        y : None
            Ignored.

        Returns
        -------
        table : pandas.DataFrame of shape (n_bins, n_channels)
            What ``transform(X)`` returns, computed once.
        """
        return self._fit_table(X)

    def transform(self, X):
        """Channel table of new telemetry: the fitted columns, in the fitted order.

        Parameters
        ----------
        X : dict, Bunch or TelemetryFrames
            Raw tables.

        Returns
        -------
        table : pandas.DataFrame of shape (n_bins, n_channels)
            Indexed by bin start (``"time"``); columns ``feature_names_out_``; no NaN.
            Data of entities or trace groups not seen in ``fit`` is left out, with a
            warning naming them.
        """
        check_is_fitted(self, "feature_names_out_")
        frames = self._frames(X)
        if len(frames) == 0:
            raise ValueError("X holds no time bin.")
        notes = {"unseen": {}}
        table = self._table(frames, False, notes)
        unseen = {m: v for m, v in notes["unseen"].items() if v}
        if unseen:
            warnings.warn(f"TelemetryChannels: X has data of channels or entities unseen in "
                          f"fit, left out: {unseen}.", UserWarning, stacklevel=2)
        return table

    def get_feature_names_out(self, input_features=None):
        """Output column names ``"<modality>__<entity>__<name>"``.

        Parameters
        ----------
        input_features : None
            Ignored (the input is a set of tables, not columns).

        Returns
        -------
        names : ndarray of str
            ``feature_names_out_``.
        """
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.dict = True
        return tags
