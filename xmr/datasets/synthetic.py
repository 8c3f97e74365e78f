"""Seeded synthetic product-search data: the project's embedded default dataset.

Real query logs are never shipped, so every experiment can fall back on this generator. It
makes an extreme multilabel ranking (XMR) problem shaped like Paper 1's: queries are
instances, products are labels, relevance is 0/1.

Generative story
----------------
1. **Vocabulary.** ``vocab_size`` pronounceable fake words built from syllables (onset +
   vowel + coda, 1-3 syllables: "quildor", "brashen"), so character trigrams carry signal,
   plus ~10 % model codes ("kt-450", "x20"). The words are split into *head* words that
   topics draw from (30 %), *brands* (5 %) and a *tail* of rare words (the rest); frequent
   words tend to be shorter (head words are the shortest, up to noise). A fixed
   list of real English *generic* words (colours, sizes, "with", "for", "pro", ...) is shared
   by every topic.
2. **Topics** (categories). ``n_topics`` topics of uneven size (every topic has at least one
   product); each owns 50 head words with Zipfian weights (1/rank) and 8 brands (also 1/rank).
   Head words may belong to several topics.
3. **Products** (labels). Each product belongs to one topic and gets a title of 4-12 words:
   one brand of its topic, 1-3 distinctive tail words of its own (a model name: what tells
   products of one topic apart), 2-7 distinct topic words (weighted sampling without
   replacement) and 0-2 generic words, in that order ("zorvex kt-45 quilden bramo black").
   Popularity is Zipfian over a random ranking: ``p(rank r) ~ r ** -zipf_exponent``.
4. **Queries** (instances). A query picks its *source* product by popularity, then 1-5 words
   of its title without replacement, weighted by kind (distinctive 2.5, brand 1.2, topic 1,
   generic 0.25), kept in title order. With probability 0.25 it gains a noise word (a
   generic word, a word of the same topic, or a random head word) at its front or back.
   Typos then hit each word of 3+ characters with probability ``typo_rate``: an adjacent
   swap, a dropped or an inserted letter (uniformly).
5. **Relevance.** The source product is always positive. Extra positives come from 24+
   candidates drawn by popularity from the source's topic; only distinct candidates sharing
   at least one of the query's non-generic (pre-typo) words are eligible. They are taken in
   the order of a Plackett-Luce draw with weights ``popularity * exp(2 * shared words)`` (a
   click model: relevant and popular first). Their number is ``min(Poisson(rate),
   n_eligible)``, with ``rate`` calibrated per chunk of queries so that the mean number of
   positives is ``positives_per_query``. Targets above ~4 fall short where topics hold too
   few popular products matching a query ("bench": 5.7 for 6, 7.8 for 10); the realised
   mean is ``params["mean_positives"]``. Specific queries (a model name) have few
   positives, broad ones (a topic word) many.

Train and test queries are independent draws from the same distribution. Products are
shuffled once at the end, so label ids carry no topic order. Popular products have many
training queries; some tail products have none (counted in
``n_labels_without_train_positives``), as in real logs. Everything is drawn from
``np.random.default_rng``-style streams spawned from ``seed``: the same seed gives the same
texts and matrices.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from xmr._validation import check_int, check_seed

logger = logging.getLogger(__name__)

# Syllable parts of the fake words (empty codas repeated: open syllables are more common).
_ONSETS = ("", "b", "bl", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k",
           "kl", "l", "m", "n", "p", "pl", "qu", "r", "s", "sh", "sl", "st", "t", "tr", "v",
           "w", "z")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y")
_CODAS = ("", "", "", "", "n", "r", "s", "l", "m", "x", "k", "nd", "st", "rt")
_SYLLABLE_COUNT_P = (0.25, 0.6, 0.15)  # P(1, 2, 3 syllables) in a fake word
_CODE_FRACTION = 0.1  # share of the tail that are model codes ("kt-450")

# Real words shared by every topic: colours, sizes, connectives, marketing words.
_GENERIC_WORDS = (
    "black", "white", "red", "blue", "green", "grey", "silver", "gold", "pink", "purple",
    "brown", "beige", "navy", "clear", "small", "medium", "large", "xl", "mini", "compact",
    "2-pack", "3-pack", "4-pack", "6-pack", "12-pack", "12oz", "16oz", "32oz", "1l", "2l",
    "6ft", "10ft", "64gb", "128gb", "1tb", "set", "kit", "with", "for", "and", "of", "in",
    "pro", "plus", "max", "new", "kids", "men", "women", "portable", "wireless",
    "heavy-duty", "premium", "classic", "original", "refill", "replacement", "organic",
)

_BRAND_FRACTION = 0.05  # share of vocab_size used as brands
_HEAD_FRACTION = 0.3  # share of vocab_size topics draw their words from
_TOPIC_VOCAB = 50  # head words per topic (Zipfian weights 1/rank)
_TOPIC_BRANDS = 8  # brands per topic (Zipfian weights 1/rank)
_MIN_VOCAB = 200  # smallest vocab_size accepted
_MAX_POSITIVES = 50.0  # largest positives_per_query accepted

# Title layout: brand, distinctive words, topic words, generic words (at most _MAX_TITLE).
_MAX_TITLE = 12
_DISTINCT_P = (0.3, 0.45, 0.25)  # P(1, 2, 3 distinctive words)
_GENERIC_P = (0.4, 0.4, 0.2)  # P(0, 1, 2 generic words)
_TOPIC_MIN, _TOPIC_EXTRA = 2, 5  # topic words: 2 + Binomial(5, 0.5), capped by _MAX_TITLE

# Token kinds in a title; query word sampling weights per kind.
_PAD, _BRAND, _TOPIC, _DISTINCT, _GENERIC = 0, 1, 2, 3, 4
_KIND_WEIGHT = np.array([0.0, 1.2, 1.0, 2.5, 0.25])

# Queries.
_QUERY_LEN_P = (0.15, 0.3, 0.3, 0.15, 0.1)  # P(1..5 title words)
_MAX_QUERY = len(_QUERY_LEN_P) + 1  # title words + one noise word
_NOISE_RATE = 0.25  # P(query gains a noise word)
_NOISE_KIND_P = (0.5, 0.3, 0.2)  # noise word: generic, same-topic, random head word
_PREPEND_RATE = 0.3  # P(noise word goes in front rather than at the back)
_MIN_CANDIDATES = 24  # same-topic candidates per query for extra positives: at least ...
_MAX_CANDIDATES = 128  # ... and at most (8 per extra positive wanted, plus 8, in between)
_OVERLAP_WEIGHT = 2.0  # log-weight of each query word a candidate shares (vs log popularity)
_MAX_RATE = 1000.0  # cap on the calibrated Poisson rate of extra positives
_CHUNK = 50_000  # queries per vectorised chunk (bounds memory; fixed for determinism)
_PROGRESS_MIN = 500_000  # show a progress bar from this many queries

_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"), dtype=object)
_SENTINEL = "\n"  # marks the end of one text in the joined token stream

SIZES: dict[str, dict] = {
    # unit tests: well under 0.2 s
    "tiny": dict(n_products=200, n_train=1_000, n_test=200),
    # notebooks and smoke runs
    "demo": dict(n_products=5_000, n_train=20_000, n_test=2_000),
    # the default benchmark: exactly these counts
    "bench": dict(n_products=20_000, n_train=50_000, n_test=5_000),
    # scaling benchmarks only
    "xl": dict(n_products=1_000_000, n_train=2_000_000, n_test=20_000),
}


@dataclass
class ProductSearchData:
    """One synthetic XMR problem: query texts, product titles and 0/1 relevance.

    Attributes
    ----------
    train_texts, test_texts : list of str
        Queries, lowercase, space-separated words.
    Y_train, Y_test : scipy.sparse.csr_matrix, float32, shape (n_queries, n_products)
        1.0 where the product is relevant to the query; every row has >= 1 positive.
    label_texts : list of str, len n_products
        Product titles, non-empty.
    seed : int
        The seed the data was drawn with.
    label_topics : ndarray of int32, shape (n_products,)
        Topic (category) of each product.
    label_popularity : ndarray of float64, shape (n_products,)
        Probability that a query is generated from each product (sums to 1).
    train_sources, test_sources : ndarray of int32, shape (n_queries,)
        The product each query was generated from (always one of its positives).
    n_labels_without_train_positives : int
        Products with no positive in ``Y_train`` (a model learns nothing for them).
    params : dict
        The resolved generator arguments plus ``mean_positives`` (realised, train + test).
    """

    train_texts: list[str]
    Y_train: sp.csr_matrix
    test_texts: list[str]
    Y_test: sp.csr_matrix
    label_texts: list[str]
    seed: int
    label_topics: np.ndarray
    label_popularity: np.ndarray
    train_sources: np.ndarray
    test_sources: np.ndarray
    n_labels_without_train_positives: int
    params: dict = field(default_factory=dict)

    @property
    def n_products(self) -> int:
        return len(self.label_texts)


def make_product_search_preset(name: str, *, seed: int = 0) -> ProductSearchData:
    """``make_product_search`` with the sizes of one of ``SIZES`` ("tiny", "demo", ...)."""
    if not isinstance(name, str) or name not in SIZES:
        raise ValueError(f"name must be one of {sorted(SIZES)}, got {name!r}")
    return make_product_search(**SIZES[name], seed=seed)


def make_product_search(
    *,
    n_products: int = 20000,
    n_train: int = 50000,
    n_test: int = 5000,
    n_topics: int | None = None,
    vocab_size: int | None = None,
    positives_per_query: float = 3.0,
    typo_rate: float = 0.05,
    zipf_exponent: float = 1.1,
    seed: int = 0,
) -> ProductSearchData:
    """Draw a synthetic product-search XMR problem (see the module docstring for the story).

    Parameters
    ----------
    n_products : int, >= 2
        Number of products (labels).
    n_train, n_test : int, >= 1
        Number of train and test queries (instances).
    n_topics : int in [1, n_products], optional
        Number of topics (categories); default ``round(sqrt(n_products))``.
    vocab_size : int, >= 200, optional
        Number of fake words (brands, topic words, rare words, model codes); default
        ``n_products`` clipped to [2000, 300000].
    positives_per_query : float in [1, 50]
        Target mean number of relevant products per query. Reached up to ~4; larger
        targets fall short (extra positives must be popular-enough products of the query's
        topic that share a word with it).
    typo_rate : float in [0, 1)
        Probability that a query word of 3+ characters gets one typo.
    zipf_exponent : float, > 0
        Exponent of the Zipfian product popularity.
    seed : int, >= 0
        Seed of all random draws.

    Returns
    -------
    ProductSearchData
    """
    n_products = check_int("n_products", n_products, minimum=2)
    n_train = check_int("n_train", n_train, minimum=1)
    n_test = check_int("n_test", n_test, minimum=1)
    if n_topics is None:
        n_topics = max(1, round(math.sqrt(n_products)))
    n_topics = check_int("n_topics", n_topics, minimum=1)
    if n_topics > n_products:
        raise ValueError(f"n_topics must be in [1, n_products={n_products}], got {n_topics}")
    if vocab_size is None:
        vocab_size = int(np.clip(n_products, 2000, 300_000))
    vocab_size = check_int("vocab_size", vocab_size, minimum=_MIN_VOCAB)
    positives_per_query = _check_range(
        "positives_per_query", positives_per_query, 1.0, _MAX_POSITIVES,
        f"in [1, {_MAX_POSITIVES:g}]",
    )
    typo_rate = _check_range("typo_rate", typo_rate, 0.0, math.nextafter(1.0, 0.0), "in [0, 1)")
    zipf_exponent = _check_range("zipf_exponent", zipf_exponent, 0.0, math.inf, "finite and > 0")
    if zipf_exponent == 0.0:
        raise ValueError(f"zipf_exponent must be finite and > 0, got {zipf_exponent}")
    seed = check_seed("seed", seed)

    t0 = time.perf_counter()
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    rng_vocab, rng_topics, rng_titles, rng_queries, rng_typos, rng_shuffle = streams

    words, n_brand, n_head, n_tail = _make_vocabulary(rng_vocab, vocab_size)
    brand0 = len(_GENERIC_WORDS)  # token ids: generic | brands | head | tail | sentinel
    head0 = brand0 + n_brand
    tail0 = head0 + n_head
    sentinel = len(words) - 1

    topic_of, topic_words, topic_brands = _make_topics(
        rng_topics, n_products, n_topics, brand0, n_brand, head0, n_head
    )
    title_ids, title_kind = _make_titles(
        rng_titles, topic_of, topic_words, topic_brands, tail0, n_tail
    )
    rank = rng_titles.permutation(n_products)
    popularity = (rank + 1.0) ** -zipf_exponent
    popularity /= popularity.sum()

    n_queries = n_train + n_test
    query_ids, sources, pos_rows, pos_cols = _make_queries(
        rng_queries, n_queries, popularity, topic_of, topic_words, title_ids, title_kind,
        head0, n_head, positives_per_query,
    )
    query_texts = _join_texts(query_ids, words, sentinel, rng_typos, typo_rate)
    title_texts = _join_texts(title_ids, words, sentinel, None, 0.0)

    # Shuffle the products so that label ids carry no topic order.
    new_id = rng_shuffle.permutation(n_products).astype(np.int32)  # old id -> new id
    old_id = np.argsort(new_id)  # new id -> old id
    label_texts = [title_texts[i] for i in old_id]
    Y = sp.csr_matrix(
        (np.ones(len(pos_cols), dtype=np.float32), (pos_rows, new_id[pos_cols])),
        shape=(n_queries, n_products),
    )
    Y.sort_indices()
    Y_train, Y_test = Y[:n_train], Y[n_train:]
    n_without = int(n_products - np.count_nonzero(np.diff(Y_train.tocsc().indptr)))
    sources = new_id[sources]

    params = dict(
        n_products=n_products, n_train=n_train, n_test=n_test, n_topics=n_topics,
        vocab_size=vocab_size, positives_per_query=positives_per_query, typo_rate=typo_rate,
        zipf_exponent=zipf_exponent, seed=seed, mean_positives=float(Y.nnz / n_queries),
    )
    logger.info(
        "synthetic product search: %d products, %d/%d queries, %.2f positives/query, "
        "%d products without train positives, %.1fs",
        n_products, n_train, n_test, params["mean_positives"], n_without,
        time.perf_counter() - t0,
    )
    return ProductSearchData(
        train_texts=query_texts[:n_train],
        Y_train=Y_train,
        test_texts=query_texts[n_train:],
        Y_test=Y_test,
        label_texts=label_texts,
        seed=seed,
        label_topics=topic_of[old_id].astype(np.int32),
        label_popularity=popularity[old_id],
        train_sources=sources[:n_train],
        test_sources=sources[n_train:],
        n_labels_without_train_positives=n_without,
        params=params,
    )


def _check_range(name: str, value, low: float, high: float, allowed: str) -> float:
    """A finite real in [low, high], with a message naming ``allowed``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not (low <= value <= high) or math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return value


def _make_vocabulary(rng: np.random.Generator, vocab_size: int):
    """Token table: generic words, then brands, head words, tail words (incl. codes), then
    the sentinel. Returns (words as an object array, n_brand, n_head, n_tail)."""
    n_brand = max(10, int(_BRAND_FRACTION * vocab_size))
    n_head = max(_TOPIC_VOCAB + 10, int(_HEAD_FRACTION * vocab_size))
    n_tail = vocab_size - n_brand - n_head
    n_code = int(_CODE_FRACTION * n_tail)
    fake = _fake_words(rng, vocab_size - n_code, exclude=set(_GENERIC_WORDS))
    # Shorter words first (noisily): head words, then brands, then the tail.
    noisy_len = np.array([len(w) for w in fake]) + rng.normal(0.0, 2.0, size=len(fake))
    fake = [fake[i] for i in np.argsort(noisy_len, kind="stable")]
    fake = fake[n_head: n_head + n_brand] + fake[:n_head] + fake[n_head + n_brand:]
    codes = _model_codes(rng, n_code)
    words = np.empty(len(_GENERIC_WORDS) + vocab_size + 1, dtype=object)
    words[: len(_GENERIC_WORDS)] = _GENERIC_WORDS
    words[len(_GENERIC_WORDS): len(_GENERIC_WORDS) + len(fake)] = fake
    words[len(_GENERIC_WORDS) + len(fake): -1] = codes
    words[-1] = _SENTINEL
    # Codes sit at the end of the tail: shuffle the tail so they mix with the rare words.
    tail = slice(len(_GENERIC_WORDS) + n_brand + n_head, len(words) - 1)
    words[tail] = words[tail][rng.permutation(n_tail)]
    return words, n_brand, n_head, n_tail


def _fake_words(rng: np.random.Generator, n: int, *, exclude: set[str]) -> list[str]:
    """``n`` distinct pronounceable fake words of 3-12 letters, in random order."""
    syllables = np.array(
        sorted({o + v + c for o in _ONSETS for v in _VOWELS for c in _CODAS}), dtype=object
    )
    found: dict[str, None] = {}
    while len(found) < n:
        m = int(1.5 * (n - len(found))) + 64
        k = rng.choice(3, size=m, p=_SYLLABLE_COUNT_P)  # syllables - 1
        s = syllables[rng.integers(len(syllables), size=(3, m))]
        cand = s[0] + np.where(k >= 1, s[1], "") + np.where(k >= 2, s[2], "")
        for w in cand.tolist():
            if 3 <= len(w) <= 12 and w not in exclude:
                found[w] = None
    return list(found)[:n]


def _model_codes(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct model codes: 1-2 letters, an optional dash, 1-4 digits ("kt-450")."""
    found: dict[str, None] = {}
    while len(found) < n:
        m = int(1.5 * (n - len(found))) + 64
        n_letters = rng.integers(1, 3, size=m)
        letters = _LETTERS[rng.integers(26, size=(2, m))]
        prefix = letters[0] + np.where(n_letters == 2, letters[1], "")
        dash = np.where(rng.random(m) < 0.4, "-", "")
        digits = rng.integers(0, 10 ** rng.integers(1, 5, size=m)).astype(str).astype(object)
        for w in (prefix + dash + digits).tolist():
            found[w] = None
    return list(found)[:n]


def _make_topics(rng, n_products, n_topics, brand0, n_brand, head0, n_head):
    """Topic of each product (products sorted by topic), each topic's words and brands.

    Returns topic_of (n_products,) int32, topic_words (n_topics, _TOPIC_VOCAB) int32 token
    ids and topic_brands (n_topics, _TOPIC_BRANDS) int32 token ids, both in Zipf rank order.
    """
    # Uneven topic sizes: 1 + multinomial with log-normal weights.
    weights = rng.lognormal(0.0, 0.75, size=n_topics)
    sizes = 1 + rng.multinomial(n_products - n_topics, weights / weights.sum())
    topic_of = np.repeat(np.arange(n_topics, dtype=np.int32), sizes)
    k_words = min(_TOPIC_VOCAB, n_head)
    k_brands = min(_TOPIC_BRANDS, n_brand)
    topic_words = np.empty((n_topics, k_words), dtype=np.int32)
    topic_brands = np.empty((n_topics, k_brands), dtype=np.int32)
    for t in range(n_topics):
        topic_words[t] = head0 + rng.choice(n_head, size=k_words, replace=False)
        topic_brands[t] = brand0 + rng.choice(n_brand, size=k_brands, replace=False)
    return topic_of, topic_words, topic_brands


def _zipf_cdf(k: int) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1)
    return np.cumsum(w) / w.sum()


def _distinct_draws(rng, n_rows: int, k: int, n: int) -> np.ndarray:
    """(n_rows, k) ints in [0, n), distinct within a row (needs n > 2 * k)."""
    out = rng.integers(n, size=(n_rows, k))
    for j in range(1, k):
        while True:
            clash = (out[:, :j] == out[:, j: j + 1]).any(axis=1)
            if not clash.any():
                break
            out[clash, j] = rng.integers(n, size=int(clash.sum()))
    return out


def _make_titles(rng, topic_of, topic_words, topic_brands, tail0, n_tail):
    """Padded titles: token ids (n_products, _MAX_TITLE) int32 (-1 = pad) and kinds (int8)."""
    n = len(topic_of)
    n_dist = 1 + rng.choice(3, size=n, p=_DISTINCT_P)
    n_gen = rng.choice(3, size=n, p=_GENERIC_P)
    n_top = _TOPIC_MIN + rng.binomial(_TOPIC_EXTRA, 0.5, size=n)
    n_top = np.minimum(n_top, _MAX_TITLE - 1 - n_dist - n_gen)
    n_top = np.minimum(n_top, topic_words.shape[1])

    brand_rank = np.searchsorted(_zipf_cdf(topic_brands.shape[1]), rng.random(n), side="right")
    brand = topic_brands[topic_of, np.minimum(brand_rank, topic_brands.shape[1] - 1)]
    dist = tail0 + _distinct_draws(rng, n, 3, n_tail)
    gen = _distinct_draws(rng, n, 2, len(_GENERIC_WORDS))

    # Topic words without replacement, weighted 1/rank: Gumbel top-k, chunked.
    k_top = _TOPIC_MIN + _TOPIC_EXTRA
    log_w = -np.log(np.arange(1, topic_words.shape[1] + 1, dtype=np.float32))
    top = np.empty((n, k_top), dtype=np.int32)
    for lo in range(0, n, _CHUNK * 4):
        hi = min(n, lo + _CHUNK * 4)
        keys = log_w + rng.gumbel(size=(hi - lo, len(log_w))).astype(np.float32)
        best = np.argsort(-keys, axis=1)[:, :k_top]
        top[lo:hi] = topic_words[topic_of[lo:hi, None], best]

    # Lay out [brand | 3 distinctive | 7 topic | 2 generic], then pack the used slots left.
    ids = np.concatenate([brand[:, None], dist, top, gen], axis=1).astype(np.int32)
    kind = np.repeat(
        np.array([_BRAND] + [_DISTINCT] * 3 + [_TOPIC] * k_top + [_GENERIC] * 2, np.int8)[None],
        n, axis=0,
    )
    slot = np.arange(ids.shape[1])
    used = np.ones_like(ids, dtype=bool)
    used[:, 1:4] = slot[1:4] < 1 + n_dist[:, None]
    used[:, 4: 4 + k_top] = slot[4: 4 + k_top] < 4 + n_top[:, None]
    used[:, 4 + k_top:] = slot[4 + k_top:] < 4 + k_top + n_gen[:, None]
    order = np.argsort(~used, axis=1, kind="stable")[:, :_MAX_TITLE]
    packed_used = np.take_along_axis(used, order, axis=1)
    title_ids = np.where(packed_used, np.take_along_axis(ids, order, axis=1), -1)
    title_kind = np.where(packed_used, np.take_along_axis(kind, order, axis=1), _PAD)
    return title_ids.astype(np.int32), title_kind.astype(np.int8)


def _make_queries(rng, n_queries, popularity, topic_of, topic_words, title_ids, title_kind,
                  head0, n_head, positives_per_query):
    """Query token ids (n_queries, _MAX_QUERY) int32 (-1 = pad, pre-typo), the source
    product of each query, and the positives as (row, product) pairs (products in
    generation order)."""
    n_generic = len(_GENERIC_WORDS)
    title_len = (title_ids >= 0).sum(axis=1)
    cum = np.concatenate([[0.0], np.cumsum(popularity)])  # cum[i] = popularity[:i].sum()
    topic_start = np.searchsorted(topic_of, np.arange(topic_of[-1] + 2))
    lam = positives_per_query - 1.0
    n_cand = int(np.clip(8 * math.ceil(lam) + 8, _MIN_CANDIDATES, _MAX_CANDIDATES))
    weight = _KIND_WEIGHT.astype(np.float32)
    log_pop = np.log(popularity)

    query_ids = np.full((n_queries, _MAX_QUERY), -1, dtype=np.int32)
    sources = np.empty(n_queries, dtype=np.int32)
    rows, cols = [], []
    chunks = range(0, n_queries, _CHUNK)
    for lo in tqdm(chunks, desc="synthetic queries", disable=n_queries < _PROGRESS_MIN):
        hi = min(n_queries, lo + _CHUNK)
        n = hi - lo
        src = _searchsorted(cum, rng.random(n) * cum[-1]) - 1
        src = np.clip(src, 0, len(popularity) - 1).astype(np.int32)
        tid, tkind = title_ids[src], title_kind[src]

        # Title words without replacement, weighted by kind (exponential race), in title order.
        m = np.minimum(1 + rng.choice(len(_QUERY_LEN_P), size=n, p=_QUERY_LEN_P),
                       title_len[src])
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=(n, _MAX_TITLE)).astype(np.float32) / weight[tkind]
        first = np.argsort(keys, axis=1)[:, : _MAX_QUERY - 1]
        pos = np.where(np.arange(_MAX_QUERY - 1) < m[:, None], first, _MAX_TITLE)
        pos.sort(axis=1)
        picked = np.where(pos < _MAX_TITLE,
                          np.take_along_axis(tid, np.minimum(pos, _MAX_TITLE - 1), axis=1), -1)

        # Optional noise word, in front or at the back.
        noise_kind = rng.choice(3, size=n, p=_NOISE_KIND_P)
        noise = np.select(
            [noise_kind == 0, noise_kind == 1],
            [rng.integers(n_generic, size=n),
             topic_words[topic_of[src], rng.integers(topic_words.shape[1], size=n)]],
            head0 + rng.integers(n_head, size=n),
        )
        has_noise = rng.random(n) < _NOISE_RATE
        front = has_noise & (rng.random(n) < _PREPEND_RATE)
        back = has_noise & ~front
        q = np.full((n, _MAX_QUERY), -1, dtype=np.int32)
        q[:, :-1] = picked
        q[front, 1:] = picked[front]
        q[front, 0] = noise[front]
        q[np.flatnonzero(back), m[back]] = noise[back]
        query_ids[lo:hi] = q
        sources[lo:hi] = src

        # Extra positives: candidates drawn by popularity inside the source's topic; the
        # distinct ones sharing a content word, in the order of a Plackett-Luce draw with
        # log-weight  _OVERLAP_WEIGHT * shared words + log popularity.
        t = topic_of[src]
        lo_t, hi_t = topic_start[t, None], topic_start[t + 1, None]
        u = cum[lo_t] + rng.random((n, n_cand)) * (cum[hi_t] - cum[lo_t])
        cand = np.clip(_searchsorted(cum, u) - 1, lo_t, hi_t - 1)
        cand.sort(axis=1)
        invalid = cand == src[:, None]
        invalid[:, 1:] |= cand[:, 1:] == cand[:, :-1]
        content = np.where(q >= n_generic, q, -1)  # (n, _MAX_QUERY) non-generic words
        cand_titles = title_ids[cand]  # (n, n_cand, _MAX_TITLE)
        overlap = np.zeros((n, n_cand), dtype=np.int16)  # shared words
        for j in range(_MAX_QUERY):
            has = np.flatnonzero(content[:, j] >= 0)
            same = cand_titles[has] == content[has, j, None, None]
            overlap[has] += same.any(axis=2)
        overlap[invalid] = 0
        score = _OVERLAP_WEIGHT * overlap + log_pop[cand] + rng.gumbel(size=(n, n_cand))
        order = np.argsort(-score, axis=1)
        cand = np.take_along_axis(cand, order, axis=1)
        overlap = np.take_along_axis(overlap, order, axis=1)
        eligible = overlap >= 1
        rate = _calibrated_rate(eligible.sum(axis=1), n * lam) if lam > 0 else 0.0
        k = np.minimum(rng.poisson(rate, size=n), n_cand)
        take = eligible & (np.cumsum(eligible, axis=1) <= k[:, None])
        r, c = np.nonzero(take)
        rows.append(np.concatenate([np.arange(lo, hi), lo + r]))
        cols.append(np.concatenate([src, cand[r, c]]))
    return query_ids, sources, np.concatenate(rows), np.concatenate(cols)


def _searchsorted(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cdf, u, side="right")``, several times faster on a large ``cdf``
    (sorted needles walk it in order instead of missing the cache)."""
    flat = u.ravel()
    order = np.argsort(flat)
    out = np.empty(flat.size, dtype=np.int64)
    out[order] = np.searchsorted(cdf, flat[order], side="right")
    return out.reshape(u.shape)


def _calibrated_rate(n_eligible: np.ndarray, target: float) -> float:
    """Poisson rate ``r`` with ``sum_q E[min(Poisson(r), n_eligible[q])] == target``, so
    that the capped draws still average ``target / len(n_eligible)`` (the largest rate
    tried, ``_MAX_RATE``, when even taking every eligible candidate falls short)."""
    counts = np.bincount(n_eligible)
    n_above = len(n_eligible) - np.cumsum(counts)[:-1]  # n_above[j] = #{q: n_eligible > j}
    j = np.arange(len(n_above))

    log_factorial = np.array([math.lgamma(i + 1.0) for i in j])

    def expected(rate: float) -> float:  # E[min(K, e)] = sum_{j < e} P(K > j)
        log_pmf = j * math.log(max(rate, 1e-300)) - rate - log_factorial
        survival = np.clip(1.0 - np.cumsum(np.exp(log_pmf)), 0.0, 1.0)
        return float((survival * n_above).sum())

    if expected(_MAX_RATE) <= target:
        return _MAX_RATE
    lo, hi = 0.0, _MAX_RATE
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if expected(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


def _join_texts(ids: np.ndarray, words: np.ndarray, sentinel: int,
                rng: np.random.Generator | None, typo_rate: float) -> list[str]:
    """Texts from padded token ids (n, width) (-1 = pad), with optional typos.

    One join and one split over the whole stream, rather than one join per text.
    """
    n, width = ids.shape
    length = (ids >= 0).sum(axis=1)
    stream = np.full((n, width + 1), -1, dtype=np.int32)
    stream[:, :width] = ids
    stream[np.arange(n), length] = sentinel
    stream = stream.ravel()
    stream = stream[stream >= 0][:-1]  # no sentinel after the last text
    tokens = words[stream]
    if rng is not None and typo_rate > 0:
        is_word = stream != sentinel
        hit = np.flatnonzero(is_word & (rng.random(len(stream)) < typo_rate))
        op = rng.integers(3, size=len(hit))
        where = rng.random(len(hit))
        letter = _LETTERS[rng.integers(26, size=len(hit))]
        tokens[hit] = [
            _typo(w, o, x, ch)
            for w, o, x, ch in zip(tokens[hit].tolist(), op.tolist(), where.tolist(),
                                   letter.tolist())
        ]
    texts = " ".join(tokens.tolist()).split(f" {_SENTINEL} ")
    assert len(texts) == n
    return texts


def _typo(word: str, op: int, where: float, letter: str) -> str:
    """One typo in ``word`` (3+ characters; shorter words are returned unchanged):
    op 0 swaps two adjacent characters, 1 drops one, 2 inserts ``letter``."""
    n = len(word)
    if n < 3:
        return word
    if op == 0:
        i = int(where * (n - 1))
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == 1:
        i = int(where * n)
        return word[:i] + word[i + 1:]
    i = int(where * (n + 1))
    return word[:i] + letter + word[i:]
