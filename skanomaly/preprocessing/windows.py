"""Sliding windows over a series, built batch by batch.

A (n_timesteps, n_channels) series with window ``w`` holds about
``n_timesteps * w`` window values: far too many to materialise for long
series. These helpers keep the series once (as a tensor) and build each batch
of windows with a single gather, so memory stays proportional to the series.
"""

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["window_starts", "window_scores_to_steps", "SlidingWindowDataset",
           "ForecastWindowDataset", "ReadyWindowDataset"]


def window_starts(n_timesteps, window_size, stride=1):
    """Start index of every window, with a last window flush with the end.

    Windows start every ``stride`` steps; when the series length does not fit
    the stride exactly, one more window ending at the last step is added so
    every time step is covered by at least one window.

    Parameters
    ----------
    n_timesteps : int
        Length of the series.
    window_size : int
        Length of each window; must not exceed ``n_timesteps``.
    stride : int, default=1
        Steps between consecutive window starts; at most ``window_size`` so
        that no step falls between two windows.

    Returns
    -------
    starts : ndarray of shape (n_windows,), dtype int64

    Examples
    --------
    >>> window_starts(10, 4, stride=3).tolist()
    [0, 3, 6]
    >>> window_starts(11, 4, stride=3).tolist()
    [0, 3, 6, 7]
    """
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


def window_scores_to_steps(window_scores, starts, window_size, n_timesteps):
    """Score of every time step: the mean score of the windows covering it.

    Turns one score per window (e.g. from a detector fitted on windows made
    outside it) back into one score per step of the series. Windows are
    contiguous, so a difference array and a cumulative sum do it in
    O(n_timesteps + n_windows).

    Parameters
    ----------
    window_scores : array-like of shape (n_windows,)
        Score of each window.
    starts : array-like of int of shape (n_windows,)
        Start step of each window (see :func:`window_starts`).
    window_size : int
        Length of every window.
    n_timesteps : int
        Length of the series.

    Returns
    -------
    step_scores : ndarray of shape (n_timesteps,)
        NaN at steps no window covers.

    Examples
    --------
    >>> window_scores_to_steps([1.0, 3.0], [0, 2], window_size=3, n_timesteps=5).tolist()
    [1.0, 1.0, 2.0, 3.0, 3.0]
    """
    window_scores = np.asarray(window_scores, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
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
    ends = starts + window_size
    size = n_timesteps + 1
    totals = np.cumsum(np.bincount(starts, window_scores, size)
                       - np.bincount(ends, window_scores, size))[:-1]
    counts = np.cumsum(np.bincount(starts, minlength=size) - np.bincount(ends, minlength=size))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts[:-1] > 0, totals / counts[:-1], np.nan)


class SlidingWindowDataset(Dataset):
    """Windows of a series, gathered per batch as ``(batch, n_channels, window)``.

    Parameters
    ----------
    series : torch.Tensor of shape (n_timesteps, n_channels)
        The series; it is kept as given (its device is where batches are built).
    starts : array-like of int
        Start index of each window in the dataset.
    window_size : int
        Window length.
    """

    def __init__(self, series, starts, window_size):
        # Channels first once, so each batch is one gather with no transpose.
        self.series = series.t().contiguous()
        self.starts = torch.as_tensor(np.asarray(starts), dtype=torch.long, device=series.device)
        self.offsets = torch.arange(window_size, device=series.device)
        self.window_size = window_size

    @property
    def device(self):
        return self.series.device

    def __len__(self):
        return int(self.starts.shape[0])

    def positions(self, indices):
        """Time-step index of every element of the windows ``indices``: (batch, window)."""
        return self.starts[indices].unsqueeze(1) + self.offsets

    def get_batch(self, indices):
        """Windows ``indices`` as a (batch, n_channels, window) tensor."""
        return self.series[:, self.positions(indices)].transpose(0, 1)

    def __getitem__(self, index):
        start = int(self.starts[index])
        return self.series[:, start:start + self.window_size]


class ForecastWindowDataset(SlidingWindowDataset):
    """Windows of a series with the step after each, for forecasting.

    Window ``i`` covers steps ``[i, i + window_size)`` and its target is step
    ``i + window_size``, so a series of ``n`` steps holds
    ``n - window_size`` samples; ``get_batch`` returns
    ``(windows, targets)``, which :class:`~skanomaly.nets.BatchIterator`
    passes on as ``(X, y)``.

    Parameters
    ----------
    series : torch.Tensor of shape (n_timesteps, n_channels)
        The series, with ``n_timesteps > window_size``.
    window_size : int
        Window length.

    Examples
    --------
    >>> import torch
    >>> from skanomaly.preprocessing.windows import ForecastWindowDataset
    >>> series = torch.arange(10.0).reshape(5, 2)  # 5 steps, 2 channels
    >>> data = ForecastWindowDataset(series, window_size=3)
    >>> windows, targets = data.get_batch(torch.tensor([1]))
    >>> windows.tolist(), targets.tolist()
    ([[[2.0, 4.0, 6.0], [3.0, 5.0, 7.0]]], [[8.0, 9.0]])
    """

    def __init__(self, series, window_size):
        n_windows = series.shape[0] - window_size
        if n_windows < 1:
            raise ValueError(
                f"A series of {series.shape[0]} steps holds no window of {window_size} "
                "steps followed by a target step."
            )
        super().__init__(series, np.arange(n_windows), window_size)

    def targets(self, indices):
        """Step after each window ``indices``: (batch, n_channels)."""
        return self.series[:, self.starts[indices] + self.window_size].t()

    def get_batch(self, indices):
        """``(windows, targets)``: (batch, n_channels, window) and (batch, n_channels)."""
        return super().get_batch(indices), self.targets(indices)

    def __getitem__(self, index):
        start = int(self.starts[index])
        return (self.series[:, start:start + self.window_size],
                self.series[:, start + self.window_size])


class ReadyWindowDataset(Dataset):
    """Samples held in one tensor (ready-made windows, images), gathered per batch.

    Parameters
    ----------
    windows : torch.Tensor of shape (n_samples, ...)
        The samples, e.g. (n_windows, n_channels, window) windows or
        (n_images, channels, height, width) images.
    """

    def __init__(self, windows):
        self.windows = windows

    @property
    def device(self):
        return self.windows.device

    def __len__(self):
        return int(self.windows.shape[0])

    def get_batch(self, indices):
        """Samples ``indices`` as one tensor."""
        return self.windows[indices]

    def __getitem__(self, index):
        return self.windows[index]
