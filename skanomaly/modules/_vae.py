"""Pieces every VAE module shares: the Gaussian head and the reparameterisation."""

import torch
from torch import nn


class GaussianHead(nn.Module):
    """Map features to the mean and log-variance of a diagonal Gaussian."""

    def __init__(self, in_features, latent_dim):
        super().__init__()
        self.mu = nn.Linear(in_features, latent_dim)
        self.logvar = nn.Linear(in_features, latent_dim)

    def forward(self, h):
        # Clamp keeps exp(logvar) finite early in training without changing
        # any reasonable posterior (std between 4.5e-5 and 22000).
        return self.mu(h), self.logvar(h).clamp(-20.0, 20.0)


def reparameterize(mu, logvar, training):
    """Sample ``z`` while training; use the posterior mean otherwise (deterministic)."""
    if not training:
        return mu
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


class VAEModule(nn.Module):
    """A VAE from an encoder (x -> features) and a decoder (z -> x).

    Subclasses set ``self.encoder``, ``self.head`` (a :class:`GaussianHead`) and
    ``self.decoder``. ``forward`` returns ``(reconstruction, mu, logvar)``;
    ``reconstruct`` decodes the posterior mean, the deterministic path used for
    scoring.
    """

    def encode(self, x):
        """Posterior mean and log-variance of ``x``."""
        return self.head(self.encoder(x))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, self.training)
        return self.decoder(z), mu, logvar

    def reconstruct(self, x):
        """Decode the posterior mean of ``x``: no sampling, same output every call."""
        mu, _ = self.encode(x)
        return self.decoder(mu)
