"""MultimodalVAEDetector: one VAE over several views (modalities) of the same samples."""

import math
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from .._columns import column_groups
from ..base import BaseDeepDetector
from ..batching import DictDataset
from ..modules.fusion import MultimodalVAE, modality_kind
from ..nets import ELBOLoss, squared_error_per_sample, ssim_data_range, ssim_dissimilarity
from ..utils._compat import Interval, StrOptions
from ..utils._validation import as_float32_tensor

__all__ = ["MultimodalVAEDetector", "MultimodalELBOLoss"]

#: Batch key of the presence mask; no modality may take this name.
MASK_KEY = "mask"
#: Name of the KL part in :meth:`MultimodalVAEDetector.modality_scores`.
KL_PART = "kl"


class MultimodalELBOLoss(ELBOLoss):
    """ELBO over several modalities: present modalities' reconstruction losses + beta x KL.

    The module returns ``(reconstructions, mu, logvar, kl)`` and the batch is
    the dict of modality tensors plus the presence mask, so a missing
    modality adds nothing to the loss of its sample. A modality's loss is its
    sum of squared errors; an image modality adds ``ssim_weight * n_elements
    * (1 - SSIM)``, as :class:`~skanomaly.nets.SSIMELBOLoss` does. When
    the module also returns single-expert reconstructions (product of experts
    trained with ``train_single_experts``), each present modality adds the
    ELBO of its reconstruction from its own expert.

    Parameters
    ----------
    names : list of str
        Modality names, in the order of the mask's columns.
    beta : float, default=1.0
        Weight of the KL term.
    ssim_weight : float, default=0.0
        Weight of the SSIM term of image modalities.
    data_ranges : dict of str to float, default=None
        Pixel value range of each image modality (the SSIM constants depend
        on it); modalities not named get no SSIM term.
    """

    def __init__(self, names, beta=1.0, ssim_weight=0.0, data_ranges=None):
        super().__init__(beta=beta)
        self.names = list(names)
        self.ssim_weight = ssim_weight
        self.data_ranges = dict(data_ranges or {})

    def _modality_loss(self, name, reconstruction, target):
        x = target[name]
        loss = squared_error_per_sample(reconstruction, x)
        if self.ssim_weight and name in self.data_ranges:
            loss = loss + self.ssim_weight * x[0].numel() * ssim_dissimilarity(
                reconstruction, x, self.data_ranges[name])
        return loss

    def forward(self, y_pred, target):
        reconstructions, _, _, kl = y_pred[:4]
        singles = y_pred[4] if len(y_pred) > 4 else {}
        mask = target[MASK_KEY]
        per_sample = self.beta * kl
        for i, name in enumerate(self.names):
            loss = self._modality_loss(name, reconstructions[name], target)
            if name in singles:
                single_reconstruction, single_kl = singles[name]
                loss = (loss + self._modality_loss(name, single_reconstruction, target)
                        + self.beta * single_kl)
            per_sample = per_sample + mask[:, i] * loss
        return per_sample.mean()


class MultimodalVAEDetector(BaseDeepDetector):
    """Multimodal variational autoencoder anomaly detector.

    Several views of the same samples (metrics and logs of a time bin, an
    image and its sensor readings, ...) are encoded by one encoder each, fused
    into one latent posterior and decoded by one decoder each. The encoder
    follows each modality's kind, read from the shape of one sample:
    ``(n_features,)`` tabular (MLP), ``(n_channels, length)`` time series
    (1-D convolutions), ``(n_channels, height, width)`` image (2-D
    convolutions).

    The anomaly score combines the modalities on one scale: each modality's
    mean squared reconstruction error (posterior mean; with
    ``normalize_channels=True`` each channel's error is first divided by its
    median on the calibration part) and the KL term are standardised with the
    median and inter-quartile range they have on the held-out calibration
    part of the training data, then averaged over the present modalities
    (weighted by ``modality_weights``; the KL part joins with weight
    ``kl_score_weight``).
    :meth:`modality_scores` returns these parts.

    Parameters
    ----------
    modalities : dict of str to columns, default=None
        For table input (2-D array or DataFrame): the columns of each
        modality, as a list of column indices, a list of column names
        (DataFrame) or a ``slice``. Every column must belong to exactly one
        modality. Leave ``None`` for dict input.
    modality_shapes : dict of str to tuple of int, default=None
        Shape of one sample of a modality whose values arrive flat (table
        columns or 2-D arrays), e.g. ``{"image": (1, 28, 28)}`` or
        ``{"series": (2, 50)}``; modalities not named stay tabular (or keep
        the shape of their array in dict input).
    fusion : {"poe", "moe", "concat"}, default="poe"
        ``"poe"``: product of experts with the prior expert N(0, I); the only
        fusion that accepts samples missing a modality (a sample's modality
        whose values are all NaN is missing). ``"moe"``: mixture of experts.
        ``"concat"``: concatenated encodings projected back to ``hidden_dim``,
        so the latent keeps ``latent_dim``.
    latent_dim : int, default=16
        Size of the shared latent space.
    hidden_dim : int, default=64
        Width of the MLPs and of each modality's encoding.
    hidden_channels : tuple of int, default=(32, 64)
        Convolution channels of the time-series and image encoders.
    kernel_size : int, default=5
        Odd kernel size of the time-series convolutions.
    cross_attention : bool, default=False
        Let the modality encodings attend to each other before fusion
        (missing ones masked out); the encoders still run once.
    n_heads : int, default=4
        Attention heads; must divide ``hidden_dim``.
    dropout : float, default=0.0
        Dropout rate.
    train_single_experts : bool, default=False
        With ``fusion="poe"`` and two modalities or more, also train each
        modality's expert alone (with the prior expert) to reconstruct its
        modality, beside the fused posterior: the sub-sampled ELBO of MVAE
        (Wu and Goodman, 2018). Turn it on when samples scored may miss
        modalities: an expert that only ever learned in company gives poor
        posteriors to the samples that miss the others. It costs one more
        decoder pass per modality in training and can lower the score of
        complete samples (see the multimodal benchmark). Other fusions ignore
        it.
    normalize_channels : bool, default=False
        Weigh each channel's squared error by the inverse of its median on
        the calibration part, relative to the modality's mean
        (``channel_scale_``, floored at 0.01) before averaging a modality's
        channels, as :class:`~skanomaly.detectors.TimeSeriesVAEDetector`
        does. Turn it on for channels of different predictability (the
        metrics of a machine); leave it off where channels are parts of one
        homogeneous signal (the pixel columns of an image read row by row:
        almost-blank border columns get huge weights). The user guide
        (:ref:`multimodal`) has the benchmark figures.
    ssim_weight : float, default=1.0
        Weight of the SSIM dissimilarity of image modalities, in the loss
        (``ssim_weight * n_pixels * (1 - SSIM)`` beside the squared error) and
        in the modality's score (``ssim_weight * (1 - SSIM)`` beside the mean
        squared error), as in :class:`~skanomaly.detectors.VisionVAEDetector`.
        Other kinds of modality ignore it.
    modality_weights : dict of str to float, default=None
        Weight of each modality's standardised part in the score (a weighted
        mean over the present modalities); modalities not named weigh 1.
        Every weight must be positive: to leave a view out of the score, leave
        it out of ``X``. Lower the weight of a view known to be a noisier or
        redundant copy of another: a mean of equally weighted parts is only
        as good as its parts (the user guide, :ref:`multimodal`, shows it on
        MNIST views). The weights do not enter training: a parameter for
        GridSearchCV when labelled validation data exists.
    kl_score_weight : float, default=0.0
        Weight of the standardised KL part in the score (beside the modality
        weights). The default scores on reconstruction only: on the
        benchmarks of the user guide the KL part ranked anomalies *below*
        normal samples.
    beta : float, default=1.0
        Weight of the KL term in the loss.
    {shared_parameters}

    Attributes
    ----------
    net_ : skanomaly.nets.VAENet
        The trained skorch net.
    thresholder_ : thresholder
        The fitted copy of ``threshold``.
    offset_ : float
        ``decision_function(X) = score_samples(X) - offset_``.
    modalities_ : dict of str to tuple of int
        Shape of one sample of each modality, in fusion order.
    modality_kinds_ : dict of str to str
        ``"tabular"``, ``"timeseries"`` or ``"image"`` per modality.
    modality_columns_ : dict of str to ndarray of int
        Column indices of each modality (table input only).
    channel_scale_ : dict of str to ndarray
        Per-channel error scale of each modality on the calibration part
        (median error over the mean of the channels' medians, floored at
        0.01); ones when ``normalize_channels=False``.
    data_ranges_ : dict of str to float
        Value range (max - min) of each image modality in the training data,
        for SSIM's constants.
    score_location_, score_scale_ : dict of str to float
        Median and scale of each part (modalities and ``"kl"``) on the
        calibration part, used to standardise it.
    modality_weights_ : dict of str to float
        Weight of each modality's part in the score (``modality_weights``
        completed with 1).
    n_features_in_ : int
        Values per sample over all modalities.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.detectors import MultimodalVAEDetector
    >>> rng = np.random.RandomState(0)
    >>> t = rng.rand(200, 1)
    >>> X = np.hstack([np.sin(6 * t) + 0.05 * rng.randn(200, 3), t ** 2 + 0.05 * rng.randn(200, 2)])
    >>> det = MultimodalVAEDetector(modalities={"a": [0, 1, 2], "b": [3, 4]}, latent_dim=2,
    ...                             max_epochs=3, random_state=0).fit(X)
    >>> det.score_samples(X).shape
    (200,)
    >>> sorted(det.modality_scores(X[:5]))
    ['a', 'b', 'kl']
    """

    _doc_fields = {
        "calibrated": "the per-modality standardisation and the threshold are",
        "max_epochs": "None",
        "max_epochs_type": "int or None",
        "max_epochs_note": (
            " ``None``: a budget of about ``skanomaly.base.TRAINING_STEPS`` (1,200) optimiser"
            " steps whatever the number of samples, with early stopping on the held-out loss"
            " (``benchmarks/bench_multimodal_budget.py``: on one-class MNIST, digits 0-2 with"
            " 100 training images each, a mean AUROC of 0.984 against 0.819 with 20 epochs;"
            " on four SMD machines, 0.834 against 0.816)."
        ),
    }

    _parameter_constraints = {
        **BaseDeepDetector._parameter_constraints,
        "modalities": [dict, None],
        "modality_shapes": [dict, None],
        "fusion": [StrOptions({"poe", "moe", "concat"})],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_channels": [tuple, list],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "cross_attention": ["boolean"],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "train_single_experts": ["boolean"],
        "normalize_channels": ["boolean"],
        "ssim_weight": [Interval(Real, 0, None, closed="left")],
        "modality_weights": [dict, None],
        "kl_score_weight": [Interval(Real, 0, None, closed="left")],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [
            dict(modalities={"a": slice(0, 1), "b": slice(1, None)}, latent_dim=2, hidden_dim=8,
                 hidden_channels=(4,), n_heads=2, max_epochs=2, batch_size=32, device="cpu",
                 random_state=0, modality_weights=weights)
            for weights in (None, {"b": 0.5})
        ]

    def __init__(
        self, *, modalities=None, modality_shapes=None, fusion="poe", latent_dim=16,
        hidden_dim=64, hidden_channels=(32, 64), kernel_size=5, cross_attention=False,
        n_heads=4, dropout=0.0, train_single_experts=False, normalize_channels=False,
        ssim_weight=1.0, modality_weights=None, kl_score_weight=0.0, beta=1.0,
        optimizer=torch.optim.Adam,
        lr=1e-3, max_epochs=None, batch_size=128, validation_fraction=0.1,
        early_stopping=True, patience=5, threshold=None, callbacks=None, device="auto",
        random_state=None, verbose=0, **kwargs,
    ):
        self._store_params(locals())  # every argument, unchanged

    def __sklearn_tags__(self):
        # A sample whose values of a modality are all NaN misses that modality
        # (fusion="poe" handles it); NaN inside a modality is still refused.
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.dict = True
        return tags

    # --------------------------------------------------------- validation
    def _shape_modality(self, name, values):
        """Reshape flat values to ``modality_shapes[name]`` when one is given."""
        shape = (self.modality_shapes or {}).get(name)
        if shape is None:
            return values
        shape = tuple(int(s) for s in shape)
        modality_kind(shape)
        if math.prod(shape) != math.prod(values.shape[1:]):
            raise ValueError(
                f"Modality {name!r} has {math.prod(values.shape[1:])} values per sample but "
                f"modality_shapes[{name!r}]={shape} holds {math.prod(shape)}."
            )
        return values.reshape(len(values), *shape)

    def _table_input(self, X, reset):
        if self.modalities is None:
            raise ValueError(
                "X is a table: set modalities={name: columns} (e.g. {'metrics': [0, 1], "
                "'logs': slice(2, None)}), or pass X as a dict {name: array} / skorch SliceDict."
            )
        table = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64],
                              ensure_all_finite="allow-nan")
        if reset:
            self.modality_columns_ = column_groups(
                self.modalities, table.shape[1], getattr(self, "feature_names_in_", None))
        return {name: self._shape_modality(name, table[:, cols])
                for name, cols in self.modality_columns_.items()}

    def _dict_input(self, X, reset):
        if self.modalities is not None:
            raise ValueError(
                "modalities maps table columns; with dict input leave it None (the dict's "
                "keys name the modalities)."
            )
        if not X:
            raise ValueError("X is an empty dict: pass at least one modality.")
        if MASK_KEY in X:
            raise ValueError(f"{MASK_KEY!r} is reserved; rename that modality.")
        if not reset:
            unknown = sorted(set(X) - set(self.modalities_))
            absent = sorted(set(self.modalities_) - set(X))
            if unknown:
                raise ValueError(
                    f"Unknown modality key(s) {unknown}; the detector was fitted on "
                    f"{list(self.modalities_)}."
                )
            if absent:
                raise ValueError(
                    f"X lacks modality key(s) {absent}; pass them with NaN rows where a "
                    "sample misses a modality."
                )
        data, lengths = {}, set()
        for name in (self.modalities_ if not reset else X):
            values = check_array(X[name], dtype=[np.float32, np.float64], allow_nd=True,
                                 ensure_all_finite="allow-nan", ensure_2d=False,
                                 input_name=f"X[{name!r}]")
            if values.ndim == 1:
                values = values[:, None]
            data[name] = self._shape_modality(name, values)
            lengths.add(len(values))
        if len(lengths) > 1:
            raise ValueError(f"The modalities of X have different numbers of samples: {lengths}.")
        if not reset:
            self._check_shapes(data)
        n_features = sum(math.prod(v.shape[1:]) for v in data.values())
        if reset:
            self.n_features_in_ = n_features
        elif n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features over all modalities, but "
                f"{type(self).__name__} is expecting {self.n_features_in_} features as input."
            )
        return data

    def _check_input(self, X, reset):
        # A DOK sparse matrix is a dict too: let validate_data reject it.
        is_dict = isinstance(X, Mapping) and not sp.issparse(X)
        data = self._dict_input(X, reset) if is_dict else self._table_input(X, reset)
        if reset:
            self.modalities_ = {name: tuple(v.shape[1:]) for name, v in data.items()}
            self.modality_kinds_ = {name: modality_kind(s) for name, s in self.modalities_.items()}
        else:
            self._check_shapes(data)
        return self._with_mask(data, reset)

    def _check_shapes(self, data):
        for name, shape in self.modalities_.items():
            if data[name].shape[1:] != shape:
                raise ValueError(
                    f"Modality {name!r} has samples of shape {data[name].shape[1:]} but the "
                    f"detector was fitted on {shape}."
                )

    def _with_mask(self, data, reset):
        """Replace missing modalities by zeros and add the presence mask.

        Training needs every modality somewhere; scoring accepts a modality
        missing in every sample given (a log pipeline down for the whole
        period scored, one sample scored alone).
        """
        columns, out = [], {}
        for name, values in data.items():
            nan = np.isnan(values.reshape(len(values), -1))
            missing = nan.all(axis=1)
            partial = nan.any(axis=1) & ~missing
            if partial.any():
                raise ValueError(
                    f"Modality {name!r} has NaN values in {int(partial.sum())} sample(s) "
                    f"(first: row {int(np.flatnonzero(partial)[0])}) without being wholly "
                    "missing. A sample may miss a whole modality (all NaN), not single values."
                )
            if np.isinf(values).any():
                raise ValueError(f"Modality {name!r} contains infinity.")
            out[name] = np.where(np.isnan(values), 0, values).astype(np.float32)
            columns.append(~missing)
        mask = np.stack(columns, axis=1)
        for i, name in enumerate(data if reset else ()):
            if not mask[:, i].any():
                raise ValueError(f"Modality {name!r} is missing (all NaN) in every sample.")
        if not mask.all() and self.fusion != "poe":
            raise ValueError(
                f"Some samples miss a modality (all-NaN values), which fusion={self.fusion!r} "
                "cannot handle; use fusion='poe' or impute the missing views."
            )
        if not mask.any(axis=1).all():
            row = int(np.flatnonzero(~mask.any(axis=1))[0])
            raise ValueError(f"Sample {row} misses every modality.")
        out[MASK_KEY] = mask.astype(np.float32)
        return out

    def _validate_fit_input(self, X):
        if len(self.hidden_channels) == 0:
            raise ValueError("hidden_channels must name at least one layer.")
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd; got {self.kernel_size}.")
        if self.cross_attention and self.hidden_dim % self.n_heads:
            raise ValueError(
                f"hidden_dim={self.hidden_dim} must be divisible by n_heads={self.n_heads}."
            )
        return self._check_input(X, reset=True)

    def _fit_data_state(self, data, train_part):
        # SSIM's constants need each image modality's value range (missing
        # samples, zeros after the mask, left out).
        self.data_ranges_ = {}
        for i, (name, kind) in enumerate(self.modality_kinds_.items()):
            if kind == "image":
                present = data[MASK_KEY][:, i] > 0
                self.data_ranges_[name] = ssim_data_range(data[name][present])
        self.modality_weights_ = self._checked_modality_weights()

    def _checked_modality_weights(self):
        weights = dict(self.modality_weights or {})
        unknown = sorted(set(weights) - set(self.modalities_))
        if unknown:
            raise ValueError(
                f"modality_weights names unknown modality(ies) {unknown}; the modalities are "
                f"{list(self.modalities_)}."
            )
        for name, weight in weights.items():
            if not (isinstance(weight, Real) and math.isfinite(weight) and weight > 0):
                raise ValueError(
                    f"modality_weights[{name!r}] must be a positive finite number; got {weight!r}."
                )
        return {name: float(weights.get(name, 1.0)) for name in self.modalities_}

    def _validate_score_input(self, X):
        return self._check_input(X, reset=False)

    # ------------------------------------------------------------ training
    def _check_before_training(self, train_part, calibration_part, thresholder):
        super()._check_before_training(train_part, calibration_part, thresholder)
        parts = [(train_part, "training")]
        if calibration_part is not None:
            parts.append((calibration_part, "held-out calibration"))
        n_held = 0 if calibration_part is None else len(calibration_part[MASK_KEY])
        for i, name in enumerate(self.modalities_):
            for part, what in parts:
                if not part[MASK_KEY][:, i].any():
                    raise ValueError(
                        f"Modality {name!r} is missing in every sample of the {what} part "
                        f"(the last {n_held} samples are held out); reorder the samples or "
                        "change validation_fraction."
                    )

    def _make_dataset(self, part, device):
        return DictDataset({k: as_float32_tensor(v, device) for k, v in part.items()})

    def _module_class(self):
        return MultimodalVAE

    def _module_params(self, data):
        return {
            "modalities": dict(self.modalities_), "latent_dim": self.latent_dim,
            "fusion": self.fusion, "hidden_dim": self.hidden_dim,
            "hidden_channels": tuple(self.hidden_channels), "kernel_size": self.kernel_size,
            "cross_attention": self.cross_attention, "n_heads": self.n_heads,
            "dropout": self.dropout, "train_single_experts": self.train_single_experts,
        }

    def _criterion(self):
        return MultimodalELBOLoss, {"names": list(self.modalities_), "beta": self.beta,
                                    "ssim_weight": self.ssim_weight,
                                    "data_ranges": self.data_ranges_}

    # ------------------------------------------------------------- scoring
    @torch.inference_mode()
    def _errors(self, data):
        """Per-sample errors of every modality, NaN where the sample misses it.

        Returns ``(channel_errors, structure, kl)``: squared error per sample
        and channel of each modality (a modality's channels are the second
        axis of one sample's shape: features of a table, channels of a series
        or an image; the other axes are averaged), ``1 - SSIM`` per sample of
        each image modality (when ``ssim_weight > 0``) and the KL term.
        """
        module = self.net_.module_
        n = len(data[MASK_KEY])
        # Results go into preallocated buffers, one slice per batch.
        errors = {name: np.empty((n, shape[0])) for name, shape in self.modalities_.items()}
        structure = {name: np.empty(n) for name in self.data_ranges_ if self.ssim_weight}
        kl_part = np.empty(n)
        for rows, batch in self._scoring_batches(data):
            reconstructions, kl = module.reconstruct(**batch)
            for i, name in enumerate(self.modalities_):
                rec, x = reconstructions[name], batch[name]
                error = (rec - x).pow(2)
                error = error.flatten(2).mean(dim=2) if error.ndim > 2 else error
                missing = (batch[MASK_KEY][:, i] == 0).cpu().numpy()
                errors[name][rows] = error.cpu().numpy()
                errors[name][rows][missing] = np.nan
                if name in structure:
                    dissimilarity = ssim_dissimilarity(rec, x, self.data_ranges_[name])
                    structure[name][rows] = dissimilarity.cpu().numpy()
                    structure[name][rows][missing] = np.nan
            kl_part[rows] = kl.cpu().numpy()
        return errors, structure, kl_part

    def _raw_parts(self, data, errors=None):
        """Score of each modality before standardisation (NaN where missing), and KL.

        A modality's score is the mean over its channels of the squared error
        divided by the channel's scale, plus ``ssim_weight * (1 - SSIM)`` for
        an image modality. ``errors``: the output of :meth:`_errors` on
        ``data`` when already computed.
        """
        errors, structure, kl = self._errors(data) if errors is None else errors
        parts = {name: (e / self.channel_scale_[name]).mean(axis=1) for name, e in errors.items()}
        for name, dissimilarity in structure.items():
            parts[name] = parts[name] + self.ssim_weight * dissimilarity
        parts[KL_PART] = kl
        return parts

    def _calibrate(self, data):
        # Each channel's error relative to its typical held-out error, so a
        # modality's channels count on comparable scales. Scales are relative
        # to the modality's mean, so the modality's own scale (and its balance
        # with the SSIM term) is kept.
        errors = self._errors(data)
        self.channel_scale_ = {
            name: (self._fit_channel_scale(channel_errors, relative=True)
                   if self.normalize_channels else np.ones(channel_errors.shape[1]))
            for name, channel_errors in errors[0].items()
        }
        raw = self._raw_parts(data, errors)
        self.score_location_, self.score_scale_ = {}, {}
        for name, values in raw.items():
            values = values[np.isfinite(values)]
            q25, q50, q75 = np.percentile(values, [25, 50, 75])
            # IQR / 1.349 is the standard deviation for Gaussian data; fall back
            # to the standard deviation, then 1, for (nearly) constant errors.
            scale = (q75 - q25) / 1.349
            if not scale > 1e-12:
                scale = values.std()
            self.score_location_[name] = float(q50)
            self.score_scale_[name] = float(scale) if scale > 1e-12 else 1.0
        return self._shares(self._standardise(raw)).sum(axis=1)

    def _standardise(self, raw_parts):
        return {
            name: (values - self.score_location_[name]) / self.score_scale_[name]
            for name, values in raw_parts.items()
        }

    def _shares(self, parts):
        """Each part's share of the score: modalities (0 where missing), then KL.

        The score is the mean of the present modalities' standardised parts
        weighted by ``modality_weights_``, the KL part weighted by
        ``kl_score_weight``; the shares are its terms, so they sum to it.
        """
        weights = np.array([self.modality_weights_[name] for name in self.modalities_])
        errors = np.stack([parts[name] for name in self.modalities_], axis=1)
        present = np.isfinite(errors)
        total_weight = (present * weights).sum(axis=1) + self.kl_score_weight
        shares = np.column_stack([np.where(present, errors, 0.0) * weights,
                                  self.kl_score_weight * parts[KL_PART]])
        return shares / total_weight[:, None]

    def _channel_scores(self, data):
        return self._shares(self._standardise(self._raw_parts(data)))

    def _anomaly_scores(self, data):
        return self._channel_scores(data).sum(axis=1)

    def modality_scores(self, X):
        """Standardised parts of the anomaly score, per modality and for KL.

        Each modality's mean squared reconstruction error (and the KL term)
        minus its median on the calibration part, divided by its scale there
        (inter-quartile range / 1.349). The anomaly score (``-score_samples``)
        is their mean over present modalities weighted by
        ``modality_weights_``, KL weighted by ``kl_score_weight``.

        Parameters
        ----------
        X : dict of arrays, SliceDict or table
            Data in the form given to ``fit``.

        Returns
        -------
        parts : dict of str to ndarray of shape (n_samples,)
            One entry per modality (NaN where the sample misses it) and
            ``"kl"``. Higher means more anomalous.
        """
        check_is_fitted(self, "net_")
        return self._standardise(self._raw_parts(self._validate_score_input(X)))
