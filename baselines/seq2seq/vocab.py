"""Character vocabulary of the seq2seq completer: texts -> int64 id sequences and back.

Ids 0-4 are reserved: ``PAD`` (padding, never predicted), ``BOS`` (first decoder input),
``EOS`` (end of the next query), ``SEP`` (between the previous query and the prefix in the
source) and ``UNK`` (a character not seen in training often enough). Every other id is one
character of the training texts seen at least ``min_count`` times, in sorted order (so the
vocabulary does not depend on the order of the training rows).

Source = the last ``max_prev_len`` characters of the previous query ⊕ ``SEP`` ⊕ the first
``max_prefix_len`` characters of the prefix; target = the next query's characters (at most
``max_target_len``) ⊕ ``EOS``. Lowercasing and any other normalisation belong to the dataset
loader (the AOL loader already lowercases); the vocabulary maps characters as given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

PAD, BOS, EOS, SEP, UNK = 0, 1, 2, 3, 4
N_SPECIAL = 5


class CharVocab:
    """Characters -> ids (see the module doc).

    Parameters
    ----------
    chars : the vocabulary's characters, in id order (ids ``N_SPECIAL`` …).
    """

    def __init__(self, chars: Iterable[str]):
        self.chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in self.chars):
            raise ValueError("CharVocab chars must be single characters")
        self.index = {c: i + N_SPECIAL for i, c in enumerate(self.chars)}
        if len(self.index) != len(self.chars):
            raise ValueError("CharVocab chars must be distinct")

    @classmethod
    def build(cls, texts: Iterable[str], *, min_count: int = 1) -> CharVocab:
        """The characters of ``texts`` seen at least ``min_count`` times, sorted."""
        counts: Counter = Counter()
        for t in texts:
            counts.update(t)
        return cls(sorted(c for c, n in counts.items() if n >= min_count))

    def __len__(self) -> int:
        return N_SPECIAL + len(self.chars)

    def ids(self, text: str) -> list[int]:
        """One id per character (``UNK`` for an unknown one)."""
        get = self.index.get
        return [get(c, UNK) for c in text]

    def source(self, prev_query: str, prefix: str, *, max_prev_len: int,
               max_prefix_len: int) -> list[int]:
        """prev_query[-max_prev_len:] ⊕ SEP ⊕ prefix[:max_prefix_len]."""
        prev = prev_query[-max_prev_len:] if max_prev_len > 0 else ""
        return self.ids(prev) + [SEP] + self.ids(prefix[:max_prefix_len])

    def target(self, next_query: str, *, max_target_len: int) -> list[int]:
        """next_query's ids ⊕ EOS (truncated, without EOS, when longer than
        ``max_target_len``)."""
        ids = self.ids(next_query)
        return ids[:max_target_len] if len(ids) >= max_target_len else ids + [EOS]

    def text(self, ids: Iterable[int]) -> str:
        """Characters of ``ids`` (special ids are dropped)."""
        chars = self.chars
        return "".join(chars[i - N_SPECIAL] for i in ids if i >= N_SPECIAL)


def pad_batch(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(n, max_len) int64 ids right-padded with ``PAD`` and the (n,) int64 lengths."""
    lengths = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
    out = np.full((len(seqs), int(lengths.max()) if len(seqs) else 0), PAD, np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out, lengths
