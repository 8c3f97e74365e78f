"""`PerOrderFeaturizer`: one TF-IDF block per n-gram order, PECOS's documented combination of
vectorizers (see the class)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from xmr._estimator import ParamsMixin, not_fitted
from xmr._validation import check_n_columns, check_ngram_range, check_texts
from xmr.features.idf import check_some_idf_positive
from xmr.features.text import (
    _CHAR_MAX_N,
    _TOO_MANY,
    _WORD_MAX_N,
    FORMAT_VERSION,
    TextFeaturizer,
    tuple_or_none,
)

_BLOCKS_KIND = "xmr.features.PerOrderFeaturizer"
_BLOCKS_FILE = "blocks.json"


class PerOrderFeaturizer(ParamsMixin):
    """One `TextFeaturizer` per n-gram order, PECOS's documented combination of vectorizers.

    PECOS's ``Vectorizer`` with a list of vectorizer configs (``"type": "tfidf"`` per
    ``ngram_range``, e.g. word (1, 1), (2, 2), (3, 3) and char_wb (3, 3)) fits one TF-IDF per
    config, l2-normalises each block, concatenates them and l2-normalises every row again.
    Here: one block per word order in ``word_ngram_range`` then one per char order in
    ``char_ngram_range`` (chars within words, ends marked ``#``, as `TextFeaturizer`), each
    with PECOS's idf and its own l2 norm; blocks concatenated in that order; rows
    renormalised (an all-zero row stays zero). `TextFeaturizer` instead puts all word orders
    in one block and all char orders in another, so within a block frequent low orders
    outweigh the others; here every non-empty order weighs the same.

    Parameters are those of `TextFeaturizer` (the same meaning, applied per block).
    """

    def __init__(self, *, word_ngram_range: tuple[int, int] | None = (1, 3),
                 char_ngram_range: tuple[int, int] | None = (3, 3),
                 min_df: int = 1, max_features: int | None = None,
                 sublinear_tf: bool = False, lowercase: bool = True,
                 dtype=np.float32, idf: str = "pecos") -> None:
        self.word_ngram_range = word_ngram_range  # word orders, one block each; None = none
        self.char_ngram_range = char_ngram_range  # char orders, one block each; None = none
        self.min_df = min_df  # per block: minimum document frequency
        self.max_features = max_features  # per block: keep the most frequent, None = all
        self.sublinear_tf = sublinear_tf  # tf -> 1 + ln(tf)
        self.lowercase = lowercase  # str.lower() before tokenising
        self.dtype = dtype  # output value dtype
        self.idf = idf  # "pecos" or "sklearn"

    def _validate_params(self) -> None:
        """Refuse out-of-range parameters, with TextFeaturizer's own messages."""
        TextFeaturizer(**self.get_params(deep=False))._validated_params()

    def _make_blocks(self) -> list[TextFeaturizer]:
        self._validate_params()
        params = self.get_params(deep=False)
        common = {k: v for k, v in params.items()
                  if k not in ("word_ngram_range", "char_ngram_range")}
        word = check_ngram_range("word_ngram_range", self.word_ngram_range, _WORD_MAX_N)
        char = check_ngram_range("char_ngram_range", self.char_ngram_range, _CHAR_MAX_N)
        blocks = [TextFeaturizer(word_ngram_range=(n, n), char_ngram_range=None, **common)
                  for n in (range(word[0], word[1] + 1) if word else ())]
        blocks += [TextFeaturizer(word_ngram_range=None, char_ngram_range=(n, n), **common)
                   for n in (range(char[0], char[1] + 1) if char else ())]
        return blocks

    def _set_blocks(self, blocks: list[TextFeaturizer]) -> None:
        sizes = [b.n_features_ for b in blocks]
        check_n_columns(sum(sizes), what=f"the {len(blocks)} blocks together", fix=_TOO_MANY)
        self.blocks_ = blocks
        self.offsets_ = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.n_features_ = int(self.offsets_[-1])

    def _check_fitted(self) -> None:
        if not hasattr(self, "blocks_"):
            raise not_fitted(f"This {type(self).__name__} instance is not fitted yet; "
                             "call fit(texts) or PerOrderFeaturizer.load(folder) first")

    def fit(self, texts: Sequence[str]) -> PerOrderFeaturizer:
        """Fit every block on ``texts`` (n,). A block whose order has no n-gram in ``texts``
        (e.g. word 3-grams of one-word texts) is kept with no column. Raises ValueError when
        no block has a vocabulary, when every idf of every block is 0 (every row would be
        empty) and when the blocks together have too many columns to index."""
        texts = check_texts(texts)
        if not texts:
            raise ValueError("texts is empty: fit needs at least one text")
        fitted = []
        for block in self._make_blocks():
            try:
                fitted.append(block._fit(texts, allow_zero_idf=True))
            except ValueError as exc:
                if not str(exc).startswith("no vocabulary"):
                    raise
                fitted.append(None)
        if all(b is None for b in fitted):
            raise ValueError(f"no vocabulary: none of the {len(texts)} texts has an n-gram in "
                             f"at least min_df={self.min_df} texts")
        fitted = [b for b in fitted if b is not None]
        check_some_idf_positive([idf for b in fitted for idf in (b.word_idf_, b.char_idf_)],
                                len(texts))
        self._set_blocks(fitted)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """CSR (n, n_features_): the blocks side by side, rows of unit l2 norm (or zero)."""
        self._check_fitted()
        texts = check_texts(texts)
        X = sp.hstack([b.transform(texts) for b in self.blocks_], format="csr")
        X = sp.csr_matrix(X, dtype=np.dtype(self.blocks_[0]._params["dtype"]))
        sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        scale = np.ones_like(sq)
        ok = sq >= np.finfo(np.float32).eps  # PECOS leaves near-zero rows as they are
        scale[ok] = 1.0 / np.sqrt(sq[ok])
        X.data *= np.repeat(scale, np.diff(X.indptr)).astype(X.dtype)
        X.sort_indices()
        return X

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)

    def transform_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The single-query path: ``(indices int32 ascending, values)`` of ``transform([text])``'s
        row (no scipy)."""
        self._check_fitted()
        parts = [b.transform_one(text) for b in self.blocks_]
        idx = np.concatenate([i.astype(np.int32) + np.int32(o)
                              for (i, _), o in zip(parts, self.offsets_[:-1], strict=True)])
        val = np.concatenate([v for _, v in parts])
        sq = float(np.dot(val, val))
        if sq >= np.finfo(np.float32).eps:
            val = val / val.dtype.type(np.sqrt(sq))
        return idx, val

    def save(self, folder: str | Path) -> None:
        """Write ``blocks.json`` and one `TextFeaturizer` folder per block (``block0``, ...)."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for i, block in enumerate(self.blocks_):
            block.save(folder / f"block{i}")
        params = self.get_params(deep=False) | {"dtype": np.dtype(self.dtype).name}
        (folder / _BLOCKS_FILE).write_text(json.dumps(
            {"kind": _BLOCKS_KIND, "format_version": FORMAT_VERSION, "params": params,
             "n_blocks": len(self.blocks_)}, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> PerOrderFeaturizer:
        """Read a featurizer written by `save` (errors name the folder and what is wrong)."""
        folder = Path(folder)
        path = folder / _BLOCKS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{folder} is not a saved PerOrderFeaturizer: "
                                    f"{_BLOCKS_FILE} is missing")
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
            if config.get("kind") != _BLOCKS_KIND:
                raise ValueError(f"{folder} holds a {config.get('kind')!r}, not a "
                                 f"{_BLOCKS_KIND!r}")
            p = config["params"]
            self = cls(word_ngram_range=tuple_or_none(p["word_ngram_range"]),
                       char_ngram_range=tuple_or_none(p["char_ngram_range"]),
                       min_df=p["min_df"], max_features=p["max_features"],
                       sublinear_tf=p["sublinear_tf"], lowercase=p["lowercase"],
                       dtype=np.dtype(p["dtype"]), idf=p.get("idf", "pecos"))
            n_blocks = int(config["n_blocks"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} is damaged: {exc}") from exc
        self._set_blocks([TextFeaturizer.load(folder / f"block{i}") for i in range(n_blocks)])
        return self


def load_featurizer(folder: str | Path) -> TextFeaturizer | PerOrderFeaturizer:
    """`TextFeaturizer.load` or `PerOrderFeaturizer.load`, whichever wrote ``folder``."""
    folder = Path(folder)
    if (folder / _BLOCKS_FILE).is_file():
        return PerOrderFeaturizer.load(folder)
    return TextFeaturizer.load(folder)
