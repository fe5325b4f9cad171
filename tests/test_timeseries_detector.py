"""TimeSeriesVAEDetector: the scikit-learn contract, windowing, bad input."""

import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skanomaly.datasets import make_anomalous_series
from skanomaly.detectors import TimeSeriesVAEDetector
from skanomaly.metrics import anomaly_average_precision_scorer, anomaly_roc_auc_score
from skanomaly.modules.timeseries import TimeSeriesVAE, conv_output_lengths
from skanomaly.preprocessing.windows import window_scores_to_steps, window_starts
from skanomaly.thresholds import PercentileThreshold

TINY = dict(window_size=4, max_epochs=2, latent_dim=2, hidden_channels=(4,), batch_size=16,
            device="cpu", random_state=0)


def tiny(**params):
    return TimeSeriesVAEDetector(**{**TINY, **params})


# scikit-learn's estimator checks, clone, pickle and GridSearchCV: tests/test_common.py.


@pytest.fixture(scope="module")
def series():
    X, y = make_anomalous_series(n_timesteps=1200, n_channels=3, clean_start=600,
                                 random_state=0)
    return X, y


def test_windows_cover_every_step():
    for n, w, s in [(10, 4, 1), (10, 4, 3), (11, 4, 3), (5, 5, 2), (100, 7, 7)]:
        starts = window_starts(n, w, s)
        covered = np.zeros(n, bool)
        for start in starts:
            covered[start:start + w] = True
        assert covered.all()
        assert starts[-1] == n - w
    with pytest.raises(ValueError, match="longer than the series"):
        window_starts(3, 4)
    with pytest.raises(ValueError, match="no score"):
        window_starts(100, 7, 10)


@pytest.mark.parametrize("encoder", ["cnn", "transformer"])
@pytest.mark.parametrize("window", [1, 2, 5, 16, 33, 100])
def test_module_shapes_follow_configuration(encoder, window):
    module = TimeSeriesVAE(3, window, latent_dim=4, encoder=encoder, hidden_channels=(8, 16, 8),
                           d_model=8, n_heads=2, n_layers=1)
    x = torch.randn(5, 3, window)
    recon, mu, logvar = module(x)
    assert recon.shape == x.shape and mu.shape == (5, 4) and logvar.shape == (5, 4)


def test_conv_lengths():
    assert conv_output_lengths(100, 3, 5) == [100, 50, 25, 13]
    assert conv_output_lengths(1, 2, 3) == [1, 1, 1]


def test_scores_align_with_rows_and_find_anomalies(series):
    X, y = series
    det = TimeSeriesVAEDetector(window_size=16, max_epochs=15, random_state=0, device="cpu")
    X = StandardScaler().fit(X[:600]).transform(X)
    det.fit(X[:600])
    scores = det.score_samples(X)
    assert scores.shape == (len(X),)
    assert np.isfinite(scores).all()
    # Anomalous rows must rank clearly above normal ones on the test half.
    assert anomaly_roc_auc_score(y[600:], -scores[600:]) > 0.95
    assert set(np.unique(det.predict(X))) <= {-1, 1}
    np.testing.assert_allclose(det.decision_function(X), scores - det.offset_)


def test_scores_are_deterministic_and_seeded(series):
    X, _ = series
    a = tiny(random_state=3).fit(X)
    b = tiny(random_state=3).fit(X)
    c = tiny(random_state=4).fit(X)
    np.testing.assert_array_equal(a.score_samples(X), a.score_samples(X))
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert not np.allclose(a.score_samples(X), c.score_samples(X))


def test_reconstruction_errors_per_channel(series):
    X, _ = series
    det = tiny(aggregation="step").fit(X)
    errors = det.reconstruction_errors(X)
    assert errors.shape == X.shape
    np.testing.assert_allclose((errors / det.channel_scale_).sum(axis=1), -det.score_samples(X),
                               rtol=1e-5)
    # The scales are the calibration tail's median errors.
    tail = X[-int(np.ceil(0.1 * len(X))):]
    np.testing.assert_allclose(det.channel_scale_, np.median(det.reconstruction_errors(tail), 0))
    raw = tiny(aggregation="step", normalize_channels=False).fit(X)
    np.testing.assert_array_equal(raw.channel_scale_, np.ones(3))
    np.testing.assert_allclose(raw.reconstruction_errors(X).sum(1), -raw.score_samples(X),
                               rtol=1e-5)


def test_window_aggregation_averages_covering_window_scores(series):
    X, _ = series
    X = X[:50]
    det = tiny(window_size=6, stride=4).fit(X)
    starts = window_starts(len(X), 6, 4)
    windows = np.stack([X[s:s + 6].T for s in starts])
    window_scores = -det.score_samples(windows)  # 3-D input: one score per window
    expected = np.zeros(len(X))
    counts = np.zeros(len(X))
    for s, score in zip(starts, window_scores):
        expected[s:s + 6] += score
        counts[s:s + 6] += 1
    np.testing.assert_allclose(-det.score_samples(X), expected / counts, rtol=1e-5)


def test_channel_scale_floor_keeps_constant_channels_finite():
    rng = np.random.RandomState(0)
    X = np.c_[rng.randn(300, 2), np.zeros(300)]  # third channel constant in training
    det = tiny().fit(X)
    assert det.channel_scale_[2] >= 0.01 * det.channel_scale_.mean() * (1 - 1e-6)
    X_new = X.copy()
    X_new[100:110, 2] = 5.0  # the constant channel moves: an anomaly, finite score
    scores = -det.score_samples(X_new)
    assert np.isfinite(scores).all() and scores[100:110].min() > np.quantile(scores, 0.9)


def test_overlap_average_matches_explicit_loop(series):
    X, _ = series
    X = X[:40]
    # scaling=None: the network sees X itself, as the loop below does.
    det = tiny(window_size=5, stride=3, validation_fraction=0, scaling=None).fit(X)
    module = det.net_.module_.eval()
    starts = window_starts(len(X), 5, 3)
    sums, counts = np.zeros(X.shape), np.zeros(len(X))
    with torch.no_grad():
        for s in starts:
            x = torch.tensor(X[s:s + 5].T[None], dtype=torch.float32)
            err = (module.reconstruct(x) - x).pow(2)[0].numpy().T
            sums[s:s + 5] += err
            counts[s:s + 5] += 1
    np.testing.assert_allclose(det.reconstruction_errors(X), sums / counts[:, None], rtol=1e-4,
                               atol=1e-6)


def test_ready_windows_3d(series):
    X, _ = series
    windows = np.stack([X[s:s + 4].T for s in range(0, 400, 2)])  # (n, C, 4)
    det = tiny().fit(windows)
    assert det.n_features_in_ == 3
    assert det.score_samples(windows).shape == (len(windows),)
    assert det.reconstruction_errors(windows).shape == (len(windows), 3)
    # A model trained on windows also scores a 2-D series, window by window.
    assert det.score_samples(X).shape == (len(X),)
    with pytest.raises(ValueError, match="set window_size=6"):
        tiny().fit(np.zeros((10, 3, 6)))


def test_dataframe_input_and_feature_names(series):
    X, _ = series
    frame = pd.DataFrame(X, columns=["cpu", "mem", "disk"])
    det = tiny().fit(frame)
    assert list(det.feature_names_in_) == ["cpu", "mem", "disk"]
    np.testing.assert_allclose(det.score_samples(frame), det.score_samples(X))


def test_pipeline_gridsearch_and_skorch_params(series):
    X, y = series
    pipe = make_pipeline(StandardScaler(), tiny(threshold=PercentileThreshold()))
    grid = GridSearchCV(
        pipe,
        {"timeseriesvaedetector__module__latent_dim": [2, 3],
         "timeseriesvaedetector__threshold__q": [0.9, 0.99],
         "timeseriesvaedetector__optimizer__lr": [1e-3]},
        cv=TimeSeriesSplit(n_splits=2), scoring=anomaly_average_precision_scorer,
    )
    grid.fit(X, np.where(y == 1, -1, 1))
    best = grid.best_estimator_[-1]
    assert best.net_.module_.head.mu.out_features == grid.best_params_[
        "timeseriesvaedetector__module__latent_dim"]
    assert best.thresholder_.q == grid.best_params_["timeseriesvaedetector__threshold__q"]
    assert best.net_.optimizer_.param_groups[0]["lr"] == 1e-3


def test_searching_threshold_params_needs_a_thresholder():
    with pytest.raises(ValueError, match="pass threshold=PercentileThreshold"):
        tiny().set_params(threshold__q=0.9)
    assert tiny(threshold=PercentileThreshold()).set_params(threshold__q=0.9).threshold.q == 0.9


def test_prefixed_params_override_and_clone():
    det = tiny(module__latent_dim=5, optimizer__weight_decay=0.1)
    assert det.get_params()["module__latent_dim"] == 5
    twin = clone(det)
    assert twin.get_params() == det.get_params()
    twin.set_params(module__latent_dim=6, threshold=PercentileThreshold(0.9))
    assert twin.module__latent_dim == 6 and det.module__latent_dim == 5
    X = np.random.RandomState(0).randn(100, 2)
    fitted = det.fit(X)
    assert fitted.net_.module_.head.mu.out_features == 5
    assert fitted.net_.optimizer_.param_groups[0]["weight_decay"] == 0.1


def test_joblib_round_trip_gives_identical_scores(series, tmp_path):
    X, _ = series
    det = tiny().fit(X)
    path = tmp_path / "det.joblib"
    joblib.dump(make_pipeline(StandardScaler(), det), path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded[-1].score_samples(X), det.score_samples(X))
    assert loaded[-1].net_.train_split is None  # no validation data inside the pickle


def test_early_stopping_stops(series):
    X, _ = series
    det = tiny(max_epochs=200, patience=1, lr=1e-2, early_stopping=True).fit(X)
    assert len(det.net_.history) < 200


def test_threshold_is_calibrated_on_held_out_tail(series):
    X, _ = series
    det = tiny(threshold=PercentileThreshold(q=0.9)).fit(X)
    n_held = int(np.ceil(0.1 * len(X)))
    tail_scores = -det.score_samples(X[-n_held:])
    assert det.offset_ == pytest.approx(-np.quantile(tail_scores, 0.9))


@pytest.mark.parametrize("X, match", [
    (np.array([[0.0, np.nan]] * 20), "NaN"),
    (np.array([[0.0, np.inf]] * 20), "infinity"),
    (np.zeros(20), "Expected 2D array"),
    (np.zeros((3, 2)), "window_size=4 needs at least 4"),
    (np.zeros((20, 2, 2, 2)), "must be 2-D"),
    (pd.DataFrame({"a": np.zeros(20), "host": ["x"] * 20}), r"non-numeric column\(s\) \['host'\]"),
])
def test_bad_input_is_rejected_before_training(X, match):
    with pytest.raises(ValueError, match=match):
        tiny().fit(X)


@pytest.mark.parametrize("params, match", [
    ({"encoder": "lstm"}, "encoder"),
    ({"kernel_size": 4}, "kernel_size must be odd"),
    ({"encoder": "transformer", "d_model": 10, "n_heads": 3}, "divisible"),
    ({"laten_dim": 3}, "Unknown parameter"),
    ({"stride": 5}, "no score"),
    ({"threshold": 0.5}, "threshold"),
    ({"calibration_cap": 0.5}, "calibration_cap"),
    ({"validation_fraction": 0.5, "window_size": 15}, "too few"),
])
def test_bad_parameters_are_rejected(params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        tiny(**params).fit(np.random.RandomState(0).randn(20, 2))


def test_predict_checks_features_and_fitted(series):
    X, _ = series
    with pytest.raises(NotFittedError):
        tiny().score_samples(X)
    det = tiny().fit(X)
    with pytest.raises(ValueError, match="expecting 3 features"):
        det.predict(X[:, :2])


def test_nan_loss_stops_training_with_advice(series):
    X, _ = series
    det = tiny(lr=1e30)
    with pytest.raises(FloatingPointError, match="smaller learning rate"):
        det.fit(X * 1e30)
    assert not hasattr(det, "net_")


def test_cuda_request_without_gpu_is_clear(series):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="CUDA is not available"):
        tiny(device="cuda").fit(series[0])


def test_window_scores_to_steps_is_the_mean_of_covering_windows():
    rng = np.random.RandomState(0)
    for n, w, s in [(10, 4, 1), (11, 4, 3), (30, 7, 7), (5, 5, 1)]:
        starts = window_starts(n, w, s)
        window_scores = rng.rand(len(starts))
        expected = np.array([window_scores[(starts <= t) & (t < starts + w)].mean()
                             for t in range(n)])
        np.testing.assert_allclose(window_scores_to_steps(window_scores, starts, w, n), expected)
    # Steps no window covers get NaN, not a made-up score.
    steps = window_scores_to_steps([2.0], [3], window_size=2, n_timesteps=7)
    np.testing.assert_array_equal(np.isnan(steps), [1, 1, 1, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="do not fit"):
        window_scores_to_steps([1.0], [5], window_size=4, n_timesteps=8)
    with pytest.raises(ValueError, match="one length"):
        window_scores_to_steps([1.0, 2.0], [0], window_size=4, n_timesteps=8)


def _record_batch_sizes(det):
    sizes = []
    module = det.net_.module_
    reconstruct = module.reconstruct

    def recording(x):
        sizes.append(len(x))
        return reconstruct(x)

    module.reconstruct = recording
    return sizes


def test_scoring_batches_follow_iterator_valid_batch_size(series):
    X = series[0][:300]
    det = tiny(iterator_valid__batch_size=7).fit(X)
    sizes = _record_batch_sizes(det)
    det.score_samples(X)
    n_windows = len(window_starts(len(X), 4))
    assert sizes[:-1] == [7] * (len(sizes) - 1) and sum(sizes) == n_windows
    det = tiny(batch_size=11).fit(X)  # without it, batch_size
    sizes = _record_batch_sizes(det)
    det.score_samples(X)
    assert max(sizes) == 11 and sum(sizes) == n_windows


def test_skorch_loader_options_reach_a_dataloader(series):
    X = series[0][:300]
    reference = tiny().fit(X).score_samples(X)
    det = tiny(iterator_train__num_workers=2, iterator_valid__num_workers=2,
               iterator_train__persistent_workers=False).fit(X)
    assert len(det.net_.history) == TINY["max_epochs"]
    # Workers fetch the same batches in the same order: the same model.
    np.testing.assert_allclose(det.score_samples(X), reference, rtol=1e-5)
    with warnings.catch_warnings():  # no accelerator here: torch says pinning is moot
        warnings.simplefilter("ignore", UserWarning)
        pinned = tiny(iterator_train__pin_memory=True, iterator_valid__pin_memory=True).fit(X)
        np.testing.assert_allclose(pinned.score_samples(X), reference, rtol=1e-5)


def test_compile_is_forwarded_to_skorch(series, monkeypatch):
    from skanomaly import nets

    compiled = []
    monkeypatch.setattr(nets.VAENet, "torch_compile",
                        lambda self, module, name: compiled.append(name) or module)
    det = tiny(compile=True).fit(series[0][:200])
    assert det.net_.compile is True and "module" in compiled
    assert clone(det).get_params()["compile"] is True
