"""
=================================================
Ranking turbofan engines by degradation (C-MAPSS)
=================================================

NASA's C-MAPSS FD001 simulates 100 turbofan engines run to failure (training)
and 100 engines cut off some time before failure, with their true remaining
useful life (RUL). There are no anomaly labels: degradation is a slow drift of
several sensors. This example trains
:class:`~skanomaly.detectors.TimeSeriesVAEDetector` on windows of young
engines, scores the last window of each test engine, and ranks engines
against their RUL (Spearman correlation; strongly negative is good), beside
the simplest baseline: how far the window's mean is from the training mean.

The data are read from ``../shared/data/cmapss`` (see
:func:`~skanomaly.datasets.load_cmapss`); without them the example stops.
``benchmarks/bench_cmapss.py`` runs the same protocol with PyOD's IForest and
the engine age beside it.
"""

# %%
# Windows of 30 cycles, never spanning two engines. Training: the first 100
# cycles of every training engine, taken as healthy.
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import spearmanr

from skanomaly.datasets import load_cmapss
from skanomaly.detectors import TimeSeriesVAEDetector

try:
    data = load_cmapss("FD001")
except FileNotFoundError as exc:
    raise SystemExit(f"C-MAPSS data not found: {exc}")
features = list(data.feature_names)
WINDOW = 30


def engine_windows(frame, last_only=False, max_cycle=None):
    windows = []
    for _, rows in frame.groupby("unit", sort=True):
        values = rows.sort_values("cycle")[features].to_numpy(np.float32)[:max_cycle]
        view = np.lib.stride_tricks.sliding_window_view(values, WINDOW, axis=0)
        windows.append(view[-1:] if last_only else view)
    return np.concatenate(windows)  # (n_windows, n_features, WINDOW)


X_train = engine_windows(data.train, max_cycle=100)
X_last = engine_windows(data.test, last_only=True)
rul = np.asarray(data.rul_test, dtype=float)
print(f"{len(X_train)} training windows, {len(X_last)} test engines")

# %%
# The detector scales each channel itself (training mean and standard
# deviation) and warns about the channels that never move in FD001; they are
# kept, and their changes are bounded. Four passes over the training windows keep the
# example quick; by default (``max_epochs=None``) it trains for about 1,200 steps.
detector = TimeSeriesVAEDetector(window_size=WINDOW, max_epochs=4, random_state=0, device="cpu")
detector.fit(X_train)
score = -detector.score_samples(X_last)

# %%
# The baseline: distance of the last window's mean from the training mean, in
# training standard deviations (channels constant in training left out).
# In float64: a constant channel's float32 standard deviation can come out as rounding
# noise instead of 0, and dividing by it would swamp the distance.
rows = X_train.transpose(0, 2, 1).reshape(-1, len(features)).astype(np.float64)
mean, std = rows.mean(0), rows.std(0)
moving = std > 0
last_means = X_last.astype(np.float64).mean(axis=2)
distance = np.linalg.norm((last_means[:, moving] - mean[moving]) / std[moving], axis=1)

for name, values in (("detector", score), ("distance from mean", distance)):
    print(f"Spearman vs RUL, {name}: {spearmanr(values, rul).statistic:.3f}")

# %%
# Scores against remaining life: both rise as engines near failure.
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharex=True)
for ax, (name, values) in zip(axes, (("detector score", score), ("distance from mean", distance))):
    ax.scatter(rul, values, s=12)
    ax.set_xlabel("true remaining useful life (cycles)")
    ax.set_ylabel(f"{name} (log scale)")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(plt.LogLocator(subs=(1, 2, 5)))
    ax.yaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_title(f"{name}: Spearman {spearmanr(values, rul).statistic:.2f}")
fig.suptitle("Last window of each FD001 test engine against its remaining life")
fig.tight_layout()
plt.show()
