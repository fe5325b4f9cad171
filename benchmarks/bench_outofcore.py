"""Peak memory of scoring a long series held as a memmap or a dask array.

Writes a float32 series of ``--rows`` x 38 to a file, fits a small
time-series detector on its first rows, then, each in a fresh process,
scores the whole file held as

* ``memmap``: a read-only :class:`numpy.memmap` (scored block by block);
* ``dask``: a dask array whose chunks are read from the file (as from zarr
  or HDF5), computed with the synchronous scheduler into a memmap of scores;

and reports the process's peak resident memory (``ru_maxrss``) and whether
the scores of a 100,000-step slice equal in-memory scoring of that slice with
its context. The in-memory peak of the same slice is printed beside them.

    python benchmarks/bench_outofcore.py               # 10,000,000 x 38 (1.5 GB file)
    python benchmarks/bench_outofcore.py --rows 300000 # a quick run

Writes ``benchmarks/results/bench_outofcore.json`` (``bench_outofcore_quick.json``
for another ``--rows``).
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np

RESULTS = Path(__file__).parent / "results"
N_CHANNELS = 38
WINDOW = 16
SLICE = (5_000_000, 5_100_000)


def _peak_rss_mb():
    # VmHWM: this process's own peak (ru_maxrss would include the parent's,
    # which Linux carries across fork and exec).
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prepare(folder, rows):
    path = folder / "series.dat"
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(rows, N_CHANNELS))
    rng = np.random.default_rng(0)
    step = 1_000_000
    t = np.arange(step, dtype=np.float32)[:, None]
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        X[start:stop] = (np.sin((t[: stop - start] + start) / 50)
                         + 0.1 * rng.standard_normal((stop - start, N_CHANNELS)))
    X.flush()
    del X

    from skanomaly.detectors import TimeSeriesVAEDetector

    series = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, N_CHANNELS))
    train = np.array(series[:20_000])
    det = TimeSeriesVAEDetector(window_size=WINDOW, hidden_channels=(8,), latent_dim=4,
                                max_epochs=2, batch_size=1024, random_state=0, device="cpu")
    joblib.dump(det.fit(train), folder / "detector.joblib")
    return path


def _dask_from_file(path, rows, chunk=250_000):
    """A dask array whose chunks are read by ``np.fromfile``, as zarr or HDF5 would."""
    import dask
    import dask.array as da

    def read(start, stop):
        return np.fromfile(path, dtype=np.float32, count=(stop - start) * N_CHANNELS,
                           offset=start * N_CHANNELS * 4).reshape(-1, N_CHANNELS)

    return da.concatenate([
        da.from_delayed(dask.delayed(read)(start, min(start + chunk, rows)),
                        shape=(min(start + chunk, rows) - start, N_CHANNELS), dtype=np.float32)
        for start in range(0, rows, chunk)
    ])


def _score(mode, folder, rows):
    import torch

    torch.set_num_threads(1)
    det = joblib.load(folder / "detector.joblib")
    X = np.memmap(folder / "series.dat", dtype=np.float32, mode="r", shape=(rows, N_CHANNELS))
    lo, hi = SLICE if rows > SLICE[1] + WINDOW else (rows // 3, rows // 3 + rows // 10)
    start = time.perf_counter()
    if mode == "memmap":
        scores = det.score_samples(X)
        piece = scores[lo:hi]
    elif mode == "dask":
        import dask
        import dask.array as da

        lazy = det.score_samples(_dask_from_file(folder / "series.dat", rows))
        out = np.memmap(folder / "scores.dat", dtype=np.float64, mode="w+", shape=(rows,))
        with dask.config.set(scheduler="synchronous"):
            da.store(lazy, out)
        piece = np.array(out[lo:hi])
    else:  # in memory: only the slice and its context
        block = np.array(X[lo - WINDOW + 1: hi + WINDOW - 1])
        piece = det.score_samples(block)[WINDOW - 1: -(WINDOW - 1)]
    seconds = time.perf_counter() - start
    np.save(folder / f"piece_{mode}.npy", piece)
    return {"mode": mode, "rows": rows, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(_score(args.mode, Path(args.folder), args.rows)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _prepare(folder, args.rows)
        rows = []
        for mode in ("in_memory_slice", "memmap", "dask"):
            done = subprocess.run(
                [sys.executable, __file__, "--mode", mode, "--folder", tmp,
                 "--rows", str(args.rows)], capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{mode}: failed\n{done.stderr[-3000:]}")
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        reference = np.load(folder / "piece_in_memory_slice.npy")
        for row in rows:
            piece = np.load(folder / f"piece_{row['mode']}.npy")
            row["slice_identical"] = bool(np.array_equal(piece, reference))
            row["slice_max_abs_diff"] = float(np.max(np.abs(piece - reference)))
            print(f"{row['mode']:16s} {row['rows']:>11,d} rows  "
                  f"peak RSS {row['peak_rss_mb']:7.0f} MB  {row['seconds']:7.1f} s  "
                  f"slice identical: {row['slice_identical']} "
                  f"(max |diff| {row['slice_max_abs_diff']:.1e})", flush=True)
    RESULTS.mkdir(exist_ok=True)
    # A shorter run must not overwrite the full-size result.
    name = "bench_outofcore.json" if args.rows == 10_000_000 else "bench_outofcore_quick.json"
    (RESULTS / name).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
