"""Anomaly-positive metrics: point-wise, adjusted, event-wise and threshold-free."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
)

from ..utils._compat import Interval, StrOptions, validate_params
from ._adjust import _METHODS, _adjust_mask, _adjust_score_values, check_scores_pair
from ._labels import check_pair, count_in, segments


def _warn_single_class(true, metric, value):
    """Warn, in anomaly terms, that ``metric`` is undefined for one-class labels."""
    what = "no anomaly" if not true.any() else "only anomalies"
    warnings.warn(
        f"y_true holds {what} ({true.shape[0]} samples): {metric} is undefined and "
        f"{value} is returned. In cross-validation this is a test fold without anomalies: "
        "use splits whose test folds hold anomalies, or make_anomaly_scorer(..., "
        "on_no_anomaly='raise' or 'nan').",
        UndefinedMetricWarning,
        stacklevel=4,  # past the metric and scikit-learn's validate_params wrapper
    )


def _prf(true, pred):
    p, r, f, _ = precision_recall_fscore_support(
        true, pred, average="binary", pos_label=True, zero_division=0.0
    )
    return float(p), float(r), float(f)


@validate_params(
    {"y_true": ["array-like"], "y_pred": ["array-like"], "anomaly_label": [None, Integral]},
    prefer_skip_nested_validation=True,
)
def anomaly_f1_score(y_true, y_pred, *, anomaly_label=None):
    """Point-wise F1 score with anomalies as the positive class.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, in any of the same conventions (``predict`` of a
        detector gives -1/+1).
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in both arrays; None infers it per array.

    Returns
    -------
    f1 : float
        0.0 when there is no true and no predicted anomaly.

    Examples
    --------
    >>> from skanomaly.metrics import anomaly_f1_score
    >>> anomaly_f1_score([0, 1, 1, 0], [-1, -1, 1, 1])  # 0/1 truth, -1/+1 predictions
    0.5
    """
    return _prf(*check_pair(y_true, y_pred, anomaly_label))[2]


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "method": [StrOptions(set(_METHODS)), None],
        "k": [Interval(Integral, 0, None, closed="left")],
        "k_percent": [Interval(Real, 0, 100, closed="both")],
        "anomaly_label": [None, Integral],
    },
    prefer_skip_nested_validation=True,
)
def adjusted_precision_recall_f1(
    y_true, y_pred, *, method="point_adjust", k=7, k_percent=20, anomaly_label=None
):
    """Precision, recall and F1 of anomalies after a point-adjust variant.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, in any of the same conventions.
    method : {"point_adjust", "delay", "pa_k"} or None, default="point_adjust"
        :func:`point_adjust`, :func:`delay_point_adjust`, :func:`pa_k_adjust`,
        or None for plain point-wise scores.
    k : int, default=7
        Largest delay for ``method="delay"``.
    k_percent : float, default=20
        Share in percent for ``method="pa_k"``.
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in both arrays; None infers it per array.

    Returns
    -------
    precision, recall, f1 : float
        Of anomalies, the positive class.

    Examples
    --------
    >>> from skanomaly.metrics import adjusted_precision_recall_f1
    >>> y_true = [0, 1, 1, 1, 0, 0, 1, 1]
    >>> y_pred = [1, 0, 1, 0, 0, 0, 0, 0]
    >>> [round(v, 4) for v in adjusted_precision_recall_f1(y_true, y_pred)]
    [0.75, 0.6, 0.6667]
    """
    true, pred = check_pair(y_true, y_pred, anomaly_label)
    if method is not None:
        pred = _adjust_mask(true, pred, method, k, k_percent)
    return _prf(true, pred)


def point_adjusted_f1_score(
    y_true, y_pred, *, method="point_adjust", k=7, k_percent=20, anomaly_label=None
):
    """F1 of anomalies after point adjust (or ``method``'s variant).

    Same parameters as :func:`adjusted_precision_recall_f1`; returns its F1.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, in any of the same conventions.
    method : {"point_adjust", "delay", "pa_k"} or None, default="point_adjust"
        Adjustment applied before scoring.
    k : int, default=7
        Largest delay for ``method="delay"``.
    k_percent : float, default=20
        Share in percent for ``method="pa_k"``.
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in both arrays; None infers it per array.

    Returns
    -------
    f1 : float
        F1 of anomalies after the adjustment.

    Examples
    --------
    >>> from skanomaly.metrics import point_adjusted_f1_score
    >>> point_adjusted_f1_score([0, 1, 1, 1, 0], [0, 0, 1, 0, 0])
    1.0
    >>> point_adjusted_f1_score([0, 1, 1, 1, 0], [0, 0, 1, 0, 0], method="delay", k=0)
    0.0
    """
    return adjusted_precision_recall_f1(
        y_true, y_pred, method=method, k=k, k_percent=k_percent, anomaly_label=anomaly_label
    )[2]


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "anomaly_label": [None, Integral],
        "zero_division": [Real],
    },
    prefer_skip_nested_validation=True,
)
def event_precision_recall_f1(y_true, y_pred, *, anomaly_label=None, zero_division=0.0):
    """Event-wise precision, recall and F1 over anomaly segments.

    An event is a maximal run of consecutive anomalous points. Recall is the
    share of true events that overlap at least one predicted event; precision
    is the share of predicted events that overlap at least one true event
    (as in Hundman et al., KDD 2018). Long events weigh as much as short ones.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, in any of the same conventions.
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in both arrays; None infers it per array.
    zero_division : float, default=0.0
        Value of a ratio whose denominator is 0 (no true or no predicted
        event), and of F1 when precision and recall are both 0.

    Returns
    -------
    precision, recall, f1 : float
        Of anomalies, the positive class.

    Examples
    --------
    >>> from skanomaly.metrics import event_precision_recall_f1
    >>> y_true = [0, 1, 1, 0, 0, 1, 0, 0]
    >>> y_pred = [0, 0, 1, 1, 0, 0, 0, 1]
    >>> event_precision_recall_f1(y_true, y_pred)  # 1 of 2 events found, 1 of 2 right
    (0.5, 0.5, 0.5)
    """
    true, pred = check_pair(y_true, y_pred, anomaly_label)
    t_starts, t_ends = segments(true)
    p_starts, p_ends = segments(pred)
    found = int(np.count_nonzero(count_in(pred, t_starts, t_ends)))
    right = int(np.count_nonzero(count_in(true, p_starts, p_ends)))
    recall = found / t_starts.size if t_starts.size else float(zero_division)
    precision = right / p_starts.size if p_starts.size else float(zero_division)
    if precision + recall == 0:
        return float(precision), float(recall), float(zero_division)
    return float(precision), float(recall), 2 * precision * recall / (precision + recall)


@validate_params(
    {
        "y_true": ["array-like"],
        "scores": ["array-like"],
        "method": [StrOptions(set(_METHODS)), None],
        "k": [Interval(Integral, 0, None, closed="left")],
        "k_percent": [Interval(Real, 0, 100, closed="both")],
        "return_threshold": ["boolean"],
        "anomaly_label": [None, Integral],
    },
    prefer_skip_nested_validation=True,
)
def best_f1_score(
    y_true,
    scores,
    *,
    method=None,
    k=7,
    k_percent=20,
    return_threshold=False,
    anomaly_label=None,
):
    """Best F1 of anomalies over all thresholds of the scores.

    An oracle: it looks at the labels to pick the threshold, so it measures
    how well the scores rank, not how well a thresholder works.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher meaning more anomalous.
    method : {"point_adjust", "delay", "pa_k"} or None, default=None
        Adjust the predictions at each threshold (see
        :func:`adjust_scores`); None for point-wise F1.
    k : int, default=7
        Largest delay for ``method="delay"``.
    k_percent : float, default=20
        Share in percent for ``method="pa_k"``.
    return_threshold : bool, default=False
        Also return the best threshold.
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in ``y_true``; None infers it.

    Returns
    -------
    f1 : float
        Best F1 (0.0, with an :class:`~sklearn.exceptions.UndefinedMetricWarning`,
        without true anomalies).
    threshold : float
        Only if ``return_threshold``: flagging ``scores > threshold`` reaches
        that F1 (strictly above, like the thresholders).

    Examples
    --------
    >>> from skanomaly.metrics import best_f1_score
    >>> y_true = [0, 0, 1, 1, 0]
    >>> scores = [0.1, 0.4, 0.35, 0.8, 0.2]
    >>> round(best_f1_score(y_true, scores), 4)
    0.8
    >>> best_f1_score(y_true, scores, method="point_adjust")
    1.0
    """
    true, s = check_scores_pair(y_true, scores, anomaly_label)
    if method is not None:
        s = _adjust_score_values(true, s, method, k, k_percent)
    if not true.any():
        _warn_single_class(true, "the best F1", 0.0)
        return (0.0, float(np.max(s))) if return_threshold else 0.0
    finite = np.isfinite(s)  # -inf marks points that can never be detected
    floor = np.min(s[finite]) - 1.0 if finite.any() else 0.0
    s = np.where(finite, s, floor)
    precision, recall, thr = precision_recall_curve(true, s)
    denom = precision[:-1] + recall[:-1]
    f1 = np.divide(
        2 * precision[:-1] * recall[:-1], denom, out=np.zeros_like(denom), where=denom > 0
    )
    best = int(np.argmax(f1))
    if not return_threshold:
        return float(f1[best])
    # precision_recall_curve flags scores >= thr: step just below it for ">"
    return float(f1[best]), float(np.nextafter(thr[best], -np.inf))


@validate_params(
    {"y_true": ["array-like"], "scores": ["array-like"], "anomaly_label": [None, Integral]},
    prefer_skip_nested_validation=True,
)
def anomaly_roc_auc_score(y_true, scores, *, anomaly_label=None):
    """ROC-AUC with anomalies as the positive class.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher meaning more anomalous (for a detector,
        ``-score_samples(X)``).
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in ``y_true``; None infers it.

    Returns
    -------
    auc : float
        NaN, with an :class:`~sklearn.exceptions.UndefinedMetricWarning`,
        when ``y_true`` holds a single class.

    Examples
    --------
    >>> from skanomaly.metrics import anomaly_roc_auc_score
    >>> round(anomaly_roc_auc_score([1, 1, -1, 1], [0.1, 0.4, 0.35, 0.2]), 4)
    0.6667
    """
    true, s = check_scores_pair(y_true, scores, anomaly_label)
    if true.all() or not true.any():
        _warn_single_class(true, "ROC-AUC", "nan")
        return float("nan")
    return float(roc_auc_score(true, s))


@validate_params(
    {"y_true": ["array-like"], "scores": ["array-like"], "anomaly_label": [None, Integral]},
    prefer_skip_nested_validation=True,
)
def anomaly_average_precision_score(y_true, scores, *, anomaly_label=None):
    """Area under the precision-recall curve of anomalies (average precision).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: -1/+1 (-1 anomalous), 0/1 (1 anomalous) or boolean.
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher meaning more anomalous.
    anomaly_label : {None, -1, 1}, default=None
        Label of anomalies in ``y_true``; None infers it.

    Returns
    -------
    average_precision : float
        0.0, with an :class:`~sklearn.exceptions.UndefinedMetricWarning`,
        when ``y_true`` holds no anomaly.

    Examples
    --------
    >>> from skanomaly.metrics import anomaly_average_precision_score
    >>> round(anomaly_average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    true, s = check_scores_pair(y_true, scores, anomaly_label)
    if not true.any():
        _warn_single_class(true, "average precision", 0.0)
        return 0.0
    return float(average_precision_score(true, s))
