"""Beam search over the label tree (batch and single query).

Inference layout ("chunked by parent", like PECOS's chunked matrices), all levels in one
global node numbering (root = 0, then level 1, …, labels last):

- ``child_ptr[g]..child_ptr[g+1]`` → ``child_ids``: the children of node g (global ids);
- ``chunk_ptr[g]..chunk_ptr[g+1]`` → rows of g's weight chunk: ``row_feat`` (sorted feature
  ids used by any child of g) and ``row_ptr`` → (``ent_child``: child position within g's child
  list, ``ent_val``: weight);
- ``node_bias[g]``: the bias weight × bias value of node g.

A query's score for child c is s = Σ x_f w_{f,c} + bias_c; it is transformed and combined
with the parent's score (post-processor), and each level keeps the best ``beam_size`` nodes
(the last level keeps ``topk``). Ties go to the lower node id.

The hot loops index with unsigned integers (``np.uint64``), as the solver does: for a signed
index numba emits negative-index wrap-around code (a sign test and an add) on every access.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from xmr._validation import query_problem

# post-processors: (transform, combiner) as in PECOS's PostProcessor
POST_PROCESSORS = {
    "noop": 0,  # s, the parent's score is ignored
    "sigmoid": 1,  # 1/(1+e^-s), product
    "log-sigmoid": 2,  # log sigmoid, sum
    "l1-hinge": 11, "l2-hinge": 12, "l3-hinge": 13, "l4-hinge": 14,  # exp(-max(0,1-s)^p), product
    "log-l1-hinge": 21, "log-l2-hinge": 22, "log-l3-hinge": 23, "log-l4-hinge": 24,  # sum
}


@nb.njit(nogil=True, cache=True, inline="always")
def _hinge_pow(h, p):
    """h ** p for the small integer p of the lp-hinge post-processors (no pow() call)."""
    r = h
    for _ in range(p - 1):
        r *= h
    return r


@nb.njit(nogil=True, cache=True, inline="always")
def _transform_combine(s, parent, pp):
    if pp == 0:
        return s
    if pp == 1:
        return parent / (1.0 + np.exp(-s))
    if pp == 2:
        return parent - np.log1p(np.exp(-s))
    h = 1.0 - s
    if h <= 0.0:  # score >= 1: the hinge is inactive (exp(0) = 1)
        return parent
    if pp < 20:
        return parent * np.exp(-_hinge_pow(h, pp - 10))
    return parent - _hinge_pow(h, pp - 20)


@nb.njit(nogil=True, cache=True, inline="always")
def root_score(pp):
    return 1.0 if (pp == 1 or (10 < pp < 20)) else 0.0


@nb.njit(nogil=True, cache=True, inline="always")
def _better(score_a, node_a, score_b, node_b):
    return score_a > score_b or (score_a == score_b and node_a < node_b)


@nb.njit(nogil=True, cache=True)
def _select(cand_node, cand_score, n_cand, keep, out_node, out_score):
    """Best ``keep`` candidates by score (ties: lower node id), best first, by insertion into
    a sorted buffer: O(n_cand) compares plus O(keep) per insertion, cheaper than sorting all
    candidates when keep << n_cand (the beam case). Returns how many."""
    m = 0
    for i in range(n_cand):
        ui = np.uint64(i)
        s, g = cand_score[ui], cand_node[ui]
        if m == keep and not _better(s, g, out_score[np.uint64(m - 1)],
                                     out_node[np.uint64(m - 1)]):
            continue
        j = m if m < keep else keep - 1
        while j > 0 and _better(s, g, out_score[np.uint64(j - 1)], out_node[np.uint64(j - 1)]):
            out_score[np.uint64(j)] = out_score[np.uint64(j - 1)]
            out_node[np.uint64(j)] = out_node[np.uint64(j - 1)]
            j -= 1
        out_score[np.uint64(j)] = s
        out_node[np.uint64(j)] = g
        if m < keep:
            m += 1
    return m


@nb.njit(nogil=True, cache=True)
def beam_search_one(q_idx, q_val, n_levels, child_ptr, child_ids, chunk_ptr, row_feat,
                    row_ptr, ent_child, ent_val, node_bias, beam_size, topk, pp,
                    cur_node, cur_score, nxt_node, nxt_score, cand_node, cand_score, buf):
    """Beam search of one query (sorted feature ids ``q_idx`` with values ``q_val``) down
    ``n_levels`` levels. Scratch arrays are sized by :func:`_alloc_scratch`. Returns the number
    of kept nodes; they are in ``cur_node[:m]`` / ``cur_score[:m]`` (best first)."""
    n_cur = 1
    cur_node[0] = 0
    cur_score[0] = root_score(pp)
    nq = q_idx.size
    for t in range(n_levels):
        n_cand = 0
        for b in range(n_cur):
            g = cur_node[b]
            parent_score = cur_score[b]
            ug = np.uint64(g)
            c0 = child_ptr[ug]
            k = child_ptr[ug + np.uint64(1)] - c0
            for j in range(k):
                buf[np.uint64(j)] = node_bias[np.uint64(child_ids[np.uint64(c0 + j)])]
            lo = chunk_ptr[ug]
            hi = chunk_ptr[ug + np.uint64(1)]
            for qi in range(nq):
                if lo >= hi:
                    break
                f = q_idx[np.uint64(qi)]
                # binary search f in row_feat[lo:hi]; the window only shrinks (q_idx sorted)
                a, z = lo, hi
                while a < z:
                    mid = (a + z) >> 1
                    if row_feat[np.uint64(mid)] < f:
                        a = mid + 1
                    else:
                        z = mid
                lo = a
                ua = np.uint64(a)
                if a < hi and row_feat[ua] == f:
                    v = q_val[np.uint64(qi)]
                    for e in range(row_ptr[ua], row_ptr[ua + np.uint64(1)]):
                        ue = np.uint64(e)
                        buf[np.uint64(ent_child[ue])] += v * ent_val[ue]
                    lo = a + 1
            for j in range(k):
                cand_node[np.uint64(n_cand)] = child_ids[np.uint64(c0 + j)]
                cand_score[np.uint64(n_cand)] = _transform_combine(buf[np.uint64(j)],
                                                                   parent_score, pp)
                n_cand += 1
        keep = topk if t == n_levels - 1 else beam_size
        n_cur = _select(cand_node, cand_score, n_cand, keep, nxt_node, nxt_score)
        for j in range(n_cur):
            cur_node[j] = nxt_node[j]
            cur_score[j] = nxt_score[j]
    return n_cur


@nb.njit(nogil=True, cache=True)
def _alloc_scratch(beam_size, topk, max_children):
    """Scratch of `beam_search_one`: kept nodes (``max(beam_size, topk)``, current and next)
    and candidates. A level's candidates are the children of at most ``beam_size`` nodes
    (only the last level keeps ``topk``, and it is not expanded), so ``beam_size ×
    max_children`` of them: sizing them by topk too allocated 100 times that for QAC's
    topk = beam × leaf size (4 MB a query on a 27k-label trie)."""
    n = max(beam_size, topk, 1)
    cand = max(beam_size, 1) * max_children
    return (np.empty(n, np.int64), np.empty(n, np.float64), np.empty(n, np.int64),
            np.empty(n, np.float64), np.empty(cand, np.int64),
            np.empty(cand, np.float64), np.empty(max_children, np.float64))


@nb.njit(nogil=True, parallel=True, cache=True)
def beam_search_batch(X_indptr, X_indices, X_data, n_levels, child_ptr, child_ids, chunk_ptr,
                      row_feat, row_ptr, ent_child, ent_val, node_bias, beam_size, topk, pp,
                      max_children, n_chunks):
    """Beam search of every row of a CSR matrix, parallel over chunks of rows.

    Returns (nodes, scores, counts): (n, topk) global node ids / scores, best first, and how
    many are valid per row."""
    n = X_indptr.size - 1
    out_node = np.full((n, topk), -1, dtype=np.int64)
    out_score = np.zeros((n, topk), dtype=np.float32)
    counts = np.zeros(n, dtype=np.int64)
    step = (n + n_chunks - 1) // n_chunks
    for ch in nb.prange(n_chunks):
        cur_node, cur_score, nxt_node, nxt_score, cand_node, cand_score, buf = _alloc_scratch(
            beam_size, topk, max_children)
        for r in range(ch * step, min(n, (ch + 1) * step)):
            s, e = X_indptr[r], X_indptr[r + 1]
            m = beam_search_one(X_indices[s:e], X_data[s:e], n_levels, child_ptr, child_ids,
                                chunk_ptr, row_feat, row_ptr, ent_child, ent_val, node_bias,
                                beam_size, topk, pp, cur_node, cur_score, nxt_node, nxt_score,
                                cand_node, cand_score, buf)
            m = min(m, topk)
            counts[r] = m
            for j in range(m):
                out_node[r, j] = cur_node[j]
                out_score[r, j] = cur_score[j]
    return out_node, out_score, counts


@nb.njit(nogil=True, cache=True)
def predict_one(q_idx, q_val, n_levels, child_ptr, child_ids, chunk_ptr, row_feat, row_ptr,
                ent_child, ent_val, node_bias, beam_size, topk, pp, max_children, label_base):
    """Single-query path: returns (label ids, scores float32), best first."""
    cur_node, cur_score, nxt_node, nxt_score, cand_node, cand_score, buf = _alloc_scratch(
        beam_size, topk, max_children)
    m = beam_search_one(q_idx, q_val, n_levels, child_ptr, child_ids, chunk_ptr, row_feat,
                        row_ptr, ent_child, ent_val, node_bias, beam_size, topk, pp, cur_node,
                        cur_score, nxt_node, nxt_score, cand_node, cand_score, buf)
    m = min(m, topk)
    labels = np.empty(m, dtype=np.int64)
    scores = np.empty(m, dtype=np.float32)
    for j in range(m):
        labels[j] = cur_node[j] - label_base
        scores[j] = cur_score[j]
    return labels, scores


@nb.njit(nogil=True, cache=True)
def predict_one_checked(q_idx, q_val, n_features, n_levels, child_ptr, child_ids, chunk_ptr,
                        row_feat, row_ptr, ent_child, ent_val, node_bias, beam_size, topk, pp,
                        max_children, label_base):
    """:func:`predict_one` behind the query checks of ``xmr._validation.query_problem``, in
    one compiled call (one dispatch: the checks cost a pass over the query, nothing more).
    Returns (problem code, position, label ids, scores); code 0 = valid query."""
    code, pos = query_problem(q_idx, q_val, n_features)
    if code != 0:
        return code, pos, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    labels, scores = predict_one(q_idx, q_val, n_levels, child_ptr, child_ids, chunk_ptr,
                                 row_feat, row_ptr, ent_child, ent_val, node_bias, beam_size,
                                 topk, pp, max_children, label_base)
    return 0, -1, labels, scores
