"""Save and load fitted estimators without running code from the file.

``pickle`` and ``joblib.load`` run code: a pickle names any function and its
arguments, and loading calls it. **Never** ``joblib.load``, ``pickle.load`` or
``torch.load(weights_only=False)`` a file you did not make yourself.

:func:`save` writes one ``.npz`` file (a zip of ``.npy`` arrays) holding:

- a JSON description of the estimator: its class, its parameters and its
  fitted attributes, as plain values (numbers, strings, lists, dicts);
- every array and tensor (network weights included) as a plain ``.npy``
  array, read back with ``numpy.load(..., allow_pickle=False)``.

:func:`load` rebuilds objects only of the classes listed by
:func:`trusted_types` (skanomaly's estimators and their internal state, the
torch modules and losses of skanomaly's nets, torch optimizer classes, and
drain3's template-tree classes for :class:`~skanomaly.preprocessing.DrainTemplates`).
It never imports a module named in the file and never calls a function named
in it: an object is created with ``cls.__new__(cls)`` and its attributes are
set from the decoded values; a skorch net is rebuilt by calling its trusted
class with the saved module parameters, then its weights are copied in.
None of the trusted types is a builtin that runs code.

What cannot be saved raises a ``TypeError`` naming the attribute: functions
and lambdas, skorch callback objects (``callbacks=...``; they only matter for
training, so set ``callbacks=None`` before saving), and any object of a class
outside the trusted list. Caches (drain3's parameter-extraction cache) are
saved empty.
"""

import json
import zipfile
from importlib import import_module

import numpy as np
import pandas as pd
import torch

__all__ = ["save", "load", "trusted_types", "FORMAT"]

#: Format tag written in every file; :func:`load` refuses other files.
FORMAT = "skanomaly-safe-1"

_HEADER = "__skanomaly__"


# ----------------------------------------------------------- trusted types
def _classes_of(module_name, names=None, base=None):
    module = import_module(module_name)
    names = getattr(module, "__all__", []) if names is None else names
    out = []
    for name in names:
        obj = getattr(module, name, None)
        if isinstance(obj, type) and (base is None or issubclass(obj, base)):
            out.append(obj)
    return out


def _own_losses():
    """The torch losses skanomaly defines for its nets (``criterion=`` of a net)."""
    found = []
    for name in ["skanomaly.nets"] + [f"skanomaly.detectors.{m}" for m in
                                      ("_timeseries", "_vision", "_multimodal", "_anofusion")]:
        module = import_module(name)
        found += [obj for obj in vars(module).values()
                  if isinstance(obj, type) and issubclass(obj, torch.nn.Module)
                  and obj.__module__ == name]
    return found


def _qualname(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


_TRUSTED = None


def _trusted():
    """``{qualified name: class}`` of every class :func:`load` may rebuild."""
    global _TRUSTED
    if _TRUSTED is None:
        from sklearn.base import BaseEstimator
        from skorch.dataset import Dataset as SkorchDataset

        from .nets import ELBOLoss, ForecastLoss, ForecastNet, SSIMELBOLoss, VAENet
        from .thresholds._gpd import TailModel
        from .thresholds._spot import _SpotState

        classes = (
            _classes_of("skanomaly.detectors", base=BaseEstimator)
            + _classes_of("skanomaly.thresholds", base=BaseEstimator)
            + _classes_of("skanomaly.preprocessing", base=BaseEstimator)
            + [_SpotState, TailModel, VAENet, ForecastNet, ELBOLoss, SSIMELBOLoss,
               ForecastLoss, SkorchDataset]
            + _classes_of("skanomaly.nets", ["BatchIterator"])
            + _classes_of("skanomaly.modules", base=torch.nn.Module)
            + _own_losses()
            + [cls for cls in vars(torch.optim).values()
               if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
               and cls is not torch.optim.Optimizer]
        )
        try:  # the batch loaders of the nets, where the package has them
            classes += _classes_of("skanomaly.batching")
        except ImportError:  # pragma: no cover
            pass
        try:  # DrainTemplates' fitted miner
            classes += _classes_of("drain3.template_miner", ["TemplateMiner"])
            classes += _classes_of("drain3.template_miner_config", ["TemplateMinerConfig"])
            classes += _classes_of("drain3.drain", ["Drain", "Node", "LogCluster"])
            classes += _classes_of("drain3.masking", ["LogMasker", "MaskingInstruction"])
            classes += _classes_of("drain3.simple_profiler", ["NullProfiler"])
        except ImportError:  # pragma: no cover - drain3 is a dependency
            pass
        _TRUSTED = {_qualname(cls): cls for cls in classes}
    return _TRUSTED


def trusted_types():
    """Names of the classes :func:`load` may rebuild, sorted.

    Returns
    -------
    names : list of str
        Fully qualified class names. No builtin and no function is among them.

    Examples
    --------
    >>> from skanomaly.persistence import trusted_types
    >>> "skanomaly.thresholds._spot.SPOTThreshold" in trusted_types()
    True
    >>> any(name.startswith("builtins.") for name in trusted_types())
    False
    """
    return sorted(_trusted())


def _type_name(obj):
    return _qualname(type(obj))


# ------------------------------------------------------------------ encode
class _Encoder:
    """Turns an object tree into JSON-able values plus a dict of arrays."""

    def __init__(self):
        self.arrays = {}

    def array(self, a):
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(a)
        return key

    def encode(self, obj, where):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, float)) and type(obj) in (int, float):
            return obj
        if isinstance(obj, np.generic):
            return self._np_scalar(obj, where)
        if isinstance(obj, np.ndarray):
            return self._ndarray(obj, where)
        if isinstance(obj, torch.Tensor):
            return {"__tensor__": self._ndarray(obj.detach().cpu().numpy(), where)}
        if isinstance(obj, list) and type(obj) is list:
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if type(obj) is tuple:
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if type(obj) in (set, frozenset):
            items = sorted(obj, key=repr)
            return {"__set__": [self.encode(v, f"{where}{{}}") for v in items],
                    "frozen": type(obj) is frozenset}
        if type(obj) is dict:
            return {"__dict__": [[self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
                                 for k, v in obj.items()]}
        if isinstance(obj, type):
            if _qualname(obj) not in _trusted():
                raise self._refuse(where, f"the class {_qualname(obj)}")
            return {"__type__": _qualname(obj)}
        if isinstance(obj, pd.DataFrame):
            return self._dataframe(obj, where)
        if isinstance(obj, pd.Series):
            return {"__series__": {"name": self.encode(obj.name, where),
                                   "index": self._index(obj.index, where),
                                   "values": self._ndarray(obj.to_numpy(), where),
                                   "dtype": str(obj.dtype)}}
        if isinstance(obj, pd.Index):
            return self._index(obj, where)
        if isinstance(obj, pd.Timestamp):
            return {"__timestamp__": obj.isoformat()}
        if isinstance(obj, pd.Timedelta):
            return {"__timedelta__": int(obj.value)}
        return self._object(obj, where)

    @staticmethod
    def _refuse(where, what):
        return TypeError(
            f"{where} holds {what}, which cannot be saved safely (loading it would need to "
            "run code or trust a class outside skanomaly.persistence.trusted_types()). "
            "Set it to None or to a plain value before saving, or keep that estimator in a "
            "file only you load."
        )

    def _np_scalar(self, x, where):
        if x.dtype.kind == "O":
            raise self._refuse(where, "a numpy object scalar")
        if x.dtype.kind in "US":
            return x.item() if x.dtype.kind == "U" else {"__bytes__": x.item().hex()}
        return {"__np_scalar__": self._ndarray(np.asarray(x), where)}

    def _ndarray(self, a, where):
        if a.dtype.kind != "O":
            if a.dtype.hasobject or a.dtype.names is not None:
                raise self._refuse(where, f"an array of dtype {a.dtype}")
            return {"__array__": self.array(a)}
        flat = a.ravel().tolist()
        if all(isinstance(v, str) for v in flat):
            return {"__strings__": flat, "shape": list(a.shape)}
        return {"__objects__": [self.encode(v, f"{where}[...]") for v in flat],
                "shape": list(a.shape)}

    def _index(self, index, where):
        if isinstance(index, pd.MultiIndex):
            raise self._refuse(where, "a pandas MultiIndex")
        if isinstance(index, pd.RangeIndex):
            return {"__range_index__": [index.start, index.stop, index.step],
                    "name": self.encode(index.name, where)}
        tz = str(index.tz) if isinstance(index, pd.DatetimeIndex) and index.tz else None
        values = index.tz_localize(None).to_numpy() if tz else index.to_numpy()
        return {"__index__": self._ndarray(values, where), "name": self.encode(index.name, where),
                "dtype": str(index.dtype), "tz": tz}

    def _dataframe(self, df, where):
        return {"__dataframe__": {
            "columns": self._index(df.columns, where),
            "index": self._index(df.index, where),
            "data": [self._ndarray(df.iloc[:, j].to_numpy(), f"{where}[{df.columns[j]!r}]")
                     for j in range(df.shape[1])],
            "dtypes": [str(t) for t in df.dtypes],
        }}

    def _object(self, obj, where):
        name = _type_name(obj)
        if name not in _trusted():
            if callable(obj):
                raise self._refuse(where, f"the function or callable {obj!r}")
            raise self._refuse(where, f"an object of class {name}")
        from skorch import NeuralNet

        if isinstance(obj, NeuralNet):
            return self._net(obj, where)
        state = {}
        if hasattr(obj, "__dict__"):
            # the object's own __getstate__ (run on save, on the user's object) may
            # leave out caches, as for pickle
            own = obj.__getstate__() if hasattr(obj, "__getstate__") else None
            state.update(own if isinstance(own, dict) else vars(obj))
            state.pop("_sklearn_version", None)
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if slot != "__dict__" and hasattr(obj, slot):
                    state[slot] = getattr(obj, slot)
        if name == "drain3.template_miner.TemplateMiner":
            # a cache of extracted parameters, rebuilt on demand: saved empty
            cache = state.pop("parameter_extraction_cache", None)
            state["__lru_cache__"] = int(getattr(cache, "maxsize", 1000))
        encoded = {k: self.encode(v, f"{where}.{k}") for k, v in state.items()}
        return {"__object__": name, "state": encoded}

    def _net(self, net, where):
        if not getattr(net, "initialized_", False):
            raise self._refuse(where, "an uninitialised skorch net")
        module_state = {k: self._ndarray(v.detach().cpu().numpy(), f"{where}.{k}")
                        for k, v in net.module_.state_dict().items()}
        # callbacks only act during training (a loaded detector that is refitted
        # builds a new net from its own parameters): they are not saved
        params = {k: v for k, v in net.get_params(deep=False).items()
                  if k != "callbacks" and not k.startswith("callbacks__")}
        return {"__skorch_net__": _type_name(net),
                "params": self.encode(params, f"{where} parameters"),
                "state_dict": module_state,
                "history": self.encode(_plain_history(net.history), f"{where}.history")}


def _plain_history(history):
    """skorch's history as plain lists and dicts (numbers, strings, booleans)."""
    def plain(v):
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, (np.generic, torch.Tensor)):
            return v.item() if getattr(v, "size", 1) in (1, ()) or v.ndim == 0 else v.tolist()
        return v if v is None or isinstance(v, (bool, int, float, str)) else repr(v)
    return plain(list(history))


# ------------------------------------------------------------------ decode
class _Decoder:
    def __init__(self, arrays, device):
        self.arrays = arrays
        self.device = device

    def array(self, node):
        return np.array(self.arrays[node["__array__"]])

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise ValueError(f"Unexpected value in the file: {node!r:.80}.")
        tag = next(iter(node))
        handler = _DECODERS.get(tag)
        if handler is None:
            raise ValueError(f"Unknown entry {tag!r} in the file: not a {FORMAT} file?")
        return handler(self, node)

    def ndarray(self, node):
        if "__array__" in node:
            return self.array(node)
        if "__strings__" in node:
            out = np.empty(len(node["__strings__"]), dtype=object)
            out[:] = node["__strings__"]
            return out.reshape(node["shape"])
        values = [self.decode(v) for v in node["__objects__"]]
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out.reshape(node["shape"])

    def index(self, node):
        if "__range_index__" in node:
            return pd.RangeIndex(*node["__range_index__"], name=self.decode(node["name"]))
        values = self.ndarray(node["__index__"])
        index = pd.Index(values, name=self.decode(node["name"]))
        if node.get("tz"):
            index = pd.DatetimeIndex(index).tz_localize(node["tz"])
        elif str(index.dtype) != node["dtype"]:
            index = index.astype(node["dtype"])
        return index

    def trusted(self, name):
        cls = _trusted().get(name)
        if cls is None:
            raise ValueError(
                f"The file asks for the class {name!r}, which is not in "
                "skanomaly.persistence.trusted_types(); refusing to load it."
            )
        return cls

    def obj(self, node):
        cls = self.trusted(node["__object__"])
        state = {k: self.decode(v) for k, v in node["state"].items()}
        lru = state.pop("__lru_cache__", None)
        bad = [k for k in state if not (isinstance(k, str) and k.isidentifier())
               or k.startswith("__")]
        if bad:  # e.g. __class__: only plain attribute names are set
            raise ValueError(f"The file sets attribute(s) {bad[:3]} of {cls.__name__}; refusing.")
        obj = cls.__new__(cls)
        slots = {s for c in cls.__mro__ for s in getattr(c, "__slots__", ())}
        for key, value in state.items():
            if key in slots or not hasattr(obj, "__dict__"):
                object.__setattr__(obj, key, value)
            else:
                obj.__dict__[key] = value
        if lru is not None:
            from cachetools import LRUCache

            obj.__dict__["parameter_extraction_cache"] = LRUCache(lru)
        return obj

    def net(self, node):
        from skorch.history import History

        cls = self.trusted(node["__skorch_net__"])
        params = self.decode(node["params"])
        device = self.device or params.get("device", "cpu")
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            device = "cpu"
        params["device"] = device
        net = cls(**params)
        net.initialize()
        state = {k: torch.from_numpy(self.ndarray(v)) for k, v in node["state_dict"].items()}
        net.module_.load_state_dict(state)
        net.module_.eval()
        net.history = History(self.decode(node["history"]))
        return net


def _decode_df(self, node):
    d = node["__dataframe__"]
    columns = self.index(d["columns"])
    data = {j: self.ndarray(a) for j, a in enumerate(d["data"])}
    df = pd.DataFrame(data, index=self.index(d["index"]))
    df.columns = columns
    for j, dtype in enumerate(d["dtypes"]):
        if str(df.dtypes.iloc[j]) != dtype:
            df.isetitem(j, df.iloc[:, j].astype(dtype))
    return df


def _decode_series(self, node):
    d = node["__series__"]
    s = pd.Series(self.ndarray(d["values"]), index=self.index(d["index"]),
                  name=self.decode(d["name"]))
    return s if str(s.dtype) == d["dtype"] else s.astype(d["dtype"])


_DECODERS = {
    "__array__": lambda self, n: self.array(n),
    "__strings__": lambda self, n: self.ndarray(n),
    "__objects__": lambda self, n: self.ndarray(n),
    "__np_scalar__": lambda self, n: self.array(n["__np_scalar__"])[()],
    "__bytes__": lambda self, n: np.bytes_(bytes.fromhex(n["__bytes__"])),
    "__tensor__": lambda self, n: torch.from_numpy(self.ndarray(n["__tensor__"])),
    "__tuple__": lambda self, n: tuple(self.decode(v) for v in n["__tuple__"]),
    "__set__": lambda self, n: (frozenset if n["frozen"] else set)(
        self.decode(v) for v in n["__set__"]),
    "__dict__": lambda self, n: {_hashable(self.decode(k)): self.decode(v)
                                 for k, v in n["__dict__"]},
    "__type__": lambda self, n: self.trusted(n["__type__"]),
    "__dataframe__": _decode_df,
    "__series__": _decode_series,
    "__range_index__": lambda self, n: self.index(n),
    "__index__": lambda self, n: self.index(n),
    "__timestamp__": lambda self, n: pd.Timestamp(n["__timestamp__"]),
    "__timedelta__": lambda self, n: pd.Timedelta(int(n["__timedelta__"])),
    "__object__": lambda self, n: self.obj(n),
    "__skorch_net__": lambda self, n: self.net(n),
}


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


# --------------------------------------------------------------- public API
def save(estimator, path):
    """Save a fitted (or unfitted) estimator to ``path`` without pickle.

    Parameters
    ----------
    estimator : object
        A skanomaly detector, thresholder or transformer (any class in
        :func:`trusted_types`), fitted or not.
    path : str or path-like or writable binary file
        Where to write (an ``.npz`` zip archive; no suffix is added).

    Raises
    ------
    TypeError
        If the estimator holds something that cannot be saved safely (a
        function, skorch callback objects, a class outside
        :func:`trusted_types`); the message names the attribute.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from skanomaly.persistence import load, save
    >>> from skanomaly.thresholds import SPOTThreshold
    >>> spot = SPOTThreshold(q=1e-3).fit(np.random.default_rng(0).exponential(size=5000))
    >>> buffer = io.BytesIO()
    >>> save(spot, buffer)
    >>> twin = load(io.BytesIO(buffer.getvalue()))
    >>> twin.threshold_ == spot.threshold_, twin.predict([0.5, 20.0]).tolist()
    (True, [1, -1])
    """
    encoder = _Encoder()
    tree = encoder.encode(estimator, type(estimator).__name__)
    header = json.dumps({"format": FORMAT, "estimator": tree}, allow_nan=True)
    arrays = dict(encoder.arrays)
    arrays[_HEADER] = np.array(header)
    if hasattr(path, "write"):
        np.savez(path, **arrays)
        return
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def load(path, *, device=None):
    """Load an estimator written by :func:`save`, running no code from the file.

    Parameters
    ----------
    path : str or path-like or readable binary file
        A file written by :func:`save`.
    device : str or None, default=None
        Device of the rebuilt networks (e.g. ``"cpu"``); None keeps the saved
        one, or ``"cpu"`` when it was CUDA and CUDA is not available.

    Returns
    -------
    estimator : object
        The estimator saved, rebuilt.

    Raises
    ------
    ValueError
        If the file is not a :func:`save` file or names a class outside
        :func:`trusted_types`.

    Examples
    --------
    See :func:`save`.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(
            f"{path!r} is not a file written by skanomaly.persistence.save ({exc})."
        ) from None
    if _HEADER not in arrays:
        raise ValueError(f"{path!r} is not a file written by skanomaly.persistence.save.")
    header = json.loads(str(arrays.pop(_HEADER)))
    if header.get("format") != FORMAT:
        raise ValueError(
            f"{path!r} has format {header.get('format')!r}; this skanomaly reads {FORMAT!r}."
        )
    return _Decoder(arrays, device).decode(header["estimator"])

