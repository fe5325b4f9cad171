"""Sliding windows over a series, built batch by batch.

A (n_timesteps, n_channels) series with window ``w`` holds about
``n_timesteps * w`` window values: far too many to materialise for long
series. These helpers keep the series once (as a tensor) and build each batch
of windows with a single gather, so memory stays proportional to the series.
"""

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["window_starts", "SlidingWindowDataset", "ReadyWindowDataset"]


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
