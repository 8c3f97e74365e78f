"""Hashed n-gram bags: texts -> (flat bucket ids, offsets), the ``nn.EmbeddingBag`` inputs.

Nigam et al. (KDD'19, "Semantic Product Search") tokenize a query or a product title into
word unigrams, word bigrams and character trigrams and average the embeddings of all of them;
n-grams outside the vocabulary are hashed into extra buckets. Here *every* n-gram is hashed
(no vocabulary at all): bucket = 64-bit n-gram hash mod ``n_buckets``. The n-grams and their
hashes are xmr's own (`xmr.kernels.ngrams.ngram_hashes`, the kernel behind
`xmr.features.TextFeaturizer`): tokens are runs of ``\\w`` after lowercasing, char trigrams are
taken per word with its END marked by ``#`` ("echo" -> "ech", "cho", "ho#"), word and char
n-grams come from differently salted hashes. Repeated n-grams are kept (a bag, so mean pooling
weights them by their count). A text with no token gives an empty bag (EmbeddingBag's mean
of an empty bag is the zero vector).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xmr._estimator import ParamsMixin
from xmr._validation import check_int, check_texts
from xmr.features.tokenize import word_table
from xmr.kernels.ngrams import ngram_hashes

WORD_NGRAM_RANGE = (1, 2)  # word unigrams + bigrams (Nigam et al.)
CHAR_NGRAM_RANGE = (3, 3)  # char trigrams (Nigam et al.)


@dataclass(frozen=True)
class Bags:
    """A batch of n-gram bags: text ``i`` is ``ids[offsets[i]:offsets[i+1]]``."""

    ids: np.ndarray  # (n_ngrams,) int64 bucket ids in [0, n_buckets)
    offsets: np.ndarray  # (n_texts + 1,) int64, offsets[0] = 0

    def __len__(self) -> int:
        return self.offsets.size - 1

    def take(self, rows: np.ndarray) -> Bags:
        """The bags of ``rows`` (in that order), as a new batch."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        lengths = ends - starts
        offsets = np.zeros(rows.size + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # positions of every id of every selected bag, without a Python loop
        pos = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1] - starts, lengths)
        return Bags(self.ids[pos], offsets)


class HashedNgrams(ParamsMixin):
    """Vocabulary-free n-gram hashing: nothing to fit.

    Parameters
    ----------
    n_buckets : int >= 1
        Number of hash buckets (rows of the embedding table).
    """

    def __init__(self, n_buckets: int = 2 ** 18):
        self.n_buckets = check_int("n_buckets", n_buckets, minimum=1)
        wlo, whi = WORD_NGRAM_RANGE
        clo, chi = CHAR_NGRAM_RANGE
        self._args = (word_table(), wlo, whi, clo, chi)

    def one(self, text: str) -> np.ndarray:
        """Bucket ids (int64) of one text's n-grams: word block first, then char block."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        cps = np.frombuffer(text.lower().encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        h = ngram_hashes(cps, *self._args)
        return (h % np.uint64(self.n_buckets)).astype(np.int64)

    def __call__(self, texts, name: str = "texts") -> Bags:
        """The bags of ``texts`` (a list/tuple/1-D array of str)."""
        texts = check_texts(texts, name)
        parts = [self.one(t) for t in texts]
        offsets = np.zeros(len(parts) + 1, np.int64)
        np.cumsum([p.size for p in parts], out=offsets[1:])
        ids = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return Bags(ids, offsets)
