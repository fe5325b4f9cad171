"""Out-of-core scoring (dask arrays and DataFrames, memmaps) equals in-memory scoring."""

import numpy as np
import pandas as pd
import pytest
from sklearn import config_context

from skanomaly.detectors import TimeSeriesVAEDetector, VisionVAEDetector
from skanomaly.thresholds import PercentileThreshold, SPOTThreshold
from skanomaly.utils._outofcore import score_out_of_core

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")

# A fixed threshold (applied block by block) and a streaming one (applied in order).
THRESHOLDS = [PercentileThreshold(q=0.9), SPOTThreshold(q=1e-2, level=0.9)]
TINY = dict(max_epochs=1, hidden_channels=(4,), latent_dim=2, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def series():
    return np.random.default_rng(0).normal(size=(2000, 4)).astype(np.float32)


def _memmap(tmp_path, X):
    path = tmp_path / "series.dat"
    out = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    out[:] = X
    out.flush()
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)


@pytest.mark.parametrize("stride", [1, 3])
def test_time_series_dask_and_memmap_scores_equal_in_memory(series, tmp_path, stride):
    det = TimeSeriesVAEDetector(window_size=8, stride=stride, **TINY).fit(series[:800])
    expected = det.score_samples(series)

    lazy = det.score_samples(da.from_array(series, chunks=(300, 4)))
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), expected)

    with config_context(working_memory=0.2):  # blocks of a few hundred rows
        eager = det.score_samples(_memmap(tmp_path, series))
    assert isinstance(eager, np.ndarray)
    np.testing.assert_array_equal(eager, expected)


def test_dask_dataframe_keeps_column_names(series):
    frame = pd.DataFrame(series, columns=list("abcd"))
    det = TimeSeriesVAEDetector(window_size=8, **TINY).fit(frame.iloc[:800])
    lazy = det.score_samples(dd.from_pandas(frame, npartitions=3))
    np.testing.assert_array_equal(lazy.compute(), det.score_samples(frame))
    renamed = dd.from_pandas(frame.rename(columns={"a": "z"}), npartitions=3)
    with pytest.raises(ValueError, match="feature names"):
        det.score_samples(renamed).compute()


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_lazy_predict_equals_in_memory(series, threshold):
    det = TimeSeriesVAEDetector(window_size=8, threshold=threshold, **TINY).fit(series[:1200])
    lazy = det.predict(da.from_array(series, chunks=(500, 4)))
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), det.predict(series))
    np.testing.assert_array_equal(
        det.decision_function(da.from_array(series, chunks=(700, 4))).compute(),
        det.decision_function(series),
    )


def test_images_score_block_by_block():
    images = np.random.default_rng(1).random((60, 1, 8, 8)).astype(np.float32)
    det = VisionVAEDetector(**TINY).fit(images)
    lazy = det.score_samples(da.from_array(images, chunks=(25, 1, 8, 8)))
    np.testing.assert_allclose(lazy.compute(), det.score_samples(images), rtol=1e-6)


def test_unknown_chunk_sizes_are_refused(series):
    det = TimeSeriesVAEDetector(window_size=8, **TINY).fit(series[:800])
    x = da.from_array(series, chunks=(500, 4))
    x = x[x[:, 0] > -10]  # boolean mask: chunk sizes unknown
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        det.score_samples(x)


def test_blocks_see_their_context():
    # A moving sum needs one row either side: without the context rows the
    # block edges would differ.
    X = np.arange(50, dtype=np.float64)[:, None]

    def moving_sum(block):
        return np.convolve(np.asarray(block)[:, 0], np.ones(3), mode="same")

    lazy = score_out_of_core(moving_sum, da.from_array(X, chunks=(7, 1)), context=(1, 1))
    np.testing.assert_array_equal(lazy.compute(), moving_sum(X))
    no_context = score_out_of_core(moving_sum, da.from_array(X, chunks=(7, 1)))
    assert not np.array_equal(no_context.compute(), moving_sum(X))


@pytest.mark.parametrize("method", ["score_samples", "decision_function", "predict"])
@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_pipeline_in_blocks_equals_in_memory(series, tmp_path, method, threshold):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skanomaly.utils import score_in_blocks

    model = make_pipeline(
        StandardScaler(), TimeSeriesVAEDetector(window_size=8, threshold=threshold, **TINY)
    ).fit(series[:1200])
    expected = getattr(model, method)(series)
    lazy = score_in_blocks(model, da.from_array(series, chunks=(450, 4)), method=method)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), expected)
    with config_context(working_memory=0.2):
        eager = score_in_blocks(model, _memmap(tmp_path, series), method=method)
    np.testing.assert_array_equal(eager, expected)


def test_score_in_blocks_refuses_other_estimators(series):
    from sklearn.ensemble import IsolationForest

    from skanomaly.utils import score_in_blocks

    with pytest.raises(TypeError, match="skanomaly detector"):
        score_in_blocks(IsolationForest().fit(series), series)
    det = TimeSeriesVAEDetector(window_size=8, **TINY).fit(series[:800])
    with pytest.raises(ValueError, match="method must be one of"):
        score_in_blocks(det, series, method="fit")
