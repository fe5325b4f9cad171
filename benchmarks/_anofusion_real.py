"""AnoFusion's forecast residuals on the real data (ChangeRCA, Nezha), cached for offline analysis.

Same splits, channels, windows and labels as ``bench_anofusion.py``'s
``run_changerca`` / ``run_nezha``; each unit (a service per held-out day, a
pod) is trained once with ``bench_anofusion_scores.cache_unit`` and its
residuals and inputs are saved. Test residuals are those the benchmark scores
(``forecast_errors`` of each ChangeRCA case alone, of Nezha's test period alone).
Run from the repository root (1 torch thread)::

    python benchmarks/_anofusion_real.py cache --parts changerca nezha       # ~6 min
    python benchmarks/_anofusion_real.py analyse     # baselines, score family, LODO, onset profiles
    python benchmarks/_anofusion_real.py remedies --simulator --out benchmarks/results/x.json

``--params`` (JSON) overrides AnoFusionDetector settings, ``--seed`` its
random_state; ``--tag`` names the cache variant (file suffix after the
ablation; e.g. ``--seed 1 --tag _s1``). ``remedies --simulator`` also scores
the simulator units cached by ``bench_anofusion_scores.py``. Scores are
computed offline from the residuals with the detector's rule (b523262) or a
variant; ChangeRCA's per-service ROC-AUC is pooled over both held-out days as
in the benchmark ("pooled") and given per held-out day.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_anofusion as bench  # noqa: E402
from bench_anofusion_scores import (  # noqa: E402  the detector's score rule, offline
    aggregate,
    alarms,
    cache_unit,
    fit_norm,
    smooth,
)
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skanomaly.datasets import (  # noqa: E402
    fault_labels,
    list_changerca_cases,
    load_changerca,
    load_nezha,
)
from skanomaly.detectors import AnoFusionDetector  # noqa: E402
from skanomaly.preprocessing import TelemetryChannels, channel_modalities  # noqa: E402
from skanomaly.thresholds import DSPOTThreshold  # noqa: E402

CACHE = Path("/tmp/afcache")


def detector(cols, window, threshold, params, seed=0):
    """The benchmark's AnoFusionDetector; ``params`` may override the window too."""
    mods = list(np.asarray(channel_modalities(cols)).astype(str))
    params = {"window_size": window, **params}
    return AnoFusionDetector(modalities=mods, validation_fraction=0.3, threshold=threshold,
                             device="cpu", random_state=seed, **params)


def resave_test(path, det, tests):
    """Replace the cached test residuals by each test series scored alone (as the benchmark)."""
    d = dict(np.load(path))
    d["test_res"] = np.concatenate([det.forecast_errors(t) for t in tests])
    np.savez_compressed(path, **d)


# ---------------------------------------------------------------- ChangeRCA
def changerca_tables():
    cases = {c: load_changerca(c, data_home=bench.DATA) for c in list_changerca_cases(bench.DATA)}
    days = sorted({d.day for d in cases.values()})
    services = sorted({s for d in cases.values() for s in d.pods["service"]})
    labels = {c: fault_labels(d.metrics.index, d.faults, by="service", columns=services)
              for c, d in cases.items()}
    return cases, days, services, labels


def cache_changerca(args):
    out = CACHE / "changerca"
    out.mkdir(parents=True, exist_ok=True)
    cases, days, services, labels = changerca_tables()
    thr = DSPOTThreshold(q=1e-3, level=0.9, depth=10)
    params = json.loads(args.params)
    for gi, test_day in enumerate(days):
        train_cases = [c for c, d in cases.items() if d.day != test_day]
        test_cases = [c for c, d in cases.items() if d.day == test_day]
        normal = pd.concat([cases[c].metrics.loc[bench.is_pre_rollout(cases[c].metrics.index,
                                                                       cases[c])]
                            for c in train_cases]).sort_index()
        channels = TelemetryChannels(freq="1min").fit({"metrics": normal})
        train_all = pd.concat([t.loc[bench.is_pre_rollout(t.index, cases[c])] for c, t in
                               ((c, channels.transform(cases[c])) for c in train_cases)])
        test_tables = {c: channels.transform(cases[c]) for c in test_cases}
        for service in services:
            cols = bench.entity_columns(train_all, service) + [
                c for c in train_all.columns
                if "->" in c.split("__")[1] and service in c.split("__")[1].split("->")]
            mods = np.asarray(channel_modalities(cols)).astype(str)
            scaler = StandardScaler().fit(train_all[cols])
            scale = lambda t: pd.DataFrame(scaler.transform(t[cols]), columns=cols)  # noqa: E731
            X_train = scale(train_all)
            tests = [scale(test_tables[c]) for c in test_cases]
            y = np.concatenate([labels[c][service].reindex(test_tables[c].index, fill_value=0)
                                .to_numpy() for c in test_cases])
            case_of_row = np.concatenate([[i] * len(t) for i, t in enumerate(tests)])
            # minute index within the case and minutes since this service's own rollout
            minute = np.concatenate([np.arange(len(t)) for t in tests])
            since_release, harmless = [], []
            for c in test_cases:
                idx = test_tables[c].index
                rel = cases[c].releases
                mine = rel[rel["service"] == service]
                if mine.empty:
                    since_release.append(np.full(len(idx), -9999))
                    harmless.append(np.zeros(len(idx), dtype=int))
                else:
                    t0 = mine["time"].min().floor("min")
                    since_release.append(((idx - t0) / pd.Timedelta("1min")).astype(int))
                    harmless.append(np.full(len(idx), int(not mine["faulty"].iloc[0])))
            for name, keep in (("metrics", ("metric",)), ("all", ("metric", "trace"))):
                path = out / f"{gi}__{service}__{name}{args.tag}.npz"
                if path.exists():
                    continue
                sub = [c for c, m in zip(cols, mods) if m in keep]
                det = detector(sub, 5, thr, params, args.seed)
                X_test = pd.concat([t[sub] for t in tests], ignore_index=True)
                fit_s = cache_unit(path, det, X_train[sub], X_test, {
                    "y": y, "group": gi, "case": case_of_row, "minute": minute,
                    "since_release": np.concatenate(since_release),
                    "harmless": np.concatenate(harmless), "columns": np.asarray(sub),
                    "window": det.window_size})
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    resave_test(path, det, [t[sub] for t in tests])
                print(f"changerca day {test_day} {service} {name}: {len(sub)} ch, "
                      f"fit {fit_s:.0f} s", flush=True)


# -------------------------------------------------------------------- Nezha
def nezha_table():
    data = load_nezha("trainticket", data_home=bench.DATA, modalities=("metric", "log"))
    day = data.metrics.index.normalize()[0]
    valid = (data.logs["time"] >= day) & (data.logs["time"] < day + pd.Timedelta("1D"))
    data.logs = data.logs[valid]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = TelemetryChannels(freq="1min", entity="pod").fit(data).transform(data)
    table = table.loc[bench.NEZHA_START:]
    pods = list(dict.fromkeys(data.faults["pod"]))
    faults = data.faults.assign(end=data.faults["time"].dt.floor("min") + pd.Timedelta("3min"))
    every = fault_labels(table.index, faults, by="pod", columns=pods)
    cpu = fault_labels(table.index, faults[faults["type"] == "cpu_contention"], by="pod",
                       columns=pods)
    return table, pods, every, cpu


def cache_nezha(args):
    out = CACHE / "nezha"
    out.mkdir(parents=True, exist_ok=True)
    table, pods, every, cpu = nezha_table()
    test = table.index < bench.NEZHA_SPLIT
    params = json.loads(args.params)
    for pod in pods:
        path = out / f"0__{pod}__metrics{args.tag}.npz"
        if path.exists():
            continue
        cols = [c for c in bench.entity_columns(table, pod) if c.startswith("metric__")]
        scaler = StandardScaler().fit(table.loc[~test, cols])
        X = pd.DataFrame(scaler.transform(table[cols]), columns=cols)
        det = detector(cols, 10, DSPOTThreshold(q=1e-4, level=0.98, depth=60), params,
                       args.seed)
        fit_s = cache_unit(path, det, X[~test], X[test], {
            "y": every[pod].to_numpy()[test], "y_cpu": cpu[pod].to_numpy()[test], "group": 0,
            "minute_of_day": (table.index[test].hour * 60 + table.index[test].minute).to_numpy(),
            "fit_minute_of_day": (table.index[~test].hour * 60
                                  + table.index[~test].minute).to_numpy(),
            "columns": np.asarray(cols), "window": det.window_size})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            resave_test(path, det, [X[test]])
        print(f"nezha {pod}: {len(cols)} ch, fit {fit_s:.0f} s", flush=True)



# ----------------------------------------------------------------- analysis
from sklearn.metrics import roc_auc_score  # noqa: E402

THRESHOLD = {"changerca": lambda n: DSPOTThreshold(q=1e-3, level=0.9, depth=10),
             "nezha": lambda n: DSPOTThreshold(q=1e-4, level=0.98, depth=60),
             # the lead's simulator cache (bench_anofusion_scores.py): the paper's DSPOT
             "simulator": lambda n: DSPOTThreshold(q=1e-4, level=0.98, depth=min(500, n // 2))}


def load_units(part, ablation, tag=""):
    units = []
    for path in sorted((CACHE / part).glob(f"*__{ablation}{tag}.npz")):
        d = np.load(path)
        u = {k: d[k] for k in d.files}
        u["name"], u["part"] = path.stem, part
        u["seg"] = u.get("case", np.zeros(len(u["y"]), dtype=int))
        if "window" not in u:  # caches written before the window was saved: the benchmark's
            u["window"] = {"changerca": 5, "nezha": 10, "simulator": 20}[part]
        if part == "simulator":  # all faults
            u["keep"], u["target"] = np.ones(len(u["y"]), dtype=bool), u["y"]
        elif part == "nezha":  # CPU-contention view: other faults' minutes left out
            u["keep"] = (u["y"] == 0) | (u["y_cpu"] == 1)
            u["target"] = u["y_cpu"]
        else:
            u["keep"] = np.ones(len(u["y"]), dtype=bool)
            u["target"] = u["y"]
        units.append(u)
    return units


def seg_smooth(values, k, seg):
    """Trailing mean of ``k`` rows restarted at every segment (a case scored alone)."""
    out = np.empty_like(values, dtype=float)
    for s in np.unique(seg):
        m = seg == s
        out[m] = smooth(values[m], k)
    return out


def robust_center_scale(x):
    med = np.median(x, axis=0)
    mad = 1.4826 * np.median(np.abs(x - med), axis=0)
    return med, np.maximum(mad, 1e-3 * (np.abs(med) + 1.0))


def fill_series_start(values, seg, n_first):
    """Give each segment's first ``n_first`` rows the value of row ``n_first``: the
    first forecast whose residual average holds ``k`` real residuals (the padded
    rows repeat one residual and the next ones average fewer than ``k``)."""
    out = values.copy()
    for s in np.unique(seg):
        rows = np.flatnonzero(seg == s)
        if len(rows) > n_first:
            out[rows[:n_first]] = values[rows[n_first]]
    return out


def terms(u, source, rule, k, norm="cal", start_fix=False):
    """(cal, test) per-channel terms of ``source``.

    ``source``: "forecast" (residuals), "level" (robust z of the input against the
    training part: median / 1.4826 MAD) or "level_std" (the standardised input
    itself: z against the training part's mean and std). Rows are averaged over
    ``k`` steps first; ``rule`` "square" or "robust" (absolute value). ``norm``:
    "cal" divides by the calibration median ("square") or centres and scales by
    the calibration median and IQR ("robust"), floored at 1 % of the channels'
    mean scale, as the detector does; "none" keeps the raw terms; a float ``c``
    is "cal" with every scale floored at ``c`` training standard deviations
    (``c**2`` for squared terms: the detector's ``error_floor``).
    """
    cal_seg = np.zeros(len(u["cal_x"]), dtype=int)
    if source == "forecast":
        cal, test = seg_smooth(u["cal_res"], k, cal_seg), seg_smooth(u["test_res"], k, u["seg"])
        if start_fix:
            test = fill_series_start(test, u["seg"], int(u["window"]) + k - 1)
    else:
        if source == "level":
            med, scale = robust_center_scale(u["fit_x"])
        else:
            med, scale = 0.0, 1.0
        cal = (seg_smooth(u["cal_x"], k, cal_seg) - med) / scale
        test = (seg_smooth(u["test_x"], k, u["seg"]) - med) / scale
    f = np.abs if rule == "robust" else np.square
    cal, test = f(cal), f(test)
    if norm == "none":
        return cal, test
    center, scale = fit_norm(cal, rule, 0.0 if isinstance(norm, str) else norm)
    return (cal - center) / scale, (test - center) / scale


def combo_scores(u, spec):
    """Scores of one unit. ``spec``: rule, k, how (aggregation), norm; optional
    w_level, level ("level" or "level_std"), level_norm, k_level; w_forecast;
    start_fix; ``scales``: several score windows, each unit's score divided by
    its calibration median, the largest taken."""
    if "scales" in spec:
        parts = [combo_scores(u, {**{k: v for k, v in spec.items() if k != "scales"}, "k": k})
                 for k in spec["scales"]]
        medians = [np.median(cal) for cal, _ in parts]
        return (np.max([cal / m for (cal, _), m in zip(parts, medians)], axis=0),
                np.max([test / m for (_, test), m in zip(parts, medians)], axis=0))
    rule, k, how = spec["rule"], spec["k"], spec["how"]
    cal_t, test_t = 0.0, 0.0
    wf = spec.get("w_forecast", 1.0)
    if wf > 0:
        c, t = terms(u, "forecast", rule, k, spec.get("norm", "cal"),
                     spec.get("start_fix", False))
        cal_t, test_t = wf * c, wf * t
    wl = spec.get("w_level", 0.0)
    if wl > 0:
        c, t = terms(u, spec.get("level", "level"), rule, spec.get("k_level", k),
                     spec.get("level_norm", "none"))
        cal_t, test_t = cal_t + wl * c, test_t + wl * t
    mod = u["modality"]
    return aggregate(cal_t, how, mod), aggregate(test_t, how, mod)


# Baselines on rows, fitted on the training part (fit_x), thresholds on the calibration part.
def baseline_scores(u, name, seed=0):
    fit, cal, test = u["fit_x"], u["cal_x"], u["test_x"]
    if name == "z-score max":
        model = bench.RobustZMax().fit(fit)
        return model.score(cal), model.score(test)
    kind = "IForest" if name == "PyOD IForest" else "AutoEncoder"
    model = bench.PyODRows(kind, seed, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(fit)
    return model.score(cal), model.score(test)


def unit_record(u, cal, test, with_alarms=True):
    a = (alarms(cal, test, THRESHOLD[u["part"]](len(cal))) if with_alarms
         else np.zeros(len(test), dtype=int))
    k = u["keep"]
    return {"y": u["target"][k], "score": test[k], "alarm": a[k], "group": int(u["group"]),
            "full_score": test, "cal_score": cal,
            "service": u["name"].split("__")[1], "full_alarm": a, "u": u}


def pooled_units(records, by_group):
    """Units as the benchmark pools them: per service (both days concatenated) or per day."""
    out = {}
    for r in records:
        key = (r["group"], r["service"]) if by_group else r["service"]
        out.setdefault(key, []).append(r)
    return {key: {f: np.concatenate([r[f] for r in rs]) for f in ("y", "score", "alarm")}
            for key, rs in out.items()}


def quick_summary(records):
    """ROC-AUC per group (day) and pooled over groups, alarm and true rates."""
    res = {}
    for label, units in (("pooled", pooled_units(records, False)),
                         *(((f"g{g}"), {k: v for k, v in pooled_units(records, True).items()
                                        if k[0] == g})
                           for g in sorted({r["group"] for r in records}))):
        aucs = [roc_auc_score(u["y"], u["score"]) for u in units.values()
                if 0 < u["y"].sum() < len(u["y"])]
        alarm = np.concatenate([u["alarm"] for u in units.values()])
        y = np.concatenate([u["y"] for u in units.values()])
        res[label] = {"roc_auc": float(np.mean(aucs)), "alarm_rate": float(alarm.mean()),
                      "true_rate": float(y.mean()), "n_units": len(aucs)}
    return res


def release_stats(records):
    """Alarmed share of a changed service's minutes after its rollout: defective vs harmless."""
    out = {"defective": [], "harmless": []}
    for r in records:
        u = r["u"]
        for c in np.unique(u["seg"]):
            m = u["seg"] == c
            after = m & (u["since_release"] >= 0)
            if not (m & (u["since_release"] > -9999)).any():
                continue
            kind = "harmless" if u["harmless"][m][0] else "defective"
            out[kind].append(float(r["full_alarm"][after].mean()) if after.any() else 0.0)
    return {k: {"n": len(v), "any_alarm": float(np.mean([x > 0 for x in v])),
                "alarmed_minutes": float(np.mean(v))} for k, v in out.items()}


def onset_profile(records, buckets):
    """Mean percentile rank of fault-minute scores among the unit's normal test scores,
    by minutes since the fault's onset (per case segment)."""
    sums = {b: [] for b in buckets}
    for r in records:
        u = r["u"]
        y, s, seg = u["target"], r["full_score"], u["seg"]
        normal = np.sort(s[(u["y"] == 0)])
        for c in np.unique(seg):
            m = np.flatnonzero(seg == c)
            yy = y[m]
            starts = np.flatnonzero(np.diff(np.r_[0, yy]) == 1)
            for st in starts:
                end = st
                while end < len(yy) and yy[end]:
                    end += 1
                for i in range(st, end):
                    rank = np.searchsorted(normal, s[m[i]]) / max(len(normal), 1)
                    for b in buckets:
                        if b[0] <= i - st <= b[1]:
                            sums[b].append(rank)
    return {f"{b[0]}-{b[1]}": (float(np.mean(v)) if v else None, len(v))
            for b, v in sums.items()}


GRID = [dict(rule=rule, k=k, how=how, norm=norm, w_level=wl, level=lev)
        for rule in ("square", "robust") for k in (1, 3, 5, 10)
        for how in ("sum", "max", "top3", "mean_modality") for norm in ("cal", "none", 0.3)
        for wl, lev in ((0, "level"), (1, "level"), (1, "level_std"), (0.1, "level_std"))]


def spec_name(spec):
    return "|".join(f"{k}={v}" for k, v in spec.items())


def records_for(units, spec=None, base=None, with_alarms=True):
    out = []
    for u in units:
        cal, test = combo_scores(u, spec) if spec else baseline_scores(u, base)
        out.append(unit_record(u, cal, test, with_alarms))
    return out


def lodo(table, groups):
    """Leave one day out: choose the spec on the other day(s), measure on the held-out one."""
    picks = {}
    for g in groups:
        others = [h for h in groups if h != g]
        best = max(table, key=lambda n: np.mean([table[n][f"g{h}"]["roc_auc"] for h in others]))
        picks[g] = {"chosen": best, "held_out_roc_auc": table[best][f"g{g}"]["roc_auc"],
                    "in_sample_roc_auc": float(np.mean([table[best][f"g{h}"]["roc_auc"]
                                                        for h in others]))}
    return picks


def run_remedies(args):
    """The named remedies only (no grid, no baselines) on the cache variant ``args.tag``."""
    cr = {a: load_units("changerca", a, args.tag) for a in ("metrics", "all")}
    nz = [u for u in load_units("nezha", "metrics", args.tag) if u["y_cpu"].any()]
    sim = load_units("simulator", "all") if args.simulator else []
    result = {}
    for name, spec in REMEDIES.items():
        row = {}
        if cr["all"]:
            for abl in ("metrics", "all"):
                rc = records_for(cr[abl], spec)
                row[f"changerca_{abl}"] = quick_summary(rc)
                row[f"releases_{abl}"] = release_stats(rc)
        if nz:
            row["nezha_cpu"] = quick_summary(records_for(nz, spec))["pooled"]
        if sim:  # its test series continue the training one: no series start to fill
            q = quick_summary(records_for(sim, {**spec, "start_fix": False}))
            row["simulator"] = {m: float(np.mean([q[g][m] for g in q if g != "pooled"]))
                                for m in ("roc_auc", "alarm_rate", "true_rate")}
        result[name] = row
        print_remedy(name, row)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))


def run_analyse(args):
    result = {}
    cr = {a: load_units("changerca", a, args.tag) for a in ("metrics", "all")}
    nz = [u for u in load_units("nezha", "metrics", args.tag) if u["y_cpu"].any()]
    groups = sorted({int(u["group"]) for u in cr["all"]})
    # 1. baselines from the cached inputs (the same rows the benchmark feeds them)
    base = {}
    for b in ("z-score max", "PyOD IForest", "PyOD AutoEncoder"):
        rc, rn = records_for(cr["all"], base=b), records_for(nz, base=b)
        base[b] = {"changerca": quick_summary(rc), "releases": release_stats(rc),
                   "nezha_cpu": quick_summary(rn)["pooled"],
                   "profile_changerca": onset_profile(rc, PROFILE_BUCKETS),
                   "profile_nezha": onset_profile(rn, NEZHA_BUCKETS)}
        print(b, json.dumps({k: base[b][k] for k in ("changerca", "nezha_cpu")}), flush=True)
    result["baselines"] = base
    # 2. the score family on the cached residuals (ChangeRCA "all" ablation)
    table = {}
    for spec in GRID:
        table[spec_name(spec)] = quick_summary(records_for(cr["all"], spec, with_alarms=False))
    result["grid_changerca_all"] = table
    result["lodo"] = lodo(table, groups)
    print("LODO:", json.dumps(result["lodo"], indent=1))
    ranked = sorted(table, key=lambda n: -table[n]["pooled"]["roc_auc"])
    print("top of the family (pooled both days, in-sample):")
    for n in ranked[:15]:
        t = table[n]
        print(f"  {t['pooled']['roc_auc']:.3f} (d0 {t['g0']['roc_auc']:.3f} d1 "
              f"{t['g1']['roc_auc']:.3f}) alarm {t['pooled']['alarm_rate']:.3f}  {n}")
    # 3. named remedies, both data sets
    named = {}
    for name, spec in REMEDIES.items():
        row = {}
        for abl in ("metrics", "all"):
            rc = records_for(cr[abl], spec)
            row[f"changerca_{abl}"] = quick_summary(rc)
            row[f"releases_{abl}"] = release_stats(rc)
            if abl == "all":
                row["profile_changerca"] = onset_profile(rc, PROFILE_BUCKETS)
        rn = records_for(nz, spec)
        row["nezha_cpu"] = quick_summary(rn)["pooled"]
        row["profile_nezha"] = onset_profile(rn, NEZHA_BUCKETS)
        named[name] = row
        print_remedy(name, row)
    result["remedies"] = named
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {out}")


PROFILE_BUCKETS = [(0, 1), (2, 4), (5, 9), (10, 19), (20, 60)]
NEZHA_BUCKETS = [(0, 0), (1, 1), (2, 2)]
DEFAULT = dict(rule="square", k=5, how="sum", norm="cal")  # the detector's default at b523262
REMEDIES = {
    "default (square, k5, sum, cal-median)": DEFAULT,
    "HEAD 1d5f058 default (square, k10, sum, error_floor 0.1)": dict(DEFAULT, k=10, norm=0.1),
    "paper (robust, k1, max)": dict(rule="robust", k=1, how="max", norm="cal"),
    "square, k1, sum, cal-median": dict(rule="square", k=1, how="sum", norm="cal"),
    "square, k1, sum, no channel norm": dict(rule="square", k=1, how="sum", norm="none"),
    "square, k1, sum, error_floor 0.3": dict(rule="square", k=1, how="sum", norm=0.3),
    "square, k5, sum, error_floor 0.3": dict(DEFAULT, norm=0.3),
    "ChangeRCA LODO pick (robust, k10, mean/modality)": dict(rule="robust", k=10,
                                                             how="mean_modality", norm="cal"),
    "max over k1, k5 of sum, no channel norm": dict(rule="square", k=1, how="sum", norm="none",
                                                    scales=(1, 5)),
    "max over k1, k10 of sum, no channel norm": dict(rule="square", k=1, how="sum", norm="none",
                                                     scales=(1, 10)),
    "max over k1, k10 of sum, error_floor 0.1": dict(rule="square", k=1, how="sum", norm=0.1,
                                                     scales=(1, 10)),
    "default + level (robust z vs fit)": dict(DEFAULT, w_level=1, level="level"),
    "default + level (std z vs fit)": dict(DEFAULT, w_level=1, level="level_std"),
    "no model: sum of squared standardised inputs, k1": dict(rule="square", k=1, how="sum",
                                                             w_forecast=0, w_level=1,
                                                             level="level_std"),
}


def print_remedy(name, row):
    if "simulator" in row:
        m = row["simulator"]
        print(f"{name:48s} simulator (mean over seeds) ROC-AUC {m['roc_auc']:.3f} alarm "
              f"{m['alarm_rate']:.4f} ({m['true_rate']:.4f})")
    if "changerca_all" not in row:
        if "nezha_cpu" in row:
            n = row["nezha_cpu"]
            print(f"{name:48s} Nezha CPU {n['roc_auc']:.3f} alarm {n['alarm_rate']:.3f} "
                  f"({n['true_rate']:.3f})", flush=True)
        return
    c, cm = row["changerca_all"], row["changerca_metrics"]
    n = row.get("nezha_cpu", {"roc_auc": float("nan"), "alarm_rate": float("nan"),
                              "true_rate": float("nan")})
    rel = row["releases_all"]
    print(f"{name:48s} CR all {c['pooled']['roc_auc']:.3f} (d0 {c['g0']['roc_auc']:.3f} "
          f"d1 {c['g1']['roc_auc']:.3f}) alarm {c['pooled']['alarm_rate']:.3f} "
          f"({c['pooled']['true_rate']:.3f}); CR metrics {cm['pooled']['roc_auc']:.3f}; "
          f"releases any-alarm def {rel['defective']['any_alarm']:.2f} harmless "
          f"{rel['harmless']['any_alarm']:.2f}; Nezha CPU {n['roc_auc']:.3f} alarm "
          f"{n['alarm_rate']:.3f} ({n['true_rate']:.3f})", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["cache", "analyse", "remedies"])
    parser.add_argument("--parts", nargs="+", default=["changerca", "nezha"])
    parser.add_argument("--params", default="{}", help="AnoFusionDetector params (JSON)")
    parser.add_argument("--tag", default="", help="suffix of the cache files")
    parser.add_argument("--out", default="/tmp/afreal/analyse.json")
    parser.add_argument("--seed", type=int, default=0, help="random_state of the detectors")
    parser.add_argument("--simulator", action="store_true",
                        help="remedies: also score the simulator cache of bench_anofusion_scores")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.step != "cache":
        return {"analyse": run_analyse, "remedies": run_remedies}[args.step](args)
    start = time.perf_counter()
    for part in args.parts:
        {"changerca": cache_changerca, "nezha": cache_nezha}[part](args)
    print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
