"""Balanced spherical 2-means splits of label segments, one tree level per call: exactly
balanced by count (`split_level`, hierarchical k-means and the trie–tree hybrid) or by weight
(`weighted_split_level`, the must-link indexer's components weighted by their size). Both
share the centre helpers below; pure-Python references are in the tests."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(nogil=True, cache=True)
def _scatter(F_indptr, F_indices, F_data, rows, weights, center, marker, touched, n_touched):
    """center += Σ_r weights[r] F[r]; records newly touched features. Returns n_touched.
    (Unit weights: the plain sum, bit for bit, as x * 1.0 == x.)"""
    for r in rows:
        w = weights[r]
        for p in range(F_indptr[r], F_indptr[r + 1]):
            up = np.uint64(p)  # unsigned indices: see _scores
            f = F_indices[up]
            uf = np.uint64(f)
            if not marker[uf]:
                marker[uf] = True
                touched[n_touched] = f
                n_touched += 1
            center[uf] += w * F_data[up]
    return n_touched


@nb.njit(nogil=True, cache=True)
def _normalise(center, touched, n_touched):
    s = 0.0
    for j in range(n_touched):
        v = center[touched[j]]
        s += v * v
    if s > 0.0:
        inv = 1.0 / np.sqrt(s)
        for j in range(n_touched):
            center[touched[j]] *= inv


@nb.njit(nogil=True, cache=True)
def _scores(Z_indptr, Z_indices, Z_data, members, c1, c2, touched, n_touched, scores):
    """scores[i] = Z[members[i]] · (c1 − c2). Overwrites c1 with c1 − c2 on its touched
    entries first (the callers rebuild both centres after scoring): the loop then reads one
    dense array, not two — at the top of a 300k-label tree each is megabytes, and every
    access a cache miss. The subtraction is the same, so the scores are bit for bit."""
    for j in range(n_touched):
        f = touched[j]
        c1[f] -= c2[f]
    for i in range(members.size):
        r = members[i]
        s = 0.0
        for p in range(Z_indptr[r], Z_indptr[r + 1]):
            # unsigned: numba emits negative-index wrap-around code for every signed index
            up = np.uint64(p)
            s += Z_data[up] * c1[np.uint64(Z_indices[up])]
        scores[i] = s


@nb.njit(nogil=True, cache=True)
def _clear(c1, c2, touched, n_touched):
    """Zero the touched entries of both centres."""
    for j in range(n_touched):
        f = touched[j]
        c1[f] = 0.0
        c2[f] = 0.0


@nb.njit(nogil=True, cache=True)
def _split_one(Z_indptr, Z_indices, Z_data, ones, members, init_a, init_b, max_iter,
               c1, c2, marker, touched):
    """Exactly balanced spherical 2-means of ``members``; returns them reordered, left half
    (the first ``(n+1)//2``) first. Buffers c1/c2/marker are all-zero on entry and exit."""
    n = members.size
    n_left = (n + 1) // 2
    order = members.copy()
    prev_left = np.zeros(n, dtype=np.bool_)
    in_left = np.zeros(n, dtype=np.bool_)
    scores = np.empty(n, dtype=np.float64)
    # initial centres: two distinct members (already unit rows)
    n_t = _scatter(Z_indptr, Z_indices, Z_data, members[init_a:init_a + 1], ones, c1,
                        marker, touched, 0)
    n_t = _scatter(Z_indptr, Z_indices, Z_data, members[init_b:init_b + 1], ones, c2,
                        marker, touched, n_t)
    for it in range(max_iter):
        _scores(Z_indptr, Z_indices, Z_data, members, c1, c2, touched, n_t, scores)
        rank = np.argsort(-scores, kind="mergesort")
        in_left[:] = False
        for j in range(n_left):
            in_left[rank[j]] = True
        for j in range(n):
            order[j] = members[rank[j]]
        if it > 0 and (in_left == prev_left).all():
            break
        prev_left[:] = in_left
        if it == max_iter - 1:
            break
        # new centres = normalised sums of each half
        _clear(c1, c2, touched, n_t)
        n_t = _scatter(Z_indptr, Z_indices, Z_data, order[:n_left], ones, c1, marker, touched,
                            n_t)
        n_t = _scatter(Z_indptr, Z_indices, Z_data, order[n_left:], ones, c2, marker, touched,
                            n_t)
        _normalise(c1, touched, n_t)
        _normalise(c2, touched, n_t)
    _clear(c1, c2, touched, n_t)
    for j in range(n_t):
        marker[touched[j]] = False
    return order


@nb.njit(nogil=True, parallel=True, cache=True)
def split_level(Z_indptr, Z_indices, Z_data, n_features, perm, seg_bounds, init_pairs,
                max_iter, n_workers):
    """Split every segment ``perm[seg_bounds[s]:seg_bounds[s+1]]`` in two.

    Returns the new permutation (each segment's left half first) and the new bounds
    (2 × segments). Segments are dealt round-robin to ``n_workers`` workers, each owning its
    dense centre buffers, so results do not depend on the number of threads.
    """
    n_seg = seg_bounds.size - 1
    out = perm.copy()
    ones = np.ones(Z_indptr.size - 1)  # unit weights: _scatter sums plainly
    new_bounds = np.empty(2 * n_seg + 1, dtype=np.int64)
    new_bounds[0] = 0
    for s in range(n_seg):
        a, b = seg_bounds[s], seg_bounds[s + 1]
        new_bounds[2 * s + 1] = a + (b - a + 1) // 2
        new_bounds[2 * s + 2] = b
    for w in nb.prange(n_workers):
        c1 = np.zeros(n_features, dtype=np.float64)
        c2 = np.zeros(n_features, dtype=np.float64)
        marker = np.zeros(n_features, dtype=np.bool_)
        touched = np.empty(n_features, dtype=np.int64)
        for s in range(w, n_seg, n_workers):
            a, b = seg_bounds[s], seg_bounds[s + 1]
            if b - a < 2:
                continue
            out[a:b] = _split_one(Z_indptr, Z_indices, Z_data, ones, perm[a:b], init_pairs[s, 0],
                                  init_pairs[s, 1], max_iter, c1, c2, marker, touched)
    return out, new_bounds


# ------------------------------------------------------------ balanced by weight


@nb.njit(nogil=True, cache=True)
def _weighted_cut(order, weights):
    """First ``j`` in [1, n-1] with Σ weights[order[:j]] >= half the total."""
    n = order.size
    total = 0.0
    for j in range(n):
        total += weights[order[j]]
    acc = 0.0
    for j in range(n - 1):
        acc += weights[order[j]]
        if acc >= 0.5 * total:
            return j + 1
    return n - 1


@nb.njit(nogil=True, cache=True)
def _weighted_split_one(F_indptr, F_indices, F_data, weights, members, init_a, init_b,
                        max_iter, c1, c2, marker, touched):
    """Balanced-by-weight spherical 2-means of ``members`` (>= 2 rows of unit norm).

    Score x·(c₁ − c₂), sort descending, cut where the running weight reaches half the total
    (both sides non-empty); centres = normalised weighted sums. Returns (members reordered,
    left side first; the cut). Buffers c1/c2/marker are all-zero on entry and exit."""
    n = members.size
    order = members.copy()
    in_left = np.zeros(n, np.bool_)
    prev_left = np.zeros(n, np.bool_)
    scores = np.empty(n, np.float64)
    n_t = _scatter(F_indptr, F_indices, F_data, members[init_a:init_a + 1], weights,
                            c1, marker, touched, 0)
    n_t = _scatter(F_indptr, F_indices, F_data, members[init_b:init_b + 1], weights,
                            c2, marker, touched, n_t)
    _normalise(c1, touched, n_t)
    _normalise(c2, touched, n_t)
    cut = (n + 1) // 2
    for it in range(max_iter):
        _scores(F_indptr, F_indices, F_data, members, c1, c2, touched, n_t, scores)
        rank = np.argsort(-scores, kind="mergesort")
        for j in range(n):
            order[j] = members[rank[j]]
        cut = _weighted_cut(order, weights)
        in_left[:] = False
        for j in range(cut):
            in_left[rank[j]] = True
        if it > 0 and (in_left == prev_left).all():
            break
        prev_left[:] = in_left
        if it == max_iter - 1:
            break
        _clear(c1, c2, touched, n_t)
        n_t = _scatter(F_indptr, F_indices, F_data, order[:cut], weights, c1,
                                marker, touched, n_t)
        n_t = _scatter(F_indptr, F_indices, F_data, order[cut:], weights, c2,
                                marker, touched, n_t)
        _normalise(c1, touched, n_t)
        _normalise(c2, touched, n_t)
    _clear(c1, c2, touched, n_t)
    for j in range(n_t):
        marker[touched[j]] = False
    return order, cut


@nb.njit(nogil=True, parallel=True, cache=True)
def weighted_split_level(F_indptr, F_indices, F_data, n_features, weights, perm, seg_bounds,
                         init_pairs, max_iter, n_workers):
    """Split every segment ``perm[seg_bounds[s]:seg_bounds[s+1]]`` of >= 2 rows in two by
    `_weighted_split_one`; a segment of one row stays whole.

    Returns the new permutation and ``cuts`` (one per segment, absolute position of the
    second half's start; ``seg_bounds[s+1]`` for a segment that was not split). Segments are
    dealt round-robin to workers with their own buffers: results do not depend on threads."""
    n_seg = seg_bounds.size - 1
    out = perm.copy()
    cuts = seg_bounds[1:].copy()
    for w in nb.prange(n_workers):
        c1 = np.zeros(n_features, np.float64)
        c2 = np.zeros(n_features, np.float64)
        marker = np.zeros(n_features, np.bool_)
        touched = np.empty(n_features, np.int64)
        for s in range(w, n_seg, n_workers):
            a, b = seg_bounds[s], seg_bounds[s + 1]
            if b - a < 2:
                continue
            order, cut = _weighted_split_one(F_indptr, F_indices, F_data, weights, perm[a:b],
                                             init_pairs[s, 0], init_pairs[s, 1], max_iter,
                                             c1, c2, marker, touched)
            out[a:b] = order
            cuts[s] = a + cut
    return out, cuts
