"""Build the SMD sample shipped in the package for ``skanomaly demo``.

Writes ``skanomaly/datasets/data/smd_machine-1-7_sample.npz`` from the full
SMD machine-1-7 files (``../shared/data/smd`` by default; see ``--data-home``).

Rule (fixed in advance, independent of any model's results):

- train slice: the last ``TRAIN_ROWS`` (6000) rows of the training file;
- test slice: a ``TEST_ROWS`` (7000) row window of the test file. Candidate
  windows start ``MARGIN`` (200) rows before each labelled segment (so each
  window opens with normal context); the one that fully contains the most
  labelled segments wins, the earliest on ties.

Usage::

    python benchmarks/make_demo_sample.py [--data-home PATH] [--out PATH]
"""

import argparse
from pathlib import Path

import numpy as np

from skanomaly.datasets import label_segments, load_smd

MACHINE = "machine-1-7"
TRAIN_ROWS = 6000
TEST_ROWS = 7000
MARGIN = 200

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "skanomaly" / "datasets" / "data" / f"smd_{MACHINE}_sample.npz"


def pick_test_window(y, n_rows=TEST_ROWS, margin=MARGIN):
    """Return ``(start, end)`` of the window fully containing the most segments."""
    segments = label_segments(y)
    best = None
    for seg_start, _ in segments:
        start = max(0, seg_start - margin)
        end = start + n_rows
        if end > len(y):
            start, end = len(y) - n_rows, len(y)
        count = sum(1 for s, e in segments if s >= start and e <= end)
        if best is None or count > best[0] or (count == best[0] and start < best[1]):
            best = (count, start, end)
    if best is None:
        raise ValueError("The test labels have no anomalous segment.")
    return best[1], best[2]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None, help="SMD folder (default: search path)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output .npz path")
    args = parser.parse_args(argv)

    smd = load_smd(MACHINE, data_home=args.data_home)
    n_train = smd.X_train.shape[0]
    train_rows = (n_train - TRAIN_ROWS, n_train)
    test_rows = pick_test_window(smd.y_test)
    t0, t1 = test_rows

    X_train = np.ascontiguousarray(smd.X_train[train_rows[0]:train_rows[1]], dtype=np.float32)
    X_test = np.ascontiguousarray(smd.X_test[t0:t1], dtype=np.float32)
    y_test = smd.y_test[t0:t1].astype(np.int8)

    n_features = X_test.shape[1]
    rows = []
    for start, end, dims in smd.interpretation or []:
        s, e = max(start, t0), min(end, t1)
        if s < e:
            mask = np.zeros(n_features, dtype=np.int64)
            mask[dims] = 1
            rows.append(np.concatenate([[s - t0, e - t0], mask]))
    interpretation = (
        np.asarray(rows, dtype=np.int64) if rows else np.zeros((0, 2 + n_features), np.int64)
    )

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        X_train=X_train,
        X_test=X_test,
        y_test=y_test,
        interpretation=interpretation,
        feature_names=np.asarray(smd.feature_names),
        train_rows=np.asarray(train_rows, dtype=np.int64),
        test_rows=np.asarray(test_rows, dtype=np.int64),
        machine=np.asarray(MACHINE),
    )
    segs = label_segments(y_test)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    print(f"train rows [{train_rows[0]}, {train_rows[1]}), test rows [{t0}, {t1})")
    print(
        f"test: {int(y_test.sum())} anomalous rows in {len(segs)} segments "
        f"(sample rows): {segs}"
    )


if __name__ == "__main__":
    main()
