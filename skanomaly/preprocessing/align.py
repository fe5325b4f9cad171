"""Put metrics, log counts and trace statistics on one time index.

Fill rules (each modality has its own, because "no data" means different things):

- log counts: a bin without lines counts 0;
- trace statistics: a window without spans has ``count`` 0; its latency statistics
  and error rate are filled by ``trace_fill`` (0 by default: no traffic, no latency;
  or carried forward, or left NaN);
- metrics: samples falling in one bin are averaged; a gap of at most ``max_gap``
  bins is filled by ``metric_fill`` (carry forward or linear interpolation); longer
  gaps stay NaN and are reported in a warning (a detector should see them, not a
  made-up value).
"""

import warnings
from numbers import Integral

import numpy as np
import pandas as pd

from ._binning import check_time_range, fmt_duration, make_index, to_ns

__all__ = ["MODALITIES", "align_channels"]

MODALITIES = ("metric", "log", "trace")


def _as_frame(part, name):
    if part is None:
        return None
    if isinstance(part, (list, tuple)):
        parts = [p for p in (_as_frame(p, name) for p in part) if p is not None]
        return pd.concat(parts, axis=1) if parts else None
    if not isinstance(part, pd.DataFrame):
        raise TypeError(f"{name} must be a DataFrame (or a list of them), got "
                        f"{type(part).__name__}.")
    if not isinstance(part.index, pd.DatetimeIndex):
        raise ValueError(f"{name} must be indexed by a DatetimeIndex (bin or sample times).")
    idx = part.index.tz_convert(None) if part.index.tz is not None else part.index
    return part.set_axis(idx.as_unit("ns"), axis=0)


def align_channels(metrics=None, log_counts=None, trace_stats=None, *, index=None,
                   freq="60s", metric_fill="ffill", max_gap=5, trace_fill="zero"):
    """Align metric, log and trace channels on one regular time index.

    Parameters
    ----------
    metrics : DataFrame, list of DataFrame or None
        Numeric metric channels indexed by sample time (any times: they are binned to
        ``freq`` by averaging).
    log_counts : DataFrame, list of DataFrame or None
        Counts per bin, e.g. from :func:`count_per_bin`.
    trace_stats : DataFrame, list of DataFrame or None
        Window statistics, e.g. from :class:`TraceWindowStats` (columns
        ``"<group>__<stat>"``).
    index : DatetimeIndex or None, default=None
        Target bins, regular, starting anywhere (e.g. at a case's first sample, not
        on a whole minute): bin ``i`` holds ``[index[i], index[i] + freq)``. None: bins
        on whole multiples of ``freq`` from the earliest to the latest time of any
        input (a time far outside the others' range, or more than a million bins,
        raises naming the row).
    freq : str, Timedelta or float, default="60s"
        Bin width. With an ``index`` of two or more bins it must equal their spacing.
    metric_fill : {"ffill", "interpolate", "none"}, default="ffill"
        How metric gaps of at most ``max_gap`` bins are filled.
    max_gap : int, default=5
        Longest metric gap (in bins) that is filled; longer ones stay NaN.
    trace_fill : {"zero", "ffill", "nan"}, default="zero"
        Fill for trace statistics in windows without spans (``count`` is always 0).

    Returns
    -------
    channels : pandas.DataFrame of shape (n_bins, n_channels)
        Metrics, then logs, then traces; float64; indexed by bin start (``"time"``).
    modality : pandas.Series of str
        The modality (``"metric"``, ``"log"`` or ``"trace"``) of each column.

    Examples
    --------
    >>> import pandas as pd
    >>> from skanomaly.preprocessing import align_channels
    >>> t = pd.date_range("2024-01-01", periods=3, freq="60s")
    >>> cpu = pd.DataFrame({"cpu": [0.5, None, 0.7]}, index=t + pd.Timedelta("5s"))
    >>> logs = pd.DataFrame({"log_1": [3]}, index=t[1:2])
    >>> X, mod = align_channels(cpu, logs)
    >>> X  # doctest: +NORMALIZE_WHITESPACE
                         cpu  log_1
    time
    2024-01-01 00:00:00  0.5    0.0
    2024-01-01 00:01:00  0.5    3.0
    2024-01-01 00:02:00  0.7    0.0
    >>> mod.tolist()
    ['metric', 'log']
    """
    if metric_fill not in ("ffill", "interpolate", "none"):
        raise ValueError("metric_fill must be 'ffill', 'interpolate' or 'none'; "
                         f"got {metric_fill!r}.")
    if trace_fill not in ("zero", "ffill", "nan"):
        raise ValueError(f"trace_fill must be 'zero', 'ffill' or 'nan'; got {trace_fill!r}.")
    if not isinstance(max_gap, Integral) or max_gap < 0:
        raise ValueError(f"max_gap must be a non-negative int; got {max_gap!r}.")
    step = to_ns(freq, "freq")
    names = {"metric": "metrics", "log": "log_counts", "trace": "trace_stats"}
    parts = {mod: _as_frame(part, names[mod])
             for mod, part in zip(names, (metrics, log_counts, trace_stats))}
    if all(p is None for p in parts.values()):
        raise ValueError("Nothing to align: pass metrics, log_counts and/or trace_stats.")
    origin = 0  # bins start on whole multiples of freq, or at the given index
    if index is not None:
        index = make_index(None, step, index)
        if len(index) > 1 and index.asi8[1] - index.asi8[0] != step:
            raise ValueError(
                f"index is spaced {fmt_duration(index.asi8[1] - index.asi8[0])} but "
                f"freq={freq!r}; pass freq='{fmt_duration(index.asi8[1] - index.asi8[0])}' "
                "(or no index)."
            )
        origin = int(index.asi8[0]) if len(index) else 0
    else:
        for mod, part in parts.items():
            if part is not None:
                check_time_range(part.index.asi8, name=f"{names[mod]} index")
    if parts["metric"] is not None:  # bin metric samples: mean per bin
        m = parts["metric"].apply(pd.to_numeric, errors="coerce")
        b = origin + ((m.index.asi8 - origin) // step) * step
        parts["metric"] = m.groupby(pd.DatetimeIndex(b).as_unit("ns")).mean()
    for mod in ("log", "trace"):  # already binned: their rows must sit on the bins
        part = parts[mod]
        off = part is not None and (part.index.asi8 - origin) % step != 0
        if off is not False and off.any():
            i = int(np.flatnonzero(off)[0])
            raise ValueError(
                f"{names[mod]}: row {i} ({part.index[i]}) does not start a bin of "
                f"{fmt_duration(step)} from {pd.Timestamp(origin)}; compute it on the "
                "same index (e.g. count_per_bin(..., index=index))."
            )
    if index is None:
        stamps = np.concatenate([p.index.asi8 for p in parts.values() if p is not None])
        index = make_index(stamps, step, name="channel tables")
    out, modality = [], []
    for mod, part in parts.items():
        if part is None:
            continue
        part = part.reindex(index).astype(np.float64)
        if mod == "metric" and len(part):
            if metric_fill != "none" and max_gap > 0:
                # fill, then keep the fill only inside NaN runs of at most max_gap bins
                filled = (part.ffill(limit=max_gap) if metric_fill == "ffill"
                          else part.interpolate(limit=max_gap, limit_area="inside"))
                part = _only_short_gaps(part, filled, max_gap)
            n_nan = int(part.isna().to_numpy().sum())
            if n_nan:
                col = part.columns[part.isna().any().to_numpy()][0]
                warnings.warn(f"align_channels: {n_nan} metric cell(s) stay NaN (gaps longer "
                              f"than max_gap={max_gap} bins or no data; first column {col!r}).",
                              UserWarning, stacklevel=2)
        elif mod == "log":
            part = part.fillna(0.0)
        elif mod == "trace":
            is_count = np.array([str(c).endswith("count") for c in part.columns])
            part.loc[:, is_count] = part.loc[:, is_count].fillna(0.0)
            if trace_fill == "zero":
                part = part.fillna(0.0)
            elif trace_fill == "ffill":
                part = part.ffill().fillna(0.0)
        out.append(part)
        modality += [mod] * part.shape[1]
    table = pd.concat(out, axis=1)
    dup = table.columns[table.columns.duplicated()]
    if len(dup):
        raise ValueError(f"Channel names collide across inputs: {list(dup)[:5]}; rename them.")
    table.index.name = "time"
    return table, pd.Series(modality, index=table.columns, name="modality")


def _only_short_gaps(raw, filled, max_gap):
    """Keep ``filled`` values only inside NaN runs of length <= max_gap."""
    isna = raw.isna().to_numpy()
    keep = np.zeros_like(isna)
    for j in range(isna.shape[1]):  # loop over channels, vectorised over time
        col = isna[:, j]
        if not col.any():
            continue
        edges = np.diff(np.concatenate(([0], col.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for s, e in zip(starts, ends):
            if e - s <= max_gap:
                keep[s:e, j] = True
    vals = np.where(keep, filled.to_numpy(), raw.to_numpy())
    return pd.DataFrame(vals, index=raw.index, columns=raw.columns)
