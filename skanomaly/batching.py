"""Torch datasets that build a whole batch with one gather, and the loader
that hands their batches to skorch.

skorch's default ``DataLoader`` fetches and collates one sample at a time,
which costs more than the forward pass of a small network. The datasets here
implement ``__getitems__(indices)`` (PyTorch's batched-fetch protocol): a batch
of windows, images or modality rows is one indexing operation on tensors kept
once, on the device where they live. :class:`BatchLoader` is a
:class:`torch.utils.data.DataLoader` over a sampler of index batches, so
skorch's ``iterator_train__*`` / ``iterator_valid__*`` options
(``num_workers``, ``pin_memory``, ...) reach a real ``DataLoader``.
"""

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

__all__ = [
    "BatchLoader", "IndexBatchSampler", "SlidingWindowDataset", "ForecastWindowDataset",
    "ReadyWindowDataset", "DictDataset",
]


class IndexBatchSampler:
    """Batches of sample indices, as index tensors, in order or shuffled.

    Parameters
    ----------
    n_samples : int
        Samples in the dataset.
    batch_size : int
        Indices per batch; the last batch may be smaller.
    shuffle : bool, default=False
        Visit samples in a random order, drawn from torch's global generator
        (which detectors seed from ``random_state``).
    drop_last : bool, default=False
        Leave out a last batch smaller than ``batch_size``.

    Examples
    --------
    >>> [b.tolist() for b in IndexBatchSampler(5, batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, n_samples, batch_size, shuffle=False, drop_last=False):
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last

    def __len__(self):
        if self.drop_last:
            return self.n_samples // self.batch_size
        return -(-self.n_samples // self.batch_size)

    def __iter__(self):
        order = torch.randperm(self.n_samples) if self.shuffle else torch.arange(self.n_samples)
        for batch in order.split(self.batch_size):
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch


def as_xy(batch):
    """skorch's ``(X, y)`` from a fetched batch: ``(X, None)`` unless it is a pair already."""
    return batch if isinstance(batch, tuple) else (batch, None)


class BatchLoader(DataLoader):
    """``DataLoader`` that fetches each batch with one ``__getitems__`` call.

    Parameters
    ----------
    dataset : Dataset with ``__getitems__`` and ``__len__``
        One of the datasets of this module.
    batch_size : int, default=128
        Samples per batch; the last batch may be smaller.
    shuffle : bool, default=False
        Visit samples in a random order (torch's global generator).
    drop_last : bool, default=False
        Leave out a last, smaller batch.
    **kwargs
        Other :class:`~torch.utils.data.DataLoader` options (``num_workers``,
        ``pin_memory``, ``persistent_workers``, ...). Worker processes suit
        datasets that live on the CPU.

    Examples
    --------
    >>> import torch
    >>> loader = BatchLoader(ReadyWindowDataset(torch.zeros(5, 2)), batch_size=2)
    >>> [tuple(X.shape) for X, y in loader]
    [(2, 2), (2, 2), (1, 2)]
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, drop_last=False, **kwargs):
        sampler = IndexBatchSampler(len(dataset), batch_size, shuffle, drop_last)
        # A DataLoader draws its workers' base seed from `generator`, by default
        # torch's global one: a generator of its own leaves the global stream
        # (shuffling, VAE sampling) exactly as the seeded fit set it.
        kwargs.setdefault("generator", torch.Generator())
        super().__init__(dataset, batch_sampler=sampler, collate_fn=as_xy, **kwargs)


class _BatchedDataset(Dataset):
    """Shared part of the datasets: one row of ``_rows`` per sample.

    ``_rows`` (a tensor) gives the length and the device; ``__getitems__``
    turns any indices into an index tensor on that device.
    """

    @property
    def device(self):
        """Device where the data live and batches are built."""
        return self._rows.device

    def __len__(self):
        return int(self._rows.shape[0])

    def __getitem__(self, index):
        return self.get_batch(index)

    def __getitems__(self, indices):
        if not isinstance(indices, slice):
            indices = torch.as_tensor(indices, dtype=torch.long, device=self.device)
        return self.get_batch(indices)


class SlidingWindowDataset(_BatchedDataset):
    """Windows of a series, gathered per batch as ``(batch, n_channels, window)``.

    Windows are never materialised: the series is kept once and each batch is
    one gather, so memory grows with the series, not with
    ``n_timesteps x window_size``.

    Parameters
    ----------
    series : torch.Tensor of shape (n_timesteps, n_channels)
        The series; it is kept as given (its device is where batches are built).
    starts : array-like of int
        Start index of each window in the dataset.
    window_size : int
        Window length.

    Examples
    --------
    >>> import torch
    >>> data = SlidingWindowDataset(torch.arange(6.0).reshape(3, 2), [0, 1], window_size=2)
    >>> data.get_batch(torch.tensor([1])).tolist()
    [[[2.0, 4.0], [3.0, 5.0]]]
    """

    def __init__(self, series, starts, window_size):
        # Channels first once, so each batch is one gather with no transpose.
        self.series = series.t().contiguous()
        self.starts = torch.as_tensor(np.asarray(starts), dtype=torch.long, device=series.device)
        self.offsets = torch.arange(window_size, device=series.device)
        self.window_size = window_size

    @property
    def _rows(self):
        return self.starts

    def positions(self, indices):
        """Time-step index of every element of the windows ``indices``.

        Parameters
        ----------
        indices : torch.Tensor of int or slice
            The samples to gather.

        Returns
        -------
        positions : torch.Tensor of shape (batch, window)
            The series step of each window element.
        """
        return self.starts[indices].unsqueeze(1) + self.offsets

    def get_batch(self, indices):
        """Windows ``indices`` as one tensor.

        Parameters
        ----------
        indices : torch.Tensor of int or slice
            The samples to gather.

        Returns
        -------
        windows : torch.Tensor of shape (batch, n_channels, window)
            The windows.
        """
        return self.series[:, self.positions(indices)].transpose(0, 1)

    def __getitem__(self, index):
        start = int(self.starts[index])
        return self.series[:, start:start + self.window_size]


class ForecastWindowDataset(SlidingWindowDataset):
    """Windows of a series with the step after each, for forecasting.

    Window ``i`` covers steps ``[i, i + window_size)`` and its target is step
    ``i + window_size``, so a series of ``n`` steps holds
    ``n - window_size`` samples; ``get_batch`` returns
    ``(windows, targets)``, which :class:`BatchLoader` passes on as
    ``(X, y)``.

    Parameters
    ----------
    series : torch.Tensor of shape (n_timesteps, n_channels)
        The series, with ``n_timesteps > window_size``.
    window_size : int
        Window length.

    Examples
    --------
    >>> import torch
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
        """Step after each window ``indices``.

        Parameters
        ----------
        indices : torch.Tensor of int or slice
            The samples to gather.

        Returns
        -------
        targets : torch.Tensor of shape (batch, n_channels)
            The step that follows each window.
        """
        return self.series[:, self.starts[indices] + self.window_size].t()

    def get_batch(self, indices):
        """Windows ``indices`` and the step after each.

        Parameters
        ----------
        indices : torch.Tensor of int or slice
            The samples to gather.

        Returns
        -------
        windows : torch.Tensor of shape (batch, n_channels, window)
            The windows.
        targets : torch.Tensor of shape (batch, n_channels)
            The step after each window.
        """
        return super().get_batch(indices), self.targets(indices)

    def __getitem__(self, index):
        start = int(self.starts[index])
        return (self.series[:, start:start + self.window_size],
                self.series[:, start + self.window_size])


class ReadyWindowDataset(_BatchedDataset):
    """Samples held in one tensor (ready-made windows, images), gathered per batch.

    Parameters
    ----------
    windows : torch.Tensor of shape (n_samples, ...)
        The samples, e.g. (n_windows, n_channels, window) windows or
        (n_images, channels, height, width) images.

    Examples
    --------
    >>> import torch
    >>> ReadyWindowDataset(torch.arange(6.0).reshape(3, 2)).get_batch([2, 0]).tolist()
    [[4.0, 5.0], [0.0, 1.0]]
    """

    def __init__(self, windows):
        self.windows = windows

    @property
    def _rows(self):
        return self.windows

    def get_batch(self, indices):
        """Samples ``indices`` as one tensor.

        Parameters
        ----------
        indices : torch.Tensor of int or slice
            The samples to gather.

        Returns
        -------
        samples : torch.Tensor of shape (batch, ...)
            The samples.
        """
        return self.windows[indices]


class DictDataset(_BatchedDataset):
    """A dict of tensors with one row per sample, gathered per batch as a dict.

    Parameters
    ----------
    tensors : dict of str to torch.Tensor
        Tensors of equal first dimension (e.g. one per modality).

    Examples
    --------
    >>> import torch
    >>> data = DictDataset({"a": torch.zeros(4, 2), "b": torch.ones(4)})
    >>> {k: tuple(v.shape) for k, v in data.get_batch(torch.tensor([0, 3])).items()}
    {'a': (2, 2), 'b': (2,)}
    """

    def __init__(self, tensors):
        self.tensors = tensors

    @property
    def _rows(self):
        return next(iter(self.tensors.values()))

    def get_batch(self, indices):
        """Rows ``indices`` of every tensor, as a dict.

        Parameters
        ----------
        indices : torch.Tensor of int or slice
            The samples to gather.

        Returns
        -------
        batch : dict of str to torch.Tensor
            The rows of each tensor.
        """
        return {key: value[indices] for key, value in self.tensors.items()}
