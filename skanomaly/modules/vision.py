"""Image VAE modules: images of shape (batch, n_channels, height, width).

Every layer's output size is computed from the configured image size, so any
height and width work (not only powers of two) and any channel count. The
decoder mirrors the encoder and restores each intermediate size exactly with
``output_padding``, instead of resizing its output.
"""

from torch import nn

from ._vae import ConvStack, GaussianHead, VAEModule

__all__ = ["VisionVAE", "conv2d_output_sizes"]

# 3x3 kernels, stride 2, padding 1: each layer maps a side s to ceil(s / 2),
# and a transposed layer with output_padding 0 or 1 maps it back exactly.
_KERNEL, _STRIDE, _PADDING = 3, 2, 1


def conv2d_output_sizes(height, width, n_layers):
    """``(height, width)`` after each stride-2 layer, input size first.

    Parameters
    ----------
    height, width : int
        Input image size.
    n_layers : int
        Stride-2 layers.

    Returns
    -------
    sizes : list of tuple of int
        ``n_layers + 1`` sizes, each side halved and rounded up per layer.

    Examples
    --------
    >>> conv2d_output_sizes(28, 28, 3)
    [(28, 28), (14, 14), (7, 7), (4, 4)]
    >>> conv2d_output_sizes(5, 1, 2)
    [(5, 1), (3, 1), (2, 1)]
    """
    sizes = [(height, width)]
    for _ in range(n_layers):
        sizes.append(tuple((s + 2 * _PADDING - _KERNEL) // _STRIDE + 1 for s in sizes[-1]))
    return sizes


class ConvEncoder2d(ConvStack):
    """Strided 3x3 convolutions, flattened: (batch, C, H, W) -> (batch, features)."""

    def __init__(self, n_channels, hidden_channels, dropout=0.0):
        super().__init__(nn.Conv2d, n_channels, hidden_channels, dropout,
                         kernel_size=_KERNEL, stride=_STRIDE, padding=_PADDING)


class ConvDecoder2d(nn.Module):
    """Mirror of :class:`ConvEncoder2d`: (batch, latent_dim) -> (batch, C, H, W)."""

    def __init__(self, latent_dim, n_channels, hidden_channels, sizes, dropout=0.0):
        super().__init__()
        channels = list(hidden_channels)[::-1]
        self.start_shape = (channels[0], *sizes[-1])
        self.project = nn.Linear(latent_dim, channels[0] * sizes[-1][0] * sizes[-1][1])
        outs = channels[1:] + [n_channels]
        layers, current = [], sizes[-1]
        for i, (in_ch, out_ch, target) in enumerate(zip(channels, outs, sizes[-2::-1])):
            natural = [(s - 1) * _STRIDE - 2 * _PADDING + _KERNEL for s in current]
            layers.append(nn.ConvTranspose2d(
                in_ch, out_ch, _KERNEL, stride=_STRIDE, padding=_PADDING,
                output_padding=tuple(t - n for t, n in zip(target, natural)),
            ))
            if i < len(channels) - 1:
                layers += [nn.GELU(), nn.Dropout(dropout)]
            current = target
        self.layers = nn.Sequential(*layers)

    def forward(self, z):
        return self.layers(self.project(z).view(-1, *self.start_shape))


class VisionVAE(VAEModule):
    """Convolutional VAE over images of shape (batch, n_channels, height, width).

    Parameters
    ----------
    n_channels : int
        Channels per image (1 for grayscale, 3 for RGB, any other count).
    height, width : int
        Image size in pixels (any value >= 1).
    latent_dim : int, default=16
        Size of the latent space.
    hidden_channels : tuple of int, default=(32, 64)
        Channels of each stride-2 convolution; each layer halves the image
        sides (rounding up).
    dropout : float, default=0.0
        Dropout rate in the encoder and decoder.

    Examples
    --------
    >>> import torch
    >>> vae = VisionVAE(3, 37, 50, latent_dim=4).eval()
    >>> vae.reconstruct(torch.zeros(2, 3, 37, 50)).shape
    torch.Size([2, 3, 37, 50])
    """

    def __init__(self, n_channels, height, width, latent_dim=16, hidden_channels=(32, 64),
                 dropout=0.0):
        super().__init__()
        hidden_channels = tuple(hidden_channels)
        if not hidden_channels:
            raise ValueError("hidden_channels must name at least one layer.")
        sizes = conv2d_output_sizes(height, width, len(hidden_channels))
        self.encoder = ConvEncoder2d(n_channels, hidden_channels, dropout)
        features = hidden_channels[-1] * sizes[-1][0] * sizes[-1][1]
        self.head = GaussianHead(features, latent_dim)
        self.decoder = ConvDecoder2d(latent_dim, n_channels, hidden_channels, sizes, dropout)

    @property
    def n_features(self):
        """Size of the encoder's flattened output."""
        return self.head.mu.in_features

