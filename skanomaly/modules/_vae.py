"""Pieces every VAE module shares: the Gaussian head, the reparameterisation
and the KL divergence to the standard normal prior."""

import torch
from torch import nn


class GaussianHead(nn.Module):
    """Map features to the mean and log-variance of a diagonal Gaussian.

    Parameters
    ----------
    in_features : int
        Size of the features.
    latent_dim : int
        Size of the latent space.
    """

    def __init__(self, in_features, latent_dim):
        super().__init__()
        self.mu = nn.Linear(in_features, latent_dim)
        self.logvar = nn.Linear(in_features, latent_dim)

    def forward(self, h):
        """Posterior mean and log-variance of features ``h``.

        Parameters
        ----------
        h : torch.Tensor of shape (batch, in_features)
            Encoder features.

        Returns
        -------
        mu, logvar : torch.Tensor of shape (batch, latent_dim)
            Mean and log-variance (clamped to [-20, 20]).
        """
        # Clamp keeps exp(logvar) finite early in training without changing
        # any reasonable posterior (std between 4.5e-5 and 22000).
        return self.mu(h), self.logvar(h).clamp(-20.0, 20.0)


def kl_divergence(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample, summed over latent dims.

    Parameters
    ----------
    mu, logvar : torch.Tensor of shape (batch, latent_dim)
        Posterior mean and log-variance.

    Returns
    -------
    kl : torch.Tensor of shape (batch,)
        The divergence of each sample.

    Examples
    --------
    >>> import torch
    >>> kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)).tolist()
    [0.0, 0.0]
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def reparameterize(mu, logvar, training):
    """Sample ``z`` while training; use the posterior mean otherwise (deterministic).

    Parameters
    ----------
    mu, logvar : torch.Tensor of shape (batch, latent_dim)
        Posterior mean and log-variance.
    training : bool
        Sample (``True``) or return ``mu``.

    Returns
    -------
    z : torch.Tensor of shape (batch, latent_dim)
        The latent code.
    """
    if not training:
        return mu
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


class ConvStack(nn.Module):
    """Strided convolutions, each followed by GELU and dropout; output flattened.

    The encoder of the time-series (``nn.Conv1d``) and vision (``nn.Conv2d``)
    VAEs.

    Parameters
    ----------
    conv : type
        The convolution class, e.g. ``nn.Conv1d`` or ``nn.Conv2d``.
    n_channels : int
        Input channels.
    hidden_channels : sequence of int
        Output channels of each convolution.
    dropout : float
        Dropout rate after each convolution.
    **conv_params : dict
        Arguments of every convolution (``kernel_size``, ``stride``, ``padding``).
    """

    def __init__(self, conv, n_channels, hidden_channels, dropout, **conv_params):
        super().__init__()
        layers, in_ch = [], n_channels
        for out_ch in hidden_channels:
            layers += [conv(in_ch, out_ch, **conv_params), nn.GELU(), nn.Dropout(dropout)]
            in_ch = out_ch
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        """Encode ``x`` and flatten every axis but the batch.

        Parameters
        ----------
        x : torch.Tensor
            A batch of inputs, channels on axis 1.

        Returns
        -------
        features : torch.Tensor of shape (batch, n_features)
            The flattened output of the last convolution.
        """
        return self.layers(x).flatten(start_dim=1)


class VAEModule(nn.Module):
    """A VAE from an encoder (x -> features) and a decoder (z -> x).

    Subclasses set ``self.encoder``, ``self.head`` (a :class:`GaussianHead`) and
    ``self.decoder``. ``forward`` returns ``(reconstruction, mu, logvar)``;
    ``reconstruct`` decodes the posterior mean, the deterministic path used for
    scoring. It has no constructor parameters of its own.
    """

    def encode(self, x):
        """Posterior mean and log-variance of ``x``.

        Parameters
        ----------
        x : torch.Tensor
            A batch of inputs.

        Returns
        -------
        mu, logvar : torch.Tensor of shape (batch, latent_dim)
            The posterior's parameters.
        """
        return self.head(self.encoder(x))

    def forward(self, x):
        """Encode, sample ``z`` (posterior mean in eval mode) and decode.

        Parameters
        ----------
        x : torch.Tensor
            A batch of inputs.

        Returns
        -------
        reconstruction, mu, logvar : torch.Tensor
            The decoded batch and the posterior's parameters.
        """
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, self.training)
        return self.decoder(z), mu, logvar

    def reconstruct(self, x):
        """Decode the posterior mean of ``x``: no sampling, same output every call.

        Parameters
        ----------
        x : torch.Tensor
            A batch of inputs.

        Returns
        -------
        reconstruction : torch.Tensor
            Same shape as ``x``.
        """
        mu, _ = self.encode(x)
        return self.decoder(mu)
