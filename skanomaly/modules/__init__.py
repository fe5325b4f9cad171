"""Pure PyTorch modules (no scikit-learn): the deep parts of the detectors."""

from ._vae import GaussianHead, VAEModule, kl_divergence, reparameterize
from .anofusion import AnoFusionNet
from .fusion import MultimodalVAE, product_of_experts
from .timeseries import TimeSeriesVAE
from .vision import VisionVAE

__all__ = [
    "AnoFusionNet", "GaussianHead", "MultimodalVAE", "VAEModule", "TimeSeriesVAE", "VisionVAE",
    "kl_divergence", "product_of_experts", "reparameterize",
]
