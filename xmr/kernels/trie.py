"""Numba kernel of the string indexers: the trie of a sorted string list.

Strings are given as unicode code points: ``cps`` (uint32, all strings concatenated) and
``offsets`` (int64, ``n + 1``), string ``i`` = ``cps[offsets[i]:offsets[i+1]]``. Code-point
order is Python's ``str`` order, so "sorted" means ``sorted(list_of_str)``.

Public kernel: `sorted_lcp` (the trie of a sorted string list, as longest common prefixes),
with a pure-Python reference in the tests.
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
