"""Training and scoring throughput of the detectors against a plain torch loop.

For the time-series and vision detectors, at batch sizes 128 and 1024, in
fp32 and bf16, it measures samples per second of

* ``fit``: the detector's skorch training epochs (skorch's own per-epoch
  ``dur``, with no held-out part, so data checks, validation and threshold
  calibration are left out), against a
  plain torch loop (Adam, the same module class, the same loss, batches
  gathered from a tensor already on the device);
* ``score``: ``score_samples`` against the plain module's ``reconstruct``
  under ``torch.inference_mode``.

bf16 trains through ``accelerator=accelerate.Accelerator(mixed_precision="bf16")``
(and the plain loop under ``torch.autocast``); accelerate keeps one precision
per process, so every case runs in its own subprocess. Scoring stays fp32.

    python benchmarks/bench_gpu.py            # on a GPU, about 5 minutes
    python benchmarks/bench_gpu.py --quick    # on a CPU, small data, so it cannot rot

Writes ``benchmarks/results/bench_gpu[_quick].json``.
"""

import argparse
import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"
WINDOW = 64
CASES = [(kind, batch, precision) for kind in ("timeseries", "vision")
         for batch in (128, 1024) for precision in ("fp32", "bf16")]


def _data(kind, quick):
    rng = np.random.default_rng(0)
    if kind == "timeseries":
        n = 6_000 if quick else 200_000
        return rng.normal(size=(n, 38)).astype(np.float32)
    n = 600 if quick else 20_000
    return rng.random((n, 1, 28, 28)).astype(np.float32)


def _detector(kind, batch, precision, device, epochs):
    from skanomaly.detectors import TimeSeriesVAEDetector, VisionVAEDetector

    # No held-out part: skorch's per-epoch ``dur`` is then the training pass alone.
    params = dict(batch_size=batch, max_epochs=epochs, early_stopping=False,
                  validation_fraction=0.0, random_state=0, device=device)
    if precision == "bf16":
        from accelerate import Accelerator

        params["accelerator"] = Accelerator(mixed_precision="bf16", cpu=device == "cpu")
    if kind == "timeseries":
        return TimeSeriesVAEDetector(window_size=WINDOW, **params)
    return VisionVAEDetector(**params)


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _plain_inputs(kind, X, device):
    """What the module sees: windows (n, channels, window) or images."""
    X = torch.as_tensor(X, device=device)
    if kind == "timeseries":
        return X.unfold(0, WINDOW, 1)  # (n_windows, channels, window), a view
    return X


def _plain_loop(module, criterion, inputs, batch, precision, device, epochs):
    """Adam over shuffled batches gathered from ``inputs``; returns samples/s."""
    module = module.to(device).train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    n = inputs.shape[0]
    dtype = torch.bfloat16 if precision == "bf16" else None
    _sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        for idx in torch.randperm(n, device=device).split(batch):
            x = inputs[idx]
            with torch.autocast(device_type=str(device).split(":")[0], dtype=dtype,
                                enabled=dtype is not None):
                loss = criterion(module(x), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    _sync(device)
    return epochs * n / (time.perf_counter() - start)


@torch.inference_mode()
def _plain_scoring(module, inputs, batch, device):
    module.eval()
    _sync(device)
    start = time.perf_counter()
    for x in inputs.split(batch):
        (module.reconstruct(x) - x).pow(2).flatten(1).sum(1)
    _sync(device)
    return inputs.shape[0] / (time.perf_counter() - start)


def run_case(kind, batch, precision, quick):
    """One (detector, batch size, precision) case; returns its figures."""
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    epochs = 2 if quick else 3
    X = _data(kind, quick)
    det = _detector(kind, batch, precision, device, epochs).fit(X)
    # Training and scoring both see all of X: one window or image per sample.
    inputs = _plain_inputs(kind, X, device)
    n_samples = inputs.shape[0]
    fit_rate = epochs * n_samples / float(sum(det.net_.history[:, "dur"]))

    _sync(device)
    start = time.perf_counter()
    det.score_samples(X)
    _sync(device)
    score_rate = n_samples / (time.perf_counter() - start)

    module = copy.deepcopy(det.net_.module_)
    criterion = copy.deepcopy(det.net_.criterion_).to(device)
    plain_fit = _plain_loop(module, criterion, inputs, batch, precision, device, epochs)
    plain_score = _plain_scoring(module, inputs, batch, device)
    return {
        "detector": kind, "batch_size": batch, "precision": precision, "device": device,
        "fit_samples_per_s": fit_rate, "plain_fit_samples_per_s": plain_fit,
        "fit_ratio": fit_rate / plain_fit,
        "score_samples_per_s": score_rate, "plain_score_samples_per_s": plain_score,
        "score_ratio": score_rate / plain_score,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, for a CPU")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # "kind,batch,precision"
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.case:
        kind, batch, precision = args.case.split(",")
        print(json.dumps(run_case(kind, int(batch), precision, args.quick)))
        return

    rows = []
    for kind, batch, precision in CASES:
        command = [sys.executable, __file__, "--case", f"{kind},{batch},{precision}"]
        command += ["--quick"] if args.quick else []
        command += ["--threads", str(args.threads)] if args.threads else []
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{kind} batch {batch} {precision}: failed\n{done.stderr[-2000:]}")
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{kind:10s} batch {batch:5d} {precision}  fit {r['fit_samples_per_s']:10.0f}/s "
              f"(plain {r['plain_fit_samples_per_s']:10.0f}/s, {r['fit_ratio']:.2f}x)  "
              f"score {r['score_samples_per_s']:10.0f}/s "
              f"(plain {r['plain_score_samples_per_s']:10.0f}/s, {r['score_ratio']:.2f}x)",
              flush=True)
    for kind in ("timeseries", "vision"):
        for batch in (128, 1024):
            pair = {r["precision"]: r for r in rows
                    if r["detector"] == kind and r["batch_size"] == batch}
            if len(pair) == 2:
                speedup = pair["bf16"]["fit_samples_per_s"] / pair["fp32"]["fit_samples_per_s"]
                print(f"{kind} batch {batch}: bf16 / fp32 training = {speedup:.2f}x")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("bench_gpu_quick.json" if args.quick else "bench_gpu.json")
    out.write_text(json.dumps(rows, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
