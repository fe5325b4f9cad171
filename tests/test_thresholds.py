"""Tests of skanomaly.thresholds: hand-computed values, SPOT/DSPOT against plain
reference loops, seeded accuracy bars, bad input, and the estimator API."""

import math
import pickle
import warnings
from collections import deque

import numpy as np
import pytest
from scipy import optimize, stats
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.model_selection import GridSearchCV

from skanomaly.metrics import anomaly_f1_scorer
from skanomaly.thresholds import (
    ContaminationThreshold,
    DSPOTThreshold,
    GaussianThreshold,
    GEVThreshold,
    MADThreshold,
    PercentileThreshold,
    RollingThreshold,
    SPOTThreshold,
    TailFitWarning,
)
from skanomaly.thresholds._gpd import TailModel, grimshaw_fit, tail_quantile

ALL = [
    PercentileThreshold(),
    MADThreshold(),
    GaussianThreshold(),
    ContaminationThreshold(),
    GEVThreshold(block_size=10),
    RollingThreshold(window=20),
    SPOTThreshold(q=1e-3, level=0.9),
    DSPOTThreshold(q=1e-3, level=0.9, depth=20),
]


# --------------------------------------------------------------------- static
def test_mad_hand_computed():
    t = MADThreshold(z=2.0).fit([1.0, 2.0, 3.0, 4.0, 100.0])
    # median 3, deviations [2, 1, 0, 1, 97] -> MAD 1 -> sigma 1 / 0.67449
    assert t.center_ == 3.0
    assert t.scale_ == pytest.approx(1.482602218505602)
    assert t.threshold_ == pytest.approx(3.0 + 2.0 * 1.482602218505602)
    assert t.predict([5.9, 6.0]).tolist() == [1, -1]


def test_mad_zero_falls_back_with_warning():
    with pytest.warns(UserWarning, match="median absolute deviation is 0"):
        t = MADThreshold(z=1.0).fit([1.0, 1.0, 1.0, 5.0])
    # mean absolute deviation 1.0 times sqrt(pi / 2)
    assert t.threshold_ == pytest.approx(1.0 + math.sqrt(math.pi / 2))


def test_gaussian_hand_computed():
    t = GaussianThreshold(n_sigma=1.5).fit([2.0, 4.0, 6.0, 8.0])
    assert t.mean_ == 5.0
    assert t.std_ == pytest.approx(math.sqrt(20.0 / 3.0))
    assert t.threshold_ == pytest.approx(5.0 + 1.5 * math.sqrt(20.0 / 3.0))


@pytest.mark.parametrize(
    "contamination, expected, k", [(0.0, 10.0, 0), (0.1, 9.0, 1), (0.3, 7.0, 3), (0.5, 5.0, 5)]
)
def test_contamination_flags_k_largest(contamination, expected, k):
    scores = np.arange(10.0, 0.0, -1.0)  # 10..1, shuffled order does not matter
    t = ContaminationThreshold(contamination=contamination).fit(scores)
    assert t.threshold_ == expected
    assert t.n_flagged_ == k
    assert int(np.sum(t.predict(scores) == -1)) == k


def test_rolling_per_step_hand_computed():
    t = RollingThreshold(window=3, n_sigma=1.0).fit([0.0, 1.0, 2.0, 3.0])
    assert t.history_.tolist() == [1.0, 2.0, 3.0]
    out = t.thresholds([5.0, 0.0, 9.0])
    # windows [1,2,3] -> 2+1; [2,3,5] -> 10/3 + std; [3,5,0]
    expected = [
        3.0,
        10 / 3 + np.std([2, 3, 5], ddof=1),
        8 / 3 + np.std([3, 5, 0], ddof=1),
    ]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert t.history_.tolist() == [1.0, 2.0, 3.0]  # thresholds() commits nothing
    t.update([5.0, 0.0])
    t.update(9.0)  # one score at a time
    assert t.history_.tolist() == [5.0, 0.0, 9.0]
    assert t.threshold_ == pytest.approx(14 / 3 + np.std([5, 0, 9], ddof=1))


def test_gev_recovers_exponential_tail():
    rng = np.random.default_rng(3)
    t = GEVThreshold(q=1e-3, block_size=100).fit(rng.exponential(size=100_000))
    assert t.n_blocks_ == 1000
    assert abs(t.threshold_ / math.log(1000) - 1) < 0.05
    assert abs(t.shape_) < 0.1  # Gumbel domain


def test_gev_too_few_blocks():
    with pytest.raises(ValueError, match="at least 10 blocks"):
        GEVThreshold(block_size=100).fit(np.arange(999.0))


# ------------------------------------------------------------------------ GPD
def test_tail_quantile_formula():
    # (q n / N_t) = 0.01 * 1000 / 50 = 0.2
    assert tail_quantile(1.0, 0.5, 2.0, 0.01, 1000, 50) == pytest.approx(1 + 4 * (0.2**-0.5 - 1))
    assert tail_quantile(1.0, 0.0, 2.0, 0.01, 1000, 50) == pytest.approx(1 - 2 * math.log(0.2))
    # continuous at gamma = 0
    assert tail_quantile(1.0, 1e-12, 2.0, 0.01, 1000, 50) == pytest.approx(
        tail_quantile(1.0, 0.0, 2.0, 0.01, 1000, 50)
    )


def _gpd_negloglik(params, y):
    gamma, log_sigma = params
    return -np.sum(stats.genpareto.logpdf(y, gamma, scale=math.exp(log_sigma)))


@pytest.mark.parametrize("shape", [-0.3, 0.0, 0.2, 0.6])
def test_grimshaw_is_the_maximum_likelihood(shape):
    rng = np.random.default_rng(11)
    y = stats.genpareto.rvs(shape, scale=3.0, size=1500, random_state=rng)
    gamma, sigma, loglik, _ = grimshaw_fit(y)
    assert loglik == pytest.approx(-_gpd_negloglik((gamma, math.log(sigma)), y), rel=1e-10)
    # a general-purpose optimiser from the truth finds nothing better
    res = optimize.minimize(_gpd_negloglik, (shape, math.log(3.0)), args=(y,), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    assert -res.fun <= loglik + 1e-7
    assert gamma == pytest.approx(res.x[0], abs=1e-4)


def test_grimshaw_exponential_candidate_when_peaks_equal():
    gamma, sigma, _, root = grimshaw_fit(np.full(30, 2.0))
    assert (gamma, sigma, root) == (0.0, 2.0, None)


@pytest.mark.parametrize("shape", [-0.2, 0.0, 0.3])
def test_tail_model_incremental_equals_batch(shape):
    rng = np.random.default_rng(5)
    y = stats.genpareto.rvs(shape, scale=50.0, size=1500, random_state=rng)
    tail = TailModel(y[:40])
    for i in range(40, y.size):
        tail.add(y[i])
        if i % 97 == 0 or i == y.size - 1:
            gamma, sigma, _, _ = grimshaw_fit(y[: i + 1])
            assert tail.gamma == pytest.approx(gamma, abs=1e-9)
            assert tail.sigma == pytest.approx(sigma, rel=1e-9)


# ----------------------------------------------------------- SPOT references
def _reference_spot(init, stream, q, level):
    """SPOT as written in Siffer et al., Algorithm 1, one score at a time."""
    t = np.quantile(init, level)
    peaks = list(init[init > t] - t)
    k = init.size

    def z():
        gamma, sigma, _, _ = grimshaw_fit(np.array(peaks))
        return tail_quantile(t, gamma, sigma, q, k, len(peaks))

    zq, out, n_alarms = z(), [], 0
    for x in stream:
        out.append(zq)
        if x > zq:
            n_alarms += 1
            continue
        k += 1
        if x > t:
            peaks.append(x - t)
            zq = z()
    return np.array(out), len(peaks), n_alarms


def _reference_dspot(scores, n_stream, q, level, depth):
    """DSPOT (Siffer et al., Algorithm 3): SPOT on x - mean(last depth normals)."""
    init, stream = scores[:-n_stream], scores[-n_stream:]
    window = deque(init[:depth].tolist(), maxlen=depth)
    calib = []
    for x in init[depth:]:
        calib.append(x - np.mean(window))
        window.append(x)
    calib = np.array(calib)
    t = np.quantile(calib, level)
    peaks = list(calib[calib > t] - t)
    k = calib.size

    def z():
        gamma, sigma, _, _ = grimshaw_fit(np.array(peaks))
        return tail_quantile(t, gamma, sigma, q, k, len(peaks))

    zq, out = z(), []
    for x in stream:
        m = np.mean(window)
        out.append(zq + m)
        if x - m > zq:
            continue  # alarm: neither a peak nor in the window
        k += 1
        if x - m > t:
            peaks.append(x - m - t)
            zq = z()
        window.append(x)
    return np.array(out)


def _stream_with_anomalies(seed, n, drift=0.0):
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, size=n) + drift * np.arange(n) / n
    idx = rng.choice(np.arange(n // 2, n), size=15, replace=False)
    x[idx] += 25.0  # obvious anomalies in the streamed part
    return x


def test_spot_streaming_matches_reference_loop():
    x = _stream_with_anomalies(0, 6000)
    spot = SPOTThreshold(q=1e-3, level=0.95).fit(x[:2000])
    got = spot.thresholds(x[2000:])
    expected, n_peaks, n_alarms = _reference_spot(x[:2000], x[2000:], 1e-3, 0.95)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    spot.update(x[2000:])
    assert spot.n_peaks_ == n_peaks
    assert spot.n_alarms_ == n_alarms >= 15  # the injected anomalies are alarms, not peaks


def test_dspot_streaming_matches_reference_loop():
    x = _stream_with_anomalies(1, 5000, drift=30.0)
    dspot = DSPOTThreshold(q=1e-3, level=0.95, depth=50).fit(x[:2000])
    got = dspot.thresholds(x[2000:])
    expected = _reference_dspot(x, 3000, 1e-3, 0.95, 50)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    assert (dspot.predict(x[2000:]) == -1).sum() >= 15


def test_dspot_follows_drift_where_spot_does_not():
    x = _stream_with_anomalies(2, 8000, drift=40.0)
    dspot = DSPOTThreshold(q=1e-3, level=0.95, depth=100).fit(x[:3000])
    spot = SPOTThreshold(q=1e-3, level=0.95).fit(x[:3000])
    # after the drift SPOT flags nearly everything, DSPOT only the anomalies
    assert (spot.predict(x[3000:]) == -1).mean() > 0.3
    assert (dspot.predict(x[3000:]) == -1).sum() < 40


def test_fit_with_n_init_equals_fit_then_update():
    x = _stream_with_anomalies(3, 5000)
    a = SPOTThreshold(q=1e-3, level=0.95, n_init=2000).fit(x)
    b = SPOTThreshold(q=1e-3, level=0.95).fit(x[:2000])
    b.update(x[2000:])
    assert a.threshold_ == b.threshold_
    assert a.n_peaks_ == b.n_peaks_ and a.n_samples_seen_ == b.n_samples_seen_ == 5000


@pytest.mark.parametrize("cls", [SPOTThreshold, DSPOTThreshold])
def test_streaming_state_only_changes_on_commit(cls):
    x = _stream_with_anomalies(4, 6000)
    est = cls(q=1e-3, level=0.95, **({"depth": 30} if cls is DSPOTThreshold else {}))
    est.fit(x[:3000])
    before = (est.threshold_, est.n_peaks_, est.n_samples_seen_)
    first = est.thresholds(x[3000:])
    np.testing.assert_array_equal(est.thresholds(x[3000:]), first)
    assert (est.threshold_, est.n_peaks_, est.n_samples_seen_) == before
    # committing in two chunks gives the same thresholds as one look-ahead
    chunks = np.concatenate([est.update(x[3000:4500]), est.update(x[4500:5800])])
    # ... and one score at a time as well
    singles = [est.update(v)[0] for v in x[5800:]]
    np.testing.assert_allclose(np.r_[chunks, singles], first, rtol=1e-12)
    assert est.n_samples_seen_ == 6000
    # threshold_ is the threshold the next score will face
    assert est.thresholds([0.0])[0] == pytest.approx(est.threshold_, rel=1e-12)


def test_partial_fit_initialises_then_streams():
    x = _stream_with_anomalies(6, 4000)
    est = SPOTThreshold(q=1e-3, level=0.95).partial_fit(x[:2000])
    ref = SPOTThreshold(q=1e-3, level=0.95).fit(x[:2000])
    assert est.threshold_ == ref.threshold_
    est.partial_fit(x[2000:])
    assert est.n_samples_seen_ == 4000


def test_pickle_round_trip_keeps_stream_state():
    x = _stream_with_anomalies(7, 4000)
    est = DSPOTThreshold(q=1e-3, level=0.95, depth=40).fit(x[:3000])
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.thresholds(x[3000:]), est.thresholds(x[3000:]))


# ------------------------------------------------------------------- accuracy
Q = 1e-4


def _accuracy_stream(seed, kind, n=100_000):
    """The benchmark's streams: one uniform draw per seed through each inverse CDF."""
    u = np.random.default_rng(seed).random(n)
    if kind == "exp":
        return -np.log1p(-u), math.log(1 / Q)
    if kind == "normal":
        return stats.norm.ppf(u), stats.norm.isf(Q)
    return stats.genpareto.ppf(u, 0.2), stats.genpareto.isf(Q, 0.2)


@pytest.mark.parametrize("kind, bar", [("exp", 0.02), ("normal", 0.02), ("gpd", 0.05)])
def test_spot_accuracy_bar(kind, bar):
    errors = []
    for seed in range(20):
        x, truth = _accuracy_stream(seed, kind)
        errors.append(abs(SPOTThreshold(q=Q, level=0.98).fit(x).threshold_ / truth - 1))
    assert np.median(errors) <= bar


def test_spot_more_accurate_than_libspot():
    libspot = pytest.importorskip("libspot")
    ours, theirs = [], []
    for seed in range(20):
        x, truth = _accuracy_stream(seed, "gpd")
        ours.append(abs(SPOTThreshold(q=Q, level=0.98).fit(x).threshold_ / truth - 1))
        ref = libspot.Spot(q=Q, level=0.98)
        ref.fit(x)
        theirs.append(abs(ref.anomaly_threshold / truth - 1))
    assert np.median(ours) < np.median(theirs)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_are_rejected(est, bad):
    scores = np.random.default_rng(0).exponential(size=200)
    fitted = clone(est).fit(scores)
    scores[17] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        clone(est).fit(scores)
    with pytest.raises(ValueError, match="NaN or infinite"):
        fitted.thresholds(scores)


@pytest.mark.parametrize(
    "est, match",
    [
        (SPOTThreshold(n_init=500), "n_init=500"),
        (DSPOTThreshold(depth=150, n_init=100), "depth \\+ n_init"),
        (RollingThreshold(window=300), "window=300"),
    ],
)
def test_too_few_scores(est, match):
    with pytest.raises(ValueError, match=match):
        est.fit(np.arange(200.0))


@pytest.mark.parametrize("param", ["q", "level"])
@pytest.mark.parametrize("value", [0.0, 1.0, -0.5, 2.0])
def test_q_and_level_outside_unit_interval(param, value):
    with pytest.raises(ValueError, match=param):
        SPOTThreshold(**{param: value}).fit(np.arange(100.0))


def test_q_must_lie_beyond_level():
    with pytest.raises(ValueError, match="smaller than 1 - level"):
        SPOTThreshold(q=0.05, level=0.98).fit(np.arange(1000.0))


def test_too_few_peaks_warns_and_uses_exponential_tail():
    scores = np.arange(1.0, 201.0)  # level 0.98 -> t = 196.02, peaks 197..200
    with pytest.warns(TailFitWarning, match="only 4 peak"):
        spot = SPOTThreshold(q=1e-3, level=0.98).fit(scores)
    t = np.quantile(scores, 0.98)
    sigma = np.mean(scores[scores > t] - t)
    assert spot.gamma_ == 0.0 and spot.sigma_ == pytest.approx(sigma)
    assert spot.threshold_ == pytest.approx(t - sigma * math.log(1e-3 * 200 / 4))


def test_no_peak_warns_and_thresholds_at_the_quantile():
    with pytest.warns(TailFitWarning, match="no calibration score exceeds"):
        spot = SPOTThreshold(q=1e-3, level=0.98).fit(np.ones(500))
    assert spot.threshold_ == 1.0
    assert spot.predict([1.0, 1.5]).tolist() == [1, -1]


def test_no_warning_with_enough_peaks():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SPOTThreshold(q=1e-3, level=0.98).fit(np.random.default_rng(0).exponential(size=5000))


# ----------------------------------------------------------- estimator API
@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_clone_get_set_params(est):
    params = est.get_params()
    twin = clone(est)
    assert twin.get_params() == params and twin is not est
    assert not hasattr(twin, "threshold_")
    name = next(iter(params))
    assert est.set_params(**{name: params[name]}) is est
    fitted = clone(est).fit(np.random.default_rng(0).exponential(size=400))
    labels = fitted.predict(np.r_[0.0, 1e6])
    assert labels.tolist() == [1, -1]


class _DistanceDetector(OutlierMixin, BaseEstimator):
    """A minimal detector following the contract, to search threshold params."""

    def __init__(self, threshold=None):
        self.threshold = threshold

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        self.center_ = X.mean(axis=0)
        threshold = PercentileThreshold() if self.threshold is None else self.threshold
        self.thresholder_ = clone(threshold).fit(self._anomaly(X))
        return self

    def _anomaly(self, X):
        return np.abs(np.asarray(X, dtype=float) - self.center_).sum(axis=1)

    def score_samples(self, X):
        return -self._anomaly(X)

    def predict(self, X):
        return self.thresholder_.predict(self._anomaly(X))


@pytest.mark.parametrize("y_convention", ["pm1", "01"])
def test_grid_search_over_threshold_q(y_convention):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 2))
    anomaly = np.zeros(4000, dtype=bool)
    anomaly[2000::50] = True  # anomalies only where the folds test
    X[anomaly] += 12.0
    y = np.where(anomaly, -1, 1) if y_convention == "pm1" else anomaly.astype(int)
    # calibrate on normal data only, as detectors do
    cv = [(np.arange(0, 2000), np.arange(2000, 3000)), (np.arange(0, 2000), np.arange(3000, 4000))]
    search = GridSearchCV(
        _DistanceDetector(threshold=SPOTThreshold(level=0.9)),
        {"threshold__q": [1e-3, 5e-2]},
        scoring=anomaly_f1_scorer,
        cv=cv,
    ).fit(X, y)
    assert search.best_params_ == {"threshold__q": 1e-3}
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] > 0.9 > 0.5 > scores[1]  # q = 5 % flags ~50 normals per fold


# ------------------------------------------------- calibration size, locality
@pytest.mark.parametrize(
    "est, n_min",
    [
        (PercentileThreshold(), 1),
        (MADThreshold(), 1),
        (GaussianThreshold(), 1),
        (ContaminationThreshold(), 1),
        (GEVThreshold(block_size=100), 1000),
        (RollingThreshold(window=30), 30),
        (SPOTThreshold(), 2),
        (SPOTThreshold(n_init=300), 300),
        (DSPOTThreshold(), 502),
        (DSPOTThreshold(depth=50, n_init=100), 150),
    ],
    ids=lambda e: repr(e) if not isinstance(e, int) else str(e),
)
def test_min_calibration_size_is_the_true_minimum(est, n_min):
    assert est.min_calibration_size() == n_min
    scores = np.random.default_rng(0).exponential(size=n_min + 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clone(est).fit(scores[:n_min])  # the minimum is accepted
    if n_min > 1:
        with pytest.raises(ValueError, match=f"at least {n_min} calibration scores.*"
                                             "validation_fraction"):
            clone(est).fit(scores[: n_min - 1])


def test_min_calibration_size_validates_parameters():
    with pytest.raises(ValueError, match="block_size"):
        GEVThreshold(block_size=0).min_calibration_size()


@pytest.mark.parametrize("bad", [None, "abc", ["a", "b"], {"a": 1}])
def test_non_numeric_scores_are_refused_clearly(bad):
    with pytest.raises(ValueError, match="scores must be an array of numbers"):
        PercentileThreshold().fit(bad)


@pytest.mark.parametrize("est", [GaussianThreshold(), MADThreshold(z=1e300)],
                         ids=lambda e: type(e).__name__)
def test_overflowing_threshold_is_refused(est):
    scores = np.r_[np.zeros(10), 1e308, 1e308, -1e308]
    with pytest.raises(ValueError, match="non-finite threshold"):
        est.fit(scores)


def test_rolling_huge_score_does_not_leak_past_its_window():
    rng = np.random.default_rng(0)
    t = RollingThreshold(window=10, n_sigma=2.0).fit(rng.random(50))
    stream = rng.random(200)
    base = t.thresholds(stream)
    stream[20] = 1e17
    hit = t.thresholds(stream)
    # thresholds 21..30 see the huge score; from 31 on the window has moved past it
    np.testing.assert_allclose(hit[31:], base[31:], rtol=1e-12)
    assert np.all(hit[21:31] > 1e15)


def test_dspot_huge_score_in_window_does_not_leak():
    from skanomaly.thresholds._spot import _moving_average

    window = np.ones(5)
    x = np.r_[1e17, np.ones(20)]
    got = _moving_average(window, x)
    assert got[0] == 1.0 and got[1:6].min() > 1e15 and np.all(got[6:] == 1.0)
