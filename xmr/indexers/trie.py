"""Trie indexer over label strings (Paper 2, Yadav et al. KDD 2021), plus the helpers the
string indexers (trie, trie–tree hybrid, must-link) share.

The string-indexer protocol
---------------------------
The string indexers need the label strings, and the two that cluster also need an
embedding, so they all take::

    build(Z: scipy.sparse matrix (n_labels, D) | None, *, labels: Sequence[str]) -> LabelTree

``labels[i]`` is the text of label ``i`` (row ``i`` of ``Z`` and of the tree's last cluster
matrix); the strings must be distinct, any order (they are sorted internally, in Python's
``str`` order = code-point order). The trie ignores ``Z`` (pass ``None``); hybrid and must-link
require it (e.g. ``QACVectorizer.label_embedding(labels)``, rows l2-normalised).
:class:`~xmr.indexers.HierarchicalKMeans` takes the same call and ignores ``labels``, so every
indexer of :data:`xmr.indexers.INDEXERS` is built as ``INDEXERS[name](**params, seed=...,
n_jobs=...).build(Z, labels=labels)`` (``params``: its ``Params`` dataclass).

The trie
--------
Level ``t`` (``1 <= t <= depth``) holds the trie nodes at character depth ``t``, in the sorted
order of their prefixes; the last cluster matrix maps every label to its level-``depth`` node.

- A node at depth ``depth`` is a leaf cluster: all labels below it (its subtree) collapse into
  it.
- A label that ends at an inner node (a node with children, e.g. "ab" when "abc" is a label)
  gets its own child there (an end-of-string node, ordered first, as "ab" sorts before "abc"),
  so it reaches a leaf of its own.
- A path that ends above depth ``depth`` (a label shorter than ``depth`` that is no prefix of
  another label, or an end-of-string node) is padded with single-child levels, so all leaves are
  at level ``depth``.

So each node is a contiguous run of the sorted labels, and the whole tree follows from the
longest common prefixes of sorted neighbours: label ``i`` (sorted) opens a new node at depth
``t`` iff ``i == 0`` or ``lcp(i-1, i) < t`` (`xmr.kernels.trie.sorted_lcp`). Building is one
compiled pass over the code points plus ``depth`` vectorised passes over the labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from xmr._estimator import ParamsMixin
from xmr._validation import check_features, check_int, check_texts
from xmr.indexers.hkmeans import check_kmeans_params
from xmr.kernels.trie import sorted_lcp
from xmr.params import TrieParams, store_params
from xmr.tree import LabelTree


def check_label_strings(labels, name: str = "labels") -> list[str]:
    """A non-empty list/tuple/1-D array of str -> list of str; anything else raises."""
    labels = check_texts(labels, name, item="label")
    if not labels:
        raise ValueError(f"{name} is empty: cannot index an empty label set")
    return labels


def encode_strings(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(code points uint32, offsets int64 of length n + 1)`` of ``strings``."""
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    offsets = np.zeros(len(strings) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    cps = np.frombuffer("".join(strings).encode("utf-32-le", "surrogatepass"), np.uint32)
    return cps, offsets


def sorted_order(labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(perm, lcp, lengths)``: ``perm[p]`` = id of the ``p``-th label in sorted order,
    ``lcp[p]`` its longest common prefix with the previous sorted label (``lcp[0] = 0``),
    ``lengths[p]`` its length. Duplicated labels raise ValueError."""
    cps, offsets = encode_strings(labels)
    lcp, bad = sorted_lcp(cps, offsets)
    perm = np.arange(len(labels), dtype=np.int64)
    if bad >= 0:  # not strictly increasing: sort (Python's str order = code-point order)
        perm = np.array(sorted(range(len(labels)), key=labels.__getitem__), dtype=np.int64)
        cps, offsets = encode_strings([labels[i] for i in perm])
        lcp, bad = sorted_lcp(cps, offsets)
        if bad >= 0:
            raise ValueError(f"labels must be distinct, but {labels[perm[bad]]!r:.80} occurs "
                             f"more than once (labels {perm[bad - 1]} and {perm[bad]})")
    return perm, lcp, np.diff(offsets)


def check_embedding(Z, n_labels: int, name: str = "Z") -> sp.csr_matrix:
    """Label embedding (n_labels, D), CSR float32 with sorted indices."""
    if Z is None:
        raise TypeError(f"{name} is required: pass the label embedding (n_labels x D), e.g. "
                        "QACVectorizer.label_embedding(labels)")
    Z = check_features(Z, name)
    if Z.shape[0] != n_labels:
        raise ValueError(f"{name} has {Z.shape[0]} rows but there are {n_labels} labels")
    Z.sort_indices()
    return Z


def tree_from_flags(perm: np.ndarray, levels: Sequence[np.ndarray]) -> LabelTree:
    """The label tree whose level ``l`` (1-based) partitions the positions ``0..L-1`` into runs
    starting where ``levels[l-1]`` is True; the labels sit in the order ``perm`` (``perm[p]``
    = label id at position ``p``) and belong to the run of the last level containing them.

    Each level must refine the one above (a run never crosses a run boundary above) and start
    at position 0."""
    L = perm.size
    mats = []
    ids_up = np.zeros(L, np.int64)  # node of each position at the level above (root = 0)
    n_up = 1
    for flags in levels:
        assert flags.size == L and flags[0], "every level starts a run at position 0"
        starts = np.flatnonzero(flags)
        parent = ids_up[starts]  # non-decreasing, by nesting
        n = starts.size
        indptr = np.zeros(n_up + 1, np.int64)
        np.cumsum(np.bincount(parent, minlength=n_up), out=indptr[1:])
        mats.append(sp.csc_matrix((np.ones(n, np.float32), np.arange(n, dtype=np.int32),
                                   indptr), shape=(n, n_up)))
        ids_up = np.cumsum(flags) - 1
        n_up = n
    mats.append(sp.csc_matrix((np.ones(L, np.float32), (perm, ids_up)), shape=(L, n_up),
                              dtype=np.float32))
    mats[-1].sort_indices()
    return LabelTree(tuple(mats))


def binary_levels_kept(n_binary: int, nr_splits: int) -> list[int]:
    """The binary levels (1-based, ascending) kept when every ``nr_splits = 2^b`` siblings of a
    binary tree of depth ``n_binary`` are grouped into one node up to the root: ``n_binary``,
    ``n_binary - b``, ... > 0 (as `LabelTree.from_leaf_codes` groups leaf clusters)."""
    b = int(nr_splits).bit_length() - 1
    return list(range(n_binary, 0, -b))[::-1]


class TrieIndexer(ParamsMixin):
    """Trie over the label strings down to character depth ``depth`` (see the module doc).

    The tree has ``depth + 1`` cluster matrices; level ``t`` has one node per distinct
    ``t``-prefix (plus end-of-string and padding nodes). ``Z`` is not used.
    """

    Params = TrieParams
    reads_embedding = False  # builds from the label strings alone (Z is ignored)

    def __init__(self, *, depth: int = TrieParams.depth, seed: int = 0, n_jobs: int = -1):
        store_params(self, locals())  # seed, n_jobs: unused (one signature for every indexer)

    def validate(self) -> None:
        check_int("depth", self.depth, minimum=1)

    def build(self, Z: sp.csr_matrix | None = None, *, labels: Sequence[str] | None = None
              ) -> LabelTree:
        """``labels``: the (distinct) label strings, label ``i`` = ``labels[i]``; ``Z`` is
        ignored apart from a row-count check. Returns the label tree."""
        self.validate()
        labels = check_label_strings(labels)
        if Z is not None and Z.shape[0] != len(labels):
            raise ValueError(f"Z has {Z.shape[0]} rows but there are {len(labels)} labels")
        perm, lcp, _ = sorted_order(labels)
        return tree_from_flags(perm, [lcp < t for t in range(1, self.depth + 1)])


class ClusteringStringIndexer(ParamsMixin):
    """What the string indexers that also cluster ``Z`` (trie–tree hybrid, must-link) share:
    the 2-means parameters (:class:`~xmr.params.KMeansParams`, ``seed``, ``n_jobs``) and the
    checks of ``build``'s inputs. Subclasses check their own parameter in ``_validate_own``."""

    reads_embedding = True  # builds from the label strings and the label embedding Z

    def _validate_own(self) -> None:
        pass

    def validate(self) -> None:
        self._validate_own()
        check_kmeans_params(self)

    def _inputs(self, Z, labels) -> tuple[sp.csr_matrix, list[str]]:
        """``Z``: (n_labels, D) label embedding (CSR float32, rows l2-normalised); ``labels``:
        the distinct label strings, label ``i`` = ``labels[i]`` = row ``i`` of ``Z``."""
        self.validate()
        labels = check_label_strings(labels)
        return check_embedding(Z, len(labels)), labels
