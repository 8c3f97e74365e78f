"""Numba kernels of the k largest values of an index range (most-popular completion: the
most frequent labels of a prefix's range of sorted labels).

Public kernels: `argmax_tree` (a segment tree of arg-maxima) and `range_topk` (the k largest
values of ``values[lo:hi]``, ties to the lower index), with pure-Python references in the
tests.
"""

from __future__ import annotations

import numba as nb
import numpy as np


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
