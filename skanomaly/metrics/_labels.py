"""Label helpers of the metrics; they live in :mod:`skanomaly.utils._labels`."""

from ..utils._labels import (  # noqa: F401
    anomaly_mask,
    as_labels_like,
    check_pair,
    check_scores_pair,
    count_in,
    paint,
    segments,
)
