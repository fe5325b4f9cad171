"""Time bins shared by log counts, trace windows and alignment."""

import numpy as np
import pandas as pd


def to_ns(delta, name="window"):
    """A pandas offset string / Timedelta / seconds (number) as integer nanoseconds > 0."""
    if isinstance(delta, (int, float, np.integer, np.floating)) and not isinstance(delta, bool):
        ns = int(round(float(delta) * 1e9))
    else:
        try:
            ns = pd.Timedelta(delta).value
        except (ValueError, TypeError):
            raise ValueError(f"{name}={delta!r} is not a duration (e.g. '60s', 60).") from None
    if ns <= 0:
        raise ValueError(f"{name} must be positive, got {delta!r}.")
    return ns


def make_index(times_ns, step_ns, index=None):
    """Regular window starts: ``index`` if given, else from the floor of the first time."""
    if index is not None:
        index = pd.DatetimeIndex(index)
        if index.tz is not None:
            index = index.tz_convert(None)
        index = index.as_unit("ns")
        if len(index) > 1:
            d = np.diff(index.asi8)
            if not (d == d[0]).all():
                raise ValueError("index must be regular (constant spacing).")
        return index
    if len(times_ns) == 0:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    lo = (int(times_ns.min()) // step_ns) * step_ns
    hi = int(times_ns.max())
    n = (hi - lo) // step_ns + 1
    return pd.DatetimeIndex(lo + step_ns * np.arange(n, dtype=np.int64)).as_unit("ns")


def window_of(times_ns, index, step_ns, window_ns):
    """Assign each time to every window ``[start, start + window)`` of ``index`` holding it.

    Returns
    -------
    row : ndarray of int64
        Position of the event in ``times_ns`` (an event appears once per window it
        falls in; ``window > step`` gives overlapping windows).
    win : ndarray of int64
        Window position in ``index``.
    n_outside : int
        Events in no window of ``index``.
    """
    n_win = len(index)
    if n_win == 0 or len(times_ns) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), int(len(times_ns))
    origin = int(index.asi8[0])
    spacing = int(index.asi8[1] - index.asi8[0]) if n_win > 1 else step_ns
    d = times_ns - origin
    last = np.floor_divide(d, spacing)
    k = -(-window_ns // spacing)  # windows a time can fall in
    rows, wins = [], []
    hit = np.zeros(len(times_ns), dtype=bool)
    for r in range(k):
        j = last - r
        ok = (j >= 0) & (j < n_win) & (d < j * spacing + window_ns) & (d >= j * spacing)
        rows.append(np.flatnonzero(ok))
        wins.append(j[ok])
        hit |= ok
    return np.concatenate(rows), np.concatenate(wins), int((~hit).sum())
