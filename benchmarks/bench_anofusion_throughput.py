"""Training throughput of AnoFusionDetector against a plain torch loop over the same module.

Both train ``AnoFusionNet`` with the same graph, windows, batch size, optimiser
and number of epochs on one CPU thread; the detector goes through skorch (its
``BatchLoader``, callbacks, history). Printed: windows per second of each, from
the epoch durations skorch records and from the wall time of the whole
``fit`` (graph, training, calibration), and their ratio. Writes
``benchmarks/results/bench_anofusion_throughput.json``.

Run: ``python benchmarks/bench_anofusion_throughput.py [--channels 22] [--steps 2000]``
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from skanomaly.detectors import AnoFusionDetector
from skanomaly.modules.anofusion import AnoFusionNet
from skanomaly.nets import ForecastLoss


def plain_loop(det, Z, epochs, batch_size, seed):
    """Train a fresh AnoFusionNet like the detector does, in a bare torch loop."""
    torch.manual_seed(seed)
    w = det.window_size
    params = {k[len("module__"):]: v for k, v in det.net_.get_params().items()
              if k.startswith("module__")}
    net = AnoFusionNet(**params)
    series = torch.tensor(Z, dtype=torch.float32)
    starts = torch.arange(len(Z) - w)
    offsets = torch.arange(w)
    optimizer = torch.optim.Adam(net.parameters(), lr=det.lr)
    loss_fn = ForecastLoss()
    net.train()
    begin = time.perf_counter()
    for _ in range(epochs):
        for batch in starts[torch.randperm(len(starts))].split(batch_size):
            windows = series[batch[:, None] + offsets].transpose(1, 2)
            loss = loss_fn(net(windows), series[batch + w])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return len(starts) * epochs / (time.perf_counter() - begin)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=22)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    t = np.arange(args.steps)
    Z = np.sin(t[:, None] / (10 + np.arange(args.channels))) + 0.1 * rng.normal(
        size=(args.steps, args.channels))
    modalities = np.array(["metric", "log", "trace"])[np.arange(args.channels) % 3]
    n_windows = args.steps - 20
    rows = []
    for repeat in range(args.repeats):
        det = AnoFusionDetector(modalities=modalities, window_size=20, max_epochs=args.epochs,
                                batch_size=args.batch_size, validation_fraction=0,
                                early_stopping=False, device="cpu", random_state=repeat)
        begin = time.perf_counter()
        det.fit(Z)
        wall = time.perf_counter() - begin
        epoch_s = float(np.sum(det.net_.history[:, "dur"]))
        Zs = det._standardized(Z) if hasattr(det, "_standardized") else Z
        plain = plain_loop(det, Zs, args.epochs, args.batch_size, repeat)
        rows.append({"detector_epochs": n_windows * args.epochs / epoch_s,
                     "detector_fit": n_windows * args.epochs / wall, "plain_loop": plain})
        print(f"repeat {repeat}: detector {rows[-1]['detector_epochs']:.0f} windows/s "
              f"(whole fit {rows[-1]['detector_fit']:.0f}), plain torch loop {plain:.0f}")
    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    ratio = med["detector_epochs"] / med["plain_loop"]
    print(f"median windows/s: detector {med['detector_epochs']:.0f} (whole fit "
          f"{med['detector_fit']:.0f}), plain {med['plain_loop']:.0f}; ratio {ratio:.3f}")
    out = Path(__file__).parent / "results" / "bench_anofusion_throughput.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "repeats": rows, "median": med,
                               "ratio_detector_over_plain": ratio}, indent=2))


if __name__ == "__main__":
    main()
