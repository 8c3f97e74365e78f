"""Building the chunked inference layout (see :mod:`xmr.kernels.beam`) straight from the
per-level CSC weights, one parent at a time.

Only the layout's own arrays and one int32 feature id per weight are allocated for the whole
model; sorting happens per parent, so the transient memory is that of the largest parent's
weights (the former numpy version sorted all of a level's weights at once with int64 keys,
several copies of the model at its peak).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(nogil=True, cache=True)
def count_entries(C_indptr, C_indices, W_indptr, W_indices, bias_row, ent_count):
    """ent_count[p] = weights (bias row excluded) of parent p's children."""
    for p in range(C_indptr.size - 1):
        s = 0
        for q in range(C_indptr[p], C_indptr[p + 1]):
            c = C_indices[q]
            a, b = W_indptr[c], W_indptr[c + 1]
            if b > a and W_indices[b - 1] == bias_row:
                b -= 1
            s += b - a
        ent_count[p] = s


@nb.njit(nogil=True, cache=True, parallel=True)
def chunk_level(C_indptr, C_indices, W_indptr, W_indices, W_data, bias_row, ent_ptr,
                ent_feat, ent_child, ent_val, rows_per_parent):
    """Parent p's weights into ``[ent_ptr[p], ent_ptr[p+1])``, sorted by (feature, child
    position in p's child list); rows_per_parent[p] = distinct features of p."""
    for p in nb.prange(C_indptr.size - 1):
        lo = ent_ptr[p]
        n = ent_ptr[p + 1] - lo
        m = C_indptr[p + 1] - C_indptr[p]
        keys = np.empty(n, dtype=np.int64)
        feat = np.empty(n, dtype=np.int32)
        child = np.empty(n, dtype=np.int32)
        val = np.empty(n, dtype=np.float32)
        k = 0
        for j in range(m):
            c = C_indices[C_indptr[p] + j]
            a, b = W_indptr[c], W_indptr[c + 1]
            if b > a and W_indices[b - 1] == bias_row:
                b -= 1
            for q in range(a, b):
                f = W_indices[q]
                keys[k] = np.int64(f) * m + j
                feat[k] = f
                child[k] = j
                val[k] = W_data[q]
                k += 1
        order = np.argsort(keys)
        rows = 0
        prev = -1
        for i in range(n):
            o = order[i]
            ent_feat[lo + i] = feat[o]
            ent_child[lo + i] = child[o]
            ent_val[lo + i] = val[o]
            if feat[o] != prev:
                rows += 1
                prev = feat[o]
        rows_per_parent[p] = rows


@nb.njit(nogil=True, cache=True, parallel=True)
def fill_rows(ent_ptr, chunk_ptr, ent_feat, row_feat, row_ptr):
    """Rows of every node: row_feat (distinct sorted features) and row_ptr → entries."""
    for g in nb.prange(ent_ptr.size - 1):
        r = chunk_ptr[g]
        prev = -1
        for i in range(ent_ptr[g], ent_ptr[g + 1]):
            if ent_feat[i] != prev:
                prev = ent_feat[i]
                row_feat[r] = prev
                row_ptr[r] = i
                r += 1
    row_ptr[row_ptr.size - 1] = ent_ptr[ent_ptr.size - 1]


@nb.njit(nogil=True, cache=True)
def count_columns(cols, counts):
    """counts[c] += occurrences of c in cols."""
    for c in cols:
        counts[c] += 1


@nb.njit(nogil=True, cache=True)
def scatter_columns(rows, cols, vals, fill, indices, data):
    """COO pieces into a CSC being filled: ``fill[c]`` is column c's next free slot."""
    for i in range(cols.size):
        c = cols[i]
        k = fill[c]
        indices[k] = rows[i]
        data[k] = vals[i]
        fill[c] = k + 1
