"""The detectors: scikit-learn faces of the modules in :mod:`skanomaly.modules`."""

from ._multimodal import MultimodalVAEDetector
from ._timeseries import TimeSeriesVAEDetector
from ._vision import VisionVAEDetector

__all__ = ["MultimodalVAEDetector", "TimeSeriesVAEDetector", "VisionVAEDetector"]
