"""Seeded synthetic search sessions for session-aware query autocompletion (Paper 2).

Real query logs are never shipped, so QAC experiments can fall back on this generator. It
returns the same :class:`~xmr.datasets.tasks.QACDataset` as :func:`xmr.datasets.aol.load_aol`:
(previous query, prefix of the next query) → next query, split by session time.

Generative story
----------------
1. **Words.** Pronounceable fake words built from syllables ("quildor", "brashen"), lowercase
   ascii, laid out on a ring. Topic ``t`` owns the ``_TOPIC_WIDTH`` words of the ring starting
   at ``t * _TOPIC_STRIDE``, so neighbouring topics (``t ± 1``) share half their words:
   topics are *related* when they are close on the ring. Inside a topic the words have
   Zipfian weights (1/rank over a topic-specific order). A few real modifiers ("for women",
   "cheap", "near me", "reviews", ...) are shared by every topic.
2. **Query vocabulary.** ``n_queries_vocab`` base queries, each in one topic (topic sizes are
   uneven, Dirichlet weights): 1-4 distinct topic words, and with probability 0.15 a
   modifier at the end. Duplicated texts are merged. Base-query popularity is Zipfian over a
   random ranking, ``p(rank r) ~ r ** -zipf_exponent``.
3. **Users** have 1-3 topics of interest (drawn by topic popularity). Each of their
   ``sessions_per_user`` sessions starts at a uniform random time in [0, 1) and on one of
   their interests, and has 1 + Geometric(0.5) queries (>= 2, mean 3; one-query sessions
   would give no example, as in AOL after preprocessing).
4. **Topic drift.** Query by query the session's topic stays (0.7) or moves to a
   neighbouring, related topic (0.15 each way).
5. **Next query.** The first query of a session is a *fresh* query: a base query of the
   current topic drawn by popularity. Each later query is, with probability
   ``reformulation_prob``, a **reformulation** of the previous one:
   specialise (0.4: add a topic word or a modifier, "running shoes" → "running shoes for
   women"; a query of 5+ words is generalised instead), generalise (0.2: drop the first or
   last word; a one-word query is specialised instead), or substitute (0.4: replace the last
   word with another word of the topic).
   Otherwise it is a fresh query of the (drifted) topic; a fresh query equal to the previous
   one is specialised instead, so no session repeats a query back to back (AOL's dedupe).
   A fresh query is misspelt with probability ``_TYPO_RATE`` (an adjacent swap or a dropped
   letter in one word of 4+ letters), and the query after a misspelt one is its correct
   spelling with probability ``_FIX_PROB`` (a **spelling fix**).
   So the previous query predicts the next beyond its prefix: reformulations share words with
   it, fresh queries share its (drifted) topic.
6. **Examples and splits.** Every consecutive (previous, next) pair of a session is one
   example; the prefix is ``next[:k]`` with ``k`` uniform in ``1..len(next)``, as in the AOL
   loader. A session goes to train / valid / test by its start time: [0, 0.8), [0.8, 0.9),
   [0.9, 1) (80/10/10 of the time range, like AOL's date ranges). Pairs are ordered by user,
   then session time, then position; each split keeps every pair's user and session number
   (``user_ids``, ``session_ids``).

Everything is drawn from ``np.random.default_rng(seed)``: the same arguments and seed give
the same dataset. ``info`` holds the arguments, counts (sessions, pairs per split, distinct
labels), the share of reformulations and of pairs whose queries share a word, and the time.
"""

from __future__ import annotations

import logging
import numbers
import time
from bisect import bisect_right
from itertools import accumulate

import numpy as np

from xmr._validation import check_int, check_seed
from xmr.datasets.tasks import QACDataset, QACSplit

logger = logging.getLogger(__name__)

# Syllable parts of the fake words (empty codas repeated: open syllables are more common).
_ONSETS = ("", "b", "bl", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k",
           "kl", "l", "m", "n", "p", "pl", "qu", "r", "s", "sh", "sl", "st", "t", "tr", "v",
           "w", "z")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y")
_CODAS = ("", "", "", "", "", "", "n", "r", "s", "l", "m", "x", "k", "nd", "st", "rt")
_SYLLABLES_P = (0.3, 0.55, 0.15)  # P(1, 2, 3 syllables) in a fake word
_MIN_WORD_LEN, _MAX_WORD_LEN = 3, 9  # fake words outside this length range are redrawn

# Real modifiers shared by every topic (specialisations a user adds to a query).
_MODIFIERS = ("for women", "for men", "for kids", "cheap", "near me", "reviews", "online",
              "free", "for sale", "pictures", "prices", "used", "new", "jobs", "coupons",
              "how to", "best", "2006", "lyrics", "recipes", "parts", "rentals")

_LONG_MODIFIERS = tuple(" " + m for m in _MODIFIERS if " " in m)  # " for women", ...

_TOPIC_STRIDE = 20  # ring offset between consecutive topics' word windows
_TOPIC_WIDTH = 40  # words per topic (2 × stride: neighbouring topics share half their words)
_MAX_TOPICS = 50_000  # 1M fake words at most
_TOPIC_DIRICHLET = 1.0  # concentration of the topic-size weights (uneven sizes)
_QUERY_LEN_P = (0.35, 0.4, 0.2, 0.05)  # P(1..4 topic words) in a base query
_MODIFIER_RATE = 0.15  # P(a base query ends with a modifier)
_INTERESTS_P = (0.4, 0.4, 0.2)  # P(1, 2, 3 topics of interest) for a user
_SESSION_GEOM_P = 0.5  # session length = 1 + Geometric(p): >= 2, mean 1 + 1/p = 3
_DRIFT_P = (0.15, 0.7, 0.15)  # topic step -1, 0, +1 per query
_OPS_P = (0.4, 0.2, 0.4)  # reformulation: specialise, generalise, substitute
_REFORM_WORD_EXPONENT = 0.5  # a reformulation picks topic word of rank r w.p. ~ r ** -0.5
_MAX_SPECIALISE = 5  # a query of this many words or more is generalised, not specialised
_SPECIALISE_MODIFIER = 0.3  # P(a specialisation adds a modifier rather than a topic word)
_TYPO_RATE = 0.04  # P(a fresh query is misspelt)
_FIX_PROB = 0.8  # P(the query after a misspelt one is its correct spelling)
_CHUNK = 100_000  # base queries per vectorised chunk (bounds memory; fixed for determinism)
_WALK_CHUNK = 250_000  # slots per block of random draws in the session walk (bounds memory)
_OVERLAP_SAMPLE = 100_000  # pairs sampled to estimate info["word_overlap_share"]
_SPLIT_TIMES = (0.8, 0.9)  # session start time < 0.8: train, < 0.9: valid, else test

SIZES: dict[str, dict] = {
    # unit tests: well under 0.5 s
    "tiny": dict(n_users=60, sessions_per_user=10, n_topics=8),
    # notebooks and smoke runs: 80k pairs, 27k labels, ~0.5 s
    "demo": dict(n_users=2_000, sessions_per_user=20, n_topics=100),
    # the default benchmark: 1.0M pairs, 263k labels (AOL subset × 8), ~6 s, 0.3 GB
    "bench": dict(n_users=25_000, sessions_per_user=20, n_topics=500),
    # scaling benchmarks only: 9.6M pairs, 2.2M labels, ~70 s, 3 GB peak
    "xl": dict(n_users=300_000, sessions_per_user=16, n_topics=5_000),
}


def make_qac_preset(name: str, *, seed: int = 0) -> QACDataset:
    """:func:`make_qac_sessions` with the sizes of one of :data:`SIZES` ("tiny", "demo",
    "bench", "xl")."""
    if not isinstance(name, str) or name not in SIZES:
        raise ValueError(f"name must be one of {sorted(SIZES)}, got {name!r}")
    return make_qac_sessions(**SIZES[name], seed=seed)


def fake_words(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct pronounceable lowercase fake words (1-3 syllables, 3-9 letters)."""
    words: dict[str, None] = {}
    while len(words) < n:
        m = 2 * (n - len(words)) + 16
        n_syl = (rng.choice(3, size=m, p=_SYLLABLES_P) + 1).tolist()
        parts = (rng.integers(0, len(_ONSETS), size=(m, 3)), rng.integers(0, len(_VOWELS),
                 size=(m, 3)), rng.integers(0, len(_CODAS), size=(m, 3)))
        o, v, c = (a.tolist() for a in parts)
        for i in range(m):
            w = "".join(_ONSETS[o[i][j]] + _VOWELS[v[i][j]] + _CODAS[c[i][j]]
                        for j in range(n_syl[i]))
            if _MIN_WORD_LEN <= len(w) <= _MAX_WORD_LEN:
                words.setdefault(w)
                if len(words) == n:
                    break
    return list(words)


def _check_prob(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return float(value)


def make_qac_sessions(
    *,
    n_users: int = 1000,
    sessions_per_user: int = 20,
    n_queries_vocab: int | None = None,
    n_topics: int = 50,
    zipf_exponent: float = 1.1,
    reformulation_prob: float = 0.5,
    seed: int = 0,
) -> QACDataset:
    """Draw synthetic QAC sessions (see the module docstring for the story).

    Parameters
    ----------
    n_users : int, >= 1
        Number of users.
    sessions_per_user : int, >= 1
        Sessions of each user (each has >= 2 queries, so >= 1 example).
    n_queries_vocab : int, >= n_topics, optional
        Base queries drawn before merging duplicate texts; default
        ``max(20 * n_topics, n_users * sessions_per_user)``.
    n_topics : int in [1, 50000]
        Number of topics (a ring of related topics; ``20 * n_topics`` fake words).
    zipf_exponent : float in (0, 10]
        Exponent of the base-query popularity ``p(rank r) ~ r ** -zipf_exponent``.
    reformulation_prob : float in [0, 1]
        Probability that a query after the first of its session reformulates the previous.
    seed : int, >= 0

    Returns
    -------
    QACDataset
        ``name`` "synthetic_qac"; splits "train", "valid", "test"; ``info`` as above.
    """
    n_users = check_int("n_users", n_users, minimum=1)
    sessions_per_user = check_int("sessions_per_user", sessions_per_user, minimum=1)
    n_topics = check_int("n_topics", n_topics, minimum=1)
    if n_topics > _MAX_TOPICS:
        raise ValueError(f"n_topics must be <= {_MAX_TOPICS}, got {n_topics}")
    if n_queries_vocab is None:
        n_queries_vocab = max(20 * n_topics, n_users * sessions_per_user)
    n_queries_vocab = check_int("n_queries_vocab", n_queries_vocab, minimum=n_topics)
    if isinstance(zipf_exponent, bool) or not isinstance(zipf_exponent, numbers.Real):
        raise TypeError(f"zipf_exponent must be a number, got {zipf_exponent!r}")
    if not 0.0 < float(zipf_exponent) <= 10.0:
        raise ValueError(f"zipf_exponent must be in (0, 10], got {zipf_exponent}")
    reformulation_prob = _check_prob("reformulation_prob", reformulation_prob)
    seed = check_seed("seed", seed)
    params = dict(n_users=n_users, sessions_per_user=sessions_per_user,
                  n_queries_vocab=n_queries_vocab, n_topics=n_topics,
                  zipf_exponent=float(zipf_exponent), reformulation_prob=reformulation_prob,
                  seed=seed)
    t_start = time.perf_counter()
    rng_words, rng_vocab, rng_users, rng_walk, rng_prefix = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))

    # 1. Words on a ring; topic t owns the window [t * stride, t * stride + width).
    n_words = max(_TOPIC_WIDTH, n_topics * _TOPIC_STRIDE)
    words = fake_words(rng_words, n_words)
    windows = (np.arange(n_topics)[:, None] * _TOPIC_STRIDE
               + rng_words.permuted(np.tile(np.arange(_TOPIC_WIDTH), (n_topics, 1)), axis=1)
               ) % n_words  # (n_topics, width): the topic's words, most frequent first
    word_w = 1.0 / np.arange(1, _TOPIC_WIDTH + 1)
    reform_w = word_w ** _REFORM_WORD_EXPONENT  # flatter: reformulations reach rarer words
    word_cdf = list(accumulate((reform_w / reform_w.sum()).tolist()))
    topic_words = [[words[j] for j in row] for row in windows.tolist()]

    # 2. Base queries: topic, 1-4 distinct topic words, maybe a modifier; Zipf popularity.
    queries, query_topic = _base_queries(rng_vocab, n_queries_vocab, n_topics, windows,
                                         words, word_w)
    n_base = len(queries)
    rank = rng_vocab.permutation(n_base)
    pop = (rank + 1.0) ** -float(zipf_exponent)
    topic_pop = np.bincount(query_topic, weights=pop, minlength=n_topics)

    # 3. Users, their interests and sessions (sessions sorted by time within a user).
    n_sessions = n_users * sessions_per_user
    n_int = rng_users.choice(3, size=n_users, p=_INTERESTS_P) + 1
    interests = rng_users.choice(n_topics, size=(n_users, 3), p=topic_pop / topic_pop.sum())
    s_user = np.repeat(np.arange(n_users), sessions_per_user)
    s_time = rng_users.random(n_sessions)
    order = np.lexsort((s_time, s_user))
    s_user, s_time = s_user[order], s_time[order]
    s_topic = interests[s_user, (rng_users.random(n_sessions) * n_int[s_user]).astype(np.int64)]
    s_len = rng_users.geometric(_SESSION_GEOM_P, size=n_sessions) + 1  # >= 2 queries

    # 4. Slots (one per query): topic walk with drift, fresh candidates by popularity.
    n_slots = int(s_len.sum())
    first = np.zeros(n_slots, dtype=bool)
    first[np.concatenate([[0], np.cumsum(s_len)[:-1]])] = True
    slot_session = np.cumsum(first) - 1
    drift = rng_walk.choice(3, size=n_slots, p=_DRIFT_P) - 1
    drift[first] = 0
    walk = np.cumsum(drift)
    walk -= walk[first][slot_session]  # cumulative drift within the session
    slot_topic = (s_topic[slot_session] + walk) % n_topics
    fresh = _draw_by_topic(rng_walk, slot_topic, query_topic, pop, n_topics)

    # 5. The sequential part: reformulations, typos and fixes, query by query.
    texts, reform_flags = _walk_sessions(rng_walk, first, slot_topic, fresh, queries,
                                         topic_words, word_cdf, reformulation_prob)

    # 6. Pairs, prefixes, splits by session start time.
    nxt = np.flatnonzero(~first)  # slot of each pair's next query; the previous is nxt - 1
    pair_split = np.searchsorted(np.array(_SPLIT_TIMES), s_time[slot_session[nxt]],
                                 side="right")
    splits = {}
    for code, name in enumerate(("train", "valid", "test")):
        idx = nxt[pair_split == code].tolist()
        next_q = [texts[i] for i in idx]
        prev_q = [texts[i - 1] for i in idx]
        u = rng_prefix.random(len(idx))
        lens = np.fromiter(map(len, next_q), dtype=np.int64, count=len(idx))
        ks = (np.floor(u * lens).astype(np.int64) + 1).tolist()
        session = slot_session[nxt[pair_split == code]]  # sessions are numbered in user order
        splits[name] = QACSplit(prev_queries=prev_q, prefixes=[q[:k] for q, k in zip(next_q, ks)],
                                next_queries=next_q, user_ids=s_user[session],
                                session_ids=session)
    n_pairs = len(nxt)
    sample = nxt[np.linspace(0, n_pairs - 1, min(n_pairs, _OVERLAP_SAMPLE)).astype(np.int64)]
    overlap = sum(1 for i in sample.tolist()
                  if not set(texts[i - 1].split()).isdisjoint(texts[i].split()))
    elapsed = time.perf_counter() - t_start
    info = {
        "params": params,
        "story": "synthetic QAC sessions (xmr.datasets.synthetic_qac)",
        "n_base_queries": n_base,
        "n_sessions": n_sessions,
        "sessions_per_split": {name: int(np.sum(np.searchsorted(
            np.array(_SPLIT_TIMES), s_time, side="right") == code))
            for code, name in enumerate(("train", "valid", "test"))},
        "pairs": {name: splits[name].n for name in splits},
        "pairs_total": n_pairs,
        "unique_next_queries": len({q for s in splits.values() for q in s.next_queries}),
        "reformulation_share": float(reform_flags[nxt].mean()),
        # pairs whose two queries share a word (on an evenly spaced sample of pairs)
        "word_overlap_share": overlap / len(sample),
        "seconds": round(elapsed, 3),
    }
    logger.info("synthetic QAC: %d sessions, %d pairs %s in %.1f s", n_sessions, n_pairs,
                info["pairs"], elapsed)
    return QACDataset(name="synthetic_qac", splits=splits, info=info)


def _base_queries(rng, n: int, n_topics: int, windows: np.ndarray, words: list[str],
                  word_w: np.ndarray) -> tuple[list[str], np.ndarray]:
    """``n`` base queries (fewer after merging duplicate texts) and their topics."""
    topic_w = rng.dirichlet(np.full(n_topics, _TOPIC_DIRICHLET))
    # every topic gets >= 1 query; the rest by topic weight
    topic = np.concatenate([np.arange(n_topics),
                            rng.choice(n_topics, size=n - n_topics, p=topic_w)])
    length = rng.choice(len(_QUERY_LEN_P), size=n, p=_QUERY_LEN_P) + 1
    # 4 positions per query drawn without repeats from the Zipfian topic words (Gumbel
    # top-k), in chunks of fixed size to bound memory
    word_ids = []
    for lo in range(0, n, _CHUNK):
        m = min(n, lo + _CHUNK) - lo
        keys = np.log(word_w)[None, :] + rng.gumbel(size=(m, _TOPIC_WIDTH))
        pos = np.argpartition(-keys, 4, axis=1)[:, :4]
        word_ids += np.take_along_axis(windows[topic[lo:lo + m]], pos, axis=1).tolist()
    modifier = np.where(rng.random(n) < _MODIFIER_RATE,
                        rng.integers(0, len(_MODIFIERS), size=n), -1).tolist()
    seen: dict[str, int] = {}
    kept_topic = []
    for i, (ids, k, m) in enumerate(zip(word_ids, length.tolist(), modifier)):
        text = " ".join([words[j] for j in ids[:k]])
        if m >= 0:
            text = f"{text} {_MODIFIERS[m]}"
        if text not in seen:
            seen[text] = i
            kept_topic.append(topic[i])
    return list(seen), np.array(kept_topic, dtype=np.int64)


def _draw_by_topic(rng, slot_topic: np.ndarray, query_topic: np.ndarray, pop: np.ndarray,
                   n_topics: int) -> np.ndarray:
    """One base query per slot, drawn by popularity among the slot topic's queries."""
    out = np.empty(len(slot_topic), dtype=np.int64)
    q_order = np.argsort(query_topic, kind="stable")
    q_bounds = np.searchsorted(query_topic[q_order], np.arange(n_topics + 1))
    s_order = np.argsort(slot_topic, kind="stable")
    s_bounds = np.searchsorted(slot_topic[s_order], np.arange(n_topics + 1))
    for t in range(n_topics):
        slots = s_order[s_bounds[t]:s_bounds[t + 1]]
        if len(slots) == 0:
            continue
        cand = q_order[q_bounds[t]:q_bounds[t + 1]]
        cdf = np.cumsum(pop[cand])
        pick = np.searchsorted(cdf, rng.random(len(slots)) * cdf[-1], side="right")
        out[slots] = cand[np.minimum(pick, len(cand) - 1)]
    return out


def _walk_sessions(rng, first: np.ndarray, slot_topic: np.ndarray, fresh: np.ndarray,
                   queries: list[str], topic_words: list[list[str]], word_cdf: list[float],
                   reformulation_prob: float) -> tuple[list[str], np.ndarray]:
    """The query text of every slot, and 1 where it reformulates (or fixes) the previous.
    Random numbers are drawn per block of ``_WALK_CHUNK`` slots cut at session starts (a
    fixed rule, so the output depends on the seed only) to bound memory."""
    n = len(first)
    starts = np.flatnonzero(first)
    cuts = starts[np.searchsorted(starts, np.arange(0, n, _WALK_CHUNK))].tolist() + [n]
    op_cdf = np.cumsum(_OPS_P) / np.sum(_OPS_P)
    cache: dict[str, str] = {}  # one object per distinct text
    texts: list[str] = [""] * n
    flags = np.zeros(n, dtype=np.uint8)
    prev = ""
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        if lo >= hi:
            continue
        m = hi - lo
        reform = (rng.random(m) < reformulation_prob).tolist()
        op = np.searchsorted(op_cdf, rng.random(m), side="right").tolist()
        u_word, u_mod, u_typo, u_fix, u_pos = (rng.random(m).tolist() for _ in range(5))
        first_l = first[lo:hi].tolist()
        topic_l = slot_topic[lo:hi].tolist()
        fresh_l = fresh[lo:hi].tolist()
        intended = None  # the correct spelling when the previous query was misspelt
        for i in range(m):
            q = None
            if first_l[i]:
                intended = None
            elif intended is not None and u_fix[i] < _FIX_PROB:
                q = intended  # spelling fix
            elif reform[i]:
                q = _reformulate(prev, op[i], topic_words[topic_l[i]], word_cdf, u_word[i],
                                 u_mod[i], u_pos[i])
            intended = None
            if q is None:
                q = queries[fresh_l[i]]
                if q == prev and not first_l[i]:
                    q = _reformulate(prev, 0, topic_words[topic_l[i]], word_cdf, u_word[i],
                                     u_mod[i], u_pos[i])
                elif u_typo[i] < _TYPO_RATE:
                    typo = _misspell(q, u_pos[i], u_word[i], u_mod[i])
                    if typo != q and typo != prev:
                        intended, q = q, typo
            else:
                flags[lo + i] = 1
            q = cache.setdefault(q, q)
            texts[lo + i] = prev = q
    return texts, flags


def _reformulate(prev: str, op: int, topic_words: list[str], word_cdf: list[float],
                 u_word: float, u_mod: float, u_pos: float) -> str:
    """Specialise (op 0), generalise (1) or substitute the last word (2); never ``prev``.
    A modifier at the end ("for women") counts as one word."""
    word = topic_words[min(bisect_right(word_cdf, u_word), len(topic_words) - 1)]
    mod = _MODIFIERS[int(u_mod * len(_MODIFIERS)) % len(_MODIFIERS)]
    head, _, last = prev.rpartition(" ")
    for m in _LONG_MODIFIERS:
        if prev.endswith(m):
            head, last = prev[:-len(m)], m[1:]
            break
    if op == 0 and prev.count(" ") + 1 >= _MAX_SPECIALISE:
        op = 1
    if op == 1 and head:  # generalise: drop the last or the first word
        return head if u_pos < 0.5 or last in _MODIFIERS else prev.partition(" ")[2]
    if op == 2:  # substitute the last word (a modifier by another modifier)
        new = mod if last in _MODIFIERS else word
        if new != last and new not in head:
            return f"{head} {new}" if head else new
    # specialise: add a modifier or a topic word the query does not have yet
    if u_pos < _SPECIALISE_MODIFIER and last not in _MODIFIERS and mod not in prev:
        return f"{prev} {mod}"
    if word not in prev.split(" "):
        return f"{word} {prev}" if u_pos > 0.8 or last in _MODIFIERS else f"{prev} {word}"
    for m in _MODIFIERS:
        if m not in prev:
            return f"{prev} {m}"
    return f"{prev} {word}"


def _misspell(q: str, u_pos: float, u_letter: float, u_kind: float) -> str:
    """Swap two adjacent letters or drop one letter in one word of 4+ letters."""
    ws = q.split(" ")
    long_words = [j for j, w in enumerate(ws) if len(w) >= 4]
    if not long_words:
        return q
    j = long_words[int(u_pos * len(long_words)) % len(long_words)]
    w = ws[j]
    p = 1 + int(u_letter * (len(w) - 2)) % (len(w) - 2)  # a letter inside the word
    ws[j] = w[:p] + w[p + 1] + w[p] + w[p + 2:] if u_kind < 0.5 else w[:p] + w[p + 1:]
    return " ".join(ws)

