"""Tests of TelemetryChannels / TelemetryFrames: raw tables to named channels."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from skanomaly.preprocessing import (
    MODALITIES,
    DrainTemplates,
    TelemetryChannels,
    TelemetryFrames,
    channel_modalities,
    default_service_of,
)

CART, API = "cart-7d9f8c6b5-x2k4p", "api-5f55b6cf68-qmx8k"
T0 = pd.Timestamp("2024-01-01")


def _raw(n=60, seed=0, pods=(CART, API)):
    """Two services, one pod each: metrics, logs (a chatty and a rare template), spans."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(T0, periods=n, freq="1min", name="time") + pd.Timedelta("7s")
    metrics = pd.DataFrame({f"{p}__cpu": rng.uniform(0, 1, n) for p in pods}, index=idx)
    rows = []
    for m in range(n):
        for p in pods:
            for k in range(3):
                rows.append((T0 + pd.Timedelta(minutes=m, seconds=10 * k + 1), p,
                             f"GET /items/{rng.integers(100)} took {rng.integers(50)} ms"))
            if m % 10 == 0:
                rows.append((T0 + pd.Timedelta(minutes=m, seconds=50), p,
                             f"cache miss for key {rng.integers(1000)}"))
    logs = pd.DataFrame(rows, columns=["time", "pod", "message"])
    n_sp = 4 * n
    start = T0 + pd.to_timedelta(rng.uniform(0, 60 * n, n_sp), unit="s")
    dur = rng.exponential(0.1, n_sp)
    spans = pd.DataFrame({
        "trace_id": np.arange(n_sp).astype(str), "span_id": np.arange(n_sp).astype(str),
        "parent_id": "root", "pod": rng.choice(list(pods), n_sp), "start": start,
        "end": start + pd.to_timedelta(dur, unit="s"), "duration": dur,
        "status": rng.choice(["ok", "error"], n_sp, p=[0.9, 0.1])})
    spans["service"] = spans["pod"].map(default_service_of)
    return {"metrics": metrics, "logs": logs, "spans": spans}


def test_columns_stable_named_and_finite():
    raw = _raw()
    tc = TelemetryChannels().fit(raw)
    names = tc.get_feature_names_out()
    assert set(channel_modalities(names)) == set(MODALITIES) == set(tc.modality_)
    assert [n.split("__")[1] for n in names[:2]] == ["api", "cart"]  # hashes stripped
    assert "trace__cart__error_rate" in names and "log__cart__other" in names
    # new data: a pod gone, an unseen pod, no spans at all
    new = _raw(n=20, seed=1, pods=(API, "new-5f55b6cf68-abcde"))
    new["spans"] = new["spans"].iloc[:0]
    with pytest.warns(UserWarning, match="unseen in.*fit.*new"):
        out = tc.transform(new)
    assert list(out.columns) == list(names) and out.shape[0] == 20
    assert np.isfinite(out.to_numpy()).all()
    assert (out.filter(like="log__cart").to_numpy() == 0).all()       # counts: 0
    assert (out["metric__cart__cpu"] == tc.fill_values_["metric__cart__cpu"]).all()
    assert (out["trace__api__count"] == 0).all()
    again = tc.fit_transform(raw)
    pd.testing.assert_frame_equal(again, tc.transform(raw))


def test_fill_rules_and_binning():
    raw = _raw(n=10)
    raw["metrics"].iloc[[0, 4, 5], 0] = np.nan  # leading NaN and a gap in cart's cpu
    tc = TelemetryChannels(log_channels=None, modalities=["metric", "trace"])
    out = tc.fit_transform(raw)
    cpu = raw["metrics"][f"{CART}__cpu"].to_numpy()
    assert out["metric__cart__cpu"].iloc[0] == np.nanmedian(np.r_[cpu[1:4], [cpu[3]] * 2,
                                                                  cpu[6:]])
    assert out["metric__cart__cpu"].iloc[5] == cpu[3]                 # carried forward
    assert out.index[0] == T0 and out.index.freqstr is None or out.index[1] - out.index[0] \
        == pd.Timedelta("1min")
    sp = raw["spans"]
    assert out.filter(like="__count").to_numpy().sum() == len(sp)


def test_scope_entity_and_service_of():
    raw = _raw()
    tc = TelemetryChannels(scope="cart").fit(raw)
    assert {n.split("__")[1] for n in tc.get_feature_names_out()} == {"cart"}
    with pytest.raises(ValueError, match=r"absent from the training data.*'api'"):
        TelemetryChannels(scope=["nope"]).fit(raw)
    pods = TelemetryChannels(entity="pod", log_channels=None).fit(raw).get_feature_names_out()
    assert f"metric__{CART}__cpu" in pods
    named = TelemetryChannels(service_of={CART: "shop", API: "shop"}, log_channels=None)
    assert {n.split("__")[1] for n in named.fit(raw).get_feature_names_out()} == {"shop"}
    assert default_service_of("adservice-v2-fd6989b7c-6xff2") == "adservice"
    assert default_service_of("ts-auth-mongo") == "ts-auth-mongo"


def test_max_log_channels_bounds_and_other_keeps_every_line():
    raw = _raw()
    tc = TelemetryChannels(max_log_channels=2, modalities=["log"], log_transform=None).fit(raw)
    out = tc.transform(raw)
    per_entity = pd.Series([n.split("__")[1] for n in out.columns]).value_counts()
    assert (per_entity == 2).all()
    assert out.to_numpy().sum() == len(raw["logs"])   # rare ids folded into "other"
    big = TelemetryChannels(max_log_channels=None, modalities=["log"]).fit(raw)
    assert len(big.get_feature_names_out()) > len(tc.get_feature_names_out())
    custom = TelemetryChannels(log_channels=DrainTemplates(sim_th=0.9), modalities=["log"])
    assert custom.fit(raw).log_parser_.sim_th == 0.9


def test_edge_columns_of_metrics_are_trace_channels():
    raw = _raw()
    raw["metrics"]["api->cart__Latency"] = 2.0
    tc = TelemetryChannels(log_channels=None).fit(raw)
    assert "trace__api->cart__Latency" in tc.get_feature_names_out()
    only = TelemetryChannels(modalities=["metric"]).fit(raw).get_feature_names_out()
    assert set(channel_modalities(only)) == {"metric"}
    edge = TelemetryChannels(trace_by="edge", log_channels=None, scope="cart").fit(raw)
    assert "trace__<root>->cart__count" in edge.get_feature_names_out()


def test_bad_input():
    raw = _raw(n=10)
    with pytest.raises(TypeError, match="dict or Bunch"):
        TelemetryChannels().fit([raw])
    with pytest.raises(ValueError, match="none of the tables"):
        TelemetryChannels().fit({"metric": raw["metrics"]})
    with pytest.raises(ValueError, match="holds no data"):
        TelemetryChannels().fit({"metrics": raw["metrics"].iloc[:0], "logs": None})
    with pytest.raises(TypeError, match=r"metrics column\(s\) \['x__s'\] are not numeric"):
        TelemetryChannels().fit({"metrics": raw["metrics"].assign(x__s="a")})
    with pytest.raises(ValueError, match="not named '<pod>__<metric>'"):
        TelemetryChannels().fit({"metrics": raw["metrics"].assign(cpu=1.0)})
    with pytest.raises(TypeError, match=r"logs\['time'\] must hold datetime64.*unit="):
        TelemetryChannels().fit({**raw, "logs": raw["logs"].assign(time=1.7e18)})
    with pytest.raises(ValueError, match="no 'message' column"):
        TelemetryChannels().fit({**raw, "logs": raw["logs"].drop(columns="message")})
    with pytest.raises(ValueError, match="'duration'.*or an 'end'"):
        TelemetryChannels().fit({**raw, "spans": raw["spans"].drop(columns=["duration", "end"])})
    late = raw["logs"].assign(time=raw["logs"]["time"] + pd.Timedelta("30D"))
    with pytest.raises(ValueError, match=r"telemetry\['logs'\] does not overlap"):
        TelemetryChannels().fit({**raw, "logs": late})
    epoch0 = raw["spans"].copy()
    epoch0.loc[7, "start"] = pd.Timestamp(0)
    with pytest.raises(ValueError, match=r"far outside.*row 7 \(1970-01-01"):
        TelemetryChannels().fit({**raw, "spans": epoch0})
    with pytest.raises(ValueError, match="Unknown trace_features"):
        TelemetryChannels(trace_features=["p99"]).fit(raw)
    with pytest.raises(ValueError, match="no 'status' or 'error'"):
        TelemetryChannels(trace_features=["error_rate"]).fit(
            {**raw, "spans": raw["spans"].drop(columns="status")})
    with pytest.raises(ValueError, match=r"modalities \['log'\] requested"):
        TelemetryChannels(modalities=["log"]).fit({"metrics": raw["metrics"]})
    with pytest.raises(ValueError, match="binned at 30s"):
        TelemetryChannels().fit(TelemetryFrames(raw, freq="30s"))


def test_frames_slice_like_rows():
    raw = _raw(n=30)
    frames = TelemetryFrames(raw)
    assert len(frames) == 30 and frames.shape == (30,)
    part = frames[np.arange(10, 20)]
    assert len(part) == 10 and part.bins[0] == T0 + pd.Timedelta("10min")
    assert part.tables["logs"]["time"].between(part.bins[0], part.bins[-1] +
                                               pd.Timedelta("1min")).all()
    assert len(frames[np.arange(3), ...]) == 3 and "30 bins of 60s" in repr(frames)
    tc = TelemetryChannels().fit(frames[:20])   # fitted on the first 20 minutes only
    out = tc.transform(frames[20:])
    assert out.index.equals(frames.bins[20:]) and tc.transform(raw).shape[0] == 30
    with pytest.raises(ValueError, match="no time bin"):
        tc.transform(frames[[]])
    with pytest.raises(IndexError, match="one axis"):
        frames[:, 0]


def test_global_pandas_output():
    from sklearn import config_context

    raw = _raw(n=10)
    with config_context(transform_output="pandas"):
        out = TelemetryChannels().fit(raw).transform(raw)
    pd.testing.assert_frame_equal(out, TelemetryChannels().fit(raw).transform(raw))


def test_clone_and_pickle():
    raw = _raw(n=20)
    tc = TelemetryChannels(scope=["cart"], max_log_channels=3)
    assert clone(tc).get_params() == tc.get_params()
    tc.fit(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = pickle.loads(pickle.dumps(tc)).transform(raw)
    pd.testing.assert_frame_equal(again, tc.transform(raw))


def _anofusion_auto():
    from skanomaly.detectors import AnoFusionDetector

    det = AnoFusionDetector(modalities="auto", window_size=4, hidden_dim=4, n_heads=1,
                            gtn_channels=1, gtn_layers=1, max_epochs=1, device="cpu",
                            random_state=0)
    try:
        det._validate_params()
    except (ValueError, TypeError):
        pytest.skip("AnoFusionDetector(modalities='auto') has not landed yet")
    return det


def test_pipeline_fit_tune_pickle():
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    from sklearn.pipeline import make_pipeline

    det = _anofusion_auto()
    frames = TelemetryFrames(_raw(n=60))
    y = np.ones(len(frames), dtype=int)
    y[[30, 31, 50, 51]] = -1  # +1 normal, -1 anomalous; one pair in each validation fold
    pipe = make_pipeline(TelemetryChannels(max_log_channels=2), det)
    search = GridSearchCV(pipe, {"telemetrychannels__trace_features": [["count"],
                                                                       ["count", "lat_mean"]]},
                          cv=TimeSeriesSplit(2, test_size=20), scoring="roc_auc")
    search.fit(frames, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = pickle.loads(pickle.dumps(search.best_estimator_))
    assert best.predict(frames[40:]).shape == (20,)
    fitted = best.named_steps["anofusiondetector"]
    assert list(fitted.feature_names_in_) == list(
        best.named_steps["telemetrychannels"].get_feature_names_out())


def test_gridsearch_splits_raw_telemetry_by_bin():
    from sklearn.ensemble import IsolationForest
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    from sklearn.pipeline import make_pipeline

    frames = TelemetryFrames(_raw(n=60))
    y = np.ones(len(frames), dtype=int)
    y[[25, 26, 50, 51]] = -1
    pipe = make_pipeline(TelemetryChannels(), IsolationForest(random_state=0))
    search = GridSearchCV(pipe, {"telemetrychannels__max_log_channels": [2, 3]},
                          cv=TimeSeriesSplit(2, test_size=20), scoring="roc_auc").fit(frames, y)
    assert search.best_params_["telemetrychannels__max_log_channels"] in (2, 3)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = pickle.loads(pickle.dumps(search.best_estimator_))
    assert best.decision_function(frames[40:]).shape == (20,)


def test_channel_without_training_values_left_out_with_warning():
    raw = _raw(n=10)
    raw["metrics"][f"{CART}__mem"] = np.nan
    tc = TelemetryChannels(log_channels=None)
    with pytest.warns(UserWarning, match=r"1 channel\(s\) hold no value.*metric__cart__mem"):
        tc.fit(raw)
    assert "metric__cart__mem" not in tc.get_feature_names_out()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, in fit
        tc.transform(raw)


def test_safe_persistence(tmp_path):
    from skanomaly.persistence import load, save

    raw = _raw(n=20)
    tc = TelemetryChannels(max_log_channels=3).fit(raw)
    save(tc, tmp_path / "tc.npz")
    pd.testing.assert_frame_equal(load(tmp_path / "tc.npz").transform(raw), tc.transform(raw))


def test_log_transform_sqrt_is_the_root_of_the_counts():
    raw = _raw()
    counts = TelemetryChannels(log_transform=None).fit(raw).transform(raw).filter(like="log__")
    roots = TelemetryChannels().fit(raw).transform(raw).filter(like="log__")
    assert counts.to_numpy().max() > 1  # the test would not tell the two apart otherwise
    np.testing.assert_allclose(roots.to_numpy(), np.sqrt(counts.to_numpy()))
    with pytest.raises(ValueError, match="log_transform"):
        TelemetryChannels(log_transform="log").fit(raw)
