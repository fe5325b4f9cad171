"""Static thresholders: one threshold computed from the calibration scores."""

import warnings
from numbers import Real

import numpy as np

from ..utils._compat import Interval, fit_context
from ._base import BaseThresholder, check_finite_threshold, check_scores

# MAD / _MAD_TO_SIGMA estimates the standard deviation of a normal sample
_MAD_TO_SIGMA = 0.6744897501960817  # Phi^-1(0.75)
# mean absolute deviation * sqrt(pi / 2) estimates it as well (MAD fallback)
_MEANAD_TO_SIGMA = 1.2533141373155001


class MADThreshold(BaseThresholder):
    """Threshold on the robust z-score (median and median absolute deviation).

    The robust z-score of a score ``s`` is ``0.6745 * (s - median) / MAD``
    (Iglewicz and Hoaglin); scores whose robust z exceeds ``z`` are anomalous,
    so the threshold is ``median + z * MAD / 0.6745``. Unlike the mean and the
    standard deviation, median and MAD are not dragged by the anomalies that
    slip into calibration data.

    Parameters
    ----------
    z : float, default=3.5
        Robust z-score above which a score is anomalous.

    Attributes
    ----------
    threshold_ : float
        ``median + z * scale_``.
    center_ : float
        Median of the calibration scores.
    scale_ : float
        Robust standard deviation, ``MAD / 0.6745``.

    Notes
    -----
    If more than half of the calibration scores are equal, the MAD is 0;
    the scale then falls back, with a :class:`UserWarning`, to the mean
    absolute deviation times ``sqrt(pi / 2)``. If all scores are equal, that
    scale is 0 as well and the threshold is the common value: any larger score
    is anomalous.

    Examples
    --------
    >>> from skanomaly.thresholds import MADThreshold
    >>> t = MADThreshold(z=3.5).fit([1.0, 2.0, 3.0, 4.0, 100.0])
    >>> t.center_, round(t.scale_, 4)
    (3.0, 1.4826)
    >>> round(t.threshold_, 4)
    8.1891
    """

    _parameter_constraints = {"z": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, z=3.5):
        self.z = z

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, scores, y=None):
        """Compute median, MAD and the threshold.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores of data believed normal.
        y : None
            Ignored.

        Returns
        -------
        self : MADThreshold
            The fitted thresholder.
        """
        self._validate_params()
        scores = check_scores(scores)
        center = float(np.median(scores))
        dev = np.abs(scores - center)
        scale = float(np.median(dev)) / _MAD_TO_SIGMA
        if scale == 0.0:
            scale = float(np.mean(dev)) * _MEANAD_TO_SIGMA
            warnings.warn(
                "MADThreshold: the median absolute deviation is 0 (more than half of "
                "the calibration scores are equal); using the mean absolute deviation "
                f"instead (scale {scale:.6g}).",
                UserWarning,
                stacklevel=2,
            )
        self.center_ = center
        self.scale_ = scale
        self.threshold_ = center + self.z * scale
        check_finite_threshold(self, scores)
        return self


class GaussianThreshold(BaseThresholder):
    """Threshold at the mean plus ``n_sigma`` standard deviations.

    Parameters
    ----------
    n_sigma : float, default=3.0
        Number of standard deviations above the mean.

    Attributes
    ----------
    threshold_ : float
        ``mean_ + n_sigma * std_``.
    mean_ : float
        Mean of the calibration scores.
    std_ : float
        Their standard deviation (``ddof=1``; 0 for a single score).

    Examples
    --------
    >>> from skanomaly.thresholds import GaussianThreshold
    >>> t = GaussianThreshold(n_sigma=2).fit([1.0, 2.0, 3.0])
    >>> t.mean_, t.std_, t.threshold_
    (2.0, 1.0, 4.0)
    """

    _parameter_constraints = {"n_sigma": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, n_sigma=3.0):
        self.n_sigma = n_sigma

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, scores, y=None):
        """Compute mean, standard deviation and the threshold.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores of data believed normal.
        y : None
            Ignored.

        Returns
        -------
        self : GaussianThreshold
            The fitted thresholder.
        """
        self._validate_params()
        scores = check_scores(scores)
        self.mean_ = float(np.mean(scores))
        self.std_ = float(np.std(scores, ddof=1)) if scores.shape[0] > 1 else 0.0
        self.threshold_ = self.mean_ + self.n_sigma * self.std_
        check_finite_threshold(self, scores)
        return self


class ContaminationThreshold(BaseThresholder):
    """Flag the expected fraction ``contamination`` of the calibration scores.

    The threshold is the ``(n - k)``-th smallest calibration score with
    ``k = floor(contamination * n)``, so exactly the ``k`` largest scores lie
    strictly above it (fewer when scores are tied at the threshold). Use it
    when calibration data are known to hold a given share of anomalies;
    :class:`PercentileThreshold` interpolates instead.

    Parameters
    ----------
    contamination : float, default=0.01
        Expected fraction of anomalies, in [0, 0.5].

    Attributes
    ----------
    threshold_ : float
        The calibration score with ``k`` scores above it.
    n_flagged_ : int
        ``k``, the number of calibration scores strictly above the threshold
        when there are no ties.

    Examples
    --------
    >>> from skanomaly.thresholds import ContaminationThreshold
    >>> t = ContaminationThreshold(contamination=0.2).fit([5.0, 1.0, 4.0, 2.0, 3.0])
    >>> t.threshold_, t.n_flagged_
    (4.0, 1)
    >>> t.predict([4.0, 4.5]).tolist()
    [1, -1]
    """

    _parameter_constraints = {"contamination": [Interval(Real, 0, 0.5, closed="both")]}

    def __init__(self, contamination=0.01):
        self.contamination = contamination

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, scores, y=None):
        """Pick the order statistic that leaves ``k`` scores above.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Calibration anomaly scores.
        y : None
            Ignored.

        Returns
        -------
        self : ContaminationThreshold
            The fitted thresholder.
        """
        self._validate_params()
        scores = check_scores(scores)
        n = scores.shape[0]
        # the small epsilon keeps 0.3 * 10 from rounding down to 2
        k = int(np.floor(self.contamination * n + 1e-9))
        self.n_flagged_ = k
        self.threshold_ = float(np.partition(scores, n - 1 - k)[n - 1 - k])
        return self
