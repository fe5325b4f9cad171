"""Time-series VAE modules: windows of shape (batch, n_channels, window_size).

Both encoders read channels-first windows; the transformer transposes to
(batch, time, features) inside, so the two are interchangeable. Decoder shapes
are derived from the encoder's configuration for any window length.
"""

import math

import torch
from torch import nn

from ._vae import ConvStack, GaussianHead, VAEModule

__all__ = ["TimeSeriesVAE", "conv_output_lengths"]


def conv_output_lengths(window_size, n_layers, kernel_size, stride=2):
    """Sequence length after each stride-``stride`` convolution with 'same' padding.

    Parameters
    ----------
    window_size : int
        Input length.
    n_layers : int
        Convolution layers.
    kernel_size : int
        Odd kernel size.
    stride : int, default=2
        Stride of each layer.

    Returns
    -------
    lengths : list of int
        ``n_layers + 1`` lengths starting with ``window_size``; the last one
        is the encoder's output length.

    Examples
    --------
    >>> conv_output_lengths(64, 2, kernel_size=5)
    [64, 32, 16]
    """
    lengths = [window_size]
    padding = kernel_size // 2
    for _ in range(n_layers):
        lengths.append((lengths[-1] + 2 * padding - kernel_size) // stride + 1)
    return lengths


class _ConvEncoder(ConvStack):
    """Stride-2 1-D convolutions with 'same' padding, flattened."""

    def __init__(self, n_channels, hidden_channels, kernel_size, dropout):
        super().__init__(nn.Conv1d, n_channels, hidden_channels, dropout,
                         kernel_size=kernel_size, stride=2, padding=kernel_size // 2)


class _ConvDecoder(nn.Module):
    """Mirror of :class:`_ConvEncoder`; transposed convolutions restore each length."""

    def __init__(self, latent_dim, n_channels, hidden_channels, kernel_size, lengths, dropout):
        super().__init__()
        channels = list(hidden_channels[::-1])
        self.start_shape = (channels[0], lengths[-1])
        self.project = nn.Linear(latent_dim, channels[0] * lengths[-1])
        padding = kernel_size // 2
        targets = lengths[-2::-1]  # lengths to restore, deepest first
        outs = channels[1:] + [n_channels]
        layers, in_len = [], lengths[-1]
        for i, (in_ch, out_ch, target) in enumerate(zip(channels, outs, targets)):
            natural = (in_len - 1) * 2 - 2 * padding + kernel_size
            layers.append(
                nn.ConvTranspose1d(
                    in_ch, out_ch, kernel_size, stride=2, padding=padding,
                    output_padding=target - natural,
                )
            )
            if i < len(channels) - 1:
                layers += [nn.GELU(), nn.Dropout(dropout)]
            in_len = target
        self.layers = nn.Sequential(*layers)

    def forward(self, z):
        h = self.project(z).view(-1, *self.start_shape)
        return self.layers(h)


def sinusoidal_positions(length, d_model):
    """Fixed sine/cosine positional encoding of shape (length, d_model)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(1e4) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: d_model // 2])
    return table


def _transformer_stack(d_model, n_heads, n_layers, dropout):
    layer = nn.TransformerEncoderLayer(
        d_model, n_heads, dim_feedforward=2 * d_model, dropout=dropout,
        batch_first=True, norm_first=True,
    )
    return nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)


class _TransformerEncoder(nn.Module):
    def __init__(self, n_channels, window_size, d_model, n_heads, n_layers, dropout):
        super().__init__()
        self.embed = nn.Linear(n_channels, d_model)
        self.register_buffer("positions", sinusoidal_positions(window_size, d_model))
        self.blocks = _transformer_stack(d_model, n_heads, n_layers, dropout)

    def forward(self, x):
        h = self.embed(x.transpose(1, 2)) + self.positions  # (batch, time, d_model)
        return self.blocks(h).mean(dim=1)


class _TransformerDecoder(nn.Module):
    """Broadcast ``z`` to every position, add positions, attend, project to channels."""

    def __init__(self, latent_dim, n_channels, window_size, d_model, n_heads, n_layers, dropout):
        super().__init__()
        self.project = nn.Linear(latent_dim, d_model)
        self.register_buffer("positions", sinusoidal_positions(window_size, d_model))
        self.blocks = _transformer_stack(d_model, n_heads, n_layers, dropout)
        self.out = nn.Linear(d_model, n_channels)

    def forward(self, z):
        h = self.project(z).unsqueeze(1) + self.positions
        return self.out(self.blocks(h)).transpose(1, 2)  # (batch, channels, time)


class TimeSeriesVAE(VAEModule):
    """VAE over multichannel windows of shape (batch, n_channels, window_size).

    Parameters
    ----------
    n_channels : int
        Channels per window.
    window_size : int
        Time steps per window (any length >= 1).
    latent_dim : int, default=8
        Size of the latent space.
    encoder : {"cnn", "transformer"}, default="cnn"
        ``"cnn"``: 1-D convolutions halving the length at each layer, mirrored
        by transposed convolutions. ``"transformer"``: self-attention over time
        steps with sinusoidal positions; the decoder attends over ``z`` placed at
        every position.
    hidden_channels : tuple of int, default=(32, 64)
        Channels of each convolution layer (``"cnn"`` only).
    kernel_size : int, default=5
        Odd convolution kernel size (``"cnn"`` only).
    d_model, n_heads, n_layers : int, default=64, 4, 2
        Width, attention heads and depth (``"transformer"`` only).
    dropout : float, default=0.0
        Dropout rate in the encoder and decoder.
    """

    def __init__(self, n_channels, window_size, latent_dim=8, encoder="cnn",
                 hidden_channels=(32, 64), kernel_size=5, d_model=64, n_heads=4,
                 n_layers=2, dropout=0.0):
        super().__init__()
        if encoder == "cnn":
            if kernel_size % 2 != 1:
                raise ValueError(f"kernel_size must be odd; got {kernel_size}.")
            hidden_channels = tuple(hidden_channels)
            lengths = conv_output_lengths(window_size, len(hidden_channels), kernel_size)
            self.encoder = _ConvEncoder(n_channels, hidden_channels, kernel_size, dropout)
            features = hidden_channels[-1] * lengths[-1]
            self.decoder = _ConvDecoder(
                latent_dim, n_channels, hidden_channels, kernel_size, lengths, dropout
            )
        elif encoder == "transformer":
            if d_model % n_heads != 0:
                raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}.")
            self.encoder = _TransformerEncoder(
                n_channels, window_size, d_model, n_heads, n_layers, dropout
            )
            features = d_model
            self.decoder = _TransformerDecoder(
                latent_dim, n_channels, window_size, d_model, n_heads, n_layers, dropout
            )
        else:
            raise ValueError(f"encoder must be 'cnn' or 'transformer'; got {encoder!r}.")
        self.head = GaussianHead(features, latent_dim)
