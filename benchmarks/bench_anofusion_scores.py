"""How AnoFusion turns forecast residuals into scores and alarms, chosen on held-out data.

The network's forecasts do not depend on the score rule, so each unit (a
simulated service, a ChangeRCA service, a Nezha pod) is trained once and its
per-channel forecast residuals are cached: on the held-out calibration steps
and on the test steps. Every score rule and thresholder is then evaluated on
the cache, and one is chosen by leave-one-group-out validation (a simulator
seed, a ChangeRCA day): choose on the other groups, measure on the held-out
one. Run from the repository root (1 torch thread, CPU)::

    python benchmarks/bench_anofusion_scores.py cache --seeds 0 1 2 3 --cache /tmp/afcache
    python benchmarks/bench_anofusion_scores.py select --cache /tmp/afcache
    python benchmarks/bench_anofusion_scores.py false-alarms --cache /tmp/afcache --simulator ...
    python benchmarks/bench_anofusion_scores.py cache --sqrt-logs --ablations all ... \
        --cache /tmp/afcache_sqrt     # log counts as square roots (what TelemetryChannels
    python benchmarks/bench_anofusion_scores.py compare --cache /tmp/afcache \
        --other /tmp/afcache_sqrt     # now does by default), leave one seed out

``cache`` trains the models (``--parts simulator changerca nezha``);
``select`` prints the leave-one-group-out table and writes
``benchmarks/results/bench_anofusion_scores.json``; ``false-alarms`` counts
where the default's DSPOT alarms outside a unit's own faults fall.
"""

import argparse
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_anofusion as bench  # noqa: E402
from sklearn.base import clone  # noqa: E402

from skanomaly.detectors import AnoFusionDetector  # noqa: E402
from skanomaly.metrics import (  # noqa: E402
    anomaly_roc_auc_score,
    event_precision_recall_f1,
    point_adjusted_f1_score,
)
from skanomaly.thresholds import DSPOTThreshold, SPOTThreshold  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


# ------------------------------------------------------------------- cache
def cache_unit(path, detector, X_train, X_test, extra):
    """Fit ``detector`` on ``X_train``; save residuals and inputs of calibration and test steps."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector.fit(X_train)
    fit_s = time.perf_counter() - start
    n = len(X_train)
    n_held = detector._held_out_size(n, "time steps", detector.window_size + 1)
    train_res = detector.forecast_errors(X_train)
    # The test series continues the training one: its first windows take their
    # history from the training tail, as a deployed detector's would.
    joined = np.concatenate([np.asarray(X_train, dtype=float)[-detector.window_size:],
                             np.asarray(X_test, dtype=float)])
    test_res = detector.forecast_errors(joined)[detector.window_size:]
    standardize = lambda v: (np.asarray(v, dtype=float) - detector.center_) / detector.scale_  # noqa: E731
    train_x = standardize(X_train)
    np.savez_compressed(
        path, cal_res=train_res[n - n_held:], test_res=test_res,
        cal_x=train_x[n - n_held:], test_x=standardize(X_test), fit_x=train_x[:n - n_held],
        modality=np.asarray(detector.modality_, dtype=str),
        fit_s=fit_s, epochs=len(detector.net_.history), **extra)
    return fit_s


def simulator_config(args):
    """``--simulator key=value`` pairs as ``bench_anofusion``'s config."""
    return {"simulator": {k: json.loads(v) for k, v in (a.split("=", 1) for a in args.simulator)}}


def run_cache(args):
    out = Path(args.cache)
    torch.set_num_threads(1)
    cfg = simulator_config(args)
    params = dict(window_size=20, validation_fraction=0.3, device="cpu",
                  threshold=DSPOTThreshold(q=1e-4, level=0.98, depth=500),
                  **json.loads(args.params))
    if "simulator" in args.parts:
        (out / "simulator").mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            data, table, n_train, every, cross = bench.simulator_tables(seed, cfg)
            if args.sqrt_logs:  # variance-stabilised log counts (Poisson: sd ~ sqrt(mean))
                logs = [c for c in table.columns if c.startswith("log__")]
                table[logs] = np.sqrt(table[logs])
            for service in data.services:
                cols = bench.entity_columns(table, service)
                mods = np.array([c.split("__")[0] for c in cols])
                for name, keep in (("metrics", ("metric",)), ("all", ("metric", "log", "trace"))):
                    if name not in args.ablations:
                        continue
                    path = out / "simulator" / f"{seed}__{service}__{name}.npz"
                    if path.exists():
                        continue
                    sub = [c for c, m in zip(cols, mods) if m in keep]
                    det = AnoFusionDetector(random_state=seed, **params)
                    fit_s = cache_unit(path, det, table[sub].iloc[:n_train],
                                       table[sub].iloc[n_train:],
                                       {"y": every[service].to_numpy()[n_train:],
                                        "y_cross": cross[service].to_numpy()[n_train:],
                                        "group": seed})
                    print(f"simulator seed {seed} {service} {name}: {len(sub)} channels, "
                          f"fit {fit_s:.0f} s", flush=True)


# ------------------------------------------------------------------ scoring
def smooth(values, k):
    """Mean of the last ``k`` rows, per column (as AnoFusionDetector._terms)."""
    if k == 1:
        return values
    sums = np.cumsum(values, axis=0)
    sums[k:] -= sums[:-k].copy()
    j = np.minimum(np.arange(1, len(sums) + 1), k)  # as the detector: a partial sum's noise
    return sums / np.sqrt(j * k)[:, None]  # gets the spread of a full mean


def channel_terms(res, rule, k):
    """Per-channel terms of the averaged residuals."""
    e = smooth(res, k)
    return np.abs(e) if rule in ("abs", "robust") else e ** 2


def fit_norm(cal_terms, rule, floor=0.0):
    """Per-channel centre and scale of the calibration terms.

    ``floor`` bounds each scale from below in the detector's standardised
    units (training standard deviations; squared for squared terms), so a
    channel that happened to be flat in the calibration part cannot
    dominate later.
    """
    if rule == "raw":  # no per-channel normalisation (training-std units)
        return np.zeros(cal_terms.shape[1]), np.ones(cal_terms.shape[1])
    if rule == "robust":
        q25, q50, q75 = np.percentile(cal_terms, [25, 50, 75], axis=0)
        scale = q75 - q25
    elif rule == "meansq":  # mean square: a channel with rare large errors gets their scale
        q50 = np.zeros(cal_terms.shape[1])
        scale = cal_terms.mean(axis=0)
    else:
        q50 = np.zeros(cal_terms.shape[1])
        scale = np.median(cal_terms, axis=0)
    scale = np.maximum(scale, 0.01 * max(scale.mean(), 1e-12))
    return q50, np.maximum(scale, floor if rule == "robust" else floor ** 2)


def aggregate(z, how, modality):
    if how == "sum":
        return z.sum(axis=1)
    if how == "max":
        return z.max(axis=1)
    if how == "mean_modality":  # each modality's mean term, summed: many channels of one
        return sum(z[:, modality == m].mean(axis=1) for m in np.unique(modality))
    if how.startswith("top"):
        k = min(int(how[3:]), z.shape[1])
        return np.sort(z, axis=1)[:, -k:].mean(axis=1)
    raise ValueError(how)


def unit_scores(unit, rule, k, how, floor=0.0):
    if isinstance(k, tuple):  # several time scales: each in units of its calibration median
        pairs = [unit_scores(unit, rule, one, how, floor) for one in k]
        medians = [max(np.median(cal), 1e-12) for cal, _ in pairs]
        return (np.max([cal / m for (cal, _), m in zip(pairs, medians)], axis=0),
                np.max([test / m for (_, test), m in zip(pairs, medians)], axis=0))
    cal_t = channel_terms(unit["cal_res"], rule, k)
    if "case" in unit:  # several series (ChangeRCA cases) scored one by one
        starts = np.flatnonzero(np.r_[True, unit["case"][1:] != unit["case"][:-1]])
        test_t = np.concatenate([channel_terms(part, rule, k)
                                 for part in np.split(unit["test_res"], starts[1:])])
    else:
        test_t = channel_terms(unit["test_res"], rule, k)
    center, scale = fit_norm(cal_t, rule, floor)
    mod = unit["modality"]
    return (aggregate((cal_t - center) / scale, how, mod),
            aggregate((test_t - center) / scale, how, mod))


# AnoFusionDetector's defaults in this file's terms (chosen by ``select``).
DEFAULT = dict(rule="square", k=10, how="sum", floor=0.1)

THRESHOLDS = {
    "DSPOT paper": lambda n: DSPOTThreshold(q=1e-4, level=0.98, depth=min(500, n // 2)),
    "SPOT 1e-3": lambda n: SPOTThreshold(q=1e-3, level=0.98),
    "SPOT 1e-4": lambda n: SPOTThreshold(q=1e-4, level=0.98),
}


def alarms(cal, test, thr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = clone(thr).fit(cal)
        return (t.predict(test) == -1).astype(int)


def unit_metrics(y, score, alarm):
    if not 0 < y.sum() < len(y):
        return {"alarm": alarm.sum(), "n": len(alarm), "true": y.sum()}
    return {"roc_auc": anomaly_roc_auc_score(y, score, anomaly_label=1),
            "event_f1": event_precision_recall_f1(y, alarm, anomaly_label=1)[2],
            "f1_d7": point_adjusted_f1_score(y, alarm, method="delay", k=7, anomaly_label=1),
            "alarm": alarm.sum(), "n": len(alarm), "true": y.sum()}


def evaluate(units, rule, k, how, thr_name, kinds, floor=0.0):
    """kind -> metrics (means over units with an anomaly; pooled alarm and true rates).

    ``kinds``: ``"all"`` faults, or a kind of fault (``"cross"``, ``"cpu"``) whose
    labels are ``y_<kind>``, the other faults' steps left out.
    """
    rows = {kind: [] for kind in kinds}
    for u in units:
        cal, test = unit_scores(u, rule, k, how, floor)
        a = alarms(cal, test, THRESHOLDS[thr_name](len(cal)))
        for kind in kinds:
            y, s, al = u["y"], test, a
            if kind != "all":
                keep = (u["y"] == 0) | (u[f"y_{kind}"] == 1)
                y, s, al = u[f"y_{kind}"][keep], s[keep], a[keep]
            rows[kind].append(unit_metrics(y, s, al))
    out = {}
    for kind, rs in rows.items():
        out[kind] = {m: float(np.mean([r[m] for r in rs if m in r])) if any(m in r for r in rs)
                     else float("nan") for m in ("roc_auc", "event_f1", "f1_d7")}
        out[kind]["alarm_rate"] = float(sum(r["alarm"] for r in rs) / sum(r["n"] for r in rs))
        out[kind]["true_rate"] = float(sum(r["true"] for r in rs) / sum(r["n"] for r in rs))
    return out


def load_units(folder, ablation):
    units = []
    for path in sorted(Path(folder).glob(f"*__{ablation}.npz")):
        d = np.load(path)
        units.append({k: d[k] for k in d.files} | {"name": path.stem})
    return units


GRID = list(itertools.product(("square", "meansq", "robust"), (1, 3, 5, 10),
                              ("sum", "max", "top3"), (0.0, 0.1, 0.3, 1.0)))
# Several time scales at once (the largest of their median-scaled scores), with
# per-channel normalisation or without ("raw": squared residuals in training
# standard deviations).
SCALES = ((1, 10), (1, 5), (3, 10))
GRID += list(itertools.product(("square",), SCALES, ("sum",), (0.0, 0.1)))
GRID += list(itertools.product(("raw",), SCALES, ("sum",), (0.0,)))


# Per part: the kinds of faults evaluated and the (kind, metric) pairs a setting is
# chosen for: ranking (ROC-AUC) and usable alarms (event F1 at the paper's DSPOT).
# Nezha's faults other than CPU contention are invisible in its metrics (the
# leakage test of bench_anofusion.py): only its CPU-contention ranking counts.
PARTS = {
    "simulator": ("all", "cross"),
    "changerca": ("all",),
    "nezha": ("all", "cpu"),
}
OBJECTIVE = {
    "simulator": (("all", "roc_auc"), ("cross", "roc_auc"), ("all", "event_f1")),
    "changerca": (("all", "roc_auc"), ("all", "event_f1")),
    "nezha": (("cpu", "roc_auc"),),
}


def objective(result, part):
    """Mean of the part's objective metrics (NaN-free ones)."""
    values = [result[kind][metric] for kind, metric in OBJECTIVE[part]]
    return float(np.nanmean(values))


def group_table(units, kinds, thr):
    """setting -> group -> kind -> metrics."""
    groups = sorted({str(u["group"]) for u in units})
    table = {}
    for rule, k, how, floor in GRID:
        scales = "+".join(map(str, k)) if isinstance(k, tuple) else k
        key = f"{rule}|k{scales}|{how}|floor{floor}"
        table[key] = {g: evaluate([u for u in units if str(u["group"]) == g],
                                  rule, k, how, thr, kinds, floor) for g in groups}
    return table


def run_select(args):
    """Leave one group (simulator seed, ChangeRCA day) out: choose on the rest, measure on it."""
    thr = "DSPOT paper"
    tables = {}
    for part, kinds in PARTS.items():
        folder = Path(args.cache) / part
        # The simulator's metrics-only ablation is the bars' reference; Nezha has metrics only.
        ablations = {"simulator": ("all", "metrics"), "nezha": ("metrics",)}.get(part, ("all",))
        for ablation in ablations:
            units = load_units(folder, ablation)
            if units:
                print(f"{part} {ablation}: {len(units)} units", flush=True)
                tables[f"{part}:{ablation}"] = group_table(units, kinds, thr)
    # Groups of every part, for the 'all modalities' model.
    pooled = {}
    for name in (n for n in tables if n.endswith(":all") or n == "nezha:metrics"):
        for key, per in tables[name].items():
            for g, res in per.items():
                pooled.setdefault(key, {})[f"{name.split(':')[0]}:{g}"] = res
    groups = sorted(next(iter(pooled.values())))

    def mean_objective(key, among):
        return np.mean([objective(pooled[key][g], g.split(":")[0]) for g in among])

    held_out = {}
    for g in groups:
        chosen = max(pooled, key=lambda key: mean_objective(key, [h for h in groups if h != g]))
        held_out[g] = {"chosen": chosen, **pooled[chosen][g]}
    ranked = sorted(pooled, key=lambda key: -mean_objective(key, groups))
    print(f"\n{'held-out group':22s} {'chosen on the others':34s} "
          "roc_all roc_cross/cpu evF1 alarm (true)")
    for g, r in held_out.items():
        other = r.get("cross", r.get("cpu", {})).get("roc_auc", float("nan"))
        print(f"{g:22s} {r['chosen']:34s} {r['all']['roc_auc']:.3f}   {other:.3f}         "
              f"{r['all']['event_f1']:.3f} {r['all']['alarm_rate']:.3f} "
              f"({r['all']['true_rate']:.3f})")
    print("\nin-sample ranking (all groups), top 15: roc_all/cross or cpu roc/event F1 per group")
    for key in ranked[:15] + ["square|k5|sum|floor0.0", "robust|k1|max|floor0.0"]:
        cells = []
        for g in groups:
            r = pooled[key][g]
            other = r.get("cross", r.get("cpu", {})).get("roc_auc", float("nan"))
            cells.append(f"{r['all']['roc_auc']:.2f}/{other:.2f}/{r['all']['event_f1']:.2f}")
        print(f"{key:30s} {mean_objective(key, groups):.3f}  " + " ".join(cells))
    print("groups: " + " ".join(groups))
    out = RESULTS / "bench_anofusion_scores.json"
    out.write_text(json.dumps({"grid": GRID, "threshold": thr, "held_out": held_out,
                               "in_sample_ranking": ranked, "tables": tables},
                              indent=1, default=float))
    print(f"wrote {out}")


def run_false_alarms(args):
    """Where the default's false alarms on the cached simulator seeds fall.

    An alarm step outside the unit's own faults is counted as propagation when
    another service's fault runs (or ended up to 10 steps before), otherwise as
    a false alarm, split by whether the calibration part covered its hour of day.
    """
    cfg = simulator_config(args)
    units = load_units(Path(args.cache) / "simulator", "all")
    counts = dict(propagation=0, covered=0, covered_normal=0, uncovered=0, uncovered_normal=0)
    for seed in sorted({int(u["group"]) for u in units}):
        data, table, n_train, every, _ = bench.simulator_tables(seed, cfg)
        any_fault = every.to_numpy().max(axis=1)[n_train:].astype(bool)
        hours = table.index[n_train:].hour
        for u in (u for u in units if int(u["group"]) == seed):
            cal, test = unit_scores(u, **DEFAULT)
            alarm = alarms(cal, test, THRESHOLDS["DSPOT paper"](len(cal))).astype(bool)
            own = u["y"].astype(bool)
            near = np.convolve(any_fault & ~own, np.ones(11), "full")[:len(own)] > 0
            cal_hours = set(table.index[n_train - len(u["cal_res"]):n_train].hour)
            covered = np.isin(hours, list(cal_hours))
            false = alarm & ~own & ~near
            counts["propagation"] += int((alarm & ~own & near).sum())
            for name, where in (("covered", covered), ("uncovered", ~covered)):
                counts[name] += int((false & where).sum())
                counts[f"{name}_normal"] += int((where & ~own).sum())
    print(f"alarm steps during another service's fault (or <= 10 steps after): "
          f"{counts['propagation']}")
    for name, hours_text in (("covered", "covered"), ("uncovered", "did not cover")):
        print(f"false alarm steps in hours the calibration part {hours_text}: {counts[name]} of "
              f"{counts[name + '_normal']} normal steps "
              f"({counts[name] / counts[name + '_normal']:.3f})")


def run_compare(args):
    """Two simulator caches (e.g. log counts and their square roots), leave one seed out.

    Both are scored with the detector's default rule; for each held-out seed the
    cache with the better objective on the other seeds is chosen and measured.
    """
    tables = {}
    for folder in (args.cache, args.other):
        units = load_units(Path(folder) / "simulator", "all")
        tables[folder] = {g: evaluate([u for u in units if int(u["group"]) == g],
                                      thr_name="DSPOT paper", kinds=("all", "cross"), **DEFAULT)
                          for g in sorted({int(u["group"]) for u in units})}
    seeds = sorted(tables[args.cache])
    print(f"{'held-out seed':14s} {'chosen':28s} roc_all roc_cross evF1  alarm")
    for g in seeds:
        rest = [h for h in seeds if h != g]
        chosen = max(tables, key=lambda f: np.mean([objective(tables[f][h], "simulator")
                                                      for h in rest]))
        r = tables[chosen][g]
        print(f"{g:<14d} {chosen:28s} {r['all']['roc_auc']:.3f}   {r['cross']['roc_auc']:.3f}     "
              f"{r['all']['event_f1']:.3f} {r['all']['alarm_rate']:.3f}")
    for folder, per in tables.items():
        print(f"{folder:28s} mean over seeds: " + ", ".join(
            f"{kind} {metric} {np.mean([per[g][kind][metric] for g in seeds]):.3f}"
            for kind, metric in (("all", "roc_auc"), ("cross", "roc_auc"), ("all", "event_f1"),
                                 ("all", "alarm_rate"))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["cache", "select", "false-alarms", "compare"])
    parser.add_argument("--other", default=None, help="second cache folder (compare)")
    parser.add_argument("--cache", default="/tmp/afcache")
    parser.add_argument("--parts", nargs="+", default=["simulator"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--simulator", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--params", default="{}", help="AnoFusionDetector params (JSON)")
    parser.add_argument("--ablations", nargs="+", default=["metrics", "all"])
    parser.add_argument("--sqrt-logs", action="store_true",
                        help="square roots of the log-count channels (exploratory)")
    args = parser.parse_args()
    steps = {"cache": run_cache, "select": run_select, "false-alarms": run_false_alarms,
             "compare": run_compare}
    steps[args.step](args)


if __name__ == "__main__":
    main()
