"""Tests of TraceWindowStats / trace_window_stats."""

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from skanomaly.preprocessing import TRACE_STATS, TraceWindowStats, trace_window_stats

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _spans(n=500, seed=0):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 300, n), unit="s")
    return pd.DataFrame({"start": start, "duration": rng.exponential(0.1, n),
                         "service": rng.choice(["a", "b", "c"], n),
                         "status_code": rng.choice([200, 404, 500], n, p=[0.8, 0.1, 0.1]),
                         "span_id": [f"s{i}" for i in range(n)],
                         "parent_id": ["root"] + [f"s{i}" for i in rng.integers(0, n, n - 1)]})


def test_matches_pandas_groupby():
    sp = _spans()
    out = trace_window_stats(sp, status_col="status_code")
    assert out.shape == (5, 3 * len(TRACE_STATS))
    w = sp["start"].dt.floor("60s")
    g = sp.groupby(["service", w])["duration"]
    for svc in "abc":
        exp = {"count": g.size(), "lat_mean": g.mean(), "lat_std": g.std(ddof=0),
               "lat_p25": g.quantile(0.25), "lat_p50": g.median(), "lat_p75": g.quantile(0.75),
               "lat_p95": g.quantile(0.95), "lat_max": g.max()}
        for stat, ser in exp.items():
            np.testing.assert_allclose(out[f"{svc}__{stat}"].to_numpy(),
                                       ser.loc[svc].reindex(out.index).to_numpy(), rtol=1e-9)
        err = sp.assign(e=sp.status_code >= 400).groupby(["service", w])["e"].mean().loc[svc]
        np.testing.assert_allclose(out[f"{svc}__error_rate"], err.reindex(out.index))


def test_durations_and_status_not_pooled():
    sp = _spans().assign(status_code=500)
    out = trace_window_stats(sp, status_col="status_code")
    assert (out.filter(like="lat_max") < 100).all().all()  # status 500 never a latency
    assert (out.filter(like="error_rate") == 1).all().all()


def test_overlapping_windows_and_index():
    sp = _spans()
    out = trace_window_stats(sp, window="120s", step="60s")
    assert out["a__count"].iloc[0] == ((sp.service == "a") & (sp.start < "2024-01-01 00:02")).sum()
    idx = pd.date_range("2023-12-31 23:59", periods=3, freq="60s")
    with pytest.warns(UserWarning, match="outside the index"):
        out = trace_window_stats(sp, index=idx)
    assert out.index.equals(idx.rename("time")) and out["a__count"].iloc[0] == 0


def test_edges_and_end_column():
    sp = pd.DataFrame({"span_id": ["1", "2", "3"], "parent_id": ["root", "1", "2"],
                       "service": ["gw", "api", "db"], "start": [0.0, 1.0, 2.0],
                       "end": [5.0, 4.0, 2.5]})
    out = trace_window_stats(sp, by="edge", duration_col=None)
    assert set(c.split("__")[0] for c in out.columns) == {"<root>->gw", "gw->api", "api->db"}
    assert out["api->db__lat_mean"].iloc[0] == 0.5


def test_bad_input():
    sp = _spans(20)
    with pytest.raises(ValueError, match=r"missing required column\(s\) \['service'\]"):
        trace_window_stats(sp.drop(columns="service"))
    bad = sp.copy()
    bad.loc[3, "duration"] = -1.0
    with pytest.raises(ValueError, match="row 3 has a negative"):
        trace_window_stats(bad, on_invalid="raise")
    with pytest.warns(UserWarning, match="1 span.*end before start"):
        est = TraceWindowStats().fit(bad)
    assert est.n_dropped_ == 1
    with pytest.warns(UserWarning, match="1 span"):
        est.transform(bad)
    bad2 = sp.astype({"start": object})
    bad2.loc[5, "start"] = "yesterday-ish"
    with pytest.raises(ValueError, match="row 5 has an unparseable timestamp"):
        trace_window_stats(bad2)


def test_estimator_api():
    sp = _spans()
    est = TraceWindowStats(status_col="status_code")
    assert clone(est).get_params() == est.get_params()
    est.fit(sp)
    assert len(est.get_feature_names_out()) == 27
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = pickle.loads(pickle.dumps(est)).transform(sp[sp.service != "c"])
    assert list(out.columns) == list(est.get_feature_names_out())
    assert (out.filter(like="c__count") == 0).all().all()


@pytest.mark.skipif(not (DATA / "nezha_trainticket").is_dir(), reason="Nezha data absent")
def test_nezha_spans():
    from skanomaly.datasets._nezha import load_nezha

    d = load_nezha(data_home=DATA, reference=True, modalities=("trace",))
    out = trace_window_stats(d.spans)
    assert out.filter(like="__count").to_numpy().sum() == len(d.spans)


def test_time_sanity():
    sp = _spans(100)
    sp.loc[17, "start"] = pd.Timestamp(0)  # one epoch-0 start among 2024 spans
    with pytest.raises(ValueError, match=r"far outside.*row 17 \(1970-01-01"):
        TraceWindowStats().fit(sp)
    two = _spans(2).assign(start=[pd.Timestamp(0), pd.Timestamp("2024-01-01")])
    with pytest.raises(ValueError, match="more than MAX_BINS"):
        trace_window_stats(two)
    with pytest.raises(ValueError, match="at most 1000"):
        trace_window_stats(_spans(10), window="2h", step="1s")
    ns = _spans(10).assign(start=np.arange(10) * 10**9 + 1_675_000_000 * 10**9)
    with pytest.raises(ValueError, match=r"epoch 'ns'.*time_unit='ns'"):
        trace_window_stats(ns)
    assert trace_window_stats(ns, time_unit="ns")["a__count"].sum() > 0
    back = _spans(10, seed=1).assign(end=lambda d: d.start - pd.Timedelta("1s"))
    with pytest.warns(UserWarning, match="set aside 10 span.*end before start"):
        trace_window_stats(back, duration_col=None)
