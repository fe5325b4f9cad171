"""Generator of multichannel time series with injected, labelled anomalies."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["make_anomalous_series", "ANOMALY_KINDS"]

#: Kinds of anomaly segments :func:`make_anomalous_series` can inject.
ANOMALY_KINDS = ("spike", "level_shift", "frequency", "decouple")


def _check_int(value, name, low):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    return int(value)


def make_anomalous_series(
    n_timesteps=5000,
    n_channels=8,
    anomaly_fraction=0.05,
    *,
    kinds=ANOMALY_KINDS,
    segment_length=(10, 80),
    noise=0.1,
    n_factors=None,
    clean_start=0,
    return_segments=False,
    random_state=None,
):
    """Generate a realistic multichannel series with labelled anomaly segments.

    Normal behaviour: a few latent seasonal factors (sinusoids with varied
    periods, phases and a harmonic) are mixed into the channels with random
    loadings, so channels are correlated; each channel adds its own seasonal
    component, a slow linear trend, an offset and Gaussian noise.

    Anomalies are injected as non-overlapping segments, each on a random subset
    of channels, drawn from ``kinds``:

    - ``"spike"``: a short burst (1-3 steps) of large positive or negative
      values (4-8 noise-free standard deviations);
    - ``"level_shift"``: a constant offset of 1.5-3 standard deviations;
    - ``"frequency"``: the channel's seasonal component replaced by one 3-6
      times faster over the segment;
    - ``"decouple"``: the channel's share of the latent factors flipped in
      sign, breaking its correlation with the other channels while keeping
      its marginal range.

    Parameters
    ----------
    n_timesteps : int, default=5000
        Length of the series.
    n_channels : int, default=8
        Number of channels (columns).
    anomaly_fraction : float, default=0.05
        Target fraction of anomalous time steps, in [0, 0.5). The realised
        fraction is close to it (segment lengths are drawn at random).
    kinds : sequence of str, default=("spike", "level_shift", "frequency", "decouple")
        Anomaly kinds to draw from, uniformly.
    segment_length : tuple of (int, int), default=(10, 80)
        Inclusive range of segment lengths (spikes are always 1-3 steps).
    noise : float, default=0.1
        Standard deviation of the Gaussian noise, relative to a unit-scale
        signal.
    n_factors : int, default=None
        Number of shared latent factors; ``max(1, n_channels // 3)`` if None.
    clean_start : int, default=0
        Number of leading steps kept free of anomalies (e.g. a training part).
    return_segments : bool, default=False
        If True, also return the injected segments.
    random_state : int, RandomState instance or None, default=None
        Controls every random draw; the same seed gives the same series.

    Returns
    -------
    X : ndarray of shape (n_timesteps, n_channels), dtype float64
        The series.
    y : ndarray of shape (n_timesteps,), dtype int8
        1 on anomalous steps, else 0.
    segments : list of dict
        Only if ``return_segments``: per segment ``start``, ``end`` (0-based,
        half-open), ``kind`` and ``channels`` (list of int), in time order.

    Examples
    --------
    >>> from skanomaly.datasets import make_anomalous_series
    >>> X, y = make_anomalous_series(2000, 5, anomaly_fraction=0.05, random_state=0)
    >>> X.shape, y.shape
    ((2000, 5), (2000,))
    >>> bool(0.02 < y.mean() < 0.08)
    True
    """
    n_timesteps = _check_int(n_timesteps, "n_timesteps", 2)
    n_channels = _check_int(n_channels, "n_channels", 1)
    clean_start = _check_int(clean_start, "clean_start", 0)
    if not isinstance(anomaly_fraction, Real) or not 0 <= anomaly_fraction < 0.5:
        raise ValueError(f"anomaly_fraction must be in [0, 0.5); got {anomaly_fraction!r}.")
    if not isinstance(noise, Real) or noise < 0:
        raise ValueError(f"noise must be a float >= 0; got {noise!r}.")
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    unknown = [k for k in kinds if k not in ANOMALY_KINDS]
    if not kinds or unknown:
        raise ValueError(
            f"kinds must be a non-empty subset of {ANOMALY_KINDS}; got unknown {unknown}."
        )
    try:
        lo, hi = (int(v) for v in segment_length)
    except (TypeError, ValueError):
        raise ValueError(
            f"segment_length must be a pair (min, max) of ints; got {segment_length!r}."
        ) from None
    if not 1 <= lo <= hi:
        raise ValueError(f"segment_length must satisfy 1 <= min <= max; got {segment_length!r}.")
    if clean_start >= n_timesteps:
        raise ValueError(
            f"clean_start ({clean_start}) must be smaller than n_timesteps ({n_timesteps})."
        )
    n_factors = max(1, n_channels // 3) if n_factors is None else _check_int(
        n_factors, "n_factors", 1
    )
    rng = check_random_state(random_state)
    t = np.arange(n_timesteps, dtype=np.float64)[:, None]  # (n, 1)

    # Shared latent seasonal factors: periods of 24-400 steps, random phases,
    # a weaker second harmonic.
    f_period = rng.uniform(24, 400, size=n_factors)
    f_phase = rng.uniform(0, 2 * np.pi, size=n_factors)
    f_h2 = rng.uniform(0.0, 0.5, size=n_factors)
    arg = 2 * np.pi * t / f_period + f_phase
    factors = np.sin(arg) + f_h2 * np.sin(2 * arg + 1.0)  # (n, k)
    loadings = rng.normal(size=(n_factors, n_channels))
    loadings /= np.linalg.norm(loadings, axis=0, keepdims=True)
    shared = factors @ loadings  # (n, c)

    # Per-channel seasonal components.
    c_period = rng.uniform(12, 300, size=n_channels)
    c_phase = rng.uniform(0, 2 * np.pi, size=n_channels)
    c_amp = rng.uniform(0.2, 0.8, size=n_channels)
    own = c_amp * np.sin(2 * np.pi * t / c_period + c_phase)  # (n, c)

    trend = rng.uniform(-1.0, 1.0, size=n_channels) * (t / n_timesteps)
    scale = rng.uniform(0.5, 3.0, size=n_channels)
    offset = rng.uniform(-2.0, 2.0, size=n_channels)
    eps = noise * rng.normal(size=(n_timesteps, n_channels))
    base = shared + own + trend
    std = base.std(axis=0) + 1e-12

    # Segment layout: draw lengths until the target is reached, then place them
    # in the free part with random gaps (>= 1 step between segments).
    free_len = n_timesteps - clean_start
    target = int(round(anomaly_fraction * free_len))
    seg_kinds, lengths = [], []
    total = 0
    while total < target:
        kind = kinds[rng.randint(len(kinds))]
        length = rng.randint(1, 4) if kind == "spike" else rng.randint(lo, hi + 1)
        length = min(length, target - total) if kind != "spike" else length
        if sum(lengths) + length + len(lengths) >= free_len:
            break
        seg_kinds.append(kind)
        lengths.append(length)
        total += length
    m = len(lengths)
    segments = []
    anom = np.zeros_like(base)
    if m:
        lengths = np.asarray(lengths)
        slack = free_len - lengths.sum() - (m - 1)
        gaps = rng.multinomial(slack, np.full(m + 1, 1.0 / (m + 1)))
        starts = clean_start + np.cumsum(gaps[:-1]) + np.concatenate(
            [[0], np.cumsum(lengths[:-1] + 1)]
        )
        for kind, start, length in zip(seg_kinds, starts, lengths):
            start, end = int(start), int(start + length)
            n_aff = rng.randint(1, max(1, n_channels // 2) + 1)
            ch = np.sort(rng.choice(n_channels, size=n_aff, replace=False))
            sl = slice(start, end)
            if kind == "spike":
                sign = rng.choice([-1.0, 1.0], size=n_aff)
                anom[sl, ch] += sign * rng.uniform(4, 8, size=n_aff) * std[ch]
            elif kind == "level_shift":
                sign = rng.choice([-1.0, 1.0], size=n_aff)
                anom[sl, ch] += sign * rng.uniform(1.5, 3.0, size=n_aff) * std[ch]
            elif kind == "frequency":
                fast = c_period[ch] / rng.uniform(3, 6, size=n_aff)
                new = c_amp[ch] * np.sin(2 * np.pi * t[sl] / fast + c_phase[ch])
                # keep the swap visible on channels whose own component is weak
                new *= np.maximum(1.0, 0.8 * std[ch] / c_amp[ch])
                anom[sl, ch] += new - own[sl, ch]
            else:  # decouple
                anom[sl, ch] += -2.0 * shared[sl, ch]
            segments.append({"start": start, "end": end, "kind": kind, "channels": ch.tolist()})

    X = (base + anom + eps) * scale + offset
    y = np.zeros(n_timesteps, dtype=np.int8)
    for seg in segments:
        y[seg["start"]:seg["end"]] = 1
    if return_segments:
        return X, y, segments
    return X, y
