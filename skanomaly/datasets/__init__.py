"""Dataset loaders and generators.

Loaders read public anomaly-detection datasets from local files in their
original layouts and return scikit-learn :class:`~sklearn.utils.Bunch` objects:

- :func:`load_smd`, :func:`list_smd_machines`: Server Machine Dataset (OmniAnomaly layout);
- :func:`load_asd`, :func:`list_asd_servers`: Application Server Dataset (same layout);
- :func:`load_smd_sample`: a small SMD slice shipped inside the package (no download);
- :func:`load_cmapss`: NASA C-MAPSS turbofan data with RUL-based anomaly labels;
- :func:`load_nab`, :func:`list_nab_series`: Numenta Anomaly Benchmark series and windows;
- :func:`load_nezha`: Nezha microservice data (metrics, logs, spans, injected faults);
- :func:`load_changerca`, :func:`list_changerca_cases`: ChangeRCA change-induced failures;
- :func:`make_anomalous_series`: a generated multichannel series with labelled anomalies;
- :func:`make_microservice_telemetry`: generated raw microservice telemetry (metrics, logs,
  spans) with labelled faults;
- :func:`fault_labels`: fault start/end times -> per-bin 0/1 labels.

Folders are found through ``data_home``, the ``SKANOMALY_DATA`` environment
variable, or ``../shared/data`` (see :func:`get_data_home`).
"""

# One import line per module: loaders for new formats add their own line here
# and their names to ``__all__`` below.
from ._base import DATA_ENV, get_data_home, label_segments
from ._changerca import list_changerca_cases, load_changerca
from ._cmapss import load_cmapss
from ._faults import fault_labels
from ._loghub import LOGHUB_FORMATS, LOGHUB_SYSTEMS, list_loghub_systems, load_loghub
from ._microservice import CROSS_MODAL_FAULT_TYPES, FAULT_TYPES, make_microservice_telemetry
from ._nab import list_nab_series, load_nab
from ._nezha import load_nezha
from ._smd import (
    list_asd_servers,
    list_smd_machines,
    load_asd,
    load_smd,
    load_smd_sample,
    parse_interpretation_label,
)
from ._synthetic import ANOMALY_KINDS, make_anomalous_series

__all__ = [
    "ANOMALY_KINDS",
    "CROSS_MODAL_FAULT_TYPES",
    "DATA_ENV",
    "FAULT_TYPES",
    "LOGHUB_FORMATS",
    "LOGHUB_SYSTEMS",
    "fault_labels",
    "get_data_home",
    "label_segments",
    "list_asd_servers",
    "list_changerca_cases",
    "list_loghub_systems",
    "list_nab_series",
    "list_smd_machines",
    "load_asd",
    "load_changerca",
    "load_cmapss",
    "load_loghub",
    "load_nab",
    "load_nezha",
    "load_smd",
    "load_smd_sample",
    "make_anomalous_series",
    "make_microservice_telemetry",
    "parse_interpretation_label",
]
