"""Checks of the linear models' inputs and results (XR-Linear, the one-vs-rest baseline): rows
must be l2-normalised, and a pruning threshold must leave some weight.

Kept apart from :mod:`xmr._validation` (the generic type/range checks) because they encode what
these models need, not what a value must look like.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from xmr._validation import UNIT_NORM_TOL

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
