"""AnoFusion's network: learned meta-path graph, graph attention, GRU, next-step forecast.

After Zhao et al., "Robust Multimodal Failure Detection for Microservice
Systems" (KDD 2023). The channels of a multimodal series (metrics, log-cluster
counts, trace statistics) are the nodes of a heterogeneous graph with one
adjacency matrix per edge type (normalised mutual information between
channels, see :func:`skanomaly.preprocessing.relation_graph`):

1. a Graph Transformer Network (Yun et al., NeurIPS 2019) soft-selects edge
   types (identity included, so shorter meta-paths stay possible) with softmax
   weights and multiplies the selections into ``gtn_channels`` learned
   meta-path graphs;
2. a graph attention layer (GAT, Velickovic et al., ICLR 2018) embeds every
   node at every time step over those graphs, the learned edge weight
   multiplying the attention (``alpha_ij ~ G_ij * exp(e_ij)``);
3. a GRU, shared by all nodes, runs over the window of each node's embeddings;
4. a linear head forecasts the next value of every channel.

Everything is vectorised over batch, time and nodes: there is no Python loop
over time steps or nodes. The attention tensor holds
``batch x window x gtn_channels x n_nodes^2 x n_heads`` values, so the module
suits tens of channels (AnoFusion builds one graph per service instance), not
thousands.
"""

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["AnoFusionNet", "GraphTransformerLayer", "GraphAttentionLayer"]

# Row sums below this count as empty when normalising meta-path products.
_EPS = 1e-8


class GraphTransformerLayer(nn.Module):
    """Learned meta-path graphs from stacked edge-type adjacency matrices.

    Each of ``n_convs`` soft selections is a convex combination of the
    ``n_edge_types`` matrices (softmax over edge types, one row of weights per
    output channel); the selections are multiplied in order, each product row
    normalised, which gives meta-paths of length ``n_convs``.

    Parameters
    ----------
    n_edge_types : int
        Matrices in the stack (identity included if wanted).
    n_channels : int
        Meta-path graphs learned in parallel.
    n_convs : int
        Soft selections multiplied together (meta-path length).
    """

    def __init__(self, n_edge_types, n_channels, n_convs):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_convs, n_channels, n_edge_types))
        nn.init.normal_(self.weight, std=0.1)

    def selection_weights(self):
        """Softmax weights over edge types: (n_convs, n_channels, n_edge_types)."""
        return torch.softmax(self.weight, dim=-1)

    def forward(self, adjacency):
        """Meta-path graphs (n_channels, n_nodes, n_nodes) from (n_edge_types, N, N)."""
        selections = torch.einsum("kce,enm->kcnm", self.selection_weights(), adjacency)
        graph = selections[0]
        for selection in selections[1:]:
            graph = graph @ selection
            graph = graph / graph.sum(dim=-1, keepdim=True).clamp_min(_EPS)
        return graph


class GraphAttentionLayer(nn.Module):
    """Multi-head graph attention over weighted graphs, batched over any leading axes.

    For graph ``c``, node ``i`` attends to node ``j`` with weight
    ``G_c[i, j] * exp(e_ij) / sum_k G_c[i, k] * exp(e_ik)`` where
    ``e_ij = LeakyReLU(a_src . W h_i + a_dst . W h_j)``; messages are averaged
    over graphs and concatenated over heads. Nodes with ``G_c[i, j] = 0`` do
    not exchange messages.

    Parameters
    ----------
    in_dim, out_dim : int
        Feature sizes; ``out_dim`` must be divisible by ``n_heads``.
    n_heads : int
        Attention heads.
    dropout : float
        Dropout on the attention weights.
    """

    def __init__(self, in_dim, out_dim, n_heads, dropout=0.0):
        super().__init__()
        if out_dim % n_heads:
            raise ValueError(f"out_dim={out_dim} must be divisible by n_heads={n_heads}.")
        self.n_heads, self.head_dim = n_heads, out_dim // n_heads
        self.project = nn.Linear(in_dim, out_dim, bias=False)
        self.att_src = nn.Parameter(torch.empty(n_heads, self.head_dim))
        self.att_dst = nn.Parameter(torch.empty(n_heads, self.head_dim))
        nn.init.xavier_uniform_(self.att_src)
        nn.init.xavier_uniform_(self.att_dst)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h, graph):
        """Embed nodes.

        Parameters
        ----------
        h : torch.Tensor of shape (..., n_nodes, in_dim)
        graph : torch.Tensor of shape (n_graphs, n_nodes, n_nodes)
            Non-negative edge weights, self-loops included (every row needs a
            positive entry).

        Returns
        -------
        torch.Tensor of shape (..., n_nodes, out_dim)
        """
        *lead, n_nodes, _ = h.shape
        wh = self.project(h).view(*lead, n_nodes, self.n_heads, self.head_dim)
        src = (wh * self.att_src).sum(-1)  # (..., N, H)
        dst = (wh * self.att_dst).sum(-1)
        logits = F.leaky_relu(src.unsqueeze(-2) + dst.unsqueeze(-3), 0.2)  # (..., N, N, H)
        # log G as an additive bias: zero-weight pairs get -69 (weight ~1e-30).
        bias = graph.clamp_min(1e-30).log().unsqueeze(-1)  # (C, N, N, 1)
        alpha = torch.softmax(logits.unsqueeze(-4) + bias, dim=-2)  # (..., C, N, N, H)
        alpha = self.dropout(alpha).mean(dim=-4)  # average over graphs: (..., N, N, H)
        out = torch.einsum("...ijh,...jhd->...ihd", alpha, wh)
        return out.reshape(*lead, n_nodes, self.n_heads * self.head_dim)


class AnoFusionNet(nn.Module):
    """Forecast the next step of every channel from a window over a learned graph.

    Parameters
    ----------
    adjacency : array-like of shape (n_edge_types, n_channels, n_channels)
        Edge-type adjacency matrices (e.g. NMI relations for AnoFusion's six
        edge types). The identity is appended as one more edge type.
    window_size : int
        Time steps per input window.
    hidden_dim : int, default=16
        Node embedding size (GAT output and GRU state).
    n_heads : int, default=2
        GAT heads; must divide ``hidden_dim``.
    gtn_channels : int, default=2
        Meta-path graphs learned in parallel.
    gtn_layers : int, default=1
        GTN layers: the meta-paths have length ``gtn_layers + 1``.
    gat_layers : int, default=1
        Graph attention layers (each with a residual connection).
    dropout : float, default=0.0
        Dropout on attention weights and embeddings.

    Notes
    -----
    ``forward(x)`` takes channels-first windows ``(batch, n_channels,
    window_size)`` (the layout of
    :class:`~skanomaly.preprocessing.windows.SlidingWindowDataset`) and
    returns the forecast of the following step, ``(batch, n_channels)``. The
    head predicts the change from the window's last value, which is added
    back (a skip connection that makes persistence the starting point).

    Examples
    --------
    >>> import torch
    >>> from skanomaly.modules.anofusion import AnoFusionNet
    >>> adjacency = torch.rand(6, 5, 5)
    >>> net = AnoFusionNet(adjacency, window_size=8)
    >>> net(torch.randn(3, 5, 8)).shape
    torch.Size([3, 5])
    """

    def __init__(self, adjacency, window_size, hidden_dim=16, n_heads=2, gtn_channels=2,
                 gtn_layers=1, gat_layers=1, dropout=0.0):
        super().__init__()
        adjacency = torch.as_tensor(adjacency, dtype=torch.float32)
        if adjacency.ndim != 3 or adjacency.shape[1] != adjacency.shape[2]:
            raise ValueError(
                "adjacency must have shape (n_edge_types, n_channels, n_channels); got "
                f"{tuple(adjacency.shape)}."
            )
        n_nodes = adjacency.shape[1]
        eye = torch.eye(n_nodes).unsqueeze(0)
        self.register_buffer("adjacency", torch.cat([adjacency, eye]))
        self.register_buffer("self_loops", eye)
        self.n_channels, self.window_size = n_nodes, window_size
        self.gtn = GraphTransformerLayer(adjacency.shape[0] + 1, gtn_channels, gtn_layers + 1)
        self.value_embedding = nn.Linear(1, hidden_dim)
        self.node_embedding = nn.Parameter(torch.randn(n_nodes, hidden_dim) * 0.1)
        self.gat = nn.ModuleList(
            GraphAttentionLayer(hidden_dim, hidden_dim, n_heads, dropout)
            for _ in range(gat_layers)
        )
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, 1)

    def learned_graph(self):
        """Meta-path graphs with self-loops: (gtn_channels, n_channels, n_channels)."""
        return self.gtn(self.adjacency) + self.self_loops

    def forward(self, x):
        """Forecast the step after each window: (batch, N, window) -> (batch, N)."""
        batch, n_nodes, window = x.shape
        steps = x.transpose(1, 2).unsqueeze(-1)  # (B, T, N, 1)
        h = self.value_embedding(steps) + self.node_embedding  # (B, T, N, D)
        graph = self.learned_graph()
        for layer in self.gat:
            h = h + self.dropout(F.elu(layer(h, graph)))
        # One GRU shared by all nodes: (B * N) sequences of length T.
        sequences = h.transpose(1, 2).reshape(batch * n_nodes, window, -1)
        _, last = self.gru(sequences)
        delta = self.head(last[-1]).view(batch, n_nodes)
        return x[:, :, -1] + delta
