"""Balanced spherical 2-means splits of label segments, one tree level per call: exactly
balanced by count (`split_level`, hierarchical k-means and the trie–tree hybrid) or by weight
(`weighted_split_level`, the must-link indexer's components weighted by their size). Both
share the centre helpers below; pure-Python references are in the tests."""

from __future__ import annotations

import numba as nb
import numpy as np

from xmr.kernels.prefetch import prefetch

# Rows ahead whose entries the scoring and centre loops prefetch, in segments of at least
# PREFETCH_MIN_ROWS members: below the top levels, a segment's rows lie scattered over Z
# (members in rank order), a chain of cache misses per row (members → indptr → entries).
PREFETCH_ROWS = 8
PREFETCH_MIN_ROWS = 4096


@nb.njit(nogil=True, cache=True)
def _scatter(F_indptr, F_indices, F_data, rows, weights, center, marker, touched, n_touched):
    """center += Σ_r weights[r] F[r]; records newly touched features. Returns n_touched.
    (Unit weights: the plain sum, bit for bit, as x * 1.0 == x.)"""
    n = rows.size
    big = n >= PREFETCH_MIN_ROWS
    for i in range(n):
        if big and i + 2 * PREFETCH_ROWS < n:
            prefetch(F_indptr, rows[i + 2 * PREFETCH_ROWS])
        if big and i + PREFETCH_ROWS < n:
            near = F_indptr[rows[i + PREFETCH_ROWS]]
            prefetch(F_indices, near)
            prefetch(F_data, near)
        r = rows[i]
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
def _inverse_norm(center, touched, n_touched):
    """1 / ‖center‖ over its touched entries (summed in ``touched`` order), 1 for a zero
    centre (left as is)."""
    s = 0.0
    for j in range(n_touched):
        v = center[touched[j]]
        s += v * v
    return 1.0 / np.sqrt(s) if s > 0.0 else 1.0


@nb.njit(nogil=True, cache=True)
def _normalise(center, touched, n_touched):
    inv = _inverse_norm(center, touched, n_touched)
    if inv != 1.0:
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
    n = members.size
    _row_scores(Z_indptr, Z_indices, Z_data, members, c1, scores, 0, n,
                n >= PREFETCH_MIN_ROWS)


@nb.njit(nogil=True, cache=True)
def _row_scores(Z_indptr, Z_indices, Z_data, members, c, scores, lo, hi, big):
    """scores[i] = Z[members[i]] · c for i in [lo, hi), prefetching the rows a few members
    ahead when ``big`` (the serial and the parallel split share it: bit for bit)."""
    for i in range(lo, hi):
        if big and i + 2 * PREFETCH_ROWS < hi:
            prefetch(Z_indptr, members[i + 2 * PREFETCH_ROWS])
        if big and i + PREFETCH_ROWS < hi:
            near = Z_indptr[members[i + PREFETCH_ROWS]]
            prefetch(Z_indices, near)
            prefetch(Z_data, near)
        r = members[i]
        s = 0.0
        for p in range(Z_indptr[r], Z_indptr[r + 1]):
            # unsigned: numba emits negative-index wrap-around code for every signed index
            up = np.uint64(p)
            s += Z_data[up] * c[np.uint64(Z_indices[up])]
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
        rank = _stable_argsort(-scores)
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


@nb.njit(nogil=True, cache=True)
def _mark(Z_indptr, Z_indices, rows, marker, touched, n_touched):
    """Record the features of ``rows`` not yet in ``touched``, in first-touch order (the
    order `_scatter` would give them). Returns n_touched."""
    for r in rows:
        for p in range(Z_indptr[r], Z_indptr[r + 1]):
            up = np.uint64(p)
            f = Z_indices[up]
            if not marker[np.uint64(f)]:
                marker[np.uint64(f)] = True
                touched[np.uint64(n_touched)] = f
                n_touched += 1
    return n_touched


# On a level of fewer segments than workers, a segment of at least this many members is
# split by all the workers: a round costs about five parallel regions, worth it only when
# the segment is large.
PARALLEL_SPLIT_MIN = 2048
# Segments of at least this many members are sorted by radix sort (3-4x faster than the
# merge sort from 5,000 members up; slower on a few hundred).
RADIX_MIN = 2048
_RADIX_BITS = 11  # digit width: 6 passes over 64-bit keys, 2,048 buckets


@nb.njit(nogil=True, cache=True)
def _radix_argsort(keys):
    """``np.argsort(keys, kind="mergesort")`` of float64 ``keys`` by LSD radix sort.

    A stable sort's result is unique, so this is the merge sort's result exactly: the keys
    are mapped to unsigned integers of the same order (-0.0 equal to 0.0, every NaN last and
    equal, as numpy sorts them), then sorted stably digit by digit; a digit that all keys
    share is skipped (the sign and exponent bits, mostly)."""
    n = keys.size
    top = np.uint64(1) << np.uint64(63)
    bits = keys.view(np.uint64)
    ukey = np.empty(n, dtype=np.uint64)
    for i in range(n):
        v = keys[i]
        if v != v:
            ukey[i] = np.uint64(0xFFFFFFFFFFFFFFFF)
        elif v == 0.0:
            ukey[i] = top
        else:
            b = bits[i]
            ukey[i] = ~b if (b & top) != np.uint64(0) else (b | top)
    idx = np.arange(n)
    tmp_key = np.empty(n, dtype=np.uint64)
    tmp_idx = np.empty(n, dtype=np.int64)
    n_buckets = 1 << _RADIX_BITS
    mask = np.uint64(n_buckets - 1)
    count = np.empty(n_buckets + 1, dtype=np.int64)
    shift = 0
    while shift < 64:
        sh = np.uint64(shift)
        count[:] = 0
        for i in range(n):
            count[np.uint64((ukey[i] >> sh) & mask) + np.uint64(1)] += 1
        shared = False
        for d in range(n_buckets + 1):
            if count[d] == n:
                shared = True
        if not shared:
            for d in range(n_buckets):
                count[d + 1] += count[d]
            for i in range(n):
                d = (ukey[i] >> sh) & mask
                pos = count[d]
                count[d] = pos + 1
                tmp_key[pos] = ukey[i]
                tmp_idx[pos] = idx[i]
            ukey, tmp_key = tmp_key, ukey
            idx, tmp_idx = tmp_idx, idx
        shift += _RADIX_BITS
    return idx


@nb.njit(nogil=True, cache=True)
def _stable_argsort(keys):
    """``np.argsort(keys, kind="mergesort")``, by radix sort from `RADIX_MIN` keys."""
    if keys.size >= RADIX_MIN:
        return _radix_argsort(keys)
    return np.argsort(keys, kind="mergesort")


@nb.njit(nogil=True, cache=True, inline="always")
def _before(a, b):
    """``a`` sorts before ``b`` (ascending, NaN last: numpy's order)."""
    return a < b or (a == a and b != b)


@nb.njit(nogil=True, parallel=True, cache=True)
def _argsort_parallel(keys, n_workers):
    """``np.argsort(keys, kind="mergesort")`` by ``n_workers`` threads: each sorts a run,
    then runs are merged pairwise. A stable sort's result is unique (ties keep their index
    order), so this is the serial result exactly."""
    n = keys.size
    src = np.empty(n, dtype=np.int64)
    bounds = np.empty(n_workers + 1, dtype=np.int64)
    for w in range(n_workers + 1):
        bounds[w] = w * n // n_workers
    for w in nb.prange(n_workers):
        lo, hi = bounds[w], bounds[w + 1]
        src[lo:hi] = _stable_argsort(keys[lo:hi]) + lo
    dst = np.empty(n, dtype=np.int64)
    width = 1
    while width < n_workers:
        n_pairs = (n_workers + 2 * width - 1) // (2 * width)
        for q in nb.prange(n_pairs):
            a = bounds[min(2 * q * width, n_workers)]
            m = bounds[min((2 * q + 1) * width, n_workers)]
            z = bounds[min((2 * q + 2) * width, n_workers)]
            i, j, k = a, m, a
            while i < m and j < z:
                if _before(keys[src[j]], keys[src[i]]):  # ties: the left run first
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < m:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < z:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        width *= 2
    return src


@nb.njit(nogil=True, parallel=True, cache=True)
def _split_one_parallel(Z_indptr, Z_indices, Z_data, ones, members, init_a, init_b, max_iter,
                        c1, c2, marker, touched, n_workers, sorted_rows):
    """`_split_one` with each round spread over ``n_workers`` threads, bit for bit the same
    result: for a level with fewer segments than threads (the root is one segment).

    Every float is computed as in `_split_one`, in the same order:
    - a member's score is one thread's dot product, as before;
    - the centre sums are split by *feature range*, not by rows: each worker scans the
      rows in rank order and adds only the entries of its own features, so every feature
      still sums its rows in the serial order (each worker reads every row's indices; the
      adds, and the centre's cache lines, are divided; with ``sorted_rows`` a worker stops
      reading a row past its range);
    - the norms are summed serially over the touched features, in first-touch order (kept
      by `_mark`, the order `_scatter` records); only the scaling is spread.
    """
    n = members.size
    big = n >= PREFETCH_MIN_ROWS
    n_left = (n + 1) // 2
    order = members.copy()
    prev_left = np.zeros(n, dtype=np.bool_)
    in_left = np.zeros(n, dtype=np.bool_)
    scores = np.empty(n, dtype=np.float64)
    n_features = c1.size
    n_t = _scatter(Z_indptr, Z_indices, Z_data, members[init_a:init_a + 1], ones, c1,
                   marker, touched, 0)
    n_t = _scatter(Z_indptr, Z_indices, Z_data, members[init_b:init_b + 1], ones, c2,
                   marker, touched, n_t)
    for it in range(max_iter):
        # scores = Z[members] · (c1 − c2), c1 overwritten by c1 − c2 as in _scores
        for w in nb.prange(n_workers):
            for j in range(w * n_t // n_workers, (w + 1) * n_t // n_workers):
                f = np.uint64(touched[j])
                c1[f] -= c2[f]
        for w in nb.prange(n_workers):
            _row_scores(Z_indptr, Z_indices, Z_data, members, c1, scores,
                        w * n // n_workers, (w + 1) * n // n_workers, big)
        rank = _argsort_parallel(-scores, n_workers)
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
        for w in nb.prange(n_workers):  # _clear
            for j in range(w * n_t // n_workers, (w + 1) * n_t // n_workers):
                f = np.uint64(touched[j])
                c1[f] = 0.0
                c2[f] = 0.0
        if it == 0:  # the members' features enter `touched` here, as in _split_one
            n_t = _mark(Z_indptr, Z_indices, order[:n_left], marker, touched, n_t)
            n_t = _mark(Z_indptr, Z_indices, order[n_left:], marker, touched, n_t)
        for w in nb.prange(n_workers):  # centre sums, each worker its feature range
            lo = w * n_features // n_workers
            hi = (w + 1) * n_features // n_workers
            for j in range(n):
                if big and j + 2 * PREFETCH_ROWS < n:
                    prefetch(Z_indptr, order[j + 2 * PREFETCH_ROWS])
                if big and j + PREFETCH_ROWS < n:
                    near = Z_indptr[order[j + PREFETCH_ROWS]]
                    prefetch(Z_indices, near)
                    prefetch(Z_data, near)
                r = order[j]
                center = c1 if j < n_left else c2
                for p in range(Z_indptr[r], Z_indptr[r + 1]):
                    up = np.uint64(p)
                    f = Z_indices[up]
                    if f >= hi:
                        if sorted_rows:  # the rest of the row is another worker's
                            break
                    elif f >= lo:
                        center[np.uint64(f)] += ones[r] * Z_data[up]
        # _normalise both: the sums serial (their order is the result), the scaling spread
        inv1 = _inverse_norm(c1, touched, n_t)
        inv2 = _inverse_norm(c2, touched, n_t)
        for w in nb.prange(n_workers):
            for j in range(w * n_t // n_workers, (w + 1) * n_t // n_workers):
                f = np.uint64(touched[j])
                c1[f] *= inv1
                c2[f] *= inv2
    _clear(c1, c2, touched, n_t)
    for j in range(n_t):
        marker[touched[j]] = False
    return order


@nb.njit(nogil=True, parallel=True, cache=True)
def split_level(Z_indptr, Z_indices, Z_data, n_features, perm, seg_bounds, init_pairs,
                max_iter, n_workers, inner_min=PARALLEL_SPLIT_MIN):
    """Split every segment ``perm[seg_bounds[s]:seg_bounds[s+1]]`` in two.

    Returns the new permutation (each segment's left half first) and the new bounds
    (2 × segments). Segments are dealt round-robin to the workers, each owning its dense
    centre buffers; but on a level with fewer segments than workers (the top levels: the
    root is one segment), a segment of at least ``inner_min`` members is split by all the
    workers (`_split_one_parallel`), one such segment after the other. Every segment's
    split is the serial one bit for bit, so results do not depend on the number of threads.
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
    inner = np.zeros(n_seg, dtype=np.bool_)
    n_inner = 0
    if n_seg < n_workers:
        for s in range(n_seg):
            if seg_bounds[s + 1] - seg_bounds[s] >= max(inner_min, 2):
                inner[s] = True
                n_inner += 1
    n_deal = min(n_workers, n_seg)
    if n_inner < n_seg:
        for w in nb.prange(n_deal):
            c1 = np.zeros(n_features, dtype=np.float64)
            c2 = np.zeros(n_features, dtype=np.float64)
            marker = np.zeros(n_features, dtype=np.bool_)
            touched = np.empty(n_features, dtype=np.int64)
            for s in range(w, n_seg, n_deal):
                a, b = seg_bounds[s], seg_bounds[s + 1]
                if b - a < 2 or inner[s]:
                    continue
                out[a:b] = _split_one(Z_indptr, Z_indices, Z_data, ones, perm[a:b],
                                      init_pairs[s, 0], init_pairs[s, 1], max_iter, c1, c2,
                                      marker, touched)
    if n_inner > 0:
        sorted_rows = True
        for r in range(Z_indptr.size - 1):
            for p in range(Z_indptr[r] + 1, Z_indptr[r + 1]):
                if Z_indices[p] < Z_indices[p - 1]:
                    sorted_rows = False
        c1 = np.zeros(n_features, dtype=np.float64)
        c2 = np.zeros(n_features, dtype=np.float64)
        marker = np.zeros(n_features, dtype=np.bool_)
        touched = np.empty(n_features, dtype=np.int64)
        for s in range(n_seg):
            if inner[s]:
                a, b = seg_bounds[s], seg_bounds[s + 1]
                out[a:b] = _split_one_parallel(Z_indptr, Z_indices, Z_data, ones, perm[a:b],
                                               init_pairs[s, 0], init_pairs[s, 1], max_iter,
                                               c1, c2, marker, touched, n_workers,
                                               sorted_rows)
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
        rank = _stable_argsort(-scores)
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
