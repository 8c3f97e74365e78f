"""Numba kernels over sorted strings: the trie walk of the string indexers, prefix-range top-k
(most-popular completion) and the size-weighted 2-means split of the must-link indexer.

Strings are given as unicode code points: ``cps`` (uint32, all strings concatenated) and
``offsets`` (int64, ``n + 1``), string ``i`` = ``cps[offsets[i]:offsets[i+1]]``. Code-point
order is Python's ``str`` order, so "sorted" means ``sorted(list_of_str)``.

Public kernels: `sorted_lcp` (the trie of a sorted string list, as longest common prefixes),
`argmax_tree` / `range_topk` (the k largest values of a range, ties to the lower index), and
`weighted_split_level` (one level of size-weighted balanced spherical 2-means). Each has a
pure-Python reference in the tests.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# ---------------------------------------------------------------- trie of sorted strings


@nb.njit(nogil=True, cache=True)
def sorted_lcp(cps, offsets):
    """``lcp[i]`` = length of the longest common prefix of strings ``i - 1`` and ``i``
    (``lcp[0] = 0``), and the first ``i`` with string ``i - 1 >= string i`` (-1 when the strings
    are strictly increasing, i.e. sorted and distinct).

    The trie of a strictly increasing list is its ``lcp`` array: label ``i`` opens a new trie
    node at depth ``t`` iff ``i == 0`` or ``lcp[i] < t``.
    """
    n = offsets.size - 1
    lcp = np.zeros(n, np.int64)
    bad = -1
    for i in range(1, n):
        a, a_end = offsets[i - 1], offsets[i]
        b, b_end = offsets[i], offsets[i + 1]
        la, lb = a_end - a, b_end - b
        m = min(la, lb)
        k = 0
        while k < m and cps[a + k] == cps[b + k]:
            k += 1
        lcp[i] = k
        if bad < 0:
            if k == m:
                if la >= lb:  # equal, or b a proper prefix of a
                    bad = i
            elif cps[a + k] > cps[b + k]:
                bad = i
    return lcp, bad


# ---------------------------------------------------------------- range top-k


@nb.njit(nogil=True, cache=True, inline="always")
def _better(values, a, b):
    """The better of indices a, b: larger value, ties to the lower index; -1 = none."""
    if a < 0:
        return b
    if b < 0:
        return a
    if values[a] > values[b] or (values[a] == values[b] and a < b):
        return a
    return b


@nb.njit(nogil=True, cache=True)
def argmax_tree(values):
    """Segment tree of arg-maxima over ``values`` (int64 or float): ``tree[size + i] = i``,
    ``tree[j] = better(tree[2j], tree[2j+1])``; padding leaves are -1. Size: 2 × next power
    of two."""
    n = values.size
    size = 1
    while size < max(n, 1):
        size *= 2
    tree = np.full(2 * size, -1, np.int64)
    for i in range(n):
        tree[size + i] = i
    for j in range(size - 1, 0, -1):
        tree[j] = _better(values, tree[2 * j], tree[2 * j + 1])
    return tree


@nb.njit(nogil=True, cache=True)
def _range_argmax(tree, values, lo, hi):
    """Arg-max of ``values[lo:hi]`` (ties to the lower index), -1 when empty."""
    size = tree.size // 2
    best = -1
    lo += size
    hi += size
    while lo < hi:
        if lo & 1:
            best = _better(values, best, tree[lo])
            lo += 1
        if hi & 1:
            hi -= 1
            best = _better(values, best, tree[hi])
        lo >>= 1
        hi >>= 1
    return best


@nb.njit(nogil=True, cache=True)
def range_topk(tree, values, lo, hi, k):
    """Indices of the ``k`` largest ``values[lo:hi]``, best first (ties to the lower index).

    Pops the best of a set of disjoint sub-ranges and splits the popped one around its
    arg-max: O(k² + k log n)."""
    k = min(k, max(hi - lo, 0))
    out = np.empty(k, np.int64)
    if k == 0:
        return out
    c_lo = np.empty(2 * k + 1, np.int64)
    c_hi = np.empty(2 * k + 1, np.int64)
    c_arg = np.empty(2 * k + 1, np.int64)
    c_lo[0], c_hi[0], c_arg[0] = lo, hi, _range_argmax(tree, values, lo, hi)
    m = 1
    for j in range(k):
        pick = -1
        for c in range(m):
            if c_arg[c] >= 0 and (pick < 0 or _better(values, c_arg[pick], c_arg[c])
                                  == c_arg[c]):
                pick = c
        a = c_arg[pick]
        out[j] = a
        p_lo, p_hi = c_lo[pick], c_hi[pick]
        c_lo[pick], c_hi[pick], c_arg[pick] = p_lo, a, _range_argmax(tree, values, p_lo, a)
        c_lo[m], c_hi[m], c_arg[m] = a + 1, p_hi, _range_argmax(tree, values, a + 1, p_hi)
        m += 1
    return out


# ---------------------------------------------------------------- must-link 2-means


@nb.njit(nogil=True, cache=True)
def _weighted_scatter(F_indptr, F_indices, F_data, rows, weights, center, marker, touched,
                      n_touched):
    """center += Σ_r weights[r] F[r]; records newly touched features. Returns n_touched."""
    for r in rows:
        w = weights[r]
        for p in range(F_indptr[r], F_indptr[r + 1]):
            f = F_indices[p]
            if not marker[f]:
                marker[f] = True
                touched[n_touched] = f
                n_touched += 1
            center[f] += w * F_data[p]
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
    n_t = _weighted_scatter(F_indptr, F_indices, F_data, members[init_a:init_a + 1], weights,
                            c1, marker, touched, 0)
    n_t = _weighted_scatter(F_indptr, F_indices, F_data, members[init_b:init_b + 1], weights,
                            c2, marker, touched, n_t)
    _normalise(c1, touched, n_t)
    _normalise(c2, touched, n_t)
    cut = (n + 1) // 2
    for it in range(max_iter):
        for i in range(n):
            r = members[i]
            s = 0.0
            for p in range(F_indptr[r], F_indptr[r + 1]):
                f = F_indices[p]
                s += F_data[p] * (c1[f] - c2[f])
            scores[i] = s
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
        for j in range(n_t):
            f = touched[j]
            c1[f] = 0.0
            c2[f] = 0.0
        n_t = _weighted_scatter(F_indptr, F_indices, F_data, order[:cut], weights, c1,
                                marker, touched, n_t)
        n_t = _weighted_scatter(F_indptr, F_indices, F_data, order[cut:], weights, c2,
                                marker, touched, n_t)
        _normalise(c1, touched, n_t)
        _normalise(c2, touched, n_t)
    for j in range(n_t):
        f = touched[j]
        c1[f] = 0.0
        c2[f] = 0.0
        marker[f] = False
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
