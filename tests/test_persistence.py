"""skanomaly.persistence: fitted estimators saved and loaded without pickle."""

import io
import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import EarlyStopping

from skanomaly.detectors import (
    AnoFusionDetector,
    MultimodalVAEDetector,
    TimeSeriesVAEDetector,
    VisionVAEDetector,
)
from skanomaly.persistence import FORMAT, load, save, trusted_types
from skanomaly.preprocessing import DrainTemplates, LogHeaderParser, TraceWindowStats
from skanomaly.thresholds import (
    ContaminationThreshold,
    DSPOTThreshold,
    GaussianThreshold,
    GEVThreshold,
    MADThreshold,
    PercentileThreshold,
    RollingThreshold,
    SPOTThreshold,
)

torch.set_num_threads(1)


def round_trip(estimator, tmp_path):
    path = tmp_path / "model.npz"
    save(estimator, path)
    return load(path)


def _series(n=300, seed=0):
    rng = np.random.RandomState(seed)
    t = np.arange(n)
    return np.c_[np.sin(t / 8), 5 + 2 * np.sin(t / 8), np.cos(t / 8)] + 0.05 * rng.randn(n, 3)


def _detectors():
    rng = np.random.RandomState(0)
    tt = rng.rand(200, 1)
    Xm = np.hstack([np.sin(6 * tt) + 0.05 * rng.randn(200, 3), tt ** 2 + 0.05 * rng.randn(200, 2)])
    common = dict(max_epochs=2, random_state=0, device="cpu")
    return [
        (TimeSeriesVAEDetector(window_size=16, threshold=SPOTThreshold(q=1e-2, level=0.9),
                               **common),
         pd.DataFrame(_series(), columns=["cpu", "mem", "latency"])),
        (AnoFusionDetector(modalities={"metric": [0], "log": [1], "trace": [2]}, window_size=8,
                           **common), _series()),
        (VisionVAEDetector(latent_dim=4, hidden_channels=(8,), **common),
         rng.rand(40, 12, 10).astype("float32") * 0.1),
        (MultimodalVAEDetector(modalities={"a": [0, 1, 2], "b": [3, 4]}, latent_dim=2, **common),
         Xm),
    ]


@pytest.mark.parametrize("detector, X", _detectors(), ids=lambda v: type(v).__name__)
def test_detectors_round_trip_exactly(detector, X, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector.fit(X)
    twin = round_trip(detector, tmp_path)
    assert type(twin) is type(detector)
    assert twin.get_params().keys() == detector.get_params().keys()
    np.testing.assert_array_equal(twin.score_samples(X), detector.score_samples(X))
    np.testing.assert_array_equal(twin.predict(X), detector.predict(X))
    assert twin.offset_ == detector.offset_
    assert len(twin.net_.history) == len(detector.net_.history)
    if hasattr(detector, "feature_names_in_"):
        np.testing.assert_array_equal(twin.feature_names_in_, detector.feature_names_in_)


THRESHOLDERS = [
    PercentileThreshold(q=0.95), MADThreshold(), GaussianThreshold(), ContaminationThreshold(0.05),
    GEVThreshold(block_size=50), RollingThreshold(window=30), SPOTThreshold(q=1e-3),
    DSPOTThreshold(q=1e-3, depth=50),
]


@pytest.mark.parametrize("thresholder", THRESHOLDERS, ids=lambda t: type(t).__name__)
def test_thresholders_round_trip_and_keep_streaming(thresholder, tmp_path):
    rng = np.random.default_rng(0)
    thresholder.fit(rng.exponential(size=3000))
    twin = round_trip(thresholder, tmp_path)
    stream = rng.exponential(size=400) * 1.3
    np.testing.assert_array_equal(twin.thresholds(stream), thresholder.thresholds(stream))
    if hasattr(thresholder, "update"):  # the streaming state carried over
        np.testing.assert_array_equal(twin.update(stream), thresholder.update(stream))
        assert twin.threshold_ == thresholder.threshold_


def test_drain_templates_round_trip(tmp_path):
    lines = ["Connected to 10.0.0.1 in 12 ms", "Connected to 10.0.0.7 in 3 ms",
             "Disk /var/log/app full", "User bob logged in", "User alice logged in"]
    dt = DrainTemplates().fit(lines)
    twin = round_trip(dt, tmp_path)
    new = lines + ["Connected to 1.2.3.4 in 5 ms", "User carol logged in", "never seen"]
    np.testing.assert_array_equal(twin.transform(new), dt.transform(new))
    pd.testing.assert_frame_equal(twin.templates_, dt.templates_)


def test_trace_and_log_header_transformers_round_trip(tmp_path):
    spans = pd.DataFrame({
        "start": pd.to_datetime(["2024-01-01 00:00:05", "2024-01-01 00:00:30",
                                 "2024-01-01 00:01:10"]),
        "duration": [0.1, 0.3, 0.2], "service": ["api", "api", "db"],
        "status_code": [200, 500, 200]})
    tws = TraceWindowStats(status_col="status_code").fit(spans)
    pd.testing.assert_frame_equal(round_trip(tws, tmp_path).transform(spans),
                                  tws.transform(spans))
    lines = ["081109 203615 148 INFO dfs.DataNode: Served block blk_1"]
    parser = LogHeaderParser("<Date> <Time> <Pid> <Level> <Component>: <Content>").fit(lines)
    pd.testing.assert_frame_equal(round_trip(parser, tmp_path).transform(lines),
                                  parser.transform(lines))


def test_unfitted_estimator_round_trips(tmp_path):
    det = TimeSeriesVAEDetector(window_size=8, optimizer=torch.optim.SGD, lr=0.01)
    twin = round_trip(det, tmp_path)
    assert twin.get_params() == det.get_params()


# ------------------------------------------------------ what is refused
def test_callbacks_and_functions_are_refused_naming_the_attribute(tmp_path):
    det = TimeSeriesVAEDetector(callbacks=[EarlyStopping()])
    with pytest.raises(TypeError, match=r"TimeSeriesVAEDetector.callbacks\[0\] holds an object "
                                        r"of class skorch"):
        save(det, tmp_path / "x.npz")
    det = TimeSeriesVAEDetector(module__activation=lambda x: x)
    with pytest.raises(TypeError, match="module__activation.*function or callable"):
        save(det, tmp_path / "x.npz")


def _tampered(tmp_path, tree):
    path = tmp_path / "evil.npz"
    header = json.dumps({"format": FORMAT, "estimator": tree})
    with open(path, "wb") as fh:
        np.savez(fh, __skanomaly__=np.array(header))
    return path


@pytest.mark.parametrize("tree", [
    {"__object__": "builtins.print", "state": {}},
    {"__object__": "os._wrap_close", "state": {}},
    {"__type__": "builtins.eval"},
    {"__skorch_net__": "subprocess.Popen", "params": {"__dict__": []}, "state_dict": {},
     "history": []},
    {"__object__": "skanomaly.thresholds._base.PercentileThreshold",
     "state": {"q": {"__type__": "os.system"}}},
])
def test_a_file_naming_other_classes_is_refused(tree, tmp_path):
    with pytest.raises(ValueError, match="not in skanomaly.persistence.trusted_types"):
        load(_tampered(tmp_path, tree))


def test_a_file_setting_dunder_attributes_is_refused(tmp_path):
    tree = {"__object__": "drain3.drain.Node",
            "state": {"__class__": {"__type__": "skanomaly.thresholds._base.PercentileThreshold"}}}
    with pytest.raises(ValueError, match="__class__.*refusing"):
        load(_tampered(tmp_path, tree))


def test_a_pickle_is_not_loaded(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(PercentileThreshold()))
    with pytest.raises(ValueError, match="not a file written by skanomaly.persistence.save"):
        load(path)
    # an object array (pickled inside the .npz) is refused by allow_pickle=False
    buffer = io.BytesIO()
    np.savez(buffer, __skanomaly__=np.array("{}"), a0=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="not a file written by skanomaly"):
        load(io.BytesIO(buffer.getvalue()))


def test_trusted_types_hold_no_builtins_or_code_runners():
    names = trusted_types()
    assert not [n for n in names if n.split(".")[0] in {"builtins", "os", "subprocess", "sys",
                                                        "functools", "operator", "pickle"}]
    assert "skanomaly.preprocessing.logs.DrainTemplates" in names
