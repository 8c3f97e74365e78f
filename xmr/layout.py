"""Trained weights + tree → the flat inference layout the beam-search kernels read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


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


def build_layout(chain: tuple[sp.csc_matrix, ...], weights: list[sp.csc_matrix],
                 bias: float) -> InferenceLayout:
    """``weights[t]``: CSC (D+1) × n_{t+1} for the first ``len(weights)`` levels (the last row
    is the bias weight). A prefix of the levels is allowed (used by matcher-aware negatives)."""
    n_levels = len(weights)
    sizes = [1] + [C.shape[0] for C in chain[:n_levels]]
    level_base = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n_nodes = int(level_base[-1])
    n_children = np.zeros(n_nodes, dtype=np.int64)
    child_ids, node_bias = [], np.zeros(n_nodes, dtype=np.float32)
    rows_per_node = np.zeros(n_nodes, dtype=np.int64)
    row_feat, row_len, ent_child, ent_val = [], [], [], []
    max_children = 1
    for t in range(n_levels):
        C = sp.csc_matrix(chain[t])
        C.sort_indices()
        n_par, base_par, base_ch = C.shape[1], level_base[t], level_base[t + 1]
        counts = np.diff(C.indptr)
        max_children = max(max_children, int(counts.max()))
        n_children[base_par:base_par + n_par] = counts
        child_ids.append(C.indices.astype(np.int64) + base_ch)
        parent_of = np.empty(C.shape[0], dtype=np.int64)
        local_pos = np.empty(C.shape[0], dtype=np.int64)
        parent_of[C.indices] = np.repeat(np.arange(n_par), counts)
        local_pos[C.indices] = np.arange(C.indices.size) - np.repeat(C.indptr[:-1], counts)

        W = sp.csc_matrix(weights[t])
        D = W.shape[0] - 1
        Wc = W.tocoo()
        is_bias = Wc.row == D
        node_bias[base_ch + Wc.col[is_bias]] = Wc.data[is_bias] * bias
        f, c, v = Wc.row[~is_bias], Wc.col[~is_bias], Wc.data[~is_bias]
        par = parent_of[c]
        order = np.lexsort((local_pos[c], f, par))
        f, c, v, par = f[order], c[order], v[order], par[order]
        new_row = np.ones(f.size, dtype=bool)
        new_row[1:] = (f[1:] != f[:-1]) | (par[1:] != par[:-1])
        starts = np.flatnonzero(new_row)
        row_feat.append(f[starts].astype(np.int32))
        row_len.append(np.diff(np.append(starts, f.size)))
        rows_per_node[base_par:base_par + n_par] = np.bincount(par[starts], minlength=n_par)
        ent_child.append(local_pos[c].astype(np.int32))
        ent_val.append(v.astype(np.float32))

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    return InferenceLayout(
        n_levels=n_levels,
        level_base=level_base,
        child_ptr=np.concatenate([[0], np.cumsum(n_children)]).astype(np.int64),
        child_ids=cat(child_ids, np.int64),
        chunk_ptr=np.concatenate([[0], np.cumsum(rows_per_node)]).astype(np.int64),
        row_feat=cat(row_feat, np.int32),
        row_ptr=np.concatenate([[0], np.cumsum(cat(row_len, np.int64))]).astype(np.int64),
        ent_child=cat(ent_child, np.int32),
        ent_val=cat(ent_val, np.float32),
        node_bias=node_bias,
        max_children=max_children,
    )
