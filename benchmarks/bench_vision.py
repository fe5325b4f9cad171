"""Benchmark of VisionVAEDetector: one-class MNIST and magnetic-tile defects, beside PyOD.

Run from the repository root::

    python benchmarks/bench_vision.py            # both tasks, full settings
    python benchmarks/bench_vision.py --quick    # digits 0-4, fewer epochs, 48x48 tiles
    python benchmarks/bench_vision.py --skip-tiles --threads 2

Prints tables and writes ``benchmarks/results/bench_vision.json``
(``bench_vision_quick.json`` with ``--quick``).

1. One-class MNIST (splits documented in ``benchmarks/_images.py``): per digit, train on
   that digit's training part, AUROC on the test parts of all digits; PyOD's ``VAE`` and
   ``AutoEncoder`` (their defaults, flattened pixels in [0, 1]) on the same splits in the
   same run; training images/s of each (CPU, ``--threads`` torch threads).
2. Magnetic tiles resized to ``--tile-size`` and standardised per image (zero mean, unit
   variance: exposure varies between photographs), both for skanomaly and PyOD: image
   AUROC (score_samples), pixel AUROC of
   ``anomaly_map`` against the defect masks over every test pixel, PyOD's ``VAE`` on the
   flattened resized images beside it.

Scores: skanomaly's ``score_samples`` is higher for normal images, so AUROC uses
``-score_samples`` against "anomalous"; PyOD's ``decision_function`` is higher for anomalies.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _images import load_mnist, load_tiles, mnist_one_class_split  # noqa: E402

from skanomaly.detectors import VisionVAEDetector  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def fit_timed(model, X, n_images):
    """Fit and return (model, seconds, training images per second)."""
    start = time.perf_counter()
    model.fit(X)
    seconds = time.perf_counter() - start
    epochs = len(model.net_.history) if hasattr(model, "net_") else model.epoch_num
    return model, seconds, n_images * epochs / seconds


def pyod_models(quick):
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.vae import VAE

    common = dict(device="cpu", random_state=0, verbose=0)
    return {
        "pyod_vae": lambda: VAE(**common),
        "pyod_ae": lambda: AutoEncoder(**common),
    }


def ours(args):
    return VisionVAEDetector(
        latent_dim=args.latent_dim, hidden_channels=(32, 64), ssim_weight=args.ssim_weight,
        max_epochs=args.epochs, lr=args.lr, batch_size=64, random_state=0, device="cpu",
    )


def bench_mnist(args):
    images, labels = load_mnist()
    train, test = mnist_one_class_split(labels)
    X_test = images[test].astype(np.float32) / 255.0
    digits = range(5) if args.quick else range(10)
    rows = []
    for digit in digits:
        X_train = images[train[digit]].astype(np.float32) / 255.0
        truth = labels[test] != digit  # anomalous = other digits
        row = {"digit": digit, "n_train": len(X_train)}
        det, sec, ips = fit_timed(ours(args), X_train[:, None], len(X_train) * 0.9)
        row["skanomaly"] = roc_auc_score(truth, -det.score_samples(X_test[:, None]))
        row["skanomaly_img_s"] = ips
        for name, make in pyod_models(args.quick).items():
            model = make()
            start = time.perf_counter()
            model.fit(X_train.reshape(len(X_train), -1))
            seconds = time.perf_counter() - start
            flat_test = X_test.reshape(len(X_test), -1)
            row[name] = roc_auc_score(truth, model.decision_function(flat_test))
            row[f"{name}_img_s"] = len(X_train) * model.epoch_num / seconds
        rows.append(row)
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in row.items()), flush=True)
    means = {k: float(np.mean([r[k] for r in rows]))
             for k in rows[0] if k not in ("digit", "n_train")}
    print("\nOne-class MNIST AUROC (train: the digit's 60 % part; test: 40 % of every digit)")
    print(f"{'digit':>5} {'skanomaly':>10} {'pyod_vae':>9} {'pyod_ae':>8}")
    for r in rows:
        print(f"{r['digit']:>5} {r['skanomaly']:>10.4f} {r['pyod_vae']:>9.4f} {r['pyod_ae']:>8.4f}")
    print(f"{'mean':>5} {means['skanomaly']:>10.4f} {means['pyod_vae']:>9.4f} "
          f"{means['pyod_ae']:>8.4f}")
    print(f"training images/s (CPU, {args.threads} thread(s)): skanomaly "
          f"{means['skanomaly_img_s']:.0f}, pyod_vae {means['pyod_vae_img_s']:.0f}, "
          f"pyod_ae {means['pyod_ae_img_s']:.0f}")
    return {"per_digit": rows, "mean": means}


def standardise_each(images):
    """Per-image zero mean, unit variance: the tiles' exposure varies from photo to photo."""
    mean = images.mean(axis=(1, 2), keepdims=True)
    return (images - mean) / (images.std(axis=(1, 2), keepdims=True) + 1e-3)


def bench_tiles(args):
    size = args.tile_size
    X_train, X_test, y_test, masks = load_tiles(size=size)
    X_train, X_test = standardise_each(X_train), standardise_each(X_test)
    det = VisionVAEDetector(
        latent_dim=args.tile_latent_dim, hidden_channels=(32, 64, 64),
        ssim_weight=args.tile_ssim_weight, beta=args.tile_beta, max_epochs=args.tile_epochs,
        lr=args.lr, batch_size=32, random_state=0, device="cpu",
    )
    det, sec, ips = fit_timed(det, X_train[:, None], len(X_train) * 0.9)
    image_auc = roc_auc_score(y_test, -det.score_samples(X_test[:, None]))
    maps = det.anomaly_map(X_test[:, None], sigma=args.map_sigma)
    pixel_auc = roc_auc_score(masks.ravel(), maps.ravel())
    # Image score from the map: its maximum, a common localisation-based alternative.
    map_max_auc = roc_auc_score(y_test, maps.reshape(len(maps), -1).max(axis=1))
    from pyod.models.vae import VAE

    pyod = VAE(device="cpu", random_state=0, verbose=0)
    start = time.perf_counter()
    pyod.fit(X_train.reshape(len(X_train), -1))
    pyod_sec = time.perf_counter() - start
    pyod_auc = roc_auc_score(y_test, pyod.decision_function(X_test.reshape(len(X_test), -1)))
    result = {
        "size": size, "n_train": len(X_train), "n_test": len(X_test),
        "n_defect": int(y_test.sum()), "skanomaly_image_auroc": image_auc,
        "skanomaly_pixel_auroc": pixel_auc, "skanomaly_map_max_image_auroc": map_max_auc,
        "pyod_vae_image_auroc": pyod_auc, "skanomaly_fit_s": sec, "skanomaly_img_s": ips,
        "pyod_vae_fit_s": pyod_sec, "epochs_run": len(det.net_.history),
    }
    print(f"\nMagnetic tiles {size}x{size} (train {len(X_train)} MT_Free; test {len(X_test)}, "
          f"{int(y_test.sum())} defective)")
    print(f"{'model':<28} {'image AUROC':>11} {'pixel AUROC':>11}")
    print(f"{'skanomaly score_samples':<28} {image_auc:>11.4f} {pixel_auc:>11.4f}")
    print(f"{'skanomaly max(anomaly_map)':<28} {map_max_auc:>11.4f} {'':>11}")
    print(f"{'pyod VAE':<28} {pyod_auc:>11.4f} {'-':>11}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--skip-tiles", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--ssim-weight", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--tile-size", type=int, default=None)
    parser.add_argument("--tile-epochs", type=int, default=None)
    parser.add_argument("--tile-latent-dim", type=int, default=32)
    parser.add_argument("--tile-ssim-weight", type=float, default=10.0)
    parser.add_argument("--tile-beta", type=float, default=0.1)
    parser.add_argument("--map-sigma", type=float, default=2.0)
    args = parser.parse_args()
    args.epochs = args.epochs or (10 if args.quick else 30)
    args.tile_size = args.tile_size or (48 if args.quick else 64)
    args.tile_epochs = args.tile_epochs or (20 if args.quick else 60)
    torch.set_num_threads(args.threads)
    out = {"device": "cpu"}
    if not args.skip_mnist:
        out["mnist"] = {**bench_mnist(args), "settings": vars(args)}
    if not args.skip_tiles:
        out["tiles"] = {**bench_tiles(args), "settings": vars(args)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("bench_vision_quick.json" if args.quick else "bench_vision.json")
    # Tasks run separately (--skip-*) keep the other tasks' earlier results.
    previous = json.loads(path.read_text()) if path.exists() else {}
    previous.update(out)
    path.write_text(json.dumps(previous, indent=2, default=float))
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
