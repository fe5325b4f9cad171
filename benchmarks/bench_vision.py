"""Benchmark of VisionVAEDetector: one-class MNIST and magnetic-tile defects, beside PyOD.

Run from the repository root::

    python benchmarks/bench_vision.py            # both tasks, full settings
    python benchmarks/bench_vision.py --quick    # digits 0-4, fewer epochs, 48x48 tiles
    python benchmarks/bench_vision.py --skip-mnist --threads 1   # magnetic tiles only

Prints tables and writes ``benchmarks/results/bench_vision.json``
(``bench_vision_quick.json`` with ``--quick``); the tile tables also go to
``benchmarks/results/bench_vision_tiles.txt`` (``bench_vision_tiles_quick.txt``).

1. One-class MNIST (splits documented in ``benchmarks/_images.py``): per digit, train on
   that digit's training part, AUROC on the test parts of all digits; PyOD's ``VAE`` and
   ``AutoEncoder`` (their defaults, flattened pixels in [0, 1]) on the same splits in the
   same run; training images/s of each (CPU, ``--threads`` torch threads).
2. Magnetic tiles resized to ``--tile-size`` and standardised per image (zero mean, unit
   variance: exposure varies between photographs), both for skanomaly and PyOD.

   * Training: the MT_Free training part of ``_images.load_tiles`` (60 % of MT_Free,
     never a defect image).
   * Validation / test: ``load_tiles``'s held-out images (the other 40 % of MT_Free and
     all 257 defect images) are split per class, stratified: for each class in the order
     MT_Free, MT_Blowhole, MT_Break, MT_Crack, one ``RandomState(--split-seed)`` (default
     0) shuffles that class's held-out images; the first ``n // 2`` go to validation, the
     rest to test (150 / 151 MT_Free, 57 / 58 MT_Blowhole, 42 / 43 MT_Break, 28 / 29
     MT_Crack: 277 validation and 281 test images).
   * Model selection: every configuration of the pre-declared grid ``TILE_GRID``
     (``ssim_weight`` in {1, 10} x ``beta`` in {0.1, 1} x ``latent_dim`` in {16, 32},
     ``--tile-epochs`` epochs each, all else fixed) is trained once; the one with the best
     validation image AUROC is chosen (ties: the first in grid order). Only the chosen
     configuration's image AUROC (``score_samples``) and pixel AUROC (``anomaly_map``
     against the defect masks, over every test pixel) are reported on the test half.
   * Beside it on the same test half: PyOD's ``VAE`` (its defaults, flattened resized
     images) and, for transparency, the settings used before this protocol
     (``PREVIOUS_TILE_SETTINGS`` with 60 epochs, picked from trials on the whole held-out
     set and so optimistic). They are in the grid; when ``--tile-epochs`` differs from
     ``--previous-epochs`` they are also refitted with ``--previous-epochs``. Their image
     AUROC on the whole held-out set (the earlier protocol) is printed as a check.

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


# Pre-declared tile grid (fixed before any run of this protocol): 8 configurations.
TILE_GRID = [
    {"ssim_weight": ssim_weight, "beta": beta, "latent_dim": latent_dim}
    for ssim_weight in (1.0, 10.0) for beta in (0.1, 1.0) for latent_dim in (16, 32)
]
# Settings of the earlier protocol, chosen on the whole held-out set (60 epochs).
PREVIOUS_TILE_SETTINGS = {"ssim_weight": 10.0, "beta": 0.1, "latent_dim": 32}
TILE_CLASSES = ("MT_Free", "MT_Blowhole", "MT_Break", "MT_Crack")


def standardise_each(images):
    """Per-image zero mean, unit variance: the tiles' exposure varies from photo to photo."""
    mean = images.mean(axis=(1, 2), keepdims=True)
    return (images - mean) / (images.std(axis=(1, 2), keepdims=True) + 1e-3)


def split_validation_test(classes, seed=0):
    """Stratified halves of the held-out tiles, as documented in the module docstring.

    Parameters
    ----------
    classes : ndarray of str of shape (n_images,)
        Class folder of each held-out image.
    seed : int, default=0
        Seed of the one ``RandomState`` that shuffles each class in turn.

    Returns
    -------
    validation, test : ndarray of int
        Sorted indices into ``classes``.
    """
    rng = np.random.RandomState(seed)
    validation, test = [], []
    for cls in TILE_CLASSES:
        index = rng.permutation(np.flatnonzero(classes == cls))
        validation.append(index[: len(index) // 2])
        test.append(index[len(index) // 2:])
    return np.sort(np.concatenate(validation)), np.sort(np.concatenate(test))


def tile_detector(config, epochs, lr):
    """VisionVAEDetector for the tiles with one grid configuration.

    Parameters
    ----------
    config : dict
        ``ssim_weight``, ``beta`` and ``latent_dim``.
    epochs : int
        ``max_epochs`` (early stopping on the detector's own held-out 10 % stays on).
    lr : float
        Learning rate.

    Returns
    -------
    VisionVAEDetector
        Unfitted.
    """
    return VisionVAEDetector(
        hidden_channels=(32, 64, 64), max_epochs=epochs, lr=lr, batch_size=32,
        random_state=0, device="cpu", **config,
    )


def tile_scores(det, X, y, masks, sigma):
    """Image AUROC, pixel AUROC and max-of-map image AUROC of a fitted detector.

    Parameters
    ----------
    det : VisionVAEDetector
        Fitted detector.
    X : ndarray of shape (n_images, height, width)
        Standardised images.
    y : ndarray of shape (n_images,)
        1 for a defect image.
    masks : ndarray of bool of shape (n_images, height, width)
        Defect pixels.
    sigma : float
        Gaussian smoothing of the anomaly maps.

    Returns
    -------
    dict
        ``image_auroc`` (``-score_samples``), ``pixel_auroc`` (``anomaly_map`` over all
        pixels) and ``map_max_image_auroc`` (each map's maximum as the image score).
    """
    maps = det.anomaly_map(X[:, None], sigma=sigma)
    return {
        "image_auroc": roc_auc_score(y, -det.score_samples(X[:, None])),
        "pixel_auroc": roc_auc_score(masks.ravel(), maps.ravel()),
        "map_max_image_auroc": roc_auc_score(y, maps.reshape(len(maps), -1).max(axis=1)),
    }


def fit_tile_config(config, epochs, args, X_train, validation):
    """Fit one configuration on the training tiles and score it on validation.

    Parameters
    ----------
    config : dict
        ``ssim_weight``, ``beta`` and ``latent_dim``.
    epochs : int
        ``max_epochs``.
    args : argparse.Namespace
        Needs ``lr`` and ``map_sigma``.
    X_train : ndarray of shape (n_train, height, width)
        Standardised MT_Free training images.
    validation : tuple
        ``(X, y, masks)`` of the validation half.

    Returns
    -------
    det : VisionVAEDetector
        The fitted detector.
    row : dict
        The configuration, ``epochs``, ``epochs_run``, ``fit_s`` and the validation
        ``val_image_auroc`` and ``val_pixel_auroc``.
    """
    det, sec, _ = fit_timed(tile_detector(config, epochs, args.lr), X_train[:, None],
                            len(X_train) * 0.9)
    scores = tile_scores(det, *validation, args.map_sigma)
    row = {**config, "epochs": epochs, "epochs_run": len(det.net_.history), "fit_s": sec,
           "val_image_auroc": scores["image_auroc"], "val_pixel_auroc": scores["pixel_auroc"]}
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                   for k, v in row.items()), flush=True)
    return det, row


def pyod_vae_aurocs(X_train, parts):
    """PyOD VAE (defaults) fitted on the flattened training tiles, AUROC on each part.

    Parameters
    ----------
    X_train : ndarray of shape (n_train, height, width)
        Standardised training images.
    parts : dict
        Name -> ``(X, y)``.

    Returns
    -------
    dict
        Name -> image AUROC of ``decision_function``, and ``fit_s``.
    """
    from pyod.models.vae import VAE

    pyod = VAE(device="cpu", random_state=0, verbose=0)
    start = time.perf_counter()
    pyod.fit(X_train.reshape(len(X_train), -1))
    out = {"fit_s": time.perf_counter() - start}
    for name, (X, y) in parts.items():
        out[name] = roc_auc_score(y, pyod.decision_function(X.reshape(len(X), -1)))
    return out


def tile_table(result):
    """Lines of the tile tables: the validation grid, then the test half."""
    n = result["counts"]
    lines = [
        f"Magnetic tiles {result['size']}x{result['size']}: train {n['train']} MT_Free; "
        f"validation {n['validation']} ({n['validation_defect']} defective), "
        f"test {n['test']} ({n['test_defect']} defective); per-class split, "
        f"seed {result['split_seed']}",
        "",
        f"Validation image/pixel AUROC of the pre-declared grid ({result['grid_epochs']} "
        "epochs max, early stopping on)",
        f"{'ssim_weight':>11} {'beta':>5} {'latent_dim':>10} {'epochs run':>10} "
        f"{'val image':>9} {'val pixel':>9} {'fit s':>6}",
    ]
    for r in result["grid"]:
        mark = "  <- chosen" if r["chosen"] else ""
        lines.append(f"{r['ssim_weight']:>11g} {r['beta']:>5g} {r['latent_dim']:>10} "
                     f"{r['epochs_run']:>10} {r['val_image_auroc']:>9.4f} "
                     f"{r['val_pixel_auroc']:>9.4f} {r['fit_s']:>6.0f}{mark}")
    lines.append(f"{'pyod VAE (defaults)':>39} {result['pyod_vae']['validation']:>9.4f}")
    lines += ["", "Test half (never used for any choice)",
              f"{'model':<68} {'image AUROC':>11} {'pixel AUROC':>11}"]
    for label, test in result["test"].items():
        pixel = test.get("pixel_auroc")
        pixel = f"{pixel:>11.4f}" if pixel is not None else f"{'-':>11}"
        lines.append(f"{label:<68} {test['image_auroc']:>11.4f} {pixel}")
    previous = result["previous_settings_all_heldout_image_auroc"]
    lines += ["", f"Check: previous settings' grid model on all {n['validation'] + n['test']} "
              f"held-out images (the earlier protocol): image AUROC {previous:.4f}"]
    return lines


def settings_label(config, epochs):
    """Short label of a configuration, e.g. ``ssim 10, beta 0.1, latent 32, 60 ep``."""
    return (f"ssim {config['ssim_weight']:g}, beta {config['beta']:g}, "
            f"latent {config['latent_dim']}, {epochs} ep")


def bench_tiles(args):
    """Grid on the validation half, the chosen configuration and baselines on the test half.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed command line.

    Returns
    -------
    dict
        Counts, the grid rows, the chosen configuration, PyOD's AUROCs and the test
        figures, ready for JSON.
    """
    begin = time.perf_counter()
    X_train, X_held, y_held, masks_held, classes = load_tiles(size=args.tile_size,
                                                              return_classes=True)
    X_train, X_held = standardise_each(X_train), standardise_each(X_held)
    val, test = split_validation_test(classes, seed=args.split_seed)
    validation = (X_held[val], y_held[val], masks_held[val])
    testing = (X_held[test], y_held[test], masks_held[test])
    fitted, grid = [], []
    for config in TILE_GRID:
        det, row = fit_tile_config(config, args.tile_epochs, args, X_train, validation)
        fitted.append(det)
        grid.append(row)
    best = max(range(len(grid)), key=lambda i: (grid[i]["val_image_auroc"], -i))
    for i, row in enumerate(grid):
        row["chosen"] = i == best
    chosen = TILE_GRID[best]
    chosen_test = tile_scores(fitted[best], *testing, args.map_sigma)
    pyod = pyod_vae_aurocs(X_train, {"validation": validation[:2], "test": testing[:2]})
    previous = fitted[TILE_GRID.index(PREVIOUS_TILE_SETTINGS)]
    tests = {
        f"skanomaly chosen ({settings_label(chosen, args.tile_epochs)})": chosen_test,
        "skanomaly chosen, max(anomaly_map) as image score": {
            "image_auroc": chosen_test["map_max_image_auroc"]},
        "pyod VAE (defaults)": {"image_auroc": pyod["test"]},
        "previous settings, grid model ("
        f"{settings_label(PREVIOUS_TILE_SETTINGS, args.tile_epochs)})":
            tile_scores(previous, *testing, args.map_sigma),
    }
    refit = None
    if args.previous_epochs and args.previous_epochs != args.tile_epochs:
        det, refit = fit_tile_config(PREVIOUS_TILE_SETTINGS, args.previous_epochs, args,
                                     X_train, validation)
        label = settings_label(PREVIOUS_TILE_SETTINGS, args.previous_epochs)
        tests[f"previous settings, refit ({label})"] = tile_scores(det, *testing,
                                                                   args.map_sigma)
    result = {
        "size": args.tile_size, "split_seed": args.split_seed, "grid_epochs": args.tile_epochs,
        "counts": {"train": len(X_train), "validation": len(val),
                   "validation_defect": int(validation[1].sum()), "test": len(test),
                   "test_defect": int(testing[1].sum())},
        "grid": grid, "chosen": chosen, "pyod_vae": pyod, "test": tests,
        "previous_settings_refit": refit,
        "previous_settings_all_heldout_image_auroc": roc_auc_score(
            y_held, -previous.score_samples(X_held[:, None])),
        "skanomaly_test_image_auroc": chosen_test["image_auroc"],
        "skanomaly_test_pixel_auroc": chosen_test["pixel_auroc"],
        "pyod_vae_test_image_auroc": pyod["test"], "wall_s": time.perf_counter() - begin,
    }
    lines = tile_table(result)
    print("\n" + "\n".join(lines))
    print(f"tile benchmark wall time: {result['wall_s']:.0f} s")
    return result, lines


def write_tile_table(lines, quick, wall_s, suffix=""):
    """Write the tile tables, the command line first as a comment."""
    command = " ".join(["python", "benchmarks/bench_vision.py", *sys.argv[1:]])
    header = [f"# {command}",
              f"# CPU, torch threads as given; wall time of the tile part {wall_s:.0f} s"]
    path = RESULTS / f"bench_vision_tiles{'_quick' if quick else ''}{suffix}.txt"
    path.write_text("\n".join(header + lines) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


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
    parser.add_argument("--tile-epochs", type=int, default=None,
                        help="max epochs of each grid configuration (default 60; quick 5)")
    parser.add_argument("--previous-epochs", type=int, default=None,
                        help="epochs of the previous settings' refit, skipped when 0 or "
                             "equal to --tile-epochs (default 60; quick 0)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--map-sigma", type=float, default=2.0)
    args = parser.parse_args()
    args.epochs = args.epochs or (10 if args.quick else 30)
    args.tile_size = args.tile_size or (48 if args.quick else 64)
    args.tile_epochs = args.tile_epochs or (5 if args.quick else 60)
    if args.previous_epochs is None:
        args.previous_epochs = 0 if args.quick else 60
    torch.set_num_threads(args.threads)
    out = {"device": "cpu"}
    if not args.skip_mnist:
        out["mnist"] = {**bench_mnist(args), "settings": vars(args)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.skip_tiles:
        tiles, lines = bench_tiles(args)
        # Other splits go beside the default one (seed 0), not over it.
        suffix = f"_seed{args.split_seed}" if args.split_seed else ""
        out[f"tiles{suffix}"] = {**tiles, "settings": vars(args)}
        write_tile_table(lines, args.quick, tiles["wall_s"], suffix)
    path = RESULTS / ("bench_vision_quick.json" if args.quick else "bench_vision.json")
    # Tasks run separately (--skip-*) keep the other tasks' earlier results.
    previous = json.loads(path.read_text()) if path.exists() else {}
    previous.update(out)
    path.write_text(json.dumps(previous, indent=2, default=float))
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
