"""Session-aware query autocompletion as extreme multi-label ranking (Paper 2, Yadav et al.
KDD 2021): input features, the suggestion step and the QAC metrics.

The string indexers (trie, trie–tree hybrid, must-link) are in :mod:`xmr.indexers`; the
most-popular-completion baseline is :mod:`baselines.mpc`.
"""

from xmr.qac.features import QACVectorizer, prefix_ngram_weights
from xmr.qac.metrics import (
    mean_rank_weighted_bleu,
    mrr_at_k,
    qac_metrics,
    qac_slices,
    rank_weighted_bleu,
    sacrebleu_top1,
    sentence_bleu,
)
from xmr.qac.suggest import QACSuggester, count_unmatched_prefix, prefix_range

__all__ = ["QACVectorizer", "prefix_ngram_weights", "QACSuggester", "prefix_range",
           "count_unmatched_prefix",
           "mrr_at_k", "sentence_bleu", "rank_weighted_bleu", "mean_rank_weighted_bleu",
           "sacrebleu_top1", "qac_metrics", "qac_slices"]
