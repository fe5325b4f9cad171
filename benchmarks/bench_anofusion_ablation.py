"""AnoFusion's deviations from the official code, measured on the simulator.

One AnoFusionDetector per service (the paper builds one graph per instance)
on the channels of ``TelemetryChannels`` over ``make_microservice_telemetry``
(fault-free training days, then faults); each service is scored against its
own faults. Trained variants: the default, the official learning rate
(``lr=1e-5``), the persistence skip, the official unscaled attention, no input
dropout. Score variants reuse the default network: ``score_rule`` x
``score_window`` and the official code's per-step rule (each step's errors
normalised by their median and 25th percentile over channels). Printed per
variant: ROC-AUC on the test days, and DSPOT at the paper's settings (q=1e-4,
depth 500, level 0.98, calibrated on the held-out training steps): its alarm
rate beside the true fault rate, faults with an alarm, alarms inside faults.
A robust z-score max (no model) runs beside it. Writes
``benchmarks/results/bench_anofusion_ablation_seed<seed>.json``.

Run: ``python benchmarks/bench_anofusion_ablation.py [--seed 0] [--services 2] [--epochs 20]
[--trained default ...]`` (about 40 minutes on one loaded CPU thread; ``--trained default``
about 8).
"""

import argparse
import copy
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from skanomaly.datasets import make_microservice_telemetry
from skanomaly.detectors import AnoFusionDetector
from skanomaly.preprocessing import TelemetryChannels
from skanomaly.thresholds import DSPOTThreshold

TRAINED = {
    "default": {},
    "official lr=1e-5": {"lr": 1e-5},
    "persistence_skip": {"persistence_skip": True},
    "unscaled attention (official)": {"scaled_attention": False},
    "no input dropout": {"dropout": 0.0},
}
RESCORED = {
    "score_rule=max_robust, score_window=1 (paper)": {"score_rule": "max_robust",
                                                      "score_window": 1},
    "score_rule=max_robust, score_window=5": {"score_rule": "max_robust", "score_window": 5},
    "score_rule=sum_squared, score_window=1": {"score_rule": "sum_squared", "score_window": 1},
}


def dspot_figures(det, X, y, test):
    """Alarm rate, true rate, faults found, alarms inside faults on the test rows."""
    labels = det.predict(X)[test] == -1
    yt = y[test]
    edges = np.flatnonzero(np.diff(np.r_[0, yt, 0]))
    found = sum(labels[a:b].any() for a, b in zip(edges[::2], edges[1::2]))
    return {"alarm_rate": float(labels.mean()), "true_rate": float(yt.mean()),
            "faults_found": int(found), "faults": len(edges) // 2,
            "alarms_in_faults": int((labels & (yt == 1)).sum()), "alarms": int(labels.sum())}


def rescored(det, X_train, params):
    """The same network scored another way, recalibrated on the same held-out steps."""
    twin = copy.deepcopy(det).set_params(**params)
    data = twin._validate_score_input(X_train)
    calibration = twin._split(data)[1]
    twin.thresholder_ = clone(det.threshold).fit(twin._calibrate(calibration))
    return twin


def official_rule(det, X):
    """The official code's score: (|e| - median over channels) / 25th percentile, max."""
    err = np.abs(det.forecast_errors(X))
    q25, q50 = np.percentile(err, [25, 50], axis=1, keepdims=True)
    return ((err - q50) / np.maximum(q25, 1e-12)).max(axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--services", type=int, default=2,
                        help="services with the most fault minutes to evaluate")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--trained", nargs="+", default=list(TRAINED), choices=list(TRAINED),
                        help="trained variants to run (the score variants need 'default')")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    data = make_microservice_telemetry(n_services=4, n_minutes=4320, n_faults=16,
                                       n_train_minutes=2880, random_state=args.seed)
    raw = {k: data[k] for k in ("metrics", "logs", "spans")}
    table = TelemetryChannels().fit(raw).transform(raw)
    n_train = data.n_train_minutes
    test = np.arange(len(table)) >= n_train
    minutes = data.faults.assign(m=(data.faults["end"] - data.faults["time"]).dt.total_seconds())
    services = minutes.groupby("service")["m"].sum().sort_values(ascending=False).index
    results = {}
    for service in services[:args.services]:
        columns = [c for c in table.columns if c.split("__")[1] == service]
        X = table[columns]
        y = np.zeros(len(X), int)
        for _, fault in data.faults[data.faults.service == service].iterrows():
            y[(X.index >= fault.time) & (X.index < fault["end"])] = 1
        base = dict(max_epochs=args.epochs, early_stopping=False, validation_fraction=0.35,
                    threshold=DSPOTThreshold(q=1e-4, depth=500, level=0.98), device="cpu",
                    random_state=args.seed)
        med, iqr = X[:n_train].median(), X[:n_train].quantile(0.75) - X[:n_train].quantile(0.25)
        z = ((X - med).abs() / iqr.where(iqr > 0, 1.0)).max(axis=1).to_numpy()
        results.setdefault("robust z-score max (no model)", []).append(
            {"service": service, "roc_auc": roc_auc_score(y[test], z[test])})
        for name, params in ((n, TRAINED[n]) for n in args.trained):
            begin = time.perf_counter()
            det = AnoFusionDetector(**base, **params).fit(X[:n_train])
            seconds = time.perf_counter() - begin
            row = {"service": service, "fit_s": seconds,
                   "final_train_loss": float(det.net_.history[-1, "train_loss"]),
                   "roc_auc": roc_auc_score(y[test], -det.score_samples(X)[test]),
                   **dspot_figures(det, X, y, test)}
            results.setdefault(name, []).append(row)
            print(service, name, {k: round(v, 4) if isinstance(v, float) else v
                                  for k, v in row.items()}, flush=True)
            if name != "default":
                continue
            for score_name, score_params in RESCORED.items():
                twin = rescored(det, X[:n_train], score_params)
                results.setdefault(score_name, []).append(
                    {"service": service,
                     "roc_auc": roc_auc_score(y[test], -twin.score_samples(X)[test]),
                     **dspot_figures(twin, X, y, test)})
            official = official_rule(det, X)[test]
            results.setdefault("official per-step rule", []).append(
                {"service": service, "roc_auc": roc_auc_score(y[test], official)})
    print(f"\n{'variant':38s} {'ROC-AUC':>8s} {'alarm rate':>10s} {'true rate':>9s} "
          f"{'faults found':>12s} {'alarms in faults':>16s}")
    summary = {}
    for name, rows in results.items():
        s = {"roc_auc": float(np.mean([r["roc_auc"] for r in rows]))}
        if "alarm_rate" in rows[0]:
            s.update(alarm_rate=float(np.mean([r["alarm_rate"] for r in rows])),
                     true_rate=float(np.mean([r["true_rate"] for r in rows])),
                     faults_found=f"{sum(r['faults_found'] for r in rows)}/"
                                  f"{sum(r['faults'] for r in rows)}",
                     alarms_in_faults=f"{sum(r['alarms_in_faults'] for r in rows)}/"
                                      f"{sum(r['alarms'] for r in rows)}")
        summary[name] = s
        print(f"{name:38s} {s['roc_auc']:8.3f} {s.get('alarm_rate', float('nan')):10.4f} "
              f"{s.get('true_rate', float('nan')):9.4f} {s.get('faults_found', '-'):>12s} "
              f"{s.get('alarms_in_faults', '-'):>16s}")
    out = Path(__file__).parent / "results" / f"bench_anofusion_ablation_seed{args.seed}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "per_service": results, "summary": summary},
                              indent=2, default=float))


if __name__ == "__main__":
    main()
