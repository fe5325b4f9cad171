"""Shared helpers of the dataset loaders: locating data folders, reading tables,
turning 0/1 labels into segments.

Every loader takes ``data_home``. When it is ``None`` the folder is searched in
this order:

1. ``$SKANOMALY_DATA/<folder>`` and ``$SKANOMALY_DATA`` (environment variable);
2. ``../shared/data/<folder>`` relative to the current working directory;
3. ``../shared/data/<folder>`` relative to the repository that holds this package
   (a source checkout).

A loader that finds nothing raises :class:`FileNotFoundError` naming every path it
tried, so a user can see at once where to put the files or what to pass.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..utils._labels import label_segments  # noqa: F401  (public here)

__all__ = ["get_data_home", "label_segments"]

#: Name of the environment variable pointing at a folder of datasets.
DATA_ENV = "SKANOMALY_DATA"

# skanomaly/datasets/_base.py -> parents[2] is the repository (or site-packages) root
_REPO_ROOT = Path(__file__).resolve().parents[2]


def get_data_home(data_home=None):
    """Return the candidate root folders searched for datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder given by the user. When ``None``, the default search path is used:
        ``$SKANOMALY_DATA``, then ``../shared/data`` relative to the current
        working directory and to the source repository.

    Returns
    -------
    roots : list of pathlib.Path
        Root folders, in search order (they need not exist).

    Examples
    --------
    >>> from skanomaly.datasets import get_data_home
    >>> [str(p) for p in get_data_home("/data")]
    ['/data']
    """
    if data_home is not None:
        return [Path(os.fspath(data_home)).expanduser()]
    roots = []
    env = os.environ.get(DATA_ENV)
    if env:
        roots.append(Path(env).expanduser())
    roots.append(Path.cwd() / ".." / "shared" / "data")
    roots.append(_REPO_ROOT.parent / "shared" / "data")
    return roots


def _resolve_dir(data_home, folder, inner, check, what):
    """Find the folder of one dataset.

    Parameters
    ----------
    data_home : path-like or None
        User folder, or ``None`` for the default search path.
    folder : str
        Name of the dataset's folder under a data root (e.g. ``"smd"``).
    inner : sequence of str
        Relative sub-paths tried under each candidate (``""`` = the candidate).
    check : callable
        ``check(path) -> bool`` telling whether ``path`` is the wanted folder.
    what : str
        Human name of the dataset for the error message.
    """
    tried = []
    for root in get_data_home(data_home):
        for base in (root, root / folder):
            for sub in inner:
                cand = base / sub if sub else base
                cand = Path(os.path.normpath(cand))
                if cand in tried:
                    continue
                tried.append(cand)
                if check(cand):
                    return cand
    listing = "\n  ".join(str(p) for p in tried)
    hint = (
        f"pass data_home=... or set the {DATA_ENV} environment variable"
        if data_home is None
        else "check data_home"
    )
    raise FileNotFoundError(
        f"Could not find the {what} files; {hint}. Paths tried:\n  {listing}"
    )


def _require_file(path, what):
    """Raise a clear FileNotFoundError when ``path`` is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Missing {what}: {path}")
    return path


def _read_numeric_table(path, *, sep=",", dtype=np.float32, what="data file"):
    """Read a header-less numeric text table into a 2-D array (fast C parser)."""
    path = _require_file(path, what)
    frame = pd.read_csv(path, sep=sep, header=None, dtype=dtype, engine="c")
    return frame.to_numpy(dtype=dtype, copy=False)


def _unknown_name_error(kind, name, available):
    return ValueError(
        f"Unknown {kind} {name!r}; available: {', '.join(available) if available else '(none)'}."
    )
