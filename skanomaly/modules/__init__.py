"""Pure PyTorch modules (no scikit-learn): the deep parts of the detectors."""

from ._vae import GaussianHead, VAEModule, reparameterize
from .timeseries import TimeSeriesVAE

__all__ = ["GaussianHead", "VAEModule", "TimeSeriesVAE", "reparameterize"]
