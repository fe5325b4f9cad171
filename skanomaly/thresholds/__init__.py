"""Thresholders: turn anomaly scores (higher = more anomalous) into alarms."""

from ._base import BaseThresholder, PercentileThreshold, check_scores

__all__ = ["BaseThresholder", "PercentileThreshold", "check_scores"]
