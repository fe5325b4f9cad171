"""Which columns of a table belong to which modality."""

from numbers import Integral

import numpy as np

__all__ = ["column_groups"]


def column_groups(groups, n_columns, feature_names=None, param="modalities"):
    """Column indices of each group, every column in exactly one group.

    Parameters
    ----------
    groups : dict of str to columns
        For each group, a ``slice``, one column or a list of columns; a column
        is an integer position (negative counts from the end) or, when the
        table has column names, a name.
    n_columns : int
        Columns of the table.
    feature_names : array-like of str, default=None
        Column names of the table, if it has them.
    param : str, default="modalities"
        Name of the parameter ``groups`` came from, for error messages.

    Returns
    -------
    columns : dict of str to ndarray of int64
        Column positions of each group, in the order given.

    Raises
    ------
    ValueError
        A group selects no column or a column the table does not have, a column
        belongs to two groups, or a column belongs to none.

    Examples
    --------
    >>> {k: v.tolist() for k, v in column_groups({"a": [0, -1], "b": slice(1, 3)}, 4).items()}
    {'a': [0, 3], 'b': [1, 2]}
    """
    lookup = {str(c): i for i, c in enumerate(feature_names)} if feature_names is not None else {}
    owner, columns = {}, {}
    for name, spec in groups.items():
        if isinstance(spec, slice):
            index = np.arange(n_columns)[spec]
        else:
            spec = [spec] if isinstance(spec, (str, Integral)) else list(spec)
            index = np.asarray([_position(col, name, n_columns, lookup, param) for col in spec],
                               dtype=np.int64)
        if index.size == 0:
            raise ValueError(
                f"{param}[{name!r}] selects no column of X, which has {n_columns} feature(s)."
            )
        for col in index.tolist():
            if col in owner:
                raise ValueError(
                    f"Column {col} belongs to both modalities {owner[col]!r} and {name!r}; each "
                    "column must belong to exactly one modality."
                )
            owner[col] = name
        columns[name] = index
    unused = sorted(set(range(n_columns)) - set(owner))
    if unused:
        raise ValueError(
            f"Column(s) {unused[:10]}{'...' if len(unused) > 10 else ''} of X belong to no "
            "modality; map every column (drop unwanted ones before the detector)."
        )
    return columns


def _position(col, name, n_columns, lookup, param):
    if isinstance(col, str):
        if col not in lookup:
            raise ValueError(
                f"{param}[{name!r}] names column {col!r}, which X does not have"
                + ("" if lookup else " (X has no column names)") + "."
            )
        return lookup[col]
    if isinstance(col, Integral) and -n_columns <= col < n_columns:
        return int(col) % n_columns
    raise ValueError(f"{param}[{name!r}] names column {col!r}, but X has {n_columns} columns.")
