"""Speed and exactness of window_scores_to_steps against the single cumulative sum it replaced.

The old rule (one cumulative sum of window scores over the whole series, then
differences) is kept here as the baseline. Both run interleaved in one
process on a 1,000,000-step series, 15 repeats; the table gives median and
minimum milliseconds. Exactness: the largest relative error against exact
per-step sums (math.fsum) on 2,000 steps, with scores spanning 1e-3 .. 1e17
and with one window of 1e17 among scores near 1.

    python benchmarks/bench_windows.py

Writes ``benchmarks/results/windows.json``.
"""

import json
import math
import time
from pathlib import Path

import numpy as np

from skanomaly.preprocessing.windows import window_scores_to_steps, window_starts


def cumsum_baseline(window_scores, starts, window_size, n_timesteps):
    """The replaced rule: one difference array and one cumulative sum over the series."""
    ends = starts + window_size
    size = n_timesteps + 1
    totals = np.cumsum(np.bincount(starts, window_scores, size)
                       - np.bincount(ends, window_scores, size))[:-1]
    counts = np.cumsum(np.bincount(starts, minlength=size) - np.bincount(ends, minlength=size))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts[:-1] > 0, totals / counts[:-1], np.nan)


def exact(window_scores, starts, window_size, n_timesteps):
    out = np.full(n_timesteps, np.nan)
    for t in range(n_timesteps):
        mask = (starts <= t) & (t < starts + window_size)
        if mask.any():
            out[t] = math.fsum(window_scores[mask]) / mask.sum()
    return out


def timing(n=1_000_000, repeats=15):
    rng = np.random.default_rng(0)
    rows = []
    for w, stride in [(100, 1), (100, 10), (64, 1)]:
        starts = window_starts(n, w, stride)
        scores = rng.random(starts.shape[0])
        times = {"cumsum (old)": [], "blocked (new)": []}
        for _ in range(repeats):
            for name, f in (("cumsum (old)", cumsum_baseline), ("blocked (new)",
                                                                 window_scores_to_steps)):
                t0 = time.perf_counter()
                f(scores, starts, w, n)
                times[name].append(time.perf_counter() - t0)
        for name, ts in times.items():
            rows.append({"n_timesteps": n, "window": w, "stride": stride, "method": name,
                         "median_ms": 1e3 * float(np.median(ts)), "min_ms": 1e3 * float(min(ts))})
    return rows


def exactness(n=2000, w=50):
    """Largest relative error: scores spanning 1e-3..1e17, and one 1e17 window among ~1."""
    rng = np.random.default_rng(1)
    starts = window_starts(n, w)
    spanning = 10.0 ** rng.uniform(-3, 17, size=starts.shape[0])
    one_huge = rng.random(starts.shape[0]) + 0.5
    one_huge[100] = 1e17
    out = {}
    for case, scores in (("spanning 1e-3..1e17", spanning), ("one 1e17 window", one_huge)):
        ref = exact(scores, starts, w, n)
        for name, f in (("cumsum (old)", cumsum_baseline),
                        ("blocked (new)", window_scores_to_steps)):
            out[f"{case}, {name}"] = float(np.max(np.abs(f(scores, starts, w, n) - ref) / ref))
    return out


def main():
    rows = timing()
    errors = exactness()
    print(f"{'steps':>9} {'window':>6} {'stride':>6} {'method':>14} {'median ms':>10} "
          f"{'min ms':>8}")
    for r in rows:
        print(f"{r['n_timesteps']:>9} {r['window']:>6} {r['stride']:>6} {r['method']:>14} "
              f"{r['median_ms']:>10.1f} {r['min_ms']:>8.1f}")
    print("largest relative error against exact per-step sums:")
    for k, v in errors.items():
        print(f"  {k}: {v:.3g}")
    out = Path(__file__).parent / "results" / "windows.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"timing": rows, "max_relative_error": errors}, indent=2))


if __name__ == "__main__":
    main()
