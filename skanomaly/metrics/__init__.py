"""Evaluation metrics and scorers for anomaly detection, anomalies positive.

Labels may follow scikit-learn's outlier convention (-1 anomalous, +1 normal)
or the 0/1 convention (1 anomalous); boolean masks (True anomalous) work too.
Scores are anomaly scores: higher means more anomalous.
"""

from ._adjust import adjust_scores, delay_point_adjust, pa_k_adjust, point_adjust
from ._classification import (
    adjusted_precision_recall_f1,
    anomaly_average_precision_score,
    anomaly_f1_score,
    anomaly_roc_auc_score,
    best_f1_score,
    event_precision_recall_f1,
    point_adjusted_f1_score,
)
from ._labels import anomaly_mask
from ._scorers import (
    AnomalyScorer,
    anomaly_average_precision_scorer,
    anomaly_f1_scorer,
    make_anomaly_scorer,
    point_adjusted_f1_scorer,
)

__all__ = [
    "AnomalyScorer",
    "adjust_scores",
    "adjusted_precision_recall_f1",
    "anomaly_average_precision_score",
    "anomaly_average_precision_scorer",
    "anomaly_f1_score",
    "anomaly_f1_scorer",
    "anomaly_mask",
    "anomaly_roc_auc_score",
    "best_f1_score",
    "delay_point_adjust",
    "event_precision_recall_f1",
    "make_anomaly_scorer",
    "pa_k_adjust",
    "point_adjust",
    "point_adjusted_f1_score",
    "point_adjusted_f1_scorer",
]
