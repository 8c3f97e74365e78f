"""Session-aware QAC input features (Paper 2): previous query ⊕ prefix of the next query.

``x = l2norm(hstack[query block, prefix block])`` where

- **query block**: word-unigram TF-IDF of the previous query (`xmr.features.TextFeaturizer`
  with ``word_ngram_range=(1, 1)``, no char block: tokens are runs of ``\\w``, lowercased),
  rows l2-normalised;
- **prefix block**: character n-gram TF-IDF (``char_ngram_range``, default 1–3) of the prefix
  as a whole string (spaces included, not tokenised, no end marks), rows l2-normalised. Emit
  all 1-grams, then 2-grams, then 3-grams; with ``prefix_weighting="position"`` an n-gram at
  position ``p`` (0-based, within its own n) adds ``1 / (p + 1)`` to its term frequency
  instead of 1 ("plain"), so n-grams near the start dominate, mimicking a trie. Example,
  "abab" position-weighted: ``a: 1 + 1/3``, ``b: 1/2 + 1/4``, ``ab: 1 + 1/3``, ``ba: 1/2``,
  ``aba: 1``, ``bab: 1/2``; each times its idf, then l2-normalised.

Both blocks use PECOS's idf ``max(ln(N / (df + 1)), 0)`` (float32; see `xmr.features`), or
with ``idf="sklearn"`` sklearn's smoothed ``ln((1 + N) / (1 + df)) + 1`` (qp2q's vectorizers are
sklearn ``TfidfVectorizer``s), with
``N`` = the number of training examples; the query vocabulary is fitted on the training
previous queries, the prefix vocabulary on the training prefixes (n-grams never seen in a
training prefix are dropped, also from label strings). Columns: query block first
(``n_query_features_``), then the prefix block (``n_prefix_features_``).

**Empty previous query** (or one with no known word): the query block is all-zero, so the input
is the prefix block alone, still renormalised (unit norm). An empty or unknown prefix with an
empty query gives an all-zero row. A training set whose previous queries are all empty has no
query block (``n_query_features_ = 0``).

``label_embedding(labels)`` applies the prefix vectorizer (same weighting) to label strings:
CSR ``(n_labels, n_prefix_features_)``, rows l2-normalised, for the hybrid / must-link indexers
and the "char TF-IDF of label" rows of the paper's ablation.

The n-gram kernels are in `xmr.kernels.prefix_ngrams` (numba); `prefix_ngram_weights` is their
pure-Python twin (tests and debugging).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from xmr._estimator import ParamsMixin, not_fitted
from xmr._validation import (
    check_bool,
    check_choice,
    check_int,
    check_n_columns,
    check_ngram_range,
    check_texts,
)
from xmr.features import TextFeaturizer, check_idf
from xmr.features.idf import check_some_idf_positive, compute_idf
from xmr.kernels import prefix_ngrams as _k
from xmr.kernels.ngrams import build_table

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_KIND = "xmr.qac.QACVectorizer"
_CONFIG_FILE = "qac_vectorizer.json"
_ARRAYS_FILE = "prefix_vocab.npz"
_QUERY_DIR = "query"
_MAX_N = 5
_WEIGHTINGS = ("position", "plain")
_WORD_RE = re.compile(r"\w+")


def prefix_ngram_weights(text: str, n_range: tuple[int, int] = (1, 3), *,
                         position: bool = True) -> dict[str, float]:
    """Term frequencies of the char n-grams of ``text`` (before idf): n-gram → Σ 1/(p+1)
    (``position``) or its count. The readable twin of the kernels."""
    tf: dict[str, float] = {}
    for n in range(n_range[0], n_range[1] + 1):
        for p in range(len(text) - n + 1):
            g = text[p:p + n]
            tf[g] = tf.get(g, 0.0) + (1.0 / (p + 1) if position else 1.0)
    return tf


def _encode_batch(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32), offsets


class QACVectorizer(ParamsMixin):
    """Previous query (word TF-IDF) ⊕ prefix (char n-gram TF-IDF, plain or position-weighted).

    Parameters (keyword-only; stored as given, validated by :meth:`fit`)
    ----------
    prefix_weighting : {"position", "plain"}, default "position"
        Term frequency of a prefix n-gram at position p: 1/(p+1) ("position") or 1 ("plain").
    char_ngram_range : (lo, hi), 1 <= lo <= hi <= 5, default (1, 3)
        Char n-gram orders of the prefix block.
    min_df : int >= 1, default 1
        Per block, keep n-grams present in at least this many training examples.
    lowercase : bool, default True
        Lowercase both inputs (and label strings) with ``str.lower()`` first.
    use_prefix : bool, default True
        False: the input is the previous query alone (the paper's Table 2 rows 0-1); the
        prefix vocabulary is still fitted, for :meth:`label_embedding`.
    idf : {"pecos", "sklearn"}, default "pecos"
        Both blocks' idf: PECOS's ``max(ln(N / (df + 1)), 0)`` or sklearn's smoothed
        ``ln((1 + N) / (1 + df)) + 1`` (qp2q).

    Attributes (after fit)
    ----------
    n_features_ = n_query_features_ + n_prefix_features_; n_docs_ (training examples);
    query_featurizer_ (a fitted `TextFeaturizer`, or None without a query block);
    prefix_vocab_ (V,) uint64 sorted n-gram hashes; prefix_df_ (V,) int64;
    prefix_idf_ (V,) float32.
    """

    def __init__(self, *, prefix_weighting: str = "position",
                 char_ngram_range: tuple[int, int] = (1, 3), min_df: int = 1,
                 lowercase: bool = True, use_prefix: bool = True, idf: str = "pecos"):
        self.prefix_weighting = prefix_weighting  # "position" (1/(p+1)) or "plain" (1)
        self.char_ngram_range = char_ngram_range  # prefix char n-gram orders (the paper: 1-3)
        self.min_df = min_df  # per block: minimum document frequency
        self.lowercase = lowercase  # str.lower() on queries, prefixes and labels
        self.use_prefix = use_prefix  # False: previous query only as input
        self.idf = idf  # "pecos" or "sklearn" (smoothed + 1, as qp2q)

    # -------------------------------------------------------------- validation / state
    def _validate_params(self) -> None:
        """Refuse out-of-range parameters (what ``fit`` checks first)."""
        self._validated_params()

    def _validated_params(self) -> dict:
        return {"prefix_weighting": check_choice("prefix_weighting", self.prefix_weighting,
                                                 _WEIGHTINGS),
                "char_ngram_range": check_ngram_range("char_ngram_range",
                                                      self.char_ngram_range, _MAX_N,
                                                      allow_none=False),
                "min_df": check_int("min_df", self.min_df, minimum=1),
                "lowercase": check_bool("lowercase", self.lowercase),
                "use_prefix": check_bool("use_prefix", self.use_prefix),
                "idf": check_idf(self.idf)}

    def _set_state(self, params: dict, n_docs: int, query: TextFeaturizer | None,
                   vocab: np.ndarray, df: np.ndarray) -> None:
        self._params = params
        self.n_docs_ = int(n_docs)
        self.query_featurizer_ = query
        self.prefix_vocab_ = vocab
        self.prefix_df_ = df
        self.prefix_idf_ = compute_idf(df, n_docs, params.get("idf", "pecos"))
        self.n_query_features_ = 0 if query is None else query.n_features_
        self.n_prefix_features_ = int(vocab.size)
        self.n_features_ = self.n_query_features_ + (
            self.n_prefix_features_ if params.get("use_prefix", True) else 0)
        self._build_kernel_args()

    def _build_kernel_args(self) -> None:
        lo, hi = self._params["char_ngram_range"]
        self._prefix_args = (lo, hi, self._params["prefix_weighting"] == "position",
                             build_table(self.prefix_vocab_, self.prefix_idf_),
                             np.empty(0, np.float32))
        self._empty_query = (np.zeros(0, np.int32), np.zeros(0, np.float32))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_prefix_args", None)  # derived
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "_params" in state:
            self._build_kernel_args()

    def _check_fitted(self) -> None:
        if not hasattr(self, "_prefix_args"):
            raise not_fitted(f"This {type(self).__name__} instance is not fitted yet; call "
                             "fit(prev_queries, prefixes) or QACVectorizer.load(folder)")

    def _lower(self, texts: list[str]) -> list[str]:
        return [t.lower() for t in texts] if self._params["lowercase"] else texts

    # -------------------------------------------------------------- fit / transform

    def fit(self, prev_queries: Sequence[str], prefixes: Sequence[str]) -> QACVectorizer:
        """Fit the query vocabulary on ``prev_queries`` and the prefix vocabulary on
        ``prefixes`` (the training examples, same length n).

        Raises ValueError when no n-gram reaches ``min_df``, when every idf of the input's
        blocks is 0 (every input row would be empty) and when the blocks have too many columns
        to index."""
        params = self._validated_params()
        prev_queries = check_texts(prev_queries, "prev_queries")
        prefixes = check_texts(prefixes, "prefixes")
        if len(prev_queries) != len(prefixes):
            raise ValueError(f"prev_queries and prefixes differ in length: "
                             f"{len(prev_queries)} and {len(prefixes)}")
        if not prefixes:
            raise ValueError("prefixes is empty: fit needs at least one training example")
        query = None
        if any(_WORD_RE.search(q) for q in prev_queries):
            query = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=None,
                                   min_df=params["min_df"], lowercase=params["lowercase"],
                                   idf=params["idf"])
            try:  # the idf check is done below, over the blocks of the input together
                query._fit(prev_queries, allow_zero_idf=True)
            except ValueError:  # no word reaches min_df: no query block
                query = None
        self._params = params
        lo, hi = params["char_ngram_range"]
        cps, offsets = _encode_batch(self._lower(prefixes))
        hashes, df = np.unique(_k.prefix_doc_sets(cps, offsets, lo, hi), return_counts=True)
        keep = df >= params["min_df"]
        vocab, df = hashes[keep].astype(np.uint64), df[keep].astype(np.int64)
        if query is None and not params["use_prefix"]:
            raise ValueError("use_prefix=False needs previous queries with words: no "
                             "previous-query word occurs in the training examples")
        if vocab.size == 0 and query is None:
            raise ValueError(f"no vocabulary: no prefix n-gram and no previous-query word "
                             f"occurs in at least min_df={params['min_df']} of the "
                             f"{len(prefixes)} training examples")
        idfs = [] if query is None else [query.word_idf_]
        if params["use_prefix"]:
            idfs.append(compute_idf(df, len(prefixes), params["idf"]))
        check_some_idf_positive(idfs, len(prefixes), "training examples")
        n_query = 0 if query is None else query.n_features_
        check_n_columns(n_query + vocab.size, fix="raise min_df",
                        what=f"the QAC input ({n_query:,} query + {vocab.size:,} prefix n-grams)")
        self._set_state(params, len(prefixes), query, vocab, df)
        logger.debug("fitted %d examples: %d query + %d prefix features", self.n_docs_,
                     self.n_query_features_, self.n_prefix_features_)
        return self

    def _prefix_block(self, texts: list[str]) -> sp.csr_matrix:
        cps, offsets = _encode_batch(self._lower(texts))
        indptr, indices, data = _k.prefix_tfidf(cps, offsets, *self._prefix_args)
        return sp.csr_matrix((data, indices, indptr), shape=(len(texts),
                                                             self.n_prefix_features_))

    def transform(self, prev_queries: Sequence[str], prefixes: Sequence[str]) -> sp.csr_matrix:
        """Inputs of n requests: CSR float32 (n, n_features_), rows of unit l2 norm (all-zero
        when neither part has a known n-gram), indices sorted."""
        self._check_fitted()
        prev_queries = check_texts(prev_queries, "prev_queries")
        prefixes = check_texts(prefixes, "prefixes")
        if len(prev_queries) != len(prefixes):
            raise ValueError(f"prev_queries and prefixes differ in length: "
                             f"{len(prev_queries)} and {len(prefixes)}")
        if not self._params.get("use_prefix", True):
            return self.query_featurizer_.transform(prev_queries)  # already l2-normalised
        P = self._prefix_block(prefixes)
        if self.query_featurizer_ is None:
            X = P
        else:
            Q = self.query_featurizer_.transform(prev_queries)
            X = sp.hstack([Q, P], format="csr", dtype=np.float32)
        X = sp.csr_matrix(X, dtype=np.float32)
        sq = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
        scale = np.where(sq >= np.finfo(np.float32).eps, 1.0 / np.sqrt(np.maximum(sq, 1e-300)),
                         1.0)
        X.data *= np.repeat(scale, np.diff(X.indptr)).astype(np.float32)
        X.sort_indices()
        return X

    def transform_one(self, prev_query: str, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        """The single-request fast path: ``(indices int32 ascending, values float32)`` of the
        row ``transform([prev_query], [prefix])`` gives (to float32 rounding)."""
        args = getattr(self, "_prefix_args", None)
        if args is None:
            self._check_fitted()
        if not isinstance(prev_query, str) or not isinstance(prefix, str):
            raise TypeError(f"prev_query and prefix must be str, got "
                            f"{type(prev_query).__name__} and {type(prefix).__name__}")
        if not self._params.get("use_prefix", True):
            if not prev_query:
                return self._empty_query
            return self.query_featurizer_.transform_one(prev_query)
        if self._params["lowercase"]:
            prefix = prefix.lower()
        p_idx, p_val = _k.prefix_tfidf_one(
            np.frombuffer(prefix.encode("utf-32-le", "surrogatepass"), np.uint32), *args)
        if self.query_featurizer_ is None or not prev_query:
            q_idx, q_val = self._empty_query
        else:
            q_idx, q_val = self.query_featurizer_.transform_one(prev_query)
        return _k.hstack_one(q_idx, q_val, p_idx, p_val, self.n_query_features_)

    def label_embedding(self, labels: Sequence[str]) -> sp.csr_matrix:
        """The prefix vectorizer applied to label strings: CSR float32
        (n_labels, n_prefix_features_), rows l2-normalised (or all-zero)."""
        self._check_fitted()
        labels = check_texts(labels, "labels", item="label")
        P = self._prefix_block(labels)
        P.sort_indices()
        return P

    # -------------------------------------------------------------- persistence

    def save(self, folder: str | Path) -> None:
        """Write ``qac_vectorizer.json``, ``prefix_vocab.npz`` and ``query/`` (the query
        `TextFeaturizer`, when there is a query block) to ``folder``."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"kind": _KIND, "format_version": FORMAT_VERSION,
                  "params": {**self._params,
                             "char_ngram_range": list(self._params["char_ngram_range"])},
                  "n_docs": self.n_docs_, "has_query_block": self.query_featurizer_ is not None,
                  "n_prefix_features": self.n_prefix_features_}
        np.savez(folder / _ARRAYS_FILE, vocab=self.prefix_vocab_, df=self.prefix_df_)
        if self.query_featurizer_ is not None:
            self.query_featurizer_.save(folder / _QUERY_DIR)
        (folder / _CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> QACVectorizer:
        """Read a vectorizer written by `save`; a missing or damaged folder raises
        FileNotFoundError / ValueError naming it."""
        folder = Path(folder)
        config_path = folder / _CONFIG_FILE
        if not config_path.is_file():
            raise FileNotFoundError(f"{folder} is not a saved QACVectorizer: {_CONFIG_FILE} "
                                    "is missing")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{config_path} is damaged (not valid JSON): {exc}") from exc
        if not isinstance(config, dict) or config.get("kind") != _KIND:
            raise ValueError(f"{folder} does not hold a {_KIND!r}")
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{folder} has format_version {config.get('format_version')!r}; "
                             f"this code reads format_version {FORMAT_VERSION}")
        try:
            p = config["params"]
            self = cls(prefix_weighting=p["prefix_weighting"],
                       char_ngram_range=tuple(p["char_ngram_range"]), min_df=p["min_df"],
                       lowercase=p["lowercase"], use_prefix=p.get("use_prefix", True),
                       idf=p.get("idf", "pecos"))
            params = self._validated_params()
            n_docs = int(config["n_docs"])
            with np.load(folder / _ARRAYS_FILE, allow_pickle=False) as z:
                vocab, df = z["vocab"], z["df"]
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise ValueError(f"{folder} is damaged: {exc!r}") from exc
        if (vocab.dtype != np.uint64 or df.dtype != np.int64
                or vocab.size != config.get("n_prefix_features") or vocab.size != df.size):
            raise ValueError(f"{folder / _ARRAYS_FILE} is damaged: the prefix vocabulary does "
                             f"not match {_CONFIG_FILE}")
        query = TextFeaturizer.load(folder / _QUERY_DIR) if config.get("has_query_block") \
            else None
        self._set_state(params, n_docs, query, vocab, df)
        return self
