"""Root-cause analysis: which channels explain an alarm.

Every detector's anomaly score aggregates per-channel terms (normalised
reconstruction or forecast errors, a modality's share; a sum, or AnoFusion's
maximum), which its ``channel_scores`` method returns, so each channel's term
says how much it drives the alarm. These helpers turn those terms into
per-segment channel rankings and score rankings against labelled root causes
with HitRate@P% (Su et al., KDD 2019, OmniAnomaly), the measure used with
SMD's interpretation labels.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .utils._labels import anomaly_mask, label_segments

__all__ = ["channel_contributions", "rank_channels", "hit_rate_at_p"]


def channel_contributions(detector, X):
    """Each channel's term of each sample's anomaly score.

    Parameters
    ----------
    detector : fitted detector
        Any skanomaly detector (its ``channel_scores`` method): for the
        time-series and AnoFusion detectors the channels are the input's
        columns, for the vision detector the image channels, for the
        multimodal detector the modalities and the KL part.
    X : array-like
        Data in the form the detector accepts.

    Returns
    -------
    contributions : ndarray of shape (n_samples, n_channels)
        ``detector.channel_scores(X)``: larger means the channel departs more
        from what the model expects, on a scale comparable across channels.
    """
    check_is_fitted(detector)
    return detector.channel_scores(X)


def rank_channels(contributions, segments=None, *, labels=None):
    """Rank channels by their mean contribution over each segment.

    Parameters
    ----------
    contributions : array-like of shape (n_samples, n_channels)
        Per-sample, per-channel contributions (see :func:`channel_contributions`).
    segments : list of (start, end) or None, default=None
        Half-open row ranges to explain. If None, taken from ``labels``.
    labels : array-like of shape (n_samples,) or None, default=None
        Alarms or true labels: -1/+1 (``predict``, -1 anomalous), 0/1 (1
        anomalous) or boolean; contiguous runs become the segments. Labels
        that are all 1 are read as ``predict``'s "no alarm" (with a
        warning, as in :func:`~skanomaly.metrics.anomaly_mask`): no segment.

    Returns
    -------
    rankings : list of ndarray of int
        For each segment, channel indices from most to least responsible;
        empty when ``labels`` hold no alarm.

    Examples
    --------
    >>> import numpy as np
    >>> contributions = np.array([[0.1, 5.0, 1.0], [0.2, 4.0, 2.0], [1.0, 1.0, 1.0]])
    >>> [r.tolist() for r in rank_channels(contributions, [(0, 2)])]
    [[1, 2, 0]]
    """
    contributions = np.asarray(contributions, dtype=np.float64)
    if contributions.ndim != 2:
        raise ValueError(
            f"contributions must be 2-D (n_samples, n_channels); got shape {contributions.shape}."
        )
    if segments is None:
        if labels is None:
            raise ValueError("Pass segments or labels to say which rows to explain.")
        # -1/+1 (predict), 0/1 or boolean; all ones is read as predict's "no alarm"
        # (with a warning), so no alarm gives no segment, never the whole series
        segments = label_segments(anomaly_mask(labels, name="labels"))
    rankings = []
    for start, end in segments:
        if not 0 <= start < end <= len(contributions):
            raise ValueError(
                f"Segment ({start}, {end}) is empty or outside the {len(contributions)} rows."
            )
        # Stable sort of the negated means: ties keep channel order.
        rankings.append(np.argsort(-contributions[start:end].mean(axis=0), kind="stable"))
    return rankings


def hit_rate_at_p(rankings, true_channels, p=100):
    """HitRate@P%: share of the true root-cause channels found at the top.

    For a segment with ``g`` true channels, the top ``floor(g * p / 100)``
    ranked channels are compared with the true ones and the hit rate is
    ``|top & true| / g``; the result averages over segments (Su et al., 2019).

    Parameters
    ----------
    rankings : list of array-like of int
        Channel rankings per segment (see :func:`rank_channels`).
    true_channels : list of array-like of int
        The labelled root-cause channels of each segment.
    p : float, default=100
        Percentage of ``g`` to look at (100 and 150 are customary).

    Returns
    -------
    hit_rate : float
        In [0, 1], averaged over the segments.

    Examples
    --------
    >>> hit_rate_at_p([[1, 2, 0]], [[1, 0]], p=100)
    0.5
    >>> hit_rate_at_p([[1, 2, 0]], [[1, 0]], p=150)
    1.0
    """
    if len(rankings) != len(true_channels):
        raise ValueError(
            f"{len(rankings)} ranking(s) but {len(true_channels)} set(s) of true channels."
        )
    if not rankings:
        raise ValueError("No segments to evaluate.")
    if p <= 0:
        raise ValueError(f"p must be positive; got {p}.")
    rates = []
    for ranking, truth in zip(rankings, true_channels):
        truth = set(int(c) for c in truth)
        if not truth:
            raise ValueError("Every segment needs at least one true channel.")
        top = set(int(c) for c in np.asarray(ranking)[: int(len(truth) * p / 100)])
        rates.append(len(top & truth) / len(truth))
    return float(np.mean(rates))
