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
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.helper import predefined_split

from .nets import BatchIterator, ELBOLoss, VAENet
from .thresholds import PercentileThreshold
from .utils._compat import HasMethods, Interval

__all__ = ["BaseDeepDetector", "resolve_device", "NET_PARAM_PREFIXES"]

#: Prefixes of the skorch parameters a detector forwards to its net.
NET_PARAM_PREFIXES = (
    "module__", "optimizer__", "criterion__", "iterator_train__", "iterator_valid__",
    "callbacks__",
)


def resolve_device(device):
    """Turn ``"auto"`` into ``"cuda"`` when a GPU is available, else ``"cpu"``.

    Other values (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``) are
    returned unchanged; asking for CUDA on a machine without it is an error.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available.")
    return device


def as_float32_tensor(array, device):
    """A float32 tensor on ``device`` from an array, copying read-only input.

    ``torch.from_numpy`` shares memory, so a read-only array (a memmap, a
    broadcast view) is copied first rather than exposed writable to torch.
    """
    array = np.require(array, dtype=np.float32, requirements=["C", "W"])
    return torch.from_numpy(array).to(device)


class BaseDeepDetector(OutlierMixin, BaseEstimator):
    """Base class of skanomaly's deep detectors.

    Subclasses define ``__init__`` with explicit keyword parameters and a
    trailing ``**kwargs`` passed to :meth:`_store_net_params`, plus the hooks
    below. Everything else (parameter handling, the training loop through
    skorch, seeding, early stopping, threshold calibration, the scoring
    methods) lives here so every detector behaves the same.

    Notes
    -----
    Hooks a subclass implements:

    _validate_fit_input(X) / _validate_score_input(X)
        Check ``X`` and return it in the detector's internal form.
    _split(data)
        ``(train_part, calibration_part)``; the calibration part may be None.
    _make_dataset(part, device)
        A dataset with ``get_batch`` for :class:`~skanomaly.nets.BatchIterator`.
    _module_class() / _module_params(data)
        The torch module and its constructor arguments.
    _anomaly_scores(data)
        One anomaly score per input row (higher = more anomalous).
    _criterion() / _calibrate(data)
        Optional: the loss class and its parameters; statistics fitted on the
        calibration part, returning its anomaly scores for the threshold.
    _net_class()
        Optional: the skorch net class, :class:`~skanomaly.nets.VAENet` by
        default (the target is the input); forecasting detectors return
        :class:`~skanomaly.nets.ForecastNet`.
    """

    #: Constraints of the parameters every detector shares; subclasses extend it.
    _parameter_constraints = {
        "beta": [Interval(Real, 0, None, closed="left")],
        "optimizer": [type],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
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
        """Get parameters, the forwarded skorch ``prefix__name`` ones included."""
        params = super().get_params(deep=deep)
        params.update({k: getattr(self, k) for k in self._net_param_names()})
        return params

    def set_params(self, **params):
        """Set parameters; ``module__*``, ``optimizer__*``, ... are forwarded to the net."""
        net_params = {k: v for k, v in params.items() if k.startswith(NET_PARAM_PREFIXES)}
        for key, value in net_params.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in net_params}
        if getattr(self, "threshold", False) is None and "threshold" not in rest and any(
            k.startswith("threshold__") for k in rest
        ):
            raise ValueError(
                "threshold=None stands for the default PercentileThreshold(q=0.99) and has no "
                "parameters to set; pass threshold=PercentileThreshold() (or another "
                "thresholder) to search threshold__* parameters."
            )
        return super().set_params(**rest)

    def _checked_net_params(self):
        params = {k: getattr(self, k) for k in self._net_param_names()}
        unknown = [k for k in params if not k.startswith(NET_PARAM_PREFIXES)]
        if unknown:
            raise ValueError(
                f"Unknown parameter(s) {unknown} for {type(self).__name__}. Forwarded "
                f"skorch parameters must start with one of {list(NET_PARAM_PREFIXES)}."
            )
        return params

    def _checked_thresholder(self):
        # _validate_params has checked it offers fit() and thresholds().
        return PercentileThreshold() if self.threshold is None else clone(self.threshold)

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

    # ----------------------------------------------------------------- hooks
    @abstractmethod
    def _validate_fit_input(self, X):
        """Validate training input; set ``n_features_in_`` (and names)."""

    @abstractmethod
    def _validate_score_input(self, X):
        """Validate input to the scoring methods against what fit saw."""

    @abstractmethod
    def _split(self, data):
        """Return ``(train_part, calibration_part)`` of validated data."""

    @abstractmethod
    def _make_dataset(self, part, device):
        """Return a dataset with ``get_batch(indices)``, ``device`` and ``len``."""

    @abstractmethod
    def _module_class(self):
        """Return the torch module class to train."""

    @abstractmethod
    def _module_params(self, data):
        """Return the module's constructor arguments (without ``module__``)."""

    @abstractmethod
    def _anomaly_scores(self, data):
        """Return one anomaly score per input row (higher = more anomalous)."""

    def _criterion(self):
        return ELBOLoss, {"beta": self.beta}

    def _net_class(self):
        return VAENet

    def _calibrate(self, data):
        """Fit score statistics on the calibration part; return its anomaly scores.

        Called once the net is trained; the thresholder is fitted on the
        scores returned. Detectors whose scores need fitted statistics (e.g.
        per-modality normalisation) set them here and may reuse the errors
        they computed for them, so the calibration part goes through the
        network once. Default: no statistics, ``_anomaly_scores(data)``.
        """
        return self._anomaly_scores(data)

    # ------------------------------------------------------------- training
    def _build_net(self, data, valid_dataset, device):
        criterion, criterion_params = self._criterion()
        params = {f"module__{k}": v for k, v in self._module_params(data).items()}
        params.update({f"criterion__{k}": v for k, v in criterion_params.items()})
        params.update(self._checked_net_params())  # user's prefixed params win
        callbacks = list(self.callbacks or [])
        if valid_dataset is not None and self.early_stopping:
            callbacks.append(
                ("early_stopping", EarlyStopping(patience=self.patience, load_best=True))
            )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        return self._net_class()(
            module=self._module_class(),
            criterion=criterion,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=BatchIterator,
            iterator_valid=BatchIterator,
            iterator_train__shuffle=True,
            train_split=predefined_split(valid_dataset) if valid_dataset is not None else None,
            callbacks=callbacks,
            verbose=int(self.verbose),
            device=device,
            **params,
        )

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
        self._validate_params()
        self._checked_net_params()
        thresholder = self._checked_thresholder()
        data = self._validate_fit_input(X)
        train_part, calibration_part = self._split(data)
        device = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        cuda = str(device).startswith("cuda")
        with torch.random.fork_rng(devices=[torch.device(device)] if cuda else []):
            torch.manual_seed(seed)
            train_dataset = self._make_dataset(train_part, device)
            valid_dataset = (
                self._make_dataset(calibration_part, device)
                if calibration_part is not None else None
            )
            net = self._build_net(data, valid_dataset, device)
            net.fit(train_dataset, y=None)
        # The validation data must not travel with the pickled model.
        net.train_split = None
        self.net_ = net
        calibration = calibration_part if calibration_part is not None else train_part
        self.thresholder_ = thresholder.fit(self._calibrate(calibration))
        self.offset_ = -float(self.thresholder_.threshold_)
        return self

    # -------------------------------------------------------------- scoring
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
        """
        check_is_fitted(self, "net_")
        return -self._anomaly_scores(self._validate_score_input(X))

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
        """
        scores = self.score_samples(X)
        return scores + self.thresholder_.thresholds(-scores)

    def predict(self, X):
        """Label each sample: -1 for anomalies, +1 for normal samples.

        Parameters
        ----------
        X : array-like
            Data to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,) with values in {-1, 1}
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def _eval_module(self):
        module = self.net_.module_
        module.eval()
        return module
