"""Tests of skanomaly.datasets: tiny fixtures in the exact layouts, plus the real
files in ../shared/data when they are present."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skanomaly.datasets import (
    ANOMALY_KINDS,
    get_data_home,
    label_segments,
    list_asd_servers,
    list_nab_series,
    list_smd_machines,
    load_asd,
    load_cmapss,
    load_nab,
    load_smd,
    load_smd_sample,
    make_anomalous_series,
    parse_interpretation_label,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _needs(sub):
    path = SHARED / sub
    return pytest.mark.skipif(
        not path.exists(),
        reason=f"real data not present at {path} (a fresh clone has no ../shared/data)",
    )


# --------------------------------------------------------------------- helpers


def test_label_segments():
    assert label_segments([0, 1, 1, 0, 0, 1]) == [(1, 3), (5, 6)]
    assert label_segments([1, 1]) == [(0, 2)]
    assert label_segments([0, 0]) == []
    assert label_segments([]) == []


def test_get_data_home_order(monkeypatch, tmp_path):
    monkeypatch.setenv("SKANOMALY_DATA", str(tmp_path))
    roots = get_data_home()
    assert roots[0] == tmp_path
    assert roots[1] == Path.cwd() / ".." / "shared" / "data"
    assert [str(p) for p in get_data_home(tmp_path / "x")] == [str(tmp_path / "x")]


def test_parse_interpretation_label_converts_1_based_inclusive():
    # "837-858" = 1-based rows 837..858 inclusive = 0-based rows 836..857 = [836, 858)
    out = parse_interpretation_label(["837-858:1,6,9", "", "5-5:38,2,2"])
    assert out == [(836, 858, [0, 5, 8]), (4, 5, [1, 37])]


@pytest.mark.parametrize("line", ["837858:1", "a-b:1", "0-3:1", "5-3:1", "3-5:0"])
def test_parse_interpretation_label_bad_lines(line):
    with pytest.raises(ValueError, match="line 1"):
        parse_interpretation_label([line])


# ------------------------------------------------------------------ SMD fixture


def _write_layout(root, layout, entity, n_train=30, n_test=25, n_features=4, interp=True):
    rng = np.random.RandomState(0)
    base = root / layout
    for part in ("train", "test", "test_label", "interpretation_label"):
        (base / part).mkdir(parents=True, exist_ok=True)
    X_train = rng.rand(n_train, n_features).round(6)
    X_test = rng.rand(n_test, n_features).round(6)
    y = np.zeros(n_test, dtype=int)
    y[3:5] = 1  # rows 4..5 (1-based, inclusive)
    y[10:13] = 1  # rows 11..13
    np.savetxt(base / "train" / f"{entity}.txt", X_train, delimiter=",", fmt="%.6g")
    np.savetxt(base / "test" / f"{entity}.txt", X_test, delimiter=",", fmt="%.6g")
    np.savetxt(base / "test_label" / f"{entity}.txt", y, fmt="%d")
    if interp:
        # first line in the documented 1-based inclusive form; the second off by one
        # row at the start, like the public SMD files, and snapped to the labels.
        (base / "interpretation_label" / f"{entity}.txt").write_text("4-5:1,3\n10-13:2\n")
    return X_train, X_test, y


@pytest.fixture
def smd_home(tmp_path):
    root = tmp_path / "smd"
    data = _write_layout(root, "ServerMachineDataset", "machine-1-1")
    _write_layout(root, "ServerMachineDataset", "machine-2-2", interp=False)
    return root, data


def test_load_smd_fixture(smd_home):
    root, (X_train, X_test, y) = smd_home
    b = load_smd("machine-1-1", data_home=root)
    assert b.X_train.shape == (30, 4) and b.X_test.shape == (25, 4)
    assert b.X_train.dtype == np.float32 and b.X_test.dtype == np.float32
    np.testing.assert_allclose(b.X_train, X_train, rtol=1e-5)
    np.testing.assert_allclose(b.X_test, X_test, rtol=1e-5)
    np.testing.assert_array_equal(b.y_test, y)
    assert b.y_test.dtype == np.int8
    assert b.machine == "machine-1-1"
    assert b.feature_names == ["dim_0", "dim_1", "dim_2", "dim_3"]
    # 1-based inclusive "4-5:1,3" -> 0-based half-open (3, 5), dims [0, 2]
    assert b.interpretation[0] == (3, 5, [0, 2])
    # "10-13:2" converts to (9, 13) and is snapped to the labelled segment (10, 13)
    assert b.interpretation[1] == (10, 13, [1])
    assert [(s, e) for s, e, _ in b.interpretation] == label_segments(b.y_test)
    assert "machine-1-1" in b.DESCR


def test_load_smd_data_home_forms(smd_home, tmp_path):
    root, _ = smd_home
    for home in (root, root / "ServerMachineDataset", tmp_path, str(root)):
        assert load_smd("machine-1-1", data_home=home).X_test.shape == (25, 4)
    assert list_smd_machines(root) == ["machine-1-1", "machine-2-2"]


def test_load_smd_env_var(smd_home, monkeypatch, tmp_path):
    root, _ = smd_home
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("SKANOMALY_DATA", str(tmp_path))  # a data root holding smd/
    assert load_smd("machine-1-1").X_train.shape == (30, 4)
    monkeypatch.setenv("SKANOMALY_DATA", str(root))
    assert list_smd_machines() == ["machine-1-1", "machine-2-2"]


def test_load_smd_as_frame_and_return_X_y(smd_home):
    root, _ = smd_home
    b = load_smd("machine-1-1", data_home=root, as_frame=True)
    assert isinstance(b.X_train, pd.DataFrame) and list(b.X_test.columns) == b.feature_names
    assert isinstance(b.y_test, pd.Series) and b.y_test.name == "anomaly"
    X_train, X_test, y_test = load_smd("machine-1-1", data_home=root, return_X_y=True)
    assert X_train.shape == (30, 4) and y_test.shape == (25,)


def test_load_smd_without_interpretation(smd_home):
    root, _ = smd_home
    assert load_smd("machine-2-2", data_home=root).interpretation is None


def test_load_smd_unknown_machine_lists_available(smd_home):
    root, _ = smd_home
    with pytest.raises(ValueError, match=r"machine-9-9.*machine-1-1, machine-2-2"):
        load_smd("machine-9-9", data_home=root)


def test_load_smd_missing_folder_names_paths(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="Paths tried") as err:
        load_smd(data_home=missing)
    assert str(missing / "ServerMachineDataset") in str(err.value)


def test_load_smd_default_search_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("SKANOMALY_DATA", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    import skanomaly.datasets._base as base

    monkeypatch.setattr(base, "_REPO_ROOT", tmp_path / "repo")
    with pytest.raises(FileNotFoundError, match="SKANOMALY_DATA") as err:
        load_smd()
    assert str(tmp_path / "env") in str(err.value)


def test_load_smd_missing_label_file(smd_home):
    root, _ = smd_home
    (root / "ServerMachineDataset" / "test_label" / "machine-1-1.txt").unlink()
    with pytest.raises(FileNotFoundError, match="test_label"):
        load_smd("machine-1-1", data_home=root)


def test_load_smd_shape_mismatch(smd_home):
    root, _ = smd_home
    np.savetxt(root / "ServerMachineDataset" / "test_label" / "machine-1-1.txt",
               np.zeros(7), fmt="%d")
    with pytest.raises(ValueError, match="test_label has 7 rows"):
        load_smd("machine-1-1", data_home=root)


def test_load_asd_fixture(tmp_path):
    _write_layout(tmp_path / "asd", "ApplicationServerDataset", "omi-1", n_features=19)
    b = load_asd("omi-1", data_home=tmp_path)
    assert b.X_train.shape == (30, 19) and b.server == "omi-1"
    assert list_asd_servers(tmp_path / "asd") == ["omi-1"]
    with pytest.raises(ValueError, match="omi-1"):
        load_asd("omi-7", data_home=tmp_path)


# --------------------------------------------------------------- C-MAPSS fixture


def _cmapss_rows(unit, n_cycles, rng):
    rows = []
    for cycle in range(1, n_cycles + 1):
        rows.append([unit, cycle] + list(rng.rand(24).round(4)))
    return rows


@pytest.fixture
def cmapss_home(tmp_path):
    rng = np.random.RandomState(0)
    root = tmp_path / "cmapss"
    root.mkdir()
    train = _cmapss_rows(1, 40, rng) + _cmapss_rows(2, 35, rng)
    test = _cmapss_rows(1, 12, rng) + _cmapss_rows(2, 20, rng)
    # train: tab-separated with CRLF (as in the shared copy); test: spaces + trailing spaces
    (root / "train_FD001.txt").write_bytes(
        "".join("\t".join(f"{v:g}" for v in r) + "\r\n" for r in train).encode()
    )
    (root / "test_FD001.txt").write_text(
        "".join(" ".join(f"{v:g}" for v in r) + "  \n" for r in test)
    )
    (root / "RUL_FD001.txt").write_text("25 \n50 \n")
    return root


def test_load_cmapss_fixture(cmapss_home):
    cm = load_cmapss("FD001", data_home=cmapss_home)
    assert cm.train.shape == (75, 26) and cm.test.shape == (32, 26)
    assert list(cm.train.columns[:5]) == ["unit", "cycle", "setting_1", "setting_2", "setting_3"]
    assert list(cm.train.columns[-1:]) == ["sensor_21"]
    assert cm.train["unit"].dtype == np.int64
    assert cm.rul_test.tolist() == [25, 50] and cm.rul_test.index.tolist() == [1, 2]
    # RUL <= 30 is degraded: 31 rows per run-to-failure engine
    assert int(cm.y_train.sum()) == 62
    assert cm.rul_train.iloc[39] == 0 and cm.rul_train.iloc[0] == 39
    # test unit 1: last cycle RUL 25 -> 6 rows with RUL 25..30; unit 2: RUL 50 -> none
    assert int(cm.y_test.sum()) == 6
    assert cm.rul_test_rows.iloc[11] == 25
    assert len(cm.feature_names) == 24


def test_load_cmapss_options(cmapss_home, tmp_path):
    cm = load_cmapss(data_home=tmp_path, rul_threshold=0, as_frame=False)
    assert isinstance(cm.train, np.ndarray) and cm.train.shape == (75, 26)
    assert int(cm.y_train.sum()) == 2 and cm.rul_test.tolist() == [25, 50]
    with pytest.raises(ValueError, match="FD009"):
        load_cmapss("FD009", data_home=cmapss_home)
    with pytest.raises(FileNotFoundError, match="FD002"):
        load_cmapss("FD002", data_home=cmapss_home)
    with pytest.raises(ValueError, match="rul_threshold"):
        load_cmapss(data_home=cmapss_home, rul_threshold=-1)


def test_load_cmapss_rul_mismatch(cmapss_home):
    (cmapss_home / "RUL_FD001.txt").write_text("25\n")
    with pytest.raises(ValueError, match="1 values but the test file has 2"):
        load_cmapss(data_home=cmapss_home)


# ------------------------------------------------------------------- NAB fixture


@pytest.fixture
def nab_home(tmp_path):
    root = tmp_path / "nab"
    data = root / "data" / "realAWSCloudwatch"
    data.mkdir(parents=True)
    (root / "labels").mkdir()
    ts = pd.date_range("2014-02-14 14:30:00", periods=20, freq="5min")
    for name in ("cpu_a", "cpu_b"):
        pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"),
                      "value": np.arange(20.0)}).to_csv(data / f"{name}.csv", index=False)
    windows = {
        "realAWSCloudwatch/cpu_a.csv": [
            ["2014-02-14 14:40:00.000000", "2014-02-14 14:50:00.000000"],
            ["2014-02-14 15:50:00.000000", "2014-02-14 16:00:00.000000"],
        ],
        "realAWSCloudwatch/cpu_b.csv": [],
        "realKnownCause/other.csv": [["2014-01-01 00:00:00", "2014-01-02 00:00:00"]],
    }
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return root


def test_load_nab_fixture(nab_home):
    b = load_nab("cpu_a", data_home=nab_home)
    assert b.frame.shape == (20, 1) and list(b.frame.columns) == ["value"]
    assert isinstance(b.frame.index, pd.DatetimeIndex) and b.frame.index.name == "timestamp"
    # windows include their bounds: rows 2..4 and 16..19 (15:50 .. 16:05 clipped at 16:00)
    assert np.flatnonzero(b.y).tolist() == [2, 3, 4, 16, 17, 18]
    assert b.windows[0] == (pd.Timestamp("2014-02-14 14:40"), pd.Timestamp("2014-02-14 14:50"))
    assert load_nab("realAWSCloudwatch/cpu_b.csv", data_home=nab_home).y.sum() == 0
    assert list_nab_series(nab_home) == ["cpu_a", "cpu_b"]


def test_load_nab_all_and_errors(nab_home, tmp_path):
    allb = load_nab(data_home=tmp_path)
    assert allb.names == ["cpu_a", "cpu_b"] and set(allb.series) == {"cpu_a", "cpu_b"}
    with pytest.raises(ValueError, match="cpu_a, cpu_b"):
        load_nab("cpu_z", data_home=nab_home)
    (nab_home / "labels" / "combined_windows.json").unlink()
    with pytest.raises(FileNotFoundError, match="combined_windows"):
        load_nab("cpu_a", data_home=nab_home)


# ------------------------------------------------------------------- synthetic


def test_make_anomalous_series_shapes_and_determinism():
    X, y = make_anomalous_series(3000, 6, anomaly_fraction=0.05, random_state=0)
    assert X.shape == (3000, 6) and y.shape == (3000,) and y.dtype == np.int8
    assert np.isfinite(X).all()
    assert 0.03 <= y.mean() <= 0.07
    X2, y2 = make_anomalous_series(3000, 6, anomaly_fraction=0.05, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make_anomalous_series(3000, 6, anomaly_fraction=0.05, random_state=1)
    assert not np.allclose(X, X3)


def test_make_anomalous_series_segments():
    X, y, segs = make_anomalous_series(
        4000, 8, anomaly_fraction=0.1, clean_start=1000, return_segments=True, random_state=3
    )
    assert y[:1000].sum() == 0
    assert {s["kind"] for s in segs} == set(ANOMALY_KINDS)
    ends = [s["end"] for s in segs]
    starts = [s["start"] for s in segs]
    assert all(e < s for e, s in zip(ends[:-1], starts[1:]))  # ordered, non-overlapping
    assert sum(e - s for s, e in zip(starts, ends)) == y.sum()
    assert label_segments(y) == list(zip(starts, ends))
    for s in segs:
        assert 1 <= len(s["channels"]) <= 4


def test_make_anomalous_series_channels_correlated():
    X, _ = make_anomalous_series(3000, 9, anomaly_fraction=0.0, random_state=0)
    corr = np.corrcoef(X.T)
    off = np.abs(corr[~np.eye(9, dtype=bool)])
    assert off.max() > 0.5  # shared latent factors correlate channels


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_make_anomalous_series_each_kind_changes_signal(kind):
    # Same seed with and without anomalies: the anomaly draws come after every
    # normal-signal draw, so the series differ only inside the segments.
    X0, _ = make_anomalous_series(2000, 4, anomaly_fraction=0.0, random_state=5)
    X1, y1 = make_anomalous_series(2000, 4, anomaly_fraction=0.05, kinds=[kind],
                                   random_state=5)
    diff = np.abs(X1 - X0).max(axis=1) > 1e-9
    np.testing.assert_array_equal(diff, y1.astype(bool))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_timesteps": 1}, "n_timesteps"),
        ({"n_channels": 0}, "n_channels"),
        ({"anomaly_fraction": 0.7}, "anomaly_fraction"),
        ({"kinds": ["glitch"]}, "glitch"),
        ({"segment_length": (5, 2)}, "segment_length"),
        ({"noise": -1.0}, "noise"),
        ({"clean_start": 5000}, "clean_start"),
    ],
)
def test_make_anomalous_series_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_anomalous_series(**kwargs)


# ------------------------------------------------------------ shipped sample


def test_load_smd_sample():
    s = load_smd_sample()
    assert s.X_train.shape == (6000, 38) and s.X_test.shape == (7000, 38)
    assert s.X_train.dtype == np.float32 and s.y_test.dtype == np.int8
    segs = label_segments(s.y_test)
    assert len(segs) == 6 and int(s.y_test.sum()) == 136
    assert [(a, b) for a, b, _ in s.interpretation] == segs
    assert s.train_rows == (17697, 23697) and s.test_rows == (13599, 20599)
    assert s.machine == "machine-1-7" and len(s.feature_names) == 38
    X_train, X_test, y_test = load_smd_sample(return_X_y=True)
    assert X_test.shape == (7000, 38)
    assert isinstance(load_smd_sample(as_frame=True).X_train, pd.DataFrame)


def test_sample_file_is_small():
    repo = Path(__file__).resolve().parents[1]
    path = repo / "skanomaly/datasets/data/smd_machine-1-7_sample.npz"
    assert path.stat().st_size < 1.5e6


@_needs("smd")
def test_sample_matches_real_files():
    s = load_smd_sample()
    full = load_smd("machine-1-7", data_home=SHARED / "smd")
    np.testing.assert_array_equal(s.X_train, full.X_train[slice(*s.train_rows)])
    np.testing.assert_array_equal(s.X_test, full.X_test[slice(*s.test_rows)])
    np.testing.assert_array_equal(s.y_test, full.y_test[slice(*s.test_rows)])


# ----------------------------------------------------------------- real files

SMD_TABLE = {
    # machine: (train rows, test rows, anomalous test rows, label segments, interpretation lines)
    "machine-1-7": (23697, 23697, 2398, 13, 13),
    "machine-2-1": (23693, 23694, 1170, 13, 13),
    "machine-3-2": (23702, 23703, 1109, 10, 9),
    "machine-3-4": (23687, 23687, 977, 8, 8),
}


@_needs("smd")
@pytest.mark.parametrize("machine", sorted(SMD_TABLE))
def test_real_smd(machine):
    n_train, n_test, n_anom, n_seg, n_interp = SMD_TABLE[machine]
    b = load_smd(machine, data_home=SHARED / "smd")
    assert b.X_train.shape == (n_train, 38) and b.X_test.shape == (n_test, 38)
    assert b.X_train.dtype == np.float32
    assert int(b.y_test.sum()) == n_anom
    segs = label_segments(b.y_test)
    assert len(segs) == n_seg and len(b.interpretation) == n_interp
    # every interpretation range is a labelled segment, dims are 0-based columns
    for start, end, dims in b.interpretation:
        assert (start, end) in segs
        assert dims and 0 <= min(dims) and max(dims) < 38


@_needs("smd")
def test_real_smd_interpretation_conversion():
    b = load_smd("machine-1-7", data_home=SHARED / "smd")
    # file line "837-858:1,6,9,12,13,14,15,16"; the labelled segment is y_test[837:858]
    assert b.interpretation[0] == (837, 858, [0, 5, 8, 11, 12, 13, 14, 15])
    assert b.y_test[836] == 0 and b.y_test[837:858].all() and b.y_test[858] == 0
    assert list_smd_machines(SHARED / "smd") == sorted(SMD_TABLE)
    with pytest.raises(ValueError, match="machine-1-7, machine-2-1, machine-3-2, machine-3-4"):
        load_smd("machine-1-1", data_home=SHARED / "smd")


ASD_TABLE = {"omi-1": (441, 7), "omi-2": (55, 4), "omi-3": (146, 6), "omi-4": (151, 5)}


@_needs("asd")
@pytest.mark.parametrize("server", sorted(ASD_TABLE))
def test_real_asd(server):
    n_anom, n_seg = ASD_TABLE[server]
    b = load_asd(server, data_home=SHARED / "asd")
    assert b.X_train.shape == (8640, 19) and b.X_test.shape == (4320, 19)
    assert int(b.y_test.sum()) == n_anom
    segs = label_segments(b.y_test)
    assert len(segs) == n_seg
    assert [(s, e) for s, e, _ in b.interpretation] == segs


@_needs("cmapss")
def test_real_cmapss():
    cm = load_cmapss("FD001", data_home=SHARED / "cmapss")
    assert cm.train.shape == (20631, 26) and cm.test.shape == (13096, 26)
    assert cm.train["unit"].nunique() == 100 and cm.train["cycle"].max() == 362
    assert cm.rul_test.shape == (100,)
    assert cm.rul_test.min() == 7 and cm.rul_test.max() == 145
    assert cm.rul_test.mean() == pytest.approx(75.52)
    assert int(cm.y_train.sum()) == 100 * 31  # every engine runs to failure
    assert not cm.train.isna().any().any() and not cm.test.isna().any().any()
    assert (cm.train[cm.feature_names].std() > 1e-6).sum() >= 14


@_needs("nab")
def test_real_nab():
    allb = load_nab(data_home=SHARED / "nab")
    assert len(allb.names) == 17
    assert sum(len(b.windows) for b in allb.series.values()) == 30
    assert sum(1 for b in allb.series.values() if not b.windows) == 1
    b = allb.series["ec2_cpu_utilization_24ae8d"]
    assert b.frame.shape == (4032, 1) and len(b.windows) == 2 and int(b.y.sum()) == 402
