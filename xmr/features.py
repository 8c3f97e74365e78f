"""Text featurizer: texts -> CSR float32 N x D n-gram TF-IDF, rows l2-normalised.

The features of the paper (Paper 1 in ``PAPERS.md``): word n-grams plus character n-grams of
each word with the word END marked by ``#`` ("echo with screen" -> "ech", "cho", "ho#", "wit",
"ith", "th#", "scr", "cre", "ree", "een", "en#"), weighted by TF-IDF.

Tokens are maximal runs of word characters (unicode alphanumerics and ``_``, Python's ``\\w``)
of the text, lowercased first by ``str.lower()`` when ``lowercase``; everything else separates.
Word n-grams are over consecutive tokens. Char n-grams are over unicode code points of each
token with ``#`` appended; word STARTS are not marked (the paper marks ends only). A marked
token shorter than the smallest n yields the whole marked token as one gram ("a" -> "a#").

TF-IDF is PECOS's own vectorizer with its defaults (``pecos/core/utils/tfidf.hpp``,
``BaseVectorizer::merge_df_chunks`` and ``get_sorted_feature``, defaults from
``pecos/utils/featurization/text/vectorizers.py``: ``use_idf=True, smooth_idf=True,
binary=False, norm="l2"``), per block (word, char) with its own vocabulary::

    idf(t)  = max(ln(N / (df(t) + 1)), 0)       N = number of fitted texts, df = document freq.
                                                (stored as float32, as PECOS does)
    tf(t,d) = count of t in d                   (1 + ln(count) when sublinear_tf)
    x[d,t]  = tf(t,d) * idf(t), then x[d] /= ||x[d]||_2 within the block

Blocks are concatenated (word columns first) and every row is l2-normalised again
(PECOS's ``Vectorizer::normalize_csr`` after ``hstack_csr``). As in PECOS, a row whose squared
norm is below float32 epsilon is left as it is instead of being divided (so a text with no
known n-gram is an all-zero row, never NaN), and n-grams present in at least N - 1 texts get
idf 0. Note this idf is not sklearn's ``ln((1 + N) / (1 + df)) + 1``; ``idf="sklearn"`` selects
that one instead (what qp2q's ``TfidfVectorizer`` uses). The tests check the values against
PECOS itself (peer tests).

Differences from PECOS, all deliberate: zero-valued entries are not stored (PECOS keeps them
as explicit zeros); tokens are runs of ``\\w`` after lowercasing (PECOS splits on spaces and
keeps case); char n-grams mark word ends with ``#`` (PECOS's ``char_wb`` pads both ends with a
space); ``max_features`` breaks df ties by hash (PECOS by n-gram length, then token ids); the
column numbering differs (hash order here, df order in PECOS).

The vocabulary holds 64-bit hashes of n-grams, not strings (see `xmr.kernels.ngrams`); two
distinct n-grams sharing a hash (probability ~ V^2 / 2^65 for V features) would share a column,
which is ignored. Columns within a block are in hash order. `char_ngrams` and `word_ngrams`
give the n-gram strings for debugging. The hot path (tokenising, hashing, lookup, counting,
weighting, normalising) is numba-compiled; `TextFeaturizer.transform_one` is the single-query
path and touches neither scipy nor scikit-learn.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path

import numba as nb
import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from xmr._estimator import not_fitted
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
_WORD_RE = re.compile(r"\w+")


@functools.lru_cache(maxsize=1)
def _word_table() -> np.ndarray:
    """uint8[0x110000]: 1 where the code point is a word character (``re``'s ``\\w``)."""
    cps = np.arange(0x110000, dtype=np.uint32)
    cps[0xD800:0xE000] = 0x20  # surrogates cannot be decoded; they are not word characters
    text = cps.tobytes().decode("utf-32-le")
    marked = re.sub(r"\W", " ", text).encode("utf-32-le")
    return (np.frombuffer(marked, dtype=np.uint32) != 0x20).astype(np.uint8)


def _encode(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


# ---------------------------------------------------------------- pure-Python n-grams (debug)


def word_ngrams(text: str, n_range: tuple[int, int] = (1, 1), *,
                lowercase: bool = True) -> list[str]:
    """Word n-grams of ``text`` as strings (tokens joined by a space), n ascending.

    The readable twin of what the featurizer hashes; for debugging, not for speed."""
    tokens = _WORD_RE.findall(text.lower() if lowercase else text)
    lo, hi = n_range
    return [" ".join(tokens[i:i + n]) for n in range(lo, hi + 1)
            for i in range(len(tokens) - n + 1)]


def char_ngrams(text: str, n_range: tuple[int, int] = (3, 3), *,
                lowercase: bool = True) -> list[str]:
    """Char n-grams of each word of ``text`` with the word end marked by ``#``.

    Per token, n ascending, then position; a marked token shorter than ``n_range[0]`` yields
    itself once. ``char_ngrams("echo with", (3, 3)) == ["ech", "cho", "ho#", "wit", "ith",
    "th#"]``. For debugging, not for speed."""
    lo, hi = n_range
    grams = []
    for token in _WORD_RE.findall(text.lower() if lowercase else text):
        marked = token + "#"
        if lo > len(marked):
            grams.append(marked)
            continue
        for n in range(lo, min(hi, len(marked)) + 1):
            grams.extend(marked[i:i + n] for i in range(len(marked) - n + 1))
    return grams


# ---------------------------------------------------------------- validation


def _check_range(name: str, value, max_n: int) -> tuple[int, int] | None:
    if value is None:
        return None
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in value)):
        raise TypeError(f"{name} must be a (lo, hi) pair of ints or None, got {value!r}")
    lo, hi = int(value[0]), int(value[1])
    if not 1 <= lo <= hi <= max_n:
        raise ValueError(f"{name} must satisfy 1 <= lo <= hi <= {max_n}, got ({lo}, {hi})")
    return lo, hi


def _check_int(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def _check_texts(texts, name: str = "texts") -> list[str]:
    """A list/tuple/ndarray of str -> list of str; anything else -> TypeError."""
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise TypeError(f"{name} must be a 1-D sequence of str, got an array of shape "
                            f"{texts.shape}")
        texts = texts.tolist()
    elif isinstance(texts, tuple):
        texts = list(texts)
    elif not isinstance(texts, list):
        hint = " (wrap a single text in a list)" if isinstance(texts, str) else ""
        raise TypeError(f"{name} must be a list, tuple or 1-D array of str, got "
                        f"{type(texts).__name__}{hint}")
    if not all(type(t) is str for t in texts):
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"{name}[{i}] must be a str, got {type(t).__name__} {t!r:.80}")
    return texts


# ---------------------------------------------------------------- the featurizer


class TextFeaturizer:
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

    def get_params(self) -> dict:
        return {"word_ngram_range": self.word_ngram_range,
                "char_ngram_range": self.char_ngram_range, "min_df": self.min_df,
                "max_features": self.max_features, "sublinear_tf": self.sublinear_tf,
                "lowercase": self.lowercase, "dtype": self.dtype, "idf": self.idf}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -------------------------------------------------------------- validation / state
    def _validate_params(self) -> None:
        """Refuse out-of-range parameters (what ``fit`` checks first)."""
        self._validated_params()

    def _validated_params(self) -> dict:
        word = _check_range("word_ngram_range", self.word_ngram_range, _WORD_MAX_N)
        char = _check_range("char_ngram_range", self.char_ngram_range, _CHAR_MAX_N)
        if word is None and char is None:
            raise ValueError("word_ngram_range and char_ngram_range cannot both be None")
        max_features = self.max_features
        if max_features is not None:
            max_features = _check_int("max_features", max_features, minimum=1)
        try:
            dtype = np.dtype(self.dtype)
        except TypeError as exc:
            raise TypeError(f"dtype must be np.float32 or np.float64, got {self.dtype!r}") from exc
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype}")
        return {"word_ngram_range": word, "char_ngram_range": char,
                "min_df": _check_int("min_df", self.min_df, minimum=1),
                "max_features": max_features,
                "sublinear_tf": _check_bool("sublinear_tf", self.sublinear_tf),
                "lowercase": _check_bool("lowercase", self.lowercase), "dtype": dtype,
                "idf": check_idf(self.idf)}

    def _set_state(self, params: dict, n_docs: int, word: tuple, char: tuple) -> None:
        """Set the fitted attributes from the validated params and (hashes, df) per block."""
        self._params = params  # what was fitted; later edits of the public params do not apply
        self.n_docs_ = int(n_docs)
        self.word_vocab_, self.word_df_ = word
        self.char_vocab_, self.char_df_ = char
        self.word_idf_ = _idf(self.word_df_, n_docs, params["idf"])
        self.char_idf_ = _idf(self.char_df_, n_docs, params["idf"])
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
        self._kernel_args = (_word_table(), wlo, whi, clo, chi,
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
            yield _encode("".join(texts[start:stop])), offsets
            start = stop

    # -------------------------------------------------------------- fit / transform

    def fit(self, texts: Sequence[str]) -> TextFeaturizer:
        """Learn each block's vocabulary and document frequencies from ``texts`` (n,)."""
        params = self._validated_params()
        texts = _check_texts(texts)
        if not texts:
            raise ValueError("texts is empty: fit needs at least one text")
        table = _word_table()
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
        word = _build_vocab(parts["word"], params["min_df"], params["max_features"])
        char = _build_vocab(parts["char"], params["min_df"], params["max_features"])
        if word[0].size + char[0].size == 0:
            raise ValueError(
                f"no vocabulary: none of the {len(texts)} texts has an n-gram in at least "
                f"min_df={params['min_df']} texts (are they all empty or punctuation?)")
        self._set_state(params, len(texts), word, char)
        if not (self.word_idf_.any() or self.char_idf_.any()):
            # PECOS's idf is max(ln(N / (df + 1)), 0): an n-gram in >= N - 1 of the N texts
            # gets 0, so with N <= 2 (or texts sharing every n-gram) every row is empty. A
            # warning, not an error: tiny fits are legal (and handy in tests)
            warnings.warn(
                f"every idf is 0: each of the {self.n_word_features_ + self.n_char_features_} "
                f"n-grams occurs in at least N - 1 of the N = {len(texts)} fitted texts, so "
                f"every transformed row will be empty; fit on more (and more varied) texts",
                UserWarning, stacklevel=2)
        logger.debug("fitted %d texts: %d word + %d char features", self.n_docs_,
                     self.n_word_features_, self.n_char_features_)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF of ``texts``: CSR (n, n_features_) of ``dtype``, rows of unit l2 norm (or
        all-zero when no n-gram of the text is known), indices sorted."""
        self._check_fitted()
        texts = _check_texts(texts)
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
            self = cls(word_ngram_range=_tuple_or_none(p["word_ngram_range"]),
                       char_ngram_range=_tuple_or_none(p["char_ngram_range"]),
                       min_df=p["min_df"], max_features=p["max_features"],
                       sublinear_tf=p["sublinear_tf"], lowercase=p["lowercase"],
                       dtype=np.dtype(p["dtype"]), idf=p.get("idf", "pecos"))
            params = self._validated_params()
            n_docs = _check_int("n_docs", config["n_docs"], minimum=1)
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


def _tuple_or_none(value):
    return None if value is None else tuple(value)


IDF = ("pecos", "sklearn")


def check_idf(idf) -> str:
    if idf not in IDF:
        raise ValueError(f"idf must be one of {list(IDF)}, got {idf!r}")
    return str(idf)


def _idf(df: np.ndarray, n_docs: int, kind: str = "pecos") -> np.ndarray:
    """Inverse document frequency, stored as float32: PECOS's ``max(ln(N / (df + 1)), 0)``
    (``kind="pecos"``) or sklearn's smoothed ``ln((1 + N) / (1 + df)) + 1`` ("sklearn")."""
    df = df.astype(np.float64)
    if kind == "sklearn":
        return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)
    return np.maximum(np.log(n_docs / (df + 1.0)), 0.0).astype(np.float32)


def _build_vocab(parts: list[tuple[np.ndarray, np.ndarray]], min_df: int,
                 max_features: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-batch (unique hashes, doc counts) -> (sorted hashes uint64, df int64)."""
    if not parts:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    if len(parts) == 1:
        hashes, df = parts[0]
    else:
        all_h = np.concatenate([h for h, _ in parts])
        all_c = np.concatenate([c for _, c in parts])
        order = np.argsort(all_h, kind="stable")
        all_h, all_c = all_h[order], all_c[order]
        starts = np.flatnonzero(np.r_[True, all_h[1:] != all_h[:-1]])
        hashes, df = all_h[starts], np.add.reduceat(all_c, starts)
    df = df.astype(np.int64)
    keep = df >= min_df
    hashes, df = hashes[keep], df[keep]
    if max_features is not None and hashes.size > max_features:
        top = np.lexsort((hashes, -df))[:max_features]  # highest df first, ties by hash
        top.sort()  # hashes are sorted, so sorted positions keep them sorted
        hashes, df = hashes[top], df[top]
    return hashes.astype(np.uint64), df


# ---------------------------------------------------------------- PECOS's block layout

_BLOCKS_KIND = "xmr.features.PerOrderFeaturizer"
_BLOCKS_FILE = "blocks.json"


class PerOrderFeaturizer:
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

    def get_params(self) -> dict:
        return {"word_ngram_range": self.word_ngram_range,
                "char_ngram_range": self.char_ngram_range, "min_df": self.min_df,
                "max_features": self.max_features, "sublinear_tf": self.sublinear_tf,
                "lowercase": self.lowercase, "dtype": self.dtype, "idf": self.idf}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _validate_params(self) -> None:
        """Refuse out-of-range parameters, with TextFeaturizer's own messages."""
        TextFeaturizer(**self.get_params())._validated_params()

    def _make_blocks(self) -> list[TextFeaturizer]:
        self._validate_params()
        common = {k: v for k, v in self.get_params().items()
                  if k not in ("word_ngram_range", "char_ngram_range")}
        word = _check_range("word_ngram_range", self.word_ngram_range, _WORD_MAX_N)
        char = _check_range("char_ngram_range", self.char_ngram_range, _CHAR_MAX_N)
        blocks = [TextFeaturizer(word_ngram_range=(n, n), char_ngram_range=None, **common)
                  for n in (range(word[0], word[1] + 1) if word else ())]
        blocks += [TextFeaturizer(word_ngram_range=None, char_ngram_range=(n, n), **common)
                   for n in (range(char[0], char[1] + 1) if char else ())]
        return blocks

    def _set_blocks(self, blocks: list[TextFeaturizer]) -> None:
        self.blocks_ = blocks
        sizes = [b.n_features_ for b in blocks]
        self.offsets_ = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.n_features_ = int(self.offsets_[-1])

    def _check_fitted(self) -> None:
        if not hasattr(self, "blocks_"):
            raise not_fitted(f"This {type(self).__name__} instance is not fitted yet; "
                                 "call fit(texts) or PerOrderFeaturizer.load(folder) first")

    def fit(self, texts: Sequence[str]) -> PerOrderFeaturizer:
        """Fit every block on ``texts`` (n,). A block whose order has no n-gram in ``texts``
        (e.g. word 3-grams of one-word texts) is kept with no column."""
        texts = _check_texts(texts)
        if not texts:
            raise ValueError("texts is empty: fit needs at least one text")
        fitted = []
        for block in self._make_blocks():
            try:
                fitted.append(block.fit(texts))
            except ValueError as exc:
                if not str(exc).startswith("no vocabulary"):
                    raise
                fitted.append(None)
        if all(b is None for b in fitted):
            raise ValueError(f"no vocabulary: none of the {len(texts)} texts has an n-gram in "
                             f"at least min_df={self.min_df} texts")
        self._set_blocks([b for b in fitted if b is not None])
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """CSR (n, n_features_): the blocks side by side, rows of unit l2 norm (or zero)."""
        self._check_fitted()
        texts = _check_texts(texts)
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
        params = self.get_params() | {"dtype": np.dtype(self.dtype).name}
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
            self = cls(word_ngram_range=_tuple_or_none(p["word_ngram_range"]),
                       char_ngram_range=_tuple_or_none(p["char_ngram_range"]),
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
