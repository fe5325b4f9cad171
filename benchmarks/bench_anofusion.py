"""AnoFusionDetector on simulated and real microservice telemetry, beside baselines.

Run from the repository root (1 torch thread, CPU)::

    python benchmarks/bench_anofusion.py                 # everything (hours on 1 shared core)
    python benchmarks/bench_anofusion.py --quick         # about 2 minutes: smoke run
    python benchmarks/bench_anofusion.py --parts changerca nezha --seeds 3

Prints tables and writes ``benchmarks/results/bench_anofusion.json`` and ``.txt``
(``bench_anofusion_quick.*`` with ``--quick``). Every figure sits beside its
**chance band**: the 5th-95th percentile of the same metric when each unit's
scores (and alarms) are circularly shifted against its real label vector;
a figure inside the band is printed with ``(in band)``.

Methods, all in the same run on the same split
----------------------------------------------
- ``AnoFusion``: :class:`~skanomaly.detectors.AnoFusionDetector` with its
  defaults, except the window (the data's limits, below) and the thresholder;
  ablations on the modalities it sees: ``metrics``, ``+logs`` (metrics and
  logs), ``+traces`` (metrics and traces), ``all``.
- ``TimeSeriesVAE``: :class:`~skanomaly.detectors.TimeSeriesVAEDetector`, same window.
- ``z-score max``: per channel median and MAD of the training rows, the
  score of a row is its largest absolute robust z-score.
- ``PyOD IForest``, ``PyOD AutoEncoder``: PyOD defaults, on rows.

Deep detectors calibrate their thresholder on their own held-out tail
(``validation_fraction``); the other methods are fitted on the head of the
same training rows and their thresholder on their scores of the same tail.

Metrics, per unit (a service or a pod) and then the mean over units with an
anomaly: ROC-AUC, PR-AUC, F1 after delay point adjust (k=7) at the
thresholder's alarms and the best such F1 over all thresholds (an oracle),
event F1 at the alarms, and the alarm rate beside the true anomaly rate
(pooled over all units).

Parts
-----
1. ``simulator``: ``make_microservice_telemetry`` (seeds 0..N-1), raw tables
   through ``TelemetryChannels``, one model per service, labels per service;
   all faults and the cross-modal faults reported apart. AnoFusion settings
   given with ``--grid`` are ranked on a separate validation seed (100),
   never on the test seeds; without it the detector's defaults run.
2. ``changerca``: the 33 real ChangeRCA OnlineBoutique cases
   (``load_changerca``), about 40 minutes at 1 minute each, ~17 normal
   minutes before the first rollout. Leave one day out: models train on the
   pre-rollout minutes of the other day's cases (one model per service), and
   score every minute of the held-out day's cases. A service's minute is
   anomalous from the first ready pod of its defective release to the case's
   end; harmless releases are labelled normal and their alarms are counted
   apart (the false-alarm test).
3. ``nezha``: leakage regression test on Nezha TrainTicket 2023-01-30 (log
   and trace files exist only around injections): the presence-only control
   (a pod's log-line count, no model), metrics-only detection of the
   CPU-contention faults, and metric scores restricted to minutes that have logs.
"""

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.base import clone  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skanomaly.datasets import (  # noqa: E402
    CROSS_MODAL_FAULT_TYPES,
    fault_labels,
    list_changerca_cases,
    load_changerca,
    load_nezha,
    make_microservice_telemetry,
)
from skanomaly.detectors import AnoFusionDetector, TimeSeriesVAEDetector  # noqa: E402
from skanomaly.metrics import (  # noqa: E402
    anomaly_average_precision_score,
    anomaly_roc_auc_score,
    best_f1_score,
    event_precision_recall_f1,
    point_adjusted_f1_score,
)
from skanomaly.preprocessing import (  # noqa: E402
    TelemetryChannels,
    TelemetryFrames,
    channel_modalities,
)
from skanomaly.thresholds import DSPOTThreshold  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data"
METRICS = ("roc_auc", "pr_auc", "f1_dspot_d7", "best_f1_d7", "event_f1")
MODALITIES = ("metric", "log", "trace")
# AnoFusion settings ranked on the simulator's validation seed (never a test seed).
GRID = [{}]
ABLATIONS = {"metrics": ("metric",), "+logs": ("metric", "log"),
             "+traces": ("metric", "trace"), "all": MODALITIES}


# ------------------------------------------------------------------ methods
class RobustZMax:
    """Largest absolute robust z-score over channels (median / 1.4826 MAD)."""

    def fit(self, X):
        X = np.asarray(X, dtype=np.float64)
        self.median_ = np.median(X, axis=0)
        mad = 1.4826 * np.median(np.abs(X - self.median_), axis=0)
        # A channel constant in training would divide by 0: floor its scale.
        self.scale_ = np.maximum(mad, 1e-3 * (np.abs(self.median_) + 1.0))
        return self

    def score(self, X):
        return np.abs((np.asarray(X, dtype=np.float64) - self.median_) / self.scale_).max(axis=1)


class PyODRows:
    """A PyOD model on the rows of the table; its decision_function is the score."""

    def __init__(self, kind, seed, epochs):
        self.kind, self.seed, self.epochs = kind, seed, epochs

    def fit(self, X):
        if self.kind == "IForest":
            from pyod.models.iforest import IForest
            self.model_ = IForest(random_state=self.seed)
        else:
            from pyod.models.auto_encoder import AutoEncoder
            self.model_ = AutoEncoder(random_state=self.seed, epoch_num=self.epochs, verbose=0,
                                      device="cpu")
        self.model_.fit(np.asarray(X, dtype=np.float64))
        return self

    def score(self, X):
        return self.model_.decision_function(np.asarray(X, dtype=np.float64))


class HeldOutThreshold:
    """A scorer fitted on the head of the training rows; the thresholder on its
    scores of the tail (the rows the deep detectors hold out themselves)."""

    def __init__(self, model, threshold, validation_fraction):
        self.model, self.threshold, self.validation_fraction = model, threshold, validation_fraction

    def fit(self, X):
        X = np.asarray(X, dtype=np.float64)
        n_fit = len(X) - int(round(self.validation_fraction * len(X)))
        self.model.fit(X[:n_fit])
        self.thresholder_ = clone(self.threshold).fit(self.model.score(X[n_fit:]))
        return self

    def score(self, X):
        return self.model.score(X)

    def alarms(self, X):
        return (self.thresholder_.predict(self.score(X)) == -1).astype(int)


class Deep:
    """A skanomaly detector: -score_samples is the score, predict gives alarms."""

    def __init__(self, detector):
        self.detector = detector

    def fit(self, X):
        self.detector.fit(X)
        return self

    def score(self, X):
        return -self.detector.score_samples(X)

    def alarms(self, X):
        return (self.detector.predict(X) == -1).astype(int)


def make_methods(columns, cfg, seed):
    """name -> (column mask, unfitted method) for one table's columns."""
    mods = np.asarray(channel_modalities(columns)).astype(str)
    thr = cfg["threshold"]
    vf = cfg["validation_fraction"]
    common = dict(window_size=cfg["window"], validation_fraction=vf, threshold=thr,
                  device="cpu", random_state=seed)
    methods = {}
    seen = []
    for name, keep in ABLATIONS.items():
        mask = np.isin(mods, keep)
        present = set(mods[mask])
        if not present or present in seen:
            continue  # the data lack a modality: this ablation repeats an earlier one
        seen.append(present)
        if len(present) > 1 and present == set(mods):
            name = "all"  # e.g. metrics + traces where the data have no logs
        methods[f"AnoFusion {name}"] = (mask, Deep(AnoFusionDetector(
            modalities=list(mods[mask]), **common, **cfg["anofusion"])))
    everything = np.ones(len(columns), dtype=bool)
    methods["TimeSeriesVAE"] = (everything, Deep(TimeSeriesVAEDetector(**common, **cfg["vae"])))
    methods["z-score max"] = (everything, HeldOutThreshold(RobustZMax(), thr, vf))
    methods["PyOD IForest"] = (everything, HeldOutThreshold(PyODRows("IForest", seed, 0), thr, vf))
    methods["PyOD AutoEncoder"] = (everything, HeldOutThreshold(
        PyODRows("AutoEncoder", seed, cfg["pyod_epochs"]), thr, vf))
    return {k: v for k, v in methods.items() if not cfg["methods"] or k in cfg["methods"]}


# ------------------------------------------------------------------ metrics
def unit_metrics(y, score, alarm):
    y, alarm = np.asarray(y, dtype=int), np.asarray(alarm, dtype=int)
    return {
        "roc_auc": anomaly_roc_auc_score(y, score, anomaly_label=1),
        "pr_auc": anomaly_average_precision_score(y, score, anomaly_label=1),
        "f1_dspot_d7": point_adjusted_f1_score(y, alarm, method="delay", k=7, anomaly_label=1),
        "best_f1_d7": best_f1_score(y, score, method="delay", k=7, anomaly_label=1),
        "event_f1": event_precision_recall_f1(y, alarm, anomaly_label=1)[2],
    }


def summarize(units, n_shifts, rng):
    """Mean metrics over units with an anomaly, alarm and true rates, chance bands.

    ``units``: list of dicts with ``y``, ``score``, ``alarm`` (aligned arrays).
    The band: every unit's scores and alarms shifted circularly by its own
    random offset, the mean metric recomputed; 5th and 95th percentiles.
    """
    scored = [u for u in units if 0 < np.sum(u["y"]) < len(u["y"])]
    out = {"n_units": len(scored),
           "alarm_rate": float(np.mean(np.concatenate([u["alarm"] for u in units]))),
           "true_rate": float(np.mean(np.concatenate([u["y"] for u in units])))}
    if not scored:
        return out
    per_unit = [unit_metrics(u["y"], u["score"], u["alarm"]) for u in scored]
    for m in METRICS:
        out[m] = float(np.mean([p[m] for p in per_unit]))
    shifted = {m: [] for m in METRICS}
    for _ in range(n_shifts):
        draws = []
        for u in scored:
            k = int(rng.integers(1, len(u["y"])))
            draws.append(unit_metrics(u["y"], np.roll(u["score"], k), np.roll(u["alarm"], k)))
        for m in METRICS:
            shifted[m].append(np.mean([d[m] for d in draws]))
    for m in METRICS:
        out[f"{m}_band"] = [float(np.percentile(shifted[m], 5)),
                            float(np.percentile(shifted[m], 95))]
    return out


def cell(summary, m):
    if m not in summary:
        return "n/a"
    lo, hi = summary[f"{m}_band"]
    flag = " (in band)" if lo <= summary[m] <= hi else ""
    return f"{summary[m]:.3f} [{lo:.2f},{hi:.2f}]{flag}"


def print_table(title, rows, log):
    """rows: name -> summary. One line per method."""
    header = ["method"] + [f"{m} [chance band]" for m in METRICS] + ["alarm rate (true)"]
    lines = [[name] + [cell(s, m) for m in METRICS]
             + [f"{s['alarm_rate']:.3f} ({s['true_rate']:.3f})"] for name, s in rows.items()]
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
    text = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths))]
    text += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in lines]
    log("\n".join(text) + "\n")


# ---------------------------------------------------------------- ChangeRCA
def is_pre_rollout(index, data):
    """Minutes that end before the first pod of any new version is ready."""
    return index + pd.Timedelta("1min") <= data.releases["time"].min()


def entity_columns(table, entity):
    return [c for c in table.columns if c.split("__")[1] == entity]


def fit_method(method, X_train, log, what):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        method.fit(X_train)
    seconds = time.perf_counter() - start
    log(f"  {what}: fit {seconds:.1f} s")
    return seconds


def run_changerca(cfg, log):
    cases = {c: load_changerca(c, data_home=DATA) for c in list_changerca_cases(DATA)}
    days = sorted({d.day for d in cases.values()})
    services = sorted({s for d in cases.values() for s in d.pods["service"]})
    faulty = sorted({d.faults["service"].iloc[0] for d in cases.values()})
    labels = {c: fault_labels(d.metrics.index, d.faults, by="service", columns=services)
              for c, d in cases.items()}
    if cfg["quick"]:
        services = [s for s in ("adservice", "emailservice") if s in services]
    folds = {}
    for test_day in (days[:1] if cfg["quick"] else days):
        train_cases = [c for c, d in cases.items() if d.day != test_day]
        test_cases = [c for c, d in cases.items() if d.day == test_day]
        # The channel set (services' pods combined, caller->callee edges as trace
        # channels, fill values) is learnt on the pre-rollout minutes of the
        # training cases, which do not overlap in time.
        normal = pd.concat([cases[c].metrics.loc[is_pre_rollout(cases[c].metrics.index,
                                                                  cases[c])]
                            for c in train_cases]).sort_index()
        channels = TelemetryChannels(freq="1min").fit({"metrics": normal})
        train_parts = []
        for c in train_cases:
            table = channels.transform(cases[c])
            train_parts.append(table.loc[is_pre_rollout(table.index, cases[c])])
        train_all = pd.concat(train_parts)
        test_tables = {c: channels.transform(cases[c]) for c in test_cases}
        per_method = {}
        for service in services:
            cols = entity_columns(train_all, service) + [
                c for c in train_all.columns
                if "->" in c.split("__")[1] and service in c.split("__")[1].split("->")]
            scaler = StandardScaler().fit(train_all[cols])
            scale = lambda t: pd.DataFrame(scaler.transform(t[cols]), columns=cols)  # noqa: E731
            X_train = scale(train_all)
            for name, (mask, method) in make_methods(cols, cfg, cfg["seed"]).items():
                fit_method(method, X_train.loc[:, mask], log,
                           f"changerca test day {test_day} {service} {name}")
                for c in test_cases:
                    X = scale(test_tables[c]).loc[:, mask]
                    y = labels[c][service].reindex(test_tables[c].index, fill_value=0)
                    per_method.setdefault(name, []).append({
                        "case": c, "service": service, "index": test_tables[c].index,
                        "y": y.to_numpy(), "score": method.score(X), "alarm": method.alarms(X)})
        folds[test_day] = per_method
    return summarize_changerca(folds, cases, services, faulty, cfg, log)


def release_alarms(records, cases):
    """Alarmed share of a changed service's minutes from its first ready pod on."""
    out = {"defective": [], "harmless": []}
    for r in records:
        rel = cases[r["case"]].releases
        mine = rel[rel["service"] == r["service"]]
        if mine.empty:
            continue
        after = r["index"] >= mine["time"].min().floor("min")
        kind = "defective" if mine["faulty"].iloc[0] else "harmless"
        out[kind].append(float(r["alarm"][after].mean()) if after.any() else 0.0)
    return {k: {"n": len(v), "any_alarm": float(np.mean([x > 0 for x in v])) if v else None,
                "alarmed_minutes": float(np.mean(v)) if v else None}
            for k, v in out.items()}


def summarize_changerca(folds, cases, services, faulty, cfg, log):
    rng = np.random.default_rng(0)
    result = {"folds": {}, "services": services, "faulty_services": faulty}
    names = list(next(iter(folds.values())))
    pooled = {n: [] for n in names}
    for day, per_method in folds.items():
        rows, releases = {}, {}
        for name, records in per_method.items():
            units = [concat_unit([r for r in records if r["service"] == s]) for s in services]
            rows[name] = summarize(units, cfg["n_shifts"], rng)
            releases[name] = release_alarms(records, cases)
            pooled[name] += records
        result["folds"][day] = {"per_service": rows, "releases": releases}
        print_table(f"ChangeRCA, test day {day} (train: the other day's pre-rollout minutes); "
                    "mean over services with a defective release that day", rows, log)
        log_releases(releases, log)
    if len(folds) > 1:
        rows = {n: summarize([concat_unit([r for r in pooled[n] if r["service"] == s])
                              for s in services], cfg["n_shifts"], rng) for n in names}
        releases = {n: release_alarms(pooled[n], cases) for n in names}
        result["both_days"] = {"per_service": rows, "releases": releases}
        print_table("ChangeRCA, both held-out days together (each case scored by the model "
                    "trained on the other day)", rows, log)
        log_releases(releases, log)
    return result


def concat_unit(records):
    return {k: np.concatenate([r[k] for r in records]) for k in ("y", "score", "alarm")}


def log_releases(releases, log):
    lines = ["alarms after a rollout: share of releases with any alarm, alarmed share of "
             "their minutes"]
    for name, r in releases.items():
        d, h = r["defective"], r["harmless"]
        lines.append(f"  {name:<20} defective (n={d['n']}): {d['any_alarm']:.2f}, "
                     f"{d['alarmed_minutes']:.3f}   harmless (n={h['n']}): "
                     f"{h['any_alarm']:.2f}, {h['alarmed_minutes']:.3f}")
    log("\n".join(lines) + "\n")


# ---------------------------------------------------------------- simulator
def simulator_tables(seed, cfg):
    data = make_microservice_telemetry(random_state=seed, **cfg["simulator"])
    frames = TelemetryFrames(data, freq="1min")
    n_train = data.n_train_minutes
    table = TelemetryChannels(random_state=seed).fit(frames[:n_train]).transform(frames)
    services = list(data.services)
    every = fault_labels(table.index, data.faults, by="service", columns=services)
    cross = data.faults[data.faults["type"].isin(CROSS_MODAL_FAULT_TYPES)]
    cross_labels = (fault_labels(table.index, cross, by="service", columns=services)
                    if len(cross) else every * 0)
    return data, table, n_train, every, cross_labels


def run_simulator_seed(seed, cfg, log, methods=None, overrides=None):
    """Records (per method, per service) of one simulated system."""
    data, table, n_train, every, cross = simulator_tables(seed, cfg)
    services = list(data.services)
    if cfg["quick"]:
        services = list(dict.fromkeys(data.faults["service"]))[:2]
    local = dict(cfg, anofusion={**cfg["anofusion"], **(overrides or {})})
    if methods is not None:
        local["methods"] = methods
    records = {}
    for service in services:
        cols = entity_columns(table, service)
        scaler = StandardScaler().fit(table[cols].iloc[:n_train])
        X = pd.DataFrame(scaler.transform(table[cols]), columns=cols)
        for name, (mask, method) in make_methods(cols, local, seed).items():
            fit_method(method, X.iloc[:n_train].loc[:, mask], log,
                       f"simulator seed {seed} {service} {name}")
            X_test = X.iloc[n_train:].loc[:, mask]
            records.setdefault(name, []).append({
                "seed": seed, "service": service,
                "y": every[service].to_numpy()[n_train:],
                "y_cross": cross[service].to_numpy()[n_train:],
                "score": method.score(X_test), "alarm": method.alarms(X_test)})
    return records


def simulator_units(records, kind):
    if kind == "all":
        return [{k: r[k] for k in ("y", "score", "alarm")} for r in records]
    # Cross-modal faults alone: the minutes of the other faults are left out.
    out = []
    for r in records:
        keep = (r["y"] == 0) | (r["y_cross"] == 1)
        out.append({"y": r["y_cross"][keep], "score": r["score"][keep],
                    "alarm": r["alarm"][keep]})
    return out


def choose_on_validation_seed(cfg, log):
    """The AnoFusion settings of ``cfg["grid"]`` ranked on the validation seed."""
    if len(cfg["grid"]) < 2:
        return cfg["grid"][0] if cfg["grid"] else {}, []
    rng = np.random.default_rng(1)
    ranked = []
    for overrides in cfg["grid"]:
        recs = run_simulator_seed(cfg["validation_seed"], cfg, log,
                                  methods=["AnoFusion all"], overrides=overrides)
        summary = summarize(simulator_units(recs["AnoFusion all"], "all"), 0, rng)
        ranked.append({"params": overrides, "roc_auc": summary.get("roc_auc")})
        log(f"  validation seed {cfg['validation_seed']}: {overrides} -> ROC-AUC "
            f"{summary.get('roc_auc', float('nan')):.3f}")
    best = max(ranked, key=lambda r: -1 if r["roc_auc"] is None else r["roc_auc"])
    return best["params"], ranked


def run_simulator(cfg, log):
    chosen, ranked = choose_on_validation_seed(cfg, log)
    cfg = dict(cfg, anofusion={**cfg["anofusion"], **chosen})
    pooled = {}
    test_seeds = range(cfg["first_seed"], cfg["first_seed"] + cfg["seeds"])
    for seed in test_seeds:
        for name, recs in run_simulator_seed(seed, cfg, log).items():
            pooled.setdefault(name, []).extend(recs)
    rng = np.random.default_rng(0)
    result = {"validation": {"seed": cfg["validation_seed"], "grid": ranked,
                             "chosen": chosen}}
    for kind, title in (("all", "all faults"), ("cross", "cross-modal faults only (other "
                                                          "faults' minutes left out)")):
        rows = {n: summarize(simulator_units(recs, kind), cfg["n_shifts"], rng)
                for n, recs in pooled.items()}
        result[kind] = rows
        print_table(f"Simulator, seeds {test_seeds[0]}-{test_seeds[-1]}, {title}; "
                    "units = services, "
                    f"AnoFusion settings {chosen or 'defaults'}", rows, log)
    return result


# -------------------------------------------------------------------- Nezha
NEZHA_START = pd.Timestamp("2023-01-30 11:40")
NEZHA_SPLIT = pd.Timestamp("2023-01-30 14:20")


def run_nezha(cfg, log):
    data = load_nezha("trainticket", data_home=DATA, modalities=("metric", "log"))
    # A few log lines carry an invalid time (year 1754): left out, and counted.
    day = data.metrics.index.normalize()[0]
    valid = (data.logs["time"] >= day) & (data.logs["time"] < day + pd.Timedelta("1D"))
    log(f"Nezha: {int((~valid).sum())} of {len(valid)} log lines with a time outside "
        f"{day.date()} left out")
    data.logs = data.logs[valid]
    # Log lines exist only around the injections, none in the training period:
    # the log channel set is learnt on the whole day (no labels involved).
    with warnings.catch_warnings():  # channels without training values are left out
        warnings.simplefilter("ignore", UserWarning)
        # Counts, not their roots: the presence-only control sums a pod's log lines.
        table = TelemetryChannels(freq="1min", entity="pod", log_transform=None).fit(
            data).transform(data)
    table = table.loc[NEZHA_START:]
    all_pods = list(dict.fromkeys(data.faults["pod"]))
    pods = all_pods[:2] if cfg["quick"] else all_pods
    # Nezha's rule: the three minutes from the injection's minute.
    faults = data.faults.assign(end=data.faults["time"].dt.floor("min") + pd.Timedelta("3min"))
    every = fault_labels(table.index, faults, by="pod", columns=all_pods)
    cpu_faults = faults[faults["type"] == "cpu_contention"]
    cpu = fault_labels(table.index, cpu_faults, by="pod", columns=all_pods)
    test = table.index < NEZHA_SPLIT
    log_cols = [c for c in table.columns if c.startswith("log__")]
    has_logs = table.loc[test, log_cols].sum(axis=1).to_numpy() > 0
    nezha_cfg = dict(cfg, window=cfg["nezha_window"], threshold=cfg["nezha_threshold"])
    records = {"presence-only (log lines, no model)": []}
    for pod in pods:
        cols = entity_columns(table, pod)
        count = table.loc[test, [c for c in cols if c.startswith("log__")]].sum(axis=1)
        records["presence-only (log lines, no model)"].append(nezha_record(
            pod, every, cpu, test, count.to_numpy(dtype=float), (count > 0).to_numpy(int)))
        metric_cols = [c for c in cols if c.startswith("metric__")]
        scaler = StandardScaler().fit(table.loc[~test, metric_cols])
        X = pd.DataFrame(scaler.transform(table[metric_cols]), columns=metric_cols)
        for name, (mask, method) in make_methods(metric_cols, nezha_cfg, cfg["seed"]).items():
            fit_method(method, X[~test].loc[:, mask], log, f"nezha {pod} {name}")
            X_test = X[test].loc[:, mask]
            records.setdefault(name, []).append(nezha_record(
                pod, every, cpu, test, method.score(X_test), method.alarms(X_test)))
    rng = np.random.default_rng(0)
    result = {"pods": pods, "n_log_minutes": int(has_logs.sum()),
              "n_log_lines_left_out": int((~valid).sum())}
    views = {
        "every fault, all test minutes": lambda r: r,
        "every fault, only minutes with logs": lambda r: {k: v[has_logs] for k, v in r.items()},
        "CPU contention, metrics only (other faults' minutes left out)":
            lambda r: {"y": r["y_cpu"][r["keep_cpu"]], "score": r["score"][r["keep_cpu"]],
                       "alarm": r["alarm"][r["keep_cpu"]]},
    }
    for title, view in views.items():
        rows = {}
        for name, recs in records.items():
            units = [view({k: r[k] for k in ("y", "score", "alarm", "y_cpu", "keep_cpu")})
                     for r in recs]
            if title.startswith("CPU"):
                units = [u for u in units if u["y"].any()]
                if name.startswith("presence"):
                    continue
            rows[name] = summarize([{k: u[k] for k in ("y", "score", "alarm")} for u in units],
                                   cfg["n_shifts"], rng)
        result[title] = rows
        print_table(f"Nezha TrainTicket 2023-01-30, {title}; units = faulty pods, "
                    "train 14:20-23:59, test 11:40-14:19", rows, log)
    return result


def nezha_record(pod, every, cpu, test, score, alarm):
    y, y_cpu = every[pod].to_numpy()[test], cpu[pod].to_numpy()[test]
    return {"pod": pod, "y": y, "y_cpu": y_cpu, "keep_cpu": (y == 0) | (y_cpu == 1),
            "score": np.asarray(score, dtype=float), "alarm": np.asarray(alarm, dtype=int)}


# --------------------------------------------------------------------- bars
BASELINES = ("TimeSeriesVAE", "z-score max", "PyOD IForest", "PyOD AutoEncoder")


def check_bars(result, log):
    """The issue's bars, each with the measured numbers and met / not met."""
    bars = []

    def bar(name, met, numbers):
        bars.append({"bar": name, "met": bool(met), "numbers": numbers})
        log(f"[{'MET' if met else 'NOT MET'}] {name}: {numbers}")

    def get(rows, method, metric):
        return rows.get(method, {}).get(metric, float("nan"))

    log("Bars")
    if "simulator" in result:
        cross, every = result["simulator"]["cross"], result["simulator"]["all"]
        af, z, m = (get(cross, n, "roc_auc") for n in ("AnoFusion all", "z-score max",
                                                       "AnoFusion metrics"))
        bar("simulator cross-modal: AnoFusion ROC-AUC >= z-score max + 0.10", af >= z + 0.10,
            f"AnoFusion all {af:.3f}, z-score max {z:.3f}")
        bar("simulator cross-modal: AnoFusion ROC-AUC >= metrics-only ablation + 0.05",
            af >= m + 0.05, f"AnoFusion all {af:.3f}, AnoFusion metrics {m:.3f}")
        f1, rate, true = (get(every, "AnoFusion all", k) for k in ("event_f1", "alarm_rate",
                                                                  "true_rate"))
        bar("simulator all faults: event F1 at DSPOT >= 0.7 at an alarm rate within 2x of the "
            "true one", f1 >= 0.7 and true / 2 <= rate <= 2 * true,
            f"event F1 {f1:.3f}, alarm rate {rate:.4f}, true rate {true:.4f}")
    if "changerca" in result:
        key = "both_days" if "both_days" in result["changerca"] else next(
            iter(result["changerca"]["folds"]))
        part = (result["changerca"]["both_days"] if key == "both_days"
                else result["changerca"]["folds"][key])
        rows, rel = part["per_service"], part["releases"]
        af = get(rows, "AnoFusion all", "roc_auc")
        hi = rows.get("AnoFusion all", {}).get("roc_auc_band", [float("nan")] * 2)[1]
        best = max(BASELINES, key=lambda n: get(rows, n, "roc_auc"))
        bar("ChangeRCA per-service ROC-AUC above the chance band", af > hi,
            f"AnoFusion all {af:.3f}, band upper {hi:.3f} ({key})")
        bar("ChangeRCA per-service ROC-AUC >= the best baseline", af >= get(rows, best, "roc_auc"),
            f"AnoFusion all {af:.3f}, best baseline {best} {get(rows, best, 'roc_auc'):.3f}")
        r = rel.get("AnoFusion all")
        if r:
            d, h = r["defective"], r["harmless"]
            bar("ChangeRCA: harmless releases raise fewer alarms than the defective one",
                h["alarmed_minutes"] < d["alarmed_minutes"] and h["any_alarm"] <= d["any_alarm"],
                f"releases with any alarm: harmless {h['any_alarm']:.2f} (n={h['n']}) vs "
                f"defective {d['any_alarm']:.2f} (n={d['n']}); alarmed minutes "
                f"{h['alarmed_minutes']:.3f} vs {d['alarmed_minutes']:.3f}")
    if "nezha" in result:
        ctrl = result["nezha"]["every fault, all test minutes"].get(
            "presence-only (log lines, no model)", {})
        bar("Nezha presence-only control reported", bool(ctrl),
            f"ROC-AUC {ctrl.get('roc_auc', float('nan')):.3f}, band {ctrl.get('roc_auc_band')}")
        cpu = result["nezha"]["CPU contention, metrics only (other faults' minutes left out)"]
        a = get(cpu, "AnoFusion metrics", "roc_auc")
        bar("Nezha metrics-only CPU-contention ROC-AUC >= 0.95", a >= 0.95,
            f"AnoFusion metrics {a:.3f}")
    return bars


# --------------------------------------------------------------------- main
def config(args):
    quick = args.quick
    epochs = args.epochs or (3 if quick else None)
    anofusion = {} if epochs is None else {"max_epochs": epochs}
    return {
        "quick": quick, "seed": 0, "seeds": args.seeds or (1 if quick else 3),
        "first_seed": args.first_seed,
        "validation_seed": 100, "n_shifts": args.shifts or (20 if quick else 100),
        "methods": args.methods, "validation_fraction": 0.3,
        # The paper's DSPOT where the held-out part allows (864 simulated steps).
        "threshold": DSPOTThreshold(q=1e-4, level=0.98, depth=100 if quick else 500),
        "window": 20, "anofusion": anofusion,
        "vae": {"max_epochs": epochs} if epochs else {},
        "pyod_epochs": 2 if quick else 10,
        "simulator": {**({"n_minutes": 1800, "n_train_minutes": 1200, "n_faults": 6}
                         if quick else {}),
                      **{k: json.loads(v) for k, v in (a.split("=", 1) for a in args.simulator)}},
        # The first Nezha fault comes 11 minutes into the test period; 174 held-out steps.
        "nezha_window": 10,
        "nezha_threshold": DSPOTThreshold(q=1e-4, level=0.98, depth=60),
        # About 16 pre-rollout minutes per case: short windows; ~100 held-out steps.
        "changerca_window": 5,
        "changerca_threshold": DSPOTThreshold(q=1e-3, level=0.9, depth=10),
        "grid": args.grid or ([{}] if quick else GRID),
    }


def environment():
    import sklearn

    import skanomaly
    try:
        import pyod
        pyod_version = pyod.__version__
    except ImportError:
        pyod_version = None
    import hashlib
    import subprocess

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()
    # The model's files as they were in this run (the tree may hold uncommitted edits).
    files = {f: hashlib.sha1((ROOT / f).read_bytes()).hexdigest()[:12]
             for f in ("skanomaly/modules/anofusion.py", "skanomaly/detectors/_anofusion.py")}
    dirty = subprocess.run(["git", "status", "--porcelain", *files], cwd=ROOT,
                           capture_output=True, text=True).stdout.split()
    return {"git_head": head, "anofusion_files_sha1": files,
            "anofusion_files_uncommitted": [f for f in files if f in dirty],
            "python": platform.python_version(), "platform": platform.platform(),
            "torch": torch.__version__, "sklearn": sklearn.__version__,
            "skanomaly": getattr(skanomaly, "__version__", None), "pyod": pyod_version,
            "torch_threads": torch.get_num_threads(), "device": "cpu"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (a few minutes)")
    parser.add_argument("--seeds", type=int, default=None, help="simulator test seeds")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first simulator test seed (seeds used to choose defaults, e.g. by "
                             "bench_anofusion_scores.py, must not be test seeds)")
    parser.add_argument("--parts", nargs="+", default=["simulator", "changerca", "nezha"],
                        choices=["simulator", "changerca", "nezha"])
    parser.add_argument("--methods", nargs="+", default=None,
                        help="only these methods (default: all)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="max_epochs of the deep detectors (default: theirs)")
    parser.add_argument("--shifts", type=int, default=None, help="circular shifts per band")
    parser.add_argument("--simulator", nargs="+", default=[], metavar="KEY=VALUE",
                        help="make_microservice_telemetry arguments, e.g. n_services=4")
    parser.add_argument("--grid", nargs="+", type=json.loads, default=None,
                        help="AnoFusion settings (JSON dicts) ranked on the validation seed")
    parser.add_argument("--out", default=None, help="JSON path (a .txt beside it)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = config(args)
    stem = "bench_anofusion_quick" if args.quick else "bench_anofusion"
    out = Path(args.out) if args.out else RESULTS / f"{stem}.json"
    text = []

    def log(line):
        print(line, flush=True)
        if not line.startswith("  "):
            text.append(line)

    result = {"command": " ".join(["python", "benchmarks/bench_anofusion.py", *sys.argv[1:]]),
              "environment": environment(),
              "config": {k: (repr(v) if not isinstance(v, (int, float, str, list, dict,
                                                          type(None))) else v)
                         for k, v in cfg.items()}}
    started = time.perf_counter()
    for part in args.parts:
        if part == "changerca":
            part_cfg = dict(cfg, window=cfg["changerca_window"],
                            threshold=cfg["changerca_threshold"])
            result[part] = run_changerca(part_cfg, log)
        elif part == "simulator":
            result[part] = run_simulator(cfg, log)
        else:
            result[part] = run_nezha(cfg, log)
        result["seconds"] = time.perf_counter() - started
        out.write_text(json.dumps(result, indent=1, default=float))
        out.with_suffix(".txt").write_text("\n".join(text) + "\n")
    result["bars"] = check_bars(result, log)
    out.write_text(json.dumps(result, indent=1, default=float))
    log(f"wrote {out} ({result['seconds']:.0f} s)")
    out.with_suffix(".txt").write_text("\n".join(text) + "\n")


if __name__ == "__main__":
    main()
