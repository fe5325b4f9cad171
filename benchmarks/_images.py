"""Image data shared by the vision and multimodal benchmarks (research data, never shipped).

MNIST: the 10,000-image IDX test set in ``../shared/data/mnist``. One-class split
(documented here, used by every benchmark): for each digit, its images are shuffled
with ``RandomState(seed)`` and the first ``train_fraction`` (60 %) form that digit's
training part, the rest its test part. The detector for digit d trains on d's training
part only and is tested on the test parts of all ten digits (d normal, others anomalous).

Magnetic tiles: ``../shared/data/magnetic_tile/<class>/Imgs/*.jpg`` with ``*.png`` masks,
resized with PIL (bilinear for images, nearest for masks) to ``size x size``, pixels in
[0, 1]. MT_Free is shuffled with ``RandomState(seed)``: ``train_fraction`` (60 %) trains,
the rest joins the 257 defect images in the test set. ``return_classes=True`` also gives the
class folder of each test image, so that a benchmark can split the test set per class
(``bench_vision.py`` halves it into validation and test that way).
"""

import gzip
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_mnist(data=DATA):
    """(images uint8 (10000, 28, 28), labels uint8 (10000,)) from the IDX test set."""
    folder = Path(data) / "mnist"
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


def mnist_one_class_split(labels, train_fraction=0.6, seed=0):
    """{digit: training indices} and the test indices (all digits), as documented above."""
    rng = np.random.RandomState(seed)
    train, test = {}, []
    for digit in range(10):
        index = rng.permutation(np.flatnonzero(labels == digit))
        cut = int(round(train_fraction * len(index)))
        train[digit] = index[:cut]
        test.append(index[cut:])
    return train, np.sort(np.concatenate(test))


def load_tiles(size=64, train_fraction=0.6, seed=0, data=DATA, return_classes=False):
    """Train images, test images, test labels (1 = defect), test masks; float32 in [0, 1].

    With ``return_classes``, a fifth item: the class folder name of each test image.
    """
    from PIL import Image

    root = Path(data) / "magnetic_tile"
    images, masks, labels, classes = [], [], [], []
    for cls in ("MT_Free", "MT_Blowhole", "MT_Break", "MT_Crack"):
        for jpg in sorted((root / cls / "Imgs").glob("*.jpg")):
            img = Image.open(jpg).convert("L").resize((size, size), Image.BILINEAR)
            mask = Image.open(jpg.with_suffix(".png")).convert("L").resize(
                (size, size), Image.NEAREST)
            images.append(np.asarray(img, np.float32) / 255.0)
            masks.append(np.asarray(mask) > 0)
            labels.append(int(cls != "MT_Free"))
            classes.append(cls)
    images, masks, labels = np.stack(images), np.stack(masks), np.asarray(labels)
    free = np.random.RandomState(seed).permutation(np.flatnonzero(labels == 0))
    cut = int(round(train_fraction * len(free)))
    test = np.sort(np.concatenate([free[cut:], np.flatnonzero(labels == 1)]))
    out = images[free[:cut]], images[test], labels[test], masks[test]
    return (*out, np.asarray(classes)[test]) if return_classes else out
