"""Text featurizer: texts -> CSR float32 N x D n-gram TF-IDF, rows l2-normalised.

The features of the paper (Paper 1 in ``PAPERS.md``): word n-grams plus character n-grams of
each word with the word END marked by ``#`` ("echo with screen" -> "ech", "cho", "ho#", "wit",
"ith", "th#", "scr", "cre", "ree", "een", "en#"), weighted by TF-IDF.

Tokens and n-grams: :mod:`xmr.features.tokenize` (runs of ``\\w``, lowercased; char n-grams
within each word, its end marked ``#``).

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
idf 0; a fit where every idf is 0 (N <= 2, or texts sharing every n-gram: every row would be
empty) raises ValueError. Note this idf is not sklearn's ``ln((1 + N) / (1 + df)) + 1``;
``idf="sklearn"`` selects that one instead (what qp2q's ``TfidfVectorizer`` uses). The tests
check the values against PECOS itself (peer tests).

Differences from PECOS, all deliberate: zero-valued entries are not stored (PECOS keeps them
as explicit zeros); tokens are runs of ``\\w`` after lowercasing (PECOS splits on spaces and
keeps case); char n-grams mark word ends with ``#`` (PECOS's ``char_wb`` pads both ends with a
space); ``max_features`` breaks df ties by hash (PECOS by n-gram length, then token ids); the
column numbering differs (hash order here, df order in PECOS).

The modules, one job each:

- :mod:`xmr.features.tokenize`: the word-character table, `word_ngrams` / `char_ngrams` (the
  readable twins of what the kernels hash, for debugging);
- :mod:`xmr.features.idf`: document frequencies -> vocabulary and idf;
- :mod:`xmr.features.text`: `TextFeaturizer` (a word block and a char block), its persistence;
- :mod:`xmr.features.per_order`: `PerOrderFeaturizer` (one block per order) and
  `load_featurizer`.
"""

from __future__ import annotations

from xmr.features.idf import IDF, check_idf
from xmr.features.per_order import PerOrderFeaturizer, load_featurizer
from xmr.features.text import FORMAT_VERSION, TextFeaturizer
from xmr.features.tokenize import char_ngrams, word_ngrams

__all__ = ["FORMAT_VERSION", "IDF", "PerOrderFeaturizer", "TextFeaturizer", "char_ngrams",
           "check_idf", "load_featurizer", "word_ngrams"]
