"""Thresholders: turn anomaly scores (higher = more anomalous) into alarms.

Every thresholder is fitted on calibration scores believed normal, exposes
``threshold_`` and labels scores with :meth:`predict` (-1 anomalous, +1
normal). Streaming ones (:class:`SPOTThreshold`, :class:`DSPOTThreshold`,
:class:`RollingThreshold`) give one threshold per step and take new scores
with ``update`` / ``partial_fit``.
"""

from ._base import BaseThresholder, PercentileThreshold, check_scores
from ._gev import GEVThreshold
from ._rolling import RollingThreshold
from ._spot import DSPOTThreshold, SPOTThreshold, TailFitWarning
from ._static import ContaminationThreshold, GaussianThreshold, MADThreshold

__all__ = [
    "BaseThresholder",
    "ContaminationThreshold",
    "DSPOTThreshold",
    "GEVThreshold",
    "GaussianThreshold",
    "MADThreshold",
    "PercentileThreshold",
    "RollingThreshold",
    "SPOTThreshold",
    "TailFitWarning",
    "check_scores",
]
