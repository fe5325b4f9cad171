"""Root-cause ranking on SMD: HitRate@P% against the interpretation labels.

For every SMD machine under ``../shared/data/smd``, ``Pipeline(StandardScaler(),
TimeSeriesVAEDetector(random_state=0))`` is fitted on ``X_train``; each labelled
test segment's channels are ranked by their mean contribution
(:func:`skanomaly.explain.channel_contributions`) and compared with the
segment's interpretation labels by HitRate@100% and @150% (Su et al., 2019).
Baseline in the same run: channels ranked by their mean absolute z-score
against the training data over the segment (no model).

Usage::

    python benchmarks/bench_root_cause.py [--machines machine-1-7 ...]

Prints a table and writes ``benchmarks/results/root_cause.json``.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skanomaly.datasets import list_smd_machines, load_smd
from skanomaly.detectors import TimeSeriesVAEDetector
from skanomaly.explain import channel_contributions, hit_rate_at_p, rank_channels

REPO = Path(__file__).resolve().parent.parent
SMD_HOME = (REPO / ".." / "shared" / "data" / "smd").resolve()
OUT = REPO / "benchmarks" / "results" / "root_cause.json"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--machines", nargs="+", default=None)
    args = parser.parse_args()
    machines = args.machines or list_smd_machines(data_home=SMD_HOME)
    rows = {}
    for machine in machines:
        data = load_smd(machine, data_home=SMD_HOME)
        segments = [(start, end) for start, end, _ in data.interpretation]
        truth = [dims for _, _, dims in data.interpretation]
        start_time = time.perf_counter()
        model = make_pipeline(StandardScaler(), TimeSeriesVAEDetector(random_state=0))
        model.fit(data.X_train)
        contributions = channel_contributions(model[-1], model[:-1].transform(data.X_test))
        ours = rank_channels(contributions, segments)
        # Baseline: how far each channel is from its training distribution.
        mean, std = data.X_train.mean(axis=0), data.X_train.std(axis=0) + 1e-6
        z = np.abs((data.X_test - mean) / std)
        baseline = rank_channels(z, segments)
        rows[machine] = {
            "segments": len(segments),
            "ours_hit@100": hit_rate_at_p(ours, truth, 100),
            "ours_hit@150": hit_rate_at_p(ours, truth, 150),
            "zscore_hit@100": hit_rate_at_p(baseline, truth, 100),
            "zscore_hit@150": hit_rate_at_p(baseline, truth, 150),
            "seconds": time.perf_counter() - start_time,
        }
        print(machine, {k: round(v, 3) for k, v in rows[machine].items()}, flush=True)
    keys = ["ours_hit@100", "ours_hit@150", "zscore_hit@100", "zscore_hit@150"]
    mean_row = {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}
    print(f"\n{'machine':<12}" + "".join(f"{k:>16}" for k in keys))
    for machine, r in rows.items():
        print(f"{machine:<12}" + "".join(f"{r[k]:>16.3f}" for k in keys))
    print(f"{'mean':<12}" + "".join(f"{mean_row[k]:>16.3f}" for k in keys))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"per_machine": rows, "mean": mean_row,
                               "command": "python benchmarks/bench_root_cause.py"}, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
