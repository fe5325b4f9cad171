"""Tests of load_nezha: tiny files in Nezha's layout (malformed lines and files), plus
the real days in ../shared/data when they are present."""

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skanomaly.datasets import fault_labels, load_nezha

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

LOG_HEADER = "Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log"
POD = "ts-a-service-5dc8d4f9fd-llznp"


def _needs(sub):
    path = SHARED / sub
    return pytest.mark.skipif(
        not path.exists(),
        reason=f"real data not present at {path} (a fresh clone has no ../shared/data)")


def _gz(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write(text)


def _log_line(sec, msg="hello", ns=None):
    ns = 1_700_000_000_000_000_000 + sec * 10**9 if ns is None else ns
    iso = pd.Timestamp(1_700_000_000 + sec, unit="s").isoformat() + "Z"
    return f'{iso},{ns},n1,{POD},c,t{sec},s{sec},"{{""log"":""{msg}\\n""}}"'


@pytest.fixture
def home(tmp_path):
    """A one-day Nezha folder: one pod's metrics, one log minute, one trace minute."""
    day = tmp_path / "nezha_trainticket" / "rca_data" / "2023-11-14"
    t0 = pd.Timestamp(1_700_000_000, unit="s")
    rows = [f"{t0 + pd.Timedelta(minutes=i, seconds=53)} +0000 UTC m=+1.0,"
            f"{1_700_000_000 + 60 * i + 53},{POD},{10 + i},{100 + i}" for i in range(5)]
    _gz(day / "metric" / f"{POD}_metric.csv.gz",
        "Time,TimeStamp,PodName,CpuUsage(m),MemoryUsage(Mi)\n" + "\n".join(rows) + "\n")
    _gz(day / "metric" / "front_service.csv.gz", "TimeStamp,SuccessRate(%)\n1,100\n")
    _gz(day / "log" / "22_13_log.csv.gz",
        LOG_HEADER + "\n" + "\n".join(_log_line(s) for s in range(3)) + "\n")
    span = (f"t1,s1,root,{POD},GET /x,1700000000000000000,1700000000500000000,500000\n"
            f"t1,s2,s1,{POD},GET /y,1700000000100000000,1700000000200000000,100000\n")
    _gz(day / "trace" / "22_13_trace.csv.gz",
        "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,"
        "Duration\n" + span)
    faults = {"22": [{"inject_time": "2023-11-14 22:14:20", "inject_timestamp": "1700000060",
                      "inject_pod": POD, "inject_type": "cpu_contention"}]}
    (day / "2023-11-14-fault_list.json").write_text(json.dumps(faults))
    return tmp_path


def test_tiny_day(home):
    d = load_nezha(data_home=home)
    assert d.day == "2023-11-14" and d.n_bad_lines == 0
    m = d.metrics
    assert m.shape == (5, 2) and m.index.name == "time" and m.index.dtype == "datetime64[ns]"
    assert (m.index.second == 0).all() and m.index[0] == pd.Timestamp("2023-11-14 22:14")
    assert list(m.columns) == [f"{POD}__CpuUsage(m)", f"{POD}__MemoryUsage(Mi)"]
    assert list(d.logs.columns) == ["time", "pod", "service", "trace_id", "message"]
    assert d.logs["message"].tolist() == ["hello"] * 3
    assert (d.logs["service"] == "ts-a-service").all()
    np.testing.assert_allclose(d.spans["duration"], [0.5, 0.1])
    f = d.faults.iloc[0]
    assert f.time == pd.Timestamp("2023-11-14 22:14:20")  # inject_time, not the stamp
    assert f.end - f.time == pd.Timedelta("3min") and f.service == "ts-a-service"


def test_fault_duration_and_timestamp_mismatch(home):
    fl = home / "nezha_trainticket" / "rca_data" / "2023-11-14" / "2023-11-14-fault_list.json"
    rows = json.loads(fl.read_text())
    rows["22"][0].update(duration=600, inject_timestamp=str(1_700_000_060 - 8 * 3600))
    fl.write_text(json.dumps(rows))
    with pytest.warns(UserWarning, match="inject_timestamp differs .* for 1 of 1 faults"):
        d = load_nezha(data_home=home, modalities=())
    assert d.faults["end"].iloc[0] - d.faults["time"].iloc[0] == pd.Timedelta("10min")
    assert d.faults["time"].iloc[0] == pd.Timestamp("2023-11-14 22:14:20")
    with pytest.warns(UserWarning, match="inject_timestamp"):
        d = load_nezha(data_home=home, modalities=(), fault_duration="5min")
    assert d.faults["end"].iloc[0] - d.faults["time"].iloc[0] == pd.Timedelta("10min")


def _bad_log(home):
    path = home / "nezha_trainticket" / "rca_data" / "2023-11-14" / "log" / "22_13_log.csv.gz"
    lines = [_log_line(0), _log_line(1) + ",extra", _log_line(2), _log_line(3) + ",x,y"]
    _gz(path, LOG_HEADER + "\n" + "\n".join(lines) + "\n")
    return path


def test_on_bad_lines_error_names_file_and_line(home):
    path = _bad_log(home)
    with pytest.raises(ValueError, match=r"22_13_log\.csv\.gz.*line 3.*on_bad_lines='skip'"):
        load_nezha(data_home=home, modalities=("log",))
    assert str(path).endswith("22_13_log.csv.gz")


def test_on_bad_lines_skip_counts(home):
    _bad_log(home)
    with pytest.warns(UserWarning, match=r"skipped 2 malformed line\(s\) in 1 file\(s\).*\(2\)"):
        d = load_nezha(data_home=home, modalities=("log",), on_bad_lines="skip")
    assert len(d.logs) == 2 and d.n_bad_lines == 2


def test_on_bad_lines_warn_names_lines(home):
    _bad_log(home)
    with pytest.warns(UserWarning, match=r"Skipping line 3.*Skipping line 5"):
        d = load_nezha(data_home=home, modalities=("log",), on_bad_lines="warn")
    assert len(d.logs) == 2


def test_missing_field_is_a_bad_line(home):
    path = home / "nezha_trainticket" / "rca_data" / "2023-11-14" / "log" / "22_13_log.csv.gz"
    _gz(path, LOG_HEADER + "\n" + _log_line(0) + "\n" + f"x,y,n1,{POD},c,t,s,\n")
    with pytest.raises(ValueError, match="line 3 .*missing pod, message or time"):
        load_nezha(data_home=home, modalities=("log",))
    with pytest.warns(UserWarning, match="skipped 1 malformed"):
        d = load_nezha(data_home=home, modalities=("log",), on_bad_lines="skip")
    assert len(d.logs) == 1 and d.n_bad_lines == 1


def test_corrupt_unix_time_falls_back_to_iso(home):
    path = home / "nezha_trainticket" / "rca_data" / "2023-11-14" / "log" / "22_13_log.csv.gz"
    _gz(path, LOG_HEADER + "\n" + _log_line(5, ns=-6795364578871345152) + "\n")
    d = load_nezha(data_home=home, modalities=("log",))
    assert d.logs["time"].iloc[0] == pd.Timestamp(1_700_000_005, unit="s")


@pytest.mark.parametrize("kind, text, match", [
    ("log", "not gzip at all", "Malformed Nezha file .*22_13_log"),
    ("log", None, r"Malformed Nezha file .*22_13_log.*missing column\(s\) \['Log'\]"),
    ("trace", None, r"Malformed Nezha file .*22_13_trace.*missing column"),
])
def test_malformed_files_name_the_file(home, kind, text, match):
    path = home / "nezha_trainticket" / "rca_data" / "2023-11-14" / kind / f"22_13_{kind}.csv.gz"
    if text is None:
        _gz(path, "Timestamp,PodName\nx,y\n")
    else:
        path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_nezha(data_home=home, modalities=(kind,), on_bad_lines="skip")


def test_bad_arguments(home):
    with pytest.raises(ValueError, match="on_bad_lines"):
        load_nezha(data_home=home, on_bad_lines="ignore")
    with pytest.raises(ValueError, match="modalities"):
        load_nezha(data_home=home, modalities=("metrics",))
    with pytest.raises(ValueError, match="available: 2023-11-14"):
        load_nezha(data_home=home, day="2023-11-15")
    with pytest.raises(ValueError, match="Nezha system"):
        load_nezha("sockshop", data_home=home)


# ----------------------------------------------------------------- real files


@_needs("nezha_trainticket")
def test_real_trainticket():
    d = load_nezha("trainticket", data_home=SHARED)
    m = d.metrics
    assert m.shape == (741, 46 * 19) and m.index.is_unique and (m.index.second == 0).all()
    assert m.index[0] == pd.Timestamp("2023-01-30 11:39") and d.n_bad_lines == 0
    assert (len(d.logs), len(d.spans)) == (94703, 179170)
    # 79 log rows hold a corrupt TimeUnixNano; their ISO Timestamp is used
    assert d.logs["time"].between("2023-01-30 11:50", "2023-01-30 14:11").all()
    f = d.faults
    assert len(f) == 17 and f["type"].value_counts().to_dict() == {
        "network_delay": 14, "cpu_contention": 3}
    # inject_time, which names the log/trace files (inject_timestamp says 12:07:12)
    assert pd.Timestamp("2023-01-30 12:06:12") in set(f["time"])
    assert ((f["end"] - f["time"]) == pd.Timedelta("3min")).all()


@_needs("nezha_trainticket")
def test_real_trainticket_logs_only_around_faults():
    d = load_nezha("trainticket", data_home=SHARED, modalities=("metric", "log"))
    y = fault_labels(d.metrics.index, d.faults)
    has_logs = d.metrics.index.isin(d.logs["time"].dt.floor("min").unique())
    assert has_logs.sum() == 68 and (has_logs & (y == 1)).sum() == 51
    for _, f in d.faults.iterrows():
        near = d.logs["time"][(d.logs["time"] >= f.time - pd.Timedelta("150s"))
                              & (d.logs["time"] < f.time + pd.Timedelta("240s"))]
        assert pd.Timedelta("-63s") < near.min() - f.time < pd.Timedelta(0)
        assert pd.Timedelta("115s") < near.max() - f.time < pd.Timedelta("170s")


@_needs("nezha_onlineboutique")
def test_real_onlineboutique_days():
    a = load_nezha("onlineboutique", "2022-08-22", data_home=SHARED)
    # adservice's TimeStamp column is 2e8 s ahead; the Time column is used
    assert a.metrics.shape == (1209, 10 * 19) and a.metrics.index.is_unique
    assert a.metrics.index.max() == pd.Timestamp("2022-08-22 23:59")
    assert len(a.faults) == 24 and pd.Timestamp("2022-08-22 07:10:43") in set(a.faults["time"])
    assert (len(a.logs), len(a.spans)) == (13134, 219820)
    b = load_nezha("onlineboutique", "2022-08-23", data_home=SHARED, modalities=("metric",))
    assert b.metrics.shape == (721, 10 * 19) and len(b.faults) == 32
    assert float(np.isnan(b.metrics.to_numpy()).mean()) < 0.01


@_needs("nezha_trainticket")
def test_real_reference_has_no_faults():
    r = load_nezha("trainticket", data_home=SHARED, reference=True)
    assert r.faults.empty and list(r.faults.columns) == ["time", "end", "pod", "service", "type"]
    assert (len(r.logs), len(r.spans)) == (2485, 4595)
