"""scikit-learn's estimator protocol without importing scikit-learn: the one protocol of every
estimator, featurizer and indexer of ``xmr`` and ``baselines``.

Importing ``sklearn`` (even ``sklearn.exceptions``) pulls in scipy.stats, pandas and pyarrow:
about 150 MiB of resident memory and a second of start-up in a process that only trains and
predicts (the scale benchmark measures each side's peak memory, process included). So the
library's estimators take ``get_params``/``set_params`` from :class:`ParamsMixin` below, which
``sklearn.base.clone`` accepts (it needs only ``get_params(deep=False)`` and an ``__init__``
taking those keywords), and raise sklearn's ``NotFittedError`` through :func:`not_fitted`,
which imports it only when the error is raised.
"""

from __future__ import annotations

import inspect


class ParamsMixin:
    """``get_params``/``set_params``/``repr`` as ``sklearn.base.BaseEstimator`` defines them:
    the parameters are the ``__init__``'s keyword arguments, stored as attributes of the same
    names."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(n for n, p in sig.parameters.items()
                      if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def get_params(self, deep: bool = True) -> dict:
        """The estimator's parameters; with ``deep``, also ``name__sub`` of nested estimators."""
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out |= {f"{name}__{k}": v for k, v in value.get_params().items()}
            out[name] = value
        return out

    def set_params(self, **params) -> ParamsMixin:
        """Set parameters (``name`` or ``name__sub`` of a nested estimator); returns self."""
        valid = self.get_params(deep=True)
        nested: dict[str, dict] = {}
        for key, value in params.items():
            name, delim, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {self!r}. Valid "
                                 f"parameters are: {self._get_param_names()!r}.")
            if delim:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {n: p.default for n, p in inspect.signature(type(self).__init__)
                    .parameters.items()}
        changed = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items()
                   if k not in defaults or not _same(v, defaults[k])]
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(a, b) -> bool:
    try:
        return bool(a is b or a == b)
    except Exception:  # arrays and the like: shown whenever given
        return False


def not_fitted(message: str) -> Exception:
    """``sklearn.exceptions.NotFittedError(message)``, importing scikit-learn only now."""
    from sklearn.exceptions import NotFittedError

    return NotFittedError(message)
