"""The ``skanomaly`` command line: ``skanomaly demo`` runs the quick-start demo."""

import argparse
import sys
import time

__all__ = ["main", "run_demo"]


def run_demo(output="skanomaly_demo.png", max_epochs=20, device="auto", random_state=0,
             stream=None):
    """Fit a detector on the shipped SMD sample, print metrics, save a plot.

    A :class:`~skanomaly.detectors.TimeSeriesVAEDetector` (it scales the
    channels itself) is trained on the sample's training part (normal
    operation of SMD machine-1-7), the threshold is calibrated on the
    held-out tail of that training part, and the test part (with labelled
    incidents) is scored.

    Parameters
    ----------
    output : str, default="skanomaly_demo.png"
        Where to write the PNG plot of scores, threshold and labels.
    max_epochs : int, default=20
        Training epochs (early stopping may end sooner).
    device : str, default="auto"
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    random_state : int, default=0
        Seed of the detector.
    stream : file-like or None, default=None
        Where to print; standard output if None.

    Returns
    -------
    results : dict
        ``roc_auc``, ``pr_auc``, ``f1``, ``point_adjusted_f1``, ``fit_seconds``,
        ``score_seconds`` and ``plot`` (the PNG path).
    """
    import matplotlib

    matplotlib.use("Agg")
    from .datasets import load_smd_sample
    from .detectors import TimeSeriesVAEDetector
    from .metrics import (
        anomaly_average_precision_score,
        anomaly_f1_score,
        anomaly_roc_auc_score,
        point_adjusted_f1_score,
    )
    from .plotting import AnomalyScoreDisplay

    out = stream or sys.stdout
    data = load_smd_sample()
    print(f"skanomaly demo: SMD {data.machine} sample, train {data.X_train.shape}, "
          f"test {data.X_test.shape}, {int(data.y_test.sum())} anomalous test rows", file=out)
    model = TimeSeriesVAEDetector(max_epochs=max_epochs, device=device, random_state=random_state)
    start = time.perf_counter()
    model.fit(data.X_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    anomaly_scores = -model.score_samples(data.X_test)
    alarms = (model.predict(data.X_test) == -1).astype(int)
    score_seconds = time.perf_counter() - start
    results = {
        "roc_auc": anomaly_roc_auc_score(data.y_test, anomaly_scores, anomaly_label=1),
        "pr_auc": anomaly_average_precision_score(data.y_test, anomaly_scores, anomaly_label=1),
        "f1": anomaly_f1_score(data.y_test, alarms, anomaly_label=1),
        "point_adjusted_f1": point_adjusted_f1_score(data.y_test, alarms, anomaly_label=1),
        "fit_seconds": fit_seconds,
        "score_seconds": score_seconds,
    }
    detector = model
    print(f"trained {len(detector.net_.history)} epochs on {detector.net_.device} "
          f"in {fit_seconds:.1f} s; scored in {score_seconds:.2f} s", file=out)
    print(f"threshold ({detector.thresholder_!r}): {-detector.offset_:.4g}; "
          f"{int(alarms.sum())} alarms", file=out)
    for key in ("roc_auc", "pr_auc", "f1", "point_adjusted_f1"):
        print(f"  {key:<18} {results[key]:.3f}", file=out)

    display = AnomalyScoreDisplay.from_estimator(model, data.X_test, data.y_test, anomaly_label=1,
                                                 name="TimeSeriesVAEDetector")
    display.ax_.set_title(f"skanomaly demo: SMD {data.machine} (test part)")
    display.ax_.set_xlabel("minute")
    display.ax_.set_yscale("log")  # incidents score orders of magnitude above normal minutes
    display.figure_.set_size_inches(12, 4)
    display.figure_.tight_layout()
    display.figure_.savefig(output, dpi=100)
    results["plot"] = output
    print(f"plot written to {output}", file=out)
    return results


def main(argv=None):
    """Entry point of the ``skanomaly`` console script."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="skanomaly", description=__doc__)
    parser.add_argument("--version", action="version", version=f"skanomaly {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="fit a detector on shipped SMD data, print metrics, "
                                            "write a plot")
    demo.add_argument("--output", default="skanomaly_demo.png", help="PNG path for the plot")
    demo.add_argument("--max-epochs", type=int, default=20)
    demo.add_argument("--device", default="auto")
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(args.output, args.max_epochs, args.device, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
