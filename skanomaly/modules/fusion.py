"""Multimodal VAE: one encoder and one decoder per modality, one shared latent.

Each modality is described by the shape of one sample and its kind follows
from it: ``(n_features,)`` tabular (MLP), ``(n_channels, length)`` time series
(1-D convolutions of :class:`~skanomaly.modules.TimeSeriesVAE`),
``(n_channels, height, width)`` image (2-D convolutions of
:class:`~skanomaly.modules.VisionVAE`). Every encoder output is projected to a
``hidden_dim`` token; the tokens are fused into one posterior over a
``latent_dim`` latent that every decoder reads:

* ``"poe"``: product of Gaussian experts *including the prior expert*
  N(0, I), so a sample with a missing modality (or, in the limit, none) still
  has a proper posterior. With ``train_single_experts`` training also fits
  each expert alone, as in the sub-sampled ELBO of MVAE (Wu and
  Goodman, NeurIPS 2018): an expert trained only in company gives poor
  posteriors on the samples that miss the other modalities;
* ``"moe"``: mixture of experts (training samples ``z`` from one present
  expert per sample, KL averaged over experts; scoring decodes the mixture
  mean);
* ``"concat"``: tokens concatenated and projected back, so the latent keeps
  ``latent_dim`` whatever the number of modalities.

Optional cross-modal attention lets the tokens attend to each other before
fusion; it reads the tokens the encoders produced once.
"""

import torch
from torch import nn

from ._vae import GaussianHead, kl_divergence, reparameterize
from .timeseries import TimeSeriesVAE
from .vision import VisionVAE

__all__ = ["MultimodalVAE", "MLPVAE", "product_of_experts", "modality_kind"]

_KINDS = {1: "tabular", 2: "timeseries", 3: "image"}


def modality_kind(shape):
    """Kind of a modality from the shape of one sample.

    Parameters
    ----------
    shape : tuple of int
        Shape of one sample of the modality.

    Returns
    -------
    kind : {"tabular", "timeseries", "image"}
        From the number of dimensions: 1, 2 or 3.

    Examples
    --------
    >>> modality_kind((38,)), modality_kind((2, 50)), modality_kind((1, 28, 28))
    ('tabular', 'timeseries', 'image')
    """
    try:
        return _KINDS[len(shape)]
    except KeyError:
        raise ValueError(
            f"a modality sample must have 1 (tabular), 2 (time series: channels, length) or "
            f"3 (image: channels, height, width) dimensions; got shape {tuple(shape)}."
        ) from None


def product_of_experts(mus, logvars, mask):
    """Precision-weighted product of Gaussian experts and the prior N(0, I).

    Parameters
    ----------
    mus, logvars : torch.Tensor of shape (batch, n_experts, latent_dim)
        Mean and log-variance of each expert.
    mask : torch.Tensor of shape (batch, n_experts)
        1 where the expert (modality) is present, 0 where it is missing.

    Returns
    -------
    mu, logvar : torch.Tensor of shape (batch, latent_dim)
        The fused posterior.
    """
    precision = torch.exp(-logvars) * mask.unsqueeze(-1)
    # The prior expert contributes precision 1 and mean 0.
    total = 1.0 + precision.sum(dim=1)
    mu = (mus * precision).sum(dim=1) / total
    return mu, -torch.log(total)


class MLPVAE(nn.Module):
    """Encoder and decoder MLPs for tabular samples of shape (n_features,).

    Parameters
    ----------
    n_features : int
        Values per sample.
    latent_dim : int
        Size of the latent space.
    hidden_dim : int, default=64
        Width of the hidden layers.
    dropout : float, default=0.0
        Dropout rate.
    """

    def __init__(self, n_features, latent_dim, hidden_dim=64, dropout=0.0):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden_dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim), nn.GELU(),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, n_features),
        )
        self.n_features = hidden_dim


def _unimodal(shape, latent_dim, hidden_dim, hidden_channels, kernel_size, dropout):
    """Encoder, decoder and encoder-output size of one modality."""
    kind = modality_kind(shape)
    if kind == "tabular":
        vae = MLPVAE(shape[0], latent_dim, hidden_dim, dropout)
        return vae.encoder, vae.decoder, vae.n_features
    if kind == "timeseries":
        vae = TimeSeriesVAE(shape[0], shape[1], latent_dim, "cnn", hidden_channels,
                            kernel_size, dropout=dropout)
    else:
        vae = VisionVAE(*shape, latent_dim=latent_dim, hidden_channels=hidden_channels,
                        dropout=dropout)
    return vae.encoder, vae.decoder, vae.head.mu.in_features


class MultimodalVAE(nn.Module):
    """VAE over several modalities of the same samples with a fused latent.

    ``forward(mask=None, **inputs)`` takes one tensor per modality (the
    batch dict of a detector) and returns ``(reconstructions, mu, logvar,
    kl)``: a dict of reconstructions, the fused posterior and the per-sample
    KL term (for ``"moe"`` the mean KL of the experts, since a mixture has
    no closed form).

    Parameters
    ----------
    modalities : dict of str to tuple of int
        Shape of one sample of each modality; its length picks the encoder.
    latent_dim : int, default=16
        Size of the shared latent space.
    fusion : {"poe", "moe", "concat"}, default="poe"
        How the modality posteriors become one.
    hidden_dim : int, default=64
        Width of the MLPs and of each modality's token.
    hidden_channels : tuple of int, default=(32, 64)
        Convolution channels of the time-series and image encoders.
    kernel_size : int, default=5
        Odd kernel size of the time-series convolutions.
    cross_attention : bool, default=False
        Let the modality tokens attend to each other (missing ones masked).
    n_heads : int, default=4
        Attention heads; must divide ``hidden_dim``.
    dropout : float, default=0.0
        Dropout rate.
    train_single_experts : bool, default=False
        With ``fusion="poe"`` and two modalities or more, ``forward`` in
        training mode also returns, for each modality, the reconstruction of
        that modality from its expert alone (with the prior expert) and that
        posterior's KL term, as a fifth output ``{name: (reconstruction,
        kl)}``; the loss adds them. Ignored by the other fusions (``"moe"``
        already trains each expert alone; ``"concat"`` has no experts).

    Examples
    --------
    >>> import torch
    >>> vae = MultimodalVAE({"img": (1, 9, 7), "tab": (5,)}, latent_dim=4).eval()
    >>> rec, mu, logvar, kl = vae(img=torch.zeros(3, 1, 9, 7), tab=torch.zeros(3, 5))
    >>> rec["img"].shape, mu.shape
    (torch.Size([3, 1, 9, 7]), torch.Size([3, 4]))
    """

    def __init__(self, modalities, latent_dim=16, fusion="poe", hidden_dim=64,
                 hidden_channels=(32, 64), kernel_size=5, cross_attention=False,
                 n_heads=4, dropout=0.0, train_single_experts=False):
        super().__init__()
        if fusion not in ("poe", "moe", "concat"):
            raise ValueError(f"fusion must be 'poe', 'moe' or 'concat'; got {fusion!r}.")
        if cross_attention and hidden_dim % n_heads:
            raise ValueError(f"hidden_dim={hidden_dim} must be divisible by n_heads={n_heads}.")
        self.names = list(modalities)
        self.fusion = fusion
        # With one modality its expert alone *is* the fused posterior.
        self.train_single_experts = (train_single_experts and fusion == "poe"
                                     and len(self.names) > 1)
        self.encoders, self.decoders = nn.ModuleDict(), nn.ModuleDict()
        self.tokens = nn.ModuleDict()
        for name, shape in modalities.items():
            enc, dec, features = _unimodal(
                tuple(shape), latent_dim, hidden_dim, tuple(hidden_channels), kernel_size, dropout
            )
            self.encoders[name], self.decoders[name] = enc, dec
            self.tokens[name] = nn.Sequential(nn.Linear(features, hidden_dim), nn.GELU())
        self.attention = None
        if cross_attention:
            self.modality_embedding = nn.Parameter(torch.zeros(len(self.names), hidden_dim))
            self.norm = nn.LayerNorm(hidden_dim)
            self.attention = nn.MultiheadAttention(hidden_dim, n_heads, dropout=dropout,
                                                   batch_first=True)
        if fusion == "concat":
            # Projection back to hidden_dim keeps the latent at latent_dim.
            self.project = nn.Sequential(
                nn.Linear(len(self.names) * hidden_dim, hidden_dim), nn.GELU()
            )
            self.head = GaussianHead(hidden_dim, latent_dim)
        else:
            self.experts = nn.ModuleDict(
                {name: GaussianHead(hidden_dim, latent_dim) for name in self.names}
            )

    def _tokens(self, inputs, mask):
        # Each encoder runs exactly once; attention mixes the resulting tokens.
        tokens = torch.stack(
            [self.tokens[n](self.encoders[n](inputs[n])) for n in self.names], dim=1
        )
        if self.attention is not None:
            h = self.norm(tokens + self.modality_embedding)
            attended, _ = self.attention(h, h, h, key_padding_mask=mask == 0,
                                         need_weights=False)
            tokens = tokens + attended
        return tokens

    def _posterior(self, inputs, mask):
        """Fused posterior, per-expert parameters (None for concat) and mask."""
        first = inputs[self.names[0]]
        if mask is None:
            mask = torch.ones(first.shape[0], len(self.names), device=first.device)
        tokens = self._tokens(inputs, mask)
        if self.fusion == "concat":
            mu, logvar = self.head(self.project(tokens.flatten(start_dim=1)))
            return mu, logvar, None, mask
        params = [self.experts[n](tokens[:, i]) for i, n in enumerate(self.names)]
        mus = torch.stack([p[0] for p in params], dim=1)
        logvars = torch.stack([p[1] for p in params], dim=1)
        if self.fusion == "poe":
            mu, logvar = product_of_experts(mus, logvars, mask)
        else:  # moe: moments of the equal-weight mixture of the present experts
            weights = (mask / mask.sum(dim=1, keepdim=True)).unsqueeze(-1)
            mu = (weights * mus).sum(dim=1)
            second = (weights * (logvars.exp() + mus.pow(2))).sum(dim=1)
            logvar = torch.log((second - mu.pow(2)).clamp_min(1e-8))
        return mu, logvar, (mus, logvars), mask

    def _kl(self, mu, logvar, experts, mask):
        if self.fusion != "moe":
            return kl_divergence(mu, logvar)
        mus, logvars = experts
        per_expert = torch.stack(
            [kl_divergence(mus[:, i], logvars[:, i]) for i in range(len(self.names))], dim=1
        )
        return (per_expert * mask).sum(dim=1) / mask.sum(dim=1)

    def forward(self, mask=None, **inputs):
        """Encode, fuse, sample ``z`` (the posterior mean in eval mode) and decode.

        Parameters
        ----------
        mask : torch.Tensor of shape (batch, n_modalities), default=None
            1 where a modality is present; None: all present.
        **inputs : dict of str to torch.Tensor
            One batch per modality.

        Returns
        -------
        out : tuple
            ``(reconstructions, mu, logvar, kl)``, plus the single experts'
            ``{name: (reconstruction, kl)}`` when training them.
        """
        mu, logvar, experts, mask = self._posterior(inputs, mask)
        if self.fusion == "moe" and self.training:
            # One present expert per sample: a draw from the mixture.
            choice = torch.multinomial(mask, 1).squeeze(1)
            rows = torch.arange(mask.shape[0], device=mask.device)
            z = reparameterize(experts[0][rows, choice], experts[1][rows, choice], True)
        else:
            z = reparameterize(mu, logvar, self.training)
        reconstructions = {n: self.decoders[n](z) for n in self.names}
        out = reconstructions, mu, logvar, self._kl(mu, logvar, experts, mask)
        if self.training and self.train_single_experts:
            return (*out, self._single_experts(*experts))
        return out

    def _single_experts(self, mus, logvars):
        """Each modality decoded from its own expert with the prior: {name: (rec, kl)}."""
        singles = {}
        for i, name in enumerate(self.names):
            mu, logvar = product_of_experts(mus[:, i:i + 1], logvars[:, i:i + 1],
                                            torch.ones_like(mus[:, i:i + 1, 0]))
            z = reparameterize(mu, logvar, True)
            singles[name] = self.decoders[name](z), kl_divergence(mu, logvar)
        return singles

    def encode(self, mask=None, **inputs):
        """Fused posterior mean and log-variance.

        Parameters
        ----------
        mask : torch.Tensor of shape (batch, n_modalities), default=None
            1 where a modality is present; None: all present.
        **inputs : dict of str to torch.Tensor
            One batch per modality.

        Returns
        -------
        mu, logvar : torch.Tensor of shape (batch, latent_dim)
            The fused posterior.
        """
        mu, logvar, _, _ = self._posterior(inputs, mask)
        return mu, logvar

    def reconstruct(self, mask=None, **inputs):
        """Decode the fused posterior mean: deterministic reconstructions and KL.

        Parameters
        ----------
        mask : torch.Tensor of shape (batch, n_modalities), default=None
            1 where a modality is present; None: all present.
        **inputs : dict of str to torch.Tensor
            One batch per modality.

        Returns
        -------
        reconstructions : dict of str to torch.Tensor
            One per modality.
        kl : torch.Tensor of shape (batch,)
            KL divergence of the fused posterior from the prior.
        """
        mu, logvar, experts, mask = self._posterior(inputs, mask)
        return {n: self.decoders[n](mu) for n in self.names}, self._kl(mu, logvar, experts, mask)

