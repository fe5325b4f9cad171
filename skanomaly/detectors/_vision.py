"""VisionVAEDetector: a convolutional VAE over images of any size and channel count."""

import math
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import BaseDeepDetector
from ..batching import ReadyWindowDataset
from ..modules.vision import VisionVAE
from ..nets import SSIMELBOLoss, ssim_data_range, ssim_dissimilarity
from ..utils._compat import Interval
from ..utils._validation import as_float32_tensor

__all__ = ["VisionVAEDetector"]


def _gaussian_blur(maps, sigma):
    """Separable Gaussian smoothing of (n, H, W) maps, edges replicated."""
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=maps.dtype, device=maps.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    h = F.pad(maps.unsqueeze(1), (radius, radius, radius, radius), mode="replicate")
    h = F.conv2d(h, kernel.view(1, 1, 1, -1))
    return F.conv2d(h, kernel.view(1, 1, -1, 1)).squeeze(1)


class VisionVAEDetector(BaseDeepDetector):
    """Convolutional variational autoencoder anomaly detector for images.

    Images of any height, width (not only powers of two) and channel count
    are encoded by stride-2 convolutions and decoded by their mirror; the
    decoder restores every intermediate size exactly. Training minimises
    squared error + ``ssim_weight`` x SSIM dissimilarity (pytorch-msssim) +
    ``beta`` x KL, and the anomaly score of an image is the reconstruction
    part for the posterior mean, per pixel: ``mean squared error +
    ssim_weight * (1 - SSIM)``. :meth:`anomaly_map` gives the per-pixel
    squared error for localisation; :meth:`channel_scores` gives each image
    channel's share of the squared-error term (its mean squared error over
    pixels divided by the channel count), so a row sums to the score less its
    SSIM term.

    Pixels are used as given: scale them first (e.g. to [0, 1]).

    Parameters
    ----------
    image_shape : tuple of int, default=None
        Shape of one image, ``(channels, height, width)`` or ``(height,
        width)`` (one channel); one entry may be ``-1`` and is then inferred
        from the number of features, as in :func:`numpy.reshape`. Needed for
        flat 2-D input (one image per row, C-order); optional for 3-D
        ``(n, height, width)`` and 4-D ``(n, channels, height, width)`` input,
        which must then agree with it. 4-D input whose last axis has 1, 3 or
        4 entries and whose second has not, e.g. channels-last RGB ``(n,
        height, width, 3)``, is refused with the transpose to apply.
    latent_dim : int, default=16
        Size of the latent space.
    hidden_channels : tuple of int, default=(32, 64)
        Channels of each stride-2 3x3 convolution (each halves the sides,
        rounding up).
    dropout : float, default=0.0
        Dropout rate.
    ssim_weight : float, default=1.0
        Weight of the SSIM term in the loss and in the score. SSIM uses the
        largest odd window <= min(11, height, width); images with a side
        under 3 pixels get no SSIM term (see :func:`~skanomaly.nets.ssim_window_size`).
    beta : float, default=1.0
        Weight of the KL term (both terms are summed per image).
    {shared_parameters}

    Attributes
    ----------
    net_ : skanomaly.nets.VAENet
        The trained skorch net.
    thresholder_ : thresholder
        The fitted copy of ``threshold``.
    offset_ : float
        ``decision_function(X) = score_samples(X) - offset_``.
    image_shape_ : tuple of int
        ``(channels, height, width)`` seen in ``fit``.
    data_range_ : float
        Pixel range (max - min) of the training images, used by SSIM.
    n_features_in_ : int
        Pixels per image times channels.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.detectors import VisionVAEDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(40, 12, 10).astype("float32") * 0.1  # 40 images of 12x10
    >>> det = VisionVAEDetector(latent_dim=4, hidden_channels=(8,), max_epochs=2,
    ...                         random_state=0).fit(X)
    >>> det.score_samples(X).shape, det.anomaly_map(X[:2]).shape
    ((40,), (2, 12, 10))
    """

    _doc_fields = {
        "samples": "images",
        "batch_size": "64",
        "max_epochs": "None",
        "max_epochs_type": "int or None",
        "max_epochs_note": (
            " ``None``: a budget of about ``skanomaly.base.TRAINING_STEPS`` (1,200) optimiser"
            " steps whatever the number of images, with early stopping on the held-out loss."
        ),
        "held_out_unit": "images",
    }

    _parameter_constraints = {
        **BaseDeepDetector._parameter_constraints,
        "image_shape": [tuple, list, None],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_channels": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "ssim_weight": [Interval(Real, 0, None, closed="left")],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [dict(image_shape=(1, 1, -1), latent_dim=2, hidden_channels=(4,), max_epochs=2,
                     batch_size=32, device="cpu", random_state=0)]

    def __init__(
        self, *, image_shape=None, latent_dim=16, hidden_channels=(32, 64), dropout=0.0,
        ssim_weight=1.0, beta=1.0, optimizer=torch.optim.Adam, lr=1e-3, max_epochs=None,
        batch_size=64, validation_fraction=0.1, early_stopping=True, patience=5,
        threshold=None, callbacks=None, device="auto", random_state=None, verbose=0,
        **kwargs,
    ):
        self._store_params(locals())  # every argument, unchanged

    # --------------------------------------------------------- validation
    def _declared_shape(self, n_features):
        """``image_shape`` as (C, H, W) for ``n_features`` values, -1 resolved."""
        shape = tuple(self.image_shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or not all(isinstance(s, Integral) for s in shape):
            raise ValueError(
                f"image_shape must be (channels, height, width) or (height, width) integers; "
                f"got {self.image_shape!r}."
            )
        if sum(s == -1 for s in shape) > 1 or any(s < 1 and s != -1 for s in shape):
            raise ValueError(
                f"image_shape entries must be >= 1, with at most one -1; got {self.image_shape!r}."
            )
        known = math.prod(s for s in shape if s != -1)
        if -1 in shape:
            if n_features % known:
                raise ValueError(
                    f"X has {n_features} features per row, which image_shape="
                    f"{self.image_shape!r} cannot hold (not a multiple of {known})."
                )
            shape = tuple(n_features // known if s == -1 else s for s in shape)
        elif known != n_features:
            raise ValueError(
                f"X has {n_features} features per row but image_shape={self.image_shape!r} "
                f"holds {known} values."
            )
        return tuple(int(s) for s in shape)

    def _check_input(self, X, reset):
        if getattr(X, "ndim", 2) in (3, 4):
            images = check_array(X, dtype=[np.float32, np.float64], allow_nd=True,
                                 input_name="X")
            if images.ndim == 3:
                images = images[:, None]  # grayscale (n, H, W)
            elif images.shape[-1] in (1, 3, 4) and images.shape[1] not in (1, 3, 4):
                # (n, H, W, C) would be read as H channels of W x C images
                raise ValueError(
                    f"X of shape {images.shape} looks channels-last (n, height, width, "
                    "channels); this detector reads 4-D input as (n, channels, height, "
                    "width). Pass X.transpose(0, 3, 1, 2)."
                )
            shape = images.shape[1:]
            if reset and self.image_shape is not None:
                declared = self._declared_shape(math.prod(shape))
                if declared != shape:
                    raise ValueError(
                        f"X holds images of shape {shape} (channels, height, width) but "
                        f"image_shape={self.image_shape!r}."
                    )
            if not reset and shape != self.image_shape_:
                raise ValueError(
                    f"X holds images of shape {shape} (channels, height, width) but the "
                    f"detector was fitted on {self.image_shape_}."
                )
            flat = validate_data(self, images.reshape(len(images), -1), reset=reset)
        elif getattr(X, "ndim", 2) <= 2:  # validate_data explains 1-D input
            flat = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
            if flat.ndim != 2:
                raise ValueError(f"X must be 2-D, 3-D or 4-D; got shape {flat.shape}.")
            if reset:
                if self.image_shape is None:
                    raise ValueError(
                        "X is 2-D (one flat image per row): set image_shape=(channels, "
                        "height, width) or pass X as (n, height, width) / (n, channels, "
                        "height, width)."
                    )
                shape = self._declared_shape(flat.shape[1])
            else:
                shape = self.image_shape_
        else:
            raise ValueError(
                "X must be 2-D (flat rows with image_shape), 3-D (n, height, width) or 4-D "
                f"(n, channels, height, width); got {X.ndim}-D input."
            )
        if reset:
            self.image_shape_ = tuple(shape)
        return flat.reshape(len(flat), *self.image_shape_)

    def _validate_fit_input(self, X):
        if len(self.hidden_channels) == 0:
            raise ValueError("hidden_channels must name at least one layer.")
        return self._check_input(X, reset=True)

    def _fit_data_state(self, images, train_part):
        # SSIM's constants need the pixel range of the training images.
        self.data_range_ = ssim_data_range(images)

    def _validate_score_input(self, X):
        return self._check_input(X, reset=False)

    # ------------------------------------------------------------ training
    def _make_dataset(self, part, device):
        return ReadyWindowDataset(as_float32_tensor(part, device))

    def _module_class(self):
        return VisionVAE

    def _module_params(self, X):
        return {
            "n_channels": X.shape[1], "height": X.shape[2], "width": X.shape[3],
            "latent_dim": self.latent_dim, "hidden_channels": tuple(self.hidden_channels),
            "dropout": self.dropout,
        }

    def _criterion(self):
        return SSIMELBOLoss, {
            "beta": self.beta, "ssim_weight": self.ssim_weight, "data_range": self.data_range_,
        }

    # ------------------------------------------------------------- scoring
    def _batches(self, X):
        """Yield ``(rows, images, reconstructions)`` batch by batch."""
        module = self.net_.module_
        for rows, x in self._scoring_batches(X):
            yield rows, x, module.reconstruct(x)

    @torch.inference_mode()
    def _anomaly_scores(self, X):
        # One preallocated buffer, as in TimeSeriesVAEDetector: a small tensor
        # kept per batch would pin the heap between the large batch buffers.
        scores = torch.empty(X.shape[0], device=self._net_device())
        for rows, x, rec in self._batches(X):
            score = (rec - x).pow(2).flatten(start_dim=1).mean(dim=1)
            if self.ssim_weight:
                score = score + self.ssim_weight * ssim_dissimilarity(rec, x, self.data_range_)
            scores[rows] = score
        return scores.cpu().numpy().astype(np.float64)

    @torch.inference_mode()
    def _channel_scores(self, X):
        scores = torch.empty(X.shape[0], X.shape[1], device=self._net_device())
        for rows, x, rec in self._batches(X):
            scores[rows] = (rec - x).pow(2).flatten(start_dim=2).mean(dim=2) / x.shape[1]
        return scores.cpu().numpy().astype(np.float64)

    @torch.inference_mode()
    def anomaly_map(self, X, sigma=0.0):
        """Per-pixel anomaly map: squared reconstruction error, mean over channels.

        Parameters
        ----------
        X : array-like
            Images in any form accepted by ``fit``.
        sigma : float, default=0.0
            Standard deviation (pixels) of a Gaussian smoothing of each map;
            ``0`` leaves it raw. A little smoothing (1-4 px) usually helps
            localisation.

        Returns
        -------
        maps : ndarray of shape (n_samples, height, width)
            Higher means more anomalous.
        """
        check_is_fitted(self, "net_")
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0; got {sigma}.")
        maps = []
        for _, x, rec in self._batches(self._validate_score_input(X)):
            error = (rec - x).pow(2).mean(dim=1)
            maps.append(_gaussian_blur(error, sigma) if sigma > 0 else error)
        return torch.cat(maps).cpu().numpy()
