"""Tests of MultimodalVAEDetector and the fusion module."""

import copy
import io

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from skorch.helper import SliceDict

from skanomaly import base
from skanomaly.detectors import MultimodalVAEDetector
from skanomaly.modules import MultimodalVAE, product_of_experts
from skanomaly.thresholds import PercentileThreshold

torch.set_num_threads(1)

TINY = dict(latent_dim=2, hidden_dim=8, hidden_channels=(4,), n_heads=2, max_epochs=2,
            batch_size=32, random_state=0, device="cpu")


# scikit-learn's estimator checks, clone, pickle and GridSearchCV: tests/test_common.py.


def test_default_training_budget_counts_optimiser_steps(monkeypatch):
    assert MultimodalVAEDetector().get_params()["max_epochs"] is None
    monkeypatch.setattr(base, "TRAINING_STEPS", 6)
    X = _views(n=80)
    # 80 samples, 8 held out: 72 training samples, 3 steps an epoch of 32, so 2 epochs.
    det = MultimodalVAEDetector(**{**TINY, "max_epochs": None, "early_stopping": False}).fit(X)
    assert len(det.net_.history) == 2
    det.set_params(max_epochs=3).fit(X)
    assert len(det.net_.history) == 3


def test_scores_do_not_depend_on_the_batch():
    X = _views(n=40)
    det = MultimodalVAEDetector(**TINY).fit(X)
    full = det.score_samples(X)
    alone = np.concatenate([det.score_samples({k: v[i:i + 1] for k, v in X.items()})
                            for i in range(0, 40, 7)])
    np.testing.assert_allclose(alone, full[::7], rtol=1e-4, atol=1e-5)
    det.set_params(iterator_valid__batch_size=3)
    np.testing.assert_allclose(det.score_samples(X), full, rtol=1e-4, atol=1e-5)


def test_channel_scores_are_the_weighted_shares_of_the_score():
    X = _views(n=40)
    det = MultimodalVAEDetector(kl_score_weight=0.5, modality_weights={"ts": 2.0},
                                **TINY).fit(X)
    shares = det.channel_scores(X)
    assert shares.shape == (40, 4)  # img, ts, tab, kl
    np.testing.assert_allclose(shares.sum(axis=1), -det.score_samples(X), rtol=1e-10)


def _views(n=80, seed=0):
    """An image, a 2-channel series and a table, all driven by one latent factor."""
    rng = np.random.RandomState(seed)
    t = rng.rand(n, 1, 1).astype(np.float32)
    img = t[..., None] * np.ones((n, 1, 6, 5), np.float32) + 0.05 * rng.randn(n, 1, 6, 5)
    steps = np.linspace(0, 3, 12, dtype=np.float32)
    ts = np.concatenate([np.sin(steps + 3 * t), np.cos(steps + 3 * t)], axis=1)
    tab = np.hstack([t[:, 0], t[:, 0] ** 2, 1 - t[:, 0]]) + 0.05 * rng.randn(n, 3)
    ts = ts + 0.05 * rng.randn(*ts.shape)
    return {"img": img.astype(np.float32), "ts": ts.astype(np.float32),
            "tab": tab.astype(np.float32)}


def test_poe_includes_prior_expert():
    mus = torch.tensor([[[2.0]]])
    logvars = torch.zeros(1, 1, 1)
    mu, logvar = product_of_experts(mus, logvars, torch.ones(1, 1))
    # One unit-variance expert at 2 and the prior N(0, 1): mean 1, variance 1/2.
    assert torch.allclose(mu, torch.tensor([[1.0]]))
    assert torch.allclose(logvar.exp(), torch.tensor([[0.5]]))
    mu, logvar = product_of_experts(mus, logvars, torch.zeros(1, 1))
    assert torch.allclose(mu, torch.zeros(1, 1)) and torch.allclose(logvar, torch.zeros(1, 1))


@pytest.mark.parametrize("fusion", ["poe", "moe", "concat"])
@pytest.mark.parametrize("cross_attention", [False, True])
def test_fusions_keep_latent_dim(fusion, cross_attention):
    vae = MultimodalVAE({"img": (1, 6, 5), "ts": (2, 12), "tab": (3,)}, latent_dim=3,
                        fusion=fusion, hidden_dim=8, hidden_channels=(4,),
                        cross_attention=cross_attention, n_heads=2)
    batch = {k: torch.as_tensor(v[:4]) for k, v in _views().items()}
    rec, mu, logvar, kl = vae(**batch)[:4]
    assert mu.shape == (4, 3) and kl.shape == (4,)
    assert {k: tuple(v.shape) for k, v in rec.items()} == {
        k: tuple(v.shape) for k, v in batch.items()}


def test_cross_attention_runs_each_encoder_once():
    vae = MultimodalVAE({"a": (3,), "b": (4,)}, latent_dim=2, hidden_dim=8,
                        cross_attention=True, n_heads=2)
    calls = []
    for name in ("a", "b"):
        vae.encoders[name].register_forward_hook(lambda *args, n=name: calls.append(n))
    vae(a=torch.zeros(2, 3), b=torch.zeros(2, 4))
    assert sorted(calls) == ["a", "b"]


def test_dict_input_kinds_missing_modality_and_parts():
    X = _views()
    X["tab"][5] = np.nan  # sample 5 misses the table
    det = MultimodalVAEDetector(kl_score_weight=1.0, **TINY).fit(SliceDict(**X))
    assert det.modality_kinds_ == {"img": "image", "ts": "timeseries", "tab": "tabular"}
    parts = det.modality_scores(X)
    assert set(parts) == {"img", "ts", "tab", "kl"}
    assert np.isnan(parts["tab"][5]) and np.isfinite(parts["img"][5])
    scores = det.score_samples(X)
    assert scores.shape == (80,) and np.all(np.isfinite(scores))
    # The score is the mean of the standardised parts (KL weight 1).
    stacked = np.stack([parts[k] for k in ("img", "ts", "tab", "kl")], axis=1)
    np.testing.assert_allclose(-scores, np.nanmean(stacked, axis=1), rtol=1e-6)


def test_modality_weights_weigh_the_parts_of_present_modalities():
    X = _views()
    X["tab"][5] = np.nan
    weights = {"img": 3.0, "tab": 0.5}
    det = MultimodalVAEDetector(modality_weights=weights, **TINY).fit(X)
    assert det.modality_weights == weights  # the parameter is kept as given
    assert det.modality_weights_ == {"img": 3.0, "ts": 1.0, "tab": 0.5}
    parts = det.modality_scores(X)
    w = np.array([3.0, 1.0, 0.5])
    stacked = np.stack([parts[k] for k in ("img", "ts", "tab")], axis=1)
    present = np.isfinite(stacked)
    expected = (np.nan_to_num(stacked) * w).sum(axis=1) / (present * w).sum(axis=1)
    np.testing.assert_allclose(-det.score_samples(X), expected, rtol=1e-6)
    # Sample 5 misses the table: its score is the weighted mean of the other two.
    assert expected[5] == pytest.approx((3 * parts["img"][5] + parts["ts"][5]) / 4)


def test_threshold_is_fitted_on_the_held_out_scores():
    # Calibration scores the held-out tail once; the threshold must be the one
    # score_samples gives on that tail.
    X = _views()
    det = MultimodalVAEDetector(validation_fraction=0.25,
                                threshold=PercentileThreshold(q=0.9), **TINY).fit(X)
    tail = {k: v[60:] for k, v in X.items()}
    expected = PercentileThreshold(q=0.9).fit(-det.score_samples(tail)).threshold_
    assert det.offset_ == pytest.approx(-expected, rel=1e-9)


def test_table_with_column_names_and_shapes():
    X = _views()
    table = pd.DataFrame(np.hstack([X["img"].reshape(80, -1), X["tab"]]),
                         columns=[f"p{i}" for i in range(30)] + ["u", "v", "w"])
    det = MultimodalVAEDetector(
        modalities={"img": [f"p{i}" for i in range(30)], "tab": ["u", "v", "w"]},
        modality_shapes={"img": (1, 6, 5)}, fusion="concat", **TINY,
    ).fit(table)
    assert det.modalities_ == {"img": (1, 6, 5), "tab": (3,)}
    assert det.n_features_in_ == 33 and det.score_samples(table).shape == (80,)


def test_detects_broken_agreement_between_views():
    X = _views(n=240)
    det = MultimodalVAEDetector(latent_dim=2, hidden_dim=16, hidden_channels=(8,),
                                max_epochs=25, lr=3e-3, random_state=0, device="cpu")
    det.fit({k: v[:200] for k, v in X.items()})
    test = {k: v[200:].copy() for k, v in X.items()}
    test["tab"][:20] = test["tab"][:20][::-1]  # the table no longer matches the other views
    scores = det.score_samples(test)
    assert scores[:20].mean() < scores[20:].mean()


def test_same_random_state_same_scores_and_joblib():
    X = _views()
    a = MultimodalVAEDetector(fusion="moe", **TINY).fit(X)
    b = MultimodalVAEDetector(fusion="moe", **TINY).fit(X)
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    buffer = io.BytesIO()
    joblib.dump(a, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(a.score_samples(X), joblib.load(buffer).score_samples(X))


def test_grid_search_over_fusion_architecture_threshold():
    X = _views(n=60)
    y = np.ones(60, dtype=int)
    X["tab"][-10:] += 3.0
    y[-10:] = -1
    search = GridSearchCV(
        MultimodalVAEDetector(**{**TINY, "max_epochs": 1}),
        {"fusion": ["poe", "concat"], "latent_dim": [2, 3],
         "modality_weights": [None, {"tab": 0.5}],
         "threshold": [PercentileThreshold(q=0.9)]},
        scoring="roc_auc", cv=StratifiedKFold(2, shuffle=True, random_state=0),
    ).fit(SliceDict(**X), y)
    assert search.best_params_["fusion"] in ("poe", "concat")
    assert len(search.cv_results_["params"]) == 8
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def _never_trains(monkeypatch):
    from skanomaly import nets

    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(nets.VAENet, "fit", fail)


def _missing_everywhere():
    X = _views()
    X["tab"][:] = np.nan
    return X


def _partly_nan():
    X = _views()
    X["img"][3, 0, 0, 0] = np.nan
    return X


@pytest.mark.parametrize("kwargs, make_X, match", [
    ({}, _missing_everywhere, "every sample"),
    ({}, _partly_nan, "NaN values in 1 sample"),
    ({"fusion": "moe"}, lambda: {**_views(), "tab": np.vstack(
        [np.full((1, 3), np.nan), _views()["tab"][1:]])}, "fusion='moe'"),
    ({"modalities": {"a": [0, 1], "b": [1, 2]}}, lambda: np.zeros((20, 3)), "both"),
    ({"modalities": {"a": [0]}}, lambda: np.zeros((20, 3)), "belong to no modality"),
    ({"modalities": {"a": [0, 5]}}, lambda: np.zeros((20, 3)), "has 3 columns"),
    ({"modalities": {"a": ["x"]}}, lambda: np.zeros((20, 3)), "does not have"),
    ({}, lambda: np.zeros((20, 3)), "set modalities"),
    ({"modalities": {"a": [0]}}, _views, "leave it None"),
    ({"modality_shapes": {"tab": (2, 2)}}, _views, "holds 4"),
    ({}, lambda: {"a": np.zeros((5, 2)), "b": np.zeros((6, 2))}, "different numbers"),
    ({"modality_weights": {"table": 2.0}}, _views, "unknown modality"),
    ({"modality_weights": {"tab": 0.0}}, _views, "positive finite"),
    ({"modality_weights": {"tab": float("nan")}}, _views, "positive finite"),
])
def test_bad_input_fails_before_training(monkeypatch, kwargs, make_X, match):
    _never_trains(monkeypatch)
    with pytest.raises(ValueError, match=match):
        MultimodalVAEDetector(**kwargs).fit(make_X())


def test_unknown_or_absent_modality_at_predict():
    X = _views()
    det = MultimodalVAEDetector(**TINY).fit(X)
    with pytest.raises(ValueError, match="Unknown modality key"):
        det.predict({**X, "extra": X["tab"]})
    with pytest.raises(ValueError, match="lacks modality"):
        det.predict({"img": X["img"], "ts": X["ts"]})
    with pytest.raises(ValueError, match="shape"):
        det.predict({**X, "img": X["img"][:, :, :5]})


def test_channel_scales_put_channels_of_a_modality_on_one_scale():
    rng = np.random.RandomState(0)
    # Modality "a": channel 0 varies 10x more than channel 1.
    X = np.hstack([rng.randn(600, 1) * 10, rng.randn(600, 1), rng.randn(600, 2)])
    params = dict(modalities={"a": [0, 1], "b": [2, 3]}, latent_dim=2, max_epochs=10,
                  normalize_channels=True, random_state=0, device="cpu")
    det = MultimodalVAEDetector(**params).fit(X[:500])
    assert set(det.channel_scale_) == {"a", "b"}
    assert det.channel_scale_["a"].shape == (2,)
    assert (det.channel_scale_["a"] > 0).all()
    # A break of the small channel stands out once channels share one scale.
    broken = X[500:].copy()
    broken[:, 1] += 4.0
    normal_scores = -det.score_samples(X[500:])
    broken_scores = -det.score_samples(broken)
    assert np.median(broken_scores) > np.quantile(normal_scores, 0.95)
    plain = MultimodalVAEDetector(**{**params, "normalize_channels": False}).fit(X[:500])
    assert all((scale == 1).all() for scale in plain.channel_scale_.values())


def test_ssim_term_of_image_modalities_in_loss_and_score():
    from pytorch_msssim import ssim

    from skanomaly.detectors._multimodal import MultimodalELBOLoss

    X = _views()
    X["img"] = np.random.RandomState(1).rand(80, 1, 12, 12).astype(np.float32)
    det = MultimodalVAEDetector(ssim_weight=2.0, **TINY).fit(X)
    # Only the image modality gets an SSIM term, with its value range.
    assert set(det.data_ranges_) == {"img"}
    assert det.data_ranges_["img"] == pytest.approx(float(X["img"].max() - X["img"].min()))
    # The image part is its mean squared error + ssim_weight * (1 - SSIM).
    data = det._validate_score_input(X)
    module = copy.deepcopy(det._eval_module()).double()
    with torch.no_grad():
        rec, _ = module.reconstruct(**{k: torch.as_tensor(v, dtype=torch.float64)
                                       for k, v in data.items()})
    img = torch.as_tensor(data["img"], dtype=torch.float64)
    expected = ((rec["img"] - img) ** 2).mean(dim=(1, 2, 3)) + 2.0 * (
        1 - ssim(rec["img"], img, data_range=det.data_ranges_["img"], size_average=False,
                 win_size=11))
    np.testing.assert_allclose(det._raw_parts(data)["img"], expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(det._raw_parts(data)["tab"],
                               ((rec["tab"].numpy() - data["tab"]) ** 2).mean(axis=1), rtol=1e-5)
    # In the loss, the SSIM term counts once per pixel, beside the summed squared error.
    batch = {k: torch.as_tensor(v[:4]) for k, v in data.items()}
    y_pred = det.net_.module_.eval()(**batch)
    with_ssim = MultimodalELBOLoss(list(X), ssim_weight=2.0, data_ranges=det.data_ranges_)
    without = MultimodalELBOLoss(list(X), ssim_weight=0.0, data_ranges=det.data_ranges_)
    term = 2.0 * 144 * (1 - ssim(y_pred[0]["img"], batch["img"],
                                 data_range=det.data_ranges_["img"], size_average=False,
                                 win_size=11))
    torch.testing.assert_close(with_ssim(y_pred, batch) - without(y_pred, batch),
                               term.mean(), rtol=1e-4, atol=1e-4)


def test_scoring_accepts_a_modality_missing_in_every_sample_given():
    X = _views()
    det = MultimodalVAEDetector(**TINY).fit(X)
    without_tab = {**X, "tab": np.full_like(X["tab"], np.nan)}
    scores = det.score_samples(without_tab)
    parts = det.modality_scores(without_tab)
    assert np.isnan(parts["tab"]).all()
    np.testing.assert_allclose(-scores, (parts["img"] + parts["ts"]) / 2, rtol=1e-6)
    # One sample alone scores as it does among the others.
    alone = det.score_samples({k: v[7:8] for k, v in without_tab.items()})
    np.testing.assert_allclose(alone, scores[7:8], rtol=1e-9)
    with pytest.raises(ValueError, match="misses every modality"):
        det.score_samples({k: np.full_like(v[:2], np.nan) for k, v in X.items()})


@pytest.mark.parametrize("fusion", ["poe", "moe", "concat"])
def test_single_experts_are_trained_alone_with_poe_only(fusion):
    from skanomaly.detectors._multimodal import MASK_KEY, MultimodalELBOLoss

    torch.manual_seed(0)
    shapes = {"img": (1, 6, 5), "tab": (3,)}
    vae = MultimodalVAE(shapes, latent_dim=2, fusion=fusion, hidden_dim=8, hidden_channels=(4,),
                        train_single_experts=True)
    batch = {"img": torch.rand(4, 1, 6, 5), "tab": torch.rand(4, 3),
             MASK_KEY: torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])}
    inputs = {k: v for k, v in batch.items()}
    vae.eval()
    assert len(vae(**inputs)) == 4  # scoring never sees the extra outputs
    vae.train()
    out = vae(**inputs)
    if fusion != "poe":
        assert len(out) == 4
        return
    singles = out[4]
    assert set(singles) == {"img", "tab"}
    assert singles["img"][0].shape == (4, 1, 6, 5) and singles["tab"][1].shape == (4,)
    # The loss is the fused ELBO plus, for each present modality, its single-expert ELBO.
    loss = MultimodalELBOLoss(["img", "tab"], beta=0.5)
    mask = batch[MASK_KEY]
    extra = sum(mask[:, i] * (((singles[n][0] - batch[n]) ** 2).flatten(1).sum(1)
                              + 0.5 * singles[n][1]) for i, n in enumerate(["img", "tab"]))
    torch.testing.assert_close(loss(out, batch) - loss(out[:4], batch), extra.mean())
    # Switched off (the default), training returns the fused outputs only; with one
    # modality the expert alone is the fused posterior, so there is nothing to add.
    plain = MultimodalVAE(shapes, latent_dim=2, hidden_dim=8, hidden_channels=(4,)).train()
    assert len(plain(**inputs)) == 4
    alone = MultimodalVAE({"tab": (3,)}, latent_dim=2, hidden_dim=8,
                          train_single_experts=True).train()
    assert len(alone(tab=batch["tab"])) == 4


def test_detector_trains_single_experts_end_to_end():
    X = _views()
    X["tab"][5] = np.nan  # a training sample missing a view
    det = MultimodalVAEDetector(train_single_experts=True, **TINY).fit(X)
    plain = MultimodalVAEDetector(**TINY).fit(X)
    assert det.net_.module_.train_single_experts
    assert not plain.net_.module_.train_single_experts
    # The training loss carries one more ELBO per present view, about doubling it;
    # validation (eval mode) scores the fused ELBO alone in both.
    ratio = [net.history[0]["train_loss"] / net.history[0]["valid_loss"]
             for net in (det.net_, plain.net_)]
    assert ratio[0] > 1.5 * ratio[1]
    blank = {**X, "img": np.full_like(X["img"], np.nan)}
    assert np.isfinite(det.score_samples(blank)).all()
