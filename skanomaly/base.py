"""The detector contract shared by every skanomaly detector.

Detectors follow scikit-learn's outlier-detector convention (the one of
:class:`~sklearn.ensemble.IsolationForest`):

* ``score_samples(X)``: higher means more normal;
* ``decision_function(X) = score_samples(X) - offset_``: negative means anomalous;
* ``predict(X)``: -1 for anomalies, +1 for normal samples.

The deep part is a skorch ``NeuralNet`` (:class:`~skanomaly.nets.VAENet`, or
:class:`~skanomaly.nets.ForecastNet` for forecasting detectors),
built in ``fit`` from the detector's parameters and kept as ``net_``. Any skorch
double-underscore parameter (``module__*``, ``optimizer__*``, ``criterion__*``,
``iterator_train__*``, ``iterator_valid__*``, ``callbacks__*``) can be passed to
a detector and is forwarded to the net; as in skorch, ``optimizer__lr`` wins
over ``lr``, ``module__latent_dim`` over ``latent_dim`` and ``criterion__beta``
over ``beta``.

The threshold comes from a thresholder (``threshold=``) fitted on the anomaly
scores of a held-out calibration part of the training data, never on the
data being judged.
"""

import math
import re
import textwrap
import warnings
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.helper import predefined_split
from skorch.utils import to_tensor

from .batching import BatchLoader
from .nets import ELBOLoss, VAENet, accelerated_net_class
from .thresholds import PercentileThreshold
from .utils._compat import HasMethods, Interval, fit_context
from .utils._outofcore import decision_from_scores, is_out_of_core, score_out_of_core
from .utils._validation import n_rows, take_rows

__all__ = ["BaseDeepDetector", "resolve_device", "NET_PARAM_PREFIXES", "NET_PARAM_NAMES",
           "OVERFLOW_SCORE", "ScoreOverflowWarning", "cap_overflowed_scores",
           "fill_shared_parameters"]

#: Prefixes of the skorch parameters a detector forwards to its net.
NET_PARAM_PREFIXES = (
    "module__", "optimizer__", "criterion__", "iterator_train__", "iterator_valid__",
    "callbacks__", "compile__",
)
#: skorch net parameters without a prefix that a detector forwards as well
#: (``compile=True`` compiles the module with ``torch.compile``;
#: ``accelerator=accelerate.Accelerator(...)`` trains through skorch's AccelerateMixin).
NET_PARAM_NAMES = ("compile", "accelerator")

# Smallest per-channel error scale, as a fraction of the mean one: a channel
# the model reconstructs (or forecasts) perfectly on held-out data, e.g. one
# that was constant in training, would otherwise get an infinite weight.
_SCALE_FLOOR = 0.01

#: Optimiser steps of training when ``max_epochs=None`` (a budget of steps, not
#: of epochs, so small and large data sets both get trained; early stopping on
#: the held-out loss may stop sooner).
TRAINING_STEPS = 1200


# The parameters every detector shares, documented once: a detector's class
# docstring holds the line ``{shared_parameters}`` where they go, and its
# ``_doc_fields`` fill in what differs (the samples' name, batch size,
# the held-out part and the training budget).
_SHARED_PARAMETERS = (
    ("optimizer : torch optimizer class, default=torch.optim.Adam",
     "Optimizer; its options go through ``optimizer__*`` parameters."),
    ("lr : float, default=1e-3", "Learning rate."),
    ("max_epochs : {max_epochs_type}, default={max_epochs}",
     "Most passes over the training {samples}.{max_epochs_note}"),
    ("batch_size : int, default={batch_size}",
     "{Samples} per training batch, and per scoring batch unless "
     "``iterator_valid__batch_size`` is given."),
    ("validation_fraction : float, default=0.1",
     "Fraction of the {held_out_unit} at the end of ``X`` held out from training: early "
     "stopping watches its loss and {calibrated} fitted on its scores.{held_out_note} "
     "``0`` trains on everything and calibrates on the training scores (which are "
     "optimistic)."),
    ("early_stopping : bool, default=True",
     "Stop when the held-out loss has not improved for ``patience`` epochs and keep the "
     "best weights."),
    ("patience : int, default=5",
     "Epochs without improvement before early stopping{patience_note}."),
    ("threshold : thresholder, default=None",
     "Turns calibration scores into the decision threshold, e.g. "
     ":class:`~skanomaly.thresholds.PercentileThreshold`. ``None`` means "
     "``{threshold_default}``."),
    ("callbacks : list of skorch callbacks or (name, callback) tuples, default=None",
     "Extra callbacks for the skorch net (learning-rate schedules, gradient clipping, "
     "checkpoints)."),
    ("device : str or torch.device, default=\"auto\"",
     "``\"cpu\"``, ``\"cuda\"`` or ``\"auto\"`` (CUDA when available)."),
    ("random_state : int, RandomState instance or None, default=None",
     "Seeds weight initialisation, shuffling and sampling."),
    ("verbose : int, default=0",
     "``0``: silent; ``1`` or more: a progress bar and a line per epoch."),
    ("**kwargs",
     "Skorch parameters forwarded to the net: ``module__*``, ``optimizer__*``, "
     "``criterion__*``, ``iterator_train__*``, ``iterator_valid__*`` (e.g. "
     "``iterator_train__num_workers``), ``callbacks__*``, ``compile=True`` / "
     "``compile__*`` for ``torch.compile``, and ``accelerator=accelerate.Accelerator(...)`` "
     "to train through Hugging Face accelerate (several GPUs, ``mixed_precision``)."),
)

#: Defaults of the fields of the shared parameters' documentation.
_DOC_FIELDS = {
    "max_epochs_type": "int", "max_epochs": "20", "max_epochs_note": "", "batch_size": "128",
    "samples": "samples", "held_out_unit": "samples",
    "calibrated": "the threshold is", "held_out_note": "", "patience_note": "",
    "threshold_default": "PercentileThreshold(q=0.99)",
}


def fill_shared_parameters(doc, **fields):
    """Put the shared detector parameters where ``doc`` has the line ``{shared_parameters}``.

    Parameters
    ----------
    doc : str
        A class docstring.
    **fields : str
        Values of the template's fields (see ``_DOC_FIELDS``).

    Returns
    -------
    doc : str
        The docstring with the parameters filled in, indented like the marker.
    """
    match = re.search(r"^([ \t]*)\{shared_parameters\}[ \t]*$", doc or "", flags=re.M)
    if match is None:
        return doc
    values = {**_DOC_FIELDS, **fields}
    values["Samples"] = values["samples"][:1].upper() + values["samples"][1:]
    indent = match.group(1)
    lines = []
    for header, description in _SHARED_PARAMETERS:
        lines.append(indent + header.format(**values))
        lines.extend(textwrap.wrap(description.format(**values), width=79,
                                   initial_indent=indent + "    ",
                                   subsequent_indent=indent + "    ",
                                   break_on_hyphens=False, break_long_words=False))
    return doc[:match.start()] + "\n".join(lines) + doc[match.end():]


def _is_net_param(name):
    return name in NET_PARAM_NAMES or name.startswith(NET_PARAM_PREFIXES)


def resolve_device(device):
    """Turn ``"auto"`` into ``"cuda"`` when a GPU is available, else ``"cpu"``.

    Other values (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``) are
    returned unchanged; asking for CUDA on a machine without it is an error.

    Parameters
    ----------
    device : str or torch.device
        The device asked for.

    Returns
    -------
    device : str or torch.device
        The device to use.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available.")
    return device


#: Anomaly score given to samples whose score overflowed (largest float32).
OVERFLOW_SCORE = float(np.finfo(np.float32).max)


class ScoreOverflowWarning(RuntimeWarning):
    """Input so large that the network's float32 arithmetic overflowed on some samples."""


def cap_overflowed_scores(scores, data):
    """Give samples whose anomaly score overflowed the score ``OVERFLOW_SCORE``, with a warning.

    Inputs are validated finite, so a NaN or infinite score means the
    float32 network overflowed on a huge (finite) value: such a sample is
    scored as the most anomalous a float32 network can say, never NaN, so
    thresholds and metrics keep working and the sample is flagged.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Anomaly scores.
    data : ndarray or dict
        The scored input, for the message.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        The scores, overflowed ones replaced by ``OVERFLOW_SCORE``.
    """
    bad = ~np.isfinite(scores)
    if not bad.any():
        return scores
    rows = np.flatnonzero(bad)
    values = np.abs(np.asarray(data, dtype=np.float64)) if isinstance(data, np.ndarray) else None
    largest = f" The largest |value| in X is {values.max():.3g}." if values is not None else ""
    warnings.warn(
        f"The anomaly score of {rows.size} sample(s) overflowed (first rows "
        f"{rows[:5].tolist()}): X holds values too large for the network's float32 "
        f"arithmetic.{largest} They are scored {OVERFLOW_SCORE:.3g} (the most anomalous). "
        "Scale the input (e.g. a StandardScaler fitted on the training data) to get real "
        "scores.",
        ScoreOverflowWarning,
        stacklevel=3,
    )
    scores = np.array(scores, dtype=np.float64)
    scores[bad] = OVERFLOW_SCORE
    return scores


def check_calibration_scores(scores, data):
    """Refuse calibration scores that overflowed, naming the input rather than the scores."""
    bad = ~np.isfinite(np.asarray(scores, dtype=np.float64))
    if bad.any():
        is_array = isinstance(data, np.ndarray)
        values = np.abs(np.asarray(data, dtype=np.float64)) if is_array else None
        largest = f" (largest |value| {values.max():.3g})" if values is not None else ""
        raise ValueError(
            f"The anomaly scores of {int(bad.sum())} calibration sample(s) overflowed (rows "
            f"{np.flatnonzero(bad)[:5].tolist()} of the held-out part, the last "
            f"validation_fraction of X){largest}: X holds values too large for the network's "
            "float32 arithmetic, so no threshold can be calibrated. Scale the input (e.g. a "
            "StandardScaler in a Pipeline) or remove those values."
        )


class BaseDeepDetector(OutlierMixin, BaseEstimator):
    """Base class of skanomaly's deep detectors.

    Subclasses define ``__init__`` with explicit keyword parameters and a
    trailing ``**kwargs`` passed to :meth:`_store_net_params`, plus the hooks
    below. Everything else (parameter handling, the held-out split, the
    training loop through skorch, seeding, early stopping, per-channel error
    scales, the chunked scoring loop, threshold calibration, the scoring
    methods) lives here so every detector behaves the same.

    Notes
    -----
    Hooks a subclass implements, one job each, called by ``fit`` in this order:

    _validate_fit_input(X)
        Check ``X`` and return it in the detector's internal form (an array
        or a dict of arrays, one row per sample). Sets only what describes
        the input's layout (``n_features_in_``, ``feature_names_in_``, a
        shape); no other fitted state.
    _held_out_unit(data)
        Optional: ``(rows, noun)``, the fewest rows a part may hold (a window
        of time steps) and what a row is, for the row-wise split. Default
        ``(1, "sample(s)")``.
    _held_out_part(data, start)
        Optional: the calibration part from row ``start`` on. Default: those
        rows; a forecaster adds context rows before them.
    _fit_data_state(data, train_part)
        Optional: fitted state that depends on the data (a value range, a
        relation graph, resolved modalities). Default: none.
    _check_before_training(train_part, calibration_part, thresholder)
        Optional: refuse a setting that cannot work (a part missing a
        modality, too few calibration scores for the thresholder) before any
        training. Default: no check.
    _make_dataset(part, device)
        A dataset of :mod:`skanomaly.batching` (``__getitems__``, ``device``).
    _module_class() / _module_params(data)
        The torch module and its constructor arguments.
    _criterion() / _net_class()
        Optional: the loss class and its parameters (default
        :class:`~skanomaly.nets.ELBOLoss` with ``beta``); the skorch net class
        (default :class:`~skanomaly.nets.VAENet`).
    _calibrate(part)
        Optional: statistics fitted on the calibration part (e.g. channel
        scales with :meth:`_fit_channel_scale`); returns its anomaly scores.
    _channel_scores(data) / _anomaly_scores(data)
        Per-channel contributions and one anomaly score per input row
        (higher = more anomalous); both run the network through
        :meth:`_scoring_batches`.
    """

    #: Fields of the shared parameters' documentation (see ``fill_shared_parameters``).
    _doc_fields = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__doc__ = fill_shared_parameters(cls.__doc__, **cls._doc_fields)

    #: Constraints of the parameters every detector shares; subclasses extend it.
    _parameter_constraints = {
        "beta": [Interval(Real, 0, None, closed="left")],
        "optimizer": [type],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "threshold": [HasMethods(["fit", "thresholds"]), None],
        "callbacks": [list, None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ----------------------------------------------------------- parameters
    def _store_params(self, params):
        """Store ``__init__``'s arguments unchanged, as scikit-learn requires.

        ``params`` is ``locals()`` taken first thing in ``__init__``: every
        named parameter becomes the attribute of the same name, and the
        ``**kwargs`` (forwarded skorch parameters) are stored as they are by
        :meth:`_store_net_params`.
        """
        params = dict(params)
        del params["self"]
        self._store_net_params(params.pop("kwargs", {}))
        for name, value in params.items():
            setattr(self, name, value)

    def _store_net_params(self, kwargs):
        # skorch-style prefixed parameters are stored as attributes, like skorch
        # does, so get_params/clone/GridSearchCV see them.
        for key, value in kwargs.items():
            setattr(self, key, value)

    def _net_param_names(self):
        # Everything stored from **kwargs: not a named parameter, not private,
        # not a fitted attribute. Misspelt names land here too and fit rejects them.
        named = set(self._get_param_names())
        return sorted(
            k for k in vars(self)
            if k not in named and not k.startswith("_") and not k.endswith("_")
        )

    def get_params(self, deep=True):
        """Get parameters, the forwarded skorch ``prefix__name`` ones included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators (the thresholder).

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update({k: getattr(self, k) for k in self._net_param_names()})
        return params

    def set_params(self, **params):
        """Set parameters; ``module__*``, ``optimizer__*``, ... are forwarded to the net.

        Parameters
        ----------
        **params : dict
            Detector parameters, ``threshold__*`` parameters of the
            thresholder and forwarded skorch parameters.

        Returns
        -------
        self : object
            The detector.
        """
        net_params = {k: v for k, v in params.items() if _is_net_param(k)}
        for key, value in net_params.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in net_params}
        if getattr(self, "threshold", False) is None and "threshold" not in rest and any(
            k.startswith("threshold__") for k in rest
        ):
            raise ValueError(
                "threshold=None stands for the detector's default thresholder and has no "
                "parameters to set; pass threshold=PercentileThreshold() (or another "
                "thresholder) to search threshold__* parameters."
            )
        return super().set_params(**rest)

    def _checked_net_params(self):
        params = {k: getattr(self, k) for k in self._net_param_names()}
        unknown = [k for k in params if not _is_net_param(k)]
        if unknown:
            raise ValueError(
                f"Unknown parameter(s) {unknown} for {type(self).__name__}. Forwarded "
                f"skorch parameters must start with one of {list(NET_PARAM_PREFIXES)} "
                f"or be one of {list(NET_PARAM_NAMES)}."
            )
        return params

    def _checked_thresholder(self):
        # _validate_params has checked it offers fit() and thresholds().
        return PercentileThreshold() if self.threshold is None else clone(self.threshold)

    # ---------------------------------------------------------------- split
    def _held_out_size(self, n, what, unit=1):
        """Length of the held-out tail for ``n`` items (0 when ``validation_fraction=0``).

        The tail holds at least ``unit`` items (one window of time steps, or one
        sample) and the training part must keep as many.
        """
        if self.validation_fraction == 0:
            return 0
        n_held = max(math.ceil(self.validation_fraction * n), unit)
        if n - n_held < unit:
            raise ValueError(
                f"X has {n} {what}: too few to hold out validation_fraction="
                f"{self.validation_fraction} ({n_held}) and still train on "
                f"{unit} or more. Pass more data or validation_fraction=0."
            )
        return n_held

    def _split(self, data):
        """``(train_part, calibration_part)``: the last rows are held out (or None)."""
        n = n_rows(data)
        unit, noun = self._held_out_unit(data)
        n_held = self._held_out_size(n, noun, unit)
        if n_held == 0:
            return data, None
        return take_rows(data, slice(0, n - n_held)), self._held_out_part(data, n - n_held)

    def _held_out_unit(self, data):
        """``(rows, noun)``: the fewest rows a part may hold and what a row is."""
        return 1, "sample(s)"

    def _held_out_part(self, data, start):
        """The calibration part: rows ``start`` to the end."""
        return take_rows(data, slice(start, None))

    # ----------------------------------------------------------------- hooks
    @abstractmethod
    def _validate_fit_input(self, X):
        """Validate training input; set ``n_features_in_`` (and names)."""

    @abstractmethod
    def _validate_score_input(self, X):
        """Validate input to the scoring methods against what fit saw."""

    def _fit_data_state(self, data, train_part):
        """Fit the state that depends on the data, before training (default: none)."""

    def _check_before_training(self, train_part, calibration_part, thresholder):
        """Refuse a setting that cannot work, before training.

        Default: the thresholder gets one calibration score per row of the
        held-out part (of the training part when ``validation_fraction=0``);
        fewer than its ``min_calibration_size()`` is refused here rather
        than after the whole training. Subclasses extend it (call super).
        """
        part = calibration_part if calibration_part is not None else train_part
        n_min = getattr(thresholder, "min_calibration_size", lambda: 1)()
        try:
            n_held = n_rows(part)
        except (AttributeError, TypeError):
            return  # a detector-specific form of the data: its override counts the scores
        if n_held < n_min:
            n_total = n_rows(train_part) + (0 if calibration_part is None else n_held)
            raise ValueError(
                f"threshold={thresholder!r} needs at least {n_min} calibration scores, but "
                f"validation_fraction={self.validation_fraction} holds out {n_held} of the "
                f"{n_total} rows of X. Raise validation_fraction to at least "
                f"{math.ceil(100 * n_min / n_total) / 100:g} (if that leaves enough to "
                "train on), pass more data, or choose thresholder parameters that need "
                "fewer scores."
            )

    @abstractmethod
    def _make_dataset(self, part, device):
        """Return a dataset of :mod:`skanomaly.batching` over ``part``."""

    @abstractmethod
    def _module_class(self):
        """Return the torch module class to train."""

    @abstractmethod
    def _module_params(self, data):
        """Return the module's constructor arguments (without ``module__``)."""

    @abstractmethod
    def _anomaly_scores(self, data):
        """Return one anomaly score per input row (higher = more anomalous)."""

    @abstractmethod
    def _channel_scores(self, data):
        """Return the per-channel contributions to the anomaly scores."""

    def _criterion(self):
        return ELBOLoss, {"beta": self.beta}

    def _net_class(self):
        return VAENet

    def _calibrate(self, part):
        """Fit score statistics on the calibration part; return its anomaly scores.

        Called once the net is trained; the thresholder is fitted on the
        scores returned. Detectors whose scores need fitted statistics (e.g.
        channel scales) set them here and may reuse the errors they computed
        for them, so the calibration part goes through the network once.
        Default: no statistics, ``_anomaly_scores(part)``.
        """
        return self._anomaly_scores(part)

    def _fit_channel_scale(self, errors, relative=False, least=0.0):
        """Per-channel error scale: each channel's median error on the calibration part.

        Dividing by it puts channels on comparable scales, whatever their
        variance or how well they are reconstructed. Scales are floored at
        ``_SCALE_FLOOR`` times their mean and at ``least`` (an absolute floor
        in the errors' units); NaN errors (a missing modality) are ignored.
        With ``relative=True`` the scales are divided by the mean of the
        medians, so the sum of a group's errors keeps its size (ones when
        that mean is 0).
        """
        typical = np.nanmedian(errors, axis=0)
        mean = float(np.nanmean(typical))
        scale = np.maximum(typical, max(_SCALE_FLOOR * mean, np.finfo(np.float32).tiny, least))
        if relative:
            return scale / mean if mean > 0 else np.ones_like(typical)
        return scale

    # ------------------------------------------------------------- training
    def _training_budget(self, n_train):
        """``(max_epochs, patience)`` for ``n_train`` training samples.

        With ``max_epochs=None``: as many epochs as make about
        ``TRAINING_STEPS`` optimiser steps, and a patience that stays the same
        share of the budget as ``patience`` epochs are of 20 (never fewer
        than ``patience`` epochs), so tiny epochs do not stop training early
        on a noisy held-out loss.
        """
        if self.max_epochs is not None:
            return self.max_epochs, self.patience
        batch_size = self._checked_net_params().get("iterator_train__batch_size",
                                                    self.batch_size)
        epochs = max(1, math.ceil(TRAINING_STEPS / max(1, math.ceil(n_train / batch_size))))
        return epochs, max(self.patience, math.ceil(self.patience * epochs / 20))

    def _build_net(self, data, valid_dataset, device, budget=None):
        criterion, criterion_params = self._criterion()
        params = {f"module__{k}": v for k, v in self._module_params(data).items()}
        params.update({f"criterion__{k}": v for k, v in criterion_params.items()})
        params.update(self._checked_net_params())  # user's prefixed params win
        max_epochs, patience = budget or (self.max_epochs, self.patience)
        callbacks = list(self.callbacks or [])
        if valid_dataset is not None and self.early_stopping:
            callbacks.append(
                ("early_stopping", EarlyStopping(patience=patience, load_best=True))
            )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        params.setdefault("iterator_train__shuffle", True)
        net_class = self._net_class()
        if params.get("accelerator") is not None:
            # skorch's AccelerateMixin: the accelerator places the module and
            # the batches (several devices, mixed precision).
            net_class = accelerated_net_class(net_class)
            device = None
            if not self.verbose:  # accelerate's print sink ignores verbose=0
                params.setdefault("callbacks__print_log__sink", _print_nothing)
        return net_class(
            module=self._module_class(),
            criterion=criterion,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=max_epochs,
            batch_size=self.batch_size,
            iterator_train=BatchLoader,
            iterator_valid=BatchLoader,
            train_split=predefined_split(valid_dataset) if valid_dataset is not None else None,
            callbacks=callbacks,
            verbose=int(self.verbose),
            device=device,
            **params,
        )

    # The thresholder validates its own parameters when fitted: no nested skip.
    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Train the network on ``X`` and calibrate the threshold.

        The last part of the training data (``validation_fraction``) is held
        out: it drives early stopping and the threshold is calibrated on its
        anomaly scores.

        Parameters
        ----------
        X : array-like
            Training data believed mostly normal; its form depends on the
            detector.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted detector.
        """
        self._checked_net_params()
        thresholder = self._checked_thresholder()
        data = self._validate_fit_input(X)
        train_part, calibration_part = self._split(data)
        self._fit_data_state(data, train_part)
        self._check_before_training(train_part, calibration_part, thresholder)
        accelerator = getattr(self, "accelerator", None)
        # Under accelerate the accelerator owns device placement.
        device = accelerator.device if accelerator is not None else resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        cuda = str(device).startswith("cuda")
        with torch.random.fork_rng(devices=[torch.device(device)] if cuda else []):
            torch.manual_seed(seed)
            train_dataset = self._make_dataset(train_part, device)
            valid_dataset = (
                self._make_dataset(calibration_part, device)
                if calibration_part is not None else None
            )
            budget = self._training_budget(len(train_dataset))
            net = self._build_net(data, valid_dataset, device, budget)
            net.fit(train_dataset, y=None)
        # The validation data must not travel with the pickled model.
        net.train_split = None
        self.net_ = net
        calibration = calibration_part if calibration_part is not None else train_part
        calibration_scores = self._calibrate(calibration)
        check_calibration_scores(calibration_scores, calibration)
        self.thresholder_ = thresholder.fit(calibration_scores)
        self.offset_ = -float(self.thresholder_.threshold_)
        return self

    # -------------------------------------------------------------- scoring
    def _scoring_batches(self, part):
        """Yield ``(rows, batch)`` over ``part`` in order, for the module in eval mode.

        The one scoring loop of every detector: skorch's validation iterator
        (a :class:`~skanomaly.batching.BatchLoader` with the
        ``iterator_valid__*`` options) over the detector's dataset, batches of
        ``iterator_valid__batch_size`` (else ``batch_size``) samples moved to
        the net's device. ``rows`` is the slice of ``part`` the batch holds;
        ``batch`` is what the dataset gives (``X``, or ``(X, y)`` for a
        forecaster). Callers run under ``torch.inference_mode()``.
        """
        self._eval_module()
        device = self._net_device()
        dataset = self._make_dataset(part, device)
        # skorch's iterator_valid__batch_size wins over batch_size, as in skorch.
        # NeuralNet's own iterator, also under accelerate: every process scores
        # all rows in order (accelerate would shard the batches).
        iterator = NeuralNet.get_iterator(self.net_, dataset, training=False)
        start = 0
        for X, y in iterator:
            X = to_tensor(X, device=device)
            n = n_rows(X)
            rows = slice(start, start + n)
            start += n
            yield rows, (X if y is None else (X, to_tensor(y, device=device)))

    def _net_device(self):
        """Device of the fitted module (the accelerator's under accelerate)."""
        if self.net_.device is None:
            return self.net_.accelerator.device
        return self.net_.device

    def _eval_module(self):
        module = self.net_.module_
        module.eval()
        return module

    def channel_scores(self, X):
        """Per-channel contributions to each sample's anomaly score.

        Column ``j`` is channel ``j``'s term of the anomaly score
        (``-score_samples``), on a scale comparable across channels, so
        :func:`skanomaly.explain.rank_channels` can say which channels drive
        an alarm. What a channel is, and how the terms add up to the score,
        is written in each detector's own docstring of this method.

        Parameters
        ----------
        X : array-like
            Data to score, in the form accepted by ``fit``.

        Returns
        -------
        contributions : ndarray of shape (n_samples, n_channels)
            Higher means the channel departs more from what the model expects.
        """
        check_is_fitted(self, "net_")
        return self._channel_scores(self._validate_score_input(X))

    def score_samples(self, X):
        """Normality score of each sample: higher means more normal.

        It is minus the anomaly score (the reconstruction error of the
        posterior mean, so it is the same on every call).

        Parameters
        ----------
        X : array-like
            Data to score, in the form accepted by ``fit``.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the anomaly score of each sample.
        """
        check_is_fitted(self, "net_")
        if is_out_of_core(X):
            # Block by block with the rows each score depends on: equal to
            # scoring X in memory (see skanomaly.utils._outofcore).
            return score_out_of_core(
                self._score_in_memory, X, context=self._row_context(), align=self._row_align()
            )
        return self._score_in_memory(X)

    def _score_in_memory(self, X):
        data = self._validate_score_input(X)
        return -cap_overflowed_scores(self._anomaly_scores(data), data)

    def _row_context(self):
        """Rows ``(before, after)`` a row's score depends on; none by default.

        Used to score dask arrays and memmaps block by block exactly.
        """
        return (0, 0)

    def _row_align(self):
        """Blocks of out-of-core input start on multiples of this (a window stride)."""
        return 1

    def decision_function(self, X):
        """Distance to the threshold: negative for anomalies.

        Equals ``score_samples(X) - offset_`` for constant thresholds;
        streaming thresholders give one threshold per step.

        Parameters
        ----------
        X : array-like
            Data to score.

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            Negative for anomalies.
        """
        scores = self.score_samples(X)
        return decision_from_scores(scores, self.thresholder_)

    def predict(self, X):
        """Label each sample: -1 for anomalies, +1 for normal samples.

        Parameters
        ----------
        X : array-like
            Data to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,) with values in {-1, 1}
            ``-1`` where ``decision_function(X) < 0``.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)


def _print_nothing(*args, **kwargs):
    """Print sink of a silent (``verbose=0``) net trained under accelerate."""
