"""
================================================================
Metrics, logs and traces of a service into AnoFusionDetector
================================================================

The whole AnoFusion path on a simulated service: log lines become Drain
template counts per minute, spans become per-minute latency and error
statistics per service, a CPU metric joins them on one time index, and
:class:`~skanomaly.detectors.AnoFusionDetector` learns to forecast every
channel over the NMI relation graph of the three modalities. Two failures
are injected in the test period: a slow payment dependency (latency, timeout
logs, CPU) and a burst of payment errors (status codes and a log line never
seen in training).
"""

# %%
# A simulated service: requests follow a daily-like cycle for 3,000 minutes.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from skanomaly.detectors import AnoFusionDetector
from skanomaly.metrics import best_f1_score, point_adjusted_f1_score
from skanomaly.preprocessing import DrainTemplates, TraceWindowStats, align_channels, count_per_bin

rng = np.random.default_rng(0)
n_minutes, start = 3000, pd.Timestamp("2024-01-01")
minutes = np.arange(n_minutes)
slow = (minutes >= 2400) & (minutes < 2420)      # failure 1: slow payment dependency
errors = (minutes >= 2700) & (minutes < 2715)    # failure 2: payment errors
requests = rng.poisson(20 + 10 * np.sin(2 * np.pi * minutes / 600))

# One span per request: the minute it falls in, its service, duration and status.
minute_of = np.repeat(minutes, requests)
n = minute_of.size
times = start + pd.to_timedelta((minute_of + rng.uniform(0, 1, n)) * 60, unit="s")
service = rng.choice(["api", "payment"], n, p=[0.6, 0.4])
on_payment = service == "payment"
duration = rng.exponential(0.05, n) * np.where(slow[minute_of] & on_payment, 6.0, 1.0)
failed = rng.uniform(size=n) < np.where(errors[minute_of] & on_payment, 0.4, 0.01)
spans = pd.DataFrame({"start": times, "duration": duration, "service": service,
                      "status_code": np.where(failed, 500, 200)})

# One log line per request, plus cache misses, timeouts and error reports.
lines = np.where(on_payment, "charge card for order ", "GET /api/items/").astype(object)
lines = lines + rng.integers(1000, 9999, n).astype(str)
timeout = slow[minute_of] & on_payment & (rng.uniform(size=n) < 0.5)
lines[timeout] = "timeout after 3000 ms calling payment-gateway"
lines[failed & on_payment & errors[minute_of]] = "payment failed with code 500 for card"
log_times = times
cpu = 0.3 + 0.01 * requests + 0.1 * slow + 0.02 * rng.standard_normal(n_minutes)
metrics = pd.DataFrame({"cpu": cpu}, index=start + pd.to_timedelta(minutes, unit="min"))
print(f"{n} spans and log lines over {n_minutes} minutes")

# %%
# Logs -> Drain templates (fitted on the training period) -> counts per minute;
# spans -> statistics per minute and service; one table with each column's modality.
index = metrics.index
train_end = index[2000]
in_training = log_times < train_end
drain = DrainTemplates().fit(lines[in_training])
template_ids = drain.transform(lines)
log_counts = count_per_bin(log_times, template_ids, index=index,
                           categories=list(drain.templates_["template_id"]) + [-1])
trace_stats = TraceWindowStats(index=index, status_col="status_code").fit(spans).transform(spans)
X, modality = align_channels(metrics, log_counts, trace_stats, index=index)
y = (slow | errors).astype(int)
print(X.shape, modality.value_counts().to_dict())

# %%
# Train on the first 2,000 minutes (normal), score the last 1,000.
X_train, X_test, y_test = X.iloc[:2000], X.iloc[2000:], y[2000:]
detector = AnoFusionDetector(modalities=modality, window_size=16, max_epochs=10,
                             random_state=0, device="cpu").fit(X_train)
scores = -detector.score_samples(X_test)
labels = detector.predict(X_test)
print(f"point-adjusted F1 (delay 7) at the detector's threshold: "
      f"{point_adjusted_f1_score(y_test, labels, method='delay', k=7):.3f}")
print(f"best point-adjusted F1 (delay 7): "
      f"{best_f1_score(y_test, scores, method='delay', k=7):.3f}")

# %%
# Which channels' forecasts broke at each failure.
contributions = pd.DataFrame(detector.forecast_errors(X_test) / detector.channel_scale_,
                             index=X_test.index, columns=X.columns)
for name, mask in (("slow payment", slow[2000:]), ("payment errors", errors[2000:])):
    top = contributions[mask].mean().sort_values(ascending=False).head(3)
    print(name, "->", ", ".join(f"{c} ({modality[c]})" for c in top.index))

fig, ax = plt.subplots(figsize=(9, 3.5))
ax.plot(X_test.index, scores, lw=0.8, label="anomaly score")
ax.axhline(-detector.offset_, color="k", ls="--", lw=0.8, label="threshold")
ax.fill_between(X_test.index, 0, 1, where=y_test == 1, color="red", alpha=0.2,
                transform=ax.get_xaxis_transform(), label="injected failure")
ax.set_yscale("log")
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
