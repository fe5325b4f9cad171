"""AnoFusionDetector: multimodal failure detection by forecasting over a learned channel graph."""

import math
import warnings
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
from ..preprocessing.graph import EDGE_TYPES, edge_type_stack
from ..preprocessing.telemetry import channel_modalities
from ..thresholds._gpd import MIN_PEAKS
from ..thresholds._spot import TailFitWarning
from ..utils._compat import Interval, StrOptions
from ..utils._validation import as_float32_tensor, check_numeric_columns

__all__ = ["AnoFusionDetector"]

# A held-out part: the rows to score, preceded by `context` rows that only feed
# the first windows (they belong to the training part and get no score here).
_Segment = namedtuple("_Segment", ["values", "context"])


def _values(part):
    return part.values if isinstance(part, _Segment) else part


class AnoFusionDetector(BaseDeepDetector):
    """AnoFusion: multimodal failure detection for microservice systems.

    After Zhao et al. (KDD 2023) and its official code. The input is a
    multichannel series of time bins in which metrics, log counts and trace
    statistics are aligned columns (e.g. the output of
    :class:`~skanomaly.preprocessing.TelemetryChannels`). The channels are the
    nodes of a heterogeneous graph whose six edge types (metric-metric,
    log-log, trace-trace, metric-log, metric-trace, log-trace) are weighted by
    the normalised mutual information between channels on the training part
    (``graph_``). A Graph Transformer Network learns ``gtn_channels``
    meta-path graphs from those edge types, multi-head dot-product graph
    attention embeds every channel from its whole window over each of them,
    an output attention layer and learned per-graph weights fuse them, and a
    GRU **forecasts the next step** of every channel
    (:class:`~skanomaly.modules.anofusion.AnoFusionNet`).

    A step's anomaly score combines its per-channel forecast residuals
    (:meth:`channel_scores`), averaged over the last ``score_window`` steps
    and normalised on the held-out end of the training data: by default their
    squares, each divided by its median, summed over channels; the paper's
    rule, the largest robustly normalised absolute residual ``max_j (|e_j| -
    median_j) / IQR_j``, is ``score_rule="max_robust", score_window=1``.

    The paper thresholds the scores with DSPOT (q=1e-4, depth 500, level
    0.98): pass ``threshold=DSPOTThreshold(q=1e-4, depth=500, level=0.98)``
    with at least ``500 + 500`` held-out steps (``validation_fraction``);
    fewer are refused (or warned about) before training.

    Parameters
    ----------
    modalities : "auto", dict, array-like of shape (n_channels,) or None, default="auto"
        Modality of each column, one of ``"metric"``, ``"log"``, ``"trace"``.
        ``"auto"``: read from the column names ``"<modality>__<entity>__<name>"``
        of a DataFrame (as :class:`~skanomaly.preprocessing.TelemetryChannels`
        names them); a name without such a prefix is an error; input without
        column names (an array) is all metrics. A dict maps each modality to
        its columns (indices or, for DataFrame input, names, or a slice),
        every column in exactly one modality. An array-like gives one modality
        per column; a pandas Series is matched on its index, which must hold
        exactly the column names. ``None``: every column is a metric (one edge
        type).
    window_size : int, default=20
        Steps of history each forecast sees (the official code's 20). The
        first ``window_size`` rows of a scored series have no forecast of
        their own and take the score of row ``window_size``.
    hidden_dim : int or None, default=None
        Output size of each attention head; ``None`` is the number of
        channels (the official code).
    n_heads : int, default=6
        Attention heads.
    gtn_channels : int, default=6
        Meta-path graphs the GTN learns in parallel.
    gtn_layers : int, default=5
        GTN layers; meta-paths have up to ``gtn_layers + 1`` edges.
    dropout : float, default=0.2
        Dropout on the input windows during training (the official code's).
    scaled_attention : bool, default=True
        Scaled dot-product attention with fan-in initialisation; ``False``
        is the official code's unscaled logits with unit normal weights.
    persistence_skip : bool, default=False
        Forecast the change from each window's last value instead of the
        value (not in the paper; it makes level shifts loud only at their
        onset and end).
    standardize : bool, default=True
        Centre and scale every channel by its mean and standard deviation on
        the training part (``center_``, ``scale_``) before the network;
        forecast errors are in those units. The official code divides each
        channel by its maximum, computed afresh on the test data.
    nmi_bins : int, default=10
        Quantile bins per channel for the mutual information.
    nmi_threshold : float, default=0.0
        Relations weaker than this NMI are dropped from ``graph_``.
    score_rule : {"sum_squared", "max_robust"}, default="sum_squared"
        How per-channel residuals make a step's anomaly score:
        ``"sum_squared"`` the sum of ``e_j**2 / median_j(e_j**2)``;
        ``"max_robust"`` (the paper) the largest ``(|e_j| - median_j) /
        IQR_j``. Medians and interquartile ranges come from the held-out
        calibration part. On the simulator the sum ranks faults as well
        and gives DSPOT a tail it can fit (see the documentation).
    score_window : int, default=10
        Forecasts whose residuals are averaged, per channel, before scoring:
        step ``t`` is scored on the mean residual of steps ``t - score_window
        + 1 ... t``. A sustained deviation adds up while noise averages out,
        which thins the tail of normal scores (not in the paper, which scores
        single steps: ``score_window=1``). Faults shorter than the window
        are smeared over the steps after them: use a smaller window for
        faults of a few steps.
    normalize_channels : bool, default=True
        Normalise each channel's error on the calibration part as
        ``score_rule`` says (``error_center_``, ``channel_scale_``; scales
        floored at 1 % of their mean and at ``error_floor``). ``False`` uses
        raw ``|e_j|`` or ``e_j**2``.
    error_floor : float, default=0.1
        Least error scale of a channel, in training standard deviations
        (squared for ``"sum_squared"``): a channel that happened to be flat
        or perfectly forecast in the calibration part (e.g. idle there, busy
        later) would otherwise turn every later residual into a huge term
        and dominate the score.
    {shared_parameters}

    Attributes
    ----------
    net_ : skanomaly.nets.ForecastNet
        The trained skorch net (``net_.module_`` is the
        :class:`~skanomaly.modules.anofusion.AnoFusionNet`).
    graph_ : ndarray of shape (6, `n_features_in_`, `n_features_in_`)
        NMI relation matrix of each edge type of ``edge_types_``, measured on
        the training part (:func:`~skanomaly.preprocessing.edge_type_stack`).
    edge_types_ : tuple of str
        The edge types, in the order of ``graph_``.
    modality_ : ndarray of shape (`n_features_in_`,)
        Modality of each column.
    center_, scale_ : ndarray of shape (`n_features_in_`,)
        Training-part mean and standard deviation of each channel (0 and 1
        with ``standardize=False``; a constant channel gets scale 1).
    error_center_ : ndarray of shape (`n_features_in_`,)
        Calibration median of each channel's absolute error
        (``score_rule="max_robust"``; zeros otherwise).
    channel_scale_ : ndarray of shape (`n_features_in_`,)
        Calibration interquartile range of each channel's absolute error
        (``"max_robust"``) or median squared error (``"sum_squared"``).
    thresholder_ : thresholder
        The fitted copy of ``threshold``.
    offset_ : float
        ``decision_function(X) = score_samples(X) - offset_`` (constant
        thresholds).
    n_features_in_ : int
        Number of channels seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    skanomaly.preprocessing.TelemetryChannels : Builds the input table from raw tables.
    skanomaly.preprocessing.edge_type_stack : The NMI relations of ``graph_``.
    skanomaly.thresholds.DSPOTThreshold : The paper's thresholder.

    References
    ----------
    C. Zhao, M. Ma, Z. Zhong, S. Zhang, Z. Tan, X. Xiong, L. Yu, J. Feng,
    Y. Sun, Y. Zhang, D. Pei, Q. Lin and D. Zhang, "Robust Multimodal Failure
    Detection for Microservice Systems", KDD 2023.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skanomaly.detectors import AnoFusionDetector
    >>> rng = np.random.RandomState(0)
    >>> load = np.sin(np.arange(400) / 8)
    >>> X = pd.DataFrame(np.c_[load, 5 + 2 * load, np.cos(np.arange(400) / 8)]
    ...                  + 0.05 * rng.randn(400, 3),
    ...                  columns=["metric__cart__cpu", "log__cart__info", "trace__cart__p95"])
    >>> det = AnoFusionDetector(window_size=8, lr=1e-2, max_epochs=20,  # a tiny series
    ...                         random_state=0).fit(X)
    >>> det.modality_.tolist(), det.graph_.shape
    (['metric', 'log', 'trace'], (6, 3, 3))
    >>> X_new = X.copy()
    >>> X_new.iloc[200:210, 1] = 5.0  # log lines stop following the load, at their mean level
    >>> labels = det.predict(X_new)
    >>> bool((labels[200:212] == -1).any()), float((labels == -1).mean()) < 0.05
    (True, True)
    """

    _doc_fields = {
        "samples": "windows",
        "batch_size": "64",
        "max_epochs": "100",
        "held_out_unit": "time steps",
        "calibrated": "the threshold and ``channel_scale_`` are",
        "held_out_note": (
            " Their windows may reach back into the training steps (context only; no held-out"
            " step is ever a training target)."
        ),
    }

    _parameter_constraints = {
        **BaseDeepDetector._parameter_constraints,
        "modalities": [StrOptions({"auto"}), Mapping, "array-like", None],
        "window_size": [Interval(Integral, 1, None, closed="left")],
        "hidden_dim": [Interval(Integral, 1, None, closed="left"), None],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "gtn_channels": [Interval(Integral, 1, None, closed="left")],
        "gtn_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "scaled_attention": ["boolean"],
        "persistence_skip": ["boolean"],
        "standardize": ["boolean"],
        "nmi_bins": [Interval(Integral, 2, None, closed="left")],
        "nmi_threshold": [Interval(Real, 0, 1, closed="both")],
        "score_rule": [StrOptions({"sum_squared", "max_robust"})],
        "score_window": [Interval(Integral, 1, None, closed="left")],
        "normalize_channels": ["boolean"],
        "error_floor": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self, *, modalities="auto", window_size=20, hidden_dim=None, n_heads=6,
        gtn_channels=6, gtn_layers=5, dropout=0.2, scaled_attention=True,
        persistence_skip=False, standardize=True, nmi_bins=10, nmi_threshold=0.0,
        score_rule="sum_squared", score_window=10, normalize_channels=True,
        error_floor=0.1,
        optimizer=torch.optim.Adam, lr=1e-3, max_epochs=100, batch_size=64,
        validation_fraction=0.1, early_stopping=True, patience=5, threshold=None,
        callbacks=None, device="auto", random_state=None, verbose=0, **kwargs,
    ):
        self._store_params(locals())  # every argument, unchanged

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
        spec = self.modalities
        if spec is None or (isinstance(spec, str) and names is None):
            return np.full(n_columns, "metric", dtype=object)
        if isinstance(spec, str):  # "auto" with column names
            try:
                return channel_modalities(names)
            except ValueError as error:
                raise ValueError(
                    f"modalities='auto' reads each column's modality from its name "
                    f"'<modality>__<entity>__<name>': {error} Rename those columns or pass "
                    "modalities explicitly (a dict, a list or None for all metrics)."
                ) from None
        if isinstance(spec, Mapping):
            return self._modalities_from_mapping(n_columns, names)
        if isinstance(spec, pd.Series):
            spec = self._modalities_from_series(spec, n_columns, names)
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

    @staticmethod
    def _modalities_from_series(spec, n_columns, names):
        """A Series of modalities in column order, matched on its index."""
        index = [str(i) for i in spec.index]
        if names is None:
            if index != [str(i) for i in range(n_columns)]:
                raise ValueError(
                    "modalities is a Series indexed by names, but X has no column names to "
                    "match them with; pass X as a DataFrame or modalities as a list."
                )
            return spec.to_numpy()
        names = [str(c) for c in names]
        missing = [c for c in names if c not in set(index)]
        extra = [i for i in index if i not in set(names)]
        if missing or extra or len(set(index)) != len(index):
            raise ValueError(
                "The index of the modalities Series must hold exactly X's column names. "
                f"Columns of X not in it: {missing[:10]}; index entries not in X: "
                f"{extra[:10]}" + ("; the index has duplicates." if not (missing or extra)
                                   else ".")
            )
        return spec.set_axis(index).loc[names].to_numpy()

    def _modalities_from_mapping(self, n_columns, names):
        unknown = sorted(str(m) for m in self.modalities if m not in MODALITIES)
        if unknown:
            raise ValueError(f"Unknown modality {unknown}; expected one of {MODALITIES}.")
        owner = np.empty(n_columns, dtype=object)
        for name, index in column_groups(self.modalities, n_columns, names).items():
            owner[index] = name
        return owner

    def _validate_fit_input(self, X):
        return self._check_input(X, reset=True)

    def _validate_score_input(self, X):
        return self._check_input(X, reset=False)

    # ------------------------------------------------------------ training
    def _held_out_unit(self, X):
        return self.window_size + 1, "time steps"

    def _held_out_part(self, X, start):
        # The held-out steps keep the training steps before them as context: a
        # window, and the forecasts that score_window averages.
        context = min(start, self.window_size + self.score_window - 1)
        return _Segment(X[start - context:], context)

    def _fit_data_state(self, X, train):
        self.modality_ = self._resolve_modalities(X.shape[1])
        # Rank-based NMI on the training part only (never on data being scored).
        self.graph_ = edge_type_stack(train, self.modality_, n_bins=self.nmi_bins,
                                      threshold=self.nmi_threshold)
        self.edge_types_ = EDGE_TYPES
        n = X.shape[1]
        self.center_, self.scale_ = np.zeros(n), np.ones(n)
        if self.standardize:
            std = train.std(axis=0)
            self.center_, self.scale_ = train.mean(axis=0), np.where(std > 0, std, 1.0)

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [dict(modalities=None, window_size=4, hidden_dim=2, n_heads=2, gtn_channels=2,
                     gtn_layers=1, max_epochs=2, batch_size=32, device="cpu", random_state=0)]

    def _check_before_training(self, train, calibration, thresholder):
        """Refuse too few calibration scores, and warn about too few tail peaks, before training."""
        # One calibration score per held-out step (per training row when none is held out).
        own = train if calibration is None else calibration.values[calibration.context:]
        super()._check_before_training(train, None if calibration is None else own, thresholder)
        level = getattr(thresholder, "level", None)
        if level is None or not hasattr(thresholder, "q"):
            return
        # SPOT-like thresholders fit a GPD to the peaks above the level quantile.
        depth = getattr(thresholder, "depth", 0)
        peaks = int((len(own) - depth) * (1 - level))
        if peaks < MIN_PEAKS:
            n_steps = len(train) + (0 if calibration is None else len(own))
            good = depth + math.ceil(MIN_PEAKS / (1 - level))
            warnings.warn(
                f"{type(thresholder).__name__}(level={level}) will fit its tail on about "
                f"{max(peaks, 0)} peaks of the {len(own)} held-out scores (validation_fraction"
                f"={self.validation_fraction}); a GPD fit needs {MIN_PEAKS}, i.e. {good} "
                f"held-out steps. Raise validation_fraction to "
                f"{min(math.ceil(1000 * good / n_steps) / 1000, 1):g} or pass more training "
                "steps.",
                TailFitWarning, stacklevel=4,
            )

    def _standardized(self, X):
        return (X - self.center_) / self.scale_

    def _make_dataset(self, part, device):
        values = _values(part)
        if isinstance(part, _Segment):
            # The validation loss forecasts the held-out steps only: the context
            # rows that score_window adds are training targets already.
            values = values[max(part.context - self.window_size, 0):]
        return ForecastWindowDataset(as_float32_tensor(self._standardized(values), device),
                                     self.window_size)

    def _module_class(self):
        return AnoFusionNet

    def _module_params(self, X):
        return {
            "adjacency": self.graph_, "window_size": self.window_size,
            "hidden_dim": self.hidden_dim, "n_heads": self.n_heads,
            "gtn_channels": self.gtn_channels, "gtn_layers": self.gtn_layers,
            "dropout": self.dropout, "scaled_attention": self.scaled_attention,
            "persistence_skip": self.persistence_skip,
        }

    def _criterion(self):
        return ForecastLoss, {}

    def _net_class(self):
        return ForecastNet

    # ------------------------------------------------------------- scoring
    def forecast_errors(self, X):
        """Forecast residual per time step and channel, ``x - forecast``.

        Row ``t >= window_size`` is the residual of the forecast of step
        ``t`` from steps ``[t - window_size, t)``, in standardised units (see
        ``standardize``); the first ``window_size`` rows repeat row
        ``window_size``.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_channels)
            Series to forecast.

        Returns
        -------
        residuals : ndarray of shape (n_timesteps, n_channels)
        """
        check_is_fitted(self, "net_")
        return self._pad(self._step_residuals(self._validate_score_input(X)))

    def _pad(self, values):
        """Give the first ``window_size`` rows the first forecast's value."""
        return np.concatenate([np.repeat(values[:1], self.window_size, axis=0), values])

    @torch.inference_mode()
    def _step_residuals(self, X):
        """Residuals of the forecasts of steps ``window_size ...``: (n - window_size, C)."""
        module = self.net_.module_
        out = torch.empty(X.shape[0] - self.window_size, X.shape[1], device=self._net_device())
        for rows, (windows, targets) in self._scoring_batches(X):
            out[rows] = targets - module(windows)
        return out.double().cpu().numpy()

    def _terms(self, residuals):
        """Per-channel terms before normalisation: |e| or e**2 of the averaged residuals."""
        k = self.score_window
        if k > 1:  # mean of the last k residuals
            sums = np.cumsum(residuals, axis=0)
            sums[k:] -= sums[:-k].copy()
            # The first k - 1 rows of a series sum fewer residuals: sum / sqrt(j k)
            # gives their noise the spread of a full mean (a plain mean of j < k
            # residuals is noisier and would alarm at every series' start).
            j = np.minimum(np.arange(1, len(sums) + 1), k)
            residuals = sums / np.sqrt(j * k)[:, None]
        return np.abs(residuals) if self.score_rule == "max_robust" else residuals ** 2

    def _calibrate(self, part):
        # One forecasting pass serves the channel normalisation and the scores.
        terms = self._terms(self._step_residuals(_values(part)))
        own = self._scored_rows(part, terms)
        n = terms.shape[1]
        self.error_center_, self.channel_scale_ = np.zeros(n), np.ones(n)
        robust = self.score_rule == "max_robust"
        floor = self.error_floor if robust else self.error_floor ** 2  # in |e| or e**2 units
        if self.normalize_channels and robust:
            q25, self.error_center_, q75 = np.percentile(own, [25, 50, 75], axis=0)
            self.channel_scale_ = self._fit_channel_scale((q75 - q25)[None], least=floor)
        elif self.normalize_channels:
            self.channel_scale_ = self._fit_channel_scale(own, least=floor)
        return self._scores(part, terms)

    def _normalised(self, terms):
        return (terms - self.error_center_) / self.channel_scale_

    def _channel_scores(self, X):
        """Per-channel terms: ``(|e_j| - median_j) / IQR_j`` or ``e_j**2 / median_j``.

        The anomaly score is their maximum (``score_rule="max_robust"``) or their
        sum (``"sum_squared"``).
        """
        return self._pad(self._normalised(self._terms(self._step_residuals(X))))

    def _anomaly_scores(self, part):
        return self._scores(part, self._terms(self._step_residuals(_values(part))))

    def _scored_rows(self, part, values):
        """Rows of per-forecast ``values`` for ``part``'s own steps.

        A held-out segment starts with context rows from the training part,
        which are not scored: its first kept row is its first own step's.
        """
        return values[part.context - self.window_size:] if isinstance(part, _Segment) else values

    def _scores(self, part, terms):
        """Anomaly scores of ``part`` from its per-channel terms."""
        normalised = self._normalised(terms)
        combine = np.max if self.score_rule == "max_robust" else np.sum
        scores = combine(normalised, axis=1)
        return self._scored_rows(part, scores) if isinstance(part, _Segment) else self._pad(scores)
