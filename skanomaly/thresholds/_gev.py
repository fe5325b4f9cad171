"""Block-maxima threshold from the generalized extreme value distribution."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import stats

from ..utils._compat import Interval, fit_context
from ._base import (
    BaseThresholder,
    check_calibration_size,
    check_finite_threshold,
    check_scores,
)

_MIN_BLOCKS = 10


class GEVThreshold(BaseThresholder):
    """Threshold from a GEV fit to the maxima of blocks of calibration scores.

    The calibration scores are cut into consecutive blocks of ``block_size``;
    a generalized extreme value distribution (:data:`scipy.stats.genextreme`)
    is fitted by maximum likelihood to the block maxima. If a single score
    exceeds ``z`` with probability ``q``, a block maximum stays below ``z``
    with probability ``(1 - q) ** block_size``, so the threshold is the GEV
    quantile at that probability: ``q`` means the same as in
    :class:`SPOTThreshold`.

    Parameters
    ----------
    q : float, default=1e-3
        Probability that a normal score exceeds the threshold, in (0, 1).
    block_size : int, default=100
        Number of consecutive scores per block (the trailing partial block is
        dropped).

    Attributes
    ----------
    threshold_ : float
        The score exceeded with probability ``q`` under the fit.
    shape_, loc_, scale_ : float
        GEV parameters in scipy's convention (``shape_ = -xi``).
    n_blocks_ : int
        Number of block maxima used.

    Notes
    -----
    At least 10 blocks are required (``ValueError`` otherwise). If the maxima
    are all equal, no GEV can be fitted: the threshold falls back, with a
    :class:`UserWarning`, to that common maximum.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.thresholds import GEVThreshold
    >>> rng = np.random.default_rng(0)
    >>> t = GEVThreshold(q=1e-3, block_size=50).fit(rng.exponential(size=50_000))
    >>> bool(abs(t.threshold_ - np.log(1000)) < 0.5)  # true quantile ln(1000)
    True
    """

    _parameter_constraints = {
        "q": [Interval(Real, 0, 1, closed="neither")],
        "block_size": [Interval(Integral, 1, None, closed="left")],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [{"block_size": 10}]

    def __init__(self, q=1e-3, block_size=100):
        self.q = q
        self.block_size = block_size

    def min_calibration_size(self):
        """Smallest number of calibration scores: 10 blocks of ``block_size``.

        Returns
        -------
        n_min : int
            The smallest number of scores ``fit`` accepts.
        """
        self._validate_params()
        return _MIN_BLOCKS * self.block_size

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, scores, y=None):
        """Fit the GEV to block maxima and set the threshold.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores of data believed normal, in order.
        y : None
            Ignored.

        Returns
        -------
        self : GEVThreshold
            The fitted thresholder.
        """
        self._validate_params()
        b = self.block_size
        scores = check_scores(scores)
        check_calibration_size(
            self, scores.shape[0], f"at least {_MIN_BLOCKS} blocks of block_size={b}"
        )
        n_blocks = scores.shape[0] // b
        maxima = scores[: n_blocks * b].reshape(n_blocks, b).max(axis=1)
        self.n_blocks_ = n_blocks
        if np.ptp(maxima) == 0.0:
            warnings.warn(
                "GEVThreshold: all block maxima are equal, no GEV can be fitted; the "
                "threshold is that common maximum.",
                UserWarning,
                stacklevel=2,
            )
            self.shape_, self.loc_, self.scale_ = np.nan, float(maxima[0]), 0.0
            self.threshold_ = float(maxima[0])
            return self
        # log1p keeps (1 - q) ** b accurate for tiny q
        p_block = np.exp(b * np.log1p(-self.q))
        shape, loc, scale = stats.genextreme.fit(maxima)
        self.shape_, self.loc_, self.scale_ = float(shape), float(loc), float(scale)
        self.threshold_ = float(stats.genextreme.ppf(p_block, shape, loc, scale))
        check_finite_threshold(self, scores)
        return self
