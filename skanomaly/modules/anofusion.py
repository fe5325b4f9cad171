"""AnoFusion's network: GTN meta-path graphs, dot-product graph attention, GRU forecast.

After Zhao et al., "Robust Multimodal Failure Detection for Microservice
Systems" (KDD 2023) and the layout of its official code. The channels of a
multimodal series (metrics, log counts, trace statistics) are the nodes of a
heterogeneous graph with one adjacency matrix per edge type (normalised mutual
information between channels, see
:func:`skanomaly.preprocessing.edge_type_stack`):

1. a Graph Transformer Network (Yun et al., NeurIPS 2019) learns
   ``gtn_channels`` meta-path graphs: each of ``gtn_layers + 1`` soft
   selections (softmax over edge types) is multiplied onto the previous
   product, which gets self-loops and row normalisation in between;
2. a graph attention network embeds every node from its **whole window** of
   values: ``n_heads`` dot-product attention heads (``softmax_j(G_ij * h_i .
   h_j)`` over the neighbours of ``i`` in graph ``G``) are concatenated and fed
   to an output attention layer, one pass per meta-path graph, and the graphs'
   outputs are summed with learned weights;
3. a GRU reads the fused embedding (one step per output feature, all nodes as
   its input vector) and a linear layer **forecasts the next value** of every
   channel.

The forward pass is vectorised over batch, graphs, heads and nodes; the GRU
runs in cuDNN/ATen. The attention tensor holds ``batch x gtn_channels x
n_heads x n_nodes^2`` values, so the module suits tens of channels (the paper
builds one graph per service instance), not thousands.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["AnoFusionNet", "GraphTransformer", "GraphDotAttention"]


def _with_self_loops(graph):
    """Replace the diagonal of (..., N, N) graphs by ones."""
    eye = torch.eye(graph.shape[-1], dtype=graph.dtype, device=graph.device)
    return graph * (1 - eye) + eye


def _row_normalised(graph):
    """D^-1 A of (..., N, N) graphs (rows summing to 0 stay 0)."""
    degree = graph.sum(-1, keepdim=True)
    return graph / torch.where(degree > 0, degree, torch.ones_like(degree))


def _symmetric_normalised(graph):
    """D^-1/2 A D^-1/2 of (..., N, N) graphs with positive degrees."""
    inv_sqrt = graph.sum(-1).rsqrt()
    return inv_sqrt.unsqueeze(-1) * graph * inv_sqrt.unsqueeze(-2)


class GraphTransformer(nn.Module):
    """Meta-path graphs from stacked edge-type adjacency matrices (GTN).

    Selection ``l`` of channel ``c`` is ``sum_e softmax(w[l, c])_e A_e``. The
    first two selections are multiplied; each further one is multiplied onto
    the previous product after that product gets self-loops and row
    normalisation (the official code's layer structure), giving meta-paths of
    up to ``n_layers + 1`` edges.

    Parameters
    ----------
    n_edge_types : int
        Matrices in the stack.
    n_channels : int
        Meta-path graphs learned in parallel.
    n_layers : int
        GTN layers (>= 1): ``n_layers + 1`` selections.

    Examples
    --------
    >>> import torch
    >>> gtn = GraphTransformer(n_edge_types=6, n_channels=4, n_layers=3)
    >>> gtn(torch.rand(6, 5, 5)).shape
    torch.Size([4, 5, 5])
    """

    def __init__(self, n_edge_types, n_channels, n_layers):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1; got {n_layers}.")
        # The official code leaves these uninitialised (torch.Tensor); random
        # logits make the channels differ from the first step.
        self.weight = nn.Parameter(torch.randn(n_layers + 1, n_channels, n_edge_types))

    def selection_weights(self):
        """Softmax weights over edge types: (n_layers + 1, n_channels, n_edge_types)."""
        return torch.softmax(self.weight, dim=-1)

    def forward(self, adjacency):
        """Meta-path graphs (n_channels, N, N) from the stack (n_edge_types, N, N)."""
        selections = torch.einsum("lce,enm->lcnm", self.selection_weights(), adjacency)
        graph = selections[0] @ selections[1]
        for selection in selections[2:]:  # a loop over layers
            graph = _row_normalised(_with_self_loops(graph)) @ selection
        return graph


class GraphDotAttention(nn.Module):
    """Multi-head dot-product attention over weighted graphs (heads batched).

    Head ``k`` projects node features, ``h = x W_k``; node ``i`` attends to
    node ``j`` with ``softmax_j(G_ij * h_i . h_j * scale)`` over the ``j`` with
    ``G_ij > 0``; the output is ``sum_j alpha_ij h_j + b_k``, heads
    concatenated.

    Parameters
    ----------
    in_dim, out_dim : int
        Feature sizes per head.
    n_heads : int
        Attention heads.
    scaled : bool, default=True
        Multiply logits by ``1 / sqrt(out_dim)`` (scaled dot product) and use
        fan-in initialisation; ``False`` is the official code (unit normal
        weights, unscaled logits).

    Examples
    --------
    >>> import torch
    >>> att = GraphDotAttention(in_dim=8, out_dim=3, n_heads=2)
    >>> graph = torch.ones(4, 5, 5)  # 4 graphs over 5 nodes
    >>> att(torch.randn(7, 1, 5, 8), graph).shape  # 7 samples, shared by the graphs
    torch.Size([7, 4, 5, 6])
    """

    def __init__(self, in_dim, out_dim, n_heads, scaled=True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_heads, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(n_heads, 1, out_dim))
        if scaled:
            bound = 1 / math.sqrt(in_dim)
            nn.init.uniform_(self.weight, -bound, bound)
            nn.init.uniform_(self.bias, -bound, bound)
        else:
            nn.init.normal_(self.weight)
            nn.init.normal_(self.bias)
        self.scale = 1 / math.sqrt(out_dim) if scaled else 1.0

    def forward(self, x, graph):
        """Attend over ``graph``.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_graphs or 1, n_nodes, in_dim)
        graph : torch.Tensor of shape (n_graphs, n_nodes, n_nodes)
            Non-negative weights, every node with a positive self-loop.

        Returns
        -------
        torch.Tensor of shape (batch, n_graphs, n_nodes, n_heads * out_dim)
        """
        h = torch.einsum("bgni,kio->bgkno", x, self.weight)  # (B, G, K, N, D)
        logits = h @ h.transpose(-1, -2) * (graph.unsqueeze(1) * self.scale)  # (B, C, K, N, N)
        logits = logits.masked_fill(graph.unsqueeze(1) == 0, float("-inf"))
        out = torch.softmax(logits, dim=-1) @ h + self.bias  # (B, C, K, N, D)
        return out.transpose(-3, -2).flatten(-2)


class AnoFusionNet(nn.Module):
    """Forecast the next step of every channel from a window over learned graphs.

    Parameters
    ----------
    adjacency : array-like of shape (n_edge_types, n_channels, n_channels)
        Edge-type adjacency matrices (NMI relations of AnoFusion's six edge
        types).
    window_size : int
        Time steps per input window (the node features of the attention).
    hidden_dim : int or None, default=None
        Output size of each attention head; ``None`` is the number of
        channels (the official code).
    n_heads : int, default=6
        Attention heads.
    gtn_channels : int, default=6
        Meta-path graphs learned in parallel.
    gtn_layers : int, default=5
        GTN layers (>= 1): meta-paths of up to ``gtn_layers + 1`` edges.
    dropout : float, default=0.2
        Dropout on the input window (where the official code applies it).
    scaled_attention : bool, default=True
        Scaled dot-product attention with fan-in initialisation; ``False``
        is the official code's unscaled logits and unit normal weights.
    persistence_skip : bool, default=False
        Forecast the change from the window's last value instead of the value
        (not in the paper).

    Notes
    -----
    ``forward(x)`` takes channels-first windows ``(batch, n_channels,
    window_size)`` and returns the forecast of the following step,
    ``(batch, n_channels)``.

    Examples
    --------
    >>> import torch
    >>> from skanomaly.modules.anofusion import AnoFusionNet
    >>> net = AnoFusionNet(torch.rand(6, 5, 5), window_size=8)
    >>> net(torch.randn(3, 5, 8)).shape
    torch.Size([3, 5])
    """

    def __init__(self, adjacency, window_size, hidden_dim=None, n_heads=6, gtn_channels=6,
                 gtn_layers=5, dropout=0.2, scaled_attention=True, persistence_skip=False):
        super().__init__()
        adjacency = torch.as_tensor(adjacency, dtype=torch.float32)
        if adjacency.ndim != 3 or adjacency.shape[1] != adjacency.shape[2]:
            raise ValueError(
                "adjacency must have shape (n_edge_types, n_channels, n_channels); got "
                f"{tuple(adjacency.shape)}."
            )
        n_nodes = adjacency.shape[1]
        hidden_dim = n_nodes if hidden_dim is None else hidden_dim
        self.register_buffer("adjacency", adjacency)
        self.n_channels, self.window_size = n_nodes, window_size
        self.persistence_skip = persistence_skip
        self.input_dropout = nn.Dropout(dropout)
        self.gtn = GraphTransformer(adjacency.shape[0], gtn_channels, gtn_layers)
        self.heads = GraphDotAttention(window_size, hidden_dim, n_heads, scaled_attention)
        self.out_attention = GraphDotAttention(n_heads * hidden_dim, window_size, 1,
                                               scaled_attention)
        # One learned weight per meta-path graph, 1 / n_graphs at the start.
        self.graph_weight = nn.Parameter(torch.full((gtn_channels,), 1 / gtn_channels))
        self.gru = nn.GRU(n_nodes, n_nodes, batch_first=True)
        self.head = nn.Linear(n_nodes, n_nodes)

    def learned_graph(self):
        """Meta-path graphs as the attention sees them: (gtn_channels, N, N).

        Self-loops replace the diagonal and the graph is symmetrically
        normalised, ``D^-1/2 (G + I) D^-1/2``.
        """
        return _symmetric_normalised(_with_self_loops(self.gtn(self.adjacency)))

    def embed(self, x):
        """Fused node embeddings (batch, N, window_size) of windows (batch, N, window_size)."""
        graph = self.learned_graph()
        h = F.leaky_relu(self.heads(self.input_dropout(x).unsqueeze(1), graph))
        h = F.leaky_relu(self.out_attention(h, graph))  # (B, C, N, W)
        return torch.einsum("bcnw,c->bnw", h, self.graph_weight)

    def forward(self, x):
        """Forecast the step after each window: (batch, N, window) -> (batch, N)."""
        # The GRU reads one step per embedding feature, all nodes at once.
        _, last = self.gru(self.embed(x).transpose(1, 2))
        forecast = self.head(last[-1])
        return x[:, :, -1] + forecast if self.persistence_skip else forecast
