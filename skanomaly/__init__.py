"""skanomaly: deep anomaly detectors that behave like scikit-learn estimators.

Subpackages load on first use, so ``import skanomaly`` stays cheap:

- :mod:`skanomaly.detectors`: the detectors (scikit-learn outlier convention);
- :mod:`skanomaly.thresholds`: scores -> alarms (percentile ... SPOT, DSPOT);
- :mod:`skanomaly.metrics`: point-adjust family, event metrics, scorers;
- :mod:`skanomaly.preprocessing`: logs, traces, alignment, relation graphs;
- :mod:`skanomaly.datasets`: loaders and generators;
- :mod:`skanomaly.explain`: root-cause rankings and HitRate@P%;
- :mod:`skanomaly.plotting`: displays;
- :mod:`skanomaly.modules`, :mod:`skanomaly.nets`: torch modules and skorch nets.
"""

import importlib

__version__ = "0.1.0.dev0"

_SUBMODULES = (
    "datasets", "detectors", "explain", "metrics", "modules", "nets", "plotting", "preprocessing",
    "thresholds",
)
_DETECTORS = (
    "TimeSeriesVAEDetector", "VisionVAEDetector", "MultimodalVAEDetector", "AnoFusionDetector",
)

__all__ = [*_SUBMODULES, *_DETECTORS]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _DETECTORS:
        return getattr(importlib.import_module(".detectors", __name__), name)
    raise AttributeError(f"module 'skanomaly' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
