"""Time bins shared by log counts, trace windows, alignment and telemetry channels.

Time sanity lives here too, so every function that derives bins from data refuses the
same mistakes the same way, in well under a second and naming the rows: a timestamp far
outside the data's own range (one epoch-0 value among 2023 data), a bin count above
:data:`MAX_BINS`, and epoch numbers read in the wrong unit.
"""

import numpy as np
import pandas as pd

from ._validation import to_datetime

#: Most bins an index derived from the data may hold (about 1.9 years of minutes).
#: An explicit ``index`` is not limited: its size is the caller's choice.
MAX_BINS = 1_000_000

#: A timestamp is "far outside" when its distance to the median time is above
#: ``FAR_FACTOR`` times the spread of the middle 90 % of the times (at least one day).
FAR_FACTOR = 100
_DAY_NS = 86_400 * 10**9
_UNIT_BY_DIGITS = ((9, "s"), (12, "ms"), (15, "us"), (18, "ns"))


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


def parse_times(values, *, unit="s", name="timestamps"):
    """Parse timestamps like ``to_datetime``, with a unit hint for epoch numbers out of range.

    Epoch nanoseconds read as seconds overflow pandas' range; the error then says which
    unit the numbers' magnitude suggests instead of pandas' ``OutOfBoundsDatetime``.
    """
    try:
        return to_datetime(values, unit=unit, name=name)
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        v = np.abs(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64))
        i = int(np.nanargmax(v)) if np.isfinite(v).any() else 0
        digits = int(np.floor(np.log10(np.nanmedian(v)))) if np.isfinite(v).any() else 0
        guess = min(_UNIT_BY_DIGITS, key=lambda d: abs(d[0] - digits))[1]
        raise ValueError(
            f"{name}: row {i} ({pd.Series(values).iloc[i]}) is out of range as epoch "
            f"'{unit}'; numbers of this size look like epoch '{guess}': pass the time "
            f"unit '{guess}' (e.g. time_unit='{guess}' or unit='{guess}')."
        ) from None


def _fmt(ns):
    return str(pd.Timestamp(int(ns)))


def fmt_duration(ns):
    """Nanoseconds as a short duration string that ``pd.Timedelta`` reads back ("60s")."""
    return f"{ns / 1e9:g}s"


def check_time_range(times_ns, *, name="timestamps", rows=None):
    """Raise when some times lie far outside the range of the others (see ``FAR_FACTOR``).

    ``rows`` maps positions in ``times_ns`` to the row numbers the error names (default:
    the positions themselves).
    """
    n = len(times_ns)
    if n < 3:
        return
    s = np.sort(times_ns)
    med = int(s[(n - 1) // 2])
    lo, hi = int(s[int(0.05 * (n - 1))]), int(s[int(np.ceil(0.95 * (n - 1)))])
    limit = FAR_FACTOR * max(hi - lo, _DAY_NS)
    far = np.flatnonzero(np.abs(times_ns.astype(np.float64) - med) > limit)
    if len(far):
        rows = np.arange(n) if rows is None else np.asarray(rows)
        shown = ", ".join(f"row {rows[k]} ({_fmt(times_ns[k])})" for k in far[:5])
        raise ValueError(
            f"{name}: {len(far)} timestamp(s) lie far outside the data's own range (median "
            f"{_fmt(med)}, 90 % of rows within {_fmt(lo)} .. {_fmt(hi)}): {shown}"
            f"{' ...' if len(far) > 5 else ''}. Fix or drop these rows (an epoch 0 or a "
            "wrong unit?)."
        )


def _check_bin_count(times_ns, step_ns, name, rows):
    lo_k, hi_k = int(np.argmin(times_ns)), int(np.argmax(times_ns))
    n = (int(times_ns[hi_k]) - int(times_ns[lo_k])) // step_ns + 1
    if n > MAX_BINS:
        rows = np.arange(len(times_ns)) if rows is None else np.asarray(rows)
        raise ValueError(
            f"{name}: the times span {n:,} bins of {fmt_duration(step_ns)}, more than "
            f"MAX_BINS={MAX_BINS:,}: from row {rows[lo_k]} ({_fmt(times_ns[lo_k])}) to row "
            f"{rows[hi_k]} ({_fmt(times_ns[hi_k])}). Check those timestamps, or pass a "
            "coarser freq/window or an explicit index."
        )


def make_index(times_ns, step_ns, index=None, *, name="timestamps", rows=None):
    """Regular window starts: ``index`` if given, else from the floor of the first time.

    A derived index is checked first: no time far outside the others
    (:func:`check_time_range`) and at most :data:`MAX_BINS` bins, each error naming rows.
    """
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
    times_ns = np.asarray(times_ns, dtype=np.int64)
    check_time_range(times_ns, name=name, rows=rows)
    _check_bin_count(times_ns, step_ns, name, rows)
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
    if k > 1000:
        raise ValueError(
            f"A window of {fmt_duration(window_ns)} overlaps {k} windows spaced "
            f"{fmt_duration(spacing)}; at most 1000 are supported (use a larger step)."
        )
    rows, wins = [], []
    hit = np.zeros(len(times_ns), dtype=bool)
    for r in range(k):
        j = last - r
        ok = (j >= 0) & (j < n_win) & (d < j * spacing + window_ns) & (d >= j * spacing)
        rows.append(np.flatnonzero(ok))
        wins.append(j[ok])
        hit |= ok
    return np.concatenate(rows), np.concatenate(wins), int((~hit).sum())
