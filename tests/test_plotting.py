"""Tests of skanomaly.plotting.AnomalyScoreDisplay (Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.base import BaseEstimator, OutlierMixin  # noqa: E402
from sklearn.covariance import EllipticEnvelope  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skanomaly.plotting import AnomalyScoreDisplay  # noqa: E402
from skanomaly.thresholds import SPOTThreshold  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_from_predictions_constant_threshold():
    scores = np.array([0.0, 0.5, 3.0, 4.0, 0.2, 2.0])
    y_true = np.array([1, 1, -1, -1, 1, 1])  # -1/+1: anomalies at 2 and 3
    display = AnomalyScoreDisplay.from_predictions(y_true, scores, threshold=1.5, name="s")
    assert display.y_true.tolist() == [False, False, True, True, False, False]
    assert display.y_pred.tolist() == [False, False, True, True, False, True]
    np.testing.assert_array_equal(display.line_.get_ydata(), scores)
    np.testing.assert_array_equal(display.threshold_line_.get_ydata(), np.full(6, 1.5))
    np.testing.assert_array_equal(display.detections_.get_offsets()[:, 1], [3.0, 4.0, 2.0])
    assert display.truth_ is not None
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["s", "threshold", "true anomaly", "detected"]


def test_from_predictions_per_step_threshold_and_given_predictions():
    scores = np.arange(5.0)
    thr = np.array([5.0, 5.0, 1.0, 1.0, 1.0])
    display = AnomalyScoreDisplay.from_predictions(None, scores, threshold=thr)
    assert display.y_pred.tolist() == [False, False, True, True, True]
    np.testing.assert_array_equal(display.threshold_line_.get_ydata(), thr)
    assert display.truth_ is None
    given = AnomalyScoreDisplay.from_predictions(
        None, scores, threshold=thr, y_pred=[1, 1, 1, -1, 1]
    )
    assert given.y_pred.tolist() == [False, False, False, True, False]


def test_from_predictions_draws_on_given_axes_and_index():
    fig, ax = plt.subplots()
    idx = pd.date_range("2024-01-01", periods=4, freq="min")
    display = AnomalyScoreDisplay.from_predictions([0, 0, 1, 0], [0, 0, 1, 0], index=idx, ax=ax)
    assert display.ax_ is ax and display.figure_ is fig
    assert display.threshold_line_ is None and display.detections_ is None
    assert ax.get_xlabel() == "time"


def test_threshold_length_must_match():
    with pytest.raises(ValueError, match="one per score"):
        AnomalyScoreDisplay.from_predictions(None, np.arange(4.0), threshold=np.ones(3))


def test_from_estimator_uses_offset_of_sklearn_detectors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    det = make_pipeline(StandardScaler(), EllipticEnvelope(random_state=0)).fit(X)
    display = AnomalyScoreDisplay.from_estimator(det, X)
    np.testing.assert_allclose(display.scores, -det.score_samples(X))
    assert display.threshold == pytest.approx(-det[-1].offset_)
    # detections agree with the detector's own predict
    np.testing.assert_array_equal(display.y_pred, det.predict(X) == -1)
    assert display.line_.get_label() == "EllipticEnvelope"


class _SpotDetector(OutlierMixin, BaseEstimator):
    """Distance to the training mean, thresholded by a streaming SPOT."""

    def fit(self, X, y=None):
        self.center_ = np.mean(X, axis=0)
        self.thresholder_ = SPOTThreshold(q=1e-2, level=0.9).fit(self._anomaly(X))
        return self

    def _anomaly(self, X):
        return np.abs(np.asarray(X) - self.center_).sum(axis=1)

    def score_samples(self, X):
        return -self._anomaly(X)

    def predict(self, X):
        return self.thresholder_.predict(self._anomaly(X))


def test_from_estimator_uses_the_thresholder_per_step():
    rng = np.random.default_rng(1)
    X_train = rng.exponential(size=(2000, 1))
    X = pd.DataFrame(rng.exponential(size=(300, 1)),
                     index=pd.date_range("2024-01-01", periods=300, freq="s"))
    X.iloc[150:155] += 20.0
    y = np.zeros(300, dtype=int)
    y[150:155] = 1
    det = _SpotDetector().fit(X_train)
    display = AnomalyScoreDisplay.from_estimator(det, X, y)
    expected = det.thresholder_.thresholds(det._anomaly(X))
    np.testing.assert_allclose(display.threshold, expected)
    np.testing.assert_array_equal(display.y_pred, det.predict(X) == -1)
    assert display.y_pred[150:155].all()
    assert display.ax_.get_xlabel() == "time"
