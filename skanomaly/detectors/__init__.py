"""The detectors: scikit-learn faces of the modules in :mod:`skanomaly.modules`."""

from ._anofusion import AnoFusionDetector
from ._multimodal import MultimodalVAEDetector
from ._timeseries import TimeSeriesVAEDetector
from ._vision import VisionVAEDetector

__all__ = [
    "AnoFusionDetector", "MultimodalVAEDetector", "TimeSeriesVAEDetector", "VisionVAEDetector",
]
