"""Visualisation of anomaly scores, thresholds, true and detected anomalies."""

import numpy as np

from .utils._labels import anomaly_mask

__all__ = ["AnomalyScoreDisplay"]


def _final_step(estimator):
    # a Pipeline's thresholder lives on its last step
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


class AnomalyScoreDisplay:
    """Anomaly scores over time with threshold, true anomalies and detections.

    Build it with :meth:`from_estimator` or :meth:`from_predictions`, or
    directly and then call :meth:`plot`. All attributes are stored unchanged.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Anomaly scores, higher meaning more anomalous.
    threshold : float, ndarray of shape (n_samples,) or None, default=None
        A constant threshold or one per step.
    y_true : ndarray of shape (n_samples,), dtype bool, or None, default=None
        True anomalies (True = anomalous).
    y_pred : ndarray of shape (n_samples,), dtype bool, or None, default=None
        Detected anomalies; by default ``scores > threshold``.
    index : array-like of shape (n_samples,) or None, default=None
        The x coordinates (positions, or timestamps of a DataFrame's index).
    name : str or None, default=None
        Legend label of the scores.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the plot.
    figure_ : matplotlib Figure
        Figure containing the axes.
    line_ : matplotlib Line2D
        The scores.
    threshold_line_ : matplotlib Line2D or None
        The threshold.
    detections_ : matplotlib PathCollection or None
        Markers on detected points (a strip at the bottom marks them too).
    truth_ : matplotlib PolyCollection or None
        Shading of the true anomaly segments.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skanomaly.plotting import AnomalyScoreDisplay
    >>> scores = np.r_[np.zeros(20), 5.0, 6.0, np.zeros(20)]
    >>> y_true = np.r_[np.zeros(20), 1, 1, np.zeros(20)]
    >>> display = AnomalyScoreDisplay.from_predictions(y_true, scores, threshold=1.0)
    >>> int(display.y_pred.sum())
    2
    """

    def __init__(self, *, scores, threshold=None, y_true=None, y_pred=None, index=None, name=None):
        self.scores = scores
        self.threshold = threshold
        self.y_true = y_true
        self.y_pred = y_pred
        self.index = index
        self.name = name

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, anomaly_label=None, ax=None, name=None):
        """Plot a fitted detector's scores on ``X`` with its threshold.

        Anomaly scores are ``-estimator.score_samples(X)``. The threshold is
        the detector's thresholder (``thresholder_.thresholds``, one per
        step) when it has one, else ``-offset_`` (scikit-learn detectors),
        else none.

        Parameters
        ----------
        estimator : object
            Fitted detector following the outlier convention (or a Pipeline
            ending in one).
        X : array-like or DataFrame
            Input; a DataFrame's index gives the x axis.
        y : array-like of shape (n_samples,) or None, default=None
            True labels, -1/+1 or 0/1.
        anomaly_label : {None, -1, 1}, default=None
            Label of anomalies in ``y``; None infers it.
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure if None.
        name : str or None, default=None
            Legend label; the estimator's class name by default.

        Returns
        -------
        display : AnomalyScoreDisplay
        """
        scores = -np.asarray(estimator.score_samples(X), dtype=np.float64).ravel()
        last = _final_step(estimator)
        thresholder = getattr(last, "thresholder_", None)
        if thresholder is not None:
            threshold = thresholder.thresholds(scores)
        elif hasattr(last, "offset_"):
            threshold = -float(last.offset_)
        else:
            threshold = None
        index = getattr(X, "index", None)
        name = type(last).__name__ if name is None else name
        return cls._build(y, scores, threshold, None, index, name, anomaly_label, ax)

    @classmethod
    def from_predictions(
        cls, y_true, scores, *, threshold=None, y_pred=None, index=None, anomaly_label=None,
        ax=None, name=None,
    ):
        """Plot given anomaly scores, threshold and labels.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,) or None
            True labels, -1/+1 or 0/1; None draws no truth.
        scores : array-like of shape (n_samples,)
            Anomaly scores, higher meaning more anomalous.
        threshold : float, array-like of shape (n_samples,) or None, default=None
            Constant or per-step threshold.
        y_pred : array-like of shape (n_samples,) or None, default=None
            Detected labels; by default ``scores > threshold``.
        index : array-like of shape (n_samples,) or None, default=None
            The x coordinates.
        anomaly_label : {None, -1, 1}, default=None
            Label of anomalies in ``y_true`` and ``y_pred``; None infers it.
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure if None.
        name : str or None, default=None
            Legend label of the scores.

        Returns
        -------
        display : AnomalyScoreDisplay
        """
        scores = np.asarray(scores, dtype=np.float64).ravel()
        return cls._build(y_true, scores, threshold, y_pred, index, name, anomaly_label, ax)

    @classmethod
    def _build(cls, y_true, scores, threshold, y_pred, index, name, anomaly_label, ax):
        n = scores.shape[0]
        if threshold is not None:
            threshold = np.asarray(threshold, dtype=np.float64)
            if threshold.ndim == 1 and threshold.shape[0] != n:
                raise ValueError(
                    f"threshold has {threshold.shape[0]} values for {n} scores; give one "
                    "value or one per score."
                )
            threshold = float(threshold) if threshold.ndim == 0 else threshold
        if y_true is not None:
            y_true = anomaly_mask(y_true, anomaly_label=anomaly_label, name="y_true")
            if y_true.shape[0] != n:
                raise ValueError(f"y_true has {y_true.shape[0]} labels for {n} scores.")
        if y_pred is not None:
            y_pred = anomaly_mask(y_pred, anomaly_label=anomaly_label, name="y_pred")
        elif threshold is not None:
            y_pred = scores > threshold
        display = cls(
            scores=scores, threshold=threshold, y_true=y_true, y_pred=y_pred,
            index=None if index is None else np.asarray(index), name=name,
        )
        return display.plot(ax=ax)

    def plot(self, ax=None, *, name=None):
        """Draw the plot.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure if None.
        name : str or None, default=None
            Legend label of the scores; overrides ``self.name``.

        Returns
        -------
        display : AnomalyScoreDisplay
            Self, with ``ax_``, ``figure_`` and the artists set.
        """
        import matplotlib.pyplot as plt  # imported here: matplotlib stays optional at import

        if ax is None:
            _, ax = plt.subplots(figsize=(10, 3.5))
        scores = np.asarray(self.scores, dtype=np.float64)
        x = np.arange(scores.shape[0]) if self.index is None else self.index
        label = name or self.name or "anomaly score"
        (self.line_,) = ax.plot(x, scores, lw=0.8, color="C0", label=label)
        self.threshold_line_ = None
        if self.threshold is not None:
            thr = np.broadcast_to(np.asarray(self.threshold, dtype=np.float64), scores.shape)
            (self.threshold_line_,) = ax.plot(
                x, thr, lw=1.2, color="C3", ls="--", drawstyle="steps-post", label="threshold"
            )
        band = ax.get_xaxis_transform()  # x in data units, y in axes fraction
        self.truth_ = None
        if self.y_true is not None and np.any(self.y_true):
            # one artist for all segments, however many
            self.truth_ = ax.fill_between(
                x, 0, 1, where=np.asarray(self.y_true, dtype=bool), transform=band,
                color="C1", alpha=0.25, lw=0, step="mid", label="true anomaly",
            )
        self.detections_ = None
        if self.y_pred is not None and np.any(self.y_pred):
            pred = np.asarray(self.y_pred, dtype=bool)
            self.detections_ = ax.scatter(
                x[pred], scores[pred], s=12, color="C3", zorder=3, label="detected"
            )
            ax.fill_between(x, 0, 0.04, where=pred, transform=band, color="C3", step="mid")
        ax.set_xlabel("time" if self.index is not None else "step")
        ax.set_ylabel("anomaly score")
        ax.legend(loc="upper left", fontsize="small")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
