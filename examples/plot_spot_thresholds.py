"""
===========================================
SPOT and DSPOT thresholds on a score stream
===========================================

Calibrate extreme-value thresholds on normal anomaly scores, stream new scores
through them, and judge the alarms with point-wise, point-adjusted and
event-wise metrics.

:class:`~skanomaly.thresholds.SPOTThreshold` fits a generalized Pareto tail to
the calibration scores and keeps it up to date as the stream brings new peaks.
:class:`~skanomaly.thresholds.DSPOTThreshold` does the same relative to a moving
average, so its threshold follows a drifting baseline. The scores here are
synthetic, so the example needs no model and no data download.
"""

# %%
# A score stream: normal noise, a slow drift, and three anomalous segments
import matplotlib.pyplot as plt
import numpy as np

from skanomaly.metrics import (
    adjusted_precision_recall_f1,
    anomaly_f1_score,
    event_precision_recall_f1,
)
from skanomaly.plotting import AnomalyScoreDisplay
from skanomaly.thresholds import DSPOTThreshold, SPOTThreshold

rng = np.random.default_rng(0)
calibration = rng.gamma(2.0, size=20_000)  # scores of held-out normal training data

n = 3000
stream = rng.gamma(2.0, size=n) + np.linspace(0.0, 4.0, n)  # the baseline drifts up
y_true = np.zeros(n, dtype=int)
for start, length in [(600, 20), (1500, 40), (2500, 15)]:
    stream[start : start + length] += rng.uniform(8.0, 14.0, size=length)
    y_true[start : start + length] = 1

# %%
# Fit on calibration scores, then give each streamed score its threshold.
# ``thresholds`` runs on a copy of the fitted state; ``update`` would commit it.
spot = SPOTThreshold(q=1e-3, level=0.98).fit(calibration)
dspot = DSPOTThreshold(q=1e-3, level=0.98, depth=200).fit(calibration)
print(f"SPOT:  t = {spot.init_threshold_:.2f}, gamma = {spot.gamma_:.3f}, "
      f"threshold = {spot.threshold_:.2f}")
print(f"DSPOT: threshold = {dspot.threshold_:.2f} (drift {dspot.drift_:.2f})")

# %%
# Plot both: SPOT's threshold stays put while the drift pushes normal scores
# over it; DSPOT's threshold follows the baseline.
fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
for ax, est, name in [(axes[0], spot, "SPOT"), (axes[1], dspot, "DSPOT")]:
    AnomalyScoreDisplay.from_predictions(
        y_true, stream, threshold=est.thresholds(stream), ax=ax, name=f"scores ({name})"
    )
    ax.set_title(name)
fig.tight_layout()

# %%
# Judge the alarms. Point adjust credits a whole segment for one detection;
# the delay-constrained variant only if it comes within ``k`` steps.
for name, est in [("SPOT", spot), ("DSPOT", dspot)]:
    y_pred = est.predict(stream)  # -1 anomalous, +1 normal
    f1 = anomaly_f1_score(y_true, y_pred)
    pa = adjusted_precision_recall_f1(y_true, y_pred)[2]
    delay = adjusted_precision_recall_f1(y_true, y_pred, method="delay", k=7)[2]
    event = event_precision_recall_f1(y_true, y_pred)[2]
    print(f"{name:>5}: F1 {f1:.3f}  PA-F1 {pa:.3f}  delay-F1 (k=7) {delay:.3f}  "
          f"event F1 {event:.3f}")
