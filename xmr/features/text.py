"""`TextFeaturizer`: word + char n-gram TF-IDF in two blocks, PECOS's weighting (see
:mod:`xmr.features` for the features and the formula), with persistence.

The vocabulary holds 64-bit hashes of n-grams, not strings (see `xmr.kernels.ngrams`); two
distinct n-grams sharing a hash (probability ~ V^2 / 2^65 for V features) would share a column,
which is ignored. Columns within a block are in hash order. The hot path (tokenising, hashing,
lookup, counting, weighting, normalising) is numba-compiled; `TextFeaturizer.transform_one` is
the single-query path and touches neither scipy nor scikit-learn.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numba as nb
import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from xmr._estimator import ParamsMixin, not_fitted
from xmr._validation import (
    check_allocation,
    check_bool,
    check_int,
    check_n_columns,
    check_ngram_range,
    check_texts,
)
from xmr.features.idf import build_vocab, check_idf, check_some_idf_positive, compute_idf
from xmr.features.tokenize import encode, word_table
from xmr.kernels import ngrams as _k

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_KIND = "xmr.features.TextFeaturizer"
_CONFIG_FILE = "featurizer.json"
_ARRAYS_FILE = "vocab.npz"
_HASH_SCHEME = "fnv1a64-codepoints+fmix64/v1"
_WORD_MAX_N = 3
_CHAR_MAX_N = 5
# Texts are processed in batches of about this many code points (bounds scratch memory).
_BATCH_CODE_POINTS = 1 << 21
# Batches smaller than this run on the calling thread (waking the pool would cost more).
_SERIAL_CODE_POINTS = 1 << 14
# The lookup table of a block (`xmr.kernels.ngrams.build_table`): (size, 2) uint64 rows, size
# the smallest power of two >= max(16, 2 V). Mirrored here to refuse it before allocating.
_TABLE_ROW_BYTES = 16
# What to lower when a vocabulary is too large (the message of the size checks).
_TOO_MANY = "lower max_features (a cap per block) or raise min_df"


def table_bytes(n_features: int) -> int:
    """Bytes of the lookup table `xmr.kernels.ngrams.build_table` allocates for V features."""
    size = 16
    while size < 2 * n_features:
        size *= 2
    return size * _TABLE_ROW_BYTES


def check_vocab_size(n_word: int, n_char: int, what: str = "the vocabulary") -> None:
    """Refuse, before the lookup tables are built, a vocabulary whose column ids overflow
    int32 or whose table cannot be allocated."""
    check_n_columns(n_word + n_char, fix=_TOO_MANY,
                    what=f"{what} ({n_word:,} word + {n_char:,} char n-grams)")
    for block, n in (("word", n_word), ("char", n_char)):
        check_allocation(table_bytes(n), fix=_TOO_MANY,
                         what=f"the {block} n-gram lookup table ({n:,} n-grams, "
                              f"{_TABLE_ROW_BYTES} bytes x the power of two >= 2 x {n:,})")


# ---------------------------------------------------------------- the featurizer


class TextFeaturizer(ParamsMixin):
    """Word + char n-gram TF-IDF (PECOS's weighting), CSR float32 rows of unit l2 norm.

    Parameters
    ----------
    word_ngram_range : (lo, hi) with 1 <= lo <= hi <= 3, or None
        Word n-gram orders; None disables the word block.
    char_ngram_range : (lo, hi) with 1 <= lo <= hi <= 5, or None
        Char n-gram orders over each word with its end marked by ``#``; None disables the block.
    min_df : int >= 1
        Per block, keep n-grams present in at least this many fitted texts.
    max_features : int >= 1 or None
        Per block, keep at most this many n-grams, the most frequent (highest df; ties by hash).
    sublinear_tf : bool
        Use ``1 + ln(tf)`` instead of the raw count.
    lowercase : bool
        Lowercase texts with ``str.lower()`` before tokenising.
    dtype : np.float32 or np.float64
        Dtype of the output values.
    idf : {"pecos", "sklearn"}
        ``max(ln(N / (df + 1)), 0)`` (PECOS, the default) or sklearn's smoothed
        ``ln((1 + N) / (1 + df)) + 1``.

    Attributes
    ----------
    n_features_ : int
        Number of columns: ``n_word_features_ + n_char_features_`` (word columns first).
    n_docs_ : int
        Number of fitted texts (the N of the idf).
    word_vocab_, char_vocab_ : (V,) uint64
        Sorted n-gram hashes; the position is the column within the block.
    word_df_, char_df_ : (V,) int64
        Document frequencies.
    word_idf_, char_idf_ : (V,) float32
        ``max(ln(n_docs_ / (df + 1)), 0)``.
    """

    def __init__(self, *, word_ngram_range: tuple[int, int] | None = (1, 1),
                 char_ngram_range: tuple[int, int] | None = (3, 3),
                 min_df: int = 1, max_features: int | None = None,
                 sublinear_tf: bool = False, lowercase: bool = True,
                 dtype=np.float32, idf: str = "pecos") -> None:
        self.word_ngram_range = word_ngram_range  # word n-gram orders, None = no word block
        self.char_ngram_range = char_ngram_range  # char n-gram orders, None = no char block
        self.min_df = min_df  # per block: minimum document frequency
        self.max_features = max_features  # per block: keep the most frequent, None = all
        self.sublinear_tf = sublinear_tf  # tf -> 1 + ln(tf)
        self.lowercase = lowercase  # str.lower() before tokenising
        self.dtype = dtype  # output value dtype
        self.idf = idf  # "pecos" or "sklearn" (smoothed, + 1)

    # -------------------------------------------------------------- validation / state
    def _validate_params(self) -> None:
        """Refuse out-of-range parameters (what ``fit`` checks first)."""
        self._validated_params()

    def _validated_params(self) -> dict:
        word = check_ngram_range("word_ngram_range", self.word_ngram_range, _WORD_MAX_N)
        char = check_ngram_range("char_ngram_range", self.char_ngram_range, _CHAR_MAX_N)
        if word is None and char is None:
            raise ValueError("word_ngram_range and char_ngram_range cannot both be None")
        max_features = self.max_features
        if max_features is not None:
            max_features = check_int("max_features", max_features, minimum=1)
        try:
            dtype = np.dtype(self.dtype)
        except TypeError as exc:
            raise TypeError(f"dtype must be np.float32 or np.float64, got {self.dtype!r}") from exc
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype}")
        return {"word_ngram_range": word, "char_ngram_range": char,
                "min_df": check_int("min_df", self.min_df, minimum=1),
                "max_features": max_features,
                "sublinear_tf": check_bool("sublinear_tf", self.sublinear_tf),
                "lowercase": check_bool("lowercase", self.lowercase), "dtype": dtype,
                "idf": check_idf(self.idf)}

    def _set_state(self, params: dict, n_docs: int, word: tuple, char: tuple) -> None:
        """Set the fitted attributes from the validated params and (hashes, df) per block."""
        self._params = params  # what was fitted; later edits of the public params do not apply
        self.n_docs_ = int(n_docs)
        self.word_vocab_, self.word_df_ = word
        self.char_vocab_, self.char_df_ = char
        self.word_idf_ = compute_idf(self.word_df_, n_docs, params["idf"])
        self.char_idf_ = compute_idf(self.char_df_, n_docs, params["idf"])
        self.n_word_features_ = int(self.word_vocab_.size)
        self.n_char_features_ = int(self.char_vocab_.size)
        self.n_features_ = self.n_word_features_ + self.n_char_features_
        self._build_kernel_args()

    def _build_kernel_args(self) -> None:
        """The flat arguments the kernels take after the text, in their order (derived state:
        rebuilt after unpickling, never saved)."""
        params = self._params
        wlo, whi = params["word_ngram_range"] or (0, 0)
        clo, chi = params["char_ngram_range"] or (0, 0)
        self._lowercase = params["lowercase"]
        self._kernel_args = (word_table(), wlo, whi, clo, chi,
                             _k.build_table(self.word_vocab_, self.word_idf_),
                             _k.build_table(self.char_vocab_, self.char_idf_),
                             self.n_word_features_,
                             params["sublinear_tf"], np.empty(0, params["dtype"]))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_kernel_args", None)  # large and derived
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "_params" in state:
            self._build_kernel_args()

    def _check_fitted(self) -> None:
        if not hasattr(self, "_kernel_args"):
            raise not_fitted(f"This {type(self).__name__} instance is not fitted yet; "
                             "call fit(texts) or TextFeaturizer.load(folder) first")

    @staticmethod
    def _batches(texts: list[str], lowercase: bool):
        """Yield ``(code points uint32, offsets int64)`` for runs of texts."""
        if lowercase:
            texts = [t.lower() for t in texts]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        ends = np.cumsum(lengths)
        start = 0
        while start < len(texts):
            base = ends[start - 1] if start else 0
            stop = int(np.searchsorted(ends, base + _BATCH_CODE_POINTS, side="right"))
            stop = max(stop, start + 1)
            offsets = np.empty(stop - start + 1, dtype=np.int64)
            offsets[0] = 0
            offsets[1:] = ends[start:stop] - base
            yield encode("".join(texts[start:stop])), offsets
            start = stop

    # -------------------------------------------------------------- fit / transform

    def fit(self, texts: Sequence[str]) -> TextFeaturizer:
        """Learn each block's vocabulary and document frequencies from ``texts`` (n,).

        Raises ValueError when no n-gram reaches ``min_df``, when every idf is 0 (PECOS's idf
        with every n-gram in at least N - 1 of the N texts: every row would be empty) and,
        before allocating, when the vocabulary is too large to index."""
        return self._fit(texts, allow_zero_idf=False)

    def _fit(self, texts: Sequence[str], *, allow_zero_idf: bool) -> TextFeaturizer:
        """`fit`; ``allow_zero_idf`` for a block of a larger featurizer, which checks the
        idf of all its blocks together."""
        params = self._validated_params()
        texts = check_texts(texts)
        if not texts:
            raise ValueError("texts is empty: fit needs at least one text")
        table = word_table()
        wlo, whi = params["word_ngram_range"] or (0, 0)
        clo, chi = params["char_ngram_range"] or (0, 0)
        n_threads = nb.get_num_threads()
        parts: dict[str, list] = {"word": [], "char": []}
        n_batches = -(-sum(map(len, texts)) // _BATCH_CODE_POINTS)
        blocks = [("word", (wlo, whi, 0, 0)), ("char", (0, 0, clo, chi))]
        blocks = [(name, ranges) for name, ranges in blocks if max(ranges) > 0]
        batches = self._batches(texts, params["lowercase"])
        for cps, offsets in tqdm(batches, total=n_batches, desc="tf-idf fit",
                                 disable=n_batches < 4, leave=False):
            for name, ranges in blocks:
                # per text its distinct n-grams, so counting them over the batch gives df
                if n_threads == 1 or cps.size < _SERIAL_CODE_POINTS:
                    sets = _k.batch_ngram_doc_sets_serial(cps, offsets, table, *ranges)
                else:
                    sets = _k.batch_ngram_doc_sets(cps, offsets, table, *ranges,
                                                   8 * n_threads)
                parts[name].append(np.unique(sets, return_counts=True))
        word = build_vocab(parts["word"], params["min_df"], params["max_features"])
        char = build_vocab(parts["char"], params["min_df"], params["max_features"])
        if word[0].size + char[0].size == 0:
            raise ValueError(
                f"no vocabulary: none of the {len(texts)} texts has an n-gram in at least "
                f"min_df={params['min_df']} texts (are they all empty or punctuation?)")
        if not allow_zero_idf:
            # PECOS's idf is max(ln(N / (df + 1)), 0): an n-gram in >= N - 1 of the N texts
            # gets 0, so with N <= 2 (or texts sharing every n-gram) every row is empty
            check_some_idf_positive([compute_idf(df, len(texts), params["idf"])
                                     for _, df in (word, char)], len(texts))
        check_vocab_size(word[0].size, char[0].size)
        self._set_state(params, len(texts), word, char)
        logger.debug("fitted %d texts: %d word + %d char features", self.n_docs_,
                     self.n_word_features_, self.n_char_features_)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF of ``texts``: CSR (n, n_features_) of ``dtype``, rows of unit l2 norm (or
        all-zero when no n-gram of the text is known), indices sorted."""
        self._check_fitted()
        texts = check_texts(texts)
        n_threads = nb.get_num_threads()
        parts = []
        for cps, offsets in self._batches(texts, self._lowercase):
            if n_threads == 1 or cps.size < _SERIAL_CODE_POINTS:
                parts.append(_k.batch_tfidf_serial(cps, offsets, *self._kernel_args))
            else:
                parts.append(_k.batch_tfidf(cps, offsets, *self._kernel_args, 8 * n_threads))
        if len(parts) == 1:
            indptr, indices, data = parts[0]
        else:
            dtype = self._kernel_args[-1].dtype
            indptr = np.zeros(len(texts) + 1, dtype=np.int64)
            indptr[1:] = np.cumsum(np.concatenate([np.diff(p[0]) for p in parts]
                                                  or [np.zeros(0, np.int64)]))
            indices = np.concatenate([p[1] for p in parts] or [np.zeros(0, np.int32)])
            data = np.concatenate([p[2] for p in parts] or [np.zeros(0, dtype)])
        if indptr[-1] <= np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)
        else:
            indices = indices.astype(np.int64)
        return sp.csr_matrix((data, indices, indptr), shape=(len(texts), self.n_features_))

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """``fit(texts).transform(texts)``."""
        return self.fit(texts).transform(texts)

    def transform_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The single-query fast path: ``(indices int32 ascending, values)`` of the one row
        ``transform([text])`` would give (values of ``dtype``, unit l2 norm or empty)."""
        args = getattr(self, "_kernel_args", None)
        if args is None:
            self._check_fitted()
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if self._lowercase:
            text = text.lower()
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        return _k.one_tfidf(cps, *args)

    # -------------------------------------------------------------- persistence

    def save(self, folder: str | Path) -> None:
        """Write ``featurizer.json`` (params, format_version) and ``vocab.npz`` to ``folder``."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        params = self._params
        config = {
            "kind": _KIND,
            "format_version": FORMAT_VERSION,
            "hash_scheme": _HASH_SCHEME,
            "unicode_version": unicodedata.unidata_version,
            "params": {
                "word_ngram_range": params["word_ngram_range"],
                "char_ngram_range": params["char_ngram_range"],
                "min_df": params["min_df"], "max_features": params["max_features"],
                "sublinear_tf": params["sublinear_tf"], "lowercase": params["lowercase"],
                "dtype": params["dtype"].name, "idf": params["idf"],
            },
            "n_docs": self.n_docs_,
            "n_word_features": self.n_word_features_,
            "n_char_features": self.n_char_features_,
        }
        np.savez(folder / _ARRAYS_FILE, word_vocab=self.word_vocab_, word_df=self.word_df_,
                 char_vocab=self.char_vocab_, char_df=self.char_df_)
        (folder / _CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> TextFeaturizer:
        """Read a featurizer written by `save`; a missing, damaged or foreign folder raises
        FileNotFoundError / ValueError saying which folder and what is wrong."""
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"TextFeaturizer folder {folder} does not exist")
        config_path = folder / _CONFIG_FILE
        arrays_path = folder / _ARRAYS_FILE
        if not config_path.is_file():
            raise FileNotFoundError(f"{folder} is not a saved TextFeaturizer: {_CONFIG_FILE} "
                                    "is missing")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{config_path} is damaged (not valid JSON): {exc}") from exc
        if not isinstance(config, dict) or config.get("kind") != _KIND:
            kind = config.get("kind") if isinstance(config, dict) else type(config).__name__
            raise ValueError(f"{folder} holds a {kind!r}, not a {_KIND!r}")
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{folder} has format_version {config.get('format_version')!r}; "
                             f"this code reads format_version {FORMAT_VERSION}")
        if config.get("hash_scheme") != _HASH_SCHEME:
            raise ValueError(f"{folder} uses hash scheme {config.get('hash_scheme')!r}, "
                             f"expected {_HASH_SCHEME!r}")
        if config.get("unicode_version") != unicodedata.unidata_version:
            logger.warning("%s was saved with Unicode %s, this Python has %s: tokenisation of "
                           "rare characters may differ", folder, config.get("unicode_version"),
                           unicodedata.unidata_version)
        try:
            p = config["params"]
            self = cls(word_ngram_range=tuple_or_none(p["word_ngram_range"]),
                       char_ngram_range=tuple_or_none(p["char_ngram_range"]),
                       min_df=p["min_df"], max_features=p["max_features"],
                       sublinear_tf=p["sublinear_tf"], lowercase=p["lowercase"],
                       dtype=np.dtype(p["dtype"]), idf=p.get("idf", "pecos"))
            params = self._validated_params()
            n_docs = check_int("n_docs", config["n_docs"], minimum=1)
            n_word, n_char = config["n_word_features"], config["n_char_features"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{config_path} is damaged: {exc!r}") from exc
        if not arrays_path.is_file():
            raise FileNotFoundError(f"{folder} is not a complete TextFeaturizer: {_ARRAYS_FILE} "
                                    "is missing")
        try:
            with np.load(arrays_path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("word_vocab", "word_df", "char_vocab", "char_df")}
        except Exception as exc:  # zip, npy-header and key errors alike: the file is damaged
            raise ValueError(f"{arrays_path} is damaged: {exc!r}") from exc
        blocks = []
        for block, n in (("word", n_word), ("char", n_char)):
            vocab, df = arrays[f"{block}_vocab"], arrays[f"{block}_df"]
            ok = (vocab.dtype == np.uint64 and df.dtype == np.int64 and vocab.ndim == df.ndim == 1
                  and vocab.size == df.size == n and bool(np.all(vocab[1:] > vocab[:-1]))
                  and bool(np.all((df >= 1) & (df <= n_docs))))
            if not ok:
                raise ValueError(f"{arrays_path} is damaged: the {block} vocabulary does not "
                                 f"match {_CONFIG_FILE} ({n} sorted uint64 hashes with their df)")
            blocks.append((vocab, df))
        self._set_state(params, n_docs, *blocks)
        return self


def tuple_or_none(value):
    """A saved (JSON list) n-gram range back as a tuple; None stays None."""
    return None if value is None else tuple(value)


