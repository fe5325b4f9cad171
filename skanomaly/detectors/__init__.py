"""The detectors: scikit-learn faces of the modules in :mod:`skanomaly.modules`."""

from ._timeseries import TimeSeriesVAEDetector

__all__ = ["TimeSeriesVAEDetector"]
