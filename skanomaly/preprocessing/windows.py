"""Sliding windows over a series, built batch by batch.

A (n_timesteps, n_channels) series with window ``w`` holds about
``n_timesteps * w`` window values: far too many to materialise for long
series. These helpers keep the series once (as a tensor) and build each batch
of windows with a single gather, so memory stays proportional to the series.
"""

import numpy as np

# The torch datasets live beside the nets; re-exported here for existing imports.
from ..batching import ForecastWindowDataset, ReadyWindowDataset, SlidingWindowDataset  # noqa: F401

__all__ = ["window_starts", "window_scores_to_steps"]


def _check_count(value, name, minimum):
    """An integer ``>= minimum`` (numpy integers included), else a clear error."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}.")
    return int(value)


def window_starts(n_timesteps, window_size, stride=1):
    """Start index of every window, with a last window flush with the end.

    Windows start every ``stride`` steps; when the series length does not fit
    the stride exactly, one more window ending at the last step is added so
    every time step is covered by at least one window.

    Parameters
    ----------
    n_timesteps : int
        Length of the series, at least 1.
    window_size : int
        Length of each window, at least 1; must not exceed ``n_timesteps``.
    stride : int, default=1
        Steps between consecutive window starts, from 1 to ``window_size`` so
        that no step falls between two windows.

    Returns
    -------
    starts : ndarray of shape (n_windows,), dtype int64
        First time step of each window, increasing.

    Raises
    ------
    TypeError
        If an argument is not an integer.
    ValueError
        If an argument is below 1, ``stride > window_size`` or
        ``window_size > n_timesteps``.

    Examples
    --------
    >>> window_starts(10, 4, stride=3).tolist()
    [0, 3, 6]
    >>> window_starts(11, 4, stride=3).tolist()
    [0, 3, 6, 7]
    """
    n_timesteps = _check_count(n_timesteps, "n_timesteps", 1)
    window_size = _check_count(window_size, "window_size", 1)
    stride = _check_count(stride, "stride", 1)
    if stride > window_size:
        raise ValueError(
            f"stride={stride} exceeds window_size={window_size}: time steps between "
            "windows would get no score."
        )
    if window_size > n_timesteps:
        raise ValueError(
            f"window_size={window_size} is longer than the series ({n_timesteps} time steps)."
        )
    last = n_timesteps - window_size
    starts = np.arange(0, last + 1, stride, dtype=np.int64)
    if starts[-1] != last:
        starts = np.append(starts, last)
    return starts


def _checked_starts(starts):
    """Window starts as int64, refusing non-integer values rather than truncating them."""
    starts = np.asarray(starts)
    if starts.dtype.kind == "f":
        integral = np.isfinite(starts) & (starts == np.round(starts))
        if not integral.all():
            first = int(np.flatnonzero(~integral)[0])
            raise ValueError(
                f"starts must hold integer time-step indices; starts[{first}] = "
                f"{float(starts[first])!r}."
            )
    elif starts.size and starts.dtype.kind not in "iu":
        raise TypeError(f"starts must hold integer time-step indices; got dtype {starts.dtype}.")
    return starts.astype(np.int64, copy=False)


def window_scores_to_steps(window_scores, starts, window_size, n_timesteps):
    """Score of every time step: the mean score of the windows covering it.

    Turns one score per window (e.g. from a detector fitted on windows made
    outside it) back into one score per step of the series.

    Each step's sum only ever adds the scores of the windows covering it, in
    float64: the starts are cut into blocks of ``window_size``, and the
    windows covering step ``t`` are a suffix of one block plus a prefix of the
    next, both summed by running sums that restart at every block. So there is
    no cancellation against far-away windows: a huge or NaN window score
    changes only the steps that window covers, and the result does not depend
    on the order of the windows. O(n_timesteps + n_windows) time and memory.

    Parameters
    ----------
    window_scores : array-like of shape (n_windows,)
        Score of each window (NaN and infinities are carried to the steps
        they cover, and only to those).
    starts : array-like of int of shape (n_windows,)
        Start step of each window (see :func:`window_starts`), in any order.
    window_size : int
        Length of every window, at least 1.
    n_timesteps : int
        Length of the series, at least 1.

    Returns
    -------
    step_scores : ndarray of shape (n_timesteps,)
        NaN at steps no window covers.

    Examples
    --------
    >>> window_scores_to_steps([1.0, 3.0], [0, 2], window_size=3, n_timesteps=5).tolist()
    [1.0, 1.0, 2.0, 3.0, 3.0]
    >>> window_scores_to_steps([1e17, 1.0, 1.0, 1.0], [0, 1, 2, 3], 2, 5).tolist()
    [1e+17, 5e+16, 1.0, 1.0, 1.0]
    """
    window_size = _check_count(window_size, "window_size", 1)
    n_timesteps = _check_count(n_timesteps, "n_timesteps", 1)
    window_scores = np.asarray(window_scores, dtype=np.float64)
    starts = _checked_starts(starts)
    if window_scores.shape != starts.shape or window_scores.ndim != 1:
        raise ValueError(
            f"window_scores and starts must be 1-D of one length; got shapes "
            f"{window_scores.shape} and {starts.shape}."
        )
    if starts.size and (starts.min() < 0 or starts.max() + window_size > n_timesteps):
        raise ValueError(
            f"Windows of {window_size} steps starting at {starts.min()}..{starts.max()} do not "
            f"fit in a series of {n_timesteps} steps."
        )
    w = window_size
    n_blocks = -(-n_timesteps // w)
    if starts.size <= 1 or np.all(starts[1:] > starts[:-1]):  # one window per start
        per_start = np.zeros(n_blocks * w)
        per_start[starts] = window_scores
        per_start = per_start.reshape(n_blocks, w)
    else:
        # Repeated starts are summed in a fixed (value) order, whatever the input order.
        order = np.lexsort((window_scores, starts))
        starts, window_scores = starts[order], window_scores[order]
        per_start = np.bincount(starts, window_scores, n_blocks * w).reshape(n_blocks, w)
    totals = np.cumsum(per_start, axis=1).ravel()[:n_timesteps]  # block start .. t
    suffix = np.cumsum(per_start[:, ::-1], axis=1)[:, ::-1]  # s .. block end
    # Step t is also covered by the starts t-w+1 .. end of the previous block,
    # unless t-w+1 opens a block itself (then the prefix already holds them all).
    suffix[:, 0] = 0.0
    totals[w - 1:] += suffix.ravel()[: n_timesteps - w + 1]
    # Counts are integers: differences of a cumulative count are exact.
    counts = np.cumsum(np.bincount(starts, minlength=n_timesteps))
    counts[w:] -= counts[:-w].copy()
    out = np.full(n_timesteps, np.nan)
    return np.divide(totals, counts, out=out, where=counts > 0)

