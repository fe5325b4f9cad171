"""Tests of VisionVAEDetector: estimator checks, shapes, search, persistence, errors."""

import io

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skanomaly.detectors import VisionVAEDetector
from skanomaly.modules import VisionVAE
from skanomaly.nets import ssim_window_size
from skanomaly.thresholds import PercentileThreshold

torch.set_num_threads(1)

TINY = dict(latent_dim=2, hidden_channels=(4,), max_epochs=2, batch_size=32, random_state=0,
            device="cpu")


# scikit-learn's estimator checks, clone, pickle and GridSearchCV: tests/test_common.py.


def _blobs(n=48, h=9, w=11, c=1, seed=0):
    """Smooth images (a bright square) with noise, and anomalies with a dark hole."""
    rng = np.random.RandomState(seed)
    X = 0.1 * rng.rand(n, c, h, w).astype(np.float32)
    X[:, :, 2:h - 2, 2:w - 2] += 0.8
    return X


def test_scores_do_not_depend_on_the_batch():
    X = _blobs(n=40)
    det = VisionVAEDetector(**TINY).fit(X)
    full = det.score_samples(X)
    alone = np.concatenate([det.score_samples(X[i:i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(alone, full, rtol=1e-5)
    order = np.random.RandomState(0).permutation(len(X))
    np.testing.assert_allclose(det.score_samples(X[order]), full[order], rtol=1e-5)


@pytest.mark.parametrize("shape", [(1, 9, 11), (3, 7, 5), (2, 28, 28), (1, 1, 6), (4, 13, 2)])
def test_any_size_and_channels(shape):
    vae = VisionVAE(*shape, latent_dim=3, hidden_channels=(4, 8, 8)).eval()
    assert vae.reconstruct(torch.zeros(2, *shape)).shape == (2, *shape)


def test_input_forms_agree():
    X = _blobs()
    det4 = VisionVAEDetector(**TINY).fit(X)
    det3 = VisionVAEDetector(**TINY).fit(X[:, 0])
    det2 = VisionVAEDetector(image_shape=(9, 11), **TINY).fit(X.reshape(len(X), -1))
    s4 = det4.score_samples(X)
    np.testing.assert_allclose(s4, det3.score_samples(X[:, 0]), rtol=1e-5)
    np.testing.assert_allclose(s4, det2.score_samples(X.reshape(len(X), -1)), rtol=1e-5)
    assert det4.image_shape_ == (1, 9, 11) and det4.n_features_in_ == 99
    maps = det4.anomaly_map(X[:3], sigma=1.0)
    assert maps.shape == (3, 9, 11) and np.all(maps >= 0)


def test_anomaly_scores_and_map_find_the_defect():
    X = _blobs(n=96)
    det = VisionVAEDetector(latent_dim=4, hidden_channels=(8, 16), max_epochs=20, lr=5e-3,
                            batch_size=16, random_state=0, device="cpu").fit(X)
    bad = _blobs(n=8, seed=1)
    bad[:, :, 4, 4:7] = 0.0
    assert det.score_samples(bad).mean() < det.score_samples(_blobs(n=8, seed=2)).mean()
    maps = det.anomaly_map(bad)
    assert maps[:, 4, 4:7].mean() > 2 * maps[:, 7:, :].mean()


def test_same_random_state_same_scores_and_deterministic_scoring():
    X = _blobs()
    a = VisionVAEDetector(**TINY).fit(X)
    b = VisionVAEDetector(**TINY).fit(X)
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    np.testing.assert_array_equal(a.score_samples(X), a.score_samples(X))


def test_joblib_round_trip():
    X = _blobs()
    det = VisionVAEDetector(**TINY).fit(X)
    buffer = io.BytesIO()
    joblib.dump(det, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(det.score_samples(X), loaded.score_samples(X))
    np.testing.assert_array_equal(det.anomaly_map(X[:2]), loaded.anomaly_map(X[:2]))


def test_grid_search_over_architecture_and_threshold():
    X = _blobs(n=40).reshape(40, -1)
    y = np.ones(40, dtype=int)
    X[-8:, 40:50] = 0.0
    y[-8:] = -1
    search = GridSearchCV(
        VisionVAEDetector(image_shape=(1, 9, 11), **{**TINY, "max_epochs": 1}),
        {"latent_dim": [2, 3], "module__hidden_channels": [(4,)],
         "threshold": [PercentileThreshold(q=0.9), PercentileThreshold(q=0.99)]},
        scoring="roc_auc", cv=StratifiedKFold(2, shuffle=True, random_state=0),
    ).fit(X, y)
    assert set(search.best_params_) == {"latent_dim", "module__hidden_channels", "threshold"}


def test_ssim_window_rule_and_small_images():
    assert ssim_window_size(28, 28) == 11
    assert ssim_window_size(5, 100) == 5
    assert ssim_window_size(4, 4) == 3
    assert ssim_window_size(2, 50) is None
    rng = np.random.RandomState(0)
    det = VisionVAEDetector(image_shape=(2, 8), **TINY).fit(rng.rand(20, 16))  # no SSIM term
    assert np.all(np.isfinite(det.score_samples(rng.rand(4, 16))))


@pytest.mark.parametrize("make_bad, match", [
    (lambda X: X[:, :, :8], "shape"),
    (lambda X: np.repeat(X, 3, axis=1), "shape"),
    (lambda X: X.reshape(len(X), -1)[:, :50], "features"),
])
def test_wrong_shape_or_channels_at_predict(make_bad, match):
    X = _blobs()
    det = VisionVAEDetector(**TINY).fit(X)
    with pytest.raises(ValueError, match=match):
        det.predict(make_bad(X))


def _never_trains(monkeypatch):
    from skanomaly import nets

    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(nets.VAENet, "fit", fail)


@pytest.mark.parametrize("kwargs, X, match", [
    ({}, np.zeros((10, 20)), "image_shape"),
    ({"image_shape": (3, 3, 3)}, np.zeros((10, 20)), "holds 27"),
    ({"image_shape": (3, -1, 2)}, np.zeros((10, 20)), "multiple"),
    ({"image_shape": (-1, -1)}, np.zeros((10, 20)), "at most one"),
    ({"image_shape": (2, 9, 11)}, np.zeros((10, 1, 9, 11)), "image_shape"),
    ({}, np.full((10, 1, 4, 4), np.nan), "NaN"),
    ({}, np.zeros((10, 2, 2, 2, 2)), "dimensions|4-D"),
    ({"validation_fraction": 0.5}, np.zeros((1, 1, 4, 4)), "1 sample"),
])
def test_bad_input_fails_before_training(monkeypatch, kwargs, X, match):
    _never_trains(monkeypatch)
    with pytest.raises(ValueError, match=match):
        VisionVAEDetector(**kwargs).fit(X)
