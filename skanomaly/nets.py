"""skorch side of the detectors: the VAE loss and the nets that train with it
or with a forecasting target. Batches reach them through
:class:`~skanomaly.batching.BatchLoader`.

VAE modules return ``(reconstruction, mu, logvar)`` from ``forward`` and offer
``reconstruct(x)`` (decode the posterior mean, no sampling) for scoring; they
train in a :class:`VAENet`, whose target is the input itself. Forecasting
modules (AnoFusion) return the predicted next step and train in a
:class:`ForecastNet`, whose datasets deliver ``(window, next_step)`` batches.
"""

import numpy as np
import torch
from pytorch_msssim import ssim
from skorch import NeuralNet
from skorch.hf import AccelerateMixin
from skorch.utils import to_tensor
from torch import nn

from .modules._vae import kl_divergence

__all__ = [
    "ELBOLoss", "SSIMELBOLoss", "ForecastLoss", "VAENet", "ForecastNet",
    "squared_error_per_sample", "ssim_data_range", "ssim_dissimilarity",
    "ssim_window_size", "AcceleratedVAENet", "AcceleratedForecastNet", "accelerated_net_class",
]


def squared_error_per_sample(reconstruction, target):
    """Sum of squared errors over every non-batch axis, one value per sample.

    Parameters
    ----------
    reconstruction : torch.Tensor of shape (batch, ...)
        The model's output.
    target : torch.Tensor of shape (batch, ...)
        What it should be.

    Returns
    -------
    errors : torch.Tensor of shape (batch,)
        The summed squared error of each sample.
    """
    return (reconstruction - target).pow(2).flatten(start_dim=1).sum(dim=1)


class ELBOLoss(nn.Module):
    """Negative evidence lower bound with a ``beta`` weight on the KL term.

    Both terms are summed per sample (squared error over every element of the
    sample, KL over latent dimensions) and then averaged over the batch, so
    ``beta`` has the same meaning for any window length, channel count or image
    size. With unit-variance Gaussian likelihood the squared error is twice the
    negative log-likelihood up to a constant; keeping the plain sum makes
    ``beta=1`` the usual "reconstruction + KL" trade-off used in practice.

    Parameters
    ----------
    beta : float, default=1.0
        Weight of the KL term (beta-VAE).
    """

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta

    def reconstruction_loss(self, reconstruction, target):
        """Per-sample reconstruction loss; subclasses add terms (e.g. SSIM).

        Parameters
        ----------
        reconstruction : torch.Tensor of shape (batch, ...)
            The decoded batch.
        target : torch.Tensor of shape (batch, ...)
            The input batch.

        Returns
        -------
        loss : torch.Tensor of shape (batch,)
            The loss of each sample.
        """
        return squared_error_per_sample(reconstruction, target)

    def forward(self, y_pred, target):
        """Return the batch-mean of ``reconstruction + beta * KL``.

        Parameters
        ----------
        y_pred : tuple
            The module's output ``(reconstruction, mu, logvar, ...)``.
        target : torch.Tensor of shape (batch, ...)
            The input batch.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        reconstruction, mu, logvar = y_pred[:3]
        per_sample = self.reconstruction_loss(reconstruction, target)
        per_sample = per_sample + self.beta * kl_divergence(mu, logvar)
        return per_sample.mean()


# pytorch-msssim's default Gaussian window and the smallest useful one.
_SSIM_WINDOW, _MIN_SSIM_WINDOW = 11, 3


def ssim_window_size(height, width):
    """SSIM window for an image size, or None when the image is too small.

    pytorch-msssim compares images through an 11x11 Gaussian window and skips
    the smoothing (with a warning) along sides shorter than it. The rule used
    here: the window is the largest odd size <= min(11, height, width); when
    that is below 3 (a side of 1 or 2 pixels) SSIM says nothing about local
    structure and the SSIM term is left out (squared error only).

    Parameters
    ----------
    height, width : int
        Image size in pixels.

    Returns
    -------
    window : int or None
        The odd window side, or None for no SSIM term.

    Examples
    --------
    >>> ssim_window_size(28, 28), ssim_window_size(8, 40), ssim_window_size(2, 9)
    (11, 7, None)
    """
    side = min(_SSIM_WINDOW, height, width)
    side -= 1 - side % 2  # largest odd size <= side
    return side if side >= _MIN_SSIM_WINDOW else None


def ssim_data_range(images):
    """Value range (max - min) of images for SSIM's constants; 1 for constant images.

    Missing values (NaN) are ignored.

    Parameters
    ----------
    images : array-like
        Pixel values.

    Returns
    -------
    data_range : float
        ``max - min``, or 1.0 when that is 0.

    Examples
    --------
    >>> import numpy as np
    >>> ssim_data_range(np.array([[0.2, np.nan], [0.9, 0.4]])), ssim_data_range(np.ones(3))
    (0.7, 1.0)
    """
    value_range = float(np.nanmax(images) - np.nanmin(images))
    return value_range if value_range > 0 else 1.0


def ssim_dissimilarity(reconstruction, target, data_range):
    """Per-image ``1 - SSIM`` (pytorch-msssim, mean over channels).

    Parameters
    ----------
    reconstruction : torch.Tensor of shape (batch, channels, height, width)
        The decoded images.
    target : torch.Tensor of shape (batch, channels, height, width)
        The input images.
    data_range : float
        Range of the pixel values (max - min), which sets SSIM's constants.

    Returns
    -------
    dissimilarity : torch.Tensor of shape (batch,)
        In [0, 2]; zeros when the images are too small for an SSIM window
        (see :func:`ssim_window_size`).
    """
    window = ssim_window_size(*target.shape[-2:])
    if window is None:
        return target.new_zeros(target.shape[0])
    value = ssim(reconstruction, target, data_range=data_range, size_average=False,
                 win_size=window)
    return 1.0 - value


class SSIMELBOLoss(ELBOLoss):
    """ELBO whose reconstruction term adds a weighted SSIM dissimilarity.

    Per image: ``sum of squared errors + ssim_weight * n_elements * (1 -
    SSIM)`` + ``beta * KL``. Scaling ``1 - SSIM`` by the number of elements
    makes it a per-pixel term summed like the squared error, so
    ``ssim_weight`` keeps its meaning for any image size.

    Parameters
    ----------
    beta : float, default=1.0
        Weight of the KL term.
    ssim_weight : float, default=1.0
        Weight of the SSIM term; 0 gives the plain ELBO.
    data_range : float, default=1.0
        Range of pixel values (max - min), needed by SSIM's constants.
    """

    def __init__(self, beta=1.0, ssim_weight=1.0, data_range=1.0):
        super().__init__(beta=beta)
        self.ssim_weight = ssim_weight
        self.data_range = data_range

    def reconstruction_loss(self, reconstruction, target):
        """Per-image squared error plus the weighted, per-pixel SSIM dissimilarity.

        Parameters
        ----------
        reconstruction : torch.Tensor of shape (batch, channels, height, width)
            The decoded images.
        target : torch.Tensor of shape (batch, channels, height, width)
            The input images.

        Returns
        -------
        loss : torch.Tensor of shape (batch,)
            The loss of each image.
        """
        loss = squared_error_per_sample(reconstruction, target)
        if self.ssim_weight:
            n_elements = target[0].numel()
            loss = loss + self.ssim_weight * n_elements * ssim_dissimilarity(
                reconstruction, target, self.data_range
            )
        return loss


class ForecastLoss(nn.Module):
    """Squared forecast error summed per sample, averaged over the batch.

    Summing over the forecast's elements (channels) mirrors
    :class:`ELBOLoss`, so the loss scale, and hence the learning rate that
    suits it, grows with the channel count the same way for every detector.
    It has no parameters.
    """

    def forward(self, y_pred, target):
        """Return the batch-mean of the per-sample sum of squared errors.

        Parameters
        ----------
        y_pred : torch.Tensor of shape (batch, n_channels)
            The forecast.
        target : torch.Tensor of shape (batch, n_channels)
            The step that followed.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        return squared_error_per_sample(y_pred, target).mean()


class _TrainingInterrupted(Exception):
    """Carries a KeyboardInterrupt past skorch, which would swallow it."""


class _StopTraining(Exception):
    """A callback's request to stop at the end of an epoch (skorch's idiom)."""


class _FiniteLossNet(NeuralNet):
    """``NeuralNet`` that stops at once, with advice, when the training loss is not finite.

    A ``KeyboardInterrupt`` (Ctrl-C) during training propagates out of ``fit``
    (skorch would end training quietly and return an under-trained net). The
    one exception is skorch's own idiom for stopping: a ``KeyboardInterrupt``
    raised by a callback's ``on_epoch_end`` (``EarlyStopping``) ends training
    normally.
    """

    def notify(self, method_name, **cb_kwargs):
        """skorch's notify; a stop requested at the end of an epoch becomes ``_StopTraining``."""
        try:
            return super().notify(method_name, **cb_kwargs)
        except KeyboardInterrupt as exc:
            if method_name == "on_epoch_end":
                raise _StopTraining from exc
            raise

    def fit_loop(self, X, y=None, **fit_params):
        """skorch's loop; a KeyboardInterrupt leaves it as ``_TrainingInterrupted``."""
        try:
            return super().fit_loop(X, y, **fit_params)
        except _StopTraining:
            return self
        except KeyboardInterrupt as exc:
            raise _TrainingInterrupted(len(self.history)) from exc

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``, re-raising a KeyboardInterrupt during training."""
        try:
            return super().partial_fit(X, y, classes, **fit_params)
        except _TrainingInterrupted as exc:
            raise KeyboardInterrupt(
                f"training interrupted in epoch {exc.args[0]}; the net is not kept"
            ) from None

    def train_step(self, batch, **fit_params):
        """One optimisation step; raises ``FloatingPointError`` on a NaN/inf loss."""
        step = super().train_step(batch, **fit_params)
        loss = step["loss"]
        if not torch.isfinite(loss):
            epoch = len(self.history)
            raise FloatingPointError(
                f"The training loss became {float(loss)} in epoch {epoch}. The model is "
                "discarded. Try a smaller learning rate (optimizer__lr / lr), scaling the "
                "input (e.g. StandardScaler in a Pipeline), a smaller beta, or gradient "
                "clipping (callbacks=[skorch.callbacks.GradientNormClipping(1.0)])."
            )
        return step


class VAENet(_FiniteLossNet):
    """A skorch ``NeuralNet`` that trains a VAE to reconstruct its input.

    The target is the input itself, so ``fit`` is called with ``y=None``.
    A non-finite training loss stops training at once with an error that says
    what to try, so no model that scores NaN is ever kept.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """VAE loss of a batch: the criterion compares the output with ``X``.

        Parameters
        ----------
        y_pred : tuple
            The module's output.
        y_true : None
            Ignored: the target is the input.
        X : torch.Tensor
            The input batch.
        training : bool, default=False
            Whether the loss is for a training step.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        X = to_tensor(X, device=self.device)
        return self.criterion_(y_pred, X)


class ForecastNet(_FiniteLossNet):
    """A skorch ``NeuralNet`` that trains a module to forecast a target.

    Its datasets' ``get_batch`` returns ``(inputs, target)`` (e.g. a window
    and the step after it), which :class:`~skanomaly.batching.BatchLoader` hands to skorch as
    ``(X, y)``; ``fit`` is called on such a dataset with ``y=None``. The
    criterion compares the module output with that target, never with the
    input. A non-finite training loss stops training as in :class:`VAENet`.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Forecast loss of a batch: the criterion compares the output with ``y_true``.

        Parameters
        ----------
        y_pred : torch.Tensor
            The forecast.
        y_true : torch.Tensor
            The target the dataset delivered with the batch.
        X : torch.Tensor, default=None
            The input batch (unused).
        training : bool, default=False
            Whether the loss is for a training step.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        if y_true is None:
            raise ValueError(
                "ForecastNet needs a target: its dataset's get_batch must return "
                "(inputs, target)."
            )
        return self.criterion_(y_pred, to_tensor(y_true, device=self.device))


class AcceleratedVAENet(AccelerateMixin, VAENet):
    """:class:`VAENet` trained through Hugging Face accelerate (skorch's ``AccelerateMixin``).

    Detectors build it when given ``accelerator=accelerate.Accelerator(...)``:
    several GPUs or processes (``accelerate launch``), mixed precision
    (``mixed_precision="bf16"``) and gradient accumulation come from the
    accelerator. Requires the ``accelerate`` package.
    """


class AcceleratedForecastNet(AccelerateMixin, ForecastNet):
    """:class:`ForecastNet` trained through Hugging Face accelerate.

    See :class:`AcceleratedVAENet`.
    """


def accelerated_net_class(net_class):
    """The accelerate-enabled counterpart of a skanomaly net class.

    Parameters
    ----------
    net_class : type
        :class:`VAENet`, :class:`ForecastNet` or one of their subclasses.

    Returns
    -------
    accelerated : type
        :class:`AcceleratedVAENet` or :class:`AcceleratedForecastNet`.

    Examples
    --------
    >>> accelerated_net_class(ForecastNet).__name__
    'AcceleratedForecastNet'
    """
    for plain, accelerated in ((ForecastNet, AcceleratedForecastNet), (VAENet, AcceleratedVAENet)):
        if issubclass(net_class, plain):
            return accelerated
    raise TypeError(f"{net_class.__name__} has no accelerate-enabled counterpart.")
