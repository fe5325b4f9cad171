"""Relations between channels: normalised mutual information for six edge types.

Each channel is discretised into ``n_bins`` codes; all pairwise contingency tables
come from one matrix product of the one-hot codes (``O.T @ O``), so the whole NMI
matrix costs one BLAS call instead of a Python loop over channel pairs.
"""

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from .align import MODALITIES

__all__ = ["EDGE_TYPES", "discretize", "edge_type_stack", "nmi_matrix", "relation_graph"]

#: The six edge types of AnoFusion's heterogeneous graph.
EDGE_TYPES = ("metric-metric", "log-log", "trace-trace", "metric-log", "metric-trace",
              "log-trace")

def discretize(X, n_bins=10, strategy="quantile"):
    """Integer codes in ``[0, n_bins)`` per column.

    Parameters
    ----------
    X : array-like of shape (n_steps, n_channels)
        Finite values.
    n_bins : int, default=10
    strategy : {"quantile", "uniform"}, default="quantile"
        Equal-frequency bins from ranks (ties share a bin), or equal-width bins
        between each column's min and max. A constant column gets code 0 throughout.

    Returns
    -------
    codes : ndarray of shape (n_steps, n_channels), dtype int64

    Examples
    --------
    >>> from skanomaly.preprocessing import discretize
    >>> discretize([[1.0], [2.0], [3.0], [4.0]], n_bins=2).ravel().tolist()
    [0, 0, 1, 1]
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_steps, n_channels); got shape {X.shape}.")
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"X has {int(bad.sum())} NaN/inf value(s) (first at row {r}, "
                         f"column {c}); fill gaps first (see align_channels).")
    if n_bins < 2:
        raise ValueError(f"n_bins must be >= 2; got {n_bins}.")
    n = X.shape[0]
    if strategy == "quantile":
        ranks = rankdata(X, axis=0, method="min") - 1  # ties -> same code
        codes = np.floor(ranks * n_bins / n).astype(np.int64)
    elif strategy == "uniform":
        lo, hi = X.min(0), X.max(0)
        width = np.where(hi > lo, hi - lo, 1.0)
        codes = np.floor((X - lo) / width * n_bins).astype(np.int64)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform'; got {strategy!r}.")
    return np.clip(codes, 0, n_bins - 1)


def nmi_matrix(X, n_bins=10, strategy="quantile", average="arithmetic"):
    """Normalised mutual information between every pair of columns.

    Parameters
    ----------
    X : array-like of shape (n_steps, n_channels)
    n_bins : int, default=10
    strategy : {"quantile", "uniform"}, default="quantile"
        See :func:`discretize`.
    average : {"arithmetic", "geometric", "min", "max"}, default="arithmetic"
        Normaliser of MI from the two entropies, as in
        :func:`sklearn.metrics.normalized_mutual_info_score`.

    Returns
    -------
    nmi : ndarray of shape (n_channels, n_channels)
        Symmetric, in [0, 1]. A pair involving a constant channel gets 0 (no shared
        information), its diagonal entry included.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.preprocessing import nmi_matrix
    >>> x = np.arange(100.0)
    >>> nmi_matrix(np.c_[x, -x, np.zeros(100)], n_bins=4).round(3)
    array([[1., 1., 0.],
           [1., 1., 0.],
           [0., 0., 0.]])
    """
    codes = discretize(X, n_bins, strategy)
    n, c = codes.shape
    # one-hot (n, c * n_bins); joint counts of all pairs from one matrix product
    onehot = np.zeros((n, c * n_bins), dtype=np.float32)
    onehot[np.arange(n)[:, None], codes + n_bins * np.arange(c)] = 1.0
    joint = np.rint(onehot.T @ onehot).astype(np.int64)  # exact: counts < 2**24
    # entropies from integer counts through an n*log(n) lookup table:
    # H = log n - sum(k log k) / n, MI = H_i + H_j - H_ij
    xlogx = np.zeros(n + 1)
    xlogx[1:] = np.arange(1, n + 1) * np.log(np.arange(1, n + 1))
    h_joint = np.log(n) - xlogx[joint].reshape(c, n_bins, c, n_bins).sum(axis=(1, 3)) / n
    h = np.diag(h_joint).copy()
    h[h < 1e-12] = 0.0
    hi, hj = h[:, None], h[None, :]
    mi = hi + hj - h_joint
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = {"arithmetic": (hi + hj) / 2, "geometric": np.sqrt(hi * hj),
                "min": np.minimum(hi, hj), "max": np.maximum(hi, hj)}
        if average not in norm:
            raise ValueError(f"average must be one of {sorted(norm)}; got {average!r}.")
        nmi = np.where((hi > 0) & (hj > 0), mi / norm[average], 0.0)
    return np.clip(nmi, 0.0, 1.0)


def relation_graph(X, modality, *, n_bins=10, strategy="quantile", average="arithmetic"):
    """NMI relation matrices for AnoFusion's six edge types.

    Parameters
    ----------
    X : pandas.DataFrame or array-like of shape (n_steps, n_channels)
        Aligned channels, e.g. from :func:`align_channels`.
    modality : array-like of shape (n_channels,)
        ``"metric"``, ``"log"`` or ``"trace"`` per channel (the second output of
        :func:`align_channels`).
    n_bins, strategy, average
        See :func:`nmi_matrix`.

    Returns
    -------
    graph : dict of str -> pandas.DataFrame
        For each of :data:`EDGE_TYPES` (``"a-b"``), the NMI between channels of
        modality ``a`` (rows) and of modality ``b`` (columns). Same-modality blocks
        have 0 on the diagonal (no self-loops). A block is empty when a modality has
        no channel; every weight is measured (never filled in).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skanomaly.preprocessing import relation_graph
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["cpu", "log_1", "api__count"])
    >>> g = relation_graph(X, ["metric", "log", "trace"])
    >>> sorted(g) == sorted(["metric-metric", "log-log", "trace-trace", "metric-log",
    ...                      "metric-trace", "log-trace"])
    True
    >>> g["metric-log"].shape
    (1, 1)
    """
    names = list(X.columns) if isinstance(X, pd.DataFrame) else list(range(np.shape(X)[1]))
    modality = np.asarray(modality, dtype=object)
    if modality.shape != (len(names),):
        raise ValueError(f"modality needs one entry per channel ({len(names)}); got shape "
                         f"{modality.shape}.")
    unknown = sorted(set(modality) - set(MODALITIES))
    if unknown:
        raise ValueError(f"Unknown modality {unknown}; expected one of {MODALITIES}.")
    nmi = nmi_matrix(np.asarray(X, dtype=np.float64), n_bins, strategy, average)
    np.fill_diagonal(nmi, 0.0)
    out = {}
    for et in EDGE_TYPES:
        a, b = et.split("-")
        ia, ib = np.flatnonzero(modality == a), np.flatnonzero(modality == b)
        out[et] = pd.DataFrame(nmi[np.ix_(ia, ib)], index=[names[i] for i in ia],
                               columns=[names[i] for i in ib])
    return out


def edge_type_stack(X, modality, *, n_bins=10, threshold=0.0):
    """AnoFusion's adjacency stack: one NMI matrix per edge type over all channels.

    Parameters
    ----------
    X : array-like of shape (n_steps, n_channels)
        Aligned channels (the training part only: a graph measured on the
        data being scored would leak it, the official code's test-time graph).
    modality : array-like of shape (n_channels,)
        ``"metric"``, ``"log"`` or ``"trace"`` per channel.
    n_bins : int, default=10
        Quantile bins per channel (see :func:`nmi_matrix`).
    threshold : float, default=0.0
        Relations weaker than this NMI are set to 0.

    Returns
    -------
    stack : ndarray of shape (6, n_channels, n_channels), dtype float32
        Entry ``[k, i, j]`` is the NMI of channels ``i`` and ``j`` when their
        modalities form edge type ``EDGE_TYPES[k]`` (in either order), else 0;
        no self-loops.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.preprocessing import edge_type_stack
    >>> x = np.arange(100.0)
    >>> stack = edge_type_stack(np.c_[x, x ** 2, -x], ["metric", "metric", "log"], n_bins=4)
    >>> stack.shape, float(stack[0, 0, 1]), float(stack[3, 2, 0])
    ((6, 3, 3), 1.0, 1.0)
    """
    modality = np.asarray(modality, dtype=object)
    blocks = relation_graph(X, modality, n_bins=n_bins)
    n = modality.shape[0]
    stack = np.zeros((len(EDGE_TYPES), n, n), dtype=np.float32)
    for k, edge_type in enumerate(EDGE_TYPES):  # six blocks, not channel pairs
        a, b = edge_type.split("-")
        rows, cols = np.flatnonzero(modality == a), np.flatnonzero(modality == b)
        block = blocks[edge_type].to_numpy()
        stack[k][np.ix_(rows, cols)] = block
        stack[k][np.ix_(cols, rows)] = block.T
    stack[stack < threshold] = 0.0
    return stack
