"""Bad inputs, one line each, per estimator family (as scikit-learn's checks do).

Every case either raises an error whose message names the problem (``Raises``)
or shows a documented, warned behaviour (``Warns``). Families: detectors,
thresholders, transformers, metrics, loaders. Cases whose fix belongs to
another engineer's area and had not landed are marked ``xfail(strict=False)``
with the owner.

``python tests/test_bad_inputs.py`` prints the matrix: clear (the expected
error or warning), silent (no error, no warning), obscure (another error or a
message that does not name the problem).
"""

import gzip
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError, UndefinedMetricWarning
from sklearn.model_selection import GridSearchCV

from skanomaly import metrics as M
from skanomaly import thresholds as T
from skanomaly.datasets import load_asd, load_cmapss, load_nab, load_smd
from skanomaly.detectors import (
    AnoFusionDetector,
    MultimodalVAEDetector,
    TimeSeriesVAEDetector,
    VisionVAEDetector,
)
from skanomaly.preprocessing import (
    DrainTemplates,
    TraceWindowStats,
    count_per_bin,
    window_scores_to_steps,
    window_starts,
)

torch.set_num_threads(1)


# ------------------------------------------------------------ expectations
@dataclass
class Raises:
    error: type
    match: str


@dataclass
class Warns:
    warning: type
    match: str


@dataclass
class AnyOf:
    """Either documented outcome is clear (e.g. a clear error or a warned skip)."""
    options: tuple


@dataclass
class Returns:
    """A documented correct behaviour: the call returns and checks its own result."""


@dataclass
class Case:
    family: str
    name: str
    call: object  # callable(ctx)
    expect: object
    owner: str = ""  # set when the fix belongs to another area and is pending
    marks: list = field(default_factory=list)


def outcome(case, ctx):
    """'clear', 'correct', 'silent' or 'obscure: <what happened>' for one case."""
    if isinstance(case.expect, AnyOf):
        results = [outcome(Case(case.family, case.name, case.call, option), ctx)
                   for option in case.expect.options]
        return "clear" if "clear" in results else results[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            case.call(ctx)
        except Exception as exc:  # noqa: BLE001 - classifying any outcome
            exp = case.expect
            if isinstance(exp, Returns):
                return f"obscure: {type(exc).__name__}: {str(exc)[:200]}"
            if isinstance(exp, Raises) and isinstance(exc, exp.error) and re.search(
                    exp.match, str(exc), re.S):
                return "clear"
            return f"obscure: {type(exc).__name__}: {str(exc)[:200]}"
    exp = case.expect
    if isinstance(exp, Returns):
        return "correct"
    if isinstance(exp, Warns):
        for w in caught:
            if issubclass(w.category, exp.warning) and re.search(exp.match, str(w.message), re.S):
                return "clear"
    if caught:
        return f"silent (only warned: {str(caught[0].message)[:150]})"
    return "silent"


# --------------------------------------------------------------- context
class Ctx:
    """Small data, fitted detectors on demand, a temporary folder for files."""

    def __init__(self, tmp):
        self.tmp = tmp
        self._fitted = {}
        rng = np.random.RandomState(0)
        t = np.arange(240)
        self.series = np.c_[np.sin(t / 8), np.cos(t / 8), np.sin(t / 5)] + 0.05 * rng.randn(240, 3)
        self.images = rng.rand(30, 8, 8).astype(np.float32)
        self.multi = rng.randn(120, 5)

    def data(self, kind):
        return {"ts": self.series, "af": self.series, "vi": self.images, "mm": self.multi}[kind]

    def fitted(self, kind):
        if kind not in self._fitted:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._fitted[kind] = make(kind).fit(self.data(kind))
        return self._fitted[kind]


_DEFAULTS = {
    "ts": (TimeSeriesVAEDetector, dict(window_size=8, hidden_channels=(4,), latent_dim=2)),
    "af": (AnoFusionDetector, dict(modalities={"metric": [0], "log": [1], "trace": [2]},
                                   window_size=8)),
    "vi": (VisionVAEDetector, dict(hidden_channels=(4,), latent_dim=2)),
    "mm": (MultimodalVAEDetector, dict(modalities={"a": [0, 1, 2], "b": [3, 4]}, latent_dim=2)),
}


def make(kind, **params):
    cls, defaults = _DEFAULTS[kind]
    return cls(**{"max_epochs": 1, "random_state": 0, "device": "cpu", **defaults, **params})


def _no_training():
    """A callback that fails the case if training starts: the refusal must come first."""
    from skorch.callbacks import Callback

    class FailIfTrained(Callback):
        def on_epoch_begin(self, net, **kwargs):
            raise AssertionError("training started before the bad setting was refused")

    return [FailIfTrained()]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return Ctx(tmp_path_factory.mktemp("bad_inputs"))


def _with(X, index, value):
    X = np.array(X, dtype=np.float64)
    X.flat[index] = value
    return X


def _text_column(X):
    df = pd.DataFrame(X.reshape(len(X), -1))
    df[df.columns[-1]] = "high"
    return df


def _flat_params(kind, X):
    """Vision reads a 2-D table as flat images: it needs their shape."""
    return {"image_shape": X.shape[1:]} if kind == "vi" else {}


# ------------------------------------------------------------- detectors
DETECTORS = ["ts", "af", "vi", "mm"]
CASES = []
for k in DETECTORS:
    CASES += [
        Case("detectors", f"{k}: NaN in X", lambda c, k=k: make(k).fit(_with(c.data(k), 5, np.nan)),
             Raises(ValueError, "NaN")),
        Case("detectors", f"{k}: inf in X", lambda c, k=k: make(k).fit(_with(c.data(k), 5, np.inf)),
             Raises(ValueError, "(?i)infinity|inf")),
        Case("detectors", f"{k}: empty X", lambda c, k=k: make(k).fit(c.data(k)[:0]),
             Raises(ValueError, "0 sample|minimum of 1|empty|too few|at least")),
        Case("detectors", f"{k}: X is None", lambda c, k=k: make(k).fit(None),
             Raises((ValueError, TypeError), "None|array")),
        Case("detectors", f"{k}: complex X", lambda c, k=k: make(k).fit(c.data(k) + 1j),
             Raises(ValueError, "(?i)complex")),
        Case("detectors", f"{k}: text column", lambda c, k=k: make(
            k, **_flat_params(k, c.data(k))).fit(_text_column(c.data(k))),
             Raises(ValueError, "(?i)non-numeric|string|could not convert|numeric")),
        Case("detectors", f"{k}: lr=-1", lambda c, k=k: make(k, lr=-1.0).fit(c.data(k)),
             Raises(ValueError, "'lr'")),
        Case("detectors", f"{k}: max_epochs=0", lambda c, k=k: make(k, max_epochs=0).fit(c.data(k)),
             Raises(ValueError, "'max_epochs'")),
        Case("detectors", f"{k}: validation_fraction=1.5",
             lambda c, k=k: make(k, validation_fraction=1.5).fit(c.data(k)),
             Raises(ValueError, "'validation_fraction'")),
        Case("detectors", f"{k}: threshold='q99'",
             lambda c, k=k: make(k, threshold="q99").fit(c.data(k)),
             Raises(ValueError, "'threshold'")),
        Case("detectors", f"{k}: misspelt skorch parameter",
             lambda c, k=k: make(k, modul__x=1).fit(c.data(k)),
             Raises(ValueError, "modul__x")),
        Case("detectors", f"{k}: predict before fit", lambda c, k=k: make(k).predict(c.data(k)),
             Raises(NotFittedError, "not fitted")),
        Case("detectors", f"{k}: NaN at predict",
             lambda c, k=k: c.fitted(k).predict(_with(c.data(k), 7, np.nan)),
             Raises(ValueError, "NaN")),
        Case("detectors", f"{k}: wrong feature count at predict",
             lambda c, k=k: c.fitted(k).predict(np.concatenate(
                 [c.data(k), c.data(k)[..., :1]], axis=-1)),
             Raises(ValueError, "(?i)features|channels|shape|columns|image_shape")),
        Case("detectors", f"{k}: DSPOT depth 500 with a short held-out tail",
             lambda c, k=k: make(k, threshold=T.DSPOTThreshold(), validation_fraction=0.1,
                                 callbacks=_no_training()).fit(c.data(k)),
             Raises(ValueError, r"(?s)DSPOTThreshold\(\) needs at least 502.*validation_fraction"),
             owner="issue 12 (base-class hook after ARCH_BASE_DONE)"),
        Case("detectors", f"{k}: GEV blocks beyond the held-out tail",
             lambda c, k=k: make(k, threshold=T.GEVThreshold(), validation_fraction=0.1,
                                 callbacks=_no_training()).fit(c.data(k)),
             Raises(ValueError, r"(?s)GEVThreshold\(\) needs at least 1000.*validation_fraction"),
             owner="issue 12 (base-class hook after ARCH_BASE_DONE)"),
        Case("detectors", f"{k}: one value of 1e20 at predict",
             lambda c, k=k: _finite_scores(c.fitted(k), _with(c.data(k), 9, 1e20)),
             Returns(),
             owner="issue 12 (detector edits after ARCH_BASE_DONE)"),
    ]


def _finite_scores(detector, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overflow warning is checked in its own test
        scores = detector.score_samples(X)
    if not np.isfinite(scores).all():
        raise AssertionError(f"{int((~np.isfinite(scores)).sum())} non-finite scores")
    detector.predict(X)


def _interrupt_on_epoch_2(ctx):
    from skorch.callbacks import Callback

    class Interrupt(Callback):
        def on_epoch_begin(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

    make("ts", max_epochs=5, callbacks=[Interrupt()]).fit(ctx.series)


class _Interrupted(Exception):
    pass


def _ctrl_c(ctx):
    try:
        _interrupt_on_epoch_2(ctx)
    except KeyboardInterrupt:
        raise _Interrupted("KeyboardInterrupt propagated out of fit") from None


CASES += [
    Case("detectors", "ts: KeyboardInterrupt during fit", _ctrl_c,
         Raises(_Interrupted, "propagated"), owner="issue 12 (nets edit after ARCH_BASE_DONE)"),
    Case("detectors", "vi: channels-last RGB (n, H, W, 3)",
         lambda c: make("vi").fit(np.random.rand(20, 8, 8, 3).astype(np.float32)),
         Raises(ValueError, "(?i)channels.last|transpose"),
         owner="issue 12 (vision edit after ARCH_BASE_DONE)"),
    Case("detectors", "vi: one value of 1e20 in the held-out calibration part",
         lambda c: make("vi").fit(_with(c.images, -3, 1e20)),
         Raises(ValueError, "(?s)calibration sample.*overflowed.*1e\\+20.*Scale the input")),
    Case("detectors", "ts: window_size longer than X",
         lambda c: make("ts", window_size=500).fit(c.series), Raises(ValueError, "window_size")),
    Case("detectors", "ts: stride > window_size",
         lambda c: make("ts", stride=20).fit(c.series), Raises(ValueError, "stride")),
    Case("detectors", "ts: 3-D windows of another length",
         lambda c: make("ts").fit(np.zeros((10, 3, 5))), Raises(ValueError, "window_size")),
    Case("detectors", "af: modalities Series whose index misses a column",
         lambda c: AnoFusionDetector(
             modalities=pd.Series(["metric", "log", "trace"], index=["a", "b", "cc"]),
             window_size=8, max_epochs=1, device="cpu").fit(
             pd.DataFrame(c.series, columns=["a", "b", "c"])),
         Raises(ValueError, "(?s)cc|'c'"), owner="AnoFusion engineer (issue 12 item 6)"),
    Case("detectors", "af: unknown modality name",
         lambda c: AnoFusionDetector(modalities={"metric": [0], "lgo": [1], "trace": [2]},
                                     window_size=8, max_epochs=1, device="cpu").fit(c.series),
         Raises(ValueError, "lgo")),
    Case("detectors", "mm: modality column out of range",
         lambda c: make("mm", modalities={"a": [0, 1, 2], "b": [3, 9]}).fit(c.multi),
         Raises(ValueError, "9")),
]


# ------------------------------------------------------------ thresholders
THRESHOLDERS = {
    "Percentile": T.PercentileThreshold(), "MAD": T.MADThreshold(),
    "Gaussian": T.GaussianThreshold(), "Contamination": T.ContaminationThreshold(),
    "GEV": T.GEVThreshold(block_size=10), "Rolling": T.RollingThreshold(window=20),
    "SPOT": T.SPOTThreshold(q=1e-3, level=0.9), "DSPOT": T.DSPOTThreshold(q=1e-3, level=0.9,
                                                                         depth=20),
}
_GOOD = np.random.default_rng(0).exponential(size=300)


def _fresh(name):
    from sklearn.base import clone

    return clone(THRESHOLDERS[name])


for name in THRESHOLDERS:
    CASES += [
        Case("thresholders", f"{name}: NaN score", lambda c, n=name: _fresh(n).fit(
            _with(_GOOD, 3, np.nan)), Raises(ValueError, "NaN or infinite.*index 3")),
        Case("thresholders", f"{name}: inf score", lambda c, n=name: _fresh(n).fit(
            _with(_GOOD, 3, np.inf)), Raises(ValueError, "NaN or infinite")),
        Case("thresholders", f"{name}: empty", lambda c, n=name: _fresh(n).fit([]),
             Raises(ValueError, "0 value|at least")),
        Case("thresholders", f"{name}: 2-D scores", lambda c, n=name: _fresh(n).fit(
            _GOOD.reshape(-1, 2)), Raises(ValueError, "1-D")),
        Case("thresholders", f"{name}: text scores", lambda c, n=name: _fresh(n).fit(
            ["a"] * 300), Raises(ValueError, "array of numbers")),
        Case("thresholders", f"{name}: None", lambda c, n=name: _fresh(n).fit(None),
             Raises(ValueError, "array of numbers")),
        Case("thresholders", f"{name}: one score short of the minimum",
             lambda c, n=name: _fresh(n).fit(_GOOD[:max(_fresh(n).min_calibration_size() - 1, 0)]),
             Raises(ValueError, "at least")),
        Case("thresholders", f"{name}: predict before fit",
             lambda c, n=name: _fresh(n).predict(_GOOD), Raises(NotFittedError, "not fitted")),
        Case("thresholders", f"{name}: NaN at predict", lambda c, n=name: _fresh(n).fit(
            _GOOD).predict([np.nan]), Raises(ValueError, "NaN or infinite")),
    ]
for name in ("MAD", "Gaussian", "GEV", "Rolling", "DSPOT"):  # those whose arithmetic overflows
    CASES.append(Case("thresholders", f"{name}: overflowing scores", lambda c, n=name: _fresh(
        n).fit(np.r_[np.full(200, -1e308), np.full(100, 1e308)]),
        Raises(ValueError, "non-finite threshold|too large")))
CASES += [
    Case("thresholders", "SPOT: q=2", lambda c: T.SPOTThreshold(q=2).fit(_GOOD),
         Raises(ValueError, "'q'")),
    Case("thresholders", "SPOT: q >= 1 - level", lambda c: T.SPOTThreshold(q=0.5).fit(_GOOD),
         Raises(ValueError, "smaller than 1 - level")),
    Case("thresholders", "GEV: block_size=0", lambda c: T.GEVThreshold(block_size=0).fit(_GOOD),
         Raises(ValueError, "'block_size'")),
    Case("thresholders", "Rolling: window=1", lambda c: T.RollingThreshold(window=1).fit(_GOOD),
         Raises(ValueError, "'window'")),
    Case("thresholders", "Contamination: 0.7",
         lambda c: T.ContaminationThreshold(0.7).fit(_GOOD), Raises(ValueError,
                                                                    "'contamination'")),
    Case("thresholders", "DSPOT: update before fit",
         lambda c: T.DSPOTThreshold().update([1.0]), Raises(NotFittedError, "not fitted")),
]


# ------------------------------------------------------------ transformers
_T0 = pd.Timestamp("2023-05-01")


def _spans(start):
    return pd.DataFrame({"start": start, "duration": 0.1, "service": "api"})


def _epoch0_spans():
    start = pd.Series(pd.date_range(_T0, periods=100, freq="s"))
    start.iloc[5] = pd.Timestamp(0)
    return _spans(start)


CASES += [
    Case("transformers", "window_starts: stride=0", lambda c: window_starts(10, 4, stride=0),
         Raises(ValueError, "stride must be an integer >= 1")),
    Case("transformers", "window_starts: stride=1.5", lambda c: window_starts(10, 4, 1.5),
         Raises(TypeError, "stride must be an integer")),
    Case("transformers", "window_starts: window longer than series",
         lambda c: window_starts(3, 4), Raises(ValueError, "longer than the series")),
    Case("transformers", "window_scores_to_steps: fractional start",
         lambda c: window_scores_to_steps([1.0], [0.5], 2, 5), Raises(ValueError, "integer")),
    Case("transformers", "window_scores_to_steps: window past the end",
         lambda c: window_scores_to_steps([1.0], [4], 2, 5), Raises(ValueError, "do not fit")),
    Case("transformers", "TraceWindowStats: one epoch-0 start among 2023 spans",
         lambda c: TraceWindowStats().fit(_epoch0_spans()),
         Raises(ValueError, "(?s)far outside.*row 5"), owner="telemetry engineer"),
    Case("transformers", "count_per_bin: one epoch-0 timestamp",
         lambda c: count_per_bin(_epoch0_spans()["start"], np.ones(100, dtype=int)),
         Raises(ValueError, "(?s)far outside.*row 5"), owner="telemetry engineer"),
    Case("transformers", "TraceWindowStats: epoch-ns starts with the default unit",
         lambda c: TraceWindowStats().fit(_spans(
             pd.Series(pd.date_range(_T0, periods=10, freq="s")).astype("datetime64[ns]")
             .astype(np.int64))),
         Raises(ValueError, "(?i)unit"), owner="telemetry engineer"),
    Case("transformers", "TraceWindowStats: spans ending before they start",
         lambda c: TraceWindowStats().fit(pd.DataFrame({
             "start": pd.date_range(_T0, periods=10, freq="s"),
             "end": pd.date_range(_T0 - pd.Timedelta("1D"), periods=10, freq="s"),
             "service": "api"})),
         Warns(UserWarning, "(?i)end before start"), owner="telemetry engineer"),
    Case("transformers", "TraceWindowStats: transform before fit",
         lambda c: TraceWindowStats().transform(_spans(pd.date_range(_T0, periods=3))),
         Raises(NotFittedError, "not fitted")),
    Case("transformers", "DrainTemplates: masking regex that does not compile",
         lambda c: DrainTemplates(masking=[("(unclosed", "X")]).fit(["a b"]),
         Raises(ValueError, r"masking\[0\].*does not compile"), owner="logs engineer"),
    Case("transformers", "DrainTemplates: masking regex matching the empty string",
         lambda c: DrainTemplates(masking=[("x*", "X")]).fit(["a b"]),
         Raises(ValueError, "(?i)empty"), owner="logs engineer"),
    Case("transformers", "DrainTemplates: a missing line",
         lambda c: DrainTemplates().fit(["a b", None]), Raises(ValueError, "(?i)row 1|None")),
    Case("transformers", "DrainTemplates: sim_th=2", lambda c: DrainTemplates(sim_th=2).fit(["a"]),
         Raises(ValueError, "'sim_th'")),
]


# ------------------------------------------------------------------ metrics
def _normal_fold_search(ctx):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = np.r_[np.zeros(250, dtype=int), np.ones(50, dtype=int)]
    cv = [(np.arange(100), np.arange(100, 200)), (np.arange(100), np.arange(200, 300))]
    GridSearchCV(IsolationForest(n_estimators=5, random_state=0), {"max_features": [1.0]},
                 scoring=M.anomaly_average_precision_scorer, cv=cv).fit(X, y)


def _rank_without_alarm(ctx):
    from skanomaly.explain import rank_channels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-ones labels: read as all normal, with a warning
        out = rank_channels(np.random.rand(50, 3), labels=np.ones(50, dtype=int))
    if out:
        raise AssertionError(f"{len(out)} segment(s) ranked without any alarm")


CASES += [
    Case("metrics", "f1: lengths differ", lambda c: M.anomaly_f1_score([0, 1, 1], [0, 1]),
         Raises(ValueError, "different lengths")),
    Case("metrics", "f1: label 2", lambda c: M.anomaly_f1_score([0, 2], [0, 1]),
         Raises(ValueError, "0/1 labels")),
    Case("metrics", "f1: NaN label", lambda c: M.anomaly_f1_score([0, np.nan], [0, 1]),
         Raises(ValueError, "nan")),
    Case("metrics", "f1: text labels", lambda c: M.anomaly_f1_score(["a", "b"], [0, 1]),
         Raises(ValueError, "numeric or boolean")),
    Case("metrics", "f1: 2-D labels", lambda c: M.anomaly_f1_score([[0, 1]], [[0, 1]]),
         Raises(ValueError, "1-D")),
    Case("metrics", "f1: anomaly_label=0", lambda c: M.anomaly_f1_score([0, 1], [0, 1],
                                                                      anomaly_label=0),
         Raises(ValueError, "anomaly_label")),
    Case("metrics", "AP: text scores", lambda c: M.anomaly_average_precision_score(
        [0, 1], ["a", "b"]), Raises(ValueError, "scores must hold numbers")),
    Case("metrics", "AP: NaN score", lambda c: M.anomaly_average_precision_score(
        [0, 1], [0.1, np.nan]), Raises(ValueError, "NaN")),
    Case("metrics", "AP: scores of another length", lambda c: M.anomaly_average_precision_score(
        [0, 1, 0], [0.1, 0.2]), Raises(ValueError, "one value per label")),
    Case("metrics", "AP: no anomaly in y_true", lambda c: M.anomaly_average_precision_score(
        [0, 0, 0], [0.1, 0.2, 0.3]), Warns(UndefinedMetricWarning, "no anomaly")),
    Case("metrics", "ROC-AUC: one class", lambda c: M.anomaly_roc_auc_score(
        [0, 0, 0], [0.1, 0.2, 0.3]), Warns(UndefinedMetricWarning, "no anomaly.*ROC-AUC")),
    Case("metrics", "best F1: no anomaly", lambda c: M.best_f1_score([0, 0], [0.1, 0.2]),
         Warns(UndefinedMetricWarning, "no anomaly")),
    Case("metrics", "GridSearchCV: a test fold without anomalies", _normal_fold_search,
         Warns(UndefinedMetricWarning, "test fold.*no true anomaly")),
    Case("metrics", "point adjust: k=-1", lambda c: M.point_adjusted_f1_score(
        [0, 1], [0, 1], method="delay", k=-1), Raises(ValueError, "'k'")),
    Case("metrics", "point adjust: unknown method", lambda c: M.point_adjusted_f1_score(
        [0, 1], [0, 1], method="pa"), Raises(ValueError, "'method'")),
    Case("metrics", "make_anomaly_scorer: not a function",
         lambda c: M.make_anomaly_scorer(3), Raises(TypeError, "score_func")),
    Case("metrics", "make_anomaly_scorer: unknown response",
         lambda c: M.make_anomaly_scorer(M.anomaly_f1_score, response="proba"),
         Raises(ValueError, "response")),
    Case("metrics", "scorer without y", lambda c: M.anomaly_f1_scorer(
        IsolationForest(n_estimators=5).fit(np.zeros((10, 1))), np.zeros((10, 1)), None),
         Raises(ValueError, "needs true labels")),
    Case("metrics", "rank_channels(labels=predict(X)) with no alarm", _rank_without_alarm,
         Returns(),
         owner="issue 12 (explain edit after ARCH_BASE_DONE)"),
]


# ------------------------------------------------------------------ loaders
def _cmapss_row(unit, cycle):
    return " ".join([str(unit), str(cycle)] + ["0.5"] * 24)


def _cmapss(ctx, *, train=None, test=None, rul=None):
    home = ctx.tmp / f"cmapss{len(list(ctx.tmp.iterdir()))}"
    home.mkdir()
    rows = [_cmapss_row(u, c) for u in (1, 2) for c in (1, 2, 3)]
    (home / "train_FD001.txt").write_text("\n".join(train or rows) + "\n")
    (home / "test_FD001.txt").write_text("\n".join(test or rows) + "\n")
    (home / "RUL_FD001.txt").write_text("\n".join(rul or ["10", "20"]) + "\n")
    return load_cmapss(data_home=home)


def _bad_rows(edit):
    rows = [_cmapss_row(u, c) for u in (1, 2) for c in (1, 2, 3)]
    rows[3] = edit(rows[3])
    return rows


_NAB_CSV = "timestamp,value\n2014-01-01 00:00:00,1.0\n2014-01-01 00:05:00,2.0\n" \
           "2014-01-01 00:10:00,3.0\n"
_NAB_JSON = '{"realAWSCloudwatch/s.csv": [["2014-01-01 00:04:00", "2014-01-01 00:06:00"]]}'


def _nab(ctx, *, csv=_NAB_CSV, labels=_NAB_JSON):
    home = ctx.tmp / f"nab{len(list(ctx.tmp.iterdir()))}"
    (home / "data" / "realAWSCloudwatch").mkdir(parents=True)
    (home / "labels").mkdir()
    (home / "data" / "realAWSCloudwatch" / "s.csv").write_text(csv)
    (home / "labels" / "combined_windows.json").write_text(labels)
    return load_nab("s", data_home=home)


_SMD_TRAIN = "\n".join(["0.1,0.2,0.3"] * 6) + "\n"
_SMD_LABEL = "\n".join(["0", "0", "1", "1", "0", "0"]) + "\n"


def _smd(ctx, *, train=_SMD_TRAIN, test=_SMD_TRAIN, label=_SMD_LABEL, interp=None,
         loader=load_smd, entity="machine-1-1"):
    home = ctx.tmp / f"smd{len(list(ctx.tmp.iterdir()))}"
    for part, text in (("train", train), ("test", test), ("test_label", label),
                       ("interpretation_label", interp)):
        (home / part).mkdir(parents=True)
        if text is not None:
            (home / part / f"{entity}.txt").write_text(text)
    return loader(entity, data_home=home)


def _nezha_bad_log(ctx):
    from skanomaly.datasets import load_nezha

    day = ctx.tmp / "nezha" / "nezha_onlineboutique" / "rca_data" / "2022-08-22" / "log"
    day.mkdir(parents=True)
    header = "Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log\n"
    good = ('2022-08-22T05:18:42Z,1661145522908318000,n,cart-6cfdd55578-gfj6q,server,t1,s1,'
            '"{""log"":""hello\\n""}"\n')
    bad = '2022-08-22T05:18:43Z,1661145523908318000,n,cart-6cfdd55578-gfj6q,server,"t2,s2,x\n'
    with gzip.open(day / "05_19_log.csv.gz", "wt") as fh:
        fh.write(header + good + bad + good)
    return load_nezha("onlineboutique", data_home=ctx.tmp / "nezha", modalities=("log",))


CASES += [
    # C-MAPSS
    Case("loaders", "C-MAPSS: text in one sensor value",
         lambda c: _cmapss(c, train=_bad_rows(lambda r: r.replace("0.5", "abc", 1))),
         Raises(ValueError, "(?s)train_FD001.txt.*line 4.*'abc', not a number")),
    Case("loaders", "C-MAPSS: a short row",
         lambda c: _cmapss(c, train=_bad_rows(lambda r: r.rsplit(" ", 2)[0])),
         Raises(ValueError, "(?s)train_FD001.txt.*line 4 has 24 fields where 26")),
    Case("loaders", "C-MAPSS: a long row",
         lambda c: _cmapss(c, test=_bad_rows(lambda r: r + " 1.0")),
         Raises(ValueError, "(?s)test_FD001.txt.*line 4 has 27 fields")),
    Case("loaders", "C-MAPSS: 'nan' in a sensor",
         lambda c: _cmapss(c, train=_bad_rows(lambda r: r.replace("0.5", "nan", 1))),
         Raises(ValueError, "(?s)train_FD001.txt.*'nan', not a number")),
    Case("loaders", "C-MAPSS: empty train file", lambda c: _cmapss(c, train=[""]),
         Raises(ValueError, "train_FD001.txt is malformed: it is empty")),
    Case("loaders", "C-MAPSS: fractional cycle",
         lambda c: _cmapss(c, train=_bad_rows(lambda r: "2 1.5" + r[3:])),
         Raises(ValueError, "(?s)train_FD001.txt.*cycle 1.5")),
    Case("loaders", "C-MAPSS: cycles going back within a unit",
         lambda c: _cmapss(c, train=[_cmapss_row(1, 1), _cmapss_row(1, 3), _cmapss_row(1, 2)]),
         Raises(ValueError, "(?s)train_FD001.txt.*cycles must increase")),
    Case("loaders", "C-MAPSS: text in the RUL file", lambda c: _cmapss(c, rul=["10", "x"]),
         Raises(ValueError, "(?s)RUL_FD001.txt.*'x', not a number")),
    Case("loaders", "C-MAPSS: negative RUL", lambda c: _cmapss(c, rul=["10", "-3"]),
         Raises(ValueError, "(?s)RUL_FD001.txt.*>= 0")),
    Case("loaders", "C-MAPSS: RUL count differs from the test engines",
         lambda c: _cmapss(c, rul=["10"]), Raises(ValueError, "(?s)RUL_FD001.txt.*engines")),
    Case("loaders", "C-MAPSS: unknown subset", lambda c: load_cmapss("FD009", data_home=c.tmp),
         Raises(ValueError, "FD009")),
    Case("loaders", "C-MAPSS: rul_threshold=-1",
         lambda c: load_cmapss(rul_threshold=-1, data_home=c.tmp),
         Raises(ValueError, "rul_threshold")),
    # NAB
    Case("loaders", "NAB: a timestamp that is not a date",
         lambda c: _nab(c, csv=_NAB_CSV.replace("2014-01-01 00:05:00", "yesterday")),
         Raises(ValueError, "(?s)s.csv.*data row 2.*'yesterday'")),
    Case("loaders", "NAB: a value that is not a number",
         lambda c: _nab(c, csv=_NAB_CSV.replace("2.0", "n/a")),
         Raises(ValueError, "(?s)s.csv.*data row 2.*'n/a'")),
    Case("loaders", "NAB: an empty value", lambda c: _nab(c, csv=_NAB_CSV.replace("2.0", "")),
         Raises(ValueError, "(?s)s.csv.*data row 2")),
    Case("loaders", "NAB: empty csv", lambda c: _nab(c, csv=""),
         Raises(ValueError, "s.csv is malformed: it is empty")),
    Case("loaders", "NAB: no value column",
         lambda c: _nab(c, csv=_NAB_CSV.replace("value", "val")),
         Raises(ValueError, "(?s)s.csv.*'value'")),
    Case("loaders", "NAB: timestamps going back",
         lambda c: _nab(c, csv=_NAB_CSV.replace("00:10:00", "00:01:00")),
         Raises(ValueError, "(?s)s.csv.*must not go back")),
    Case("loaders", "NAB: labels file is not JSON", lambda c: _nab(c, labels="{oops"),
         Raises(ValueError, "(?s)combined_windows.json.*not valid JSON")),
    Case("loaders", "NAB: labels file is a list", lambda c: _nab(c, labels="[]"),
         Raises(ValueError, "(?s)combined_windows.json.*top level is a list")),
    Case("loaders", "NAB: a window that is not a pair",
         lambda c: _nab(c, labels='{"realAWSCloudwatch/s.csv": [["2014-01-01"]]}'),
         Raises(ValueError, "(?s)combined_windows.json.*each window is \\[start, end\\]")),
    Case("loaders", "NAB: a window ending before it starts",
         lambda c: _nab(c, labels='{"realAWSCloudwatch/s.csv": [["2014-01-02", "2014-01-01"]]}'),
         Raises(ValueError, "(?s)combined_windows.json.*start <= end")),
    Case("loaders", "NAB: a window bound that is not a date",
         lambda c: _nab(c, labels='{"realAWSCloudwatch/s.csv": [["soon", "2014-01-01"]]}'),
         Raises(ValueError, "(?s)combined_windows.json.*not dates")),
    Case("loaders", "NAB: no entry for the series",
         lambda c: _nab(c, labels="{}"), Raises(ValueError, "(?s)combined_windows.json.*no entry")),
    # SMD / ASD
    Case("loaders", "SMD: text in the train file",
         lambda c: _smd(c, train=_SMD_TRAIN.replace("0.2", "x", 1)),
         Raises(ValueError, "(?s)train/machine-1-1.txt.*line 1, field 2 is 'x'")),
    Case("loaders", "SMD: a short row in the test file",
         lambda c: _smd(c, test=_SMD_TRAIN.replace("0.1,0.2,0.3\n", "0.1,0.2\n", 1)),
         Raises(ValueError, "(?s)test/machine-1-1.txt.*line 1 has 2 fields where 3")),
    Case("loaders", "SMD: a long row", lambda c: _smd(c, train=_SMD_TRAIN + "1,2,3,4\n"),
         Raises(ValueError, "(?s)train/machine-1-1.txt.*line 7 has 4 fields")),
    Case("loaders", "SMD: empty train file", lambda c: _smd(c, train=""),
         Raises(ValueError, "train/machine-1-1.txt is malformed: it is empty")),
    Case("loaders", "SMD: test with other columns than train",
         lambda c: _smd(c, test="\n".join(["0.1,0.2"] * 6)),
         Raises(ValueError, "(?s)test/machine-1-1.txt.*2 fields where 3")),
    Case("loaders", "SMD: label 2", lambda c: _smd(c, label=_SMD_LABEL.replace("1", "2", 1)),
         Raises(ValueError, "(?s)test_label/machine-1-1.txt.*not 0 or 1")),
    Case("loaders", "SMD: labels with two columns",
         lambda c: _smd(c, label="\n".join(["0,0"] * 6)),
         Raises(ValueError, "(?s)test_label/machine-1-1.txt.*2 fields where 1")),
    Case("loaders", "SMD: fewer labels than test rows", lambda c: _smd(c, label="0\n0\n"),
         Raises(ValueError, "test_label has 2 rows but test has 6")),
    Case("loaders", "SMD: malformed interpretation line", lambda c: _smd(c, interp="3-4\n"),
         Raises(ValueError, "(?s)interpretation_label/machine-1-1.txt.*line 1")),
    Case("loaders", "SMD: unknown machine", lambda c: load_smd("machine-9-9", data_home=c.tmp),
         Raises((ValueError, FileNotFoundError), "machine|SMD")),
    Case("loaders", "ASD: text in the train file",
         lambda c: _smd(c, train=_SMD_TRAIN.replace("0.3", "?", 1), loader=load_asd,
                        entity="omi-1"),
         Raises(ValueError, "(?s)train/omi-1.txt.*'\\?', not a number")),
    # Nezha (simulator engineer)
    Case("loaders", "Nezha: one malformed log line", _nezha_bad_log,
         AnyOf((Raises(ValueError, "(?s)05_19_log.csv.gz.*line 3|line 3.*05_19_log.csv.gz"),
                Warns(UserWarning, "(?s)05_19_log.csv.gz"))),
         owner="simulator engineer (issue 12 item 9)"),
]

# Fixes that had not landed when this file was last updated: expected failures
# (names of cases). Empty: every owner's fix has landed.
PENDING = set()
_PENDING_OWNER = "its owner"


def _param(case):
    marks = list(case.marks)
    if case.name in PENDING:
        marks.append(pytest.mark.xfail(strict=False,
                                       reason=f"owned by {_PENDING_OWNER}: in progress"))
    return pytest.param(case, id=f"{case.family}: {case.name}", marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case, ctx):
    result = outcome(case, ctx)
    assert result in ("clear", "correct"), result


if __name__ == "__main__":  # the matrix, for the issue's figures
    import collections
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        context = Ctx(Path(tmp))
        counts = collections.Counter()
        per_family = collections.defaultdict(collections.Counter)
        for case in CASES:
            result = outcome(case, context)
            kind = result.split(":")[0].split(" ")[0]
            counts[kind] += 1
            per_family[case.family][kind] += 1
            if kind not in ("clear", "correct"):
                print(f"{kind:8s} {case.family:13s} {case.name}: {result[:160]}")
        for family, c in per_family.items():
            print(f"{family:13s} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
        print(f"{len(CASES)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


# --------------------------------------------- documented behaviours, in detail
def test_overflowing_input_is_scored_most_anomalous_with_a_warning(ctx):
    from skanomaly.base import OVERFLOW_SCORE, ScoreOverflowWarning

    det = ctx.fitted("vi")  # its float32 squared error overflows on a pixel of 1e20
    X = ctx.images.copy()
    X[5, 3, 3] = 1e20
    match = r"(?s)overflowed.*\[5\].*1e\+20.*Scale the input"
    with pytest.warns(ScoreOverflowWarning, match=match):
        scores = det.score_samples(X)
    assert np.isfinite(scores).all() and scores[5] == -OVERFLOW_SCORE
    others = np.arange(len(X)) != 5
    np.testing.assert_array_equal(scores[others], det.score_samples(ctx.images)[others])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScoreOverflowWarning)
        assert det.predict(X)[5] == -1


def test_cap_overflowed_scores_rule():
    from skanomaly.base import OVERFLOW_SCORE, ScoreOverflowWarning, cap_overflowed_scores

    scores = np.array([1.0, np.inf, np.nan, 2.0])
    with pytest.warns(ScoreOverflowWarning, match=r"2 sample\(s\).*\[1, 2\]"):
        out = cap_overflowed_scores(scores, np.zeros((4, 2)))
    assert out.tolist() == [1.0, OVERFLOW_SCORE, OVERFLOW_SCORE, 2.0]
    finite = np.array([1.0, 2.0])
    assert cap_overflowed_scores(finite, None) is finite  # nothing to do, no warning


def test_keyboard_interrupt_propagates_and_keeps_no_net(ctx):
    from skorch.callbacks import Callback

    class Interrupt(Callback):
        def on_epoch_begin(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

    det = make("ts", max_epochs=5, callbacks=[Interrupt()])
    with pytest.raises(KeyboardInterrupt, match="interrupted in epoch 2"):
        det.fit(ctx.series)
    assert not hasattr(det, "net_")


def test_early_stopping_still_ends_training_normally(ctx):
    # skorch's EarlyStopping stops by raising KeyboardInterrupt in on_epoch_end:
    # that one is not a Ctrl-C and must not escape fit
    det = make("ts", max_epochs=200, early_stopping=True, patience=1, lr=0.05)
    det.fit(ctx.series)
    assert 2 <= len(det.net_.history) < 200


def test_channels_last_images_are_refused_with_the_transpose():
    rgb = np.random.rand(6, 8, 8, 3).astype(np.float32)
    with pytest.raises(ValueError, match=r"channels-last.*transpose\(0, 3, 1, 2\)"):
        make("vi").fit(rgb)


def test_rank_channels_without_alarm_ranks_nothing():
    from skanomaly.explain import rank_channels

    contributions = np.random.rand(20, 3)
    with pytest.warns(UserWarning, match="read as all normal"):
        assert rank_channels(contributions, labels=np.ones(20, dtype=int)) == []
    labels = np.ones(20, dtype=int)
    labels[5:8] = -1
    assert len(rank_channels(contributions, labels=labels)) == 1
    assert len(rank_channels(contributions, labels=np.isin(np.arange(20), [2, 3]))) == 1
