"""window_starts and window_scores_to_steps: exact, local, order-independent."""

import math

import numpy as np
import pytest

from skanomaly.preprocessing.windows import window_scores_to_steps, window_starts


def loop_reference(window_scores, starts, window_size, n_timesteps):
    """The definition, one step at a time: exact mean of the covering windows."""
    out = np.full(n_timesteps, np.nan)
    for t in range(n_timesteps):
        covering = [s for s, b in zip(window_scores, starts) if b <= t < b + window_size]
        if covering:
            if any(math.isnan(v) for v in covering):
                out[t] = np.nan
            else:
                out[t] = math.fsum(covering) / len(covering)
    return out


def spanning_scores(rng, n):
    """Positive scores spanning 1e-3 .. 1e17 (log-uniform)."""
    return 10.0 ** rng.uniform(-3, 17, size=n)


@pytest.mark.parametrize("n, w, stride", [(200, 7, 1), (203, 10, 3), (97, 16, 16), (50, 1, 1),
                                          (64, 64, 1)])
def test_equals_loop_on_scores_spanning_20_decades(n, w, stride):
    rng = np.random.default_rng(n + w)
    starts = window_starts(n, w, stride)
    scores = spanning_scores(rng, starts.shape[0])
    got = window_scores_to_steps(scores, starts, w, n)
    want = loop_reference(scores, starts, w, n)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_old_cumsum_counterexample():
    # A single cumulative sum over the series gave [1e17, 5e16, 0, 0, -1].
    got = window_scores_to_steps([1e17, 1.0, 1.0, 1.0], [0, 1, 2, 3], 2, 5)
    assert got.tolist() == [1e17, 5e16, 1.0, 1.0, 1.0]


def test_nan_window_affects_only_the_steps_it_covers():
    n, w = 300, 12
    starts = window_starts(n, w)
    scores = np.random.default_rng(0).random(starts.shape[0])
    scores[100] = np.nan
    got = window_scores_to_steps(scores, starts, w, n)
    nan_steps = np.flatnonzero(np.isnan(got))
    assert nan_steps.tolist() == list(range(100, 100 + w))
    np.testing.assert_allclose(got, loop_reference(scores, starts, w, n), rtol=1e-12)


def test_inf_window_affects_only_the_steps_it_covers():
    n, w = 120, 5
    starts = window_starts(n, w)
    scores = np.ones(starts.shape[0])
    scores[40] = np.inf
    got = window_scores_to_steps(scores, starts, w, n)
    assert np.flatnonzero(~np.isfinite(got)).tolist() == list(range(40, 45))
    assert np.all(got[np.isfinite(got)] == 1.0)


def test_huge_value_at_row_100_changes_nothing_beyond_two_windows():
    # Windows containing row 100 get a score 1e8 times larger; every step past
    # row 100 + 2 * window_size must keep its exact score.
    n, w = 2000, 32
    starts = window_starts(n, w)
    base = np.random.default_rng(1).random(starts.shape[0])
    hit = base.copy()
    touched = (starts <= 100) & (100 < starts + w)
    hit[touched] += 1e8
    before = window_scores_to_steps(base, starts, w, n)
    after = window_scores_to_steps(hit, starts, w, n)
    assert np.array_equal(before[100 + 2 * w:], after[100 + 2 * w:])
    assert np.array_equal(before[: 100 - w], after[: 100 - w])
    changed = np.flatnonzero(before != after)
    assert changed.min() >= 100 - w + 1 and changed.max() <= 100 + w - 1


def test_order_of_windows_does_not_matter():
    n, w = 500, 20
    starts = window_starts(n, w, 3)
    rng = np.random.default_rng(2)
    scores = spanning_scores(rng, starts.shape[0])
    # repeated starts too: both orders must give the same bits
    starts = np.r_[starts, starts[:50]]
    scores = np.r_[scores, spanning_scores(rng, 50)]
    perm = rng.permutation(starts.shape[0])
    a = window_scores_to_steps(scores, starts, w, n)
    b = window_scores_to_steps(scores[perm], starts[perm], w, n)
    assert np.array_equal(a, b)
    np.testing.assert_allclose(a, loop_reference(scores, starts, w, n), rtol=1e-12)


def test_uncovered_steps_are_nan():
    got = window_scores_to_steps([2.0], [3], window_size=2, n_timesteps=8)
    assert np.isnan(got[[0, 1, 2, 5, 6, 7]]).all() and got[3:5].tolist() == [2.0, 2.0]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_timesteps=10, window_size=4, stride=0), ValueError, "stride must be an integer >= 1"),
    (dict(n_timesteps=10, window_size=4, stride=-2), ValueError, "stride must be"),
    (dict(n_timesteps=10, window_size=4, stride=1.5), TypeError, "stride must be an integer"),
    (dict(n_timesteps=10, window_size=0), ValueError, "window_size must be an integer >= 1"),
    (dict(n_timesteps=0, window_size=1), ValueError, "n_timesteps must be an integer >= 1"),
    (dict(n_timesteps=10, window_size=4, stride=5), ValueError, "exceeds window_size"),
    (dict(n_timesteps=3, window_size=4), ValueError, "longer than the series"),
    (dict(n_timesteps=10.0, window_size=4), TypeError, "n_timesteps must be an integer"),
    (dict(n_timesteps=10, window_size=True), TypeError, "window_size must be an integer"),
])
def test_window_starts_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        window_starts(**kwargs)


@pytest.mark.parametrize("args, error, match", [
    (([1.0, 2.0], [0, 1.5], 2, 5), ValueError, r"starts\[1\] = 1.5"),
    (([1.0, 2.0], [0, 1], 2, 2), ValueError, "do not fit"),
    (([1.0, 2.0], [-1, 1], 2, 5), ValueError, "do not fit"),
    (([1.0, 2.0], [0], 2, 5), ValueError, "one length"),
    (([[1.0, 2.0]], [[0, 1]], 2, 5), ValueError, "1-D"),
    (([1.0], [0], 0, 5), ValueError, "window_size must be"),
    (([1.0], [0], 2, 0), ValueError, "n_timesteps must be"),
    (([1.0], ["a"], 2, 5), TypeError, "integer time-step"),
])
def test_window_scores_to_steps_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        window_scores_to_steps(*args)


def test_detector_scores_far_from_a_huge_value_do_not_change():
    # The bar at detector level: one value of 1e8 at row 100 changes no
    # step score beyond row 100 + 2 * window_size (CNN windows see only themselves).
    import torch

    from skanomaly.detectors import TimeSeriesVAEDetector

    torch.set_num_threads(1)
    rng = np.random.RandomState(0)
    t = np.arange(600)
    X = np.c_[np.sin(t / 10), np.cos(t / 10)] + 0.05 * rng.randn(600, 2)
    w = 16
    det = TimeSeriesVAEDetector(window_size=w, hidden_channels=(4,), latent_dim=2, max_epochs=1,
                                random_state=0, device="cpu").fit(X)
    before = det.score_samples(X)
    X_hit = X.copy()
    X_hit[100, 0] = 1e8
    after = det.score_samples(X_hit)
    assert np.array_equal(before[100 + 2 * w:], after[100 + 2 * w:])
    assert np.array_equal(before[: 100 - w], after[: 100 - w])
    assert np.all(after[100 - w + 1: 100 + w] < before[100 - w + 1: 100 + w])  # flagged there
