"""The two towers of the DSSM-like dual encoder (Nigam et al., KDD'19).

Query tower: hashed n-gram bag -> ``EmbeddingBag`` (mean pooling) -> MLP -> l2-normalise.
Label tower, two kinds:

- with label texts (product titles): the same n-gram embedding table (shared with the query
  tower, as in Nigam et al.: a query word and a title word are one parameter) -> its own MLP
  -> l2-normalise; labels never seen in training still get a vector from their text;
- without label texts: a learned embedding per label id -> l2-normalise.

The MLP is ``Linear(dim, hidden) -> ReLU -> Linear(hidden, dim)`` added to its input (a
residual block: the mean-pooled embedding already is a useful vector, the MLP refines it), so
every tower outputs unit vectors of size ``dim`` and the score of (query, label) is their
cosine. The n-gram and label-id tables use sparse gradients (only the rows a batch touches are
updated, see `baselines.dual_encoder.train`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EMBEDDING_INIT_STD = 0.1  # n-gram / label-id embeddings ~ N(0, 0.1²)


class ResidualMLP(nn.Module):
    """x + Linear(hidden, dim)(ReLU(Linear(dim, hidden)(x))): (n, dim) -> (n, dim)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.down(F.relu(self.up(x)))


class DualEncoderNet(nn.Module):
    """Query and label towers over a shared hashed n-gram embedding table.

    Parameters
    ----------
    n_buckets : rows of the n-gram embedding table (hash buckets).
    dim : output (and n-gram embedding) size.
    hidden : hidden width of each tower's MLP.
    n_labels : number of labels.
    label_text : True = the label tower reads label texts; False = a learned vector per label.
    """

    def __init__(self, *, n_buckets: int, dim: int, hidden: int, n_labels: int,
                 label_text: bool):
        super().__init__()
        self.label_text = label_text
        self.ngrams = nn.EmbeddingBag(n_buckets, dim, mode="mean", sparse=True)
        nn.init.normal_(self.ngrams.weight, std=EMBEDDING_INIT_STD)
        self.query_head = ResidualMLP(dim, hidden)
        if label_text:
            self.label_head = ResidualMLP(dim, hidden)
        else:
            self.label_ids = nn.Embedding(n_labels, dim, sparse=True)
            nn.init.normal_(self.label_ids.weight, std=EMBEDDING_INIT_STD)

    def encode_queries(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """(n, dim) unit vectors of n bags (``ids`` flat int64, ``offsets`` (n,) starts)."""
        return F.normalize(self.query_head(self.ngrams(ids, offsets)), dim=-1)

    def encode_labels(self, labels: torch.Tensor, ids: torch.Tensor | None = None,
                      offsets: torch.Tensor | None = None) -> torch.Tensor:
        """(n, dim) unit vectors of the labels ``labels`` (n,) int64; with label texts, their
        bags ``ids``/``offsets`` (in the order of ``labels``) are what is encoded."""
        if self.label_text:
            return F.normalize(self.label_head(self.ngrams(ids, offsets)), dim=-1)
        return F.normalize(self.label_ids(labels), dim=-1)

    def sparse_parameters(self) -> list[nn.Parameter]:
        """Parameters with sparse gradients (for ``torch.optim.SparseAdam``)."""
        out = [self.ngrams.weight]
        if not self.label_text:
            out.append(self.label_ids.weight)
        return out

    def dense_parameters(self) -> list[nn.Parameter]:
        """Every other parameter (for ``torch.optim.Adam``)."""
        sparse = {id(p) for p in self.sparse_parameters()}
        return [p for p in self.parameters() if id(p) not in sparse]
