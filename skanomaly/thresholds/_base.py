"""The thresholder contract and the percentile thresholder.

A thresholder turns anomaly scores (higher = more anomalous) into alarms. It is
fitted on scores believed normal (a detector passes the scores of its held-out
calibration part) and exposes ``threshold_`` on the anomaly-score scale.
"""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..utils._compat import Interval


def check_scores(scores, *, name="scores", min_samples=1):
    """Validate a 1-D array of finite anomaly scores.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher meaning more anomalous.
    name : str, default="scores"
        Name used in error messages.
    min_samples : int, default=1
        Smallest number of scores accepted.

    Returns
    -------
    scores : ndarray of shape (n_samples,), dtype float64
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one anomaly score per sample); got shape {scores.shape}."
        )
    if scores.shape[0] < min_samples:
        raise ValueError(
            f"{name} has {scores.shape[0]} value(s); at least {min_samples} are needed."
        )
    bad = ~np.isfinite(scores)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or infinite value(s) "
            f"(first at index {first}); thresholds need finite scores."
        )
    return scores


class BaseThresholder(BaseEstimator):
    """Base class of every thresholder.

    Subclasses implement :meth:`fit`, which sets ``threshold_`` (a float on the
    anomaly-score scale). Streaming thresholders override :meth:`thresholds` to
    return one threshold per step.

    Scores strictly above the threshold are anomalous.
    """

    def thresholds(self, scores):
        """Return the threshold that applies to each score.

        The fitted state is not changed: streaming thresholders continue from
        their fitted state on a copy.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores, higher meaning more anomalous.

        Returns
        -------
        thresholds : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "threshold_")
        scores = check_scores(scores)
        return np.full(scores.shape[0], self.threshold_, dtype=np.float64)

    def predict(self, scores):
        """Label scores: -1 for anomalous (above the threshold), +1 for normal.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores, higher meaning more anomalous.

        Returns
        -------
        labels : ndarray of shape (n_samples,) with values in {-1, 1}
        """
        scores = check_scores(scores)
        return np.where(scores > self.thresholds(scores), -1, 1)

    def fit_predict(self, scores, y=None):
        """Fit on ``scores`` and label them; see :meth:`predict`."""
        return self.fit(scores).predict(scores)


class PercentileThreshold(BaseThresholder):
    """Threshold at a quantile of the calibration scores.

    Parameters
    ----------
    q : float, default=0.99
        Quantile in (0, 1): the fraction of calibration scores left below the
        threshold. ``q=0.99`` flags about 1 % of normal data.

    Attributes
    ----------
    threshold_ : float
        The ``q`` quantile of the scores seen in :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.thresholds import PercentileThreshold
    >>> t = PercentileThreshold(q=0.9).fit(np.arange(11.0))
    >>> float(t.threshold_)
    9.0
    >>> t.predict([5.0, 9.5]).tolist()
    [1, -1]
    """

    _parameter_constraints = {"q": [Interval(Real, 0, 1, closed="neither")]}

    def __init__(self, q=0.99):
        self.q = q

    def fit(self, scores, y=None):
        """Compute the threshold from calibration scores.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores of data believed normal.
        y : None
            Ignored.

        Returns
        -------
        self : PercentileThreshold
        """
        self._validate_params()
        scores = check_scores(scores)
        self.threshold_ = float(np.quantile(scores, self.q))
        return self
