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
the simplest baseline: how far the last few cycles' mean is from the training
mean.

Every setting here (smoothing, window, healthy cycles, ``beta``, the
baseline's window) is the one ``benchmarks/bench_cmapss.py`` chose for each
method by validation on training engines held out and cut at random points;
the test engines chose nothing. The benchmark adds the engine age and PyOD's
IForest. The data are read from ``../shared/data/cmapss`` (see
:func:`~skanomaly.datasets.load_cmapss`); without them the example stops.
"""

# %%
# One array per engine, cycles in order. Training: the first 50 cycles of
# every training engine, taken as healthy.
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
HEALTHY = 50


def engines(frame, smooth=1):
    """Per-engine arrays (n_cycles, n_features); each channel a trailing mean over
    ``smooth`` cycles."""
    return [rows.sort_values("cycle")[features].rolling(smooth, min_periods=1).mean()
            .to_numpy(np.float64) for _, rows in frame.groupby("unit", sort=True)]


def windows(series, window, last_only=False):
    """Windows (n, n_features, window), never spanning two engines."""
    views = [np.lib.stride_tricks.sliding_window_view(s, window, axis=0) for s in series]
    return np.concatenate([v[-1:] if last_only else v for v in views])


rul = np.asarray(data.rul_test, dtype=float)

# %%
# The detector: the series smoothed over 5 cycles (the per-cycle sensor noise
# would otherwise fill every squared error), windows of 30 cycles, and
# ``beta=100``: a strong KL weight keeps the latent code from following each
# engine's sensor levels, so a drifted level is not reconstructed away. It
# warns about the channels that never move in FD001; they are kept.
train, test = engines(data.train, smooth=5), engines(data.test, smooth=5)
X_train = np.concatenate([windows([s[:HEALTHY]], 30) for s in train]).astype(np.float32)
detector = TimeSeriesVAEDetector(window_size=30, beta=100, random_state=0, device="cpu")
detector.fit(X_train)
score = -detector.score_samples(windows(test, 30, last_only=True).astype(np.float32))

# %%
# The baseline: distance of the last 5 cycles' mean from the training mean, in
# training standard deviations (channels constant in training left out), on
# the raw series. In float64: a constant channel's float32 standard deviation
# can come out as rounding noise instead of 0.
train, test = engines(data.train), engines(data.test)
rows = np.concatenate([s[:HEALTHY] for s in train])
mean, std = rows.mean(0), rows.std(0)
moving = np.ptp(rows, axis=0) > 0
last_means = windows(test, 5, last_only=True).mean(axis=2)
distance = np.linalg.norm((last_means[:, moving] - mean[moving]) / std[moving], axis=1)

for name, values in (("detector", score), ("distance from mean", distance)):
    print(f"Spearman vs RUL, {name}: {spearmanr(values, rul).statistic:.3f}")

# %%
# Scores against remaining life: both rise as engines near failure, and both
# leave the engines far from failure in the noise.
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
