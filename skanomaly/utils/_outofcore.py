"""Scoring data that does not fit in memory: dask collections and memmaps.

A detector's score of a row depends on at most a fixed number of rows around
it (a time-series window, a forecaster's history; no rows at all for images).
So a long input can be scored block by block: each block is read together
with that many context rows on each side, scored in memory, and the context
rows' scores are dropped. The result equals scoring the whole input at once,
while memory holds one block at a time.

* A dask array (or dask DataFrame) gives back a dask array with one task per
  block of the input's own row chunks: nothing is read until it is computed,
  and the blocks can run on a dask cluster.
* A :class:`numpy.memmap` is scored eagerly, block by block, without copying
  the whole file into memory.

dask is imported only when a dask collection is passed.
"""

import math
import mmap

import numpy as np
from sklearn import get_config

__all__ = [
    "is_dask_collection", "is_out_of_core", "score_out_of_core", "block_rows",
    "decision_from_scores", "score_in_blocks",
]


def is_dask_collection(X):
    """Whether ``X`` is a dask collection (array or DataFrame), without importing dask."""
    return hasattr(X, "__dask_graph__") and callable(getattr(X, "__dask_graph__"))


def is_out_of_core(X):
    """Whether ``X`` is scored block by block: a dask collection or a memmap."""
    return is_dask_collection(X) or isinstance(X, np.memmap)


def block_rows(n_features, context, working_memory=None):
    """Rows per block for eager (memmap) scoring.

    A block and its context take about ``working_memory`` MiB (scikit-learn's
    ``working_memory`` setting, 1024 by default) at 16 float32 copies per
    value: the read, the validated copy and the detector's batches.
    """
    working_memory = get_config()["working_memory"] if working_memory is None else working_memory
    row_bytes = 16 * 4 * max(int(n_features), 1)
    return max(int(working_memory * 2**20 // row_bytes), 4 * (sum(context) + 1))


def _block_bounds(chunks, n_rows, align):
    """Start/stop row of each block: the given chunks, moved to multiples of ``align``."""
    edges = np.concatenate([[0], np.cumsum(chunks)])
    if align > 1:
        edges = np.unique(np.concatenate([(edges[:-1] // align) * align, [n_rows]]))
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


def _with_context(start, stop, context, n_rows):
    """Rows to read for block ``start:stop``: the block and its context rows."""
    return max(start - context[0], 0), min(stop + context[1], n_rows)


def _score_rows(score, block, first, last, wrap):
    """Scores of ``block[first:last]``, the block's own rows (the rest is context)."""
    return np.asarray(score(wrap(np.asarray(block))))[first:last]


def score_out_of_core(score, X, *, context=(0, 0), align=1, columns=None, dtype=np.float64):
    """Score ``X`` block by block with ``score``, equal to ``score(X)`` in memory.

    Parameters
    ----------
    score : callable
        In-memory scoring of a 2-D block (ndarray or DataFrame) -> one value per row.
    X : dask array, dask DataFrame or numpy.memmap of shape (n_rows, ...)
        The input; rows are its first axis.
    context : tuple of (int, int), default=(0, 0)
        Rows before and after a block that its scores depend on.
    align : int, default=1
        Blocks start on multiples of ``align`` (a window stride), so windows
        fall where they fall in the whole input.
    columns : list of str or None, default=None
        Column names to put back on each block (a DataFrame input's), so the
        detector checks them as in memory.
    dtype : numpy dtype, default=float64
        dtype of the result: the dtype ``score`` returns (a dask array's
        blocks must all have it; the scores are never cast).

    Returns
    -------
    scores : dask array or ndarray of shape (n_rows,)
        A dask array for dask input (lazy), an ndarray for a memmap.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.dat")
    >>> X = np.memmap(path, dtype=np.float32, mode="w+", shape=(10, 1))
    >>> X[:, 0] = np.arange(10)
    >>> moving_sum = lambda b: np.convolve(b[:, 0], np.ones(3), mode="same")
    >>> scored = score_out_of_core(moving_sum, X, context=(1, 1))
    >>> bool(np.array_equal(scored, moving_sum(np.asarray(X))))
    True
    """
    wrap = _wrapper(columns)
    n_rows = X.shape[0]
    if is_dask_collection(X):
        import dask
        import dask.array as da

        if hasattr(X, "to_dask_array"):  # a dask DataFrame: rows by position
            columns = list(X.columns) if columns is None else columns
            wrap = _wrapper(columns)
            X = X.to_dask_array(lengths=True)
            n_rows = X.shape[0]
        if X.ndim < 2 or any(math.isnan(c) for c in X.chunks[0]):
            raise ValueError(
                "A dask input must have 2 or more dimensions and known chunk sizes; got "
                f"shape {X.shape}. Call .compute_chunk_sizes() first."
            )
        parts = []
        for start, stop in _block_bounds(X.chunks[0], n_rows, align):
            lo, hi = _with_context(start, stop, context, n_rows)
            # The slice is a dependency of the task: dask reads only these rows.
            task = dask.delayed(_score_rows)(score, X[lo:hi], start - lo, stop - lo, wrap)
            parts.append(da.from_delayed(task, shape=(stop - start,), dtype=dtype))
        return da.concatenate(parts) if parts else da.zeros((0,), dtype=dtype)
    # A memmap: one block in memory at a time (the scores, one float a row, are kept).
    step = block_rows(int(np.prod(X.shape[1:])), context)
    step = max(align, step // align * align)
    blocks = []
    for start in range(0, n_rows, step):
        stop = min(start + step, n_rows)
        lo, hi = _with_context(start, stop, context, n_rows)
        blocks.append(_score_rows(score, _memmap_rows(X, lo, hi), start - lo, stop - lo, wrap))
    return np.concatenate(blocks) if blocks else np.empty(0, dtype=dtype)


def _memmap_rows(X, lo, hi):
    """Rows ``lo:hi`` of a memmap, through a mapping of their own when possible.

    Pages read through ``X`` itself stay in this process's resident memory
    until the whole map is closed; a fresh map of just the block's bytes is
    closed (and its pages released) once the block is scored.
    """
    whole_file_map = (
        getattr(X, "filename", None) is not None
        and isinstance(X.base, mmap.mmap)
        and X.flags.c_contiguous
    )
    if not whole_file_map:  # a view of a memmap: slice it
        return X[lo:hi]
    row_bytes = X.itemsize * int(np.prod(X.shape[1:]))
    return np.memmap(X.filename, dtype=X.dtype, mode="r", offset=X.offset + lo * row_bytes,
                     shape=(hi - lo,) + X.shape[1:])


def _wrapper(columns):
    if columns is None:
        return lambda block: block
    import pandas as pd

    return lambda block: pd.DataFrame(block, columns=columns)


def decision_from_scores(scores, thresholder):
    """``decision_function`` values from normality scores (``score_samples``).

    For dask scores a fixed threshold applies block by block; a streaming
    thresholder (one with ``update``) carries state from step to step, so the
    whole score vector (one float per row) is computed first and thresholded
    in order.

    Parameters
    ----------
    scores : ndarray or dask array of shape (n_samples,)
        Normality scores, higher meaning more normal.
    thresholder : fitted thresholder
        The detector's ``thresholder_``.

    Returns
    -------
    decision : ndarray or dask array of shape (n_samples,)
        Negative for anomalies.
    """

    def decide(s):
        return s + thresholder.thresholds(-s)

    if not is_dask_collection(scores):
        return decide(scores)
    import dask.array as da

    if hasattr(thresholder, "update"):
        return da.from_array(decide(scores.compute()), chunks=scores.chunks)
    return scores.map_blocks(decide, dtype=np.float64)


_METHODS = ("score_samples", "decision_function", "predict")


def score_in_blocks(estimator, X, method="score_samples"):
    """Apply a fitted detector, or a Pipeline ending in one, block by block.

    The detector's own methods already accept dask arrays and memmaps. A
    :class:`~sklearn.pipeline.Pipeline` does not: its transformers (a
    ``StandardScaler``, say) would read the whole input into memory. This
    function runs the whole pipeline on each block of rows, with the context
    rows the detector needs, so the result equals ``getattr(estimator,
    method)(X)`` in memory. Transformers must work row by row (scalers,
    column selectors), as they do in a time-series pipeline.

    Parameters
    ----------
    estimator : fitted skanomaly detector or Pipeline whose last step is one
        What to apply.
    X : dask array, dask DataFrame, numpy.memmap or array-like
        The input; rows are its first axis.
    method : {"score_samples", "decision_function", "predict"}, default="score_samples"
        The method to apply.

    Returns
    -------
    result : dask array or ndarray of shape (n_samples,)
        Lazy for dask input.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skanomaly.detectors import TimeSeriesVAEDetector
    >>> X = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    >>> model = make_pipeline(StandardScaler(), TimeSeriesVAEDetector(
    ...     window_size=8, max_epochs=1, random_state=0, device="cpu")).fit(X)
    >>> bool(np.array_equal(score_in_blocks(model, X), model.score_samples(X)))
    True
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}.")
    detector = estimator[-1] if hasattr(estimator, "steps") else estimator
    if not hasattr(detector, "_row_context"):
        raise TypeError(
            f"score_in_blocks needs a skanomaly detector (or a Pipeline ending in one); "
            f"got {type(detector).__name__}."
        )
    if not is_out_of_core(X):
        X = np.asarray(X) if not hasattr(X, "iloc") else X
    options = dict(context=detector._row_context(), align=detector._row_align())
    if hasattr(X, "iloc"):  # an in-memory DataFrame: keep its names on every block
        options["columns"] = list(X.columns)
        X = X.to_numpy()
    streaming = hasattr(getattr(detector, "thresholder_", None), "update")
    if method == "score_samples" or not streaming:
        dtype = np.int64 if method == "predict" else np.float64
        return score_out_of_core(getattr(estimator, method), X, dtype=dtype, **options)
    decision = decision_from_scores(
        score_out_of_core(estimator.score_samples, X, **options), detector.thresholder_
    )
    return decision if method == "decision_function" else np.where(decision < 0, -1, 1)
