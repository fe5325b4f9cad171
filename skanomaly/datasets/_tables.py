"""Numeric text tables read strictly: a malformed file is an error naming the file,
the line and what is wrong, never a raw parser message or silently padded NaN."""

import re

import numpy as np
import pandas as pd

from ._base import _require_file

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def malformed_file_error(path, what, detail):
    """The one message for a file that cannot be read as the dataset's format."""
    return ValueError(
        f"{what} {path} is malformed: {detail}. Fix the file or download it again."
    )


def _fields(line, sep):
    return line.split() if sep is None else [f.strip() for f in line.rstrip("\r\n").split(sep)]


def first_bad_line(path, sep, n_fields=None):
    """Describe the first line that is not ``n_fields`` numbers, or None.

    Parameters
    ----------
    path : path-like
        Text file.
    sep : str or None
        Field separator; None splits on any whitespace.
    n_fields : int or None
        Expected number of fields; None takes the first non-blank line's count.
    """
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            fields = _fields(line, sep)
            if sep is not None and fields and fields[-1] == "" and len(fields) > 1:
                fields = fields[:-1]  # a trailing separator
            if n_fields is None:
                n_fields = len(fields)
            if len(fields) != n_fields:
                return f"line {lineno} has {len(fields)} fields where {n_fields} are expected"
            for column, field in enumerate(fields, start=1):
                if not _NUMBER.match(field):
                    shown = field if len(field) <= 30 else field[:27] + "..."
                    return f"line {lineno}, field {column} is {shown!r}, not a number"
    return None


def read_numeric_table(path, what, *, sep=",", dtype=np.float64, n_fields=None):
    """Read a header-less table of numbers; refuse anything else clearly.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        Human name of the file for messages (e.g. ``"SMD train file"``).
    sep : str or None, default=","
        Field separator; None splits on any whitespace.
    dtype : numpy dtype, default=float64
        Dtype of the result.
    n_fields : int or None, default=None
        Required number of fields per line; None takes the first line's.

    Returns
    -------
    values : ndarray of shape (n_rows, n_fields)

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        If the file is empty, a line has another number of fields, a field is
        not a number (``nan`` and empty fields included); the message names
        the file and the first bad line.
    """
    path = _require_file(path, what)
    try:
        frame = pd.read_csv(
            path, sep=r"\s+" if sep is None else sep, header=None, dtype=np.float64,
            engine="c", na_filter=True,
        )
    except pd.errors.EmptyDataError:
        raise malformed_file_error(path, what, "it is empty") from None
    except (ValueError, UnicodeDecodeError) as exc:
        detail = first_bad_line(path, sep, n_fields) or f"the parser said: {exc}"
        raise malformed_file_error(path, what, detail) from None
    if sep is None:
        # whitespace splitting may leave an all-empty column for trailing blanks
        frame = frame.dropna(axis=1, how="all")
    values = frame.to_numpy(dtype=np.float64)
    if (n_fields is not None and values.shape[1] != n_fields) or not np.isfinite(values).all():
        detail = first_bad_line(path, sep, n_fields)
        if detail is None:
            detail = f"it has {values.shape[1]} columns where {n_fields} are expected"
        raise malformed_file_error(path, what, detail)
    if values.shape[0] == 0:
        raise malformed_file_error(path, what, "it holds no rows")
    return values.astype(dtype, copy=False)
