"""SPOT / DSPOT accuracy and streaming throughput, against libspot and scipy.

Accuracy: 20 seeded streams of n = 100,000 i.i.d. scores for each of Exp(1),
N(0, 1) and a GPD of shape 0.2. Each seed draws one vector of uniforms that
goes through the three inverse CDFs (common random numbers: rows differ by
distribution only). With q = 1e-4 and level = 0.98 each method estimates the
(1 - q) quantile from the whole stream; the table gives the median over seeds
of |estimate / truth - 1|:

- ``skanomaly SPOT``: ``SPOTThreshold(q, level).fit(x).threshold_``;
- ``SPOT streamed``: initialised on the first 10,000 scores, the other 90,000
  streamed through ``update`` (alarms are not added to the tail);
- ``libspot``: ``libspot.Spot(q, level=level).fit(x).anomaly_threshold``
  (libspot 3 keeps at most ``max_excess=500`` excesses by default);
- ``scipy GPD fit``: ``scipy.stats.genpareto.fit`` (location fixed at 0) on the
  same peaks, through the same tail-quantile formula.

Throughput: a stream of 1,000,000 N(0, 1) scores after an initialisation on
10,000, streamed by ``SPOTThreshold.update``, ``DSPOTThreshold.update``
(depth 500) and a Python loop over ``libspot.Spot.step``; best of 3 runs.

Usage::

    python benchmarks/bench_thresholds.py [--seeds 20] [--n 100000] [--out PATH]
"""

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy
from scipy import stats

import skanomaly
from skanomaly.thresholds import DSPOTThreshold, SPOTThreshold
from skanomaly.thresholds._gpd import tail_quantile

Q = 1e-4
LEVEL = 0.98
BARS = {"exp": 0.02, "normal": 0.02, "gpd0.2": 0.05}
TRUTH = {
    "exp": math.log(1 / Q),
    "normal": float(stats.norm.isf(Q)),
    "gpd0.2": float(stats.genpareto.isf(Q, 0.2)),
}


def stream(seed, kind, n):
    u = np.random.default_rng(seed).random(n)
    if kind == "exp":
        return -np.log1p(-u)
    if kind == "normal":
        return stats.norm.ppf(u)
    return stats.genpareto.ppf(u, 0.2)


def scipy_threshold(x):
    t = float(np.quantile(x, LEVEL))
    peaks = x[x > t] - t
    shape, _, scale = stats.genpareto.fit(peaks, floc=0)
    return tail_quantile(t, shape, scale, Q, x.size, peaks.size)


def accuracy(seeds, n, libspot):
    rows = {}
    for kind in TRUTH:
        err = {"skanomaly SPOT": [], "SPOT streamed": [], "scipy GPD fit": []}
        if libspot is not None:
            err["libspot"] = []
        for seed in range(seeds):
            x = stream(seed, kind, n)
            rel = lambda z: abs(z / TRUTH[kind] - 1)  # noqa: E731
            err["skanomaly SPOT"].append(rel(SPOTThreshold(q=Q, level=LEVEL).fit(x).threshold_))
            streamed = SPOTThreshold(q=Q, level=LEVEL, n_init=min(10_000, n)).fit(x)
            err["SPOT streamed"].append(rel(streamed.threshold_))
            err["scipy GPD fit"].append(rel(scipy_threshold(x)))
            if libspot is not None:
                ref = libspot.Spot(q=Q, level=LEVEL)
                ref.fit(x)
                err["libspot"].append(rel(ref.anomaly_threshold))
        rows[kind] = {k: {"median": float(np.median(v)), "per_seed": [float(e) for e in v]}
                      for k, v in err.items()}
    return rows


def throughput(n_stream, libspot, repeats=3):
    x = np.random.default_rng(123).standard_normal(10_000 + n_stream)
    init, rest = x[:10_000], x[10_000:]
    out = {}

    def best(run):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        return n_stream / min(times)

    def spot():
        SPOTThreshold(q=Q, level=LEVEL).fit(init).update(rest)

    def dspot():
        # DSPOT's window takes the first 500 scores of the 10,000
        DSPOTThreshold(q=Q, level=LEVEL, depth=500).fit(init).update(rest)

    # the fit on 10,000 scores is inside the timing: a few milliseconds
    out["skanomaly SPOT"] = best(spot)
    out["skanomaly DSPOT"] = best(dspot)
    if libspot is not None:
        values = rest.tolist()

        def ls():
            ref = libspot.Spot(q=Q, level=LEVEL)
            ref.fit(init)
            step = ref.step
            for v in values:
                step(v)

        out["libspot step() loop"] = best(ls)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--n-stream", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "thresholds.json")
    args = parser.parse_args()
    try:
        import libspot
    except ImportError:  # the comparison columns are skipped
        libspot = None

    t0 = time.perf_counter()
    acc = accuracy(args.seeds, args.n, libspot)
    speed = throughput(args.n_stream, libspot)
    elapsed = time.perf_counter() - t0

    methods = list(next(iter(acc.values())))
    print(f"SPOT accuracy: median |relative error| of the (1-q) quantile over {args.seeds} "
          f"streams, n={args.n}, q={Q}, level={LEVEL}")
    header = "".join(f"{m:>17}" for m in methods)
    print(f"{'distribution':<14}{'truth':>9}{header}{'bar':>7}")
    for kind, row in acc.items():
        cells = "".join(f"{100 * row[m]['median']:>16.2f}%" for m in methods)
        print(f"{kind:<14}{TRUTH[kind]:>9.4f}{cells}{100 * BARS[kind]:>6.0f}%")
    print()
    print(f"Streaming throughput, {args.n_stream:,} N(0,1) points after 10,000 to initialise "
          "(best of 3):")
    for name, pts in speed.items():
        print(f"  {name:<22}{pts / 1e6:>8.2f} M points/s")
    if "libspot step() loop" in speed:
        ratio = speed["skanomaly SPOT"] / speed["libspot step() loop"]
        print(f"  SPOT / libspot = {ratio:.2f}x")

    result = {
        "config": {"q": Q, "level": LEVEL, "seeds": args.seeds, "n": args.n,
                   "n_stream": args.n_stream, "bars": BARS},
        "truth": TRUTH,
        "accuracy": acc,
        "throughput_points_per_s": speed,
        "environment": {
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "skanomaly": skanomaly.__version__,
            "libspot": getattr(libspot, "__version__", None),
            "machine": platform.machine(), "cpu_count": os.cpu_count(),
        },
        "elapsed_s": elapsed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
