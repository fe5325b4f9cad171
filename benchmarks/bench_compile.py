"""``compile=True`` (torch.compile through skorch) against eager training, on this machine.

Fits a ``TimeSeriesVAEDetector`` (window 64, 38 channels, 8,000 steps, batch
128, 3 epochs, 1 torch thread) eagerly and compiled, and prints per-epoch
seconds (the first compiled epoch includes compilation) and scoring time.

    python benchmarks/bench_compile.py

Writes ``benchmarks/results/bench_compile.json``.
"""

import json
import time
from pathlib import Path

import numpy as np
import torch

from skanomaly.detectors import TimeSeriesVAEDetector


def main():
    torch.set_num_threads(1)
    X = np.random.default_rng(0).normal(size=(8000, 38)).astype(np.float32)
    results = {}
    for compiled in (False, True):
        det = TimeSeriesVAEDetector(window_size=64, max_epochs=3, early_stopping=False,
                                    batch_size=128, validation_fraction=0.0, random_state=0,
                                    device="cpu", compile=compiled)
        start = time.perf_counter()
        det.fit(X)
        fit_seconds = time.perf_counter() - start
        epochs = [float(d) for d in det.net_.history[:, "dur"]]
        start = time.perf_counter()
        det.score_samples(X)
        results["compiled" if compiled else "eager"] = {
            "fit_seconds": fit_seconds, "epoch_seconds": epochs,
            "windows_per_s_last_epoch": (len(X) - 63) / epochs[-1],
            "score_seconds": time.perf_counter() - start,
        }
        print(("compiled" if compiled else "eager   "),
              " ".join(f"{e:6.2f}s" for e in epochs),
              f"| last epoch {(len(X) - 63) / epochs[-1]:7.0f} windows/s", flush=True)
    out = Path(__file__).parent / "results" / "bench_compile.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
