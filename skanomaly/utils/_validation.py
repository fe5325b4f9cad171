"""Input checks and conversions shared by the detectors."""

import numpy as np
import pandas as pd
import torch


def check_numeric_columns(X):
    """Name the non-numeric columns of a DataFrame before conversion fails on them."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return
    bad = [str(col) for col, dtype in dtypes.items()
           if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))]
    if bad:
        raise ValueError(
            f"X has non-numeric column(s) {bad}; encode or drop them before the detector "
            "(e.g. with a ColumnTransformer)."
        )


def as_float32_tensor(array, device):
    """A float32 tensor on ``device`` from an array, copying read-only input.

    ``torch.from_numpy`` shares memory, so a read-only array (a memmap, a
    broadcast view) is copied first rather than exposed writable to torch.
    """
    array = np.require(array, dtype=np.float32, requirements=["C", "W"])
    return torch.from_numpy(array).to(device)


def n_rows(data):
    """Number of samples of an array, a tensor or a dict of them (one row per sample)."""
    if isinstance(data, dict):
        data = next(iter(data.values()))
    return int(data.shape[0])


def take_rows(data, rows):
    """Rows ``rows`` (a slice or indices) of an array, a tensor or a dict of them."""
    if isinstance(data, dict):
        return {key: value[rows] for key, value in data.items()}
    return data[rows]
