"""xmr: a numba XR-Linear (PECOS-style extreme multilabel ranking) and its building blocks.

Free of Hydra and MLflow: usable from any notebook.
"""

from xmr.features import TextFeaturizer
from xmr.indexers import INDEXERS, HierarchicalKMeans
from xmr.label_embedding import pifa
from xmr.metrics import (
    mrr_at_k,
    ndcg_at_k,
    per_query_metrics,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    topk_labels,
)
from xmr.model import XRLinear
from xmr.tree import LabelTree

__all__ = ["XRLinear", "TextFeaturizer", "LabelTree", "HierarchicalKMeans", "INDEXERS", "pifa",
           "precision_at_k", "recall_at_k", "ndcg_at_k", "mrr_at_k", "ranking_metrics",
           "per_query_metrics", "topk_labels"]
__version__ = "0.1.0"
