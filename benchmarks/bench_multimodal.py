"""Benchmark of MultimodalVAEDetector: fused views against each single view.

Run from the repository root::

    python benchmarks/bench_multimodal.py          # all digits, 4 SMD machines, 4 ASD servers
    python benchmarks/bench_multimodal.py --quick  # digits 0-4, one machine each, fewer epochs
    python benchmarks/bench_multimodal.py --fusions poe moe concat

Prints tables and writes ``benchmarks/results/bench_multimodal.json``
(``bench_multimodal_quick.json`` with ``--quick``).

Every view describes the same samples; each single-view baseline is the same detector
with only that modality (same encoder, same training budget), so the only difference is
the fusion. ``normalize_channels`` follows the documented rule (``--normalize-channels
auto``): on for a machine's metrics (channels of different predictability), off for the
pixel columns of the MNIST row scan (one homogeneous signal).

1. MNIST image + row-scan sequence (one-class split of ``benchmarks/_images.py``): view
   ``image`` is the 1x28x28 image (2-D convolutions); view ``rows`` is the same digit read
   row by row as a sequence of 28 steps with 28 channels (1-D convolutions over rows).
   AUROC per digit and the mean. The views are redundant: both hold every pixel.
2. MNIST top and bottom halves, the same split: views ``top`` (rows 0-13) and ``bottom``
   (rows 14-27), each a 1x14x28 image; complementary views, as two cameras each seeing one part.
3. SMD, two groups of one machine's metrics (``skanomaly.datasets.load_smd``), standardised
   with a ``StandardScaler`` fitted on the training period (as in the documented time-series
   pipeline): view ``metrics_a`` holds dimensions 0-18, view ``metrics_b`` dimensions 19-37,
   both as sliding windows (``--window`` steps, channels first; training windows every
   ``--stride`` steps, test windows at every step). Every test step gets the mean score of
   the windows covering it (:func:`skanomaly.preprocessing.window_scores_to_steps`, the rule
   of ``TimeSeriesVAEDetector``), for the fused and the single-view detectors alike. AUROC
   per machine against the per-step labels.
4. ASD, the same protocol on each application server's 19 metrics
   (``skanomaly.datasets.load_asd``): view ``metrics_a`` holds dimensions 0-9, view
   ``metrics_b`` dimensions 10-18.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _images import load_mnist, mnist_one_class_split  # noqa: E402

from skanomaly.datasets import load_asd, load_smd  # noqa: E402
from skanomaly.detectors import MultimodalVAEDetector  # noqa: E402
from skanomaly.preprocessing import window_scores_to_steps, window_starts  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def evaluate(views, train, test, truth, args, params, to_steps=None, validation=None):
    """AUROC of each fusion on all views and of each single view.

    ``fused_<fusion>_part_<view>`` ranks the test samples by that view's
    standardised part of the fused score alone (``modality_scores``), to
    compare with the detector trained on that view alone. The fused
    product-of-experts detector is also scored with each view missing from
    every test sample (all NaN): ``poe_without_<view>``.
    ``to_steps`` maps the scores of the test samples to the samples ``truth``
    labels (window scores to step scores); identity by default.

    ``validation`` (boolean mask of the test samples, two views only): those
    samples only choose the fused detector's ``modality_weights`` among the
    ratios ``args.weight_ratios`` (weight of the second view over the first),
    reported as ``fused_<fusion>_weighted`` with the ratio chosen; every AUROC
    is then measured on the other samples. The score is linear in the
    standardised parts, so reweighting ``modality_scores`` of one fitted
    detector equals fitting it with those weights (the weights do not enter
    training).
    """
    measured = slice(None) if validation is None else ~validation

    def auroc(scores, rows=measured):
        scores = scores if to_steps is None else to_steps(scores)
        return roc_auc_score(truth[rows], scores[rows])

    def weighted(parts, fusion):
        first, second = parts[views[0]], parts[views[1]]
        scores = {r: (first + r * second) / (1 + r) for r in args.weight_ratios}
        ratio = max(scores, key=lambda r: auroc(scores[r], validation))
        return {f"fused_{fusion}_weighted": auroc(scores[ratio]),
                f"fused_{fusion}_weight_ratio": ratio}

    out = {}
    views = list(views)
    configs = {f"fused_{f}": (views, f) for f in args.fusions}
    configs.update({f"only_{v}": ([v], "poe") for v in views})
    for name, (keep, fusion) in configs.items():
        det = MultimodalVAEDetector(fusion=fusion, random_state=0, device="cpu",
                                    train_single_experts=args.train_single_experts, **params)
        start = time.perf_counter()
        det.fit({k: train[k] for k in keep})
        seconds = time.perf_counter() - start
        out[name] = auroc(-det.score_samples({k: test[k] for k in keep}))
        out[f"{name}_fit_s"] = seconds
        if len(keep) > 1:
            parts = det.modality_scores({k: test[k] for k in keep})
            out.update({f"{name}_part_{view}": auroc(parts[view]) for view in keep})
            if validation is not None and len(keep) == 2:
                out.update(weighted(parts, fusion))
            for view in keep if fusion == "poe" else ():
                blank = {**test, view: np.full_like(test[view], np.nan)}
                out[f"poe_without_{view}"] = auroc(-det.score_samples(blank))
    return out


def mnist_image_and_rows(images):
    x = images.astype(np.float32) / 255.0
    # Row scan: step t is row t, its 28 pixels are the channels.
    return {"image": x[:, None], "rows": np.ascontiguousarray(x.transpose(0, 2, 1))}


def mnist_halves(images):
    x = images.astype(np.float32) / 255.0
    # Two cameras, each seeing half of the digit.
    return {"top": x[:, None, :14], "bottom": x[:, None, 14:]}


def bench_mnist(args, make_views):
    images, labels = load_mnist()
    train_idx, test_idx = mnist_one_class_split(labels)
    test = make_views(images[test_idx])
    params = dict(latent_dim=16, hidden_dim=64, hidden_channels=(32, 64),
                  max_epochs=args.epochs, batch_size=64,
                  normalize_channels=args.normalize_channels == "on")
    # With --validation-half a random half of the test images only chooses
    # the fused detector's modality weights; AUROCs are on the rest.
    validation = (np.random.RandomState(args.validation_seed).rand(len(test_idx)) < 0.5
                  if args.validation_half else None)
    rows = []
    for digit in (range(5) if args.quick else range(10)):
        train = make_views(images[train_idx[digit]])
        row = {"digit": digit, **evaluate(train.keys(), train, test, labels[test_idx] != digit,
                                          args, params, validation=validation)}
        rows.append(row)
        print({k: round(v, 4) for k, v in row.items()}, flush=True)
    return rows


def windows(X, starts, window):
    """(len(starts), channels, window) windows of a (n, channels) series."""
    return np.ascontiguousarray(sliding_window_view(X, window, axis=0)[starts])


def bench_metric_groups(args, load, entities, groups):
    """Two groups of one machine's metrics as two windowed views, per machine."""
    rows = []
    for entity in entities:
        data = load(entity)
        scaler = StandardScaler().fit(data.X_train)
        X_train = scaler.transform(data.X_train).astype(np.float32)
        X_test = scaler.transform(data.X_test).astype(np.float32)
        w, n_test = args.window, len(X_test)
        train_starts = window_starts(len(X_train), w, args.stride)
        test_starts = window_starts(n_test, w, 1)
        train = {k: windows(X_train[:, s], train_starts, w) for k, s in groups.items()}
        test = {k: windows(X_test[:, s], test_starts, w) for k, s in groups.items()}
        params = dict(latent_dim=8, hidden_dim=64, hidden_channels=(32, 64),
                      max_epochs=args.epochs, batch_size=128,
                      normalize_channels=args.normalize_channels != "off")
        row = {"machine": entity, **evaluate(
            groups, train, test, data.y_test, args, params,
            to_steps=lambda scores: window_scores_to_steps(scores, test_starts, w, n_test),
        )}
        rows.append(row)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
              flush=True)
    return rows


def table(title, rows, key, args):
    cols = [c for c in rows[0] if c != key and not c.endswith("_fit_s")]
    widths = [max(16, len(c)) for c in cols]
    print(f"\n{title}")
    print(f"{key:>12} " + " ".join(f"{c:>{w}}" for c, w in zip(cols, widths)))
    for r in rows:
        print(f"{str(r[key]):>12} " + " ".join(f"{r[c]:>{w}.4f}" for c, w in zip(cols, widths)))
    means = {c: float(np.mean([r[c] for r in rows])) for c in cols}
    print(f"{'mean':>12} " + " ".join(f"{means[c]:>{w}.4f}" for c, w in zip(cols, widths)))
    return means


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--skip-smd", action="store_true")
    parser.add_argument("--skip-asd", action="store_true")
    parser.add_argument("--skip-mnist-halves", action="store_true")
    parser.add_argument("--validation-half", action="store_true",
                        help="MNIST tasks: choose the fused detector's modality weights on a "
                             "random half of the test images, report AUROCs on the other half")
    parser.add_argument("--validation-seed", type=int, default=0,
                        help="seed of the random validation half")
    parser.add_argument("--weight-ratios", nargs="+", type=float,
                        default=[0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0, 20.0],
                        help="weight of the second view over the first, for --validation-half")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--fusions", nargs="+", default=["poe"])
    parser.add_argument("--normalize-channels", choices=["auto", "on", "off"], default="auto",
                        help="per-channel error scales inside each modality; auto: on for the "
                             "SMD metrics, off for the MNIST pixel columns")
    parser.add_argument("--machines", nargs="+",
                        default=["machine-1-7", "machine-2-1", "machine-3-2", "machine-3-4"])
    parser.add_argument("--servers", nargs="+", default=["omi-1", "omi-2", "omi-3", "omi-4"],
                        help="ASD servers")
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--train-single-experts", action="store_true",
                        help="fit each product-of-experts expert alone too (MVAE sub-sampling)")
    parser.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/)")
    parser.add_argument("--stride", type=int, default=4)
    args = parser.parse_args()
    args.epochs = args.epochs or (10 if args.quick else 30)
    torch.set_num_threads(args.threads)
    out = {"device": "cpu"}
    entities = (lambda names: names[:1]) if args.quick else (lambda names: names)
    tasks = [  # (result key, skipped, table title, row key, run)
        ("mnist_image_rows", args.skip_mnist, "MNIST image + row-scan sequence", "digit",
         lambda: bench_mnist(args, mnist_image_and_rows)),
        ("mnist_halves", args.skip_mnist_halves, "MNIST top + bottom half", "digit",
         lambda: bench_mnist(args, mnist_halves)),
        ("smd_metric_groups", args.skip_smd, f"SMD metrics 0-18 + 19-37, windows of {args.window}",
         "machine", lambda: bench_metric_groups(
             args, load_smd, entities(args.machines),
             {"metrics_a": slice(0, 19), "metrics_b": slice(19, 38)})),
        ("asd_metric_groups", args.skip_asd, f"ASD metrics 0-9 + 10-18, windows of {args.window}",
         "machine", lambda: bench_metric_groups(
             args, load_asd, entities(args.servers),
             {"metrics_a": slice(0, 10), "metrics_b": slice(10, 19)})),
    ]
    for key, skipped, title, row_key, run in tasks:
        if skipped:
            continue
        out[f"{key}_settings"] = vars(args)
        out[key] = rows = run()
        out[f"{key}_mean"] = table(f"{title}, AUROC", rows, row_key, args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = Path(args.out) if args.out else RESULTS / (
        "bench_multimodal_quick.json" if args.quick else "bench_multimodal.json")
    # Tasks run separately (--skip-*) keep the other tasks' earlier results.
    previous = json.loads(path.read_text()) if path.exists() else {}
    previous.update(out)
    path.write_text(json.dumps(previous, indent=2, default=float))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
