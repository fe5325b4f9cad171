"""Benchmark of AnoFusionDetector against TimeSeriesVAEDetector on Nezha TrainTicket.

Run from the repository root (1 torch thread, CPU)::

    python benchmarks/bench_anofusion.py            # the 8 pods that received faults
    python benchmarks/bench_anofusion.py --quick    # 3 pods, fewer epochs

Prints a table and writes ``benchmarks/results/bench_anofusion.json``
(``bench_anofusion_quick.json`` with ``--quick``).

Data and its limits (read before quoting a number)
--------------------------------------------------
No dataset under ``../shared/data`` holds metrics, logs *and* traces over normal
and faulty periods alike: Nezha keeps log and span files only for the three
minutes after each injection (plus one reference minute), OnlineBoutique even
fewer, and the GAIA folder holds only 19-row format samples. Log or trace
channels built from those files would exist almost only in fault minutes: their
mere presence would give the labels away. So this benchmark uses the one
full-day multimodal source there is, the Nezha TrainTicket pod telemetry
(``load_nezha``), and splits it in two modalities:

- ``metric``: resource metrics of the pod (CPU, memory, syscalls, network);
- ``trace``: the pod's request telemetry from the service mesh: client/server
  latency P90/P95/P99, workload (requests/s) and success rate. These are the
  per-window latency and status statistics that AnoFusion derives from traces,
  but here they come from the metric files, not from spans through
  ``TraceWindowStats``.

There is no log modality (three of the six edge types are empty). Following
the paper, one model is trained per service instance (pod): for each of the 8
pods that received faults on 2023-01-30, its channels are aligned on 1-minute
bins with ``align_channels``; a minute is anomalous if it lies in
``[injection, injection + 3 min)`` of a fault *on that pod* (Nezha's rule).
The faults all fall in 11:51-14:10, so the fault-free period is the *late*
one: models train on 14:20-23:59 (580 minutes) and are tested on
11:40-14:20 (160 minutes). Both detectors see the same standardised table
(scaler fitted on the training period) and the same thresholder:
DSPOT (q=1e-4, level 0.98) calibrated on the held-out last 30 % of the
training period, with depth 60 instead of the paper's 500 (the held-out part
holds 174 minutes) and streamed over the test period. Reported: F1 after delay
point adjust (k=7) at that threshold, the best such F1 over all thresholds (an
oracle), and ROC-AUC, per pod and as the mean over pods.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.preprocessing import StandardScaler  # noqa: E402

from skanomaly.datasets._nezha import load_nezha  # noqa: E402
from skanomaly.detectors import AnoFusionDetector, TimeSeriesVAEDetector  # noqa: E402
from skanomaly.metrics import (  # noqa: E402
    anomaly_roc_auc_score,
    best_f1_score,
    point_adjusted_f1_score,
)
from skanomaly.preprocessing import align_channels  # noqa: E402
from skanomaly.thresholds import DSPOTThreshold  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data"
TRACE_LIKE = ("Latency", "Workload", "SuccessRate")
RESOURCE = ("CpuUsageRate", "MemoryUsageRate", "SyscallRead", "SyscallWrite",
            "NetworkReceiveBytes", "NetworkTransmitBytes")
SPLIT = pd.Timestamp("2023-01-30 14:20")
START = pd.Timestamp("2023-01-30 11:40")
# The first fault is 11 minutes into the test period: windows must be shorter
# for its minutes to get a forecast of their own.
WINDOW = 10


def pod_table(metrics, pod):
    """One pod's channels on 1-minute bins and the modality of each."""
    cols = [c for c in metrics.columns if c.startswith(pod + "__")]
    keep = [c for c in cols if any(k in c for k in RESOURCE + TRACE_LIKE)]
    table, modality = align_channels(metrics[keep].rename(columns=lambda c: c.split("__")[1]),
                                     freq="60s", max_gap=10)
    table = table.loc[START:].ffill().bfill()
    modality[:] = ["trace" if any(k in c for k in TRACE_LIKE) else "metric"
                   for c in table.columns]
    return table, modality


def labels_for(index, faults, pod):
    y = np.zeros(len(index), dtype=int)
    for t in faults.loc[faults["pod"] == pod, "time"]:
        y[(index >= t.floor("60s")) & (index < t.floor("60s") + pd.Timedelta("3min"))] = 1
    return y


def evaluate(det, X_train, X_test, y_test):
    start = time.perf_counter()
    det.fit(X_train)
    fit_s = time.perf_counter() - start
    scores = -det.score_samples(X_test)
    pred = det.predict(X_test)
    return {
        "f1_dspot_delay7": point_adjusted_f1_score(y_test, np.where(pred == -1, 1, 0),
                                                   method="delay", k=7, anomaly_label=1),
        "best_f1_delay7": best_f1_score(y_test, scores, method="delay", k=7, anomaly_label=1),
        "roc_auc": anomaly_roc_auc_score(y_test, scores, anomaly_label=1),
        "alarm_rate": float((pred == -1).mean()),
        "fit_s": fit_s,
        "epochs": len(det.net_.history),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs = args.epochs or (10 if args.quick else 40)
    data = load_nezha("trainticket", data_home=DATA, modalities=("metric",))
    pods = list(dict.fromkeys(data.faults["pod"]))
    if args.quick:
        pods = pods[:3]
    common = dict(max_epochs=epochs, validation_fraction=0.3, patience=5, device="cpu",
                  random_state=0, window_size=WINDOW)
    rows = []
    for pod in pods:
        table, modality = pod_table(data.metrics, pod)
        modality = modality.to_numpy()
        # Faults fall in 11:51-14:10: train on the fault-free rest of the day.
        test, train = table.loc[:SPLIT - pd.Timedelta("1min")], table.loc[SPLIT:]
        y = labels_for(test.index, data.faults, pod)
        scaler = StandardScaler().fit(train)
        X_train = pd.DataFrame(scaler.transform(train), columns=table.columns)
        X_test = pd.DataFrame(scaler.transform(test), columns=table.columns)

        def dspot():
            return DSPOTThreshold(q=1e-4, level=0.98, depth=60)

        dets = {
            "AnoFusion": AnoFusionDetector(modalities=modality, hidden_dim=16, n_heads=2,
                                           lr=1e-3, threshold=dspot(), **common),
            "TimeSeriesVAE": TimeSeriesVAEDetector(threshold=dspot(), **common),
        }
        row = {"pod": pod, "n_channels": table.shape[1], "n_train": len(X_train),
               "n_test": len(X_test), "n_anomalous": int(y.sum()),
               "n_faults": int((data.faults["pod"] == pod).sum())}
        for name, det in dets.items():
            for key, value in evaluate(det, X_train, X_test, y).items():
                row[f"{name}_{key}"] = value
        rows.append(row)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
              flush=True)
    frame = pd.DataFrame(rows)
    metrics = ["f1_dspot_delay7", "best_f1_delay7", "roc_auc", "alarm_rate", "fit_s"]
    summary = {name: {m: float(frame[f"{name}_{m}"].mean()) for m in metrics}
               for name in ("AnoFusion", "TimeSeriesVAE")}
    print(f"\nNezha TrainTicket 2023-01-30, one model per faulty pod, {epochs} max epochs, "
          "delay point adjust k=7")
    print(f"{'pod':>34} {'metric':>16} {'AnoFusion':>10} {'TSVAE':>10}")
    for _, r in frame.iterrows():
        for m in metrics[:3]:
            print(f"{r['pod'][:34]:>34} {m:>16} {r[f'AnoFusion_{m}']:>10.4f} "
                  f"{r[f'TimeSeriesVAE_{m}']:>10.4f}")
    for m in metrics:
        print(f"{'mean':>34} {m:>16} {summary['AnoFusion'][m]:>10.4f} "
              f"{summary['TimeSeriesVAE'][m]:>10.4f}")
    out = RESULTS / ("bench_anofusion_quick.json" if args.quick else "bench_anofusion.json")
    out.write_text(json.dumps({
        "config": {"epochs": epochs, "window_size": WINDOW, "split": str(SPLIT),
                   "start": str(START),
                   "threshold": "DSPOTThreshold(q=1e-4, level=0.98, depth=60)",
                   "validation_fraction": 0.3, "modalities": "metric + trace-like (no logs)"},
        "per_pod": rows, "mean": summary,
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "threads": torch.get_num_threads(), "machine": platform.machine(),
                        "device": "cpu"},
    }, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
