"""TimeSeriesVAEDetector: SMD quality against PyOD, training throughput, scoring memory.

Three parts, each printed as a table and written to one JSON file:

1. **SMD quality.** For every machine under ``../shared/data/smd`` (relative to
   the repository root), ``TimeSeriesVAEDetector(random_state=0)`` with its
   default parameters is fitted on ``X_train`` and scores ``X_test``
   (anomaly score = ``-score_samples``). PyOD's VAE, AutoEncoder and IForest
   run in the same process on the same split:

   * ``PyOD <model> (windows)``: fitted on the flattened sliding windows of
     ``X_train`` (window = the detector's ``window_size``, channels-first
     flattening, stride ``--pyod-stride``, default 1, plus a last window flush
     with the end, exactly like the detector's windows); the test windows
     (stride 1) are scored with ``decision_function`` and every time step gets
     the **mean score of the windows covering it** (the detector's own rule).
   * ``PyOD <model> (points)``: fitted on the rows of ``X_train`` and scoring
     the rows of ``X_test`` (window 1), the setting of the figures quoted in
     the issue (VAE 0.757, AutoEncoder 0.715, IForest 0.652 mean ROC-AUC).

   PyOD runs with its default hyper-parameters (its own standardisation
   included), ``random_state=0``, ``verbose=0``, CPU; ``--pyod-epochs``
   overrides ``epoch_num`` of the two neural models. Metrics, anomalies
   positive: ROC-AUC, PR-AUC (average precision), best F1 over all
   thresholds without point-adjust (an oracle on the test labels), and F1 at
   a threshold fitted on training data only: the detector's own
   ``decision_function`` (``PercentileThreshold(q=0.99)`` calibrated on the
   held-out tail of ``X_train``); for PyOD ``PercentileThreshold(q=0.99)`` on
   its per-step scores of ``X_train`` (in-sample). Plus fit and score seconds.
   Both the detector alone and ``Pipeline(StandardScaler(), detector)`` (the
   documented usage; PyOD standardises internally as well) are run. Bar, on
   the pipeline row: mean ROC-AUC >= 0.85 and >= best PyOD mean + 0.05.

2. **Training throughput.** The detector's default module
   (``skanomaly.modules.TimeSeriesVAE``, built from the detector's own module
   configuration) trained on the same windows (machine-1-7 ``X_train``, or a
   synthetic 20,000 x 38 series without the data) by ``detector.fit``
   (``validation_fraction=0, early_stopping=False``) and by a plain torch loop:
   Adam (same lr), shuffled index batches gathered from a (C, n) tensor like
   ``skanomaly.preprocessing.windows`` does, ``skanomaly.nets.ELBOLoss``, same
   batch size and epochs, ``loss.item()`` read per batch. One warm-up run of
   each, then ``--repeats`` alternated runs; best (and median) windows/s.
   Two ratios: the training loop (sum of skorch's per-epoch ``dur``) and the
   whole ``fit`` call (which also validates, builds the net and scores the
   training windows to calibrate the threshold). Bar: training loop >= 90 %.

3. **Scoring memory.** In a fresh subprocess: a 1,000,000 x 38 float32 series
   (``--quick``: 100,000), ``TimeSeriesVAEDetector(window_size=100,
   max_epochs=1)`` fitted on its first 5,000 rows, then ``score_samples`` on
   the whole series. The resident set size (RSS, which sees torch's
   allocations, unlike tracemalloc) is sampled every 5 ms by a thread during
   the call; reported: peak RSS minus RSS just before the call, the
   ``ru_maxrss`` increase (a lower bound), the process's absolute peak, and
   the wall time. Bar: the increase stays under 2 GB.

Usage::

    python benchmarks/bench_timeseries.py --quick
    python benchmarks/bench_timeseries.py [--machines machine-1-7 ...]
        [--max-epochs N] [--param key=value ...] [--pyod-epochs N]
        [--pyod-stride S] [--parts smd throughput memory] [--threads T]
        [--out benchmarks/results/timeseries.json]
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

import skanomaly
from skanomaly.base import resolve_device
from skanomaly.detectors import TimeSeriesVAEDetector
from skanomaly.metrics import (
    anomaly_average_precision_score,
    anomaly_f1_score,
    anomaly_roc_auc_score,
    best_f1_score,
)
from skanomaly.modules import TimeSeriesVAE
from skanomaly.nets import ELBOLoss
from skanomaly.preprocessing.windows import window_scores_to_steps, window_starts
from skanomaly.thresholds import PercentileThreshold

REPO = Path(__file__).resolve().parent.parent
SMD_HOME = (REPO / ".." / "shared" / "data" / "smd").resolve()
DEFAULT_OUT = REPO / "benchmarks" / "results" / "timeseries.json"
ISSUE_POINT_FIGURES = {"VAE": 0.757, "AutoEncoder": 0.715, "IForest": 0.652}
OURS = "skanomaly TimeSeriesVAE"
OURS_SCALED = OURS + " + StandardScaler"
BAR_ROC_AUC = 0.85
BAR_MARGIN = 0.05
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


def quality(y, scores, train_flags):
    finite = bool(np.all(np.isfinite(scores)))
    if not finite:
        return {"roc_auc": float("nan"), "pr_auc": float("nan"), "best_f1": float("nan"),
                "f1_train_threshold": float("nan"), "finite": False}
    return {
        "roc_auc": anomaly_roc_auc_score(y, scores),
        "pr_auc": anomaly_average_precision_score(y, scores),
        "best_f1": best_f1_score(y, scores),
        "f1_train_threshold": anomaly_f1_score(y, train_flags),
        "finite": True,
    }


# ------------------------------------------------------- part 1: SMD quality
def pyod_models(epochs):
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.iforest import IForest
    from pyod.models.vae import VAE

    nn_kwargs = {"random_state": 0, "verbose": 0, "device": "cpu"}
    if epochs is not None:
        nn_kwargs["epoch_num"] = epochs
    return {
        "VAE": lambda: VAE(**nn_kwargs),
        "AutoEncoder": lambda: AutoEncoder(**nn_kwargs),
        "IForest": lambda: IForest(random_state=0),
    }


def run_ours(X_train, X_test, y_test, params, scaled=False):
    det = TimeSeriesVAEDetector(random_state=0, **params)
    # The README's usage: standardise first (PyOD standardises internally too).
    model = make_pipeline(StandardScaler(), det) if scaled else det
    t0 = time.perf_counter()
    model.fit(X_train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    anomaly = -model.score_samples(X_test)
    score_s = time.perf_counter() - t0
    # decision_function's rule, without scoring twice: negative = anomalous.
    flags = (-anomaly + det.thresholder_.thresholds(anomaly)) < 0
    res = quality(y_test, anomaly, flags)
    res.update(fit_s=fit_s, score_s=score_s, epochs=len(det.net_.history),
               window_size=det.window_size)
    return res, det


def run_pyod(make, X_train, X_test, y_test, window, stride):
    """Fit on flattened windows (or rows when window is None); per-step scores."""
    model = make()
    n_train, n_test = len(X_train), len(X_test)
    if window is None:
        train_starts = np.arange(0, n_train, stride)
        A_train, A_test = X_train[train_starts], X_test
    else:
        train_starts = window_starts(n_train, window, stride)
        test_starts = window_starts(n_test, window, 1)
        A_train = flat_windows(X_train, train_starts, window)
        A_test = flat_windows(X_test, test_starts, window)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model.fit(A_train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        raw = model.decision_function(A_test)
        if window is not None:
            test_scores = window_scores_to_steps(raw, test_starts, window, n_test)
        else:
            test_scores = np.asarray(raw, dtype=np.float64)
        score_s = time.perf_counter() - t0
    train_raw = np.asarray(model.decision_scores_, dtype=np.float64)
    # Points: the scores of the training rows; windows: per step, as for the test part.
    train_scores = (train_raw if window is None
                    else window_scores_to_steps(train_raw, train_starts, window, n_train))
    if np.all(np.isfinite(train_scores)):
        thr = PercentileThreshold(q=0.99).fit(train_scores)
        flags = test_scores > thr.threshold_
    else:
        flags = np.zeros(n_test, dtype=bool)
    res = quality(y_test, test_scores, flags)
    res.update(fit_s=fit_s, score_s=score_s, n_train_rows=len(A_train))
    return res


def part_smd(args, params, save=lambda partial: None):
    from skanomaly.datasets import list_smd_machines, load_smd

    try:
        available = list_smd_machines(data_home=SMD_HOME)
    except (FileNotFoundError, OSError) as exc:
        print(f"SMD data not found under {SMD_HOME}: {exc}; skipping part 1.")
        return {"skipped": str(exc)}
    machines = args.machines or available
    if args.quick and not args.machines:
        machines = machines[:1]
    makers = pyod_models(args.pyod_epochs)
    metric_keys = ["roc_auc", "pr_auc", "best_f1", "f1_train_threshold", "fit_s", "score_s"]
    per_machine = {}
    window = TimeSeriesVAEDetector(**params).window_size
    for machine in machines:
        data = load_smd(machine, data_home=SMD_HOME)
        X_train = np.asarray(data.X_train, dtype=np.float32)
        X_test = np.asarray(data.X_test, dtype=np.float32)
        y_test = np.asarray(data.y_test)
        print(f"\n{machine}: train {X_train.shape}, test {X_test.shape}, "
              f"anomalies {y_test.mean():.1%}", flush=True)
        rows = {}
        for label, scaled in ((OURS, False), (OURS_SCALED, True)):
            rows[label], _ = run_ours(X_train, X_test, y_test, params, scaled=scaled)
            print(f"  {label} done ({rows[label]['fit_s']:.1f} s fit, "
                  f"{rows[label]['epochs']} epochs)", flush=True)
        for name, make in makers.items():
            for label, w in ((f"PyOD {name} (windows)", window), (f"PyOD {name} (points)", None)):
                rows[label] = run_pyod(make, X_train, X_test, y_test, w, args.pyod_stride)
                print(f"  {label} done ({rows[label]['fit_s']:.1f} s fit)", flush=True)
        per_machine[machine] = rows
        save({"machines_done": list(per_machine), "per_machine": per_machine})
        table(f"{machine}", ["method"] + metric_keys,
              [[m] + [r[k] for k in metric_keys] for m, r in rows.items()])
    methods = list(next(iter(per_machine.values())))
    means = {
        m: {k: float(np.mean([per_machine[mc][m][k] for mc in machines])) for k in metric_keys}
        for m in methods
    }
    table(f"Mean over {len(machines)} SMD machine(s)", ["method"] + metric_keys,
          [[m] + [means[m][k] for k in metric_keys] for m in methods])
    # The bar judges the documented usage, Pipeline(StandardScaler(), detector):
    # PyOD standardises its input internally too. The raw row is printed beside it.
    ours = means[OURS_SCALED]["roc_auc"]
    pyod_means = {m: v["roc_auc"] for m, v in means.items()
                  if m.startswith("PyOD") and np.isfinite(v["roc_auc"])}
    best_name = max(pyod_means, key=pyod_means.get) if pyod_means else None
    best = pyod_means.get(best_name, float("nan"))
    bar = {
        "mean_roc_auc": ours, "best_pyod": best_name, "best_pyod_roc_auc": best,
        "needed": max(BAR_ROC_AUC, best + BAR_MARGIN),
        "passed": bool(ours >= BAR_ROC_AUC and ours >= best + BAR_MARGIN),
    }
    print(f"\nBar ({OURS_SCALED}): mean ROC-AUC {ours:.3f} >= {BAR_ROC_AUC} and >= best PyOD "
          f"({best_name}: {best:.3f}) + {BAR_MARGIN} = {best + BAR_MARGIN:.3f}: "
          f"{'PASS' if bar['passed'] else 'FAIL'}", flush=True)
    print("(issue's PyOD-on-points figures: "
          + ", ".join(f"{k} {v}" for k, v in ISSUE_POINT_FIGURES.items()) + ")", flush=True)
    return {
        "machines": machines, "data_home": str(SMD_HOME), "detector_params": params,
        "window_size": window, "pyod_train_stride": args.pyod_stride,
        "pyod_epochs": args.pyod_epochs or "PyOD defaults (VAE 30, AutoEncoder 10)",
        "score_rule": "per step: mean of the scores of the windows covering it",
        "per_machine": per_machine, "mean": means, "bar": bar,
    }


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
                        help="smoke run: first machine, 2 epochs everywhere, 5,000-row "
                             "throughput data, 100,000-row memory series")
    parser.add_argument("--machines", nargs="*", default=None,
                        help="SMD machines (default: all under ../shared/data/smd)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="override the detector's max_epochs in part 1")
    parser.add_argument("--param", type=parse_param, action="append", default=[],
                        help="detector parameter key=value for part 1 (experiments)")
    parser.add_argument("--pyod-epochs", type=int, default=None,
                        help="epoch_num of PyOD VAE/AutoEncoder (default: PyOD's)")
    parser.add_argument("--pyod-stride", type=int, default=1,
                        help="stride of PyOD's training windows (test windows: stride 1)")
    parser.add_argument("--throughput-epochs", type=int, default=None,
                        help="epochs per throughput run (default 3, --quick 1)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="throughput repeats (default 3, --quick 1)")
    parser.add_argument("--memory-rows", type=int, default=None,
                        help="rows of the memory series (default 1,000,000, --quick 100,000)")
    parser.add_argument("--parts", nargs="+", default=["smd", "throughput", "memory"],
                        choices=["smd", "throughput", "memory"])
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch.set_num_threads for every part (default: all cores)")
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

    def save_smd(partial):
        result["smd"] = {"partial": True, **partial}
        save()

    # SMD first, in a fresh process (its figures are the ones the bar reads); the JSON is
    # rewritten after each SMD machine and each part.
    if "smd" in args.parts:
        result["smd"] = part_smd(args, params, save_smd)
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
