"""
======================================================
Anomalies in a multichannel series with a VAE detector
======================================================

Fit :class:`~skanomaly.detectors.TimeSeriesVAEDetector` on the normal start of a
generated series, score the rest, and plot the anomaly scores with the
detector's threshold, the true anomalies and the detections.

The detector windows the 2-D series itself and gives one score per time step,
so scores, labels and the input rows stay aligned.
"""

# %%
# A generated series: 8 correlated channels with labelled anomaly segments.
# The first 2,000 steps are kept clean and used for training.
import matplotlib.pyplot as plt
import numpy as np

from skanomaly.datasets import make_anomalous_series
from skanomaly.detectors import TimeSeriesVAEDetector
from skanomaly.metrics import (
    anomaly_average_precision_score,
    anomaly_f1_score,
    point_adjusted_f1_score,
)
from skanomaly.plotting import AnomalyScoreDisplay

X, y = make_anomalous_series(
    n_timesteps=4000, n_channels=8, anomaly_fraction=0.04, clean_start=2000, random_state=0
)
X_train, X_test, y_test = X[:2000], X[2000:], y[2000:]
print(f"train {X_train.shape}, test {X_test.shape}, "
      f"{y_test.mean():.1%} of test steps anomalous")

# %%
# The detector standardises and clips each channel with the training statistics,
# so it needs no scaler in front (in a Pipeline it works like any scikit-learn
# model). The last 10 % of the training data is held out: early stopping watches
# its loss, and the threshold (the 99.5th percentile of its anomaly scores by
# default) is calibrated on it.
detector = TimeSeriesVAEDetector(window_size=32, max_epochs=5, random_state=0, device="cpu")
detector.fit(X_train)

# %%
# ``score_samples`` is higher for more normal steps; anomaly scores are its
# negative. ``predict`` gives -1 for anomalies and +1 for normal steps.
scores = -detector.score_samples(X_test)
labels = detector.predict(X_test)
print(f"F1 of anomalies:              {anomaly_f1_score(y_test, labels):.3f}")
print(f"point-adjusted F1:            {point_adjusted_f1_score(y_test, labels):.3f}")
print(f"average precision (PR-AUC):   {anomaly_average_precision_score(y_test, scores):.3f}")

# %%
# Plot scores, threshold, true anomaly segments (shaded) and detections.
display = AnomalyScoreDisplay.from_estimator(detector, X_test, y_test)
display.ax_.set_yscale("log")
display.ax_.set_title("TimeSeriesVAEDetector on the test part")
display.figure_.tight_layout()

# %%
# Root cause: the per-channel reconstruction errors say which channels drive
# an alarm. Here, the channels of the step with the highest score.
errors = detector.reconstruction_errors(X_test)
worst = int(np.argmax(scores))
order = np.argsort(errors[worst])[::-1]
print(f"step {worst}: channels by error {order[:3].tolist()}")

fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(np.arange(errors.shape[1]), errors[worst], color="C0")
ax.set_xlabel("channel")
ax.set_ylabel("squared error")
ax.set_title(f"Reconstruction error per channel at step {worst}")
fig.tight_layout()
plt.show()
