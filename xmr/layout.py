"""Trained weights + tree → the flat inference layout the beam-search kernels read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from xmr.kernels.layout import chunk_level, count_entries


@dataclass(frozen=True)
class InferenceLayout:
    """All levels in one global node numbering (see :mod:`xmr.kernels.beam`)."""

    n_levels: int
    level_base: np.ndarray  # (depth+2,) first global id of each level; level_base[-1] = #nodes
    child_ptr: np.ndarray  # (n_nodes+1,) int64
    child_ids: np.ndarray  # (n_nodes-1,) int64, global ids
    chunk_ptr: np.ndarray  # (n_nodes+1,) int64 → rows
    row_feat: np.ndarray  # (n_rows,) int32, sorted within each chunk
    row_ptr: np.ndarray  # (n_rows+1,) int64 → entries
    ent_child: np.ndarray  # (nnz,) int32, position in the parent's child list
    ent_val: np.ndarray  # (nnz,) float32
    node_bias: np.ndarray  # (n_nodes,) float32, bias weight × bias value
    max_children: int

    @property
    def label_base(self) -> int:
        return int(self.level_base[self.n_levels])

    def kernel_args(self) -> tuple:
        return (self.n_levels, self.child_ptr, self.child_ids, self.chunk_ptr, self.row_feat,
                self.row_ptr, self.ent_child, self.ent_val, self.node_bias)


def bias_entries(W: sp.csc_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(columns int64, values float32) of W's bias weights: row D = ``W.shape[0] - 1``, the
    last entry of a column (sorted indices) when present."""
    if not W.has_sorted_indices:
        W = W.sorted_indices()
    D = W.shape[0] - 1
    ends = W.indptr[1:]
    has = ends > W.indptr[:-1]
    has[has] = W.indices[ends[has] - 1] == D
    cols = np.flatnonzero(has)
    return cols.astype(np.int64), W.data[ends[cols] - 1].astype(np.float32)


def build_layout(chain: tuple[sp.csc_matrix, ...], weights: list[sp.csc_matrix],
                 bias: float, *, release: bool = False) -> InferenceLayout:
    """``weights[t]``: CSC (D+1) × n_{t+1} for the first ``len(weights)`` levels (the last row
    is the bias weight). A prefix of the levels is allowed (used by matcher-aware negatives).

    Built parent by parent by numba kernels (:mod:`xmr.kernels.layout`): besides the layout
    itself only one int64 mark per feature is allocated for the whole model. ``release``:
    ``weights[t]`` is set to None once level t is in the layout, so a caller that hands over
    its list holds each level's matrix and its layout together only while it is copied.
    """
    n_levels = len(weights)
    sizes = [1] + [C.shape[0] for C in chain[:n_levels]]
    level_base = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n_nodes = int(level_base[-1])
    n_children = np.zeros(n_nodes, dtype=np.int64)
    child_ids, node_bias = [], np.zeros(n_nodes, dtype=np.float32)
    ent_count = np.zeros(n_nodes, dtype=np.int64)
    row_count = np.zeros(n_nodes, dtype=np.int64)
    mark = None
    levels = []
    max_children = 1
    for t in range(n_levels):
        C = sp.csc_matrix(chain[t])
        C.sort_indices()
        W = sp.csc_matrix(weights[t])
        if not W.has_sorted_indices:
            W = W.sorted_indices()
        D = W.shape[0] - 1
        if mark is None:
            mark = np.full(D, -1, dtype=np.int64)
        n_par, base_par, base_ch = C.shape[1], level_base[t], level_base[t + 1]
        counts = np.diff(C.indptr)
        max_children = max(max_children, int(counts.max()))
        n_children[base_par:base_par + n_par] = counts
        child_ids.append(C.indices.astype(np.int64) + base_ch)
        cols, vals = bias_entries(W)
        node_bias[base_ch + cols] = vals * bias
        C_indptr, C_indices = C.indptr.astype(np.int64), C.indices.astype(np.int64)
        count_entries(C_indptr, C_indices, W.indptr, W.indices, D,
                      ent_count[base_par:base_par + n_par],
                      row_count[base_par:base_par + n_par], mark, base_par)
        levels.append((C_indptr, C_indices, W, D, base_par, n_par))
    del mark

    ent_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(ent_count, out=ent_ptr[1:])
    chunk_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(row_count, out=chunk_ptr[1:])
    n_ent, n_rows = int(ent_ptr[-1]), int(chunk_ptr[-1])
    ent_child = np.empty(n_ent, dtype=np.int32)
    ent_val = np.empty(n_ent, dtype=np.float32)
    row_feat = np.empty(n_rows, dtype=np.int32)
    row_ptr = np.empty(n_rows + 1, dtype=np.int64)
    row_ptr[n_rows] = n_ent
    W = None  # the loop's last matrix: held by levels[-1] only
    for t in range(n_levels):
        C_indptr, C_indices, W, D, base_par, n_par = levels[t]
        lo, hi = ent_ptr[base_par], ent_ptr[base_par + n_par]
        r_lo, r_hi = chunk_ptr[base_par], chunk_ptr[base_par + n_par]
        chunk_level(C_indptr, C_indices, W.indptr, W.indices, W.data, D,
                    ent_ptr[base_par:base_par + n_par + 1] - lo, lo,
                    chunk_ptr[base_par:base_par + n_par + 1] - r_lo,
                    ent_child[lo:hi], ent_val[lo:hi], row_feat[r_lo:r_hi], row_ptr[r_lo:r_hi])
        if release:
            levels[t] = W = None
            weights[t] = None

    return InferenceLayout(
        n_levels=n_levels,
        level_base=level_base,
        child_ptr=np.concatenate([[0], np.cumsum(n_children)]).astype(np.int64),
        child_ids=(np.concatenate(child_ids) if child_ids else np.zeros(0, np.int64)),
        chunk_ptr=chunk_ptr,
        row_feat=row_feat,
        row_ptr=row_ptr,
        ent_child=ent_child,
        ent_val=ent_val,
        node_bias=node_bias,
        max_children=max_children,
    )
