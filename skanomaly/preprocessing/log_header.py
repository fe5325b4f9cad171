"""Raw log lines to columns: the header fields of a Loghub-style log format and ``Content``."""

import re
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..utils._compat import StrOptions, fit_context
from ._validation import check_lines

__all__ = ["LogHeaderParser", "log_format_regex"]

_FIELD = re.compile(r"<(\w+)>")


def _is_whole(fragment):
    """Whether a separator is a regex of its own (not half of an optional group)."""
    try:
        re.compile(fragment)
    except re.error:
        return False
    return True


def log_format_regex(log_format):
    """Compile a Loghub-style ``log_format`` into a regex with one group per field.

    The text between fields is a regular expression, as in Loghub's formats
    (``\\[<Time>\\]``, ``(\\[<PID>\\])?``); a run of spaces matches any run of
    whitespace. Each field takes the shortest text up to the separator that follows it,
    atomically where the separator is a regex of its own (so a line that does not match
    fails in linear time, however long); the last field takes the rest of the line.

    Parameters
    ----------
    log_format : str
        For example ``"<Date> <Time> <Pid> <Level> <Component>: <Content>"``.

    Returns
    -------
    regex : re.Pattern
    fields : list of str

    Examples
    --------
    >>> from skanomaly.preprocessing.log_header import log_format_regex
    >>> rx, fields = log_format_regex("<Level> <Component>: <Content>")
    >>> fields
    ['Level', 'Component', 'Content']
    >>> rx.match("INFO dfs.DataNode: Served block").group("Content")
    'Served block'
    """
    if not isinstance(log_format, str):
        raise TypeError(f"log_format must be a str, got {type(log_format).__name__}.")
    parts = _FIELD.split(log_format)  # literal, field, literal, field, ..., literal
    fields = parts[1::2]
    if not fields:
        raise ValueError(
            f"log_format {log_format!r} names no field; write fields as <Name>, e.g. "
            "'<Date> <Time> <Level> <Component>: <Content>'."
        )
    dup = sorted({f for f in fields if fields.count(f) > 1})
    if dup:
        raise ValueError(f"log_format {log_format!r} names field(s) {dup} more than once.")
    if "LineId" in fields:
        raise ValueError("log_format may not name a field LineId: that column holds line numbers.")
    literals = [re.sub(" +", r"\\s+", p) for p in parts[0::2]]
    pattern = literals[0]
    for k, name in enumerate(fields):
        field, sep = f"(?P<{name}>.*?)", literals[k + 1]
        if k < len(fields) - 1 and _is_whole(sep):
            # shortest field, then its separator, committed: no backtracking
            pattern += f"(?>{field}{sep})"
        else:  # the last field, or a separator that opens/closes an optional part
            pattern += field + sep
    try:
        rx = re.compile(f"^{pattern}$", re.DOTALL)
    except re.error as exc:
        raise ValueError(
            f"log_format {log_format!r} is not a valid Loghub-style format: {exc}. The text "
            "between fields is a regular expression: escape [ ] ( ) | . * + ? as \\[ etc."
        ) from None
    return rx, fields


class LogHeaderParser(TransformerMixin, BaseEstimator):
    """Split raw log lines into columns from a Loghub-style ``log_format``.

    ``<Date> <Time> <Pid> <Level> <Component>: <Content>`` turns
    ``081109 203615 148 INFO dfs.DataNode: Served block`` into the columns ``Date``,
    ``Time``, ``Pid``, ``Level``, ``Component`` and ``Content`` (the message, what
    :class:`DrainTemplates` reads). The output also has ``LineId``, the 1-based
    number of the line in the input, so rows stay traceable when lines are skipped.

    Parameters
    ----------
    log_format : str, default="<Content>"
        Fields written ``<Name>``; the text between them is a regular expression as in
        Loghub's formats (escape brackets: ``\\[<Time>\\]``); a run of spaces matches
        any whitespace. See :func:`log_format_regex`.
    on_mismatch : {"error", "skip"}, default="error"
        A line that does not match: ``"error"`` raises a ``ValueError`` naming its line
        number and text; ``"skip"`` leaves it out of the output, warns with the
        number of lines left out and counts them (``n_skipped_`` for the lines given
        to ``fit``).
    decode_errors : {"strict", "replace"}, default="strict"
        ``bytes`` lines that are not UTF-8: raise naming the row, or replace the bad
        bytes with U+FFFD.

    Attributes
    ----------
    fields_ : list of str
        Field names of ``log_format``, in order.
    n_skipped_ : int
        Lines of ``fit``'s input that did not match (0 with ``on_mismatch="error"``).
    n_features_in_ : int
        Always 1 (one column of text).

    Notes
    -----
    Lines are stripped of surrounding whitespace (and line breaks) before matching,
    as Loghub does. An empty line matches only a format that allows it. ``None``
    raises a ``ValueError`` naming the row. Fields an optional part of the format
    leaves out are empty strings.

    Examples
    --------
    >>> from skanomaly.preprocessing import LogHeaderParser
    >>> lines = ["081109 203615 148 INFO dfs.DataNode: Served block blk_1",
    ...          "a stray line"]
    >>> parser = LogHeaderParser("<Date> <Time> <Pid> <Level> <Component>: <Content>",
    ...                          on_mismatch="skip")
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     table = parser.fit_transform(lines)
    >>> table[["LineId", "Level", "Content"]].values.tolist()
    [[1, 'INFO', 'Served block blk_1']]
    >>> parser.n_skipped_
    1
    """

    _parameter_constraints = {
        "log_format": [str],
        "on_mismatch": [StrOptions({"error", "skip"})],
        "decode_errors": [StrOptions({"strict", "replace"})],
    }

    @classmethod
    def _get_test_params(cls):
        """Tiny configurations for the common estimator tests (tests/test_common.py)."""
        return [{"log_format": "<Level> <Component>: <Content>"}]

    def __init__(self, log_format="<Content>", on_mismatch="error", decode_errors="strict"):
        self.log_format = log_format
        self.on_mismatch = on_mismatch
        self.decode_errors = decode_errors

    def _parse(self, X):
        rx, fields = log_format_regex(self.log_format)
        lines = check_lines(X, errors=self.decode_errors)
        rows, kept = [], []
        for i, line in enumerate(lines):
            m = rx.match(line.strip())
            if m is None:
                if self.on_mismatch == "error":
                    shown = line if len(line) <= 300 else line[:300] + f"... ({len(line)} chars)"
                    raise ValueError(
                        f"line {i + 1} does not match log_format {self.log_format!r}: "
                        f"{shown!r}. Pass on_mismatch='skip' to leave such lines out."
                    )
                continue
            kept.append(i + 1)
            rows.append([m.group(f) or "" for f in fields])
        table = pd.DataFrame(rows, columns=fields, dtype=object) if rows else \
            pd.DataFrame({f: pd.Series([], dtype=object) for f in fields})
        table.insert(0, "LineId", np.asarray(kept, dtype=np.int64))
        n_skipped = len(lines) - len(kept)
        if n_skipped:
            warnings.warn(
                f"{n_skipped} of {len(lines)} lines do not match log_format "
                f"{self.log_format!r} and were skipped (see the LineId column).",
                UserWarning, stacklevel=3,
            )
        return table, fields, n_skipped

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the format and count the lines of ``X`` that do not match it.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Raw log lines (``str`` or UTF-8 ``bytes``).
        y : None
            Ignored.

        Returns
        -------
        self : LogHeaderParser
        """
        self._fit(X)
        return self

    def _fit(self, X):
        table, self.fields_, self.n_skipped_ = self._parse(X)
        self.n_features_in_ = 1
        return table

    @fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit and parse ``X`` in one pass (one warning at most).

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Raw log lines.
        y : None
            Ignored.

        Returns
        -------
        table : pandas.DataFrame
            ``LineId`` and one column per field, one row per matching line.
        """
        return self._fit(X)

    def transform(self, X):
        """Parse lines into a table: ``LineId`` and one column per field.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Raw log lines.

        Returns
        -------
        table : pandas.DataFrame
            One row per matching line (all lines with ``on_mismatch="error"``).
        """
        check_is_fitted(self, "fields_")
        return self._parse(X)[0]

    def get_feature_names_out(self, input_features=None):
        """Output columns: ``["LineId", *fields_]``.

        Parameters
        ----------
        input_features : array-like of str or None
            Ignored.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "fields_")
        return np.asarray(["LineId", *self.fields_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        return tags
