"""The one place that imports scikit-learn's private API.

scikit-learn's parameter-validation helpers (``Interval``, ``StrOptions``,
``HasMethods``, ``validate_params``) and ``_fit_context`` are private: a
release may move them. Every skanomaly module imports them from here, so a
change in scikit-learn is fixed in one file.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)

__all__ = ["HasMethods", "Interval", "StrOptions", "validate_params", "fit_context"]

#: ``sklearn.base._fit_context``: validates parameters once per ``fit`` and
#: skips the nested validation of inner estimators.
fit_context = _fit_context
