"""Rolling threshold: sliding-window mean plus ``n_sigma`` standard deviations."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..utils._compat import Interval, fit_context
from ._base import (
    BaseThresholder,
    check_calibration_size,
    check_finite_threshold,
    check_scores,
    sliding_sums,
)
from ._spot import as_stream


class RollingThreshold(BaseThresholder):
    """Per-step threshold from the ``window`` scores before each step.

    The threshold for score ``i`` is ``mean + n_sigma * std`` of the
    ``window`` scores that precede it (``ddof=1``), the first ones taken
    from the end of the calibration scores. Every score enters the window,
    anomalies included, so a long anomaly raises the threshold after a while;
    :class:`DSPOTThreshold` leaves alarms out.

    Parameters
    ----------
    window : int, default=100
        Number of past scores in the window (at least 2).
    n_sigma : float, default=3.0
        Number of standard deviations above the window mean.

    Attributes
    ----------
    threshold_ : float
        Threshold the next score will face.
    history_ : ndarray of shape (window,)
        The last ``window`` scores seen.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.thresholds import RollingThreshold
    >>> t = RollingThreshold(window=3, n_sigma=1.0).fit([1.0, 2.0, 3.0])
    >>> t.threshold_
    3.0
    >>> np.round(t.thresholds([10.0, 0.0]), 4).tolist()  # windows [1, 2, 3], [2, 3, 10]
    [3.0, 9.3589]
    """

    _parameter_constraints = {
        "window": [Interval(Integral, 2, None, closed="left")],
        "n_sigma": [Interval(Real, 0, None, closed="left")],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [{"window": 10}]

    def __init__(self, window=100, n_sigma=3.0):
        self.window = window
        self.n_sigma = n_sigma

    def min_calibration_size(self):
        """Smallest number of calibration scores: one full ``window``.

        Returns
        -------
        n_min : int
            The smallest number of scores ``fit`` accepts.
        """
        self._validate_params()
        return self.window

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, scores, y=None):
        """Keep the last ``window`` calibration scores.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores of data believed normal, at least ``window`` of them.
        y : None
            Ignored.

        Returns
        -------
        self : RollingThreshold
            The fitted thresholder.
        """
        self._validate_params()
        scores = check_scores(scores)
        check_calibration_size(self, scores.shape[0], f"to fill its window={self.window}")
        self._set_history(scores[-self.window :])
        check_finite_threshold(self, scores)
        return self

    def _set_history(self, history):
        self.history_ = np.array(history, dtype=np.float64)
        self.threshold_ = float(
            self.history_.mean() + self.n_sigma * self.history_.std(ddof=1)
        )

    def thresholds(self, scores):
        """Return the threshold that applies to each score, in order.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores in stream order.

        Returns
        -------
        thresholds : ndarray of shape (n_samples,)
            The threshold each score faces.
        """
        check_is_fitted(self, "threshold_")
        scores = as_stream(scores)
        w = self.window
        ref = float(self.history_.mean())
        ext = np.concatenate([self.history_, scores]) - ref  # centring limits cancellation
        # sums over each window alone: a huge score leaves later windows untouched
        m = scores.shape[0]
        s1 = sliding_sums(ext, w)[:m]
        s2 = sliding_sums(ext * ext, w)[:m]
        mean = s1 / w
        var = np.maximum(s2 - s1 * mean, 0.0) / (w - 1)
        return ref + mean + self.n_sigma * np.sqrt(var)

    def update(self, scores):
        """Return per-step thresholds and move the window past ``scores``.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            New anomaly scores in stream order.

        Returns
        -------
        thresholds : ndarray of shape (n_samples,)
            The threshold each score faces.
        """
        out = self.thresholds(scores)
        scores = as_stream(scores)
        self._set_history(np.concatenate([self.history_, scores])[-self.window :])
        return out

    def partial_fit(self, scores, y=None):
        """Fit on the first call, then stream ``scores`` (see :meth:`update`).

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores in stream order.
        y : None
            Ignored.

        Returns
        -------
        self : RollingThreshold
            The fitted thresholder.
        """
        if not hasattr(self, "history_"):
            return self.fit(scores)
        self.update(scores)
        return self
