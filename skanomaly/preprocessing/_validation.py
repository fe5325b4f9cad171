"""Input checks shared by the log and trace transformers.

One place decides how raw text, timestamps and required columns are validated, so
every transformer reports bad input the same way: the error names the row or the
column at fault.
"""

import numpy as np
import pandas as pd


def check_lines(X, *, encoding="utf-8", errors="strict", name="X"):
    """Turn a column of log lines into a 1-D object array of ``str``.

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, 1)
        Log lines as ``str`` or ``bytes``. A one-column DataFrame or 2-D array (what a
        ``ColumnTransformer`` passes when it selects ``["col"]``) is accepted.
    encoding : str, default="utf-8"
        Encoding used to decode ``bytes`` lines.
    errors : {"strict", "replace"}, default="strict"
        ``"strict"`` raises on undecodable bytes, naming the row; ``"replace"``
        substitutes U+FFFD for them.
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    lines : ndarray of shape (n_samples,), dtype object
    """
    if isinstance(X, str) or isinstance(X, bytes):
        raise ValueError(
            f"{name} must be a sequence of log lines, got a single string; wrap it in a list."
        )
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                f"{name} must hold one column of log lines; got {X.shape[1]} columns "
                f"({list(X.columns)[:5]})."
            )
        X = X.iloc[:, 0]
    arr = np.asarray(X, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one log line per row) or a single column; got shape {arr.shape}."
        )
    out = np.empty(arr.shape[0], dtype=object)
    for i, v in enumerate(arr):
        if isinstance(v, str):
            out[i] = v
        elif isinstance(v, (bytes, bytearray)):
            try:
                out[i] = bytes(v).decode(encoding, errors=errors)
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{name}: row {i} is not valid {encoding} ({exc.reason} at byte "
                    f"{exc.start}); pass decode_errors='replace' to substitute U+FFFD."
                ) from None
        elif v is None or (isinstance(v, float) and np.isnan(v)):
            raise ValueError(f"{name}: row {i} is missing (None/NaN); log lines must be text.")
        else:
            raise TypeError(
                f"{name}: row {i} is of type {type(v).__name__}; log lines must be str or bytes."
            )
    return out


def check_columns(df, required, *, name="table"):
    """Raise a ``ValueError`` naming every required column absent from ``df``."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in required if c is not None and c not in df.columns]
    if missing:
        raise ValueError(
            f"{name} is missing required column(s) {missing}; it has {list(df.columns)}."
        )


def to_datetime(values, *, unit=None, name="timestamp"):
    """Parse timestamps to a naive UTC ``DatetimeIndex`` (nanosecond resolution).

    Numbers are read as epoch offsets in ``unit`` (default seconds); strings and
    datetimes are parsed by pandas. An unparseable value raises a ``ValueError``
    naming its row and value.
    """
    s = pd.Series(values)
    if s.isna().any():
        i = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise ValueError(f"{name}: row {i} is missing; every row needs a timestamp.")
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        out = pd.to_datetime(s.to_numpy(), unit=unit or "s")
    else:
        try:
            out = pd.to_datetime(s, utc=True, format="mixed")
        except (ValueError, TypeError, OverflowError):
            parsed = pd.to_datetime(s, utc=True, format="mixed", errors="coerce")
            i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
            raise ValueError(
                f"{name}: row {i} has an unparseable timestamp {s.iloc[i]!r}."
            ) from None
        out = pd.DatetimeIndex(out).tz_convert(None)
    return pd.DatetimeIndex(out).as_unit("ns")
