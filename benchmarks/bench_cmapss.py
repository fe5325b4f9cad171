"""C-MAPSS FD001 degradation: rank test engines by anomaly score against their remaining life.

Run from the repository root::

    python benchmarks/bench_cmapss.py [--window 30] [--smooth 1] [--threads 1]
        [--param key=value ...]

Protocol (no labels are used to fit anything):

* **Training data.** The first ``--healthy-cycles`` (default 100) cycles of each of the
  100 training engines: young engines, taken as healthy (the shortest training engine
  runs 128 cycles). All 24 setting and sensor columns are given to every method; the
  ones that never move in FD001 are left in on purpose (the detector warns about them).
* **Detector.** ``TimeSeriesVAEDetector(window_size=--window, random_state=0)`` with its
  defaults otherwise, fitted on the training engines' windows as ready 3-D windows
  ``(n_windows, 24, window)`` (no window spans two engines). Each test engine is scored by
  its **last** window (the cycles just before the cut-off), as ``-score_samples``.
* **Baselines, same run.** Engine age (the last cycle number); distance of the last
  window's mean from the training mean, channels standardised by the training standard
  deviation (channels constant in training left out); PyOD ``IForest`` (defaults,
  ``random_state=0``) fitted on the training windows' mean vectors and scoring the last
  window's mean vector.
* ``--smooth K``: every method's input is first replaced by its trailing rolling mean
  over ``K`` cycles within each engine (the per-cycle sensor noise averaged out).
* **Metric.** Spearman correlation of each engine's score with its true RUL
  (``RUL_FD001.txt``): a good degradation score is strongly negative. Also ROC-AUC for
  "RUL <= 30 at the cut-off" (the loader's label of the last row). A chance band: the
  2.5-97.5 % range of Spearman over 1,000 random permutations of the scores.

Prints a table and writes ``benchmarks/results/bench_cmapss.json``.
"""

import argparse
import ast
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skanomaly.datasets import load_cmapss  # noqa: E402
from skanomaly.detectors import TimeSeriesVAEDetector  # noqa: E402

DATA = (ROOT / ".." / "shared" / "data" / "cmapss").resolve()
OUT = ROOT / "benchmarks" / "results" / "bench_cmapss.json"


def parse_param(text):
    key, _, value = text.partition("=")
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass
    return key.strip(), value


def engine_windows(frame, features, window, *, last_only=False, max_cycle=None):
    """3-D windows (n, n_features, window) per engine, never spanning two engines."""
    out, units = [], []
    for unit, rows in frame.groupby("unit", sort=True):
        values = rows.sort_values("cycle")[features].to_numpy(np.float32)
        if max_cycle is not None:
            values = values[:max_cycle]
        if len(values) < window:
            raise ValueError(f"engine {unit} has {len(values)} cycles < window {window}")
        view = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)
        view = view[-1:] if last_only else view  # (n, features, window)
        out.append(view)
        units.extend([unit] * len(view))
    return np.ascontiguousarray(np.concatenate(out)), np.asarray(units)


def spearman(scores, rul):
    return float(spearmanr(scores, rul).statistic)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--healthy-cycles", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--smooth", type=int, default=1,
                        help="trailing rolling mean over this many cycles per engine, applied "
                             "to every method's input (1: none)")
    parser.add_argument("--param", type=parse_param, action="append", default=[],
                        help="detector parameter key=value (experiments)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default results/bench_cmapss.json; with --smooth K: "
                             "bench_cmapss_smooth<K>.json)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.out is None:
        suffix = "" if args.smooth == 1 else f"_smooth{args.smooth}"
        args.out = OUT.with_name(f"bench_cmapss{suffix}.json")

    data = load_cmapss("FD001", data_home=DATA)
    features = list(data.feature_names)
    if args.smooth > 1:
        for frame in (data.train, data.test):
            frame[features] = frame.groupby("unit")[features].transform(
                lambda c: c.rolling(args.smooth, min_periods=1).mean())
    X_train, _ = engine_windows(data.train, features, args.window,
                                max_cycle=args.healthy_cycles)
    X_last, units = engine_windows(data.test, features, args.window, last_only=True)
    rul = np.asarray(data.rul_test, dtype=float)
    age = data.test.groupby("unit")["cycle"].max().to_numpy(float)
    degraded = rul <= 30
    print(f"FD001: {X_train.shape[0]} training windows {X_train.shape[1:]}, "
          f"{len(units)} test engines, {degraded.sum()} with RUL <= 30", flush=True)

    params = {"window_size": args.window, "random_state": 0, **dict(args.param)}
    det = TimeSeriesVAEDetector(**params)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        det.fit(X_train)
    fit_s = time.perf_counter() - t0
    fit_warnings = [str(w.message) for w in caught]
    for message in fit_warnings:
        print("fit warning:", message)
    scores = {"detector": -det.score_samples(X_last)}

    # Baselines on the same rows.
    # float64: a constant channel's float32 std can be rounding noise rather than 0.
    train_rows = X_train.transpose(0, 2, 1).reshape(-1, X_train.shape[1]).astype(np.float64)
    mean, std = train_rows.mean(0), train_rows.std(0)
    moving = np.ptp(train_rows, axis=0) > 0
    last_means = X_last.mean(axis=2, dtype=np.float64)
    scores["engine age"] = age
    scores["distance from training mean"] = np.linalg.norm(
        (last_means[:, moving] - mean[moving]) / std[moving], axis=1)
    from pyod.models.iforest import IForest

    iforest = IForest(random_state=0).fit(X_train.mean(axis=2))
    scores["PyOD IForest (window means)"] = iforest.decision_function(last_means)

    rng = np.random.default_rng(0)
    null = [spearman(rng.permutation(scores["detector"]), rul) for _ in range(1000)]
    band = [float(np.percentile(null, 2.5)), float(np.percentile(null, 97.5))]
    rows = {name: {"spearman_rul": spearman(s, rul),
                   "roc_auc_rul_le_30": float(roc_auc_score(degraded, s))}
            for name, s in scores.items()}
    print(f"\n{'method':32s} {'Spearman vs RUL':>16s} {'ROC-AUC RUL<=30':>16s}")
    for name, r in rows.items():
        print(f"{name:32s} {r['spearman_rul']:16.3f} {r['roc_auc_rul_le_30']:16.3f}")
    print(f"chance band (permuted scores, 95 %): {band[0]:.3f} .. {band[1]:.3f}")
    ours = abs(rows["detector"]["spearman_rul"])
    ref = abs(rows["distance from training mean"]["spearman_rul"])
    print(f"Bar: |Spearman| detector {ours:.3f} >= distance from mean {ref:.3f}: "
          f"{'PASS' if ours >= ref else 'FAIL'}")
    result = {
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "window": args.window, "healthy_cycles": args.healthy_cycles, "smooth": args.smooth,
        "detector_params": {k: str(v) for k, v in params.items()},
        "fit_s": fit_s, "epochs": len(det.net_.history), "fit_warnings": fit_warnings,
        "n_train_windows": int(X_train.shape[0]), "n_test_engines": int(len(units)),
        "results": rows, "chance_band_spearman": band,
        "bar": {"detector": ours, "distance_from_mean": ref, "passed": bool(ours >= ref)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
