"""TimeSeriesVAEDetector: held-out quality on SMD and ASD against PyOD, throughput, memory.

Four parts, each printed as tables and written to one JSON file:

0. **select** (leave-one-entity-out, the headline). Over the eight shared entities
   (SMD machine-1-7, 2-1, 3-2, 3-4; ASD omi-1..4) a small grid of training
   configurations (``_ts_selection.TRAIN_GRID``: window size x input scaling) is
   trained once per entity and cached under ``--cache``; scoring variants (input clip,
   aggregation) and the ``calibration_cap`` of the default threshold are computed from
   the cache. Each entity is scored at the variant (best mean rank of ROC-AUC) and cap
   (most entities alarming within 2x of the true rate, then F1 at ``predict`` over best
   F1) chosen on the **other seven**: the mean of these is the held-out figure; the
   choice on all eight (the defaults) and its mean, in-sample, are printed beside it,
   with reference lines (every floor and bound of the channel error scales, a wider
   thresholder family, moving means of the scores). See ``benchmarks/_ts_selection.py``.

1. **quality** (the defaults, in-sample). For each entity, in one run:
   ``TimeSeriesVAEDetector(random_state=0)`` alone and after ``StandardScaler`` (the
   documented pipeline), PyOD's ``AutoEncoder`` on the flattened sliding windows of
   ``X_train`` (the detector's window, channels first, training stride
   ``--pyod-stride``; every test step gets the mean score of the windows covering it,
   the detector's rule; PyOD defaults, ``random_state=0``, CPU) and a z-score baseline
   (the largest |z| over channels, training mean and standard deviation, constant
   channels left out). Columns: ROC-AUC, PR-AUC, best F1 (an oracle over all
   thresholds), F1 and event F1 at ``predict`` (ours: the default threshold calibrated
   on the held-out tail of ``X_train``; PyOD and z-score: the 99th percentile of their
   in-sample training scores), alarm rate at ``predict`` beside the true anomaly rate,
   and a chance band (95th percentile of ROC-AUC over 50 circular shifts of the scores
   against the real labels). Then the issue's bars.

2. **throughput.** The detector's default module (``skanomaly.modules.TimeSeriesVAE``)
   trained on the same windows (machine-1-7 ``X_train``, or a synthetic 20,000 x 38
   series without the data) by ``detector.fit`` (``validation_fraction=0,
   early_stopping=False``) and by a plain torch loop (Adam, same lr, shuffled index
   batches gathered from a (C, n) tensor, ``ELBOLoss``, same batch size and epochs).
   One warm-up run of each, then ``--repeats`` alternated runs; best (and median)
   windows/s. Bar: training loop >= 90 %.

3. **memory.** In a fresh subprocess: a 1,000,000 x 38 float32 series (``--quick``:
   100,000), ``TimeSeriesVAEDetector(window_size=100, max_epochs=1)`` fitted on its
   first 5,000 rows, then ``score_samples`` on the whole series; peak RSS increase
   sampled every 5 ms. Bar: under 2 GB.

Usage::

    python benchmarks/bench_timeseries.py --parts select quality --threads 1
    python benchmarks/bench_timeseries.py --quick
    python benchmarks/bench_timeseries.py [--entities machine-1-7 omi-1 ...]
        [--param key=value ...] [--pyod-epochs N] [--pyod-stride S] [--cache DIR]
        [--parts select quality throughput memory] [--threads T] [--out PATH]
"""

import argparse
import ast
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

import skanomaly  # noqa: E402
from skanomaly.base import resolve_device
from skanomaly.detectors import TimeSeriesVAEDetector
from skanomaly.metrics import (
    anomaly_average_precision_score,
    anomaly_f1_score,
    anomaly_roc_auc_score,
    best_f1_score,
    event_precision_recall_f1,
)
from skanomaly.modules import TimeSeriesVAE
from skanomaly.nets import ELBOLoss
from skanomaly.preprocessing.windows import window_scores_to_steps, window_starts
from skanomaly.thresholds import PercentileThreshold

REPO = Path(__file__).resolve().parent.parent
SMD_HOME = (REPO / ".." / "shared" / "data" / "smd").resolve()
ASD_HOME = (REPO / ".." / "shared" / "data" / "asd").resolve()
DEFAULT_CACHE = Path("/tmp") / "skanomaly_timeseries_selection"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "timeseries.json"
OURS = "skanomaly TimeSeriesVAE"
OURS_SCALED = OURS + " + StandardScaler"
PYOD_AE = "PyOD AutoEncoder (windows)"
ZSCORE = "z-score (max over channels)"
BAR_THROUGHPUT = 0.90
BAR_MEMORY_BYTES = 2 * 1024**3
MEMORY_FIT_ROWS = 5000
N_CHANNELS_SYNTH = 38


# ---------------------------------------------------------------- helpers
def parse_param(text):
    """``key=value`` with ``value`` read as a Python literal when it is one."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass
    return key.strip(), value


def table(title, header, rows):
    cells = [[str(c) for c in header]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = [title, line]
    for k, row in enumerate(cells):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            out.append(line)
    out.append(line)
    print("\n".join(out), flush=True)


def fmt(value):
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def environment(threads):
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
        "device": str(resolve_device("auto")),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "versions": {
            "skanomaly": getattr(skanomaly, "__version__", None),
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
            "pyod": pyod_version(),
        },
    }


def pyod_version():
    try:
        import pyod
    except ImportError:
        return None
    return getattr(pyod, "__version__", None)


def flat_windows(X, starts, window):
    """(len(starts), C * window) copy of the windows, channels first like the detector."""
    view = np.lib.stride_tricks.sliding_window_view(X, window, axis=0)  # (n-w+1, C, w)
    return np.ascontiguousarray(view[starts].reshape(len(starts), -1))


# ------------------------------------------------- part 1: quality on entities
ENTITIES = ["machine-1-7", "machine-2-1", "machine-3-2", "machine-3-4",
            "omi-1", "omi-2", "omi-3", "omi-4"]


def load_entity(name):
    """(X_train, X_test, y_test) of an SMD machine or an ASD server, float32."""
    from skanomaly.datasets import load_asd, load_smd

    data = (load_smd(name, data_home=SMD_HOME) if name.startswith("machine")
            else load_asd(name, data_home=ASD_HOME))
    return (np.asarray(data.X_train, dtype=np.float32),
            np.asarray(data.X_test, dtype=np.float32), np.asarray(data.y_test).astype(bool))


def chance_band(y, scores, n_shifts=50, seed=0):
    """95th percentile of ROC-AUC of circularly shifted scores against the real labels."""
    rng = np.random.default_rng(seed)
    n = len(scores)
    shifts = rng.integers(n // 10, n - n // 10, size=n_shifts)
    return float(np.percentile(
        [anomaly_roc_auc_score(y, np.roll(scores, int(s))) for s in shifts], 95))


def quality(y, scores, flags):
    """Ranking metrics of ``scores`` and alarm metrics of the boolean ``flags``."""
    if not np.all(np.isfinite(scores)):
        return {"roc_auc": float("nan"), "finite": False}
    return {
        "roc_auc": anomaly_roc_auc_score(y, scores),
        "pr_auc": anomaly_average_precision_score(y, scores),
        "best_f1": best_f1_score(y, scores),
        "f1_predict": anomaly_f1_score(y, flags),
        "event_f1_predict": event_precision_recall_f1(y, flags)[2],
        "alarm_rate": float(np.mean(flags)),
        "true_rate": float(np.mean(y)),
        "roc_auc_chance95": chance_band(y, scores),
        "finite": True,
    }


def run_ours(X_train, X_test, y_test, params, scaled=False):
    det = TimeSeriesVAEDetector(random_state=0, **params)
    model = make_pipeline(StandardScaler(), det) if scaled else det
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the constant-channel warning, every machine
        model.fit(X_train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    anomaly = -model.score_samples(X_test)
    score_s = time.perf_counter() - t0
    # predict's rule (decision_function < 0) without scoring twice.
    flags = (-anomaly + det.thresholder_.thresholds(anomaly)) < 0
    res = quality(y_test, anomaly, flags)
    res.update(fit_s=fit_s, score_s=score_s, epochs=len(det.net_.history),
               window_size=det.window_size)
    return res


def run_pyod_ae(X_train, X_test, y_test, window, stride, epochs):
    """PyOD AutoEncoder on flattened windows; each step gets its windows' mean score."""
    from pyod.models.auto_encoder import AutoEncoder

    kwargs = {"random_state": 0, "verbose": 0, "device": "cpu"}
    if epochs is not None:
        kwargs["epoch_num"] = epochs
    model = AutoEncoder(**kwargs)
    train_starts = window_starts(len(X_train), window, stride)
    test_starts = window_starts(len(X_test), window, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model.fit(flat_windows(X_train, train_starts, window))
        fit_s = time.perf_counter() - t0
        raw = model.decision_function(flat_windows(X_test, test_starts, window))
    scores = window_scores_to_steps(raw, test_starts, window, len(X_test))
    train_scores = window_scores_to_steps(
        np.asarray(model.decision_scores_, dtype=np.float64), train_starts, window,
        len(X_train))
    # In-sample 99th percentile of its training scores (PyOD has no held-out part).
    flags = scores > PercentileThreshold(q=0.99).fit(train_scores).threshold_
    res = quality(y_test, scores, flags)
    res.update(fit_s=fit_s)
    return res


def run_zscore(X_train, X_test, y_test):
    """Largest |z| over channels (training mean and std; constant channels left out)."""
    mean, std = X_train.mean(0), X_train.std(0)
    moving = std > 0
    def score(X):
        return np.abs((X[:, moving] - mean[moving]) / std[moving]).max(axis=1)
    flags = score(X_test) > PercentileThreshold(q=0.99).fit(score(X_train)).threshold_
    return quality(y_test, score(X_test), flags)


QUALITY_KEYS = ["roc_auc", "pr_auc", "best_f1", "f1_predict", "event_f1_predict",
                "alarm_rate", "true_rate", "roc_auc_chance95"]


def part_quality(args, params, save=lambda partial: None):
    entities = args.entities or (ENTITIES[:1] if args.quick else ENTITIES)
    window = TimeSeriesVAEDetector(**params).window_size
    per_entity = {}
    for name in entities:
        try:
            X_train, X_test, y_test = load_entity(name)
        except (FileNotFoundError, OSError) as exc:
            print(f"{name}: data not found ({exc}); skipped.")
            continue
        print(f"\n{name}: train {X_train.shape}, test {X_test.shape}, "
              f"anomalies {y_test.mean():.1%}", flush=True)
        rows = {
            OURS: run_ours(X_train, X_test, y_test, params),
            OURS_SCALED: run_ours(X_train, X_test, y_test, params, scaled=True),
            PYOD_AE: run_pyod_ae(X_train, X_test, y_test, window, args.pyod_stride,
                                 args.pyod_epochs),
            ZSCORE: run_zscore(X_train, X_test, y_test),
        }
        per_entity[name] = rows
        save({"entities_done": list(per_entity), "per_entity": per_entity})
        table(name, ["method"] + QUALITY_KEYS,
              [[m] + [r.get(k, float("nan")) for k in QUALITY_KEYS] for m, r in rows.items()])
    if not per_entity:
        return {"skipped": "no entity data found"}
    done = list(per_entity)
    methods = list(per_entity[done[0]])
    means = {m: {k: float(np.mean([per_entity[e][m][k] for e in done])) for k in QUALITY_KEYS}
             for m in methods}
    table(f"In-sample mean over {len(done)} entities (defaults chosen on these entities)",
          ["method"] + QUALITY_KEYS, [[m] + [means[m][k] for k in QUALITY_KEYS] for m in methods])
    bars = quality_bars(per_entity, means, done)
    return {"entities": done, "detector_params": {k: str(v) for k, v in params.items()},
            "window_size": window, "pyod_train_stride": args.pyod_stride,
            "per_entity": per_entity, "mean": means, "bars": bars}


def quality_bars(per_entity, means, done):
    ours, pipe, ae = means[OURS], means[OURS_SCALED], means[PYOD_AE]
    gaps = {e: per_entity[e][OURS_SCALED]["roc_auc"] - per_entity[e][OURS]["roc_auc"]
            for e in done}
    rate_ok = [e for e in done
               if 0.5 <= per_entity[e][OURS]["alarm_rate"] / per_entity[e][OURS]["true_rate"] <= 2]
    bars = {
        "pipeline_roc_auc_ge_0.93": [pipe["roc_auc"], bool(pipe["roc_auc"] >= 0.93)],
        "pipeline_within_0.01_of_bare_everywhere": [min(gaps.values()),
                                                    bool(min(gaps.values()) >= -0.01)],
        "roc_auc_ge_pyod_ae_plus_0.03": [pipe["roc_auc"] - ae["roc_auc"],
                                         bool(pipe["roc_auc"] >= ae["roc_auc"] + 0.03)],
        "pr_auc_ge_pyod_ae": [pipe["pr_auc"] - ae["pr_auc"], bool(pipe["pr_auc"] >= ae["pr_auc"])],
        "f1_predict_ge_0.7_best_f1": [ours["f1_predict"] / ours["best_f1"],
                                      bool(ours["f1_predict"] >= 0.7 * ours["best_f1"])],
        "alarm_rate_within_2x_on_6_of_8": [len(rate_ok), bool(len(rate_ok) >= 6)],
    }
    print("\nBars (in-sample, at the defaults):")
    for name, (value, ok) in bars.items():
        print(f"  {name}: {value:.3f} {'PASS' if ok else 'FAIL'}")
    return bars


# ------------------------------------- part 0: leave-one-entity-out selection
SELECT_KEYS = ["roc_auc", "pr_auc", "best_f1", "f1_predict", "event_f1_predict",
               "alarm_rate", "true_rate"]
SUMMARY_KEYS = ["roc_auc", "pr_auc", "best_f1", "f1_predict", "f1_ratio", "f1_ratio_mean",
                "event_f1_predict", "within_2x"]


def selection_summary(rows):
    """Means over entities, F1 at predict over best F1 (ratio of the means and mean of
    the ratios) and the number of entities alarming within 2x of the true rate."""
    rows = list(rows.values())
    means = {k: float(np.mean([r[k] for r in rows])) for k in SELECT_KEYS}
    means["f1_ratio"] = means["f1_predict"] / means["best_f1"]
    means["f1_ratio_mean"] = float(np.mean([r["f1_predict"] / r["best_f1"] for r in rows]))
    means["within_2x"] = sum(0.5 <= r["alarm_rate"] / r["true_rate"] <= 2 for r in rows)
    return means


def part_select(args):
    import _ts_selection as sel

    entities = [e for e in ENTITIES if (not args.entities or e in args.entities)]
    loaded = {}
    for name in entities:
        try:
            loaded[name] = load_entity(name)
        except (FileNotFoundError, OSError) as exc:
            print(f"{name}: data not found ({exc}); skipped.")
    entities = list(loaded)
    labels = {name: loaded[name][2] for name in entities}
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    print(f"\nLeave-one-entity-out over {entities}; cache {cache}", flush=True)
    if not args.no_train:
        for window, scaling in sel.TRAIN_GRID + (sel.EXTRA_GRID if args.grid_extra else []):
            for name in entities:
                sel.train_cached(name, window, scaling, lambda n: loaded[n], cache)
    results_path = cache / "variant_metrics.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results = sel.evaluate(entities, labels, cache, results)
    results_path.write_text(json.dumps(results))
    out = sel.leave_one_out(entities, labels, cache, results)
    if out is None:
        return {"skipped": "no variant cached for every entity"}
    table("Held-out (each entity scored at the choice made on the other seven)",
          ["entity", "variant", "threshold"] + SELECT_KEYS,
          [[e, r["variant"], r["threshold"]] + [r[k] for k in SELECT_KEYS]
           for e, r in out["held_out"].items()])
    table("In-sample (the choice on all entities: the defaults)",
          ["entity"] + SELECT_KEYS,
          [[e] + [r[k] for k in SELECT_KEYS] for e, r in out["in_sample"].items()])
    summary = {"held-out (headline)": selection_summary(out["held_out"]),
               "in-sample (chosen on all)": selection_summary(out["in_sample"])}
    # Reference lines: every cached floor and bound of the channel error scales; a wider
    # thresholder family; moving means of the scores.
    every = {"floors": sel.FLOORS, "bounds": sel.BOUNDS}
    references = {
        "every floor and bound": sel.leave_one_out(entities, labels, cache, results, **every),
        "every floor and bound, best mean ROC-AUC": sel.leave_one_out(
            entities, labels, cache, results, **every, by_rank=False),
        "quantiles, SPOT, MAD x caps": sel.leave_one_out(entities, labels, cache, results,
                                                         tails=sel.TAILS),
    }
    for name, ref in references.items():
        out[f"reference {name}"] = ref
        summary[f"held-out, {name}"] = selection_summary(ref["held_out"])
        summary[f"in-sample, {name}"] = selection_summary(ref["in_sample"])
    out["summary"] = summary
    table(f"Mean over {len(entities)} entities ({out['n_variants']} scoring variants; "
          "f1 ratio: mean F1 at predict / mean best F1)",
          ["figure"] + SUMMARY_KEYS, [[f] + [v[k] for k in SUMMARY_KEYS]
                                      for f, v in summary.items()])
    print(f"Chosen on all entities: {out['chosen']}", flush=True)
    # How far any single cached variant, or the best one per entity, could go.
    complete = [k for k, v in results.items() if all(e in v for e in entities)]
    aucs = np.array([[results[k][e]["roc_auc"] for e in entities] for k in complete])
    out["roc_auc_ceiling"] = {
        "n_variants": len(complete), "best_variant": complete[int(aucs.mean(1).argmax())],
        "best_variant_mean": float(aucs.mean(1).max()),
        "best_per_entity": dict(zip(entities, aucs.max(0).tolist())),
        "best_per_entity_mean": float(aucs.max(0).mean())}
    print(f"ROC-AUC ceiling over {len(complete)} cached variants: best single variant "
          f"{aucs.mean(1).max():.4f}; best per entity (oracle) {aucs.max(0).mean():.4f}: "
          + " ".join(f"{e} {a:.3f}" for e, a in zip(entities, aucs.max(0))), flush=True)
    smoothing = sel.smoothing_reference(out["chosen"]["variant"], out["chosen"]["threshold"],
                                        entities, labels, cache, results)
    out["smoothing_reference"] = smoothing
    table("Centred moving mean of the scores at the chosen variant and cap (in-sample)",
          ["length"] + SUMMARY_KEYS,
          [[length] + [selection_summary(rows)[k] for k in SUMMARY_KEYS]
           for length, rows in smoothing.items()])
    out["train_grid"] = sel.TRAIN_GRID + (sel.EXTRA_GRID if args.grid_extra else [])
    out["budget_steps"] = sel.BUDGET_STEPS
    return out


# ------------------------------------------------ part 2: training throughput
def plain_loop(X, cfg, lr, batch_size, epochs, beta, seed=0):
    """Hand-written loop: Adam, shuffled index batches gathered from a (C, n) tensor."""
    torch.manual_seed(seed)
    module = TimeSeriesVAE(**cfg)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    criterion = ELBOLoss(beta=beta)
    series = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).t().contiguous()
    starts = torch.as_tensor(window_starts(len(X), cfg["window_size"], 1))
    offsets = torch.arange(cfg["window_size"])
    n = len(starts)
    module.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n)
        total = 0.0
        for i in range(0, n, batch_size):
            positions = starts[order[i:i + batch_size]].unsqueeze(1) + offsets
            x = series[:, positions].transpose(0, 1)  # (batch, C, window)
            optimizer.zero_grad()
            loss = criterion(module(x), x)
            loss.backward()
            optimizer.step()
            total += loss.item()
    return time.perf_counter() - t0, n


def ours_fit(X, epochs):
    det = TimeSeriesVAEDetector(random_state=0, validation_fraction=0, early_stopping=False,
                                max_epochs=epochs, device="cpu")
    t0 = time.perf_counter()
    det.fit(X)
    wall = time.perf_counter() - t0
    loop = float(sum(det.net_.history[:, "dur"]))
    n = len(window_starts(len(X), det.window_size, det.stride))
    return wall, loop, n


def part_throughput(args):
    from skanomaly.datasets import load_smd

    try:
        X = np.asarray(load_smd("machine-1-7", data_home=SMD_HOME).X_train, dtype=np.float32)
        source = "SMD machine-1-7 X_train"
    except (FileNotFoundError, OSError, ValueError):
        X = np.random.default_rng(0).standard_normal((20000, N_CHANNELS_SYNTH)).astype(np.float32)
        source = "synthetic 20,000 x 38 N(0, 1)"
    if args.quick:
        X = X[:5000]
        source += " (first 5,000 rows, --quick)"
    det = TimeSeriesVAEDetector()
    cfg = det._module_params(X)  # the detector's own default module configuration
    epochs = args.throughput_epochs
    print(f"\nThroughput on {source}: {X.shape}, window {det.window_size}, batch "
          f"{det.batch_size}, {epochs} epoch(s), {args.repeats} repeat(s), "
          f"torch threads {torch.get_num_threads()}", flush=True)
    # Warm-up, one epoch each.
    plain_loop(X, cfg, det.lr, det.batch_size, 1, det.beta)
    ours_fit(X, 1)
    plain, ours_wall, ours_loop = [], [], []
    n_windows = None
    for r in range(args.repeats):
        t, n_windows = plain_loop(X, cfg, det.lr, det.batch_size, epochs, det.beta)
        plain.append(n_windows * epochs / t)
        wall, loop, n2 = ours_fit(X, epochs)
        assert n2 == n_windows
        ours_wall.append(n_windows * epochs / wall)
        ours_loop.append(n_windows * epochs / loop)
        print(f"  repeat {r + 1}: plain {plain[-1]:,.0f} w/s, ours loop {ours_loop[-1]:,.0f} "
              f"w/s, ours fit() {ours_wall[-1]:,.0f} w/s", flush=True)
    res = {
        "source": source, "shape": list(X.shape), "n_windows": n_windows, "epochs": epochs,
        "repeats": args.repeats, "module_config": {k: (list(v) if isinstance(v, tuple) else v)
                                                   for k, v in cfg.items()},
        "batch_size": det.batch_size, "lr": det.lr,
        "plain_windows_per_s": plain, "ours_loop_windows_per_s": ours_loop,
        "ours_fit_windows_per_s": ours_wall,
    }
    rows = []
    for label, vals in (("plain torch loop", plain), ("skanomaly training loop", ours_loop),
                        ("skanomaly whole fit()", ours_wall)):
        rows.append([label, max(vals), statistics.median(vals), max(vals) / max(plain),
                     statistics.median(vals) / statistics.median(plain)])
    table("Training throughput (windows/s)",
          ["run", "best", "median", "ratio best", "ratio median"], rows)
    res["ratio_loop_best"] = max(ours_loop) / max(plain)
    res["ratio_loop_median"] = statistics.median(ours_loop) / statistics.median(plain)
    res["ratio_fit_best"] = max(ours_wall) / max(plain)
    res["ratio_fit_median"] = statistics.median(ours_wall) / statistics.median(plain)
    res["bar"] = {"needed": BAR_THROUGHPUT, "measured": res["ratio_loop_best"],
                  "passed": bool(res["ratio_loop_best"] >= BAR_THROUGHPUT)}
    print(f"Bar: training loop best-of ratio {res['ratio_loop_best']:.1%} >= "
          f"{BAR_THROUGHPUT:.0%}: {'PASS' if res['bar']['passed'] else 'FAIL'} "
          f"(whole fit(): {res['ratio_fit_best']:.1%})", flush=True)
    return res


# ---------------------------------------------------- part 3: scoring memory
def current_rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(rows, threads):
    """Run in a fresh process: print one JSON line with the scoring call's memory."""
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    t = np.arange(rows, dtype=np.float32)[:, None]
    X = (np.sin(t / (10 + np.arange(N_CHANNELS_SYNTH, dtype=np.float32)))
         + 0.1 * rng.standard_normal((rows, N_CHANNELS_SYNTH), dtype=np.float32))
    X = X.astype(np.float32)
    del t
    det = TimeSeriesVAEDetector(window_size=100, max_epochs=1, random_state=0, device="cpu")
    t0 = time.perf_counter()
    det.fit(X[:MEMORY_FIT_ROWS])
    fit_s = time.perf_counter() - t0
    gc.collect()
    before = current_rss()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    peak = [before]
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            peak[0] = max(peak[0], current_rss())
            time.sleep(0.005)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    t0 = time.perf_counter()
    scores = det.score_samples(X)
    wall = time.perf_counter() - t0
    stop.set()
    poller.join()
    peak[0] = max(peak[0], current_rss())
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "rows": rows, "channels": N_CHANNELS_SYNTH, "window_size": 100,
        "series_bytes": int(X.nbytes), "fit_rows": MEMORY_FIT_ROWS, "fit_s": fit_s,
        "score_s": wall, "rss_before": before, "rss_peak": peak[0],
        "rss_increase": peak[0] - before,
        "maxrss_before": maxrss_before, "maxrss_after": maxrss_after,
        "maxrss_increase": maxrss_after - maxrss_before,
        "scores_shape": list(scores.shape), "scores_finite": bool(np.isfinite(scores).all()),
        "naive_windows_bytes": int((rows - 99) * N_CHANNELS_SYNTH * 100 * 4),
    }))


def part_memory(args):
    rows = args.memory_rows
    print(f"\nScoring memory: {rows:,} x {N_CHANNELS_SYNTH} float32, window 100 "
          "(fresh subprocess)", flush=True)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(rows),
         "--threads", str(args.threads)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, sep="\n")
        return {"error": proc.stderr[-4000:]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    gib = 1024**3
    table("Scoring memory", ["measure", "value"], [
        ["series size (GiB)", res["series_bytes"] / gib],
        ["all windows materialised would be (GiB)", res["naive_windows_bytes"] / gib],
        ["RSS before score_samples (GiB)", res["rss_before"] / gib],
        ["peak RSS during score_samples (GiB)", res["rss_peak"] / gib],
        ["peak RSS increase (GiB)", res["rss_increase"] / gib],
        ["ru_maxrss increase (GiB, lower bound)", res["maxrss_increase"] / gib],
        ["score_samples wall (s)", res["score_s"]],
        ["windows/s scored", (rows - 99) / res["score_s"]],
    ])
    res["bar"] = {"needed_bytes": BAR_MEMORY_BYTES, "measured_bytes": res["rss_increase"],
                  "passed": bool(res["rss_increase"] < BAR_MEMORY_BYTES
                                 and res["scores_finite"])}
    print(f"Bar: peak increase {res['rss_increase'] / gib:.3f} GiB < 2 GiB "
          f"(process peak {res['rss_peak'] / gib:.3f} GiB): "
          f"{'PASS' if res['bar']['passed'] else 'FAIL'}", flush=True)
    return res


# ------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: first entity, 2 epochs everywhere, 5,000-row "
                             "throughput data, 100,000-row memory series")
    parser.add_argument("--entities", nargs="*", default=None,
                        help="entities for select/quality (default: the eight shared ones)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="override the detector's max_epochs in part quality")
    parser.add_argument("--param", type=parse_param, action="append", default=[],
                        help="detector parameter key=value for part quality (experiments)")
    parser.add_argument("--pyod-epochs", type=int, default=None,
                        help="epoch_num of PyOD's AutoEncoder (default: PyOD's)")
    parser.add_argument("--pyod-stride", type=int, default=1,
                        help="stride of PyOD's training windows (test windows: stride 1)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="folder of part select's cached per-channel errors")
    parser.add_argument("--no-train", action="store_true",
                        help="part select: use the cache only, train nothing")
    parser.add_argument("--grid-extra", action="store_true",
                        help="part select: also train window 32 and unscaled input")
    parser.add_argument("--throughput-epochs", type=int, default=None,
                        help="epochs per throughput run (default 3, --quick 1)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="throughput repeats (default 3, --quick 1)")
    parser.add_argument("--memory-rows", type=int, default=None,
                        help="rows of the memory series (default 1,000,000, --quick 100,000)")
    parser.add_argument("--parts", nargs="+", default=["select", "quality"],
                        choices=["select", "quality", "throughput", "memory"])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads for every part (default 1)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default benchmarks/results/timeseries.json; "
                             "--quick: timeseries_quick.json)")
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_child is not None:
        memory_child(args.memory_child, args.threads)
        return
    torch.set_num_threads(args.threads)
    if args.quick:
        args.max_epochs = args.max_epochs or 2
        args.pyod_epochs = args.pyod_epochs or 2
    args.throughput_epochs = args.throughput_epochs or (1 if args.quick else 3)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.memory_rows = args.memory_rows or (100_000 if args.quick else 1_000_000)
    if args.out is None:
        args.out = DEFAULT_OUT.with_name("timeseries_quick.json") if args.quick else DEFAULT_OUT
    params = dict(args.param)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs

    result = {"environment": environment(args.threads),
              "command": " ".join([Path(sys.executable).name] + sys.argv),
              "quick": args.quick}
    print(json.dumps(result["environment"], indent=1))
    t_start = time.perf_counter()

    def save():
        result["total_s"] = time.perf_counter() - t_start
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")

    def save_quality(partial):
        result["quality"] = {"partial": True, **partial}
        save()

    # The JSON is rewritten after each part and each entity of part quality, so an
    # interrupted run keeps what it measured.
    if "select" in args.parts and not args.quick:
        result["select"] = part_select(args)
        save()
    if "quality" in args.parts:
        result["quality"] = part_quality(args, params, save_quality)
        save()
    if "throughput" in args.parts:
        result["throughput"] = part_throughput(args)
        save()
    if "memory" in args.parts:
        result["memory"] = part_memory(args)
    save()
    print(f"\nWrote {args.out} ({result['total_s']:.0f} s)")


if __name__ == "__main__":
    main()
