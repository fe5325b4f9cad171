"""Preprocessing: logs and traces to channels on one time index, and channel relations.

Raw log lines become columns (:class:`LogHeaderParser`); messages become template ids
(:class:`DrainTemplates`) or semantic clusters (:class:`SemanticTemplateClusters`);
:func:`count_per_bin` counts them per time bin; :class:`TraceWindowStats` summarises spans
per window and service; :func:`align_channels` puts metrics, log counts and trace
statistics on one index; :class:`TelemetryChannels` does all of it from the raw tables in
one Pipeline step; :func:`relation_graph` weighs channel pairs by normalised mutual
information; :func:`window_starts` and :func:`window_scores_to_steps` cut a series into
windows and bring window scores back to steps.
"""

from .align import MODALITIES, align_channels
from .counts import count_per_bin
from .graph import EDGE_TYPES, discretize, edge_type_stack, nmi_matrix, relation_graph
from .log_header import LogHeaderParser
from .logs import DEFAULT_MASKING, MASK_PATTERNS, DrainTemplates, SemanticTemplateClusters
from .telemetry import TelemetryChannels, TelemetryFrames, channel_modalities, default_service_of
from .traces import TRACE_STATS, TraceWindowStats, trace_window_stats
from .windows import window_scores_to_steps, window_starts

__all__ = [
    "DEFAULT_MASKING",
    "MASK_PATTERNS",
    "DrainTemplates",
    "LogHeaderParser",
    "SemanticTemplateClusters",
    "count_per_bin",
    "TRACE_STATS",
    "TraceWindowStats",
    "trace_window_stats",
    "MODALITIES",
    "align_channels",
    "TelemetryChannels",
    "TelemetryFrames",
    "channel_modalities",
    "default_service_of",
    "EDGE_TYPES",
    "edge_type_stack",
    "discretize",
    "nmi_matrix",
    "relation_graph",
    "window_starts",
    "window_scores_to_steps",
]
