"""Pure PyTorch modules (no scikit-learn): the deep parts of the detectors."""

from ._vae import GaussianHead, VAEModule, reparameterize
from .anofusion import AnoFusionNet
from .fusion import MultimodalVAE, product_of_experts
from .timeseries import TimeSeriesVAE
from .vision import VisionVAE

__all__ = [
    "AnoFusionNet", "GaussianHead", "MultimodalVAE", "VAEModule", "TimeSeriesVAE", "VisionVAE",
    "product_of_experts", "reparameterize",
]
