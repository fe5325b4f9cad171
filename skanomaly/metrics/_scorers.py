"""Scorers for GridSearchCV and cross_validate, anomalies as the positive class.

They call estimators by scikit-learn's outlier convention: ``predict`` gives
-1 (anomalous) / +1 (normal); ``score_samples`` and ``decision_function`` are
higher for more normal samples, so anomaly scores are their negation. Labels
``y`` may be -1/+1 or 0/1 (see :func:`~skanomaly.metrics.anomaly_mask`).
"""

import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

from ._classification import (
    anomaly_average_precision_score,
    anomaly_f1_score,
    point_adjusted_f1_score,
)
from ._labels import anomaly_mask

_RESPONSES = ("predict", "anomaly_score")
_ON_NO_ANOMALY = ("warn", "raise", "nan")


def _anomaly_scores(estimator, X):
    """Anomaly scores (higher = more anomalous) from the outlier convention."""
    for name in ("score_samples", "decision_function"):
        method = getattr(estimator, name, None)
        if method is not None:
            return -np.asarray(method(X), dtype=np.float64).ravel()
    raise AttributeError(
        f"{type(estimator).__name__} has neither score_samples nor decision_function; "
        "an anomaly-score scorer needs one of them."
    )


class AnomalyScorer:
    """Callable ``scorer(estimator, X, y)`` for anomaly detectors.

    Build one with :func:`make_anomaly_scorer`.

    Parameters
    ----------
    score_func : callable
        ``score_func(y_true, y_pred_or_scores, **kwargs)``, higher is better.
    response : {"predict", "anomaly_score"}
        What the estimator gives to ``score_func``: its -1/+1 predictions or
        its anomaly scores (``-score_samples``, else ``-decision_function``).
    kwargs : dict
        Extra keyword arguments of ``score_func``.
    on_no_anomaly : {"warn", "raise", "nan"}, default="warn"
        What to do when ``y_true`` holds no anomaly (a cross-validation test
        fold without anomalies, where most metrics are 0 or undefined):
        ``"warn"`` scores it with ``score_func`` and warns
        (:class:`~sklearn.exceptions.UndefinedMetricWarning`); ``"raise"``
        raises a ``ValueError`` (with ``error_score="raise"`` this stops a
        search); ``"nan"`` returns NaN, so the fold can be left out of a
        mean with :func:`numpy.nanmean` (e.g. over
        :func:`~sklearn.model_selection.cross_validate` results; note that
        ``GridSearchCV`` averages with ``mean``, so one NaN fold makes a
        candidate's mean NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.covariance import EllipticEnvelope
    >>> from skanomaly.metrics import anomaly_f1_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(50, 1)), [[9.0]]]
    >>> y = np.r_[np.ones(50), -1]  # -1/+1 labels, -1 = anomaly
    >>> detector = EllipticEnvelope(contamination=0.01, random_state=0).fit(X[:50])
    >>> round(anomaly_f1_scorer(detector, X, y), 4)
    0.6667
    """

    def __init__(self, score_func, response, kwargs, on_no_anomaly="warn"):
        self.score_func = score_func
        self.response = response
        self.kwargs = kwargs
        self.on_no_anomaly = on_no_anomaly

    def __call__(self, estimator, X, y_true, sample_weight=None):
        """Score ``estimator`` on ``X`` against labels ``y_true``.

        Parameters
        ----------
        estimator : object
            Fitted detector following the outlier convention.
        X : array-like
            Input of ``estimator``.
        y_true : array-like of shape (n_samples,)
            Labels, -1/+1 or 0/1.
        sample_weight : None
            Not supported; must be None.

        Returns
        -------
        score : float
        """
        if y_true is None:
            raise ValueError(
                f"{self!r} needs true labels y: pass y to GridSearchCV.fit / cross_validate."
            )
        if sample_weight is not None:
            raise ValueError(f"{self!r} does not support sample_weight.")
        true = anomaly_mask(y_true, anomaly_label=self.kwargs.get("anomaly_label"), name="y")
        if not true.any():
            message = (
                f"{self!r}: this test fold ({true.shape[0]} samples) holds no true anomaly, so "
                "the metric is 0 or undefined whatever the estimator does, and it drags the "
                "mean of every candidate. Use splits whose test folds hold anomalies"
            )
            if self.on_no_anomaly == "raise":
                raise ValueError(message + ".")
            if self.on_no_anomaly == "nan":
                return float("nan")
            warnings.warn(
                message + ", or make_anomaly_scorer(..., on_no_anomaly='raise' or 'nan').",
                UndefinedMetricWarning,
                stacklevel=2,
            )
        with warnings.catch_warnings():
            # the fold situation was reported above, once
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            if self.response == "predict":
                # predict follows the -1/+1 outlier convention; reading it so avoids
                # mistaking an all-normal prediction (all +1) for 0/1 labels
                y_pred = anomaly_mask(estimator.predict(X), anomaly_label=-1, name="predict(X)")
                return float(self.score_func(y_true, y_pred, **self.kwargs))
            return float(self.score_func(y_true, _anomaly_scores(estimator, X), **self.kwargs))

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        if self.on_no_anomaly != "warn":
            extra += f", on_no_anomaly={self.on_no_anomaly!r}"
        name = getattr(self.score_func, "__name__", repr(self.score_func))
        return f"make_anomaly_scorer({name}, response={self.response!r}{extra})"


def make_anomaly_scorer(score_func, *, response="predict", on_no_anomaly="warn", **kwargs):
    """Make a scorer for anomaly detectors from a metric on anomaly labels.

    Parameters
    ----------
    score_func : callable
        Metric ``score_func(y_true, y_pred, **kwargs)`` or
        ``score_func(y_true, anomaly_scores, **kwargs)``; higher is better.
        ``y_pred`` is given as a boolean mask (True = anomalous).
    response : {"predict", "anomaly_score"}, default="predict"
        Pass the estimator's predictions, or its anomaly scores
        (``-score_samples(X)``, else ``-decision_function(X)``).
    on_no_anomaly : {"warn", "raise", "nan"}, default="warn"
        What to do with a test fold whose ``y`` holds no anomaly: score it and
        warn, raise a ``ValueError``, or return NaN (see :class:`AnomalyScorer`).
    **kwargs
        Extra keyword arguments of ``score_func``.

    Returns
    -------
    scorer : AnomalyScorer
        Callable ``scorer(estimator, X, y)``, usable as ``scoring=`` in
        :class:`~sklearn.model_selection.GridSearchCV`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.covariance import EllipticEnvelope
    >>> from skanomaly.metrics import make_anomaly_scorer, point_adjusted_f1_score
    >>> scorer = make_anomaly_scorer(point_adjusted_f1_score, method="delay", k=3)
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(50, 1)), np.full((5, 1), 9.0)]
    >>> y = np.r_[np.zeros(50), np.ones(5)]  # 0/1 labels, 1 = anomaly
    >>> detector = EllipticEnvelope(contamination=0.01, random_state=0).fit(X[:50])
    >>> round(scorer(detector, X, y), 4)  # one normal point flagged too
    0.9091
    """
    if not callable(score_func):
        raise TypeError(
            f"score_func must be a metric function score_func(y_true, y_pred_or_scores); "
            f"got {score_func!r}."
        )
    if response not in _RESPONSES:
        raise ValueError(f"response must be one of {_RESPONSES}; got {response!r}.")
    if on_no_anomaly not in _ON_NO_ANOMALY:
        raise ValueError(f"on_no_anomaly must be one of {_ON_NO_ANOMALY}; got {on_no_anomaly!r}.")
    return AnomalyScorer(score_func, response, kwargs, on_no_anomaly)


anomaly_f1_scorer = make_anomaly_scorer(anomaly_f1_score)
"""Scorer: point-wise F1 of anomalies from ``predict``."""

point_adjusted_f1_scorer = make_anomaly_scorer(point_adjusted_f1_score)
"""Scorer: point-adjusted F1 of anomalies from ``predict``."""

anomaly_average_precision_scorer = make_anomaly_scorer(
    anomaly_average_precision_score, response="anomaly_score"
)
"""Scorer: average precision (PR-AUC) of anomalies from ``-score_samples``."""
