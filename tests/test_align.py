"""Tests of align_channels and the Nezha/Loghub readers end to end."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skanomaly.preprocessing import (
    DrainTemplates,
    TraceWindowStats,
    align_channels,
    count_per_bin,
    relation_graph,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_fill_rules():
    idx = pd.date_range("2024-01-01", periods=10, freq="60s")
    m = pd.DataFrame({"cpu": [1.0, np.nan, 3.0] + [np.nan] * 6 + [10.0]}, index=idx)
    logs = pd.DataFrame({"log_1": [5]}, index=idx[2:3])
    tr = pd.DataFrame({"a__count": [2.0, np.nan], "a__lat_mean": [0.3, np.nan]}, index=idx[:2])
    with pytest.warns(UserWarning, match="stay NaN"):
        X, mod = align_channels(m, logs, tr, max_gap=2)
    assert X.index.equals(idx.rename("time"))
    assert X["cpu"].iloc[1] == 1.0            # short gap carried forward
    assert X["cpu"].iloc[3:9].isna().all()     # long gap (6 > 2) left NaN
    assert X["log_1"].sum() == 5 and X["log_1"].iloc[0] == 0
    assert X["a__count"].iloc[5] == 0 and X["a__lat_mean"].iloc[5] == 0
    assert mod.tolist() == ["metric", "log", "trace", "trace"]
    X2, _ = align_channels(m, metric_fill="interpolate", max_gap=6)
    assert X2["cpu"].iloc[1] == 2.0 and X2["cpu"].iloc[5] == pytest.approx(6.0)
    X3, _ = align_channels(trace_stats=tr, trace_fill="nan", index=idx)
    assert np.isnan(X3["a__lat_mean"].iloc[5]) and X3["a__count"].iloc[5] == 0


def test_metric_binning_and_errors():
    t = pd.to_datetime(["2024-01-01 00:00:05", "2024-01-01 00:00:35", "2024-01-01 00:01:10"])
    X, _ = align_channels(pd.DataFrame({"x": [1.0, 3.0, 5.0]}, index=t))
    assert X["x"].tolist() == [2.0, 5.0]
    with pytest.raises(ValueError, match="DatetimeIndex"):
        align_channels(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ValueError, match="Nothing to align"):
        align_channels()
    with pytest.raises(ValueError, match="collide"):
        align_channels(pd.DataFrame({"x": [1.0]}, index=t[:1]),
                       pd.DataFrame({"x": [1]}, index=t[:1].floor("60s")))
    with pytest.raises(ValueError, match="metric_fill"):
        align_channels(pd.DataFrame({"x": [1.0]}, index=t[:1]), metric_fill="mean")


@pytest.mark.skipif(not (DATA / "nezha_trainticket").is_dir(), reason="Nezha data absent")
def test_nezha_end_to_end():
    from skanomaly.datasets._nezha import load_nezha

    d = load_nezha(data_home=DATA, reference=True)
    index = pd.date_range(d.spans.start.min().floor("60s"), periods=2, freq="60s")
    drain = DrainTemplates().fit(d.logs.message)
    counts = count_per_bin(d.logs.time, drain.transform(d.logs.message), index=index)
    traces = TraceWindowStats(index=index).fit(d.spans).transform(d.spans)
    metrics = d.metrics.iloc[:, :20]
    with pytest.warns(UserWarning):  # pods report at different seconds: some bins lack a sample
        X, mod = align_channels(metrics, counts, traces, index=index, max_gap=0)
    assert X.shape[0] == 2 and set(mod) == {"metric", "log", "trace"}
    assert counts.to_numpy().sum() <= len(d.logs)
    g = relation_graph(X.fillna(0.0), mod, n_bins=2)
    assert set(g) >= {"metric-log", "log-trace"}


def test_index_off_whole_minutes():
    # bins starting 25 s past the minute: metrics land in them instead of all-NaN
    idx = pd.date_range("2024-01-01 00:00:25", periods=4, freq="60s")
    m = pd.DataFrame({"cpu": [1.0, 2.0, 3.0, 4.0]}, index=idx + pd.Timedelta("3s"))
    X, _ = align_channels(m, index=idx)
    assert X["cpu"].tolist() == [1.0, 2.0, 3.0, 4.0] and X.index.equals(idx.rename("time"))
    with pytest.raises(ValueError, match="spaced 60s but freq='30s'"):
        align_channels(m, index=idx, freq="30s")
    with pytest.raises(ValueError, match="row 0 .* does not start a bin"):
        align_channels(m, count_per_bin(idx, [1] * 4), index=idx)


def test_time_sanity_in_counts_and_alignment():
    t = list(pd.date_range("2023-01-30", periods=99, freq="1s")) + [pd.Timestamp(0)]
    with pytest.raises(ValueError, match=r"far outside.*row 99 \(1970-01-01"):
        count_per_bin(t, [1] * 100)
    with pytest.raises(ValueError, match=r"more than MAX_BINS.*from row 0 \(1970"):
        count_per_bin([pd.Timestamp(0), pd.Timestamp("2023-01-01")], [1, 1])
    with pytest.raises(ValueError, match=r"row 1 .*epoch 'ns'.*unit='ns'"):
        count_per_bin([1.675e18, 1.676e18], [1, 1])
    m = pd.DataFrame({"x": np.ones(100)}, index=pd.DatetimeIndex(t))
    with pytest.raises(ValueError, match=r"metrics index: 1 timestamp.*row 99"):
        align_channels(m)
