"""Training budget of MultimodalVAEDetector: step budget against the fixed epoch count.

Run from the repository root::

    python benchmarks/bench_multimodal_budget.py [--digits 0 1 2] [--n-train 100 0]
        [--smd machine-1-7 ... --window 64 --stride 2] [--skip-mnist] [--threads 1]

Protocol: the one-class MNIST split of ``benchmarks/_images.py`` with the two views of
``bench_multimodal.py`` (``image``: the 1x28x28 image; ``rows``: the same digit read row
by row, 28 steps of 28 channels). Each digit's detector trains on the first ``--n-train``
images of that digit's training part (``0``: all of it, about 600) and is tested on the
test parts of all ten digits (the digit normal, the others anomalous), data it never saw.
In the same run, ``MultimodalVAEDetector(random_state=0, device="cpu")`` with every other
parameter at its default, except the training budget:

* ``max_epochs=None``: a budget of about ``skanomaly.base.TRAINING_STEPS`` optimiser steps
  with early stopping on the held-out loss;
* ``max_epochs=20``: the fixed epoch count that was the default.

``--smd MACHINE ...`` adds larger training sets: each SMD machine as in ``bench_multimodal.py``
(metrics standardised on the training period, views ``metrics_a`` = dimensions 0-18 and
``metrics_b`` = 19-37 as windows of ``--window`` steps, training windows every ``--stride``
steps, every test step scored by the mean of the windows covering it; ``normalize_channels=
True``, the documented rule for a machine's metrics), where 20 epochs are more optimiser
steps than the budget. AUROC against the per-step labels of the test period.

AUROC of each (anomalies positive), epochs, optimiser steps and fit time. Writes
``benchmarks/results/bench_multimodal_budget.json``.
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
from bench_multimodal import mnist_image_and_rows, windows  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skanomaly.datasets import load_smd  # noqa: E402
from skanomaly.detectors import MultimodalVAEDetector  # noqa: E402
from skanomaly.preprocessing import window_scores_to_steps, window_starts  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "bench_multimodal_budget.json"
BUDGETS = {"max_epochs=None": None, "max_epochs=20": 20}


def fit_score(max_epochs, train, test, truth, to_steps=None, **params):
    det = MultimodalVAEDetector(max_epochs=max_epochs, random_state=0, device="cpu", **params)
    start = time.perf_counter()
    det.fit(train)
    seconds = time.perf_counter() - start
    n = len(next(iter(train.values())))
    n_fit = n - math.ceil(det.validation_fraction * n)
    epochs = len(det.net_.history)
    scores = -det.score_samples(test)
    scores = scores if to_steps is None else to_steps(scores)
    return {"auroc": float(roc_auc_score(truth, scores)),
            "epochs": epochs, "steps": epochs * math.ceil(n_fit / det.batch_size),
            "fit_s": round(seconds, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digits", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-train", type=int, nargs="+", default=[100, 0],
                        help="training images per digit (0: the whole training part)")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--smd", nargs="+", default=[],
                        help="SMD machines for the larger training sets")
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--stride", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = " ".join([Path(sys.executable).name] + sys.argv)
    # Parts run separately keep the other part's earlier result.
    result = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.smd:
        rows = [bench_smd(args, machine) for machine in args.smd]
        means = {name: float(np.mean([r[name]["auroc"] for r in rows])) for name in BUDGETS}
        print("mean AUROC, SMD: " + ", ".join(f"{k} {v:.4f}" for k, v in means.items()))
        result["smd"] = {"command": command, "per_machine": rows, "mean_auroc": means}
    if not args.skip_mnist:
        result["mnist"] = {"command": command, **bench_mnist(args)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"Wrote {args.out}")


def bench_smd(args, machine):
    data = load_smd(machine)
    scaler = StandardScaler().fit(data.X_train)
    X_train = scaler.transform(data.X_train).astype(np.float32)
    X_test = scaler.transform(data.X_test).astype(np.float32)
    groups = {"metrics_a": slice(0, 19), "metrics_b": slice(19, 38)}
    w, n_test = args.window, len(X_test)
    train_starts = window_starts(len(X_train), w, args.stride)
    test_starts = window_starts(n_test, w, 1)
    train = {k: windows(X_train[:, c], train_starts, w) for k, c in groups.items()}
    test = {k: windows(X_test[:, c], test_starts, w) for k, c in groups.items()}
    row = {"machine": machine, "n_train_windows": len(train_starts)}
    for name, max_epochs in BUDGETS.items():
        row[name] = fit_score(max_epochs, train, test, data.y_test, normalize_channels=True,
                              to_steps=lambda s: window_scores_to_steps(s, test_starts, w,
                                                                        n_test))
        print(f"SMD {machine}, {len(train_starts)} windows: {name} {row[name]['auroc']:.4f} "
              f"({row[name]['steps']} steps, {row[name]['fit_s']:.0f} s)", flush=True)
    return row


def bench_mnist(args):
    images, labels = load_mnist()
    train_idx, test_idx = mnist_one_class_split(labels)
    test = mnist_image_and_rows(images[test_idx])
    rows = []
    for n_train, digit in ((n, d) for n in args.n_train for d in args.digits):
        index = train_idx[digit][:n_train or None]
        train = mnist_image_and_rows(images[index])
        row = {"digit": digit, "requested": n_train, "n_train": len(index)}
        for name, max_epochs in BUDGETS.items():
            row[name] = fit_score(max_epochs, train, test, labels[test_idx] != digit)
        rows.append(row)
        print(f"digit {digit}, {len(index)} images: " + ", ".join(
            f"{name} {row[name]['auroc']:.4f} ({row[name]['steps']} steps, "
            f"{row[name]['fit_s']:.0f} s)" for name in BUDGETS), flush=True)
    means = {}
    for n_train in args.n_train:
        size = [r for r in rows if r["requested"] == n_train]
        key = f"n_train={n_train or 'all'}"
        means[key] = {name: float(np.mean([r[name]["auroc"] for r in size])) for name in BUDGETS}
        print(f"mean AUROC, {key}: " + ", ".join(f"{k} {v:.4f}" for k, v in means[key].items()))
    return {"digits": args.digits, "per_digit": rows, "mean_auroc": means}


if __name__ == "__main__":
    main()
