"""Counts of log templates (or semantic clusters) per time bin, on a given index."""

import numpy as np
import pandas as pd

from ._binning import make_index, parse_times, to_ns, window_of

__all__ = ["count_per_bin"]


def count_per_bin(timestamps, ids, *, freq="60s", index=None, categories=None, prefix="log_",
                  unit="s", return_outside=False):
    """Count events per id and per time bin, aligned to a time index.

    Parameters
    ----------
    timestamps : array-like of shape (n_events,)
        Event times: datetimes, strings pandas parses, or epoch numbers in ``unit``. An
        unparseable or missing one raises a ``ValueError`` naming its row; so do times far
        outside the others' range and, without ``index``, more than a million bins.
    ids : array-like of shape (n_events,) or (n_events, 1)
        Template ids (from :class:`DrainTemplates`) or cluster ids (from
        :class:`SemanticTemplateClusters`), or any labels.
    freq : str, Timedelta or float, default="60s"
        Bin width (a number is seconds).
    index : DatetimeIndex or None, default=None
        Bin starts to align to, e.g. the metrics table's index, so the counts join it
        row for row. None: bins from the floor of the first event to the last.
    categories : array-like or None, default=None
        Ids to give columns to, in order (e.g. ``templates_["template_id"]`` plus the
        unknown id, or ``range(n_clusters)``), so columns do not depend on which ids
        happen to occur. Events with other ids are counted in the outside total. None:
        the sorted distinct ids seen.
    prefix : str, default="log\\_"
        Column name prefix: columns are ``f"{prefix}{id}"``.
    unit : str, default="s"
        Unit of numeric timestamps.
    return_outside : bool, default=False
        Also return the number of events set aside (outside ``index`` or with an id not
        in ``categories``).

    Returns
    -------
    counts : pandas.DataFrame of shape (len(index), n_categories)
        Integer counts; a bin without events counts 0. Indexed by bin start (``"time"``).
    n_outside : int
        Only when ``return_outside=True``.

    Examples
    --------
    >>> from skanomaly.preprocessing import count_per_bin
    >>> t = ["2024-01-01 00:00:10", "2024-01-01 00:00:50", "2024-01-01 00:02:00"]
    >>> count_per_bin(t, [1, 2, 1], freq="60s")  # doctest: +NORMALIZE_WHITESPACE
                         log_1  log_2
    time
    2024-01-01 00:00:00      1      1
    2024-01-01 00:01:00      0      0
    2024-01-01 00:02:00      1      0
    """
    step = to_ns(freq, "freq")
    times = parse_times(timestamps, unit=unit, name="timestamps").asi8
    ids = np.asarray(ids)
    if ids.ndim == 2 and ids.shape[1] == 1:
        ids = ids[:, 0]
    if ids.shape != times.shape:
        raise ValueError(
            f"timestamps and ids must have the same length; got {times.shape[0]} and "
            f"{ids.shape[0] if ids.ndim else 'a scalar'}."
        )
    if categories is None:
        cats = pd.Index(pd.unique(ids)).sort_values()
    else:
        cats = pd.Index(categories)
    code = cats.get_indexer(ids)
    index = make_index(times, step, index, name="timestamps")
    known = code >= 0
    row, win, n_out = window_of(times[known], index, step, step)
    n_win = len(index)
    flat = np.bincount(code[known][row] * n_win + win, minlength=len(cats) * n_win)
    out = pd.DataFrame(flat.reshape(len(cats), n_win).T.astype(np.int64),
                       index=index.rename("time"), columns=[f"{prefix}{c}" for c in cats])
    n_set_aside = int(n_out + (~known).sum())
    return (out, n_set_aside) if return_outside else out
