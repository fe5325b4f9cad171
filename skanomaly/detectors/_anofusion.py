"""AnoFusionDetector: multimodal failure detection by forecasting over a learned channel graph."""

from collections import namedtuple
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from .._columns import column_groups
from ..base import BaseDeepDetector
from ..batching import ForecastWindowDataset
from ..modules.anofusion import AnoFusionNet
from ..nets import ForecastLoss, ForecastNet
from ..preprocessing.align import MODALITIES
from ..preprocessing.graph import EDGE_TYPES, relation_graph
from ..utils._compat import Interval
from ..utils._validation import as_float32_tensor, check_numeric_columns

__all__ = ["AnoFusionDetector"]

# A held-out part: the rows to score, preceded by `context` rows that only feed
# the first windows (they belong to the training part and get no score here).
_Segment = namedtuple("_Segment", ["values", "context"])


def _values(part):
    return part.values if isinstance(part, _Segment) else part


class AnoFusionDetector(BaseDeepDetector):
    """AnoFusion: multimodal failure detection for microservice systems.

    After Zhao et al. (KDD 2023). The input is a multichannel series of time
    bins in which metrics, log counts (e.g. per semantic template cluster)
    and trace statistics are aligned columns (see
    :func:`~skanomaly.preprocessing.align_channels`). The channels are the
    nodes of a heterogeneous graph whose six edge types (metric-metric,
    log-log, trace-trace, metric-log, metric-trace, log-trace) are weighted by
    the normalised mutual information between channels on the training part
    (``graph_``). A Graph Transformer Network learns meta-path graphs as soft
    selections of those edge types (identity included), a graph attention
    layer embeds every channel at every step over them, a GRU runs over the
    window and a linear head **forecasts the next step** of every channel.
    A step's anomaly score is its squared forecast error, each channel divided
    by its typical error on held-out training data, summed over channels;
    :meth:`channel_scores` gives those terms (a row sums to the score).

    The paper thresholds the scores with DSPOT (q=1e-4, depth 500, level 0.98):
    pass ``threshold=DSPOTThreshold(q=1e-4, depth=500, level=0.98)`` when the
    held-out part holds well over 500 steps.

    Parameters
    ----------
    modalities : dict or array-like of shape (n_channels,), default=None
        Modality of each column, one of ``"metric"``, ``"log"``, ``"trace"``:
        either a dict from modality to its columns (a list of column indices
        or, for DataFrame input, names, or a slice), every column in exactly
        one modality; or one modality per column, e.g. the second output of
        :func:`~skanomaly.preprocessing.align_channels` (a Series indexed by
        column name is matched on the names). ``None``: every column is a
        metric (one edge type).
    window_size : int, default=20
        Steps of history each forecast sees. The first ``window_size`` rows
        of a scored series have no forecast of their own and take the score of
        row ``window_size``.
    hidden_dim : int, default=16
        Node embedding size (graph attention output and GRU state).
    n_heads : int, default=2
        Graph attention heads; must divide ``hidden_dim``.
    gtn_channels : int, default=2
        Meta-path graphs the GTN learns in parallel.
    gtn_layers : int, default=1
        GTN layers; meta-paths have length ``gtn_layers + 1``.
    gat_layers : int, default=1
        Graph attention layers.
    dropout : float, default=0.0
        Dropout on attention weights and embeddings.
    nmi_bins : int, default=10
        Quantile bins per channel for the mutual information.
    nmi_threshold : float, default=0.0
        Relations weaker than this NMI are dropped from ``graph_``.
    normalize_channels : bool, default=True
        Divide each channel's squared forecast error by its median on the
        held-out calibration part (``channel_scale_``, floored at 1 % of the
        mean scale), so metrics, counts and latencies count on comparable
        scales. ``False`` sums raw squared errors.
    optimizer : torch optimizer class, default=torch.optim.Adam
        Optimizer; its options go through ``optimizer__*`` parameters.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=20
        Most passes over the training windows.
    batch_size : int, default=64
        Windows per training batch.
    validation_fraction : float, default=0.1
        Fraction of the time steps at the end of the training data whose
        forecasts are held out: early stopping watches their loss and the
        threshold and ``channel_scale_`` are fitted on their scores. Their
        windows may reach back into the training steps (context only; no
        held-out step is ever a training target). ``0`` trains on everything
        and calibrates on the training scores (which are optimistic).
    early_stopping : bool, default=True
        Stop when the held-out loss has not improved for ``patience`` epochs
        and keep the best weights.
    patience : int, default=5
        Epochs without improvement before early stopping.
    threshold : thresholder, default=None
        Turns calibration scores into the decision threshold. ``None`` means
        ``PercentileThreshold(q=0.99)``.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra callbacks for the skorch net.
    device : str or torch.device, default="auto"
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation and shuffling.
    verbose : int, default=0
        ``0``: silent; ``1`` or more: a progress bar and a line per epoch.
    **kwargs
        skorch parameters forwarded to the net: ``module__*``,
        ``optimizer__*``, ``criterion__*``, ``iterator_train__*``,
        ``iterator_valid__*``, ``callbacks__*``.

    Attributes
    ----------
    net_ : skanomaly.nets.ForecastNet
        The trained skorch net (``net_.module_`` is the
        :class:`~skanomaly.modules.anofusion.AnoFusionNet`).
    graph_ : ndarray of shape (6, `n_features_in_`, `n_features_in_`)
        NMI relation matrix of each edge type of ``edge_types_``, measured on
        the training part (both directions filled for cross-modal types).
    edge_types_ : tuple of str
        The edge types, in the order of ``graph_``.
    modality_ : ndarray of shape (`n_features_in_`,)
        Modality of each column.
    thresholder_ : thresholder
        The fitted copy of ``threshold``.
    offset_ : float
        ``decision_function(X) = score_samples(X) - offset_`` (constant
        thresholds).
    channel_scale_ : ndarray of shape (`n_features_in_`,)
        Per-channel squared-error scale from the calibration part.
    n_features_in_ : int
        Number of channels seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    skanomaly.preprocessing.align_channels : Builds the input table.
    skanomaly.preprocessing.relation_graph : The NMI relations of ``graph_``.
    skanomaly.thresholds.DSPOTThreshold : The paper's thresholder.

    References
    ----------
    C. Zhao, M. Ma, Z. Zhong, S. Zhang, Z. Tan, X. Xiong, L. Yu, J. Feng,
    Y. Sun, Y. Zhang, D. Pei, Q. Lin and D. Zhang, "Robust Multimodal Failure
    Detection for Microservice Systems", KDD 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.detectors import AnoFusionDetector
    >>> rng = np.random.RandomState(0)
    >>> t = np.arange(400)
    >>> cpu = np.sin(t / 8)
    >>> X = np.c_[cpu, 5 + 2 * cpu, np.cos(t / 8)] + 0.05 * rng.randn(400, 3)
    >>> det = AnoFusionDetector(modalities={"metric": [0], "log": [1], "trace": [2]},
    ...                         window_size=8, max_epochs=5, random_state=0).fit(X)
    >>> det.graph_.shape, det.score_samples(X).shape
    ((6, 3, 3), (400,))
    >>> X_new = X.copy()
    >>> X_new[200, 1] += 3.0  # a burst on the log channel that the metric does not explain
    >>> labels = det.predict(X_new)
    >>> int(labels[200]), float((labels == -1).mean()) < 0.05
    (-1, True)
    """

    _parameter_constraints = {
        **BaseDeepDetector._parameter_constraints,
        "modalities": [Mapping, "array-like", None],
        "window_size": [Interval(Integral, 1, None, closed="left")],
        "hidden_dim": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "gtn_channels": [Interval(Integral, 1, None, closed="left")],
        "gtn_layers": [Interval(Integral, 0, None, closed="left")],
        "gat_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "nmi_bins": [Interval(Integral, 2, None, closed="left")],
        "nmi_threshold": [Interval(Real, 0, 1, closed="both")],
        "normalize_channels": ["boolean"],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [dict(window_size=4, hidden_dim=4, n_heads=1, gtn_channels=1, max_epochs=2,
                     batch_size=32, device="cpu", random_state=0)]

    def __init__(
        self, *, modalities=None, window_size=20, hidden_dim=16, n_heads=2, gtn_channels=2,
        gtn_layers=1, gat_layers=1, dropout=0.0, nmi_bins=10, nmi_threshold=0.0,
        normalize_channels=True, optimizer=torch.optim.Adam, lr=1e-3, max_epochs=20,
        batch_size=64, validation_fraction=0.1, early_stopping=True, patience=5,
        threshold=None, callbacks=None, device="auto", random_state=None, verbose=0,
        **kwargs,
    ):
        self.modalities = modalities
        self.window_size = window_size
        self.hidden_dim = hidden_dim
        self.n_heads = n_heads
        self.gtn_channels = gtn_channels
        self.gtn_layers = gtn_layers
        self.gat_layers = gat_layers
        self.dropout = dropout
        self.nmi_bins = nmi_bins
        self.nmi_threshold = nmi_threshold
        self.normalize_channels = normalize_channels
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.threshold = threshold
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_net_params(kwargs)

    # --------------------------------------------------------- validation
    def _check_input(self, X, reset):
        check_numeric_columns(X)
        X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64],
                          ensure_min_samples=1)
        need = self.window_size + 1
        if X.shape[0] < need:
            raise ValueError(
                f"X has {X.shape[0]} sample(s) (time steps) but window_size="
                f"{self.window_size} needs at least {need} (one window and the step it "
                "forecasts)."
            )
        return X

    def _resolve_modalities(self, n_columns):
        """Modality of each column, checking names, overlap and coverage."""
        names = getattr(self, "feature_names_in_", None)
        if self.modalities is None:
            return np.full(n_columns, "metric", dtype=object)
        if isinstance(self.modalities, Mapping):
            return self._modalities_from_mapping(n_columns, names)
        spec = self.modalities
        if isinstance(spec, pd.Series) and names is not None and set(map(str, spec.index)) == set(
                map(str, names)):
            spec = spec.set_axis(spec.index.map(str)).loc[[str(c) for c in names]]
        spec = np.asarray(spec, dtype=object).ravel()
        if spec.shape[0] != n_columns:
            raise ValueError(
                f"modalities names {spec.shape[0]} modalities but X has {n_columns} columns; "
                "give one per column (or a dict from modality to columns)."
            )
        unknown = sorted({str(m) for m in spec} - set(MODALITIES))
        if unknown:
            raise ValueError(f"Unknown modality {unknown}; expected one of {MODALITIES}.")
        return spec

    def _modalities_from_mapping(self, n_columns, names):
        unknown = sorted(str(m) for m in self.modalities if m not in MODALITIES)
        if unknown:
            raise ValueError(f"Unknown modality {unknown}; expected one of {MODALITIES}.")
        owner = np.empty(n_columns, dtype=object)
        for name, index in column_groups(self.modalities, n_columns, names).items():
            owner[index] = name
        return owner

    def _validate_fit_input(self, X):
        if self.hidden_dim % self.n_heads:
            raise ValueError(
                f"hidden_dim={self.hidden_dim} must be divisible by n_heads={self.n_heads}."
            )
        return self._check_input(X, reset=True)

    def _validate_score_input(self, X):
        return self._check_input(X, reset=False)

    # ------------------------------------------------------------ training
    def _held_out_unit(self, X):
        return self.window_size + 1, "time steps"

    def _held_out_part(self, X, start):
        # The held-out steps keep the window of training steps before them as context.
        return _Segment(X[start - self.window_size:], self.window_size)

    def _fit_data_state(self, X, train):
        self.modality_ = self._resolve_modalities(X.shape[1])
        self._fit_graph(train)

    def _fit_graph(self, X):
        blocks = relation_graph(X, self.modality_, n_bins=self.nmi_bins)
        n = X.shape[1]
        graph = np.zeros((len(EDGE_TYPES), n, n), dtype=np.float32)
        for k, edge_type in enumerate(EDGE_TYPES):
            a, b = edge_type.split("-")
            rows, cols = np.flatnonzero(self.modality_ == a), np.flatnonzero(self.modality_ == b)
            block = blocks[edge_type].to_numpy()
            graph[k][np.ix_(rows, cols)] = block
            graph[k][np.ix_(cols, rows)] = block.T
        graph[graph < self.nmi_threshold] = 0.0
        self.graph_ = graph
        self.edge_types_ = EDGE_TYPES

    def _make_dataset(self, part, device):
        return ForecastWindowDataset(as_float32_tensor(_values(part), device), self.window_size)

    def _module_class(self):
        return AnoFusionNet

    def _module_params(self, X):
        return {
            "adjacency": self.graph_, "window_size": self.window_size,
            "hidden_dim": self.hidden_dim, "n_heads": self.n_heads,
            "gtn_channels": self.gtn_channels, "gtn_layers": self.gtn_layers,
            "gat_layers": self.gat_layers, "dropout": self.dropout,
        }

    def _criterion(self):
        return ForecastLoss, {}

    def _net_class(self):
        return ForecastNet

    # ------------------------------------------------------------- scoring
    def forecast_errors(self, X):
        """Squared forecast error per time step and channel.

        Row ``t >= window_size`` is the error of the forecast of step ``t``
        from steps ``[t - window_size, t)``; the first ``window_size`` rows
        repeat row ``window_size``. Divided by ``channel_scale_`` these are
        the terms the anomaly score adds up, so they say which channels drive
        an alarm.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_channels)
            Series to forecast.

        Returns
        -------
        errors : ndarray of shape (n_timesteps, n_channels)
        """
        check_is_fitted(self, "net_")
        X = self._validate_score_input(X)
        return self._pad(self._step_errors(X))

    def _pad(self, values):
        """Give the first ``window_size`` rows the first forecast's value."""
        return np.concatenate([np.repeat(values[:1], self.window_size, axis=0), values])

    @torch.inference_mode()
    def _step_errors(self, X):
        """Squared forecast errors of steps ``window_size ...``: (n - window_size, C)."""
        module = self.net_.module_
        errors = torch.empty(X.shape[0] - self.window_size, X.shape[1], device=self.net_.device)
        for rows, (windows, targets) in self._scoring_batches(X):
            errors[rows] = (module(windows) - targets).pow_(2)
        return errors.double().cpu().numpy()

    def _calibrate(self, part):
        # One forecasting pass serves the channel scales and the scores.
        errors = self._step_errors(_values(part))
        self.channel_scale_ = np.ones(errors.shape[1])
        if self.normalize_channels:
            self.channel_scale_ = self._fit_channel_scale(self._scored_rows(part, errors))
        return self._scores(part, errors)

    def _channel_scores(self, X):
        return self._pad(self._step_errors(X)) / self.channel_scale_

    def _anomaly_scores(self, part):
        return self._scores(part, self._step_errors(_values(part)))

    def _scored_rows(self, part, values):
        """Rows of per-forecast ``values`` for ``part``'s own steps.

        A held-out segment starts with context rows from the training part,
        which are not scored: its first kept row is its first own step's.
        """
        return values[part.context - self.window_size:] if isinstance(part, _Segment) else values

    def _scores(self, part, errors):
        """Anomaly scores of ``part`` from its forecast errors (``_step_errors``)."""
        scores = (errors / self.channel_scale_).sum(axis=1)
        return self._scored_rows(part, scores) if isinstance(part, _Segment) else self._pad(scores)
