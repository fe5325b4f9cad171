"""TimeSeriesVAEDetector: a VAE over sliding windows of a multichannel series."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import BaseDeepDetector
from ..batching import ReadyWindowDataset, SlidingWindowDataset
from ..modules.timeseries import TimeSeriesVAE
from ..preprocessing.windows import window_scores_to_steps, window_starts
from ..thresholds import PercentileThreshold
from ..utils._compat import Interval, StrOptions
from ..utils._validation import as_float32_tensor, check_numeric_columns

__all__ = ["TimeSeriesVAEDetector"]

# A channel holding one value in at least this share of its training steps is
# near-constant: StandardScaler-like scaling turns its rare values into huge ones.
_NEAR_CONSTANT_SHARE = 0.99

# The calibration part should hold at least this many windows' worth of steps
# (2-D input) or windows (3-D input) for a threshold that means something.
_MIN_CALIBRATION_WINDOWS = 10

# threshold=None: the quantile of the calibration scores chosen leave-one-entity-out
# on SMD and ASD (benchmarks/bench_timeseries.py, part select), as is the default
# calibration_cap.
_DEFAULT_QUANTILE = 0.995


def _channel_rows(X):
    """(n_rows, n_channels) view of a series or a 3-D window array."""
    return X if X.ndim == 2 else X.transpose(0, 2, 1).reshape(-1, X.shape[1])


def _flat_channels(rows):
    """Masks of the constant and of the near-constant channels of ``rows``."""
    constant = np.ptp(rows, axis=0) == 0
    # A value held by more than half of the rows is the median.
    share = np.mean(rows == np.median(rows, axis=0), axis=0)
    return constant, ~constant & (share >= _NEAR_CONSTANT_SHARE)


class TimeSeriesVAEDetector(BaseDeepDetector):
    """Variational autoencoder anomaly detector for multichannel time series.

    A 2-D input of shape (n_timesteps, n_channels), a DataFrame included, is
    cut into sliding windows inside the detector; every time step gets the
    mean anomaly score of the windows that cover it, so scores line up with
    the input rows (and with labels, ``TimeSeriesSplit``, plots). A 3-D input
    of shape (n_windows, n_channels, window_size) is taken as ready windows
    and scored one row per window. A window's anomaly score is its squared
    reconstruction error (posterior mean decoded, so deterministic), each
    channel divided by its typical error on held-out training data.
    :meth:`channel_scores` gives those normalised errors per step (or window)
    and channel: with ``aggregation="step"`` a row of it sums to the step's
    anomaly score; with ``"window"`` the score is the mean over the covering
    windows of their channel sums, which the row sum approximates.

    Parameters
    ----------
    window_size : int, default=64
        Time steps per window. For 3-D input it must equal ``X.shape[2]``.
        With 1-minute metrics, 64 steps is about an hour of context (the
        user guide, :ref:`timeseries`, compares window sizes).
    stride : int, default=1
        Steps between window starts when windowing 2-D input (training and
        scoring); at most ``window_size``. A last window flush with the end is
        always added.
    encoder : {"cnn", "transformer"}, default="cnn"
        Encoder family; the decoder mirrors it. ``"cnn"``: strided 1-D
        convolutions; ``"transformer"``: self-attention over time steps with
        sinusoidal positions.
    latent_dim : int, default=8
        Size of the latent space.
    hidden_channels : tuple of int, default=(32, 64)
        Channels of each convolution layer (``"cnn"``).
    kernel_size : int, default=5
        Odd convolution kernel size (``"cnn"``).
    d_model : int, default=64
        Width of the transformer (``"transformer"``).
    n_heads : int, default=4
        Attention heads (``"transformer"``); must divide ``d_model``.
    n_layers : int, default=2
        Transformer layers in the encoder and in the decoder (``"transformer"``).
    dropout : float, default=0.0
        Dropout rate.
    scaling : {"standard", None}, default="standard"
        ``"standard"``: each channel is centred and divided by its standard
        deviation over the training data (``input_mean_``, ``input_scale_``;
        a constant channel keeps scale 1, i.e. its own units) before the
        network sees it, in ``fit`` and when scoring. Standardising is
        affine, so a per-channel affine scaler in front of the detector
        (``StandardScaler``, ``MinMaxScaler``) changes nothing. ``None``:
        the values as given.
    input_clip : float or None, default=10.0
        With ``scaling="standard"``, scaled values are clipped to
        ``[-input_clip, input_clip]``, so a channel that barely moved in
        training (and whose standard deviation is tiny) cannot feed the
        network values hundreds of deviations away. ``None``: no clip.
    aggregation : {"window", "step"}, default="window"
        How a 2-D input's time step gets its score. ``"window"``: the mean
        score of the windows covering the step (a window's score is its
        channel-normalised error averaged over its steps), so evidence from
        the whole window context counts. ``"step"``: the step's own
        channel-normalised error, averaged over the covering windows; sharper
        in time, noisier.
    normalize_channels : bool, default=True
        Divide each channel's squared error by its median on the held-out
        calibration part (``channel_scale_``), so channels count on
        comparable scales whatever their variance or how well they are
        reconstructed. Scales are floored at 1 % of their mean, so a channel
        reconstructed perfectly on the calibration part (e.g. one constant
        in training) gets a large but finite weight; ``input_clip`` bounds
        what it can feed the network. ``False`` sums raw squared errors.
    calibration_cap : float or None, default=12.0
        Before the thresholder is fitted, calibration scores above
        ``calibration_cap`` times their median are lowered to that value.
        Training data are rarely clean: an incident in the held-out tail
        would otherwise lift a tail quantile (the default threshold) above
        the anomalies to come, and ``predict`` would flag nothing. With a
        quantile thresholder the threshold is then at most
        ``calibration_cap`` times the median calibration score. ``None``:
        the scores as they are.
    beta : float, default=1.0
        Weight of the KL term; reconstruction and KL are both summed per
        window, so ``beta`` means the same for any window shape.
    {shared_parameters}

    Attributes
    ----------
    net_ : skanomaly.nets.VAENet
        The trained skorch net (``net_.history`` holds the losses).
    thresholder_ : thresholder
        The fitted copy of ``threshold``.
    offset_ : float
        ``decision_function(X) = score_samples(X) - offset_``.
    input_mean_, input_scale_ : ndarray of shape (`n_features_in_`,)
        Per-channel centre and scale applied to the input (zeros and ones when
        ``scaling=None``).
    channel_scale_ : ndarray of shape (`n_features_in_`,)
        Per-channel error scale from the calibration part (ones when
        ``normalize_channels=False``).
    n_features_in_ : int
        Number of channels seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    skanomaly.thresholds.PercentileThreshold : The default thresholder (``q=0.995``),
        fitted on the calibration scores capped at ``calibration_cap`` times their median.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.detectors import TimeSeriesVAEDetector
    >>> rng = np.random.RandomState(0)
    >>> t = np.arange(600)
    >>> X = np.c_[np.sin(t / 10), np.cos(t / 10)] + 0.05 * rng.randn(600, 2)
    >>> det = TimeSeriesVAEDetector(window_size=16, max_epochs=3, random_state=0).fit(X)
    >>> det.score_samples(X).shape
    (600,)
    >>> X_new = X.copy()
    >>> X_new[300:310] += 3.0  # a level shift on both channels
    >>> labels = det.predict(X_new)
    >>> bool((labels[300:310] == -1).all()), float((labels == -1).mean()) < 0.1
    (True, True)
    """

    _doc_fields = {
        "threshold_default": "PercentileThreshold(q=0.995)",
        "samples": "windows",
        "max_epochs": "None",
        "max_epochs_type": "int or None",
        "max_epochs_note": (
            " ``None``: a budget of optimiser steps rather than epochs, about "
            "``skanomaly.base.TRAINING_STEPS`` (1,200) whatever the length of the series, so "
            "a short series is not left far from convergence and a long one does not train "
            "for hours."
        ),
        "held_out_unit": "time steps (or windows, for 3-D input)",
        "held_out_note": (
            " The held-out part is at least one window long and shares no time step with the "
            "training windows."
        ),
        "patience_note": (
            "; with ``max_epochs=None`` and epochs of few steps, the same share of the budget"
            " (``patience`` twentieths of it)"
        ),
    }

    _parameter_constraints = {
        **BaseDeepDetector._parameter_constraints,
        "window_size": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "encoder": [StrOptions({"cnn", "transformer"})],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_channels": [tuple, list],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "d_model": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "scaling": [StrOptions({"standard"}), None],
        "input_clip": [Interval(Real, 0, None, closed="neither"), None],
        "aggregation": [StrOptions({"window", "step"})],
        "normalize_channels": ["boolean"],
        "calibration_cap": [Interval(Real, 1, None, closed="left"), None],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [
            dict(window_size=4, max_epochs=2, latent_dim=2, hidden_channels=(4,), batch_size=16,
                 device="cpu", random_state=0),
            dict(window_size=4, max_epochs=2, latent_dim=2, batch_size=16, encoder="transformer",
                 d_model=8, n_heads=2, n_layers=1, device="cpu", random_state=0),
        ]

    def __init__(
        self, *, window_size=64, stride=1, encoder="cnn", latent_dim=8,
        hidden_channels=(32, 64), kernel_size=5, d_model=64, n_heads=4, n_layers=2,
        dropout=0.0, scaling="standard", input_clip=10.0, aggregation="window",
        normalize_channels=True, calibration_cap=12.0, beta=1.0,
        optimizer=torch.optim.Adam, lr=1e-3, max_epochs=None, batch_size=128,
        validation_fraction=0.1, early_stopping=True, patience=5,
        threshold=None, callbacks=None, device="auto", random_state=None, verbose=0,
        **kwargs,
    ):
        self._store_params(locals())  # every argument, unchanged

    # --------------------------------------------------------- validation
    def _check_input(self, X, reset):
        check_numeric_columns(X)
        X = validate_data(
            self, X, reset=reset, dtype=[np.float32, np.float64], allow_nd=True,
            ensure_min_samples=1,
        )
        if X.ndim == 2:
            if X.shape[0] < self.window_size:
                raise ValueError(
                    f"X has {X.shape[0]} sample(s) (time steps) but window_size="
                    f"{self.window_size} needs at least {self.window_size}."
                )
        elif X.ndim == 3:
            if X.shape[2] != self.window_size:
                raise ValueError(
                    f"3-D input holds windows of length {X.shape[2]} but window_size="
                    f"{self.window_size}; set window_size={X.shape[2]}."
                )
        else:
            raise ValueError(
                "X must be 2-D (n_timesteps, n_channels) or 3-D (n_windows, n_channels, "
                f"window_size); got {X.ndim}-D input of shape {X.shape}."
            )
        return X

    def _validate_fit_input(self, X):
        if self.encoder == "cnn" and self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd; got {self.kernel_size}.")
        if self.encoder == "transformer" and self.d_model % self.n_heads:
            raise ValueError(
                f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}."
            )
        if self.stride > self.window_size:
            raise ValueError(
                f"stride={self.stride} exceeds window_size={self.window_size}: time steps "
                "between windows would get no score."
            )
        if len(self.hidden_channels) == 0:
            raise ValueError("hidden_channels must name at least one layer.")
        return self._check_input(X, reset=True)

    def _row_context(self):
        # A step's score averages the windows covering it: w - 1 steps either
        # side. With stride > 1 the context before a block keeps windows on the
        # stride grid, and the context after it takes the block's flush-end
        # window (window_starts) off the block's own steps.
        w, s = self.window_size, self.stride
        if s == 1:
            return (w - 1, w - 1)
        return (-(-(w - 1) // s) * s, w)

    def _row_align(self):
        return self.stride

    def _validate_score_input(self, X):
        return self._check_input(X, reset=False)

    # ------------------------------------------------------------ training
    def _held_out_unit(self, X):
        # The held-out part holds at least one window of time steps.
        if X.ndim == 2:
            return self.window_size, "time steps"
        return 1, "windows"

    def _checked_thresholder(self):
        if self.threshold is None:
            return PercentileThreshold(q=_DEFAULT_QUANTILE)
        return super()._checked_thresholder()

    def _held_out_size(self, n, what, unit=1):
        # Grow a short calibration part up to _MIN_CALIBRATION_WINDOWS windows,
        # as long as the training part keeps at least half of the data.
        n_held = super()._held_out_size(n, what, unit)
        if n_held == 0:
            return n_held
        step = self.window_size if what == "time steps" else 1
        wanted = _MIN_CALIBRATION_WINDOWS * step
        n_held = max(n_held, min(wanted, n // 2))
        if n_held < wanted:
            warnings.warn(
                f"X has {n} {what}: the held-out calibration part holds only {n_held} "
                f"{what} (fewer than {_MIN_CALIBRATION_WINDOWS} windows), so the threshold "
                "rests on few, strongly correlated scores and the alarm rate on new data "
                f"can be far from the expected one. Fit on at least {2 * wanted} {what}, "
                "use a smaller window_size, or pass a threshold set on labelled data "
                "(e.g. threshold=PercentileThreshold(q=...)).",
                UserWarning, stacklevel=4,
            )
        return n_held

    def _fit_data_state(self, X, train_part):
        rows = _channel_rows(X)
        constant, near = _flat_channels(rows)
        self._warn_flat_channels(constant, near)
        if self.scaling is None:
            self.input_mean_ = np.zeros(X.shape[1])
            self.input_scale_ = np.ones(X.shape[1])
            return
        self.input_mean_ = rows.mean(axis=0, dtype=np.float64)
        std = rows.std(axis=0, dtype=np.float64)
        self.input_scale_ = np.where(constant | (std == 0), 1.0, std)

    def _warn_flat_channels(self, constant, near):
        if not (constant.any() or near.any()):
            return
        names = getattr(self, "feature_names_in_", np.arange(len(constant)))
        parts = []
        if constant.any():
            parts.append(f"constant in the training data: {list(map(str, names[constant]))}")
        if near.any():
            parts.append(f"one value in at least {_NEAR_CONSTANT_SHARE:.0%} of the training "
                         f"steps: {list(map(str, names[near]))}")
        warnings.warn(
            f"Channel(s) {'; '.join(parts)}. A later change of such a channel is large "
            "next to what training saw: the detector bounds it (input_clip, the floor of "
            "the channel error scales), but it can still raise alarms on its own. Drop "
            "these columns if their changes do not matter.",
            UserWarning, stacklevel=4,
        )

    def _scaled(self, part):
        if self.scaling is None:
            return part
        shape = (-1,) if part.ndim == 2 else (-1, 1)
        mean = self.input_mean_.astype(part.dtype).reshape(shape)
        scaled = (part - mean) / self.input_scale_.astype(part.dtype).reshape(shape)
        if self.input_clip is not None:
            np.clip(scaled, -self.input_clip, self.input_clip, out=scaled)
        return scaled.astype(np.float32, copy=False)

    def _make_dataset(self, part, device):
        data = as_float32_tensor(self._scaled(part), device)
        if part.ndim == 3:
            return ReadyWindowDataset(data)
        starts = window_starts(part.shape[0], self.window_size, self.stride)
        return SlidingWindowDataset(data, starts, self.window_size)

    def _module_class(self):
        return TimeSeriesVAE

    def _module_params(self, X):
        return {
            "n_channels": X.shape[1], "window_size": self.window_size,
            "latent_dim": self.latent_dim, "encoder": self.encoder,
            "hidden_channels": tuple(self.hidden_channels),
            "kernel_size": self.kernel_size, "d_model": self.d_model,
            "n_heads": self.n_heads, "n_layers": self.n_layers, "dropout": self.dropout,
        }

    # ------------------------------------------------------------- scoring
    def reconstruction_errors(self, X):
        """Squared reconstruction error per sample and channel.

        For 2-D input, row ``t`` averages the errors at step ``t`` of every
        window covering it; for 3-D input, row ``i`` averages window ``i``
        over time. Errors are in the network's input units (standard
        deviations of the training data with ``scaling="standard"``).
        Divided by ``channel_scale_`` these are the terms the
        anomaly score adds up, so they say which channels drive an alarm
        (root-cause analysis).

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_channels) or (n_windows, n_channels, window_size)
            Data to reconstruct.

        Returns
        -------
        errors : ndarray of shape (n_samples, n_channels)
            The squared errors, before division by ``channel_scale_``.
        """
        check_is_fitted(self, "net_")
        return self._channel_errors(self._validate_score_input(X))

    def _calibrate(self, X):
        self.channel_scale_ = np.ones(X.shape[1])
        if self.normalize_channels:
            self.channel_scale_ = self._fit_channel_scale(self._channel_errors(X))
        return self._capped_calibration_scores(self._anomaly_scores(X))

    def _capped_calibration_scores(self, scores):
        # An incident in the held-out tail must not carry the threshold above
        # the anomalies to come: scores far above the typical one are capped.
        median = np.median(scores)
        if self.calibration_cap is None or not median > 0:
            return scores
        return np.minimum(scores, self.calibration_cap * median)

    def _batch_errors(self, X):
        """Yield ``(rows, squared errors of shape (batch, channels, window))``."""
        module = self.net_.module_
        for rows, x in self._scoring_batches(X):
            yield rows, (module.reconstruct(x) - x).pow_(2)

    @torch.inference_mode()
    def _channel_errors(self, X):
        device = self._net_device()
        if X.ndim == 3:
            errors = torch.empty(X.shape[0], X.shape[1], device=device)
            for rows, error in self._batch_errors(X):
                errors[rows] = error.mean(dim=2)
            return errors.cpu().numpy()
        n, n_channels = X.shape
        starts = torch.as_tensor(window_starts(n, self.window_size, self.stride), device=device)
        offsets = torch.arange(self.window_size, device=device)
        sums = torch.zeros(n, n_channels, device=device)
        counts = torch.zeros(n, device=device)
        for rows, error in self._batch_errors(X):
            positions = (starts[rows].unsqueeze(1) + offsets).reshape(-1)
            # Overlap-add: each step collects the errors of every window covering it.
            sums.index_add_(0, positions, error.transpose(1, 2).reshape(-1, n_channels))
            counts.index_add_(0, positions, torch.ones_like(positions, dtype=counts.dtype))
        return (sums / counts.unsqueeze(1)).cpu().numpy()

    def _channel_scores(self, X):
        return self._channel_errors(X) / self.channel_scale_

    @torch.inference_mode()
    def _anomaly_scores(self, X):
        if self.aggregation == "step":
            return self._channel_scores(X).sum(axis=1)
        starts = None if X.ndim == 3 else window_starts(X.shape[0], self.window_size, self.stride)
        n_windows = X.shape[0] if starts is None else len(starts)
        weight = torch.as_tensor(1.0 / self.channel_scale_, dtype=torch.float32,
                                 device=self._net_device())
        # Window score: channel-normalised error summed over channels, averaged
        # over time. Results go into one preallocated buffer: a small tensor
        # kept per batch would pin the heap between the large batch buffers and
        # let memory grow with the series length (glibc fragmentation).
        window_scores = torch.empty(n_windows, device=self._net_device())
        for rows, error in self._batch_errors(X):
            window_scores[rows] = (error.mean(dim=2) * weight).sum(dim=1)
        window_scores = window_scores.double().cpu().numpy()
        if starts is None:
            return window_scores
        return window_scores_to_steps(window_scores, starts, self.window_size, X.shape[0])
