"""Indexers: label embedding (L x D) → :class:`~xmr.tree.LabelTree`.

Every indexer implements the one small protocol :class:`Indexer` (``build(Z) -> LabelTree``)
and is registered by name in :data:`INDEXERS`, so models and configs swap them by name.
"""

from __future__ import annotations

from typing import Protocol

import scipy.sparse as sp

from xmr.indexers.hkmeans import HierarchicalKMeans
from xmr.indexers.hybrid import TrieHybridIndexer
from xmr.indexers.mustlink import MustLinkIndexer
from xmr.indexers.trie import TrieIndexer
from xmr.tree import LabelTree


class Indexer(Protocol):
    def build(self, Z: sp.csr_matrix) -> LabelTree:
        """Z: (n_labels, D) label embedding, CSR float32. Returns the label tree."""
        ...


INDEXERS: dict[str, type] = {"hkmeans": HierarchicalKMeans, "trie": TrieIndexer,
                             "hybrid": TrieHybridIndexer, "mustlink": MustLinkIndexer}
# The string indexers (trie, hybrid, mustlink) have ``needs_labels = True`` and take
# ``build(Z, *, labels)``; see xmr.indexers.trie.

__all__ = ["Indexer", "INDEXERS", "HierarchicalKMeans", "TrieIndexer", "TrieHybridIndexer",
           "MustLinkIndexer"]
