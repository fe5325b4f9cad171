"""Benchmark of the trace side and the relation graph.

Run from the repository root::

    python benchmarks/bench_traces.py

Prints tables and writes ``benchmarks/results/bench_traces.json``.

1. :func:`trace_window_stats` on 1,000,000 synthetic spans (40 services, one day,
   60 s windows, status codes).
2. The seed's ``trace_to_seq`` (re-implemented minimally below: a full-table scan per
   row and ``strptime`` per selected span) on the 10,000-span table: run for its first
   200 rows and scaled linearly to all 10,000 (every row costs the same; the full run
   takes minutes); ours measured on all 10,000.
3. Real Nezha TrainTicket spans (all 51 minutes of 2023-01-30) as second input.
4. NMI relation matrix, 100 channels x 2,000 steps, vs a Python loop of
   ``sklearn.metrics.mutual_info_score`` over channel pairs (the seed's way) on the same
   discretised codes; the MI values are checked equal.
"""

import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

from skanomaly.preprocessing import discretize, nmi_matrix, trace_window_stats  # noqa: E402


def synthetic_spans(n, seconds=86_400, n_services=40, seed=0):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, seconds, n), unit="s")
    return pd.DataFrame({
        "start": start, "duration": rng.lognormal(-3.0, 1.0, n),
        "service": rng.choice([f"svc{i:02d}" for i in range(n_services)], n),
        "status_code": rng.choice([200, 404, 500], n, p=[0.97, 0.02, 0.01])})


def seed_trace_to_seq(df, window_size=60, n_rows=None):
    """Minimal re-implementation of the seed's behaviour (the baseline, defects and all).

    ``n_rows`` stops after that many rows (each row costs the same: one scan of the whole
    table plus parsing the spans of its window), to extrapolate the full run linearly.
    """
    series = {}
    for i in df["timestamp"].values[:n_rows]:
        part = df[(df["timestamp"] >= i) & (df["timestamp"] < i + window_size)]
        data = []
        for m in range(part.shape[0]):
            end = datetime.datetime.strptime(part["end_time"].values[m], "%Y-%m-%d %H:%M:%S.%f")
            start = datetime.datetime.strptime(part["start_time"].values[m],
                                               "%Y-%m-%d %H:%M:%S.%f")
            data.append((end - start).total_seconds())
            data.append(int(part["status_code"].values[m]))
        series[str(i)] = ([data[0], np.mean(data), np.ptp(data), np.std(data),
                           np.percentile(data, 25), np.percentile(data, 75)] if data else [0] * 6)
    return series


def seed_frame(sp):
    t0 = sp["start"]
    return pd.DataFrame({
        "timestamp": (t0.astype("int64") // 10**9).to_numpy(),
        "start_time": t0.dt.strftime("%Y-%m-%d %H:%M:%S.%f").to_numpy(),
        "end_time": (t0 + pd.to_timedelta(sp["duration"], unit="s"))
        .dt.strftime("%Y-%m-%d %H:%M:%S.%f").to_numpy(),
        "status_code": sp["status_code"].to_numpy()})


def timed(f, *a, repeat=1, **k):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f(*a, **k)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    res = {}
    # 1. one million spans
    sp = synthetic_spans(1_000_000)
    t, out = timed(trace_window_stats, sp, status_col="status_code", repeat=2)
    res["1M_spans_s"] = t
    res["1M_output_shape"] = list(out.shape)
    # 2. seed baseline on 10,000 spans over 10 minutes (~1,000 spans per 60 s window):
    # the seed's loop runs over the first K rows of the full 10,000-span table (rows are
    # in random time order, so they are representative) and is scaled by 10,000 / K.
    s10 = synthetic_spans(10_000, seconds=600, seed=1)
    k = 200
    seed_k, _ = timed(seed_trace_to_seq, seed_frame(s10), n_rows=k)
    seed_10k = seed_k * 10_000 / k
    ours_10k, _ = timed(trace_window_stats, s10, status_col="status_code", repeat=3)
    res.update({"seed_rows_run": k, "seed_rows_run_s": seed_k,
                "seed_10k_extrapolated_s": seed_10k, "seed_spans_per_s": 10_000 / seed_10k,
                "ours_10k_s": ours_10k, "speedup_10k": seed_10k / ours_10k})
    # 3. real spans
    nez = DATA / "nezha_trainticket"
    if nez.is_dir():
        from skanomaly.datasets._nezha import load_nezha

        spans = load_nezha(data_home=DATA, modalities=("trace",)).spans
        t_s, o_s = timed(trace_window_stats, spans, repeat=2)
        t_e, o_e = timed(trace_window_stats, spans, by="edge", repeat=2)
        res.update({"nezha_spans": len(spans), "nezha_by_service_s": t_s,
                    "nezha_by_service_shape": list(o_s.shape), "nezha_by_edge_s": t_e,
                    "nezha_by_edge_shape": list(o_e.shape)})
    print("\n## Trace windows\n")
    print(pd.Series({k: v for k, v in res.items()}, dtype=object).to_string())

    # 4. relation graph
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 100)).cumsum(0)
    t_ours, nmi = timed(nmi_matrix, X, repeat=3)
    codes = discretize(X)

    def loop():
        c = codes.shape[1]
        mi = np.zeros((c, c))
        for i in range(c):
            for j in range(i, c):
                mi[i, j] = mi[j, i] = mutual_info_score(codes[:, i], codes[:, j])
        return mi

    t_loop, mi = timed(loop)
    h = np.diag(mi)
    nmi_loop = mi / ((h[:, None] + h[None, :]) / 2)
    g = {"channels": 100, "steps": 2000, "ours_s": t_ours, "loop_mutual_info_score_s": t_loop,
         "speedup": t_loop / t_ours, "max_abs_diff_vs_loop": float(np.abs(nmi - nmi_loop).max())}
    print("\n## Relation graph (NMI, 10 quantile bins)\n")
    print(pd.Series(g).to_string())
    res["graph"] = g
    dest = ROOT / "benchmarks" / "results" / "bench_traces.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(res, indent=2, default=float))
    print(f"\nwrote {dest}")


if __name__ == "__main__":
    main()
