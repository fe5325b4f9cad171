"""Label conventions and anomaly segments (runs of anomalous samples).

Two conventions meet here: scikit-learn's outlier convention (-1 anomalous,
+1 normal, what every detector's ``predict`` returns) and the 0/1 labels of
most benchmark datasets (1 anomalous). Everything below works on boolean
masks, True meaning anomalous.
"""

import warnings

import numpy as np


def anomaly_mask(y, *, anomaly_label=None, name="y"):
    """Boolean mask of anomalies from -1/+1, 0/1 or boolean labels.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels.
    anomaly_label : {None, -1, 1}, default=None
        Label that marks anomalies in numeric arrays (boolean arrays always
        use True). None infers it: an array holding -1 follows the -1/+1
        convention; an array holding 0 follows the 0/1 convention; an array
        of ones only is ambiguous and is read as all normal (+1, the
        convention of ``predict``) with a warning.
    name : str, default="y"
        Name used in messages.

    Returns
    -------
    mask : ndarray of shape (n_samples,), dtype bool
        True where the label marks an anomaly.

    Examples
    --------
    >>> from skanomaly.metrics import anomaly_mask
    >>> anomaly_mask([1, -1, 1]).tolist()
    [False, True, False]
    >>> anomaly_mask([0, 1, 0]).tolist()
    [False, True, False]
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {y.shape}.")
    if y.dtype == bool:  # True is anomalous, whatever anomaly_label says
        return y
    if y.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numeric or boolean labels; got dtype {y.dtype}.")
    values = np.unique(y)
    if anomaly_label is None:
        if not np.all(np.isin(values, (-1, 0, 1))) or (-1 in values and 0 in values):
            raise ValueError(
                f"{name} must hold -1/+1 labels (-1 anomalous) or 0/1 labels "
                f"(1 anomalous); got values {values.tolist()[:10]}."
            )
        if -1 in values:
            anomaly_label = -1
        elif 0 in values:
            anomaly_label = 1
        elif values.size:
            warnings.warn(
                f"{name} holds only the label 1: read as all normal (+1 in the -1/+1 "
                "convention of predict). Pass anomaly_label=1 if these are 0/1 labels "
                "meaning all anomalous.",
                UserWarning,
                stacklevel=3,
            )
            anomaly_label = -1
        else:
            anomaly_label = -1
    elif anomaly_label not in (-1, 1):
        raise ValueError(f"anomaly_label must be None, -1 or 1; got {anomaly_label!r}.")
    normal_label = 1 if anomaly_label == -1 else 0
    if not np.all(np.isin(values, (anomaly_label, normal_label))):
        raise ValueError(
            f"{name} must hold only {anomaly_label} (anomalous) and {normal_label} "
            f"(normal) with anomaly_label={anomaly_label}; got {values.tolist()[:10]}."
        )
    return y == anomaly_label


def as_labels_like(mask, like):
    """Write ``mask`` back in the label convention of the array ``like``."""
    like = np.asarray(like)
    if like.dtype == bool:
        return mask.copy()
    values = np.unique(like)
    if 0 in values:  # 0/1 convention
        return mask.astype(like.dtype)
    return np.where(mask, -1, 1).astype(like.dtype)


def segments(mask):
    """Start (inclusive) and end (exclusive) indices of the runs of True in ``mask``.

    The one "runs of anomalies" helper of the package; :func:`label_segments`
    gives the same runs as a list of ``(start, end)`` pairs.
    """
    d = np.diff(np.asarray(mask, dtype=bool).astype(np.int8), prepend=0, append=0)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def label_segments(y):
    """Turn a 0/1 label vector into contiguous anomaly segments.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels, nonzero meaning anomalous.

    Returns
    -------
    segments : list of tuple of (int, int)
        ``(start, end)`` pairs, 0-based and half-open (``y[start:end]`` is the
        segment), in order.

    Examples
    --------
    >>> from skanomaly.datasets import label_segments
    >>> label_segments([0, 1, 1, 0, 0, 1])
    [(1, 3), (5, 6)]
    """
    starts, ends = segments(np.asarray(y).ravel() != 0)
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def count_in(mask, starts, ends):
    """Number of True values of ``mask`` inside each ``[start, end)``."""
    cs = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    return cs[ends] - cs[starts]


def paint(n, starts, ends):
    """Boolean mask of length ``n`` that is True inside the given runs."""
    marks = np.zeros(n + 1, dtype=np.int64)
    np.add.at(marks, starts, 1)
    np.add.at(marks, ends, -1)
    return np.cumsum(marks[:-1]) > 0


def check_pair(y_true, y_other, anomaly_label, other_name="y_pred"):
    """Masks for ``y_true`` and a second label array of the same length."""
    t = anomaly_mask(y_true, anomaly_label=anomaly_label, name="y_true")
    o = anomaly_mask(y_other, anomaly_label=anomaly_label, name=other_name)
    if t.shape[0] != o.shape[0]:
        raise ValueError(
            f"y_true and {other_name} have different lengths: {t.shape[0]} and {o.shape[0]}."
        )
    return t, o


def check_scores_pair(y_true, scores, anomaly_label):
    """Mask for ``y_true`` and finite float anomaly scores of the same length."""
    t = anomaly_mask(y_true, anomaly_label=anomaly_label, name="y_true")
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] != t.shape[0]:
        raise ValueError(
            f"scores must be 1-D with one value per label ({t.shape[0]}); got shape {s.shape}."
        )
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values.")
    return t, s
