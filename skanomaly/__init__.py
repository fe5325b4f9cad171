"""skanomaly: deep anomaly detectors that behave like scikit-learn estimators."""

__version__ = "0.1.0.dev0"
