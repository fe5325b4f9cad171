"""
==================================================
Localising surface defects with an anomaly map
==================================================

Fit :class:`~skanomaly.detectors.VisionVAEDetector` on generated images of a
striped surface (36 x 44 pixels: any size works, not only powers of two), score
new images, and show where the detector sees the defect with
:meth:`~skanomaly.detectors.VisionVAEDetector.anomaly_map`.

The loss is squared error + ``ssim_weight`` x (1 - SSIM) + ``beta`` x KL; the
image score is the same reconstruction part for the posterior mean, so it is
the same on every call.
"""

# %%
# Generated surfaces: stripes with a random phase and brightness, plus noise.
# Defective ones get a dark scratch at a random place.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from skanomaly.detectors import VisionVAEDetector

rng = np.random.RandomState(0)
H, W = 36, 44


def surfaces(n, defect=False):
    rows, cols = np.mgrid[0:H, 0:W]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    level = rng.uniform(0.4, 0.6, size=(n, 1, 1))
    X = level + 0.2 * np.sin(cols / 3.0 + phase) + 0.03 * rng.randn(n, H, W)
    masks = np.zeros((n, H, W), dtype=bool)
    if defect:
        for i in range(n):
            r, c = rng.randint(6, H - 10), rng.randint(6, W - 14)
            masks[i, r:r + 3, c:c + 9] = True
        X[masks] = 0.05
    return X.astype(np.float32), masks


X_train, _ = surfaces(240)
X_normal, _ = surfaces(40)
X_defect, masks = surfaces(40, defect=True)
X_test = np.concatenate([X_normal, X_defect])
y_test = np.r_[np.zeros(40), np.ones(40)]  # 1 = defective

# %%
# (n, height, width) input is read as one-channel images. A small network and
# a few epochs are enough for this toy surface.
detector = VisionVAEDetector(latent_dim=8, hidden_channels=(16, 32), max_epochs=8,
                             lr=3e-3, random_state=0)
detector.fit(X_train)
scores = -detector.score_samples(X_test)  # higher = more anomalous
print(f"image AUROC: {roc_auc_score(y_test, scores):.3f}")
print(f"defective images flagged: {(detector.predict(X_defect) == -1).mean():.0%}, "
      f"normal images flagged: {(detector.predict(X_normal) == -1).mean():.0%}")

# %%
# The anomaly map is the per-pixel squared reconstruction error, here smoothed
# by a Gaussian of 1 pixel; its AUROC against the scratch masks measures how
# well it localises the defect.
maps = detector.anomaly_map(X_defect, sigma=1.0)
print(f"pixel AUROC: {roc_auc_score(masks.ravel(), maps.ravel()):.3f}")

fig, axes = plt.subplots(3, 4, figsize=(9, 6.5))
for j in range(4):
    axes[0, j].imshow(X_defect[j], cmap="gray", vmin=0, vmax=1)
    axes[1, j].imshow(maps[j], cmap="inferno")
    axes[2, j].imshow(masks[j], cmap="gray")
for ax, title in zip(axes[:, 0], ["image", "anomaly map", "true defect"]):
    ax.set_ylabel(title)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("VisionVAEDetector: defective surfaces and their anomaly maps")
plt.tight_layout()
plt.show()
