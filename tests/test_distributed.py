"""GridSearchCV on a dask cluster through joblib's dask backend equals a serial search."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skanomaly.datasets import make_anomalous_series
from skanomaly.detectors import TimeSeriesVAEDetector
from skanomaly.metrics import anomaly_roc_auc_score, make_anomaly_scorer

distributed = pytest.importorskip("distributed")


def _search():
    pipeline = make_pipeline(
        StandardScaler(),
        TimeSeriesVAEDetector(window_size=8, max_epochs=2, hidden_channels=(4,),
                              latent_dim=2, random_state=0, device="cpu"),
    )
    return GridSearchCV(
        pipeline,
        {"timeseriesvaedetector__latent_dim": [2, 3]},
        scoring=make_anomaly_scorer(anomaly_roc_auc_score, response="anomaly_score"),
        cv=TimeSeriesSplit(n_splits=2),
        refit=False,
    )


def test_grid_search_on_a_local_cluster_equals_serial():
    X, y = make_anomalous_series(n_timesteps=900, n_channels=3, anomaly_fraction=0.1,
                                 random_state=0)
    serial = _search().fit(X, y).cv_results_
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        clustered = _search().fit(X, y).cv_results_
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        assert np.isfinite(serial[key]).all()  # every test fold holds anomalies
        np.testing.assert_array_equal(clustered[key], serial[key])
