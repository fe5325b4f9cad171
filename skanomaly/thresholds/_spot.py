"""SPOT and DSPOT: streaming thresholds from extreme-value theory.

Siffer, Fouque, Termier and Largouet, "Anomaly detection in streams with
extreme value theory", KDD 2017.

The stream is processed chunk by chunk with numpy: between two peaks the
threshold is constant, so only scores above the peaks threshold ``t`` (about
``1 - level`` of them) are visited one by one, and the GPD is refitted at each
peak by :class:`~skanomaly.thresholds._gpd.TailModel`.
"""

import warnings
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
from ._gpd import MIN_PEAKS, TailModel, tail_quantile


class TailFitWarning(UserWarning):
    """Too few peaks for a reliable GPD fit: a documented fallback was used."""


class _SpotState:
    """Everything SPOT carries from one step to the next (cheap to copy)."""

    def __init__(self, t, peaks, n_obs, q):
        self.t = t
        self.q = q
        self.tail = TailModel(peaks)
        self.n_obs = n_obs  # non-alarm observations (k in the paper)
        self.n_seen = n_obs
        self.n_alarms = 0
        self.z = self.quantile(n_obs)

    def quantile(self, n_obs):
        tail = self.tail
        if tail.n == 0:  # nothing above t yet: t itself (the calibration maximum)
            return self.t
        return tail_quantile(self.t, tail.gamma, tail.sigma, self.q, n_obs, tail.n)

    def copy(self):
        new = object.__new__(_SpotState)
        new.__dict__.update(self.__dict__)
        new.tail = self.tail.copy()
        return new

    def run(self, x, zs):
        """Stream ``x`` in place, writing each step's threshold into ``zs``."""
        t = self.t
        z = self.z
        k0 = self.n_obs
        cand = np.flatnonzero(x > t)
        pos = 0
        alarms = 0
        for c, xc in zip(cand.tolist(), x[cand].tolist()):
            if xc > z:  # an alarm: not a peak, not counted in n_obs
                alarms += 1
                continue
            zs[pos : c + 1] = z
            pos = c + 1
            self.tail.add(xc - t)
            z = self.quantile(k0 + c + 1 - alarms)
        zs[pos:] = z
        self.z = z
        self.n_obs = k0 + x.shape[0] - alarms
        self.n_seen += x.shape[0]
        self.n_alarms += alarms

    def run_until_alarm(self, x, zs):
        """Like :meth:`run`, but stop after the first alarm; return its index or -1."""
        t = self.t
        z = self.z
        k0 = self.n_obs
        cand = np.flatnonzero(x > t)
        pos = 0
        stop = -1
        for c, xc in zip(cand.tolist(), x[cand].tolist()):
            if xc > z:
                stop = c
                break
            zs[pos : c + 1] = z
            pos = c + 1
            self.tail.add(xc - t)
            z = self.quantile(k0 + c + 1)
        end = x.shape[0] if stop < 0 else stop + 1
        zs[pos:end] = z
        self.z = z
        if stop < 0:
            self.n_obs = k0 + x.shape[0]
            self.n_seen += x.shape[0]
        else:
            self.n_obs = k0 + stop
            self.n_seen += stop + 1
            self.n_alarms += 1
        return stop


def _init_state(calib, q, level, who):
    """Initial threshold at the ``level`` quantile and the first GPD fit."""
    t = float(np.quantile(calib, level))
    peaks = calib[calib > t] - t
    state = _SpotState(t, peaks, calib.shape[0], q)
    n_peaks = peaks.shape[0]
    if n_peaks == 0:
        warnings.warn(
            f"{who}: no calibration score exceeds the level={level} quantile "
            f"({t:.6g}), so no tail can be fitted; the threshold falls back to that "
            "quantile until peaks arrive. Use more (or less tied) calibration scores.",
            TailFitWarning,
            stacklevel=3,
        )
    elif n_peaks < MIN_PEAKS:
        warnings.warn(
            f"{who}: only {n_peaks} peak(s) above the level={level} quantile; a GPD "
            f"fit needs at least {MIN_PEAKS}, so the exponential tail (gamma = 0) is "
            "used until enough peaks arrive. Use more calibration scores or a lower "
            "level.",
            TailFitWarning,
            stacklevel=3,
        )
    return state


def _check_risk(q, level):
    # z_q must lie beyond the peaks threshold t: P(X > z_q) = q < P(X > t)
    if q >= 1.0 - level:
        raise ValueError(
            f"q={q} must be smaller than 1 - level={1.0 - level:.6g}: the risk is the "
            "probability of exceeding the final threshold, which lies in the tail "
            "beyond the level quantile."
        )


def as_stream(scores):
    """Validate streamed scores; a single score (a scalar) is a stream of one."""
    if np.ndim(scores) == 0:
        scores = np.reshape(np.asarray(scores, dtype=np.float64), 1)
    return check_scores(scores)


class _StreamingThresholder(BaseThresholder):
    """Shared streaming API: per-step thresholds on a copy, commits on update."""

    def thresholds(self, scores):
        """Return the threshold that applies to each score, in order.

        The fitted state is not changed: the stream continues from a copy of
        it, so calling this twice gives the same result. Use :meth:`update` or
        :meth:`partial_fit` to commit.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores, higher meaning more anomalous, in stream order.

        Returns
        -------
        thresholds : ndarray of shape (n_samples,)
            ``thresholds[i]`` is the threshold in force when ``scores[i]``
            arrives; ``scores[i] > thresholds[i]`` is an alarm.
        """
        check_is_fitted(self, "threshold_")
        scores = as_stream(scores)
        return self._stream(self._state.copy(), scores)

    def update(self, scores):
        """Stream new scores, commit the new state, return per-step thresholds.

        Peaks (scores between the peaks threshold and the alarm threshold) are
        added to the tail and the GPD is refitted; alarms are not.

        Parameters
        ----------
        scores : array-like of shape (n_samples,) or float
            New anomaly scores in stream order (a single score is accepted).

        Returns
        -------
        thresholds : ndarray of shape (n_samples,)
            The threshold in force at each step.
        """
        check_is_fitted(self, "threshold_")
        scores = as_stream(scores)
        out = self._stream(self._state, scores)
        self._publish()
        return out

    def partial_fit(self, scores, y=None):
        """Fit on the first call, then stream and commit new scores.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores in stream order.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted thresholder.
        """
        if not hasattr(self, "_state"):
            return self.fit(scores)
        self.update(scores)
        return self

    def _publish(self):
        state = self._state
        tail = state.tail
        self.init_threshold_ = state.t
        self.gamma_ = float(tail.gamma)
        self.sigma_ = float(tail.sigma)
        self.n_peaks_ = int(tail.n)
        self.n_samples_seen_ = int(state.n_seen)
        self.n_alarms_ = int(state.n_alarms)
        self.threshold_ = float(state.z)


class SPOTThreshold(_StreamingThresholder):
    """Streaming Peaks-Over-Threshold (SPOT) of Siffer et al. (KDD 2017).

    The calibration scores set a peaks threshold ``t`` at their ``level``
    quantile; the excesses over ``t`` (the peaks) are fitted by a generalized
    Pareto distribution with Grimshaw's maximum-likelihood procedure (every
    root of its equation and the exponential case ``gamma = 0`` are tried and
    the most likely kept), and the threshold is the score exceeded with
    probability ``q``::

        z_q = t + sigma / gamma * ((q * n / N_t) ** -gamma - 1)

    with ``n`` the number of normal observations and ``N_t`` the number of
    peaks. Streamed scores above ``z_q`` are alarms and leave the model
    untouched; scores between ``t`` and ``z_q`` are new peaks, after which the
    GPD is refitted and ``z_q`` recomputed.

    Parameters
    ----------
    q : float, default=1e-4
        Risk: the probability, under the fitted tail, that a normal score
        exceeds the threshold. Must be in (0, 1 - level).
    level : float, default=0.98
        Quantile of the calibration scores used as the peaks threshold ``t``.
    n_init : int or None, default=None
        Number of leading scores given to :meth:`fit` that initialise the
        model; the remaining ones are streamed as by :meth:`update`. None uses
        all of them for the initialisation.

    Attributes
    ----------
    threshold_ : float
        Current alarm threshold ``z_q`` (the one the next score will face).
    init_threshold_ : float
        Peaks threshold ``t``.
    gamma_, sigma_ : float
        Current GPD shape and scale (``gamma_ = 0`` is the exponential tail).
    n_peaks_ : int
        Number of peaks in the tail.
    n_samples_seen_ : int
        Scores seen by :meth:`fit` and :meth:`update`, alarms included.
    n_alarms_ : int
        Streamed scores flagged as alarms.

    See Also
    --------
    DSPOTThreshold : SPOT on scores with a drifting baseline removed.

    Notes
    -----
    With fewer than 10 peaks the GPD fit is unreliable: :meth:`fit` warns
    (:class:`TailFitWarning`) and uses the exponential tail (``gamma = 0``,
    ``sigma`` the mean excess) until 10 peaks have been seen; with no peak at
    all the threshold is ``t``. Refits during streaming polish the previous
    maximum-likelihood root by Newton's method (exact to rounding); the full
    search over all roots runs again whenever the number of peaks doubles or
    the polished root stops being a maximum.

    References
    ----------
    A. Siffer, P.-A. Fouque, A. Termier and C. Largouet, "Anomaly detection in
    streams with extreme value theory", KDD 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.thresholds import SPOTThreshold
    >>> rng = np.random.default_rng(0)
    >>> spot = SPOTThreshold(q=1e-3).fit(rng.exponential(size=20_000))
    >>> round(spot.threshold_, 1)  # the true 0.999 quantile is ln(1000) = 6.9
    6.9
    >>> spot.predict([0.5, 12.0]).tolist()
    [1, -1]
    """

    _parameter_constraints = {
        "q": [Interval(Real, 0, 1, closed="neither")],
        "level": [Interval(Real, 0, 1, closed="neither")],
        "n_init": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, q=1e-4, level=0.98, n_init=None):
        self.q = q
        self.level = level
        self.n_init = n_init

    def min_calibration_size(self):
        """Smallest number of calibration scores: ``n_init`` (at least 2).

        Returns
        -------
        n_min : int
            The smallest number of scores ``fit`` accepts.
        """
        self._validate_params()
        return max(self.n_init or 2, 2)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, scores, y=None):
        """Initialise on the first ``n_init`` scores and stream the rest.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores of data believed normal, in stream order.
        y : None
            Ignored.

        Returns
        -------
        self : SPOTThreshold
            The fitted thresholder.
        """
        self._validate_params()
        _check_risk(self.q, self.level)
        scores = check_scores(scores)
        n_init = scores.shape[0] if self.n_init is None else self.n_init
        check_calibration_size(
            self, scores.shape[0], f"n_init={self.min_calibration_size()} to initialise"
        )
        self._state = _init_state(scores[:n_init], self.q, self.level, "SPOTThreshold")
        if n_init < scores.shape[0]:
            self._stream(self._state, scores[n_init:])
        self._publish()
        check_finite_threshold(self, scores)
        return self

    def _stream(self, state, x):
        zs = np.empty(x.shape[0])
        state.run(x, zs)
        return zs


class DSPOTThreshold(_StreamingThresholder):
    """SPOT with drift: thresholds relative to a moving average (Siffer et al.).

    Each score is compared to the mean ``M`` of the last ``depth`` normal
    scores (alarms are left out of that window); SPOT runs on the differences
    ``score - M``, so the threshold follows a drifting baseline. The per-step
    threshold on the original scale is ``M + z_q``.

    Parameters
    ----------
    q : float, default=1e-4
        Risk: probability that a normal drift-free score exceeds ``z_q``.
        Must be in (0, 1 - level).
    level : float, default=0.98
        Quantile of the drift-free calibration scores used as peaks threshold.
    depth : int, default=500
        Number of past normal scores in the moving average.
    n_init : int or None, default=None
        Number of drift-free scores that initialise SPOT, after the first
        ``depth`` scores that fill the window; the remaining scores given to
        :meth:`fit` are streamed. None uses all of them.

    Attributes
    ----------
    threshold_ : float
        Threshold the next score will face, ``drift_ + z_q``.
    drift_ : float
        Current moving average of the last ``depth`` normal scores.
    init_threshold_ : float
        Peaks threshold ``t`` on the drift-free scale.
    gamma_, sigma_ : float
        Current GPD shape and scale of the drift-free tail.
    n_peaks_ : int
        Number of peaks in the tail.
    n_samples_seen_ : int
        Scores seen by :meth:`fit` and :meth:`update`, alarms included.
    n_alarms_ : int
        Streamed scores flagged as alarms.

    See Also
    --------
    SPOTThreshold : The same without drift removal.

    Notes
    -----
    Fallbacks for too few peaks are those of :class:`SPOTThreshold`.

    References
    ----------
    A. Siffer, P.-A. Fouque, A. Termier and C. Largouet, "Anomaly detection in
    streams with extreme value theory", KDD 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.thresholds import DSPOTThreshold
    >>> rng = np.random.default_rng(0)
    >>> scores = np.linspace(0, 5, 20_000) + rng.normal(size=20_000)  # drifting
    >>> dspot = DSPOTThreshold(q=1e-3, depth=100).fit(scores)
    >>> bool(dspot.drift_ > 4.5)
    True
    >>> dspot.predict([5.0, 15.0]).tolist()
    [1, -1]
    """

    _parameter_constraints = {
        "q": [Interval(Real, 0, 1, closed="neither")],
        "level": [Interval(Real, 0, 1, closed="neither")],
        "depth": [Interval(Integral, 1, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left"), None],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [{"depth": 20}]

    def __init__(self, q=1e-4, level=0.98, depth=500, n_init=None):
        self.q = q
        self.level = level
        self.depth = depth
        self.n_init = n_init

    def min_calibration_size(self):
        """Smallest number of calibration scores: ``depth + n_init`` (``n_init`` at least 2).

        Returns
        -------
        n_min : int
            The smallest number of scores ``fit`` accepts.
        """
        self._validate_params()
        return self.depth + max(self.n_init or 2, 2)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, scores, y=None):
        """Fill the window, initialise SPOT on drift-free scores, stream the rest.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores of data believed normal, in stream order.
        y : None
            Ignored.

        Returns
        -------
        self : DSPOTThreshold
            The fitted thresholder.
        """
        self._validate_params()
        _check_risk(self.q, self.level)
        scores = check_scores(scores)
        d = self.depth
        n = scores.shape[0]
        check_calibration_size(
            self, n, f"depth + n_init = {d} + {max(self.n_init or 2, 2)}: the window, then "
            "the initialisation"
        )
        n_init = n - d if self.n_init is None else self.n_init
        calib = scores[d : d + n_init]
        drift = _moving_average(scores[:d], calib)
        state = _init_state(calib - drift, self.q, self.level, "DSPOTThreshold")
        state.window = scores[n_init : d + n_init].copy()  # last d values seen
        state.n_seen += d
        self._state = state
        if d + n_init < n:
            self._stream(state, scores[d + n_init :])
        self._publish()
        check_finite_threshold(self, scores)
        return self

    def _stream(self, state, x):
        """Stream ``x``; restart the moving average after each alarm (left out)."""
        n = x.shape[0]
        out = np.empty(n)
        zs = np.empty(n)
        d = self.depth
        pos = 0
        block = 64
        while pos < n:
            end = min(n, pos + block)
            seg = x[pos:end]
            drift = _moving_average(state.window, seg)
            stop = state.run_until_alarm(seg - drift, zs[pos:end])
            if stop < 0:
                out[pos:end] = zs[pos:end] + drift
                state.window = np.concatenate([state.window, seg])[-d:]
                pos = end
                block = min(2 * block, 1 << 15)  # alarms are rare: grow the chunk
            else:
                out[pos : pos + stop + 1] = zs[pos : pos + stop + 1] + drift[: stop + 1]
                # the window takes the normal scores before the alarm, not the alarm
                state.window = np.concatenate([state.window, seg[:stop]])[-d:]
                pos += stop + 1
                block = 64
        return out

    def _publish(self):
        super()._publish()
        self.drift_ = float(np.mean(self._state.window))
        self.threshold_ = self.drift_ + float(self._state.z)


def _moving_average(window, x):
    """Mean of the ``len(window)`` values before each ``x[j]`` (all kept)."""
    d = window.shape[0]
    ref = float(window.mean())  # centring keeps the sums small
    ext = np.concatenate([window, x]) - ref
    # each mean from its own d values only: a huge score does not leak past them
    return sliding_sums(ext, d)[: x.shape[0]] / d + ref
