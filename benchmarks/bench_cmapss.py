"""C-MAPSS FD001 degradation: rank test engines by anomaly score against their remaining life.

Run from the repository root::

    python benchmarks/bench_cmapss.py [--threads 1] [--folds 3] [--cuts 6]
        [--windows 5 10 15 30] [--detector-windows 10 30] [--betas 1 100]
        [--smooths 1 5 10] [--healthy 50 100] [--lasts 1 5] [--validate-only]

Protocol (no test label is used to fit or choose anything):

* **Methods.** ``TimeSeriesVAEDetector`` (``random_state=0``, CPU, its defaults otherwise)
  fitted on ready 3-D windows ``(n_windows, 24, window)`` of healthy training cycles (no
  window spans two engines), an engine scored as ``-score_samples`` of its windows; in the
  same run the baselines: engine age (the last cycle number); distance of a window's mean
  from the training mean, channels standardised by the training standard deviation
  (channels constant in training left out, in float64); PyOD ``IForest`` (defaults,
  ``random_state=0``) fitted on the training windows' mean vectors. All 24 setting and
  sensor columns go to every method; the ones that never move in FD001 are left in (the
  detector warns about them).
* **Settings, one grid for every method.** ``window`` (cycles per window), ``smooth`` (each
  channel first replaced by its trailing rolling mean over this many cycles within its
  engine; 1: none), ``healthy`` (training uses the first this many cycles of each training
  engine, taken as healthy) and ``last`` (an engine's score is the mean score of its last
  this many windows, fewer when the engine is shorter). The detector also chooses its own
  ``beta`` (the KL weight; a large one keeps the latent code from following an engine's
  sensor levels; docs/timeseries.rst). Each detector setting costs a fit per fold, so the
  detector tries fewer windows (``--detector-windows``) than the baselines (``--windows``).
* **Choice by validation inside the training engines.** The 100 training engines (run to
  failure, so every cycle's RUL is known) are split into ``--folds`` groups. For each
  group, every method is fitted on the healthy cycles of the other engines; each held-out
  engine is cut ``--cuts`` times at a uniformly random cycle (at least the largest window),
  which makes validation engines with known RUL, scored like test engines. Each method
  takes the setting with the strongest (most negative) validation Spearman, averaged over
  the folds.
* **Test, once.** Every method is refitted on all 100 training engines with its chosen
  setting and scores the 100 test engines; beside it, the fixed setting of the earlier
  protocol (window 30, no smoothing, 100 healthy cycles, the last window only).
* **Metric.** Spearman correlation of each engine's score with its true RUL
  (``RUL_FD001.txt``): a good degradation score is strongly negative. Also ROC-AUC for
  "RUL <= 30 at the cut-off". A chance band: the 2.5-97.5 % range of Spearman over 1,000
  random permutations of the scores.

Prints tables and writes ``benchmarks/results/bench_cmapss.json``.
"""

import argparse
import ast
import itertools
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
FIXED = {"window": 30, "smooth": 1, "healthy": 100, "last": 1, "beta": 1}
METHODS = ("detector", "distance from training mean", "PyOD IForest (window means)")


def parse_param(text):
    key, _, value = text.partition("=")
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass
    return key.strip(), value


def engine_series(frame, features, smooth):
    """List of per-engine arrays (n_cycles, n_features), float64, in unit order."""
    series = []
    for _, rows in frame.groupby("unit", sort=True):
        values = rows.sort_values("cycle")[features]
        if smooth > 1:
            values = values.rolling(smooth, min_periods=1).mean()
        series.append(values.to_numpy(np.float64))
    return series


def training_windows(series, window, healthy):
    """Windows (n, n_features, window) of the first ``healthy`` cycles of each engine."""
    parts = []
    for values in series:
        values = values[:healthy]
        if len(values) < window:
            raise ValueError(f"{len(values)} healthy cycles < window {window}")
        parts.append(np.lib.stride_tricks.sliding_window_view(values, window, axis=0))
    return np.concatenate(parts)


def last_windows(series, window, last):
    """The last ``last`` windows of each engine (fewer if it is shorter) and their owner."""
    parts, owner = [], []
    for i, values in enumerate(series):
        view = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)[-last:]
        parts.append(view)
        owner.extend([i] * len(view))
    return np.concatenate(parts), np.asarray(owner)


def engine_means(window_scores, owner, n_engines):
    return np.bincount(owner, window_scores, n_engines) / np.bincount(owner, None, n_engines)


class Baselines:
    """Distance from the training mean and IForest, both on window mean vectors."""

    def __init__(self, X_train):
        rows = X_train.transpose(0, 2, 1).reshape(-1, X_train.shape[1])
        self.mean, self.std = rows.mean(0), rows.std(0)
        self.moving = np.ptp(rows, axis=0) > 0
        from pyod.models.iforest import IForest

        self.iforest = IForest(random_state=0).fit(X_train.mean(axis=2))

    def scores(self, X):
        means = X.mean(axis=2)
        z = (means[:, self.moving] - self.mean[self.moving]) / self.std[self.moving]
        return {"distance from training mean": np.linalg.norm(z, axis=1),
                "PyOD IForest (window means)": self.iforest.decision_function(means)}


def fit_detector(X_train, window, fit_log=None, params=None):
    det = TimeSeriesVAEDetector(window_size=window, random_state=0, device="cpu",
                                **(params or {}))
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        det.fit(X_train.astype(np.float32))
    if fit_log is not None:
        fit_log.append({"window": window, "n_windows": len(X_train),
                        "fit_s": round(time.perf_counter() - start, 1),
                        "epochs": len(det.net_.history),
                        "warnings": sorted({str(w.message)[:120] for w in caught})})
    return det


def score_engines(detectors, baselines, series, window, lasts):
    """{last: {method: per-engine score}} for every ``last`` in ``lasts``.

    ``detectors`` maps a method name to a fitted detector; ``baselines`` adds its own.
    """
    X, owner = last_windows(series, window, max(lasts))
    per_window = dict(baselines.scores(X))
    for name, det in detectors.items():
        per_window[name] = -det.score_samples(X.astype(np.float32))
    # Position of each window from its engine's end (owner sorted, windows in time order).
    from_end = np.concatenate([np.arange(c)[::-1] for c in np.bincount(owner)])
    return {last: {name: engine_means(s[from_end < last], owner[from_end < last], len(series))
                   for name, s in per_window.items()}
            for last in lasts}


def cut_engines(series, n_cuts, min_cycles, rng):
    """Each engine cut ``n_cuts`` times at a random cycle: (truncated series, RUL)."""
    cut, rul = [], []
    for values in series:
        for stop in rng.integers(min_cycles, len(values) + 1, size=n_cuts):
            cut.append(values[:stop])
            rul.append(len(values) - stop)
    return cut, np.asarray(rul, float)


def spearman(scores, rul):
    return float(spearmanr(scores, rul).statistic)


def validate(train, features, args, fit_log):
    """Mean validation Spearman of every method and setting over the folds."""
    rng = np.random.default_rng(0)
    n_engines = train["unit"].nunique()
    folds = np.array_split(rng.permutation(n_engines), args.folds)
    raw = engine_series(train, features, 1)
    cuts = [cut_engines([raw[i] for i in fold], args.cuts, max(args.windows), rng)
            for fold in folds]
    table = {}
    for smooth in args.smooths:
        series = engine_series(train, features, smooth)
        for (k, fold), window, healthy in itertools.product(
                enumerate(folds), args.windows, args.healthy):
            held = set(fold.tolist())
            X_train = training_windows([s for i, s in enumerate(series) if i not in held],
                                       window, healthy)
            # The validation engines: the same cuts, smoothed like the training data.
            stops = [len(c) for c in cuts[k][0]]
            owners = np.repeat(fold, args.cuts)
            val_series = [series[i][:stop] for i, stop in zip(owners, stops)]
            detectors = {}
            if window in args.detector_windows:
                detectors = {f"detector beta={beta:g}": fit_detector(
                    X_train, window, fit_log, {**args.params, "beta": beta})
                    for beta in args.betas}
            scored = score_engines(detectors, Baselines(X_train), val_series, window,
                                   args.lasts)
            for last, by_method in scored.items():
                key = f"window={window} smooth={smooth} healthy={healthy} last={last}"
                for name, s in by_method.items():
                    method, _, extra = name.partition(" beta=")
                    full_key = f"{key} beta={extra}" if extra else key
                    table.setdefault(method, {}).setdefault(full_key, []).append(
                        spearman(s, cuts[k][1]))
            print(f"fold {k} window {window} smooth {smooth} healthy {healthy}, "
                  f"last {args.lasts[0]}: " + ", ".join(
                      f"{name[:18]} {spearman(s, cuts[k][1]):.3f}"
                      for name, s in scored[args.lasts[0]].items()), flush=True)
    age = [spearman([len(c) for c in cut], rul) for cut, rul in cuts]
    return {name: {key: float(np.mean(v)) for key, v in rows.items()}
            for name, rows in table.items()}, float(np.mean(age))


def parse_key(key):
    return {k: float(v) if k == "beta" else int(v)
            for k, v in (part.split("=") for part in key.split())}


def test_once(data, features, setting, methods, fit_log, params):
    """Fit on all training engines with ``setting``; per-engine test scores of ``methods``."""
    train = engine_series(data.train, features, setting["smooth"])
    test = engine_series(data.test, features, setting["smooth"])
    X_train = training_windows(train, setting["window"], setting["healthy"])
    detectors = {}
    if "detector" in methods:
        detectors["detector"] = fit_detector(X_train, setting["window"], fit_log,
                                             {**params, "beta": setting.get("beta", 1)})
    scored = score_engines(detectors, Baselines(X_train), test, setting["window"],
                           [setting["last"]])[setting["last"]]
    scored = {name: s for name, s in scored.items() if name in methods}
    if detectors:
        # Diagnosis, not a choice: each channel's term of the last window's score.
        X_last, _ = last_windows(test, setting["window"], 1)
        scored["detector channels"] = detectors["detector"].channel_scores(
            X_last.astype(np.float32))
    return scored


def channel_spearman(channels, rul, features):
    """Spearman vs RUL of each channel's score term (channels that vary on test)."""
    return {name: round(spearman(channels[:, j], rul), 3)
            for j, name in enumerate(features) if np.ptp(channels[:, j]) > 0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--cuts", type=int, default=6)
    parser.add_argument("--windows", type=int, nargs="+", default=[5, 10, 15, 30],
                        help="windows tried by the baselines")
    parser.add_argument("--detector-windows", type=int, nargs="+", default=[10, 30],
                        help="windows tried by the detector (each a fit per fold)")
    parser.add_argument("--betas", type=float, nargs="+", default=[1, 100],
                        help="detector beta values tried (each a fit per fold)")
    parser.add_argument("--smooths", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--healthy", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--lasts", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--param", type=parse_param, action="append", default=[],
                        help="detector parameter key=value (experiments, e.g. max_epochs=1)")
    parser.add_argument("--validate-only", action="store_true",
                        help="stop after the validation table (nothing is measured on test)")
    parser.add_argument("--reuse-validation", type=Path, default=None,
                        help="take the validation table (and choices) from this earlier JSON "
                             "and only refit and measure on test")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.params = dict(args.param)
    torch.set_num_threads(args.threads)

    data = load_cmapss("FD001", data_home=DATA)
    features = list(data.feature_names)
    rul = np.asarray(data.rul_test, dtype=float)
    degraded = rul <= 30
    fit_log = []
    start = time.perf_counter()
    if args.reuse_validation:
        earlier = json.loads(args.reuse_validation.read_text())
        validation = earlier["validation_spearman"]
        age_validation = earlier["validation_spearman_engine_age"]
        for key, name in (("folds", "folds"), ("cuts", "cuts")):
            setattr(args, name, earlier[key])
        grid = earlier["grid"]
        fit_log = earlier["fits"]
        validation_from = {"command": earlier["command"], "total_s": earlier["total_s"]}
    else:
        validation, age_validation = validate(data.train, features, args, fit_log)
        validation_from = "this run"
        grid = {"window": args.windows, "detector_window": args.detector_windows,
                "smooth": args.smooths, "healthy": args.healthy, "last": args.lasts,
                "detector_beta": args.betas}
    chosen = {name: max(rows, key=lambda key: -rows[key]) for name, rows in validation.items()}
    print(f"\nValidation ({args.folds} folds of training engines, {args.cuts} cuts each); "
          f"engine age {age_validation:.3f}")
    for name in METHODS:
        best = sorted(validation[name].items(), key=lambda kv: kv[1])[:3]
        print(f"{name:30s} " + "; ".join(f"{k}: {v:.3f}" for k, v in best))
    if args.validate_only:
        return

    scores = {"engine age": data.test.groupby("unit")["cycle"].max().to_numpy(float)}
    channels = {}
    for name in METHODS:
        measured = test_once(data, features, parse_key(chosen[name]), [name], fit_log,
                             args.params)
        scores[name] = measured[name]
        if name == "detector":
            channels["detector"] = channel_spearman(measured["detector channels"], rul,
                                                    features)
    fixed = test_once(data, features, FIXED, METHODS, fit_log, args.params)
    for name in METHODS:
        scores[f"{name}, fixed setting"] = fixed[name]
    channels["detector, fixed setting"] = channel_spearman(fixed["detector channels"], rul,
                                                           features)
    print("\nSpearman vs RUL of each channel's term of the detector's score (test):")
    for name, values in channels.items():
        print(f"  {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in values.items()))

    rng = np.random.default_rng(0)
    null = [spearman(rng.permutation(scores["detector"]), rul) for _ in range(1000)]
    band = [float(np.percentile(null, 2.5)), float(np.percentile(null, 97.5))]
    rows = {}
    for name, s in scores.items():
        base = name.split(",")[0]
        fixed_items = [(k, v) for k, v in FIXED.items() if base == "detector" or k != "beta"]
        setting = (chosen.get(base) if "," not in name
                   else " ".join(f"{k}={v:g}" for k, v in fixed_items))
        rows[name] = {"setting": setting,
                      "validation_spearman": (validation[base].get(setting, float("nan"))
                                              if base in validation else age_validation),
                      "spearman_rul": spearman(s, rul),
                      "roc_auc_rul_le_30": float(roc_auc_score(degraded, s))}
    print(f"\n{'method':44s} {'setting':40s} {'valid.':>7s} {'test Spearman':>13s} "
          f"{'ROC-AUC RUL<=30':>15s}")
    for name, r in rows.items():
        print(f"{name:44s} {r['setting'] or '':40s} {r['validation_spearman']:7.3f} "
              f"{r['spearman_rul']:13.3f} {r['roc_auc_rul_le_30']:15.3f}")
    print(f"chance band (permuted scores, 95 %): {band[0]:.3f} .. {band[1]:.3f}")
    ours = abs(rows["detector"]["spearman_rul"])
    ref = abs(rows["distance from training mean"]["spearman_rul"])
    # Paired bootstrap over test engines: how much the gap moves with the engines drawn.
    gaps = []
    for _ in range(2000):
        pick = rng.integers(0, len(rul), len(rul))
        gaps.append(abs(spearman(scores["detector"][pick], rul[pick]))
                    - abs(spearman(scores["distance from training mean"][pick], rul[pick])))
    gap_band = [float(np.percentile(gaps, 2.5)), float(np.percentile(gaps, 97.5))]
    print(f"Bar: |Spearman| detector {ours:.3f} >= distance from mean {ref:.3f}: "
          f"{'PASS' if ours >= ref else 'FAIL'} (gap {ours - ref:+.3f}, paired bootstrap "
          f"95 % {gap_band[0]:+.3f} .. {gap_band[1]:+.3f})")
    result = {
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "validation_from": validation_from, "grid": grid,
        "detector_params": {k: str(v) for k, v in args.params.items()},
        "folds": args.folds, "cuts": args.cuts, "total_s": round(time.perf_counter() - start),
        "validation_spearman": validation, "validation_spearman_engine_age": age_validation,
        "chosen": chosen, "results": rows, "chance_band_spearman": band,
        "bar": {"detector": ours, "distance_from_mean": ref, "passed": bool(ours >= ref),
                "gap_bootstrap_95": gap_band},
        "channel_spearman_rul": channels,
        "test_scores": {name: np.round(s, 6).tolist() for name, s in scores.items()},
        "test_rul": rul.tolist(), "fits": fit_log,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
