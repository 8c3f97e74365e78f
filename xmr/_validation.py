"""Boundary checks shared by the public estimators of ``xmr`` and ``baselines``: the one place
for them, with messages that name the parameter, the allowed range and the value received."""

from __future__ import annotations

import numbers
import os
import warnings

import numba as nb
import numpy as np
import scipy.sparse as sp

SEED_MAX = 2**32 - 1  # seeds feed numpy generators and int64 kernels (seed + label id)
UNIT_NORM_TOL = 1e-3  # |‖x‖₂ - 1| above this on a non-empty row: not l2-normalised
INDEX_MAX = int(np.iinfo(np.int32).max)  # column ids are int32 (CSR indices, kernel tables)


def check_int(name: str, value, *, minimum: int, maximum: int | None = None) -> int:
    # a plain int skips the (slow, ~1 µs) ABC check: this runs on every predict_one call
    if type(value) is not int and (isinstance(value, bool)
                                   or not isinstance(value, numbers.Integral)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def check_seed(name: str, value) -> int:
    """A seed: an integer in [0, 2**32 - 1]."""
    return check_int(name, value, minimum=0, maximum=SEED_MAX)


def check_bool(name: str, value) -> bool:
    """A real bool (``"no"``, ``0`` or ``None`` are refused rather than read as truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_power_of_two(name: str, value) -> int:
    value = check_int(name, value, minimum=2)
    if value & (value - 1):
        raise ValueError(f"{name} must be a power of two >= 2, got {value}")
    return value


def check_ngram_range(name: str, value, max_n: int, *, allow_none: bool = True
                      ) -> tuple[int, int] | None:
    """An n-gram order range ``(lo, hi)`` with ``1 <= lo <= hi <= max_n`` (a list is read as a
    pair, as JSON stores it); ``None`` (the block switched off) when ``allow_none``."""
    if value is None and allow_none:
        return None
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in value)):
        what = " or None" if allow_none else ""
        raise TypeError(f"{name} must be a (lo, hi) pair of ints{what}, got {value!r}")
    lo, hi = int(value[0]), int(value[1])
    if not 1 <= lo <= hi <= max_n:
        raise ValueError(f"{name} must satisfy 1 <= lo <= hi <= {max_n}, got ({lo}, {hi})")
    return lo, hi


def check_texts(texts, name: str = "texts", *, item: str = "text") -> list[str]:
    """A list, tuple or 1-D array of str -> list of str; anything else (a bare str included)
    raises TypeError naming the first offending element. ``item`` names one element in the
    hint for a bare str ("wrap a single text in a list")."""
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise TypeError(f"{name} must be a 1-D sequence of str, got an array of shape "
                            f"{texts.shape}")
        texts = texts.tolist()
    elif isinstance(texts, tuple):
        texts = list(texts)
    elif not isinstance(texts, list):
        hint = f" (wrap a single {item} in a list)" if isinstance(texts, str) else ""
        raise TypeError(f"{name} must be a list, tuple or 1-D array of str, got "
                        f"{type(texts).__name__}{hint}")
    if not all(type(t) is str for t in texts):
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"{name}[{i}] must be a str, got {type(t).__name__} {t!r:.80}")
    return texts


def check_float(name: str, value, *, minimum: float, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if (value <= minimum) if strict else (value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    return value


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_features(X, name: str = "X") -> sp.csr_matrix:
    """CSR float32 with finite values. Other sparse formats and float64 are converted
    (a copy); dense arrays and anything else are refused."""
    if not sp.issparse(X):
        raise TypeError(
            f"{name} must be a scipy.sparse CSR matrix (float32), got {type(X).__name__}; "
            f"wrap dense data with scipy.sparse.csr_matrix({name}, dtype=np.float32)"
        )
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {X.shape}")
    check_n_features(X.shape[1], name)
    if not np.issubdtype(X.dtype, np.floating) and not np.issubdtype(X.dtype, np.integer):
        raise TypeError(f"{name} must hold numbers, got dtype {X.dtype}")
    X = sp.csr_matrix(X, dtype=np.float32)
    if not np.isfinite(X.data).all():
        bad = int((~np.isfinite(X.data)).sum())
        raise ValueError(f"{name} contains {bad} NaN or inf values; clean or impute them first")
    if not X.has_canonical_format:  # duplicates summed, indices sorted (beam search needs it)
        X = X.copy()
        X.sum_duplicates()
    return X


def check_labels(Y, n_rows: int, name: str = "Y") -> sp.csr_matrix:
    """0/1 CSR float32 label matrix with one row per instance."""
    if not sp.issparse(Y):
        raise TypeError(f"{name} must be a scipy.sparse matrix (n_samples x n_labels), "
                        f"got {type(Y).__name__}")
    if Y.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {Y.shape}")
    if Y.shape[0] != n_rows:
        raise ValueError(f"X and {name} must have the same number of rows, got X with "
                         f"{n_rows} rows and {name} with {Y.shape[0]}")
    Y = sp.csr_matrix(Y, dtype=np.float32, copy=True)  # never mutate the caller's Y
    Y.eliminate_zeros()
    if Y.nnz and (not np.isfinite(Y.data).all() or (Y.data < 0).any()):
        raise ValueError(f"{name} must hold non-negative finite values (0/1 relevance)")
    Y.data[:] = 1.0
    if not Y.has_sorted_indices:
        Y.sort_indices()
    return Y


def check_shape_match(Y_true, Y_pred) -> None:
    """Truth and predictions of a metric: same rows and same label count."""
    if Y_true.shape != Y_pred.shape:
        raise ValueError(f"Y_true and Y_pred must have the same shape (rows, labels), got "
                         f"Y_true {Y_true.shape} and Y_pred {Y_pred.shape}; predictions of "
                         f"another label space cannot be scored against this truth")


# ------------------------------------------ what the linear models need of their inputs
# A row whose squared norm is below this is left unscaled by the featurizers (as PECOS's
# ``normalize_csr`` does), so such a row is accepted like an all-zero row.
TINY_SQNORM = float(np.finfo(np.float32).eps)


def check_unit_rows(X: sp.csr_matrix, name: str = "X") -> None:
    """Refuse a non-empty row of ``X`` whose l2 norm is not 1 (within ``UNIT_NORM_TOL``).

    All-zero rows (an empty query, a text with no known n-gram) are accepted, and so are rows
    of squared norm below float32 epsilon, which the featurizers (like PECOS) leave unscaled.
    Rows scaled otherwise train a different, usually much worse, model: XR-Linear and PECOS
    are tuned for unit rows (the threshold, the bias value and the SVM costs assume them).
    """
    counts = np.diff(X.indptr)
    nonempty = np.flatnonzero(counts > 0)
    if nonempty.size == 0:
        return
    sq = np.add.reduceat(X.data.astype(np.float64) ** 2, X.indptr[:-1][nonempty])
    norms = np.sqrt(sq)
    off = (np.abs(norms - 1.0) > UNIT_NORM_TOL) & (sq >= TINY_SQNORM)
    if off.any():
        first = int(np.argmax(off))
        raise ValueError(
            f"{name} must have l2-normalised rows (norm 1 within {UNIT_NORM_TOL}, or all-zero):"
            f" row {int(nonempty[first])} has norm {norms[first]:.6g} ({int(off.sum())} of "
            f"{X.shape[0]} rows are off, norms {norms[off].min():.3g} to "
            f"{norms[off].max():.3g}); l2-normalise the rows, e.g. "
            f"sklearn.preprocessing.normalize({name}), or use the project's featurizers "
            f"(xmr.TextFeaturizer), whose rows are unit")


def largest_weight(weights: list[sp.spmatrix]) -> float:
    """max |w| over the matrices (0.0 when they hold no weight)."""
    return max((float(np.abs(W.data).max()) for W in weights if W.nnz), default=0.0)


def check_prune_leaves_weights(weights: list[sp.spmatrix], threshold: float) -> None:
    """Refuse a threshold above every weight of a trained model (what :meth:`prune` gets):
    the pruned model would have no weight and rank every query alike."""
    largest = largest_weight(weights)
    if largest < threshold:
        raise ValueError(f"threshold {threshold} prunes every weight (largest |w| = "
                         f"{largest:.6g}); use a threshold below that")


def check_trained_weights(weights: list[sp.spmatrix], threshold: float, kind: str) -> None:
    """After training at ``threshold``: refuse a model without a weight (every query would
    get the same ranking, ties by label id), and warn about a tree level without a weight
    (its nodes all tie, so the beam keeps the lowest node ids whatever the query).

    The solver prunes as it goes, so the largest weight before pruning is not known here."""
    if all(W.nnz == 0 for W in weights):
        raise ValueError(
            f"threshold {threshold} prunes every weight of this {kind} (model_nnz_ would be "
            f"0: every query would get the same ranking); use a smaller threshold (training "
            f"with threshold=0 shows the largest |w|; prune(t) then cuts without retraining)")
    empty = [t + 1 for t, W in enumerate(weights) if W.nnz == 0]
    if empty:
        warnings.warn(
            f"threshold {threshold} prunes every weight of tree level(s) {empty} of "
            f"{len(weights)}: the beam search ranks those levels' nodes by id, not by the "
            f"query; use a smaller threshold", UserWarning, stacklevel=3)


# --------------------------------------------------------------- sizes, before allocating
def check_n_columns(n_columns: int, *, what: str, fix: str) -> None:
    """Refuse a feature count that int32 column ids cannot address (they would wrap around
    silently): ``what`` says whose columns they are, ``fix`` which parameter to lower."""
    if n_columns > INDEX_MAX:
        raise ValueError(f"{what} has {n_columns:,} columns, more than the {INDEX_MAX:,} that "
                         f"int32 column ids can address; {fix}")


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_allocation(n_bytes: int, *, what: str, fix: str) -> None:
    """Refuse, before allocating it, one array larger than this machine's physical memory
    (allocating it fails with a raw MemoryError, or a SystemError inside a numba kernel).
    ``what`` names the array and its size formula, ``fix`` the parameter to lower."""
    limit = physical_memory()
    if limit is not None and n_bytes > limit:
        raise ValueError(f"{what} would need {_size(n_bytes)}, more than this machine's "
                         f"{_size(limit)} of memory; {fix}")


def _size(n_bytes: float) -> str:
    """``8.0 TiB``, ``23.5 GiB``, ``300 bytes``."""
    if n_bytes < 1024:
        return f"{int(n_bytes)} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n_bytes /= 1024
        if n_bytes < 1024:
            return f"{n_bytes:,.1f} {unit}"
    return f"{n_bytes / 1024:,.1f} TiB"


def check_n_features(n_features: int, name: str = "X") -> None:
    """Refuse, before anything allocates one, a feature count whose per-column arrays cannot
    be allocated: training allocates several of 8 bytes a column (the CSC index pointers of
    ``X``, dense work and centre vectors), and a sparse matrix of any width costs nothing."""
    check_allocation(8 * (n_features + 1), fix="lower the number of features (e.g. the "
                     "featurizer's max_features, or hash into fewer columns)",
                     what=f"an index array over the {n_features:,} columns of {name} "
                          f"(8 bytes a column)")


# --------------------------------------------------------------- one query (fast path)
@nb.njit(cache=True, nogil=True)
def query_problem(indices, data, n_features):
    """(code, position) of the first problem of a sparse query, (0, -1) if none. One pass,
    no allocation: cheap next to the beam search it guards."""
    n = indices.size
    if data.size != n:
        return 1, -1
    prev = -1
    for i in range(n):
        f = indices[i]
        if f < 0 or f >= n_features:
            return 2, i
        if f <= prev:
            return 3, i
        prev = f
        if not np.isfinite(data[i]):
            return 4, i
    return 0, -1


def query_arrays(indices, data) -> tuple[np.ndarray, np.ndarray]:
    """(indices, data) of one sparse query as 1-D numeric arrays (lists converted); the
    values are checked by :func:`query_problem` (compiled, inside the caller's kernel)."""
    if type(indices) is not np.ndarray or indices.dtype.kind not in "iu":
        indices = _as_1d(indices, "indices", "iu", np.int64)
    if type(data) is not np.ndarray or data.dtype.kind != "f":
        data = _as_1d(data, "data", "fiu", np.float32)
    if indices.ndim != 1 or data.ndim != 1:
        raise ValueError(f"indices and data must be 1-D, got shapes {indices.shape} and "
                         f"{data.shape}")
    return indices, data


def raise_query_problem(code: int, i: int, indices, data, n_features: int) -> None:
    """The ValueError of a :func:`query_problem` code, naming the position and the fix."""
    raise ValueError(_QUERY_PROBLEMS[code](indices, data, i, n_features))


def check_query(indices, data, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, data) of one sparse query as 1-D numeric arrays: equal lengths, strictly
    increasing feature ids in [0, n_features), finite values. Lists are converted; the
    common case (two arrays) costs one small compiled pass."""
    indices, data = query_arrays(indices, data)
    code, i = query_problem(indices, data, n_features)
    if code:
        raise_query_problem(code, i, indices, data, n_features)
    return indices, data


_QUERY_PROBLEMS = {
    1: lambda ind, dat, i, d: (f"indices and data must have the same length, got "
                               f"{ind.size} indices and {dat.size} values"),
    2: lambda ind, dat, i, d: (f"indices[{i}] = {ind[i]} is not a feature id of this model "
                               f"(must be in [0, {d}); use the featurizer the model was "
                               f"trained with)"),
    3: lambda ind, dat, i, d: (f"indices must be strictly increasing (sorted, no duplicates), "
                               f"got {ind[i - 1]} then {ind[i]} at position {i}; "
                               f"sort them with np.argsort and sum duplicates"),
    4: lambda ind, dat, i, d: f"data[{i}] = {dat[i]} is not finite (NaN or inf)",
}


def _as_1d(values, name: str, kinds: str, dtype) -> np.ndarray:
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 1-D numeric array, got {type(values).__name__}"
                        ) from exc
    if arr.size == 0:
        return arr.astype(dtype).reshape(-1) if arr.ndim <= 1 else arr
    if arr.dtype.kind not in kinds:
        raise TypeError(f"{name} must hold {'integers' if kinds == 'iu' else 'numbers'}, "
                        f"got dtype {arr.dtype}")
    return arr.astype(dtype) if arr.ndim == 1 else arr
