"""Training budget on small data: one-class MNIST with 100 training images per digit.

Run from the repository root::

    python benchmarks/bench_budget.py [--n-train 100] [--digits 0 1 ...] [--threads 1]

Protocol: the one-class MNIST split of ``benchmarks/_images.py`` (the one of
``bench_vision.py``), except that each digit's detector trains on the **first
``--n-train``** images of that digit's training part; the test set is unchanged (the
test parts of all ten digits, the digit normal, the others anomalous). In the same run:

* ``VisionVAEDetector(random_state=0, device="cpu")``: every other parameter at its
  default (the training budget: ``max_epochs=None``, a budget of optimiser steps with
  early stopping on the held-out loss);
* the same with ``max_epochs=20`` (the fixed epoch count of the earlier default);
* PyOD ``AutoEncoder`` with its defaults (``random_state=0``, CPU, flattened pixels).

AUROC of each (anomalies positive), the epochs and optimiser steps our detector ran, and
the bar: mean AUROC of the default >= PyOD AutoEncoder's + 0.02. Writes
``benchmarks/results/bench_budget.json``.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _images import load_mnist, mnist_one_class_split  # noqa: E402

from skanomaly.detectors import VisionVAEDetector  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "bench_budget.json"
MARGIN = 0.02


def fit_score(model, X_train, X_test, truth):
    start = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - start
    if hasattr(model, "net_"):
        scores = -model.score_samples(X_test)
        epochs = len(model.net_.history)
        n_fit = len(X_train) - math.ceil(model.validation_fraction * len(X_train))
        steps = epochs * math.ceil(n_fit / model.batch_size)
        extra = {"epochs": epochs, "steps": steps,
                 "stopped_early": bool(epochs < model.net_.max_epochs)}
    else:
        scores = model.decision_function(X_test.reshape(len(X_test), -1))
        extra = {}
    return {"auroc": float(roc_auc_score(truth, scores)), "fit_s": seconds, **extra}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from pyod.models.auto_encoder import AutoEncoder

    images, labels = load_mnist()
    train, test = mnist_one_class_split(labels)
    X_test = images[test].astype(np.float32)[:, None] / 255.0
    methods = {
        "default (max_epochs=None)": lambda: VisionVAEDetector(random_state=0, device="cpu"),
        "max_epochs=20": lambda: VisionVAEDetector(max_epochs=20, random_state=0,
                                                   device="cpu"),
        "PyOD AutoEncoder": lambda: AutoEncoder(random_state=0, verbose=0, device="cpu"),
    }
    rows = []
    for digit in args.digits:
        X_train = images[train[digit][:args.n_train]].astype(np.float32)[:, None] / 255.0
        truth = labels[test] != digit
        row = {"digit": digit, "n_train": len(X_train)}
        for name, make in methods.items():
            data = X_train if name != "PyOD AutoEncoder" else X_train.reshape(len(X_train), -1)
            row[name] = fit_score(make(), data, X_test, truth)
        rows.append(row)
        print(f"digit {digit}: " + ", ".join(
            f"{name} {row[name]['auroc']:.4f}" for name in methods)
            + f" ({row['default (max_epochs=None)'].get('steps')} steps, "
              f"{row['default (max_epochs=None)']['fit_s']:.0f} s)", flush=True)
    means = {name: float(np.mean([r[name]["auroc"] for r in rows])) for name in methods}
    print(f"\nMean AUROC over digits {args.digits} ({args.n_train} training images each):")
    for name, value in means.items():
        print(f"  {name:28s} {value:.4f}")
    ours, ae = means["default (max_epochs=None)"], means["PyOD AutoEncoder"]
    passed = bool(ours >= ae + MARGIN)
    print(f"Bar: default {ours:.4f} >= PyOD AutoEncoder {ae:.4f} + {MARGIN}: "
          f"{'PASS' if passed else 'FAIL'}")
    result = {"command": " ".join([Path(sys.executable).name] + sys.argv),
              "n_train": args.n_train, "digits": args.digits, "per_digit": rows,
              "mean_auroc": means, "bar": {"needed": ae + MARGIN, "measured": ours,
                                           "passed": passed}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
