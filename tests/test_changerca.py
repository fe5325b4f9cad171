"""Tests of load_changerca: a tiny fixture in the upstream layout, plus the real
cases in ../shared/data/changerca when they are present."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skanomaly.datasets import list_changerca_cases, load_changerca

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "changerca"
needs_data = pytest.mark.skipif(
    not SHARED.exists(),
    reason=f"real data not present at {SHARED} (a fresh clone has no ../shared/data)")

T0 = 1695397140  # 2023-09-22 15:39:00 UTC
POD_HEADER = ("Time,Timestamp,SuccessRate,Latency,CPUUsageRate(%),MemoryUsageRate(%),"
              "NodeCpuUsageRate(%),NodeMemoryUsageRate(%)")


def _pod_file(path, minutes, latency, cpu):
    rows = [f"t,{T0 + 60 * m + 5},100,{latency + m},{cpu + m},5,20,0.01" for m in minutes]
    path.write_text("\n".join([POD_HEADER, *rows]) + "\n")


def _make_case(root, case="2023-09-22_1"):
    folder = root / "changerca" / case.split("_")[0] / case
    folder.mkdir(parents=True)
    front, ad1, ad2 = "frontend-v1-aaaa-b1", "adservice-v1-cccc-d1", "adservice-v2-eeee-f1"
    _pod_file(folder / f"{front}_frontend_adservice.csv", range(6), 10.0, 1.0)
    _pod_file(folder / f"{ad1}_frontend_adservice.csv", range(4), 3.0, 40.0)
    _pod_file(folder / f"{ad2}_frontend_adservice.csv", range(3, 6), 30.0, 60.0)
    success = ["time,timestamp,frontend_adservice"]
    success += [f"t,{T0 + 60 * m + 1},{100 if m < 3 else 50}" for m in range(6)]
    (folder / "destination_success.csv").write_text("\n".join(success) + "\n")
    step = {"v1": 0, "v2": 1, "release_pod": [ad2], "delete_pod": [ad1],
            "release_complete_time": "", "release_complete_timestamp": T0 + 150}
    info = {"plan": {"adservice": {"release_time": T0 + 100, "target_replica": 1,
                                   "process": {str(T0 + 100): step}, "fault": None}},
            "fault": "exception", "fault_release_service": "adservice",
            "normal_service_list": [], "experiment_time": "2023-09-22 15:38:30",
            "experiemnt_end_time": "2023-09-22 15:44:30", "detect_timestamp": T0 + 200}
    (folder / f"{case}.json").write_text(json.dumps(info))
    return folder


def test_fixture_tables(tmp_path):
    _make_case(tmp_path)
    assert list_changerca_cases(tmp_path) == ["2023-09-22_1"]
    d = load_changerca(data_home=tmp_path)
    assert d.case == "2023-09-22_1" and d.day == "2023-09-22"
    m = d.metrics
    assert m.index.name == "time" and len(m) == 6
    assert m.index[0] == pd.Timestamp("2023-09-22 15:39")
    assert (m.index[1:] - m.index[:-1] == pd.Timedelta("1min")).all()
    # the callers' latency (frontend's file), not the callee pods'
    np.testing.assert_allclose(m["frontend->adservice__Latency"], 10.0 + np.arange(6))
    np.testing.assert_allclose(m["frontend->adservice__SuccessRate"], [100] * 3 + [50] * 3)
    cpu = m["adservice-v2-eeee-f1__CPUUsageRate(%)"]
    assert cpu.isna().sum() == 3 and cpu.iloc[3] == 63.0
    assert list(d.pods["service"]) == ["adservice", "adservice", "frontend"]
    f = d.faults
    assert list(f.columns) == ["time", "end", "pod", "service", "type"]
    assert f.loc[0, "pod"] == "adservice-v2-eeee-f1" and f.loc[0, "type"] == "exception"
    assert f.loc[0, "time"] == pd.Timestamp("2023-09-22 15:41:30")
    assert f.loc[0, "end"] == pd.Timestamp("2023-09-22 15:44:30")
    assert d.releases["faulty"].all() and len(d.releases) == 1
    assert d.logs.empty and "message" in d.logs and d.spans.empty and "span_id" in d.spans


def test_errors_name_the_problem(tmp_path):
    folder = _make_case(tmp_path)
    with pytest.raises(ValueError, match="Unknown ChangeRCA case '2023-09-22_9'"):
        load_changerca("2023-09-22_9", data_home=tmp_path)
    with pytest.raises(ValueError, match="Unknown ChangeRCA day"):
        load_changerca(day="2023-01-01", data_home=tmp_path)
    with pytest.raises(FileNotFoundError, match="ChangeRCA"):
        load_changerca(data_home=tmp_path / "nowhere")
    (folder / "destination_success.csv").unlink()
    with pytest.raises(FileNotFoundError, match="destination_success.csv"):
        load_changerca(data_home=tmp_path)


@needs_data
def test_real_cases_listed():
    cases = list_changerca_cases(SHARED)
    assert len(cases) == 33 and cases[0] == "2023-09-22_1" and cases[-1] == "2023-09-23_22"
    assert len(list_changerca_cases(SHARED, day="2023-09-22")) == 11


@needs_data
def test_real_case_matches_readme():
    # README: 2023-09-22_1, exception in adservice, 3 services changed, onset at
    # 19.1 min after the start, end at 40.0 min, 46 pods with files.
    d = load_changerca("2023-09-22_1", data_home=SHARED)
    start = pd.Timestamp("2023-09-22 15:38:37")
    onset = (d.faults["time"].min() - start) / pd.Timedelta("1min")
    end = (d.faults["end"].iloc[0] - start) / pd.Timedelta("1min")
    assert round(onset, 1) == 19.1 and round(end, 1) == 40.0
    assert d.releases["service"].nunique() == 3
    assert set(d.releases.loc[~d.releases["faulty"], "service"]) == {
        "productcatalogservice", "currencyservice"}
    assert len(d.pods) == 46
    assert sum(c.endswith("__SuccessRate") for c in d.metrics.columns) == 14
    assert d.metrics.index[-1] <= d.faults["end"].iloc[0]


@needs_data
def test_real_long_case_cut_at_end():
    cut = load_changerca("2023-09-23_13", data_home=SHARED)
    full = load_changerca("2023-09-23_13", data_home=SHARED, cut_at_end=False)
    assert len(cut) and len(cut.metrics) < 40 < len(full.metrics)
    assert full.faults["end"].iloc[0] > cut.faults["end"].iloc[0]
