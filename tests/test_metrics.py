"""Tests of skanomaly.metrics: hand-computed examples, label conventions,
brute-force references for the vectorised code, and scorers in GridSearchCV."""

import numpy as np
import pytest
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score

from skanomaly.metrics import (
    adjust_scores,
    adjusted_precision_recall_f1,
    anomaly_average_precision_score,
    anomaly_average_precision_scorer,
    anomaly_f1_score,
    anomaly_f1_scorer,
    anomaly_mask,
    anomaly_roc_auc_score,
    best_f1_score,
    delay_point_adjust,
    event_precision_recall_f1,
    make_anomaly_scorer,
    pa_k_adjust,
    point_adjust,
    point_adjusted_f1_score,
    point_adjusted_f1_scorer,
)

# truth: segments [1, 4), [6, 9), [10, 11)
Y_TRUE = np.array([0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0])
Y_PRED = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1])


# --------------------------------------------------------------- conventions
def test_label_conventions_agree():
    pm1 = np.where(Y_TRUE == 1, -1, 1)
    np.testing.assert_array_equal(anomaly_mask(Y_TRUE), Y_TRUE == 1)
    np.testing.assert_array_equal(anomaly_mask(pm1), Y_TRUE == 1)
    np.testing.assert_array_equal(anomaly_mask(Y_TRUE.astype(bool)), Y_TRUE == 1)
    np.testing.assert_array_equal(anomaly_mask(pm1.astype(float)), Y_TRUE == 1)
    f = anomaly_f1_score(Y_TRUE, Y_PRED)
    assert anomaly_f1_score(pm1, np.where(Y_PRED == 1, -1, 1)) == f
    assert anomaly_f1_score(Y_TRUE.astype(bool), Y_PRED) == f


def test_all_ones_is_ambiguous_and_read_as_normal():
    with pytest.warns(UserWarning, match="only the label 1"):
        assert not anomaly_mask(np.ones(4)).any()
    assert anomaly_mask(np.ones(4), anomaly_label=1).all()


@pytest.mark.parametrize("bad", [[0, 1, 2], [-1, 0, 1], [0.5, 1.0]])
def test_unknown_labels_raise(bad):
    with pytest.raises(ValueError, match="-1/\\+1 labels"):
        anomaly_mask(np.array(bad))


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="different lengths"):
        point_adjust([0, 1, 1], [0, 1])


# ------------------------------------------------------------ point adjust
def test_point_adjust_hand_computed():
    # [1,4) has a hit at 3 -> all; [6,9) no hit; [10,11) no hit; 0 and 11 are FPs
    expected = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert point_adjust(Y_TRUE, Y_PRED).tolist() == expected
    # output keeps the -1/+1 convention of y_pred
    out = point_adjust(Y_TRUE, np.where(Y_PRED == 1, -1, 1))
    assert out.tolist() == [-1 if v else 1 for v in expected]
    # TP 3, FP 2, FN 4 -> P 3/5, R 3/7
    p, r, f = adjusted_precision_recall_f1(Y_TRUE, Y_PRED)
    assert (p, r) == pytest.approx((3 / 5, 3 / 7))
    assert f == pytest.approx(2 * 3 / 5 * 3 / 7 / (3 / 5 + 3 / 7))
    assert point_adjusted_f1_score(Y_TRUE, Y_PRED) == pytest.approx(f)


@pytest.mark.parametrize(
    "k, expected",
    [
        # hit at index 3 is 2 steps after the start at 1
        (1, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        (2, [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1]),
    ],
)
def test_delay_point_adjust_hand_computed(k, expected):
    assert delay_point_adjust(Y_TRUE, Y_PRED, k=k).tolist() == expected


def test_delay_point_adjust_removes_late_detections():
    y_true = [0, 1, 1, 1, 1, 1, 0]
    y_pred = [0, 0, 0, 0, 1, 1, 0]  # first hit 3 steps late
    assert delay_point_adjust(y_true, y_pred, k=2).tolist() == [0] * 7
    assert delay_point_adjust(y_true, y_pred, k=3).tolist() == [0, 1, 1, 1, 1, 1, 0]


@pytest.mark.parametrize(
    "k_percent, expected",
    [
        (0, [1, 1, 1, 1, 1, 0, 1, 1, 1, 1]),  # plain point adjust
        (25, [1, 1, 1, 1, 1, 0, 1, 0, 0, 0]),  # 2/5 = 40 % > 25 %, 1/4 = 25 % is not
        (40, [1, 1, 0, 0, 0, 0, 1, 0, 0, 0]),  # 40 % is not > 40 %
        (100, [1, 1, 0, 0, 0, 0, 1, 0, 0, 0]),  # unchanged
    ],
)
def test_pa_k_hand_computed(k_percent, expected):
    y_true = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1]
    y_pred = [1, 1, 0, 0, 0, 0, 1, 0, 0, 0]
    assert pa_k_adjust(y_true, y_pred, k_percent=k_percent).tolist() == expected


def _reference_adjust(true, pred, method, k=7, k_percent=20):
    """Segment-by-segment loop, straight from the papers' definitions."""
    out = pred.copy()
    i, n = 0, len(true)
    while i < n:
        if not true[i]:
            i += 1
            continue
        j = i
        while j < n and true[j]:
            j += 1
        seg = pred[i:j]
        if method == "point_adjust":
            if seg.any():
                out[i:j] = True
        elif method == "delay":
            out[i:j] = pred[i : min(i + k + 1, j)].any()
        else:
            if seg.sum() / (j - i) > k_percent / 100:
                out[i:j] = True
        i = j
    return out


@pytest.mark.parametrize("method", ["point_adjust", "delay", "pa_k"])
@pytest.mark.parametrize("seed", range(5))
def test_adjusted_scores_equal_adjusted_predictions_at_every_threshold(method, seed):
    rng = np.random.default_rng(seed)
    true = rng.random(300) < 0.15
    true |= np.roll(true, 1) | np.roll(true, 2)  # segments of varied lengths
    scores = np.round(rng.random(300), 2)  # ties included
    adjusted = adjust_scores(true, scores, method=method, k=2, k_percent=30)
    for tau in np.unique(scores):
        expected = _reference_adjust(true, scores >= tau, method, k=2, k_percent=30)
        np.testing.assert_array_equal(adjusted >= tau, expected)
        # and the label function agrees with the reference too
        fns = {"point_adjust": point_adjust, "delay": delay_point_adjust, "pa_k": pa_k_adjust}
        fn = fns[method]
        kw = {"delay": {"k": 2}, "pa_k": {"k_percent": 30}}.get(method, {})
        np.testing.assert_array_equal(fn(true, scores >= tau, **kw), expected)


# -------------------------------------------------------------- event-wise
def test_event_metrics_hand_computed():
    # true events [1,4), [6,9), [10,11); predicted [0,1), [3,4), [11,12)
    p, r, f = event_precision_recall_f1(Y_TRUE, Y_PRED)
    assert (p, r) == pytest.approx((1 / 3, 1 / 3))
    assert f == pytest.approx(1 / 3)


def test_event_metrics_zero_division():
    assert event_precision_recall_f1([0, 0, 0], [0, 0, 0]) == (0.0, 0.0, 0.0)
    assert event_precision_recall_f1([0, 0, 0], [0, 0, 0], zero_division=1.0) == (1.0, 1.0, 1.0)
    assert event_precision_recall_f1([0, 1, 0], [0, 0, 0]) == (0.0, 0.0, 0.0)


# ----------------------------------------------------------------- best F1
def test_best_f1_hand_computed():
    y_true = [0, 0, 1, 1, 0]
    scores = [0.1, 0.4, 0.35, 0.8, 0.2]
    f1, thr = best_f1_score(y_true, scores, return_threshold=True)
    assert f1 == pytest.approx(0.8)  # threshold between 0.2 and 0.35
    assert 0.2 <= thr < 0.35
    pred = np.asarray(scores) > thr
    assert f1_score(np.asarray(y_true) == 1, pred) == pytest.approx(f1)
    assert best_f1_score(y_true, scores, method="point_adjust") == 1.0


@pytest.mark.parametrize("method", [None, "point_adjust", "delay", "pa_k"])
def test_best_f1_equals_brute_force(method):
    rng = np.random.default_rng(9)
    true = rng.random(200) < 0.1
    true |= np.roll(true, 1)
    scores = rng.random(200) + true * 0.3
    best, thr = best_f1_score(true, scores, method=method, k=1, k_percent=30, return_threshold=True)
    brute = 0.0
    for tau in np.unique(scores):
        pred = scores >= tau
        if method is not None:
            pred = _reference_adjust(true, pred, method, k=1, k_percent=30)
        brute = max(brute, f1_score(true, pred))
    assert best == pytest.approx(brute)
    pred = scores > thr
    if method is not None:
        pred = _reference_adjust(true, pred, method, k=1, k_percent=30)
    assert f1_score(true, pred) == pytest.approx(best)


def test_best_f1_without_anomalies():
    with pytest.warns(UndefinedMetricWarning, match="y_true holds no anomaly"):
        assert best_f1_score([0, 0, 0], [0.1, 0.2, 0.3]) == 0.0


# ------------------------------------------------------------- threshold-free
def test_roc_and_pr_in_the_anomaly_positive_view():
    rng = np.random.default_rng(0)
    y01 = (rng.random(500) < 0.1).astype(int)
    scores = rng.random(500) + y01
    ypm = np.where(y01 == 1, -1, 1)
    assert anomaly_roc_auc_score(y01, scores) == pytest.approx(roc_auc_score(y01, scores))
    assert anomaly_roc_auc_score(ypm, scores) == pytest.approx(roc_auc_score(y01, scores))
    ap = average_precision_score(y01, scores)
    assert anomaly_average_precision_score(ypm, scores) == pytest.approx(ap)
    # sklearn's view with -1/+1 and +1 positive is the complement, not this
    assert anomaly_roc_auc_score(ypm, scores) != pytest.approx(roc_auc_score(ypm, scores))


def test_scores_must_be_finite():
    with pytest.raises(ValueError, match="NaN or infinite"):
        anomaly_roc_auc_score([0, 1], [0.1, np.nan])


# ------------------------------------------------------------------ scorers
def _detector_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2))
    y01 = np.zeros(600, dtype=int)
    y01[::20] = 1
    X[y01 == 1] += 6.0
    return X, y01


def test_scorers_match_the_metrics_for_both_label_conventions():
    X, y01 = _detector_data()
    det = EllipticEnvelope(contamination=0.05, random_state=0).fit(X)
    pred = det.predict(X)
    anomaly_scores = -det.score_samples(X)
    ypm = np.where(y01 == 1, -1, 1)
    for y in (y01, ypm):
        assert anomaly_f1_scorer(det, X, y) == pytest.approx(f1_score(y01, pred == -1))
        assert point_adjusted_f1_scorer(det, X, y) == pytest.approx(
            point_adjusted_f1_score(y01, pred)
        )
        assert anomaly_average_precision_scorer(det, X, y) == pytest.approx(
            average_precision_score(y01, anomaly_scores)
        )


def test_scorer_reads_all_normal_predictions_as_normal():
    class _Quiet:
        def predict(self, X):
            return np.ones(len(X), dtype=int)

    # predictions are -1/+1 by contract: all +1 means no alarm, F1 = 0, no warning
    assert anomaly_f1_scorer(_Quiet(), np.zeros((4, 1)), np.array([0, 1, 0, 0])) == 0.0


def test_scorers_in_grid_search_and_cross_val():
    X, y01 = _detector_data()
    ypm = np.where(y01 == 1, -1, 1)
    results = []
    for y in (y01, ypm):
        search = GridSearchCV(
            IsolationForest(random_state=0, n_estimators=20),
            {"contamination": [0.05, 0.3]},
            scoring={"f1": anomaly_f1_scorer, "pa_f1": point_adjusted_f1_scorer,
                     "ap": anomaly_average_precision_scorer},
            refit="f1",
            cv=3,
        ).fit(X, y)
        assert search.best_params_ == {"contamination": 0.05}
        results.append(search.cv_results_["mean_test_f1"])
    np.testing.assert_allclose(results[0], results[1])
    cv = cross_val_score(IsolationForest(random_state=0, n_estimators=20), X, ypm,
                         scoring=anomaly_average_precision_scorer, cv=3)
    assert np.all(cv > 0.9)


def test_make_anomaly_scorer_options_and_errors():
    X, y01 = _detector_data()
    det = EllipticEnvelope(contamination=0.05, random_state=0).fit(X)
    scorer = make_anomaly_scorer(best_f1_score, response="anomaly_score", method="point_adjust")
    assert "best_f1_score" in repr(scorer) and "point_adjust" in repr(scorer)
    assert scorer(det, X, y01) == pytest.approx(
        best_f1_score(y01, -det.score_samples(X), method="point_adjust")
    )
    with pytest.raises(ValueError, match="needs true labels"):
        scorer(det, X, None)
    with pytest.raises(ValueError, match="response"):
        make_anomaly_scorer(best_f1_score, response="proba")


# ------------------------------------------------- folds without anomalies
def test_ap_and_auc_without_anomalies_warn_in_anomaly_terms():
    with pytest.warns(UndefinedMetricWarning, match="no anomaly.*average precision"):
        assert anomaly_average_precision_score([0, 0, 0], [0.1, 0.2, 0.3]) == 0.0
    with pytest.warns(UndefinedMetricWarning, match="only anomalies.*ROC-AUC"):
        assert np.isnan(anomaly_roc_auc_score([1, 1], [0.1, 0.2], anomaly_label=1))


def _search_with_a_normal_fold(scorer):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = np.zeros(300, dtype=int)
    y[250:] = 1  # anomalies only in the last third
    X[250:] += 6.0
    cv = [(np.arange(0, 100), np.arange(100, 200)), (np.arange(0, 100), np.arange(200, 300))]
    return GridSearchCV(IsolationForest(random_state=0), {"n_estimators": [10]},
                        scoring=scorer, cv=cv, error_score="raise").fit(X, y)


def test_grid_search_fold_without_anomalies_warns():
    with pytest.warns(UndefinedMetricWarning, match="test fold .*holds no true anomaly"):
        search = _search_with_a_normal_fold(anomaly_average_precision_scorer)
    assert search.cv_results_["split0_test_score"][0] == 0.0


def test_scorer_on_no_anomaly_raise_and_nan():
    scorer = make_anomaly_scorer(anomaly_average_precision_score, response="anomaly_score",
                                 on_no_anomaly="raise")
    with pytest.raises(ValueError, match="holds no true anomaly"):
        _search_with_a_normal_fold(scorer)
    scorer = make_anomaly_scorer(anomaly_average_precision_score, response="anomaly_score",
                                 on_no_anomaly="nan")
    with pytest.warns(UserWarning, match="non-finite"):  # GridSearchCV's own note
        search = _search_with_a_normal_fold(scorer)
    assert np.isnan(search.cv_results_["split0_test_score"][0])
    assert search.cv_results_["split1_test_score"][0] > 0.9


@pytest.mark.parametrize("call, error, match", [
    (lambda: make_anomaly_scorer(3), TypeError, "score_func must be a metric function"),
    (lambda: make_anomaly_scorer(anomaly_f1_score, on_no_anomaly="skip"), ValueError,
     "on_no_anomaly must be one of"),
    (lambda: anomaly_average_precision_score([0, 1], ["a", "b"]), ValueError,
     "scores must hold numbers"),
    (lambda: best_f1_score([0, 1], None), ValueError, "scores. parameter of best_f1_score"),
    (lambda: adjust_scores([0, 1], "ab"), ValueError, "scores must be an array"),
])
def test_bad_metric_arguments_are_refused_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()
