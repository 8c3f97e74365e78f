"""DualEncoder: hashed n-gram bags, the InfoNCE loss, exact search, training (loss goes down,
recall far above random, deterministic, early stopping), save/load, bad inputs."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.exceptions import NotFittedError

import baselines.dual_encoder.train as train_mod
from baselines.dual_encoder import DualEncoder
from baselines.dual_encoder.features import Bags, HashedNgrams
from baselines.dual_encoder.loss import InBatchNegativesLoss
from baselines.dual_encoder.search import exact_topk, topk_to_csr
from xmr.datasets.synthetic import make_product_search_preset
from xmr.features import char_ngrams, word_ngrams
from xmr.metrics import recall_at_k

SMALL = dict(n_buckets=2 ** 14, dim=32, hidden=64, batch_size=64, lr=3e-3, n_threads=1)


@cache
def tiny():
    return make_product_search_preset("tiny")


@cache
def fitted() -> DualEncoder:
    d = tiny()
    return DualEncoder(**SMALL, epochs=4, patience=4, seed=0).fit(
        d.train_texts, d.Y_train, label_texts=d.label_texts)


def same_csr(P, Q) -> bool:
    return (P.shape == Q.shape and np.array_equal(P.indptr, Q.indptr)
            and np.array_equal(P.indices, Q.indices) and np.array_equal(P.data, Q.data))


# ---------------------------------------------------------------------------- features
def test_hashed_ngrams_are_word_1_2_grams_and_char_trigrams():
    text = "Echo with screen"
    h = HashedNgrams(2 ** 10)
    ids = h.one(text)
    n = len(word_ngrams(text, (1, 2))) + len(char_ngrams(text, (3, 3)))
    assert n == 3 + 2 + 11 and ids.size == n
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < 2 ** 10
    assert np.array_equal(ids, HashedNgrams(2 ** 10).one("echo WITH screen"))  # lowercased
    assert h.one("!!").size == 0
    bags = h([text, "!!", "echo"])
    assert len(bags) == 3 and bags.offsets.tolist() == [0, 16, 16, 16 + 1 + 3]
    assert np.array_equal(bags.ids[:16], ids)


def test_bags_take():
    bags = Bags(np.arange(10, dtype=np.int64), np.array([0, 3, 3, 7, 10], np.int64))
    sub = bags.take(np.array([3, 0, 1, 3]))
    assert sub.offsets.tolist() == [0, 3, 6, 6, 9]
    assert sub.ids.tolist() == [7, 8, 9, 0, 1, 2, 7, 8, 9]


# ---------------------------------------------------------------------------- loss
def test_loss_is_cross_entropy_over_the_batch():
    torch.manual_seed(0)
    q = F.normalize(torch.randn(4, 8), dim=1)
    p = F.normalize(torch.randn(4, 8), dim=1)
    loss = InBatchNegativesLoss(temperature=0.1)(q, p)
    logits = (q @ p.T).numpy() / 0.1
    expected = np.mean([np.log(np.exp(logits[i]).sum()) - logits[i, i] for i in range(4)])
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_loss_ignore_and_hard_negatives():
    torch.manual_seed(1)
    q = F.normalize(torch.randn(3, 8), dim=1)
    p = F.normalize(torch.randn(3, 8), dim=1)
    hard = F.normalize(torch.randn(3, 2, 8), dim=2)
    fn = InBatchNegativesLoss(temperature=0.5)
    ignore = torch.zeros(3, 3, dtype=torch.bool)
    ignore[0, 1] = True
    ignore[2, 2] = True  # the diagonal is never ignored
    logits = (q @ p.T).numpy() / 0.5
    extra = torch.einsum("bd,bhd->bh", q, hard).numpy() / 0.5
    terms = []
    for i in range(3):
        row = [logits[i, j] for j in range(3) if not (i == 0 and j == 1)] + list(extra[i])
        terms.append(np.log(np.exp(row).sum()) - logits[i, i])
    got = fn(q, p, hard_negatives=hard, ignore=ignore)
    assert float(got) == pytest.approx(np.mean(terms), rel=1e-5)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        InBatchNegativesLoss(0.0)


# ---------------------------------------------------------------------------- search
def test_exact_topk_in_chunks_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    Q, P = torch.randn(37, 5, generator=g), torch.randn(23, 5, generator=g)
    full = (Q @ P.T).numpy()
    ids, scores = exact_topk(Q, P, 4, max_block_entries=50)  # 2 queries per chunk
    assert ids.shape == scores.shape == (37, 4)
    assert np.array_equal(ids, np.argsort(-full, axis=1)[:, :4])
    np.testing.assert_allclose(scores, -np.sort(-full, axis=1)[:, :4], rtol=1e-6)
    ids, _ = exact_topk(Q, P, 100)
    assert ids.shape == (37, 23)
    C = topk_to_csr(ids[:, :3], scores[:, :3], 23)
    assert C.shape == (37, 23) and C.nnz == 111 and C.has_sorted_indices
    with pytest.raises(ValueError, match="k must be >= 1"):
        exact_topk(Q, P, 0)


# ---------------------------------------------------------------------------- training
def test_loss_decreases_and_history():
    m = fitted()
    losses = [h["loss"] for h in m.history_]
    assert len(losses) == 4
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert all(0.0 <= h["valid_recall_at_10"] <= 1.0 and h["time_s"] > 0 for h in m.history_)
    assert m.best_epoch_ == int(np.argmax([h["valid_recall_at_10"] for h in m.history_])) + 1
    assert m.fit_time_s_ > 0 and m.n_labels_ == 200
    n_params = sum(p.numel() for p in m.net_.parameters())
    assert m.model_bytes_ == 4 * (n_params + 200 * 32)


def test_recall_far_above_random():
    d = tiny()
    P = fitted().predict(d.test_texts, topk=10)
    assert P.shape == (200, 200) and P.format == "csr" and P.dtype == np.float32
    assert np.all(np.diff(P.indptr) == 10)
    random_recall = 10 / 200
    assert recall_at_k(d.Y_test, P, 10) > 8 * random_recall


def test_label_id_tower_and_hard_negatives():
    d = tiny()
    m = DualEncoder(**SMALL, epochs=3, hard_negatives=2, seed=0).fit(d.train_texts, d.Y_train)
    assert not m.net_.label_text
    assert len(m.history_) == 3 and all(np.isfinite(h["loss"]) for h in m.history_)
    assert recall_at_k(d.Y_test, m.predict(d.test_texts), 10) > 4 * 10 / 200


def test_deterministic_on_cpu():
    d = tiny()
    again = DualEncoder(**SMALL, epochs=4, patience=4, seed=0).fit(
        d.train_texts, d.Y_train, label_texts=d.label_texts)
    assert [h["loss"] for h in again.history_] == [h["loss"] for h in fitted().history_]
    assert same_csr(again.predict(d.test_texts), fitted().predict(d.test_texts))


def test_early_stopping_restores_the_best_epoch(monkeypatch):
    d = tiny()
    texts, Y = d.train_texts[:300], d.Y_train[:300]
    one = DualEncoder(**SMALL, epochs=1, seed=2).fit(texts, Y, label_texts=d.label_texts)
    recalls = iter([0.5, 0.4, 0.45, 0.9])
    monkeypatch.setattr(train_mod, "valid_recall", lambda *args: next(recalls))
    m = DualEncoder(**SMALL, epochs=10, patience=2, seed=2).fit(texts, Y,
                                                                label_texts=d.label_texts)
    assert [h["valid_recall_at_10"] for h in m.history_] == [0.5, 0.4, 0.45]
    assert m.best_epoch_ == 1
    assert same_csr(m.predict(d.test_texts), one.predict(d.test_texts))


def test_no_validation_runs_every_epoch():
    d = tiny()
    m = DualEncoder(**SMALL, epochs=2, seed=0).fit(d.train_texts[:200], d.Y_train[:200],
                                                  valid_fraction=0.0)
    assert [h["valid_recall_at_10"] for h in m.history_] == [None, None]
    assert m.best_epoch_ == 2


def test_predict_one_matches_predict():
    d = tiny()
    m = fitted()
    P = m.predict(d.test_texts[:20], topk=5)
    for r in range(20):
        labels, scores = m.predict_one(d.test_texts[r], topk=5)
        assert labels.dtype == np.int64 and scores.dtype == np.float32
        row = P[r]
        order = np.argsort(-row.data, kind="stable")
        assert set(labels.tolist()) == set(row.indices.tolist())
        np.testing.assert_allclose(scores, row.data[order], atol=1e-5)


# ---------------------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path):
    d = tiny()
    m = fitted()
    m.save(tmp_path / "de")
    back = DualEncoder.load(tmp_path / "de")
    assert back.get_params() == m.get_params()
    assert back.history_ == m.history_ and back.best_epoch_ == m.best_epoch_
    assert back.model_bytes_ == m.model_bytes_
    assert same_csr(back.predict(d.test_texts), m.predict(d.test_texts))


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DualEncoder.load(tmp_path / "nope")
    with pytest.raises(ValueError, match="dual_encoder.json is missing"):
        DualEncoder.load(tmp_path)
    fitted().save(tmp_path / "de")
    meta_file = tmp_path / "de" / "dual_encoder.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "format_version": 0}))
    with pytest.raises(ValueError, match="format version 0"):
        DualEncoder.load(tmp_path / "de")
    meta_file.write_text(json.dumps({**meta, "format": "other"}))
    with pytest.raises(ValueError, match="not a DualEncoder model"):
        DualEncoder.load(tmp_path / "de")
    meta_file.write_text(json.dumps({**meta, "params": {**meta["params"], "dim": 16}}))
    with pytest.raises(ValueError, match="damaged"):
        DualEncoder.load(tmp_path / "de")
    meta_file.write_text(json.dumps(meta))
    np.save(tmp_path / "de" / "label_vectors.npy", np.zeros((3, 32), np.float32))
    with pytest.raises(ValueError, match="label_vectors.npy has shape"):
        DualEncoder.load(tmp_path / "de")


# ---------------------------------------------------------------------------- bad inputs
def test_predict_before_fit():
    with pytest.raises(NotFittedError, match="not fitted"):
        DualEncoder().predict(["a"])
    with pytest.raises(NotFittedError):
        DualEncoder().predict_one("a")
    with pytest.raises(NotFittedError):
        DualEncoder().save("unused")


def test_bad_inputs():
    d = tiny()
    Y = d.Y_train[:10]
    texts = d.train_texts[:10]
    with pytest.raises(ValueError, match="train_texts is empty"):
        DualEncoder(**SMALL).fit([], Y[:0])
    with pytest.raises(ValueError, match="same number of rows"):
        DualEncoder(**SMALL).fit(texts[:9], Y)
    with pytest.raises(TypeError, match="wrap a single text in a list"):
        DualEncoder(**SMALL).fit("one text", Y[:1])
    with pytest.raises(TypeError, match=r"train_texts\[1\] must be a str"):
        DualEncoder(**SMALL).fit(["a", 3] + texts[2:], Y)
    with pytest.raises(TypeError, match="scipy.sparse"):
        DualEncoder(**SMALL).fit(texts, Y.toarray())
    with pytest.raises(ValueError, match="one text per label"):
        DualEncoder(**SMALL).fit(texts, Y, label_texts=["x"] * 5)
    with pytest.raises(ValueError, match="no positive"):
        DualEncoder(**SMALL).fit(texts, sp.csr_matrix(Y.shape, dtype=np.float32))
    with pytest.raises(ValueError, match=r"valid_fraction must be in \[0, 1\)"):
        DualEncoder(**SMALL).fit(texts, Y, valid_fraction=1.0)
    m = fitted()
    with pytest.raises(ValueError, match="topk must be >= 1, got 0"):
        m.predict(["a"], topk=0)
    with pytest.raises(TypeError, match="text must be a str"):
        m.predict_one(["a"])
    assert m.predict([], topk=3).shape == (0, 200)


@pytest.mark.parametrize("param, value, match", [
    ("dim", 0, "dim must be >= 1, got 0"),
    ("temperature", 0.0, "temperature must be > 0.0"),
    ("lr", -1.0, "lr must be > 0.0"),
    ("batch_size", 1, "batch_size must be >= 2, got 1"),
    ("hard_negatives", -1, "hard_negatives must be >= 0"),
    ("device", "tpu", "device must be one of"),
    ("n_threads", 0, "n_threads must be >= 1"),
    ("epochs", 2.0, "epochs must be an integer"),
])
def test_bad_params(param, value, match):
    d = tiny()
    with pytest.raises((TypeError, ValueError), match=match):
        DualEncoder(**{**SMALL, param: value}).fit(d.train_texts[:10], d.Y_train[:10])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_fit_predict():
    d = tiny()
    m = DualEncoder(**SMALL, epochs=2, device="cuda").fit(d.train_texts, d.Y_train,
                                                         label_texts=d.label_texts)
    assert next(m.net_.parameters()).device.type == "cpu"  # kept on CPU between calls
    assert recall_at_k(d.Y_test, m.predict(d.test_texts), 10) > 8 * 10 / 200


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_requested_without_a_device():
    d = tiny()
    with pytest.raises(ValueError, match="torch sees no CUDA device"):
        DualEncoder(**SMALL, device="cuda").fit(d.train_texts[:10], d.Y_train[:10])
