"""Point-adjust family: crediting a whole anomaly segment for a detection in it.

- point adjust (Xu et al., WWW 2018): one detected point in a true anomaly
  segment marks the whole segment detected;
- delay-constrained point adjust (Ren et al., KDD 2019): only if that point
  comes within ``k`` steps of the segment start; otherwise the whole segment
  counts as missed;
- PA%K (Kim et al., AAAI 2022): only if more than ``k_percent`` % of the
  segment's points are detected.

Predictions outside true anomaly segments are never changed. Each adjustment
also exists on scores (:func:`adjust_scores`): the adjusted score of a point
is the smallest threshold at which it would be flagged after adjustment, so
one sweep over thresholds of the adjusted scores gives the adjusted metrics
at every threshold.
"""

from numbers import Integral, Real

import numpy as np

from ..utils._compat import Interval, StrOptions, validate_params
from ._labels import as_labels_like, check_pair, count_in, paint, segments
from ._labels import check_scores_pair as _check_scores_pair

_METHODS = ("point_adjust", "delay", "pa_k")


def check_scores_pair(y_true, scores, anomaly_label):
    """Labels mask and float scores; non-numeric scores get a clear error first."""
    if scores is None or isinstance(scores, (str, bytes)):
        raise ValueError(
            f"scores must be an array of anomaly scores (numbers); got {type(scores).__name__}."
        )
    try:
        np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"scores must hold numbers (anomaly scores, higher = more anomalous); converting "
            f"them to float failed ({exc})."
        ) from None
    return _check_scores_pair(y_true, scores, anomaly_label)


def _adjust_mask(true, pred, method, k, k_percent):
    starts, ends = segments(true)
    if method == "point_adjust":
        hit = count_in(pred, starts, ends) > 0
    elif method == "delay":
        hit = count_in(pred, starts, np.minimum(starts + k + 1, ends)) > 0
    else:
        # 100 * hits > K * length, kept in exact arithmetic where possible
        hit = 100 * count_in(pred, starts, ends) > k_percent * (ends - starts)
    out = pred | paint(true.shape[0], starts[hit], ends[hit])
    if method == "delay":  # a late detection does not count at all
        out &= ~paint(true.shape[0], starts[~hit], ends[~hit])
    return out


@validate_params(
    {"y_true": ["array-like"], "y_pred": ["array-like"], "anomaly_label": [None, Integral]},
    prefer_skip_nested_validation=True,
)
def point_adjust(y_true, y_pred, *, anomaly_label=None):
    """Point-adjust predictions (Xu et al., WWW 2018).

    If any point of a true anomaly segment is flagged, every point of that
    segment is counted as flagged.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, in any of the same conventions.
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in both arrays; None infers it per array (see
        :func:`anomaly_mask`).

    Returns
    -------
    y_adjusted : ndarray of shape (n_samples,)
        Adjusted predictions, in the label convention of ``y_pred``.

    References
    ----------
    H. Xu et al., "Unsupervised anomaly detection via variational
    auto-encoder for seasonal KPIs in web applications", WWW 2018.

    Examples
    --------
    >>> from skanomaly.metrics import point_adjust
    >>> point_adjust([0, 1, 1, 1, 0, 1, 1], [1, 0, 1, 0, 0, 0, 0]).tolist()
    [1, 1, 1, 1, 0, 0, 0]
    """
    true, pred = check_pair(y_true, y_pred, anomaly_label)
    return as_labels_like(_adjust_mask(true, pred, "point_adjust", 0, 0), y_pred)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "k": [Interval(Integral, 0, None, closed="left")],
        "anomaly_label": [None, Integral],
    },
    prefer_skip_nested_validation=True,
)
def delay_point_adjust(y_true, y_pred, *, k=7, anomaly_label=None):
    """Delay-constrained point adjust (Ren et al., KDD 2019).

    A true anomaly segment counts as detected, every point of it, if a point
    among its first ``k + 1`` (a detection delay of at most ``k`` steps) is
    flagged; otherwise every point of it counts as missed, late detections
    included.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, in any of the same conventions.
    k : int, default=7
        Largest accepted delay, in steps, after the segment start.
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in both arrays; None infers it per array.

    Returns
    -------
    y_adjusted : ndarray of shape (n_samples,)
        Adjusted predictions, in the label convention of ``y_pred``.

    References
    ----------
    H. Ren et al., "Time-series anomaly detection service at Microsoft",
    KDD 2019.

    Examples
    --------
    >>> from skanomaly.metrics import delay_point_adjust
    >>> y_true = [0, 1, 1, 1, 1, 0, 1, 1, 1]
    >>> y_pred = [0, 0, 1, 0, 0, 0, 0, 0, 1]
    >>> delay_point_adjust(y_true, y_pred, k=1).tolist()
    [0, 1, 1, 1, 1, 0, 0, 0, 0]
    """
    true, pred = check_pair(y_true, y_pred, anomaly_label)
    return as_labels_like(_adjust_mask(true, pred, "delay", k, 0), y_pred)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "k_percent": [Interval(Real, 0, 100, closed="both")],
        "anomaly_label": [None, Integral],
    },
    prefer_skip_nested_validation=True,
)
def pa_k_adjust(y_true, y_pred, *, k_percent=20, anomaly_label=None):
    """PA%K adjustment (Kim et al., AAAI 2022).

    A true anomaly segment is marked detected, every point of it, when the
    share of its flagged points exceeds ``k_percent`` %; otherwise its
    predictions are left as they are. ``k_percent=0`` is the point adjust,
    ``k_percent=100`` leaves all predictions unchanged.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, in any of the same conventions.
    k_percent : float, default=20
        Share of a segment, in percent, that must be exceeded.
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in both arrays; None infers it per array.

    Returns
    -------
    y_adjusted : ndarray of shape (n_samples,)
        Adjusted predictions, in the label convention of ``y_pred``.

    References
    ----------
    S. Kim et al., "Towards a rigorous evaluation of time-series anomaly
    detection", AAAI 2022.

    Examples
    --------
    >>> from skanomaly.metrics import pa_k_adjust
    >>> y_true = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1]
    >>> y_pred = [1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    >>> pa_k_adjust(y_true, y_pred, k_percent=20).tolist()  # 2/5 > 20 %, 1/5 is not
    [1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0]
    """
    true, pred = check_pair(y_true, y_pred, anomaly_label)
    return as_labels_like(_adjust_mask(true, pred, "pa_k", 0, k_percent), y_pred)


def _adjust_score_values(true, scores, method, k, k_percent):
    starts, ends = segments(true)
    out = scores.copy()
    if starts.size == 0:
        return out
    lengths = ends - starts
    seg_of = np.repeat(np.arange(starts.size), lengths)  # segment of each anomaly point
    idx = np.flatnonzero(true)
    if method in ("point_adjust", "delay"):
        # scores of the points that may trigger the segment
        head = idx - starts[seg_of] <= (k if method == "delay" else np.inf)
        seg_max = np.full(starts.size, -np.inf)
        np.maximum.at(seg_max, seg_of[head], scores[idx[head]])
        # detected at threshold tau iff seg_max >= tau; missed points stay missed
        out[idx] = seg_max[seg_of]
        return out
    # PA%K: detected iff at least m points flagged, m = floor(K L / 100) + 1,
    # i.e. iff the m-th largest score of the segment reaches the threshold
    m = np.floor(k_percent * lengths / 100.0).astype(np.int64) + 1
    # smallest m with 100 * m > K * L, the test _adjust_mask applies: fix rounding
    m = np.where(100 * m > k_percent * lengths, m, m + 1)
    m = np.where(100 * (m - 1) > k_percent * lengths, m - 1, m)
    order = np.lexsort((-scores[idx], seg_of))  # by segment, then descending score
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ok = m <= lengths
    mth = np.full(starts.size, -np.inf)
    mth[ok] = scores[idx[order[first[ok] + m[ok] - 1]]]
    out[idx] = np.maximum(scores[idx], mth[seg_of])
    return out


@validate_params(
    {
        "y_true": ["array-like"],
        "scores": ["array-like"],
        "method": [StrOptions(set(_METHODS))],
        "k": [Interval(Integral, 0, None, closed="left")],
        "k_percent": [Interval(Real, 0, 100, closed="both")],
        "anomaly_label": [None, Integral],
    },
    prefer_skip_nested_validation=True,
)
def adjust_scores(y_true, scores, *, method="point_adjust", k=7, k_percent=20, anomaly_label=None):
    """Adjusted anomaly scores: thresholding them gives adjusted predictions.

    For every threshold ``tau``, ``adjust_scores(...) >= tau`` equals the
    adjusted version (by ``method``) of the predictions ``scores >= tau``.
    Use it to sweep thresholds once for adjusted precision/recall curves.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher meaning more anomalous.
    method : {"point_adjust", "delay", "pa_k"}, default="point_adjust"
        :func:`point_adjust`, :func:`delay_point_adjust` or :func:`pa_k_adjust`.
    k : int, default=7
        Largest delay for ``method="delay"``.
    k_percent : float, default=20
        Share in percent for ``method="pa_k"``.
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in ``y_true``; None infers it.

    Returns
    -------
    adjusted : ndarray of shape (n_samples,)
        Scores of normal points unchanged; scores of anomaly points replaced
        by the smallest threshold at which they count as detected
        (``-inf`` where they never do, with ``method="delay"``).

    Examples
    --------
    >>> from skanomaly.metrics import adjust_scores
    >>> adjust_scores([0, 1, 1, 1, 0], [0.5, 0.1, 0.9, 0.3, 0.2]).tolist()
    [0.5, 0.9, 0.9, 0.9, 0.2]
    """
    true, s = check_scores_pair(y_true, scores, anomaly_label)
    return _adjust_score_values(true, s, method, k, k_percent)
