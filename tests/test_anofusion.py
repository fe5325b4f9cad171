"""AnoFusionDetector and AnoFusionNet: the model, its scores, modalities, the sklearn contract."""

import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch.nn import functional as F

from skanomaly import nets
from skanomaly.detectors import AnoFusionDetector
from skanomaly.explain import channel_contributions, rank_channels
from skanomaly.metrics import anomaly_average_precision_scorer
from skanomaly.modules.anofusion import AnoFusionNet
from skanomaly.preprocessing import EDGE_TYPES, edge_type_stack
from skanomaly.thresholds import DSPOTThreshold, PercentileThreshold, SPOTThreshold
from skanomaly.thresholds._spot import TailFitWarning

torch.set_num_threads(1)

TINY = dict(modalities=None, window_size=4, hidden_dim=2, n_heads=2, gtn_channels=2,
            gtn_layers=1, max_epochs=2, batch_size=32, device="cpu", random_state=0)
MODALITIES = {"metric": [0], "log": [1], "trace": [2]}
NAMES = ["metric__svc__cpu", "log__svc__info", "trace__svc__p95"]


def tiny(**params):
    return AnoFusionDetector(**{**TINY, **params})


def coupled_series(n=700, fault=(550, 600), seed=0):
    """Three channels driven by one load; the fault cuts the log channel from the load.

    During the fault the log channel stays at its mean level (its lines no longer
    follow the load): every channel stays inside its normal range.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    load = np.sin(2 * np.pi * t / 24) + 0.3 * np.sin(2 * np.pi * t / 7)
    log = 2 * load + 5
    log[fault[0]:fault[1]] = 5
    X = np.c_[load, log, np.exp(0.5 * load)] + 0.05 * rng.normal(size=(n, 3))
    y = np.zeros(n, int)
    y[fault[0]:fault[1]] = 1
    return pd.DataFrame(X, columns=NAMES), y


@pytest.fixture(scope="module")
def series():
    return coupled_series()


@pytest.fixture(scope="module")
def fitted(series):
    X, _ = series
    return tiny(modalities="auto").fit(X.iloc[:300])


# ----------------------------------------------------------------- module
@pytest.mark.parametrize("window, n_nodes, layers", [(1, 1, 1), (5, 4, 2), (7, 9, 5)])
def test_module_shapes_for_any_window_and_channel_count(window, n_nodes, layers):
    net = AnoFusionNet(torch.rand(6, n_nodes, n_nodes), window, n_heads=3, gtn_channels=4,
                       gtn_layers=layers)
    out = net(torch.randn(2, n_nodes, window))
    assert out.shape == (2, n_nodes)
    weights = net.gtn.selection_weights()
    assert weights.shape == (layers + 1, 4, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(layers + 1, 4))
    graph = net.learned_graph()
    assert graph.shape == (4, n_nodes, n_nodes) and (graph >= 0).all()
    out.sum().backward()
    assert net.graph_weight.grad.abs().sum() > 0  # per-graph weights are learned
    if n_nodes > 1:  # with one node every graph is its self-loop
        assert net.gtn.weight.grad.abs().sum() > 0  # so is the edge-type selection


def test_module_rejects_bad_adjacency():
    with pytest.raises(ValueError, match="n_edge_types, n_channels, n_channels"):
        AnoFusionNet(torch.rand(5, 5), 4)


def reference_forward(net, x):
    """AnoFusionNet's forward with Python loops over graphs, heads and time steps."""
    adjacency, eye = net.adjacency, torch.eye(net.n_channels)
    weights = torch.softmax(net.gtn.weight, dim=-1)  # (layers + 1, graphs, edge types)
    fused = 0
    for c in range(weights.shape[1]):
        sel = [sum(weights[i, c, e] * adjacency[e] for e in range(adjacency.shape[0]))
               for i in range(weights.shape[0])]
        path = sel[0] @ sel[1]
        for s in sel[2:]:
            path = path * (1 - eye) + eye
            path = (path / path.sum(1, keepdim=True)) @ s
        g = path * (1 - eye) + eye
        d = g.sum(1).rsqrt()
        g = d[:, None] * g * d[None, :]

        def attend(layer, h_in, k):
            h = h_in @ layer.weight[k]
            logits = (h @ h.transpose(1, 2)) * g * layer.scale
            logits = logits.masked_fill(g == 0, float("-inf"))
            return torch.softmax(logits, -1) @ h + layer.bias[k]

        heads = [attend(net.heads, x, k) for k in range(net.heads.weight.shape[0])]
        z = F.leaky_relu(torch.cat(heads, -1))
        fused = fused + net.graph_weight[c] * F.leaky_relu(attend(net.out_attention, z, 0))
    gru, h = net.gru, torch.zeros(x.shape[0], net.n_channels)
    for t in range(fused.shape[-1]):  # one GRU step per embedding feature
        gi = fused[:, :, t] @ gru.weight_ih_l0.T + gru.bias_ih_l0
        gh = h @ gru.weight_hh_l0.T + gru.bias_hh_l0
        r, z, n = gi.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r, z = torch.sigmoid(r + hr), torch.sigmoid(z + hz)
        h = (1 - z) * torch.tanh(n + r * hn) + z * h
    return net.head(h)


@pytest.mark.parametrize("scaled", [True, False])
def test_vectorised_forward_equals_reference_loops(scaled):
    torch.manual_seed(0)
    adjacency = torch.rand(6, 5, 5)
    adjacency[:, 0, 3] = adjacency[:, 3, 0] = 0.0  # a missing edge: masked attention
    net = AnoFusionNet(adjacency, 6, hidden_dim=3, n_heads=4, gtn_channels=3, gtn_layers=3,
                       scaled_attention=scaled).eval()
    x = torch.randn(4, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(net(x), reference_forward(net, x), rtol=1e-4, atol=1e-5)


def test_attention_follows_the_graph_only():
    # Node 0 has no relation to any other node: its embedding ignores them.
    adjacency = torch.zeros(6, 3, 3)
    adjacency[:, 1, 2] = adjacency[:, 2, 1] = 1.0
    net = AnoFusionNet(adjacency, 4, n_heads=2, gtn_channels=2, gtn_layers=2).eval()
    x = torch.randn(2, 3, 4)
    moved = x.clone()
    moved[:, 1:] += 5.0
    with torch.no_grad():
        torch.testing.assert_close(net.embed(x)[:, 0], net.embed(moved)[:, 0])
        assert not torch.allclose(net.embed(x)[:, 1], net.embed(moved)[:, 1])


def test_persistence_skip_adds_the_last_value():
    torch.manual_seed(0)
    plain = AnoFusionNet(torch.rand(6, 3, 3), 4).eval()
    skip = AnoFusionNet(torch.rand(6, 3, 3), 4, persistence_skip=True).eval()
    skip.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 4)
    with torch.no_grad():
        torch.testing.assert_close(skip(x), plain(x) + x[:, :, -1])


# ---------------------------------------------------------- forecasting
def test_model_forecasts_the_next_step_not_the_window():
    # Period-4 signal: the next value always differs from the last one, so a
    # model that reconstructed its window (or repeated its last step) would err
    # by about 1 per channel; a forecaster learns the cycle.
    t = np.arange(300)
    X = np.c_[np.sin(np.pi * t / 2), np.cos(np.pi * t / 2)]
    det = AnoFusionDetector(modalities=None, window_size=8, n_heads=2, gtn_channels=2,
                            gtn_layers=1, dropout=0.0, max_epochs=30, lr=1e-2, device="cpu",
                            random_state=0, standardize=False, early_stopping=False).fit(X)
    residuals = det.forecast_errors(X)
    persistence = (X[1:] - X[:-1]) ** 2
    assert persistence.mean() > 0.9
    assert (residuals[8:] ** 2).mean() < 0.05 * persistence.mean()
    # Row t is the residual of the forecast of step t from steps [t - 8, t).
    with torch.no_grad():
        window = torch.tensor(X[100:108].T[None], dtype=torch.float32)
        forecast = det.net_.module_.eval()(window)[0].numpy()
    np.testing.assert_allclose(residuals[108], X[108] - forecast, rtol=1e-4, atol=1e-6)


def test_learns_a_fault_inside_the_normal_range(series):
    X, y = series
    det = AnoFusionDetector(window_size=12, max_epochs=25, lr=1e-2, early_stopping=False,
                            device="cpu", random_state=0)
    scores = -det.fit(X.iloc[:500]).score_samples(X)
    assert X.iloc[550:600, 1].between(X.iloc[:500, 1].min(), X.iloc[:500, 1].max()).all()
    # Rank fault bins above normal ones; a z-score of each channel cannot (in range).
    assert roc_auc_score(y[500:], scores[500:]) > 0.9
    z = np.abs((X - X.iloc[:500].mean()) / X.iloc[:500].std()).max(axis=1)
    assert roc_auc_score(y[500:], z[500:]) < 0.75
    # The explanation points at the log channel.
    contributions = channel_contributions(det, X)
    assert rank_channels(contributions, [(550, 600)])[0][0] == 1


@pytest.mark.parametrize("rule, combine, k", [("max_robust", np.max, 1),
                                               ("sum_squared", np.sum, 1),
                                               ("sum_squared", np.sum, 3)])
def test_channel_scores_make_the_score(series, rule, combine, k):
    X, _ = series
    det = tiny(modalities="auto", score_rule=rule, score_window=k).fit(X.iloc[:300])
    contributions = det.channel_scores(X.iloc[:100])
    assert contributions.shape == (100, 3)
    np.testing.assert_allclose(combine(contributions, axis=1), -det.score_samples(X.iloc[:100]),
                               rtol=1e-6)
    np.testing.assert_array_equal(contributions[:4], np.repeat(contributions[4:5], 4, axis=0))
    residuals = det.forecast_errors(X.iloc[:100])[4:]
    # score_window: the mean of the last k residuals; at the start, the sum of the
    # j < k there are over sqrt(j k) (the noise of a full mean)
    mean = np.array([residuals[max(0, t - k + 1):t + 1].sum(axis=0) / np.sqrt(min(t + 1, k) * k)
                     for t in range(96)])
    terms = np.abs(mean) if rule == "max_robust" else mean ** 2
    np.testing.assert_allclose((terms - det.error_center_) / det.channel_scale_,
                               contributions[4:], rtol=1e-6, atol=1e-9)


def test_normalisation_and_threshold_come_from_held_out_steps_only(series):
    X = series[0].iloc[:300]
    n_held = 30  # ceil(0.1 * 300)
    # The held-out steps score as in the whole series: their windows (and the
    # residuals score_window averages) reach back into the training steps, and
    # no padded row enters the calibration.
    for k in (1, 5):
        det = tiny(threshold=PercentileThreshold(q=0.9), score_window=k).fit(X)
        tail_scores = -det.score_samples(X)[-n_held:]
        assert det.offset_ == pytest.approx(-np.quantile(tail_scores, 0.9))
    det = tiny(score_rule="max_robust", score_window=1).fit(X)
    tail = np.abs(det.forecast_errors(X)[-n_held:])
    q25, q50, q75 = np.percentile(tail, [25, 50, 75], axis=0)
    np.testing.assert_allclose(det.error_center_, q50, rtol=1e-6)
    np.testing.assert_allclose(det.channel_scale_, np.maximum(q75 - q25, 0.01 * (q75 - q25).mean()),
                               rtol=1e-6)
    # Standardisation uses the training steps only.
    np.testing.assert_allclose(det.center_, X.iloc[:270].mean(), rtol=1e-6)


def test_standardize_makes_scores_unit_free(series):
    X = series[0].iloc[:300]
    a = tiny().fit(X).score_samples(X)
    b = tiny().fit(X * [1.0, 1000.0, 1e-3]).score_samples(X * [1.0, 1000.0, 1e-3])
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


def test_scores_are_deterministic_and_seeded(series):
    X = series[0].iloc[:200]
    a, b, c = tiny(random_state=3).fit(X), tiny(random_state=3).fit(X), tiny(random_state=4).fit(X)
    np.testing.assert_array_equal(a.score_samples(X), a.score_samples(X))
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert not np.allclose(a.score_samples(X), c.score_samples(X))


# ----------------------------------------------------------- graph and modalities
def test_graph_is_the_edge_type_stack_of_the_training_part(fitted, series):
    X, _ = series
    assert fitted.graph_.shape == (6, 3, 3) and fitted.edge_types_ == EDGE_TYPES
    expected = edge_type_stack(X.iloc[:270].to_numpy(), ["metric", "log", "trace"])
    np.testing.assert_allclose(fitted.graph_, expected)  # the held-out tail is left out
    assert expected[3, 0, 1] > 0 and expected[0].sum() == 0  # metric-log; one metric only
    np.testing.assert_array_equal(fitted.net_.module_.adjacency.numpy(), fitted.graph_)


def test_modalities_auto_reads_the_column_prefixes(fitted, series):
    X, _ = series
    assert list(fitted.modality_) == ["metric", "log", "trace"]
    listed = tiny(modalities=["metric", "log", "trace"]).fit(X.to_numpy()[:300])
    np.testing.assert_array_equal(listed.graph_, fitted.graph_)
    # Arrays carry no names: "auto" makes every column a metric.
    assert list(tiny(modalities="auto").fit(X.to_numpy()[:100]).modality_) == ["metric"] * 3


def test_modalities_auto_names_the_columns_without_prefix(no_training, series):
    X = series[0].rename(columns={"log__svc__info": "info_lines", "trace__svc__p95": "p95"})
    with pytest.raises(ValueError, match=r"info_lines.*p95|p95.*info_lines") as error:
        tiny(modalities="auto").fit(X)
    assert "modalities" in str(error.value)


def test_modalities_series_is_matched_on_column_names(series):
    X = series[0].iloc[:200]
    modality = pd.Series(["metric", "log", "trace"], index=NAMES)
    reordered = tiny(modalities=modality.iloc[::-1]).fit(X)
    assert list(reordered.modality_) == ["metric", "log", "trace"]


def test_modalities_series_with_other_names_is_refused(no_training, series):
    X = series[0].iloc[:200]
    wrong = pd.Series(["metric", "log", "trace"], index=["metric__svc__cpu", "log__x", "y"])
    with pytest.raises(ValueError, match=r"log__svc__info.*trace__svc__p95.*log__x.*'y'"):
        tiny(modalities=wrong).fit(X)


# ------------------------------------------------------- calibration size
def test_too_few_held_out_steps_for_dspot_is_refused_before_training(no_training, series):
    X = series[0]  # 700 steps, 70 held out
    with pytest.raises(ValueError, match=r"needs at least 502 .* validation_fraction=0\.1 "
                                         r"holds out 70 of the 700 .* at least 0\.72"):
        tiny(threshold=DSPOTThreshold(q=1e-4, depth=500, level=0.98)).fit(X)


def test_too_few_peaks_for_spot_warns_before_training(no_training, series):
    X = series[0]
    with pytest.warns(TailFitWarning, match=r"about 1 peaks of the 70 held-out .* needs 10, "
                                            r"i\.e\. 500 held-out steps"):
        with pytest.raises(AssertionError, match="training started"):
            tiny(threshold=SPOTThreshold(q=1e-4, level=0.98)).fit(X)


def test_enough_held_out_steps_calibrate_dspot(series):
    X = series[0]
    det = tiny(validation_fraction=0.75, threshold=DSPOTThreshold(depth=100, level=0.9))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TailFitWarning)
        det.fit(X)
    assert det.thresholder_.n_samples_seen_ == 525


# --------------------------------------------------------- sklearn tooling
def test_pipeline_gridsearch_and_skorch_params(series):
    X, y = series
    pipe = make_pipeline(StandardScaler().set_output(transform="pandas"),
                         tiny(modalities="auto", threshold=PercentileThreshold()))
    grid = GridSearchCV(
        pipe, {"anofusiondetector__module__hidden_dim": [2, 3],
               "anofusiondetector__threshold__q": [0.9],
               "anofusiondetector__optimizer__lr": [1e-3]},
        cv=TimeSeriesSplit(n_splits=2), scoring=anomaly_average_precision_scorer)
    grid.fit(X, np.where(y == 1, -1, 1))
    best = grid.best_estimator_[-1]
    assert best.net_.module_.heads.weight.shape[-1] == grid.best_params_[
        "anofusiondetector__module__hidden_dim"]
    assert best.net_.optimizer_.param_groups[0]["lr"] == 1e-3
    assert list(best.modality_) == ["metric", "log", "trace"]


def test_clone_and_joblib_round_trip_give_identical_scores(fitted, series, tmp_path):
    X = series[0].iloc[:300]
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and not hasattr(twin, "net_")
    np.testing.assert_array_equal(twin.fit(X).score_samples(X), fitted.score_samples(X))
    path = tmp_path / "det.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    assert loaded.net_.train_split is None


def test_net_is_a_forecast_net(fitted):
    assert type(fitted.net_) is nets.ForecastNet


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
    (np.zeros((20, 3)), {"modalities": "automatic"}, "modalities"),
    (np.zeros((20, 3)), {"modalities": {"metric": ["cpu", 1, 2]}}, "no column names"),
    (np.zeros((20, 3)), {"modalities": {"metric": [0, 1, 7]}}, "X has 3 columns"),
    (np.zeros((20, 3)), {"modalities": pd.Series(["metric"] * 3, index=list("abc"))},
     "no column names to match"),
    (np.zeros((20, 3)), {"score_rule": "mean"}, "score_rule"),
    (np.zeros((20, 3)), {"hidden_dimm": 5}, "Unknown parameter"),
    (pd.DataFrame({"a": np.zeros(20), "host": ["x"] * 20}), {}, r"non-numeric column"),
])
def test_bad_input_is_rejected_before_training(no_training, X, params, match):
    with pytest.raises(ValueError, match=match):
        tiny(**params).fit(X)


def test_scoring_checks_features_and_length(fitted, series):
    X = series[0].to_numpy()
    with pytest.raises(ValueError, match="expecting 3 features"):
        fitted.predict(X[:50, :2])
    with pytest.raises(ValueError, match="needs at least 5"):
        fitted.score_samples(pd.DataFrame(X[:4], columns=NAMES))


@pytest.mark.parametrize("rule", ["sum_squared", "max_robust"])
def test_error_floor_keeps_a_channel_idle_in_calibration_from_dominating(series, rule):
    X = series[0].iloc[:300].copy()
    X.iloc[270:, 2] = X.iloc[:270, 2].mean()  # idle in the held-out tail: tiny errors there
    busy = series[0].iloc[300:400]  # the channel moves again, as in training
    low = tiny(score_rule=rule, error_floor=0.0, score_window=1).fit(X)
    high = tiny(score_rule=rule, error_floor=1.0, score_window=1).fit(X)
    floor = 1.0  # training standard deviations: |e| for max_robust, e**2 for sum_squared
    assert high.channel_scale_.min() >= floor
    assert low.channel_scale_[2] < floor  # what the floor guards against
    share = lambda det: (np.abs(det.channel_scores(busy))[:, 2].mean()  # noqa: E731
                         / np.abs(det.channel_scores(busy)).sum(axis=1).mean())
    assert share(high) < share(low)


def test_validation_loss_forecasts_only_held_out_steps(series):
    X = series[0].iloc[:300].to_numpy()
    det = tiny(modalities=None, score_window=5, max_epochs=1).fit(X)
    train, held = det._split(X)
    dataset = det._make_dataset(held, "cpu")
    # one target per held-out step (ceil(0.1 * 300) = 30), the first being step 270
    assert len(train) == 270 and len(dataset) == 30
    np.testing.assert_allclose(dataset[0][1].numpy(), (X[270] - det.center_) / det.scale_,
                               rtol=1e-5)
