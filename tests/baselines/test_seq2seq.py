"""Seq2SeqCompleter: character vocabulary, teacher-forced loss, prefix-constrained beam search
(never leaves the prefix, distinct, scores = the model's log-probabilities), learning a tiny
set of sessions, determinism, save/load, bad inputs."""

from __future__ import annotations

import json
import random
from functools import cache

import numpy as np
import pytest
import torch
from _qac_sessions import PREFIX_LENGTHS, SESSIONS, tiny_rows
from sklearn.exceptions import NotFittedError

from baselines.seq2seq import Seq2SeqCompleter
from baselines.seq2seq.decode import beam_complete
from baselines.seq2seq.train import batch_loss, batches
from baselines.seq2seq.vocab import BOS, EOS, N_SPECIAL, PAD, SEP, UNK, CharVocab, pad_batch

SMALL = dict(emb_dim=16, hidden=64, dropout=0.0, lr=1e-2, batch_size=16, n_threads=1)


@cache
def fitted() -> Seq2SeqCompleter:
    return Seq2SeqCompleter(**SMALL, epochs=25, seed=0).fit(*tiny_rows())


# ---------------------------------------------------------------------------- vocabulary
def test_vocab_layout():
    v = CharVocab.build(["abca", "bd"], min_count=2)  # c and d are seen once
    assert v.chars == ["a", "b"] and len(v) == N_SPECIAL + 2
    a, b = N_SPECIAL, N_SPECIAL + 1
    assert v.ids("abz") == [a, b, UNK]
    assert v.source("xab", "ba", max_prev_len=2, max_prefix_len=1) == [a, b, SEP, b]
    assert v.source("ab", "a", max_prev_len=0, max_prefix_len=5) == [SEP, a]
    assert v.target("ab", max_target_len=5) == [a, b, EOS]
    assert v.target("abab", max_target_len=3) == [a, b, a]  # cut, no EOS
    assert v.text([BOS, a, UNK, b, EOS, PAD]) == "ab"
    ids, lengths = pad_batch([[7, 8, 9], [5]])
    assert ids.tolist() == [[7, 8, 9], [5, PAD, PAD]] and lengths.tolist() == [3, 1]
    with pytest.raises(ValueError, match="distinct"):
        CharVocab(["a", "a"])


def test_length_bucketed_batches_cover_every_row_once():
    lengths = np.random.default_rng(0).integers(1, 40, size=1000)
    bs = batches(lengths, 32, np.random.default_rng(1))
    rows = np.concatenate(bs)
    assert sorted(rows.tolist()) == list(range(1000)) and max(b.size for b in bs) == 32


def test_teacher_forced_loss_ignores_padding():
    m = fitted()
    src = [m._source("cat litter", "c"), m._source("iphone 12", "ca")]
    tgt = [m.vocab_.target("cat food", max_target_len=48),
           m.vocab_.target("case for iphone", max_target_len=48)]
    with torch.no_grad():
        both = batch_loss(m.net_, src, tgt, torch.device("cpu"))
        one = batch_loss(m.net_, src[:1], tgt[:1], torch.device("cpu"))
        two = batch_loss(m.net_, src[1:], tgt[1:], torch.device("cpu"))
    n1, n2 = len(tgt[0]), len(tgt[1])  # token-weighted mean over the real positions
    assert float(both) == pytest.approx((float(one) * n1 + float(two) * n2) / (n1 + n2),
                                        rel=1e-5)


# ------------------------------------------------------------------------------ learning
def test_learns_a_tiny_set_of_sessions():
    m = fitted()
    assert m.history_[-1]["loss"] < m.history_[0]["loss"] / 4
    for prev, nxt in SESSIONS:
        for n in PREFIX_LENGTHS:
            out = m.suggest(prev, nxt[:n])
            assert out[0] == nxt, (prev, nxt[:n], out[:3])


def test_session_context_changes_the_suggestions():
    m = fitted()
    assert m.suggest("cat litter", "c")[0] == "cat food"
    assert m.suggest("iphone 12", "c")[0] == "case for iphone"
    assert m.suggest("cheap flights", "c")[0] == "car rental"


def test_beam_scores_are_the_models_log_probabilities():
    m = fitted()
    prev, prefix = "dog leash", "d"
    src = m._source(prev, prefix)
    found = beam_complete(m.net_, src, m.vocab_.ids(prefix), k=5, beam_size=10, max_len=48)
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True)
    with torch.no_grad():
        for ids, score in found:
            full = m.vocab_.ids(prefix) + ids + [EOS]
            tgt_in = torch.tensor([[BOS] + full[:-1]])
            logits = m.net_(torch.tensor([src]), torch.tensor([len(src)]), tgt_in)
            logp = torch.log_softmax(logits[0], -1)[torch.arange(len(full)), full]
            # the forced prefix's log-probability is a constant left out of the score
            assert float(logp[len(prefix):].sum()) == pytest.approx(score, abs=1e-4)


def test_constrained_decoding_never_leaves_the_prefix():
    """Property test over random prefixes (a seeded loop: hypothesis is not installed):
    known, unknown and special-looking characters, prefixes longer than max_target_len."""
    m = fitted()
    rng = random.Random(0)
    alphabet = "abcdefghijklmnopqrstuvwxyz 0123456789" + "éß#\t\n" + "ÿ中"
    for trial in range(60):
        prefix = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        if trial % 3 == 0:
            prev, nxt = rng.choice(SESSIONS)
            prefix = nxt[:rng.randint(1, len(nxt))]
        prev = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        k = rng.randint(1, 12)
        out = m.suggest(prev, prefix, k=k)
        assert len(out) <= k and len(set(out)) == len(out), (prefix, out)
        assert all(isinstance(s, str) and s.startswith(prefix) for s in out), (prefix, out)
        assert all(s == prefix or len(s) > len(prefix) for s in out)


def test_ten_distinct_completions():
    out = fitted().suggest("pasta recipes", "p", k=10)
    assert len(out) == 10 and len(set(out)) == 10 and all(s.startswith("p") for s in out)


def test_deterministic_and_seeded():
    rows = tiny_rows(copies=1)
    a = Seq2SeqCompleter(**SMALL, epochs=2, seed=3).fit(*rows)
    b = Seq2SeqCompleter(**SMALL, epochs=2, seed=3).fit(*rows)
    c = Seq2SeqCompleter(**SMALL, epochs=2, seed=4).fit(*rows)
    sa, sb, sc = a.net_.state_dict(), b.net_.state_dict(), c.net_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]


def test_early_stopping_on_validation_mrr():
    prev, pre, nxt = tiny_rows(copies=1)
    m = Seq2SeqCompleter(**SMALL, epochs=12, patience=1, valid_size=8, seed=0).fit(
        prev, pre, nxt, valid=(prev, pre, nxt))
    mrrs = [h["valid_mrr_at_10"] for h in m.history_]
    assert all(r is not None and 0.0 <= r <= 1.0 for r in mrrs)
    best = int(np.argmax(mrrs))
    assert m.best_epoch_ == best + 1
    if len(mrrs) < 12:  # stopped early: the epoch after the best was no better
        assert len(mrrs) == best + 2 and mrrs[-1] <= mrrs[best]


# ------------------------------------------------------------------------- persistence
def test_save_load_gives_identical_suggestions(tmp_path):
    m = fitted()
    m.save(tmp_path / "s2s")
    back = Seq2SeqCompleter.load(tmp_path / "s2s")
    assert back.get_params() == m.get_params() and back.vocab_.chars == m.vocab_.chars
    assert back.model_bytes_ == m.model_bytes_ and back.history_ == m.history_
    for prev, nxt in SESSIONS:
        for n in (1, 3):
            assert back.suggest(prev, nxt[:n]) == m.suggest(prev, nxt[:n])
    assert back.suggest("zzz", "q") == m.suggest("zzz", "q")


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Seq2SeqCompleter.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="seq2seq.json is missing"):
        Seq2SeqCompleter.load(tmp_path / "empty")
    fitted().save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "seq2seq.json").read_text())
    meta["params"]["hidden"] = 32  # weights no longer fit
    (tmp_path / "m" / "seq2seq.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="damaged Seq2SeqCompleter"):
        Seq2SeqCompleter.load(tmp_path / "m")


# --------------------------------------------------------------------------- bad input
def test_bad_inputs_get_clear_errors():
    m = fitted()
    with pytest.raises(ValueError, match="prefix is empty"):
        m.suggest("cat litter", "")
    with pytest.raises(TypeError, match="prev_query and prefix must be str, got NoneType"):
        m.suggest(None, "c")
    with pytest.raises(TypeError, match="must be str, got str and int"):
        m.suggest("cat", 3)
    with pytest.raises(ValueError, match="k must be >= 1"):
        m.suggest("cat", "c", k=0)
    with pytest.raises(TypeError, match=r"prev_queries must be a list.*wrap a single text"):
        m.suggest_batch("cat", "c")
    with pytest.raises(ValueError, match="differ in length"):
        m.suggest_batch(["a", "b"], ["c"])
    with pytest.raises(NotFittedError, match="not fitted"):
        Seq2SeqCompleter().suggest("a", "b")


def test_bad_training_data_and_params():
    ok = (["a b"], ["c"], ["cd"])
    with pytest.raises(ValueError, match="next_queries is empty"):
        Seq2SeqCompleter().fit([], [], [])
    with pytest.raises(TypeError, match=r"training prev_queries\[0\] must be a str"):
        Seq2SeqCompleter().fit([1], ["c"], ["cd"])
    with pytest.raises(ValueError, match="columns differ in length"):
        Seq2SeqCompleter().fit(["a", "b"], ["c"], ["cd"])
    with pytest.raises(ValueError, match="row 0: the prefix 'x' must be non-empty and start"):
        Seq2SeqCompleter().fit(["a"], ["x"], ["cd"])
    with pytest.raises(ValueError, match="row 0: the prefix '' must be non-empty"):
        Seq2SeqCompleter().fit(["a"], [""], ["cd"])
    with pytest.raises(TypeError, match="valid must be a"):
        Seq2SeqCompleter(**SMALL).fit(*ok, valid=["x"])
    with pytest.raises(ValueError, match="valid row 0"):
        Seq2SeqCompleter(**SMALL).fit(*ok, valid=(["a"], ["z"], ["cd"]))
    with pytest.raises(ValueError, match="hidden must be even"):
        Seq2SeqCompleter(hidden=33).fit(*ok)
    with pytest.raises(ValueError, match="dropout must be in"):
        Seq2SeqCompleter(dropout=1.0).fit(*ok)
    with pytest.raises(ValueError, match="device must be one of"):
        Seq2SeqCompleter(device="tpu").fit(*ok)
    with pytest.raises(TypeError, match="beam_size must be an integer"):
        Seq2SeqCompleter(beam_size=2.5).fit(*ok)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            Seq2SeqCompleter(device="cuda").fit(*ok)
