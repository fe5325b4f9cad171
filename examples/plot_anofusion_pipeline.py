"""
================================================================
Raw telemetry to alarms in one Pipeline, tuned and pickled
================================================================

A simulated microservice system (:func:`~skanomaly.datasets.make_microservice_telemetry`)
gives the raw tables a loader returns: per-pod metrics, log lines and spans, and the
faults injected after a fault-free training part. One
:class:`~sklearn.pipeline.Pipeline` goes from those tables to alarms:
:class:`~skanomaly.preprocessing.TelemetryChannels` turns them into channels named
``"<modality>__<entity>__<name>"`` (metrics per service, counts of the most frequent
Drain templates per service, span counts and latencies per service), and
:class:`~skanomaly.detectors.AnoFusionDetector` reads each channel's modality from its
name (``modalities="auto"``).

Raw tables cannot be split by rows; :class:`~skanomaly.preprocessing.TelemetryFrames`
gives them one row per minute, so ``GridSearchCV`` splits them like a table and a
transformer fitted on a training split never sees a later log line. From the raw
tables to a tuned, refitted and pickled pipeline takes eight statements.

To run quickly, the example simulates 900 minutes (500 fault-free for
training, 200 to choose the log channels, 200 held out) and trains a small AnoFusion
(one graph-transformer layer, two channels and heads, five epochs); the detector's
defaults are the larger model of the official implementation. The search also
chooses how many forecasts each score averages (``score_window``): the default 10
was chosen for the full model; a small model trained briefly forecasts with a bias
that a long average keeps, so the validation minutes decide.
"""

# %%
# Eight statements: data, bins and labels, pipeline, search, tuning, refit on the
# fault-free part, save, reload and score the held-out part.
import tempfile
from pathlib import Path

import joblib
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skanomaly.datasets import make_microservice_telemetry
from skanomaly.detectors import AnoFusionDetector
from skanomaly.preprocessing import TelemetryChannels, TelemetryFrames

data = make_microservice_telemetry(
    n_services=4, n_minutes=900, n_faults=6, n_train_minutes=500, log_lines_per_minute=3,
    random_state=0,
    fault_types=("cpu_hog", "memory_leak", "network_delay", "exception_burst"))
# one bin per labelled minute (a callee span may start just after the last one); -1: fault
frames, y = TelemetryFrames(data, freq="1min")[:900], np.where(data.labels == 1, -1, 1)
pipeline = make_pipeline(
    TelemetryChannels(max_log_channels=4),
    AnoFusionDetector(modalities="auto", window_size=10, gtn_layers=1, gtn_channels=2,
                      n_heads=2, max_epochs=5, device="cpu", random_state=0))
search = GridSearchCV(pipeline, {"telemetrychannels__log_channels": ["templates", None],
                                 "anofusiondetector__score_window": [1, 10]},
                      cv=[(np.arange(500), np.arange(500, 700))], scoring="roc_auc",
                      refit=False)
search.fit(frames[:700], y[:700])
model = pipeline.set_params(**search.best_params_).fit(frames[:500])
joblib.dump(model, path := Path(tempfile.mkdtemp()) / "anofusion_pipeline.joblib")
scores = -joblib.load(path).score_samples(frames[700:])  # higher: more anomalous

# %%
# What the search compared, and how the chosen pipeline does on the last 200 minutes
# (never seen in tuning). ``joblib.load`` runs code from the file: load only files
# you trust.
channels = model.named_steps["telemetrychannels"]
print(f"{len(frames)} minutes; {len(data.logs)} log lines, {len(data.spans)} spans")
print(f"{len(channels.get_feature_names_out())} channels:",
      pd.Series(channels.modality_).value_counts().to_dict())
for params, auc in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(f"validation ROC-AUC {auc:.3f} with {params}")
y_test = y[700:] == -1
labels = model.predict(frames[700:]) == -1
print(f"held-out ROC-AUC {roc_auc_score(y_test, scores):.3f}; alarms on "
      f"{labels.mean():.1%} of minutes (faulty: {y_test.mean():.1%})")

# A simple peer on the same channels: the largest robust z-score of a minute.
train, test = channels.transform(frames[:500]), channels.transform(frames[700:])
z = ((test - train.median()) / ((train - train.median()).abs().median() + 1e-9)).abs().max(axis=1)
print(f"robust z-score max, same channels: held-out ROC-AUC {roc_auc_score(y_test, z):.3f}")

fig, ax = plt.subplots(figsize=(9, 3.5))
ax.plot(frames.bins[700:], scores, lw=0.8, label="AnoFusion anomaly score")
ax.axhline(-model.named_steps["anofusiondetector"].offset_, color="k", ls="--", lw=0.8,
           label="threshold")
ax.fill_between(frames.bins[700:], 0, 1, where=y_test, color="red", alpha=0.2,
                transform=ax.get_xaxis_transform(), label="injected fault")
ax.set_yscale("log")
ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
ax.set_xlabel("time of day (one bin per minute)")
ax.set_ylabel("anomaly score (log scale)")
ax.set_title("Tuned TelemetryChannels + AnoFusion pipeline on the held-out minutes")
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
