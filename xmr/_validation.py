"""Boundary checks shared by the public estimators: one place, precise messages."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp


def check_int(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_power_of_two(name: str, value) -> int:
    value = check_int(name, value, minimum=2)
    if value & (value - 1):
        raise ValueError(f"{name} must be a power of two >= 2, got {value}")
    return value


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
