"""Spans to per-window, per-service (or per caller->callee) statistics.

Everything is vectorised: one sort of all (group, window, duration) keys, then
counts, sums and order statistics read from group boundaries. Durations and status
codes are kept apart: latency statistics come from durations only, ``error_rate``
from status codes only (the seed pooled both into one list).
"""

import warnings
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..utils._compat import Interval, StrOptions, fit_context
from ._binning import make_index, parse_times, to_ns, window_of
from ._validation import check_columns

__all__ = ["TRACE_STATS", "TraceWindowStats", "trace_window_stats"]

#: Statistics computed per window and group, in output order.
TRACE_STATS = ("count", "lat_mean", "lat_std", "lat_p25", "lat_p50", "lat_p75", "lat_p95",
               "lat_max", "error_rate")
_QUANTILES = {"lat_p25": 0.25, "lat_p50": 0.50, "lat_p75": 0.75, "lat_p95": 0.95}
ROOT = "<root>"


def _is_error(status):
    """Error flag per span: bools as is, numbers >= 400 (HTTP) or strings naming an error."""
    s = pd.Series(status)
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(s):
        return (s.to_numpy(dtype=np.float64) >= 400)
    text = s.astype(str).str.lower()
    num = pd.to_numeric(text, errors="coerce")
    return ((num >= 400) | text.str.contains("error|fail|exception", regex=True)).to_numpy(bool)


def _prepare(spans, est):
    """Validated arrays: start (ns), duration (s), group labels, error flags, drop counts."""
    req = [est.start_col, est.service_col]
    if est.duration_col is None or est.duration_col not in spans.columns:
        if est.end_col is None or est.end_col not in spans.columns:
            raise ValueError(
                f"spans needs a duration column {est.duration_col!r} or an end column "
                f"{est.end_col!r}; it has {list(spans.columns)}."
            )
    if est.by == "edge":
        req += [est.span_col, est.parent_col]
    check_columns(spans, req + ([est.status_col] if est.status_col else []), name="spans")
    start = parse_times(spans[est.start_col], unit=est.time_unit, name=est.start_col).asi8
    if est.duration_col is not None and est.duration_col in spans.columns:
        dur = pd.to_numeric(spans[est.duration_col], errors="coerce").to_numpy(np.float64)
        dur = dur * est.duration_scale
    else:
        end = parse_times(spans[est.end_col], unit=est.time_unit, name=est.end_col).asi8
        dur = (end - start) / 1e9
    if est.by == "service":
        group = spans[est.service_col].astype(str).to_numpy(object)
    elif est.by == "edge":
        svc = spans[est.service_col].astype(str)
        caller = pd.Series(svc.to_numpy(), index=spans[est.span_col].astype(str).to_numpy())
        caller = caller[~caller.index.duplicated()]
        parent = spans[est.parent_col].astype(str).map(caller).fillna(ROOT)
        group = (parent + "->" + svc).to_numpy(object)
    else:
        group = np.full(len(spans), "all", dtype=object)
    err = _is_error(spans[est.status_col]) if est.status_col else None
    bad = ~np.isfinite(dur) | (dur < 0)
    if bad.any():
        if est.on_invalid == "raise":
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"spans: row {i} has a negative or missing duration ({dur[i]!r} s; end "
                "before start?); pass on_invalid='drop' to set such spans aside (counted "
                "and warned)."
            )
    return start, dur, group, err, bad


def _warn_set_aside(who, n_bad, n_out, n_unknown=0):
    if n_bad or n_out or n_unknown:
        warnings.warn(
            f"{who} set aside {n_bad} span(s) with a negative or missing duration (end "
            f"before start), {n_out} outside the index and {n_unknown} of groups unseen in "
            "fit.", UserWarning, stacklevel=3,
        )


def _group_stats(key, dur, err, n_keys):
    """Statistics per key from one lexsort; keys without spans get count 0, NaN otherwise."""
    order = np.lexsort((dur, key))
    key_s, dur_s = key[order], dur[order]
    count = np.bincount(key_s, minlength=n_keys)
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    has = count > 0
    out = {"count": count.astype(np.float64)}
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(key_s, weights=dur_s, minlength=n_keys) / count
        dev = (dur_s - mean[key_s]) ** 2  # centred, so no cancellation in the variance
        out["lat_mean"] = mean
        out["lat_std"] = np.sqrt(np.bincount(key_s, weights=dev, minlength=n_keys) / count)
    for name in ("lat_p25", "lat_p50", "lat_p75", "lat_p95"):
        q = np.full(n_keys, np.nan)
        pos = _QUANTILES[name] * (count[has] - 1)  # numpy's "linear" rule
        lo = np.floor(pos).astype(np.int64)
        hi = np.ceil(pos).astype(np.int64)
        a, b = dur_s[start[has] + lo], dur_s[start[has] + hi]
        q[has] = a + (b - a) * (pos - lo)
        out[name] = q
    mx = np.full(n_keys, np.nan)
    mx[has] = dur_s[start[has] + count[has] - 1]
    out["lat_max"] = mx
    if err is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            out["error_rate"] = np.bincount(key, weights=err.astype(np.float64),
                                            minlength=n_keys) / count
    return out


class TraceWindowStats(TransformerMixin, BaseEstimator):
    """Per-window, per-service (or per caller->callee) statistics of spans.

    Input rows are spans; output rows are time windows (one row per window of the
    index), one column per (group, statistic), named ``"<group>__<stat>"``. ``fit``
    learns the groups so ``transform`` always returns the same columns; a group
    unseen in ``fit`` is left out (its spans counted in the warning).

    Statistics: ``count``; latency ``lat_mean``, ``lat_std`` (population),
    ``lat_p25``, ``lat_p50``, ``lat_p75``, ``lat_p95``, ``lat_max`` (seconds, from
    durations only); ``error_rate`` (share of spans whose status is an error, from
    status codes only; present when ``status_col`` is set). A window without spans has
    count 0 and NaN statistics (:func:`~skanomaly.preprocessing.align_channels` fills
    them).

    Parameters
    ----------
    window : str, Timedelta or float, default="60s"
        Window length (a number is seconds).
    step : str, Timedelta, float or None, default=None
        Spacing of window starts; None means ``window`` (tumbling windows). A smaller
        step gives overlapping windows.
    by : {"service", "edge", "all"}, default="service"
        Group spans by service, by caller->callee pair (caller = the parent span's
        service; ``"<root>"`` for root spans and parents not in the table), or not at
        all.
    index : DatetimeIndex or None, default=None
        Window starts to align to (e.g. the metrics' time index); None derives them
        from the spans (floor of the first start to ``step``).
    start_col, end_col, duration_col, service_col, span_col, parent_col : str
        Column names. Duration is read from ``duration_col`` when present (times
        ``duration_scale``), else computed as end - start.
    status_col : str or None, default=None
        Status column (HTTP code, gRPC/OTel status string or bool). None: no
        ``error_rate``.
    time_unit : str, default="s"
        Unit of numeric timestamps (e.g. ``"ns"`` for ``StartTimeUnixNano``).
    duration_scale : float, default=1.0
        Multiplier turning ``duration_col`` into seconds (1e-6 for microseconds).
    on_invalid : {"drop", "raise"}, default="drop"
        Spans with a negative or missing duration (end before start): set aside,
        counted and warned about (in ``fit`` and ``transform``), or raise naming the
        row. Unparseable timestamps, missing columns, a start far outside the other
        starts' range, epoch numbers too large for ``time_unit`` (with a hint at the
        unit their size suggests) and, without ``index``, more than a million windows
        always raise, naming the rows.

    Attributes
    ----------
    groups_ : ndarray of str
        Groups seen in ``fit``, sorted.
    n_dropped_ : int
        Training spans set aside for an invalid duration.
    n_outside_ : int
        Training spans outside every window of ``index``.
    feature_names_out_ : ndarray of str
        Output column names.

    Examples
    --------
    >>> import pandas as pd
    >>> from skanomaly.preprocessing import TraceWindowStats
    >>> spans = pd.DataFrame({
    ...     "start": pd.to_datetime(["2024-01-01 00:00:05", "2024-01-01 00:00:30",
    ...                              "2024-01-01 00:01:10"]),
    ...     "duration": [0.1, 0.3, 0.2], "service": ["api", "api", "db"],
    ...     "status_code": [200, 500, 200]})
    >>> tws = TraceWindowStats(status_col="status_code").fit(spans)
    >>> out = tws.transform(spans)
    >>> cols = ["api__count", "api__lat_mean", "api__error_rate"]
    >>> out[cols].round(2)  # doctest: +NORMALIZE_WHITESPACE
                         api__count  api__lat_mean  api__error_rate
    time
    2024-01-01 00:00:00         2.0            0.2              0.5
    2024-01-01 00:01:00         0.0            NaN              NaN
    """

    _parameter_constraints = {
        "window": [str, Real, pd.Timedelta],
        "step": [str, Real, pd.Timedelta, None],
        "by": [StrOptions({"service", "edge", "all"})],
        "index": ["array-like", None],
        "start_col": [str], "end_col": [str, None], "duration_col": [str, None],
        "service_col": [str], "span_col": [str], "parent_col": [str],
        "status_col": [str, None],
        "time_unit": [str],
        "duration_scale": [Interval(Real, 0, None, closed="neither")],
        "on_invalid": [StrOptions({"drop", "raise"})],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [{}]

    def __init__(self, window="60s", step=None, by="service", index=None, start_col="start",
                 end_col="end", duration_col="duration", service_col="service",
                 span_col="span_id", parent_col="parent_id", status_col=None, time_unit="s",
                 duration_scale=1.0, on_invalid="drop"):
        self.window = window
        self.step = step
        self.by = by
        self.index = index
        self.start_col = start_col
        self.end_col = end_col
        self.duration_col = duration_col
        self.service_col = service_col
        self.span_col = span_col
        self.parent_col = parent_col
        self.status_col = status_col
        self.time_unit = time_unit
        self.duration_scale = duration_scale
        self.on_invalid = on_invalid

    def _compute(self, spans, groups=None):
        window_ns = to_ns(self.window, "window")
        step_ns = to_ns(self.step, "step") if self.step is not None else window_ns
        start, dur, group, err, bad = _prepare(spans, self)
        index = make_index(start[~bad], step_ns, self.index, name=f"spans[{self.start_col!r}]",
                           rows=np.flatnonzero(~bad))
        keep = ~bad
        codes, uniq = pd.factorize(pd.Series(group[keep], dtype=object), sort=True)
        uniq = np.asarray(uniq, dtype=object)
        if groups is not None:  # map onto the fitted groups; drop unknown ones
            pos = pd.Index(groups).get_indexer(uniq)
            codes = pos[codes] if len(codes) else codes
            n_unknown = int((codes < 0).sum())
            uniq = np.asarray(groups, dtype=object)
        else:
            n_unknown = 0
        idx = np.flatnonzero(keep)
        ok = codes >= 0
        idx, codes = idx[ok], codes[ok]
        row, win, n_out = window_of(start[idx], index, step_ns, window_ns)
        n_win, n_grp = len(index), len(uniq)
        key = codes[row] * n_win + win
        stats = _group_stats(key.astype(np.int64), dur[idx][row],
                             None if err is None else err[idx][row], n_grp * n_win)
        names = [s for s in TRACE_STATS if s in stats]
        # (n_stats, n_groups, n_windows) -> (n_windows, n_groups * n_stats)
        block = np.stack([stats[s].reshape(n_grp, n_win) for s in names])
        values = block.transpose(2, 1, 0).reshape(n_win, n_grp * len(names))
        cols = [f"{g}__{s}" for g in uniq for s in names]
        out = pd.DataFrame(values, index=index.rename("time"), columns=cols)
        return out, uniq, int(bad.sum()), n_out, n_unknown

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the groups (services or edges) and output columns.

        Parameters
        ----------
        X : pandas.DataFrame
            Spans, one row each.
        y : None
            Ignored.

        Returns
        -------
        self : TraceWindowStats
            The fitted transformer.
        """
        out, groups, n_bad, n_out, _ = self._compute(X)
        _warn_set_aside("TraceWindowStats.fit", n_bad, n_out)
        self.groups_ = groups
        self.n_dropped_ = n_bad
        self.n_outside_ = n_out
        self.feature_names_out_ = np.asarray(out.columns, dtype=object)
        return self

    def transform(self, X):
        """Statistics per window (rows) and fitted group x statistic (columns).

        Parameters
        ----------
        X : pandas.DataFrame
            Spans.

        Returns
        -------
        table : pandas.DataFrame of shape (n_windows, n_groups * n_stats)
            Indexed by window start (``"time"``).
        """
        check_is_fitted(self, "groups_")
        out, _, n_bad, n_out, n_unknown = self._compute(X, groups=self.groups_)
        _warn_set_aside("TraceWindowStats.transform", n_bad, n_out, n_unknown)
        return out

    def get_feature_names_out(self, input_features=None):
        """Output column names ``"<group>__<stat>"``.

        Parameters
        ----------
        input_features : None
            Ignored (the input is a spans table).

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
        tags.input_tags.dict = False
        return tags


def trace_window_stats(spans, **params):
    """Functional form of :class:`TraceWindowStats`: fit and transform in one call.

    Parameters
    ----------
    spans : pandas.DataFrame
        Spans table.
    **params
        Parameters of :class:`TraceWindowStats`.

    Returns
    -------
    table : pandas.DataFrame
        Statistics per window and group.

    Examples
    --------
    >>> import pandas as pd
    >>> from skanomaly.preprocessing import trace_window_stats
    >>> spans = pd.DataFrame({"start": [0.0, 10.0, 70.0], "duration": [1.0, 3.0, 2.0],
    ...                       "service": ["a", "a", "a"]})
    >>> trace_window_stats(spans)["a__lat_p50"].tolist()
    [2.0, 2.0]
    """
    est = TraceWindowStats(**params)
    est._validate_params()
    out, _, n_bad, n_out, _ = est._compute(spans)  # one pass: fit + transform on the same spans
    _warn_set_aside("trace_window_stats", n_bad, n_out)
    return out
