"""Root-cause helpers: rankings and HitRate@P% on hand-made cases."""

import numpy as np
import pytest

from skanomaly.detectors import (
    AnoFusionDetector,
    MultimodalVAEDetector,
    TimeSeriesVAEDetector,
    VisionVAEDetector,
)
from skanomaly.explain import channel_contributions, hit_rate_at_p, rank_channels


def test_rank_channels_by_segment_mean():
    c = np.array([[0, 3, 1], [0, 3, 1], [9, 0, 0], [9, 0, 1]], dtype=float)
    rankings = rank_channels(c, [(0, 2), (2, 4)])
    assert [r.tolist() for r in rankings] == [[1, 2, 0], [0, 2, 1]]
    from_labels = rank_channels(c, labels=[1, 1, -1, -1])  # predict() output: -1 anomalous
    assert [r.tolist() for r in from_labels] == [[0, 2, 1]]
    assert [r.tolist() for r in rank_channels(c, labels=[0, 0, 1, 1])] == [[0, 2, 1]]


def test_hit_rate_hand_computed():
    rankings = [[3, 1, 0, 2], [0, 1, 2, 3]]
    truth = [[1, 2], [3]]
    # p=100: top-2 of segment 1 holds {3, 1} -> 1/2; top-1 of segment 2 holds {0} -> 0.
    assert hit_rate_at_p(rankings, truth, p=100) == pytest.approx(0.25)
    # p=150: top-3 {3, 1, 0} -> 1/2; top-1 {0} -> 0.
    assert hit_rate_at_p(rankings, truth, p=150) == pytest.approx(0.25)
    assert hit_rate_at_p([[2, 1, 0]], [[1, 2]], p=100) == 1.0


@pytest.mark.parametrize("call, match", [
    (lambda: rank_channels(np.zeros(3), [(0, 1)]), "2-D"),
    (lambda: rank_channels(np.zeros((3, 2))), "segments or labels"),
    (lambda: rank_channels(np.zeros((3, 2)), [(2, 5)]), "outside"),
    (lambda: hit_rate_at_p([[0]], [[0], [1]]), "ranking"),
    (lambda: hit_rate_at_p([[0]], [[]]), "at least one"),
    (lambda: hit_rate_at_p([[0]], [[0]], p=0), "positive"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_detector_contributions_point_at_the_broken_channel():
    rng = np.random.RandomState(0)
    t = np.arange(1500)
    X = np.c_[np.sin(t / 8), np.cos(t / 11), np.sin(t / 5)] + 0.05 * rng.randn(1500, 3)
    det = TimeSeriesVAEDetector(window_size=16, max_epochs=10, random_state=0,
                                device="cpu").fit(X[:1000])
    X_test = X[1000:].copy()
    X_test[200:230, 2] += 3.0  # channel 2 breaks
    contributions = channel_contributions(det, X_test)
    assert contributions.shape == X_test.shape
    assert rank_channels(contributions, [(200, 230)])[0][0] == 2



def _tiny_detectors():
    tiny = dict(max_epochs=1, batch_size=16, random_state=0, device="cpu")
    rng = np.random.RandomState(0)
    series = rng.randn(120, 3)
    # The anomaly score aggregates each row of channel_scores: a sum, or
    # AnoFusion's maximum of robust z-scores.
    return [
        (TimeSeriesVAEDetector(window_size=8, latent_dim=2, hidden_channels=(4,),
                               aggregation="step", **tiny), series, 3, np.sum),
        (AnoFusionDetector(window_size=4, hidden_dim=4, n_heads=1, gtn_channels=1,
                           score_rule="max_robust", **tiny), series, 3, np.max),
        (AnoFusionDetector(window_size=4, hidden_dim=4, n_heads=1, gtn_channels=1,
                           score_rule="sum_squared", **tiny), series, 3, np.sum),
        # Without the SSIM term the image channels' shares add up to the score.
        (VisionVAEDetector(latent_dim=2, hidden_channels=(4,), ssim_weight=0, **tiny),
         rng.rand(40, 2, 6, 6), 2, np.sum),
        (MultimodalVAEDetector(modalities={"a": [0], "b": [1, 2]}, latent_dim=2, hidden_dim=4,
                               n_heads=1, **tiny), series, 3, np.sum),  # a, b and the KL part
    ]


@pytest.mark.parametrize("detector, X, n_channels, aggregate", _tiny_detectors(),
                         ids=lambda v: type(v).__name__ if hasattr(v, "fit") else "")
def test_channel_contributions_serve_every_detector(detector, X, n_channels, aggregate):
    detector.fit(X)
    contributions = channel_contributions(detector, X)
    assert contributions.shape == (len(X), n_channels)
    np.testing.assert_allclose(aggregate(contributions, axis=1), -detector.score_samples(X),
                               rtol=1e-5, atol=1e-6)
    assert sorted(rank_channels(contributions, [(0, 5)])[0]) == list(range(n_channels))
