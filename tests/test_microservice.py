"""Tests of make_microservice_telemetry (raw telemetry contract, fault effects) and
fault_labels."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from skanomaly.datasets import (
    CROSS_MODAL_FAULT_TYPES,
    FAULT_TYPES,
    fault_labels,
    make_microservice_telemetry,
)

POD_SUFFIX = re.compile(r"-[a-z0-9]{8,10}-[a-z0-9]{5}$")
SPAN_COLS = ["trace_id", "span_id", "parent_id", "pod", "service", "operation", "start",
             "end", "duration", "status"]


@pytest.fixture(scope="module")
def data():
    # two of every fault type, one day of training, two days with faults
    return make_microservice_telemetry(
        n_services=6, n_minutes=4320, n_faults=14, n_train_minutes=1440,
        log_lines_per_minute=20, traces_per_minute=3, random_state=7)


def _minutes(d, fault):
    idx = d.metrics.index
    return (idx >= fault.time) & (idx < fault.end)


def _residual(d, pod, y_name, x_name="request_rate", degree=1):
    """Channel minus its polynomial fit on another channel, over the training minutes,
    in units of the training residual's standard deviation."""
    m, n = d.metrics, d.n_train_minutes
    x, y = m[f"{pod}__{x_name}"].to_numpy(), m[f"{pod}__{y_name}"].to_numpy()
    coef = np.polyfit(x[:n], y[:n], degree)
    res = y - np.polyval(coef, x)
    return res / res[:n].std()


def _in_train_range(d, column, minutes):
    train = d.metrics[column].iloc[:d.n_train_minutes]
    v = d.metrics.loc[minutes, column]
    return ((v >= train.min()) & (v <= train.max())).mean()


def _log_counts(d, pod):
    logs = d.logs[d.logs["pod"] == pod]
    key = logs["message"].str.replace(r"[0-9a-f]{16}|\d+", "#", regex=True)
    return pd.crosstab(logs["time"].dt.floor("min"), key).reindex(d.metrics.index, fill_value=0)


# ------------------------------------------------------------------ contract


def test_deterministic_under_random_state():
    kw = dict(n_services=4, n_minutes=400, n_faults=3, n_train_minutes=100)
    a = make_microservice_telemetry(random_state=3, **kw)
    b = make_microservice_telemetry(random_state=3, **kw)
    c = make_microservice_telemetry(random_state=4, **kw)
    for key in ("metrics", "logs", "spans", "faults", "call_graph"):
        pd.testing.assert_frame_equal(a[key], b[key])
    pd.testing.assert_series_equal(a.labels, b.labels)
    assert not a.metrics.equals(c.metrics) and a.pods != c.pods


def test_contract_columns_and_dtypes(data):
    m = data.metrics
    assert isinstance(m.index, pd.DatetimeIndex) and m.index.name == "time"
    assert (np.diff(m.index.asi8) == np.diff(m.index.asi8)[0]).all()
    assert pd.Timedelta(m.index.freq) == pd.Timedelta("1min")
    assert m.shape == (4320, 6 * 8)
    assert all(pd.api.types.is_float_dtype(t) for t in m.dtypes)
    assert np.isfinite(m.to_numpy()).all()
    assert {c.split("__")[0] for c in m.columns} == set(data.pods)

    logs = data.logs
    assert list(logs.columns) == ["time", "pod", "service", "message"]
    assert pd.api.types.is_datetime64_any_dtype(logs["time"])
    assert logs["time"].is_monotonic_increasing

    spans = data.spans
    assert list(spans.columns) == SPAN_COLS
    assert pd.api.types.is_datetime64_any_dtype(spans["start"])
    np.testing.assert_allclose(
        spans["duration"], (spans["end"] - spans["start"]).dt.total_seconds(), atol=1e-9)
    assert set(spans["status"]) == {"ok", "error"}

    faults = data.faults
    assert list(faults.columns) == ["time", "end", "pod", "service", "type"]
    assert pd.api.types.is_datetime64_any_dtype(faults["time"])
    assert pd.api.types.is_datetime64_any_dtype(faults["end"])
    assert list(data.call_graph.columns) == ["source", "target", "calls"]
    assert isinstance(data.descr, str)


def test_pod_names_map_to_services(data):
    for pod, svc in zip(data.pods, data.services):
        assert POD_SUFFIX.search(pod) and POD_SUFFIX.sub("", pod) == svc
    for table in (data.logs, data.spans, data.faults):
        stripped = table["pod"].str.replace(POD_SUFFIX, "", regex=True)
        assert (stripped == table["service"]).all()


def test_call_graph_is_a_dag_rooted_at_the_frontend(data):
    order = {s: i for i, s in enumerate(data.services)}
    g = data.call_graph
    assert data.services[0] == "frontend"
    assert (g["source"].map(order) < g["target"].map(order)).all()
    assert set(g["target"]) == set(data.services[1:])  # every service is called


def test_spans_follow_the_call_graph(data):
    spans = data.spans.set_index("span_id")
    assert spans.index.is_unique
    child = spans[spans["parent_id"] != "root"]
    parent = spans.loc[child["parent_id"]]
    assert (parent["trace_id"].to_numpy() == child["trace_id"].to_numpy()).all()
    edges = set(zip(data.call_graph["source"], data.call_graph["target"]))
    assert set(zip(parent["service"], child["service"])) <= edges
    # a callee's span lies inside its caller's (1 µs slack for rounding)
    slack = pd.Timedelta("1us")
    assert (child["start"].to_numpy() >= parent["start"].to_numpy() - slack).all()
    assert (child["end"].to_numpy() <= parent["end"].to_numpy() + slack).all()
    roots = spans[spans["parent_id"] == "root"]
    assert (roots["service"] == "frontend").all() and roots["trace_id"].is_unique


def test_span_latency_matches_the_latency_metric(data):
    n = data.n_train_minutes
    spans = data.spans[data.spans["start"] < data.metrics.index[n]]
    for pod, svc in zip(data.pods, data.services):
        span_mean = spans.loc[spans["service"] == svc, "duration"].mean()
        metric_mean = data.metrics[f"{pod}__latency_mean"].iloc[:n].mean()
        assert 0.8 < span_mean / metric_mean < 1.25, svc


def test_normal_period_has_logs_spans_warns_and_rare_errors(data):
    n = data.n_train_minutes
    train_end = data.metrics.index[n]
    logs = data.logs[data.logs["time"] < train_end]
    assert set(logs["pod"]) == set(data.pods)
    assert set(data.spans.loc[data.spans["start"] < train_end, "service"]) == set(data.services)
    level = logs["message"].str.split(" ", n=1).str[0]
    share = level.value_counts(normalize=True)
    assert share["INFO"] + share["DEBUG"] > 0.85
    assert 0 < share["WARN"] < 0.1 and 0 < share["ERROR"] < 0.03
    # variable parts: a template's lines are not all the same string
    assert logs["message"].nunique() > 0.5 * len(logs)
    # log volume follows load
    volume = logs.groupby(logs["time"].dt.floor("min")).size()
    rate = data.metrics[f"{data.pods[0]}__request_rate"].iloc[:n]
    assert np.corrcoef(volume.reindex(rate.index, fill_value=0), rate)[0, 1] > 0.8


def test_faults_layout_and_labels(data):
    faults, n = data.faults, data.n_train_minutes
    idx = data.metrics.index
    assert sorted(faults["type"]) == sorted(FAULT_TYPES * 2)
    assert (faults["time"] >= idx[n]).all() and (faults["end"] <= idx[-1] + idx.freq).all()
    length = (faults["end"] - faults["time"]) / pd.Timedelta("1min")
    assert length.between(5, 30).all()
    gaps = (faults["time"].iloc[1:].to_numpy() - faults["end"].iloc[:-1].to_numpy())
    assert (gaps >= np.timedelta64(30, "m")).all()
    pd.testing.assert_series_equal(data.labels, fault_labels(idx, faults))
    assert data.labels.iloc[:n].sum() == 0
    assert data.labels.sum() == length.sum()


# --------------------------------------------------------------- fault effects


def _faults(d, kind):
    return [f for _, f in d.faults.iterrows() if f.type == kind]


def test_cpu_hog_raises_cpu_and_latency(data):
    for f in _faults(data, "cpu_hog"):
        sl = _minutes(data, f)
        assert _residual(data, f.pod, "cpu_usage")[sl].mean() > 5
        assert _residual(data, f.pod, "latency_mean", degree=3)[sl].mean() > 2


def test_memory_leak_grows_memory_and_gc_warnings(data):
    for f in _faults(data, "memory_leak"):
        mem = data.metrics[f"{f.pod}__memory_usage"]
        during = mem[_minutes(data, f)]
        assert during.iloc[-1] > mem.iloc[:data.n_train_minutes].max()
        assert np.corrcoef(np.arange(len(during)), during)[0, 1] > 0.9
        counts = _log_counts(data, f.pod)
        gc = [c for c in counts.columns if "GC pause" in c]
        assert counts.loc[_minutes(data, f), gc].sum().sum() > 5 * max(
            counts[gc].iloc[:data.n_train_minutes].mean().sum() * len(during), 1)


def test_network_delay_slows_the_pod_and_its_spans(data):
    for f in _faults(data, "network_delay"):
        sl = _minutes(data, f)
        lat = data.metrics[f"{f.pod}__latency_mean"]
        assert lat[sl].iloc[3:].min() > lat.iloc[:data.n_train_minutes].max()
        spans = data.spans[data.spans["service"] == f.service]
        inside = (spans["start"] >= f.time) & (spans["start"] < f.end)
        assert spans.loc[inside, "duration"].median() > 2 * spans.loc[~inside, "duration"].median()


def test_exception_burst_errors_in_metrics_logs_and_spans(data):
    for f in _faults(data, "exception_burst"):
        sl = _minutes(data, f)
        assert data.metrics.loc[sl, f"{f.pod}__error_rate"].iloc[3:].min() > 0.03
        logs = data.logs[(data.logs["pod"] == f.pod)]
        inside = (logs["time"] >= f.time) & (logs["time"] < f.end)
        is_error = logs["message"].str.startswith("ERROR")
        assert is_error[inside].mean() > 10 * is_error[~inside].mean()
        spans = data.spans[data.spans["service"] == f.service]
        inside = (spans["start"] >= f.time) & (spans["start"] < f.end)
        assert (spans.loc[inside, "status"] == "error").mean() > 0.03


def test_log_mix_shift_keeps_volume_and_metrics_but_changes_the_mix(data):
    for f in _faults(data, "log_mix_shift"):
        sl, n = _minutes(data, f), data.n_train_minutes
        counts = _log_counts(data, f.pod)
        total = counts.sum(axis=1)
        assert ((total[sl] >= total.iloc[:n].min()) & (total[sl] <= total.iloc[:n].max())).all()
        # the total keeps its relation to load
        assert abs(_residual(data, f.pod, "cpu_usage")[sl].mean()) < 1.5
        # every template's count stays in its training range ...
        for col in counts.columns:
            assert counts.loc[sl, col].max() <= counts[col].iloc[:n].max() + 1
        # ... while the shares move: the most common template loses at least a third
        top = counts.iloc[:n].sum().idxmax()
        share_before = counts[top].iloc[:n].sum() / total.iloc[:n].sum()
        share_during = counts.loc[sl, top].sum() / total[sl].sum()
        assert share_during < 0.67 * share_before


def test_latency_throughput_break_inside_the_normal_range(data):
    for f in _faults(data, "latency_throughput_break"):
        sl = _minutes(data, f)
        for name in ("request_rate", "latency_mean"):
            assert _in_train_range(data, f"{f.pod}__{name}", sl) > 0.9
        # latency is far above what the load would give
        assert _residual(data, f.pod, "latency_mean", degree=3)[sl].mean() > 3


def test_joint_drift_inside_the_normal_range_but_off_the_load_relation(data):
    for f in _faults(data, "joint_drift"):
        sl = _minutes(data, f)
        for name in ("cpu_usage", "memory_usage", "request_rate"):
            assert _in_train_range(data, f"{f.pod}__{name}", sl) > 0.9
        assert abs(_residual(data, f.pod, "cpu_usage")[sl][3:].mean()) > 3


def test_cross_modal_faults_evade_a_per_channel_z_score(data):
    """A robust z-score per channel (metrics, per-pod log and template counts), max over
    channels, ranks cross-modal fault minutes near chance."""
    n = data.n_train_minutes
    counts = [_log_counts(data, p).add_prefix(p + "__") for p in data.pods]
    X = pd.concat([data.metrics] + counts, axis=1)
    train = X.iloc[:n]
    scale = (train.quantile(0.75) - train.quantile(0.25)).replace(0, 1) / 1.349
    score = ((X - train.median()) / scale).abs().max(axis=1).to_numpy()
    cross = data.faults["type"].isin(CROSS_MODAL_FAULT_TYPES)
    y = fault_labels(X.index, data.faults[cross]).to_numpy()
    other = fault_labels(X.index, data.faults[~cross]).to_numpy()
    keep = (np.arange(len(X)) >= n) & (other == 0)
    auc = roc_auc_score(y[keep], score[keep])
    assert auc < 0.75, auc
    # the same score does see the plain faults
    y_plain = other[np.arange(len(X)) >= n]
    assert roc_auc_score(y_plain, score[n:]) > auc


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, match", [
    (dict(fault_types=("cpu_hog", "meteor")), "fault_types"),
    (dict(fault_types=()), "fault_types"),
    (dict(n_faults=40), "need"),
    (dict(n_train_minutes=500), "n_train_minutes"),
    (dict(fault_duration=(10, 5)), "fault_duration"),
    (dict(fault_duration="long"), "fault_duration"),
    (dict(start="2024-01-01T00:00Z"), "naive"),
])
def test_bad_input(kwargs, match):
    base = dict(n_services=3, n_minutes=500, n_faults=2, n_train_minutes=100)
    with pytest.raises(ValueError, match=match):
        make_microservice_telemetry(**{**base, **kwargs})


def test_fault_types_selectable_and_no_faults():
    d = make_microservice_telemetry(n_services=3, n_minutes=300, n_faults=3,
                                    fault_types="cpu_hog", n_train_minutes=60, random_state=0)
    assert (d.faults["type"] == "cpu_hog").all() and len(d.faults) == 3
    d = make_microservice_telemetry(n_services=3, n_minutes=200, n_faults=0, fault_types=(),
                                    n_train_minutes=60, random_state=0)
    assert d.faults.empty and d.labels.sum() == 0
    assert list(d.faults.columns) == ["time", "end", "pod", "service", "type"]


# ---------------------------------------------------------------- fault_labels

IDX = pd.date_range("2024-01-01", periods=10, freq="min")


def _f(*rows, **extra):
    out = pd.DataFrame([{"time": pd.Timestamp(a), "end": pd.Timestamp(b) if b else pd.NaT}
                        for a, b in rows])
    for k, v in extra.items():
        out[k] = v
    return out


def test_fault_labels_partial_bins_and_boundaries():
    f = _f(("2024-01-01 00:01:30", "2024-01-01 00:03:00"),   # ends on a bin start
           ("2024-01-01 00:07:00", "2024-01-01 00:07:00.001"))
    assert fault_labels(IDX, f).tolist() == [0, 1, 1, 0, 0, 0, 0, 1, 0, 0]


def test_fault_labels_outside_and_overlapping_the_index():
    f = _f(("2023-12-31 23:00", "2024-01-01 00:02"), ("2024-01-01 00:09:30", "2024-01-02"),
           ("2025-01-01", "2025-01-02"), ("2024-01-01 00:01", "2024-01-01 00:02"))
    assert fault_labels(IDX, f).tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]


def test_fault_labels_freq_and_gaps():
    idx = IDX[[0, 1, 5, 6]]  # a gap: bins keep the smallest step
    f = _f(("2024-01-01 00:02", "2024-01-01 00:04"))
    assert fault_labels(idx, f).tolist() == [0, 0, 0, 0]
    assert fault_labels(idx, f, freq="3min").tolist() == [1, 1, 0, 0]


def test_fault_labels_per_service_and_pod():
    f = _f(("2024-01-01 00:01", "2024-01-01 00:03"), ("2024-01-01 00:02", "2024-01-01 00:05"),
           service=["a", "b"], pod=["a-x", "b-y"])
    by = fault_labels(IDX, f, by="service", columns=["a", "b", "c"])
    assert list(by.columns) == ["a", "b", "c"] and by.dtypes.eq(np.int8).all()
    assert by["a"].tolist()[:6] == [0, 1, 1, 0, 0, 0]
    assert by["b"].tolist()[:6] == [0, 0, 1, 1, 1, 0] and by["c"].sum() == 0
    assert list(fault_labels(IDX, f, by="pod").columns) == ["a-x", "b-y"]
    with pytest.raises(ValueError, match="not in columns"):
        fault_labels(IDX, f, by="service", columns=["a"])
    with pytest.raises(ValueError, match="'pod' column"):
        fault_labels(IDX, f.drop(columns="pod"), by="pod")


def test_fault_labels_default_duration_and_empty():
    f = _f(("2024-01-01 00:02", None))
    with pytest.raises(ValueError, match="default_duration"):
        fault_labels(IDX, f)
    assert fault_labels(IDX, f, default_duration="2min").sum() == 2
    assert fault_labels(IDX, f.drop(columns="end"), default_duration="1min").sum() == 1
    empty = fault_labels(IDX, f.iloc[:0])
    assert empty.sum() == 0 and empty.name == "label" and empty.index.equals(IDX)


@pytest.mark.parametrize("index, faults, err, match", [
    (np.arange(3), _f(("2024-01-01", "2024-01-02")), TypeError, "DatetimeIndex"),
    (IDX[::-1], _f(("2024-01-01", "2024-01-02")), ValueError, "sorted"),
    (IDX, _f(("2024-01-01 00:05", "2024-01-01 00:01")), ValueError, "end at or before"),
    (IDX, pd.DataFrame({"start": [1]}), ValueError, "'time' column"),
    (pd.DatetimeIndex(["2024-01-01"]), _f(("2024-01-01", "2024-01-02")), ValueError, "freq"),
    (IDX.tz_localize("UTC"), _f(("2024-01-01", "2024-01-02")), ValueError, "time-zone"),
])
def test_fault_labels_bad_input(index, faults, err, match):
    with pytest.raises(err, match=match):
        fault_labels(index, faults)
