"""
======================================================
Two views of one machine, and a view that goes missing
======================================================

Fit :class:`~skanomaly.detectors.MultimodalVAEDetector` on two groups of a
server's metrics (the SMD sample shipped with skanomaly), each seen through
sliding windows, and bring the window scores back to one score per minute.
``modality_scores`` tells which view raised an alarm, and because the product
of experts was trained with each expert alone too (``train_single_experts``),
the detector keeps scoring when one view is missing (all NaN), as when a
collector is down.
"""

# %%
# Two views of the same minutes: metrics 0-18 and 19-37, standardised on the
# training period, cut into windows of 32 minutes (channels first).
import matplotlib.pyplot as plt
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.preprocessing import StandardScaler

from skanomaly.datasets import load_smd_sample
from skanomaly.detectors import MultimodalVAEDetector
from skanomaly.metrics import anomaly_roc_auc_score
from skanomaly.preprocessing import window_scores_to_steps, window_starts

data = load_smd_sample()
scaler = StandardScaler().fit(data.X_train)
X_train, X_test = scaler.transform(data.X_train), scaler.transform(data.X_test)
views = {"metrics_a": slice(0, 19), "metrics_b": slice(19, 38)}
window = 32


def windowed(X, starts):
    """One dict entry per view: (n_windows, n_channels, window)."""
    return {name: sliding_window_view(X[:, cols], window, axis=0)[starts]
            for name, cols in views.items()}


train_starts = window_starts(len(X_train), window, stride=4)
test_starts = window_starts(len(X_test), window, stride=1)
train, test = windowed(X_train, train_starts), windowed(X_test, test_starts)
print({name: part.shape for name, part in train.items()})

# %%
# One encoder and decoder per view, a shared latent (product of experts).
detector = MultimodalVAEDetector(
    latent_dim=8, normalize_channels=True, train_single_experts=True, max_epochs=8,
    random_state=0, device="cpu",
).fit(train)


def per_minute(window_scores):
    return window_scores_to_steps(window_scores, test_starts, window, len(X_test))


scores = per_minute(-detector.score_samples(test))
print(f"ROC-AUC, both views:    {anomaly_roc_auc_score(data.y_test, scores, anomaly_label=1):.3f}")

# %%
# The same minutes with the second view missing.
blind = {**test, "metrics_b": np.full_like(test["metrics_b"], np.nan)}
blind_scores = per_minute(-detector.score_samples(blind))
print(f"ROC-AUC, metrics_a only: "
      f"{anomaly_roc_auc_score(data.y_test, blind_scores, anomaly_label=1):.3f}")

# %%
# Each view's standardised part of the score: which view saw each incident.
parts = detector.modality_scores(test)
fig, ax = plt.subplots(figsize=(9, 3.5))
for name in views:
    ax.plot(per_minute(parts[name]), lw=0.8, label=name)
ax.fill_between(np.arange(len(X_test)), 0, 1, where=data.y_test == 1, color="red",
                alpha=0.15, transform=ax.get_xaxis_transform(), label="labelled anomaly")
ax.set_yscale("symlog")
ax.set_xlabel("test minute")
ax.set_ylabel("standardised error (symlog)")
ax.set_title("Each view's part of the anomaly score on the SMD test part")
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
