"""TimeSeriesVAEDetector's defaults: input scaling, flat channels, calibration size, budget."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skanomaly import base
from skanomaly.base import TRAINING_STEPS
from skanomaly.detectors import TimeSeriesVAEDetector

FAST = dict(window_size=16, max_epochs=2, hidden_channels=(8,), latent_dim=2,
            random_state=0, device="cpu")


def series(n=600, seed=0):
    """Two moving channels in very different units, one constant, one rarely moving."""
    rng = np.random.RandomState(seed)
    t = np.arange(n)
    rare = np.zeros(n)
    rare[rng.choice(n, 3, replace=False)] = 1.0
    return pd.DataFrame({
        "load": 500 + 100 * np.sin(t / 10) + rng.randn(n),
        "temp": np.cos(t / 10) + 0.05 * rng.randn(n),
        "flat": np.full(n, 7.0),
        "rare": rare,
    })


def fit_quietly(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return model.fit(X)


def test_flat_channels_are_named_at_fit():
    with pytest.warns(UserWarning, match=r"constant in the training data: \['flat'\]") as rec:
        TimeSeriesVAEDetector(**FAST).fit(series())
    assert "['rare']" in str(rec[0].message)


def test_no_flat_channel_warning_on_moving_channels():
    X = series()[["load", "temp"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        TimeSeriesVAEDetector(**FAST).fit(X)


@pytest.mark.parametrize("scaler", [StandardScaler, MinMaxScaler])
def test_affine_scaler_in_front_changes_nothing(scaler):
    X = series()
    X_new = series(seed=1)
    X_new.loc[300:310, "rare"] = 1.0
    bare = fit_quietly(TimeSeriesVAEDetector(**FAST), X)
    pipe = fit_quietly(make_pipeline(scaler(), TimeSeriesVAEDetector(**FAST)), X)
    np.testing.assert_allclose(pipe.score_samples(X_new), bare.score_samples(X_new),
                               rtol=1e-3)


def test_input_scaling_state_and_clip():
    X = series()
    det = fit_quietly(TimeSeriesVAEDetector(**FAST), X)
    np.testing.assert_allclose(det.input_mean_, X.mean(), rtol=1e-6)
    assert det.input_scale_[2] == 1.0  # the constant channel keeps its units
    scaled = det._scaled(X.to_numpy() * 1000)
    assert np.abs(scaled).max() <= det.input_clip
    raw = fit_quietly(TimeSeriesVAEDetector(scaling=None, **FAST), X)
    np.testing.assert_array_equal(raw.input_scale_, np.ones(4))


def test_short_series_calibration_part_grows_and_warns():
    X = series(n=200)[["load", "temp"]]
    with pytest.warns(UserWarning, match=r"X has 200 time steps: the held-out calibration part "
                                         r"holds only 100 time steps"):
        TimeSeriesVAEDetector(**FAST).fit(X)


def test_calibration_part_grows_to_ten_windows_without_warning():
    det = TimeSeriesVAEDetector(**FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        n_held = det._held_out_size(600, "time steps", unit=16)
    assert n_held == 160  # 10 windows of 16, not 10 % (60)


def test_budget_counts_optimiser_steps():
    det = TimeSeriesVAEDetector(**{**FAST, "max_epochs": None, "batch_size": 256})
    # One optimiser step an epoch: the whole budget in epochs, patience scaled alike.
    assert det._training_budget(225) == (TRAINING_STEPS, math.ceil(5 * TRAINING_STEPS / 20))
    assert det._training_budget(256 * TRAINING_STEPS) == (1, 5)
    det.set_params(max_epochs=3)
    assert det._training_budget(225) == (3, 5)
    det.set_params(max_epochs=None, iterator_train__batch_size=16)
    assert det._training_budget(160)[0] == math.ceil(TRAINING_STEPS / 10)


def test_budget_drives_fit(monkeypatch):
    monkeypatch.setattr(base, "TRAINING_STEPS", 12)
    X = series(n=400)[["load", "temp"]]
    # 400 steps, 160 held out: 225 training windows, 2 steps an epoch of 128.
    det = fit_quietly(TimeSeriesVAEDetector(**{**FAST, "max_epochs": None,
                                               "early_stopping": False}), X)
    assert len(det.net_.history) == 6


def test_input_clip_bounds_a_rare_channel():
    X = series()
    X_new = series(seed=1)
    X_new.loc[300:340, "rare"] = 1.0  # the rare value, 17 training deviations away, held
    scores = {}
    for clip in (10.0, None):
        det = fit_quietly(TimeSeriesVAEDetector(input_clip=clip, **FAST), X)
        share = det.channel_scores(X_new)[300:340]
        scores[clip] = share[:, 3].sum() / share.sum()
    assert scores[10.0] < scores[None]


def test_default_threshold_is_the_chosen_quantile():
    det = TimeSeriesVAEDetector()
    thresholder = det._checked_thresholder()
    assert type(thresholder).__name__ == "PercentileThreshold" and thresholder.q == 0.995
    assert det.calibration_cap == 12.0


def test_calibration_cap_keeps_an_incident_in_the_tail_from_lifting_the_threshold():
    X = series()[["load", "temp"]]
    X.iloc[550:570] += [1000.0, 10.0]  # an incident in the held-out tail (last 160 steps)
    capped = fit_quietly(TimeSeriesVAEDetector(**FAST), X)
    raw = fit_quietly(TimeSeriesVAEDetector(calibration_cap=None, **FAST), X)
    tail = -raw.score_samples(X.iloc[-160:])  # the calibration scores (same net: same seed)
    assert raw.thresholder_.threshold_ == pytest.approx(np.quantile(tail, 0.995))
    assert capped.thresholder_.threshold_ == pytest.approx(12.0 * np.median(tail))
    assert capped.thresholder_.threshold_ < raw.thresholder_.threshold_ / 2


def test_calibration_cap_leaves_clean_scores_alone():
    det = TimeSeriesVAEDetector(calibration_cap=12.0)
    scores = np.array([1.0, 2.0, 3.0, 30.0])
    np.testing.assert_array_equal(det._capped_calibration_scores(scores), [1, 2, 3, 30])
    np.testing.assert_array_equal(det._capped_calibration_scores(scores * [1, 1, 1, 10]),
                                  [1, 2, 3, 30])  # 300 > 12 x median 2.5
    zeros = np.zeros(4)
    assert det._capped_calibration_scores(zeros) is zeros  # no typical score to scale
