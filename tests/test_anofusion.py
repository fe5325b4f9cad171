"""AnoFusionDetector and AnoFusionNet: the scikit-learn contract, forecasting, graph, bad input."""

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skanomaly import nets
from skanomaly.datasets import make_anomalous_series
from skanomaly.detectors import AnoFusionDetector, TimeSeriesVAEDetector
from skanomaly.metrics import anomaly_average_precision_scorer, best_f1_score
from skanomaly.modules.anofusion import AnoFusionNet
from skanomaly.preprocessing import EDGE_TYPES, align_channels, relation_graph
from skanomaly.preprocessing.windows import ForecastWindowDataset
from skanomaly.thresholds import PercentileThreshold

torch.set_num_threads(1)

TINY = dict(window_size=4, hidden_dim=4, n_heads=1, gtn_channels=1, max_epochs=2,
            batch_size=32, device="cpu", random_state=0)
MODALITIES = {"metric": [0], "log": [1], "trace": [2]}


def tiny(**params):
    return AnoFusionDetector(**{**TINY, **params})


# Windowed forecasting depends on neighbouring rows, like TimeSeriesVAEDetector.
EXPECTED_FAILED = {
    "check_methods_sample_order_invariance":
        "a time step's score depends on the steps before it",
    "check_methods_subset_invariance":
        "scoring a subset re-windows it: its first steps lose their history",
}


@parametrize_with_checks([tiny()], expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def series():
    X, y = make_anomalous_series(n_timesteps=600, n_channels=3, clean_start=300,
                                 random_state=0)
    return StandardScaler().fit(X[:300]).transform(X), y


@pytest.fixture(scope="module")
def fitted(series):
    X, _ = series
    return tiny(modalities=MODALITIES).fit(X[:300])


# ----------------------------------------------------------------- module
@pytest.mark.parametrize("window, layers", [(1, 0), (5, 1), (7, 2)])
def test_module_shapes_and_learned_graph(window, layers):
    adjacency = torch.rand(6, 5, 5)
    net = AnoFusionNet(adjacency, window, hidden_dim=8, n_heads=2, gtn_channels=3,
                       gtn_layers=layers, gat_layers=2)
    out = net(torch.randn(4, 5, window))
    assert out.shape == (4, 5)
    weights = net.gtn.selection_weights()
    assert weights.shape == (layers + 1, 3, 7)  # six edge types + identity
    torch.testing.assert_close(weights.sum(-1), torch.ones(layers + 1, 3))
    graph = net.learned_graph()
    assert graph.shape == (3, 5, 5) and (graph.diagonal(dim1=1, dim2=2) >= 1).all()
    out.sum().backward()
    assert net.gtn.weight.grad.abs().sum() > 0  # edge-type selection is learned


def test_module_rejects_bad_adjacency():
    with pytest.raises(ValueError, match="n_edge_types, n_channels, n_channels"):
        AnoFusionNet(torch.rand(5, 5), 4)


def test_attention_follows_learned_edges_only():
    # No edge between node 0 and the others: node 0's forecast ignores them.
    adjacency = torch.zeros(6, 3, 3)
    adjacency[0, 1, 2] = adjacency[0, 2, 1] = 1.0
    net = AnoFusionNet(adjacency, 4, hidden_dim=4, n_heads=1).eval()
    x = torch.randn(2, 3, 4)
    moved = x.clone()
    moved[:, 1:] += 5.0
    torch.testing.assert_close(net(x)[:, 0], net(moved)[:, 0], atol=1e-4, rtol=0)
    assert not torch.allclose(net(x)[:, 1], net(moved)[:, 1])


def test_forecast_dataset_targets_are_the_next_step():
    series = torch.arange(24.0).reshape(8, 3)
    data = ForecastWindowDataset(series, window_size=3)
    assert len(data) == 5
    windows, targets = data.get_batch(torch.tensor([0, 4]))
    torch.testing.assert_close(windows[1], series[4:7].t())
    torch.testing.assert_close(targets, series[[3, 7]])
    with pytest.raises(ValueError, match="no window"):
        ForecastWindowDataset(series[:3], window_size=3)


# --------------------------------------------------------------- forecasting
def test_model_forecasts_the_next_step_not_the_window():
    # Period-4 signal: the next value always differs from the last one, so a
    # model that reconstructed its window (or repeated its last step) would err
    # by about 1 per channel; a forecaster learns the cycle.
    t = np.arange(800)
    X = np.c_[np.sin(np.pi * t / 2), np.cos(np.pi * t / 2)]
    det = AnoFusionDetector(window_size=8, hidden_dim=8, max_epochs=40, lr=1e-2, batch_size=64,
                            device="cpu", random_state=0, normalize_channels=False).fit(X)
    errors = det.forecast_errors(X)
    persistence = (X[1:] - X[:-1]) ** 2
    assert persistence.mean() > 0.9
    assert errors[8:].mean() < 0.05 * persistence.mean()
    # The errors are those of the forecast of step t from steps [t - 8, t).
    module = det.net_.module_.eval()
    with torch.no_grad():
        window = torch.tensor(X[100:108].T[None], dtype=torch.float32)
        forecast = module(window)[0].numpy()
    np.testing.assert_allclose(errors[108], (forecast - X[108]) ** 2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(forecast, X[108], atol=0.2)


def test_scores_align_with_rows_and_find_anomalies():
    X, y = make_anomalous_series(n_timesteps=1000, n_channels=3, clean_start=500,
                                 anomaly_fraction=0.1, segment_length=(5, 15), random_state=0)
    X = StandardScaler().fit(X[:500]).transform(X)
    det = tiny(modalities=MODALITIES, window_size=8, hidden_dim=8, n_heads=2, max_epochs=10)
    scores = det.fit(X[:500]).score_samples(X)
    assert scores.shape == (len(X),) and np.isfinite(scores).all()
    # A forecaster flags where behaviour changes (segment onsets), hence the
    # paper's evaluation: best F1 after delay point adjust (k=7). Random
    # scores reach at most 0.49 here (three seeds).
    assert best_f1_score(y[500:], -scores[500:], method="delay", k=7) > 0.75
    np.testing.assert_allclose(det.decision_function(X), scores - det.offset_)
    assert set(np.unique(det.predict(X))) <= {-1, 1}


def test_forecast_errors_sum_to_scores_and_pad_first_window(fitted, series):
    X, _ = series
    errors = fitted.forecast_errors(X[:100])
    scores = -fitted.score_samples(X[:100])
    np.testing.assert_allclose((errors / fitted.channel_scale_).sum(1), scores, rtol=1e-6)
    # Rows before the first full window take the first forecast's score.
    np.testing.assert_array_equal(scores[:4], np.full(4, scores[4]))


def test_threshold_and_scales_come_from_held_out_steps_only(series):
    X, _ = series
    X = X[:300]
    det = tiny(threshold=PercentileThreshold(q=0.9)).fit(X)
    n_held = 30  # ceil(0.1 * 300)
    # The held-out steps score as in the whole series: their windows reach back
    # into the training steps, and no padded row enters the calibration.
    tail_scores = -det.score_samples(X)[-n_held:]
    assert det.offset_ == pytest.approx(-np.quantile(tail_scores, 0.9))
    tail_errors = det.forecast_errors(X)[-n_held:]
    np.testing.assert_allclose(det.channel_scale_, np.median(tail_errors, 0), rtol=1e-6)


def test_scores_are_deterministic_and_seeded(series):
    X, _ = series
    X = X[:200]
    a, b, c = tiny(random_state=3).fit(X), tiny(random_state=3).fit(X), tiny(random_state=4).fit(X)
    np.testing.assert_array_equal(a.score_samples(X), a.score_samples(X))
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert not np.allclose(a.score_samples(X), c.score_samples(X))


# ---------------------------------------------------------------- the graph
def test_graph_is_nmi_of_training_part_per_edge_type(fitted, series):
    X, _ = series
    g = fitted.graph_
    assert g.shape == (6, 3, 3) and fitted.edge_types_ == EDGE_TYPES
    train = X[:270]  # the held-out tail (10 %) is left out of the relations
    blocks = relation_graph(train, ["metric", "log", "trace"])
    expected = np.zeros((6, 3, 3))
    expected[3, 0, 1] = expected[3, 1, 0] = blocks["metric-log"].iloc[0, 0]
    expected[4, 0, 2] = expected[4, 2, 0] = blocks["metric-trace"].iloc[0, 0]
    expected[5, 1, 2] = expected[5, 2, 1] = blocks["log-trace"].iloc[0, 0]
    np.testing.assert_allclose(g, expected, rtol=1e-6)
    sparse = tiny(modalities=MODALITIES, nmi_threshold=1.0, max_epochs=1).fit(X[:200])
    assert not sparse.graph_.any()


def test_modalities_from_align_channels_and_dataframe(series):
    X, _ = series
    X = X[:200]
    t = pd.date_range("2024-01-01", periods=len(X), freq="60s")
    table, modality = align_channels(
        pd.DataFrame({"cpu": X[:, 0]}, index=t), pd.DataFrame({"log_3": X[:, 1]}, index=t),
        pd.DataFrame({"svc__mean": X[:, 2]}, index=t))
    from_series = tiny(modalities=modality.iloc[::-1]).fit(table)  # matched on names
    from_dict = tiny(modalities={"trace": ["svc__mean"], "metric": "cpu", "log": [1]}).fit(table)
    assert list(from_series.feature_names_in_) == ["cpu", "log_3", "svc__mean"]
    assert list(from_series.modality_) == ["metric", "log", "trace"]
    np.testing.assert_array_equal(from_series.graph_, from_dict.graph_)
    np.testing.assert_array_equal(from_series.score_samples(table), from_dict.score_samples(table))
    listed = tiny(modalities=["metric", "log", "trace"]).fit(X)
    np.testing.assert_array_equal(listed.graph_, from_dict.graph_)


# --------------------------------------------------------- sklearn tooling
def test_pipeline_gridsearch_and_skorch_params(series):
    X, y = series
    pipe = make_pipeline(StandardScaler(), tiny(modalities=MODALITIES,
                                                threshold=PercentileThreshold()))
    grid = GridSearchCV(
        pipe, {"anofusiondetector__module__hidden_dim": [2, 4],
               "anofusiondetector__threshold__q": [0.9],
               "anofusiondetector__optimizer__lr": [1e-3]},
        cv=TimeSeriesSplit(n_splits=2), scoring=anomaly_average_precision_scorer)
    grid.fit(X, np.where(y == 1, -1, 1))
    best = grid.best_estimator_[-1]
    assert best.net_.module_.gru.hidden_size == grid.best_params_[
        "anofusiondetector__module__hidden_dim"]
    assert best.net_.optimizer_.param_groups[0]["lr"] == 1e-3


def test_clone_and_joblib_round_trip_give_identical_scores(fitted, series, tmp_path):
    X, _ = series
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and not hasattr(twin, "net_")
    np.testing.assert_array_equal(twin.fit(X[:300]).score_samples(X), fitted.score_samples(X))
    path = tmp_path / "det.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    assert loaded.net_.train_split is None


def test_nets_keep_their_targets(series):
    X, _ = series
    vae = TimeSeriesVAEDetector(window_size=4, max_epochs=1, latent_dim=2, hidden_channels=(4,),
                                device="cpu", random_state=0).fit(X[:100])
    assert type(vae.net_) is nets.VAENet
    assert type(tiny().fit(X[:100]).net_) is nets.ForecastNet


# --------------------------------------------------------------- bad input
@pytest.fixture
def no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started on bad input")
    monkeypatch.setattr(nets.ForecastNet, "fit", fail)


@pytest.mark.parametrize("X, params, match", [
    (np.array([[0.0, np.nan, 1.0]] * 20), {}, "NaN"),
    (np.array([[0.0, np.inf, 1.0]] * 20), {}, "infinity"),
    (np.zeros((4, 3)), {}, "window_size=4 needs at least 5"),
    (np.zeros((20, 3, 2)), {}, "Found array with dim 3"),
    (np.zeros((20, 3)), {"modalities": {"metric": [0, 1], "log": [1, 2]}}, "both modalities"),
    (np.zeros((20, 3)), {"modalities": {"metric": [0], "log": [1]}}, r"Column\(s\) \[2\]"),
    (np.zeros((20, 3)), {"modalities": {"metric": [0, 1], "image": [2]}}, "Unknown modality"),
    (np.zeros((20, 3)), {"modalities": ["metric", "log", "audio"]}, "Unknown modality"),
    (np.zeros((20, 3)), {"modalities": ["metric", "log"]}, "one per column"),
    (np.zeros((20, 3)), {"modalities": {"metric": ["cpu", 1, 2]}}, "no column names"),
    (np.zeros((20, 3)), {"modalities": {"metric": [0, 1, 7]}}, "X has 3 columns"),
    (np.zeros((20, 3)), {"hidden_dim": 5, "n_heads": 2}, "divisible"),
    (np.zeros((20, 3)), {"hidden_dimm": 5}, "Unknown parameter"),
    (pd.DataFrame({"a": np.zeros(20), "host": ["x"] * 20}), {}, r"non-numeric column"),
])
def test_bad_input_is_rejected_before_training(no_training, X, params, match):
    with pytest.raises(ValueError, match=match):
        tiny(**params).fit(X)


def test_scoring_checks_features_and_length(fitted, series):
    X, _ = series
    with pytest.raises(ValueError, match="expecting 3 features"):
        fitted.predict(X[:50, :2])
    with pytest.raises(ValueError, match="needs at least 5"):
        fitted.score_samples(X[:4])
