"""Training through Hugging Face accelerate (skorch's AccelerateMixin) on the CPU."""

import io

import joblib
import numpy as np
import pytest

from skanomaly.detectors import TimeSeriesVAEDetector, VisionVAEDetector
from skanomaly.nets import AcceleratedVAENet

accelerate = pytest.importorskip("accelerate")

TINY = dict(max_epochs=2, hidden_channels=(4,), latent_dim=2, random_state=0, device="cpu")


@pytest.mark.parametrize(
    "make, X",
    [
        (lambda **kw: TimeSeriesVAEDetector(window_size=8, **kw),
         np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)),
        (lambda **kw: VisionVAEDetector(**kw),
         np.random.default_rng(1).random((40, 1, 8, 8)).astype(np.float32)),
    ],
    ids=["timeseries", "vision"],
)
def test_accelerate_on_cpu_scores_as_the_plain_path(make, X):
    plain = make(**TINY).fit(X)
    accelerated = make(accelerator=accelerate.Accelerator(cpu=True), **TINY).fit(X)
    assert isinstance(accelerated.net_, AcceleratedVAENet)
    np.testing.assert_array_equal(accelerated.score_samples(X), plain.score_samples(X))
    np.testing.assert_array_equal(accelerated.predict(X), plain.predict(X))

    buffer = io.BytesIO()
    joblib.dump(accelerated, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).score_samples(X), plain.score_samples(X))


def test_accelerator_is_a_parameter():
    det = TimeSeriesVAEDetector(accelerator=accelerate.Accelerator(cpu=True))
    assert "accelerator" in det.get_params()
