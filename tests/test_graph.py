"""Tests of discretize / nmi_matrix / relation_graph."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import normalized_mutual_info_score

from skanomaly.preprocessing import EDGE_TYPES, discretize, nmi_matrix, relation_graph


@pytest.mark.parametrize("average", ["arithmetic", "geometric", "min", "max"])
@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_matches_sklearn(average, strategy):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    X[:, 1] = X[:, 0] + 0.5 * X[:, 1]
    X[:, 2] = np.round(X[:, 2])  # ties
    codes = discretize(X, 8, strategy)
    nmi = nmi_matrix(X, 8, strategy, average)
    for i in range(6):
        for j in range(6):
            exp = normalized_mutual_info_score(codes[:, i], codes[:, j], average_method=average)
            assert nmi[i, j] == pytest.approx(exp, abs=1e-9)
    assert np.allclose(nmi, nmi.T)


def test_constant_channel_and_bad_input():
    X = np.c_[np.arange(50.0), np.ones(50)]
    nmi = nmi_matrix(X, 5)
    assert nmi[0, 0] == pytest.approx(1.0) and nmi[1, 1] == 0 and nmi[0, 1] == 0
    with pytest.raises(ValueError, match="row 3, column 1"):
        X[3, 1] = np.nan
        nmi_matrix(X)
    with pytest.raises(ValueError, match="n_bins"):
        discretize(np.ones((5, 2)), 1)


def test_relation_graph_blocks():
    rng = np.random.default_rng(1)
    cols = ["m1", "m2", "l1", "t1", "t2", "t3"]
    X = pd.DataFrame(rng.normal(size=(100, 6)), columns=cols)
    mod = ["metric", "metric", "log", "trace", "trace", "trace"]
    g = relation_graph(X, mod)
    assert tuple(g) == EDGE_TYPES
    assert g["metric-metric"].shape == (2, 2) and g["log-trace"].shape == (1, 3)
    assert g["metric-trace"].index.tolist() == ["m1", "m2"]
    assert np.all(np.diag(g["trace-trace"]) == 0)
    full = nmi_matrix(X.to_numpy())
    assert g["metric-log"].iloc[1, 0] == pytest.approx(full[1, 2])
    with pytest.raises(ValueError, match="Unknown modality"):
        relation_graph(X, ["metric"] * 5 + ["image"])
    g2 = relation_graph(X.iloc[:, :2], ["metric", "metric"])
    assert g2["log-log"].shape == (0, 0)
