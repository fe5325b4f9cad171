"""Generalized Pareto tail fitted by Grimshaw's maximum-likelihood procedure.

Grimshaw (1993) reduces the two-parameter GPD likelihood to one variable
``x = gamma / sigma``: for a fixed ``x`` the likelihood is maximised by
``gamma(x) = mean(log(1 + x * Y))`` and ``sigma(x) = gamma(x) / x``, and the
stationary points of this profile likelihood are the roots of
``w(x) = u(x) v(x) - 1`` with ``u(x) = mean(1 / (1 + x Y))`` and
``v(x) = 1 + mean(log(1 + x Y))``. Siffer et al. (KDD 2017) search every root in
``(-1 / Y_max, 0)`` and ``(0, 2 (mean(Y) - Y_min) / Y_min**2)``, add the
exponential case ``gamma = 0`` and keep the candidate of highest likelihood.

:class:`TailModel` keeps that estimate up to date while peaks stream in. A new
peak only nudges the maximum, so instead of re-searching every root it polishes
the current one by Newton's method on the profile likelihood, evaluated in
O(1) from power sums of the peaks expanded around an anchor point (a
convergent series, truncated where its terms fall below machine precision).
The full all-roots search runs again whenever the expansion cannot follow the
root and each time the number of peaks doubles.
"""

import math

import numpy as np
from scipy.optimize import brentq

# Fewer peaks than this: the GPD fit is replaced by the exponential tail.
MIN_PEAKS = 10

_GRID = 64  # grid points per side when bracketing the roots of w
_K = 24  # terms of the series log(1 + d r) = sum (-1)^(k+1) (d r)^k / k
_RHO = 0.2  # largest |d r| allowed: truncation error <= RHO**(K+1) ~ 1e-17
_KS = np.arange(1, _K + 1, dtype=np.float64)
_SIGNS = np.where(_KS % 2 == 1, 1.0, -1.0) / _KS
_D2 = _KS[1:] * _KS[:-1]  # k (k - 1) for k = 2..K
_POW = np.arange(_K + 1, dtype=np.float64)


def _w_and_gamma(xs, y):
    """Return ``w(x)`` and ``gamma(x)`` for every ``x`` in ``xs`` (chunked)."""
    xs = np.asarray(xs, dtype=np.float64)
    w = np.empty(xs.shape[0])
    g = np.empty(xs.shape[0])
    step = max(1, 2_000_000 // max(y.shape[0], 1))  # bound the temporary matrix
    for start in range(0, xs.shape[0], step):
        x = xs[start : start + step, None]
        xy = x * y
        a = np.mean(y / (1.0 + xy), axis=1)  # u = 1 - x a
        b = np.mean(np.log1p(xy), axis=1)  # v = 1 + b
        x = x[:, 0]
        # u v - 1 written so that the O(x) parts cancel exactly, not in rounding
        w[start : start + step] = b - x * a - x * a * b
        g[start : start + step] = b
    return w, g


def _profile_loglik(n, gamma, sigma):
    """Log-likelihood of ``n`` peaks at the profile maximum for ``x``."""
    return -n * (math.log(sigma) + 1.0 + gamma)


def grimshaw_fit(y):
    """Fit a GPD to positive excesses by Grimshaw's procedure.

    Parameters
    ----------
    y : ndarray of shape (n_peaks,)
        Excesses over the peaks threshold, all > 0.

    Returns
    -------
    gamma, sigma, loglik : float
        Best candidate (highest likelihood) among all roots and ``gamma = 0``.
    root : float or None
        ``x = gamma / sigma`` of the best interior root, or None if ``w`` has
        no root (then only the exponential candidate exists).
    """
    n = y.shape[0]
    ymean = float(np.mean(y))
    ymax = float(np.max(y))
    ymin = float(np.min(y))
    best = (0.0, ymean, _profile_loglik(n, 0.0, ymean))  # exponential case
    best_root = None
    if ymax <= ymin:  # all peaks equal: only the exponential case is defined
        return (*best, None)

    def w_scalar(x):
        return float(_w_and_gamma([x], y)[0][0])

    # negative side: x = -p / ymax, dense near 0 and near the pole -1/ymax
    half = _GRID // 2
    p = np.concatenate([np.geomspace(1e-7, 0.5, half), 1.0 - np.geomspace(0.5, 1e-10, half)[1:]])
    sides = [-p / ymax]
    upper = 2.0 * (ymean - ymin) / ymin**2
    lower = 1e-7 / ymax
    if upper > lower:
        sides.append(np.geomspace(lower, upper, _GRID))
    roots = []
    for xs in sides:
        w, _ = _w_and_gamma(xs, y)
        sign_change = np.flatnonzero(np.signbit(w[:-1]) != np.signbit(w[1:]))
        for i in sign_change:
            a, b = sorted((xs[i], xs[i + 1]))
            try:
                roots.append(brentq(w_scalar, a, b, xtol=1e-300, rtol=1e-14))
            except (ValueError, RuntimeError):  # pragma: no cover - defensive
                continue
    best_root_ll = -math.inf
    for x in roots:
        gamma = float(np.mean(np.log1p(x * y)))
        sigma = gamma / x
        if not (sigma > 0 and math.isfinite(sigma)):
            continue
        ll = _profile_loglik(n, gamma, sigma)
        if ll > best_root_ll:
            best_root_ll, best_root = ll, x
        if ll > best[2]:
            best = (gamma, sigma, ll)
    return (*best, best_root)


def tail_quantile(t, gamma, sigma, q, n_obs, n_peaks):
    """Siffer et al.'s threshold ``z_q`` with ``P(X > z_q) = q``.

    ``z_q = t + sigma / gamma * ((q n / N_t) ** -gamma - 1)``, and
    ``t - sigma * log(q n / N_t)`` when ``gamma = 0`` (written with ``expm1``
    so the two agree continuously).
    """
    r = math.log(q * n_obs / n_peaks)
    if gamma == 0.0:
        return t - sigma * r
    return t + sigma / gamma * math.expm1(-gamma * r)


class TailModel:
    """Peaks over a threshold and their GPD fit, updated one peak at a time.

    Peaks are stored divided by a scale (their mean at the last full fit) so
    that the power sums of the series stay far from overflow for any score unit.

    Parameters
    ----------
    peaks : ndarray of shape (n_peaks,)
        Initial excesses (> 0).
    """

    def __init__(self, peaks):
        peaks = np.asarray(peaks, dtype=np.float64)
        self._buf = np.empty(max(256, 2 * peaks.shape[0]))
        self._buf[: peaks.shape[0]] = peaks
        self.n = int(peaks.shape[0])
        self._scale = 1.0
        self._sum = float(np.sum(peaks))
        self._ymax = float(np.max(peaks)) if self.n else 0.0
        self._full_fit()

    # -- state -------------------------------------------------------------
    @property
    def peaks(self):
        """The excesses, in score units."""
        return self._buf[: self.n] * self._scale

    @property
    def sigma(self):
        """GPD scale in score units (nan without peaks)."""
        return self._sigma * self._scale

    def copy(self):
        new = object.__new__(TailModel)
        new.__dict__.update(self.__dict__)
        new._buf = self._buf.copy()
        if self._S is not None:
            new._S = self._S.copy()
            new._C = self._C.copy()
        return new

    @property
    def fallback(self):
        """True while too few peaks make the GPD fit unreliable."""
        return self.n < MIN_PEAKS

    # -- fitting -----------------------------------------------------------
    def _full_fit(self):
        """All-roots Grimshaw fit, then anchor the series at the best root."""
        self._S = None
        self._root = None
        self._next_full = max(2 * self.n, MIN_PEAKS)
        if self.n == 0:
            self.gamma, self._sigma = math.nan, math.nan
            return
        # rescale the stored peaks to mean 1
        mean = self._sum / self.n
        self._buf[: self.n] /= mean
        self._scale *= mean
        self._sum = float(np.sum(self._buf[: self.n]))
        self._ymax /= mean
        if self.fallback:
            self.gamma, self._sigma = 0.0, self._sum / self.n
            return
        y = self._buf[: self.n]
        self.gamma, self._sigma, _, root = grimshaw_fit(y)
        if root is not None and self._anchor(root):
            self._root = root

    def _anchor(self, x):
        """Expand around ``x`` (or 0 if it is close): power sums of r = y/(1+x y)."""
        y = self._buf[: self.n]
        x0 = 0.0 if abs(x) * self._ymax < _RHO else x
        den = 1.0 + x0 * y
        if np.any(den <= 0):
            return False
        r = y / den
        self._x0 = x0
        self._L0 = float(np.sum(np.log1p(x0 * y))) if x0 else 0.0
        self._rmax = float(np.max(r))
        # S_k = sum r^k, k = 1..K, by running products
        S = np.empty(_K)
        pw = r.copy()
        for k in range(_K):
            S[k] = pw.sum()
            pw *= r
        self._S = S
        self._coefficients()
        return True

    def _in_ball(self, x):
        x0 = self._x0
        if abs(x - x0) * self._rmax > _RHO:
            return False
        # keep away from 0 when anchored elsewhere: L/x would lose digits
        return x0 == 0.0 or (x * x0 > 0 and abs(x) >= 0.25 * abs(x0))

    def _coefficients(self):
        """Rows: the polynomial and its two derivatives, in powers of the expansion variable.

        Anchored at 0 the polynomial is M(x) = L(x) / x = sum_k c_k x^(k-1), exact at
        x = 0 too; anchored at x0 it is L(x0 + d) = L0 + sum_k c_k d^k, with
        L(x) = sum_i log(1 + x y_i) and c_k = (-1)^(k+1) S_k / k.
        """
        c = self._S * _SIGNS
        C = np.zeros((3, _K + 1))
        if self._x0 == 0.0:
            C[0, :_K] = c
            C[1, : _K - 1] = c[1:] * _KS[:-1]
            C[2, : _K - 2] = c[2:] * _D2[:-1]
        else:
            C[0, 0] = self._L0
            C[0, 1:] = c
            C[1, :_K] = c * _KS
            C[2, : _K - 1] = c[1:] * _D2
        self._C = C

    def _derivs(self, x):
        """gamma, sigma, and the first two derivatives of -loglik/n at ``x``."""
        n = self.n
        x0 = self._x0
        P, P1, P2 = (self._C @ ((x - x0) ** _POW)).tolist()
        if x0 == 0.0:
            L, L1, L2 = x * P, P + x * P1, 2.0 * P1 + x * P2
            g1 = P1 / P
            g2 = P2 / P - g1 * g1
            sigma = P / n
        else:
            L, L1, L2 = P, P1, P2
            g1 = L1 / L - 1.0 / x
            g2 = L2 / L - (L1 / L) ** 2 + 1.0 / (x * x)
            sigma = L / (n * x)
        return L / n, sigma, g1 + L1 / n, g2 + L2 / n

    def _gamma_sigma(self, x):
        P = float(self._C[0] @ ((x - self._x0) ** _POW))
        if self._x0 == 0.0:
            return x * P / self.n, P / self.n
        return P / self.n, P / (self.n * x)

    def _polish(self):
        """Newton on the profile likelihood from the previous root."""
        x = self._root
        for _ in range(3):  # a re-anchor or two, then give up
            for _ in range(30):
                gamma, sigma, d1, d2 = self._derivs(x)
                if not (d2 > 0 and sigma > 0):  # not a local maximum any more
                    return False
                step = d1 / d2
                x_new = x - step
                if not self._in_ball(x_new):
                    break
                x = x_new
                # quadratic convergence: once the step is tiny, x is exact
                if abs(step) <= 1e-7 * (abs(x) + 1.0):
                    gamma, sigma = self._gamma_sigma(x)
                    self._root = x
                    self._root_fit = (gamma, sigma)
                    return sigma > 0
            else:
                return False
            if x_new * self._ymax <= -1.0 or not self._anchor(x_new):
                return False
            self._coefficients()
            x = x_new
        return False

    def add(self, y):
        """Add one excess ``y > 0`` (score units) and refit."""
        y = y / self._scale
        if self.n == self._buf.shape[0]:
            self._buf = np.concatenate([self._buf, np.empty(self._buf.shape[0])])
        self._buf[self.n] = y
        self.n += 1
        self._sum += y
        if y > self._ymax:
            self._ymax = y
        if self.n >= self._next_full:
            self._full_fit()
            return
        if self._S is None:  # no interior root: the exponential case is the fit
            self.gamma, self._sigma = 0.0, self._sum / self.n
            return
        x0 = self._x0
        den = 1.0 + x0 * y
        if den <= 0.0:  # the new peak lies beyond the fitted support
            self._full_fit()
            return
        r = y / den
        if r > self._rmax:
            self._rmax = r
        self._S += r**_KS
        if x0:
            self._L0 += math.log1p(x0 * y)
        self._coefficients()
        if not self._polish():
            self._full_fit()
            return
        gamma, sigma = self._root_fit
        exp_sigma = self._sum / self.n
        if _profile_loglik(self.n, 0.0, exp_sigma) > _profile_loglik(self.n, gamma, sigma):
            gamma, sigma = 0.0, exp_sigma
        self.gamma, self._sigma = gamma, sigma
