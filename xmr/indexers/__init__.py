"""Indexers: label embedding (L x D) and label strings → :class:`~xmr.tree.LabelTree`.

Every indexer is registered by name in :data:`INDEXERS`, takes its parameters (its ``Params``
dataclass, :mod:`xmr.params`) plus ``seed`` and ``n_jobs`` as keywords, and is built with one
call, ``build(Z, *, labels=None)``: ``Z`` the (n_labels, D) label embedding, ``labels`` the
label strings (required by the string indexers trie, hybrid and mustlink, see
:mod:`xmr.indexers.trie`; ignored by hkmeans, the trie ignores ``Z``: its ``reads_embedding``
is False). So models and configs swap them by name.
"""

from __future__ import annotations

from xmr.indexers.hkmeans import HierarchicalKMeans
from xmr.indexers.hybrid import TrieHybridIndexer
from xmr.indexers.mustlink import MustLinkIndexer
from xmr.indexers.trie import TrieIndexer

INDEXERS: dict[str, type] = {"hkmeans": HierarchicalKMeans, "trie": TrieIndexer,
                             "hybrid": TrieHybridIndexer, "mustlink": MustLinkIndexer}

__all__ = ["INDEXERS", "HierarchicalKMeans", "TrieIndexer", "TrieHybridIndexer",
           "MustLinkIndexer"]
