"""Building the chunked inference layout (see :mod:`xmr.kernels.beam`) straight from the
per-level CSC weights, one parent at a time.

Only the layout's own arrays are allocated for the whole model (the rows are counted first,
with one mark per feature, so no per-weight feature array is kept to derive them); sorting
happens per parent, so the transient memory is that of the largest parent's weights (the
former numpy version sorted all of a level's weights at once with int64 keys,
several copies of the model at its peak).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(nogil=True, cache=True)
def count_entries(C_indptr, C_indices, W_indptr, W_indices, bias_row, ent_count, row_count,
                  mark, stamp0):
    """ent_count[p] = weights (bias row excluded) of parent p's children; row_count[p] = their
    distinct features. ``mark`` (one int per feature, no value >= stamp0 yet) remembers which
    parent (stamp0 + p) last counted a feature."""
    for p in range(C_indptr.size - 1):
        s = 0
        r = 0
        stamp = stamp0 + p
        for q in range(C_indptr[p], C_indptr[p + 1]):
            c = C_indices[q]
            a, b = W_indptr[c], W_indptr[c + 1]
            if b > a and W_indices[b - 1] == bias_row:
                b -= 1
            s += b - a
            for i in range(a, b):
                f = W_indices[i]
                if mark[f] != stamp:
                    mark[f] = stamp
                    r += 1
        ent_count[p] = s
        row_count[p] = r


@nb.njit(nogil=True, cache=True, parallel=True)
def chunk_level(C_indptr, C_indices, W_indptr, W_indices, W_data, bias_row, ent_ptr,
                ent_base, chunk_ptr, ent_child, ent_val, row_feat, row_ptr):
    """Parent p's weights into ``[ent_ptr[p], ent_ptr[p+1])`` sorted by (feature, child
    position in p's child list), and its rows (distinct features, ascending) into
    ``[chunk_ptr[p], chunk_ptr[p+1])``: ``row_ptr[r]`` = global index (``ent_base`` + local)
    of the row's first entry. All pointers and slices are the level's own."""
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
        r = chunk_ptr[p]
        prev = -1
        for i in range(n):
            o = order[i]
            ent_child[lo + i] = child[o]
            ent_val[lo + i] = val[o]
            if feat[o] != prev:
                prev = feat[o]
                row_feat[r] = prev
                row_ptr[r] = ent_base + lo + i
                r += 1


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


@nb.njit(nogil=True, cache=True)
def level_columns(C_indptr, C_indices, chunk_ptr, row_feat, row_ptr, ent_child, ent_val,
                  base_par, n_cols, bias_row, bias_cols, bias_vals):
    """The inverse of `chunk_level` for one level: its weights as CSC arrays over ``n_cols``
    children, each column's features ascending and its bias weight (``bias_cols`` /
    ``bias_vals``, row ``bias_row``) last, as the trained matrices are. The level's parents
    are global nodes ``base_par + p``. Returns (indptr int64, indices int32, data float32)."""
    n_par = C_indptr.size - 1
    indptr = np.zeros(n_cols + 1, dtype=np.int64)
    for p in range(n_par):
        g = base_par + p
        for r in range(chunk_ptr[g], chunk_ptr[g + 1]):
            for e in range(row_ptr[r], row_ptr[r + 1]):
                indptr[C_indices[C_indptr[p] + ent_child[e]] + 1] += 1
    for i in range(bias_cols.size):
        indptr[bias_cols[i] + 1] += 1
    for c in range(n_cols):
        indptr[c + 1] += indptr[c]
    indices = np.empty(indptr[n_cols], dtype=np.int32)
    data = np.empty(indptr[n_cols], dtype=np.float32)
    fill = indptr[:-1].copy()
    for p in range(n_par):  # a parent's rows ascend by feature: so does each child's column
        g = base_par + p
        for r in range(chunk_ptr[g], chunk_ptr[g + 1]):
            f = row_feat[r]
            for e in range(row_ptr[r], row_ptr[r + 1]):
                c = C_indices[C_indptr[p] + ent_child[e]]
                k = fill[c]
                indices[k] = f
                data[k] = ent_val[e]
                fill[c] = k + 1
    for i in range(bias_cols.size):
        c = bias_cols[i]
        indices[fill[c]] = bias_row
        data[fill[c]] = bias_vals[i]
        fill[c] += 1
    return indptr, indices, data
