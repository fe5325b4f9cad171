"""The thresholder contract and the percentile thresholder.

A thresholder turns anomaly scores (higher = more anomalous) into alarms. It is
fitted on scores believed normal (a detector passes the scores of its held-out
calibration part) and exposes ``threshold_`` on the anomaly-score scale.
"""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..utils._compat import Interval, fit_context


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
        The scores as a float64 array.

    Raises
    ------
    ValueError
        If ``scores`` is not numeric, not 1-D (a single column is accepted),
        too short, or holds NaN or infinite values.

    Examples
    --------
    >>> from skanomaly.thresholds import check_scores
    >>> check_scores([1, 2.5]).tolist()
    [1.0, 2.5]
    >>> check_scores([1.0, float("nan")])
    Traceback (most recent call last):
    ...
    ValueError: scores contains 1 NaN or infinite value(s) (first at index 1); \
thresholds need finite scores.
    """
    raw = scores
    if raw is None or isinstance(raw, (str, bytes, dict)):
        raise ValueError(
            f"{name} must be an array of numbers (one anomaly score per sample); got "
            f"{type(raw).__name__}."
        )
    try:
        scores = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be an array of numbers (one anomaly score per sample); converting "
            f"it to float failed ({exc}). Pass numeric scores, e.g. -detector.score_samples(X)."
        ) from None
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


def check_calibration_size(thresholder, n_scores, reason):
    """Refuse too few calibration scores with the minimum and what to change.

    Parameters
    ----------
    thresholder : BaseThresholder
        The thresholder being fitted (its :meth:`~BaseThresholder.min_calibration_size`
        gives the minimum).
    n_scores : int
        Number of calibration scores given.
    reason : str
        Why that many are needed (e.g. ``"10 blocks of block_size=100"``).
    """
    n_min = thresholder.min_calibration_size()
    if n_scores < n_min:
        raise ValueError(
            f"{type(thresholder).__name__} needs at least {n_min} calibration scores "
            f"({reason}); got {n_scores}. Pass more scores or change those parameters; "
            "inside a detector the calibration scores are the held-out tail of the "
            "training data, so raise validation_fraction or pass more training data."
        )


def check_finite_threshold(thresholder, scores):
    """Refuse a threshold that overflowed (scores too large for the computation)."""
    value = thresholder.threshold_
    if not np.isfinite(value):
        raise ValueError(
            f"{type(thresholder).__name__} computed a non-finite threshold ({value}) from "
            f"scores spanning [{scores.min():.6g}, {scores.max():.6g}]: they are too large "
            "for its arithmetic. Rescale the scores first (e.g. divide by a typical value, "
            "or take their logarithm)."
        )


def sliding_sums(x, window):
    """Sum of every ``window`` consecutive values, each from those values only.

    ``out[j] = x[j] + ... + x[j + window - 1]``. Running sums restart every
    ``window`` values, so each window sum adds a suffix of one block and a
    prefix of the next: a huge or non-finite value never leaks into windows
    that do not hold it (a single cumulative sum over the stream would cancel
    it away from later windows only up to rounding).

    Parameters
    ----------
    x : ndarray of shape (n,)
        Values, float64.
    window : int
        Window length, ``1 <= window <= n``.

    Returns
    -------
    sums : ndarray of shape (n - window + 1,)

    Examples
    --------
    >>> from skanomaly.thresholds._base import sliding_sums
    >>> sliding_sums(np.array([1e17, 1.0, 1.0, 1.0]), 2).tolist()
    [1e+17, 2.0, 2.0]
    """
    n = x.shape[0]
    n_blocks = -(-n // window)
    blocks = np.zeros(n_blocks * window)
    blocks[:n] = x
    blocks = blocks.reshape(n_blocks, window)
    prefix = np.cumsum(blocks, axis=1).ravel()
    suffix = np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1]
    suffix[:, 0] = 0.0  # a window opening a block is that block's prefix alone
    m = n - window + 1
    return prefix[window - 1 : window - 1 + m] + suffix.ravel()[:m]


class BaseThresholder(BaseEstimator):
    """Base class of every thresholder.

    Subclasses implement :meth:`fit`, which sets ``threshold_`` (a float on the
    anomaly-score scale). Streaming thresholders override :meth:`thresholds` to
    return one threshold per step.

    Scores strictly above the threshold are anomalous.
    """

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [{}]

    def __sklearn_tags__(self):
        # Thresholders read a 1-D array of anomaly scores, not a 2-D X.
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        return tags

    def min_calibration_size(self):
        """Smallest number of calibration scores :meth:`fit` accepts with these parameters.

        Detectors call it before training to refuse a ``validation_fraction``
        whose held-out tail would give too few scores.

        Returns
        -------
        n_min : int
            The smallest number of scores ``fit`` accepts.

        Examples
        --------
        >>> from skanomaly.thresholds import GEVThreshold, PercentileThreshold
        >>> PercentileThreshold().min_calibration_size()
        1
        >>> GEVThreshold(block_size=50).min_calibration_size()  # 10 blocks
        500
        """
        self._validate_params()
        return 1

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
            The threshold each score faces.
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
            -1 where the score is above its threshold, else +1.
        """
        scores = check_scores(scores)
        return np.where(scores > self.thresholds(scores), -1, 1)

    def fit_predict(self, scores, y=None):
        """Fit on ``scores`` and label them; see :meth:`predict`.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores, higher meaning more anomalous.
        y : None
            Ignored.

        Returns
        -------
        labels : ndarray of shape (n_samples,) with values in {-1, 1}
            -1 where the score is above its threshold, else +1.
        """
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

    @fit_context(prefer_skip_nested_validation=True)
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
            The fitted thresholder.
        """
        self._validate_params()
        scores = check_scores(scores)
        self.threshold_ = float(np.quantile(scores, self.q))
        return self
