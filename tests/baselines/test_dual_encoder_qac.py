"""QACDualEncoder: request texts, prefix-filtered cosine ranking (the filter XMR uses), learning
session context on a tiny set, save/load, bad inputs."""

from __future__ import annotations

import random
from functools import cache

import numpy as np
import pytest
import torch
from _qac_sessions import PREFIX_LENGTHS, SESSIONS, tiny_rows
from sklearn.exceptions import NotFittedError

from baselines.dual_encoder import DualEncoder
from baselines.dual_encoder.qac import SEPARATOR, QACDualEncoder, request_text

SMALL = dict(n_buckets=2 ** 12, dim=32, hidden=32, batch_size=8, lr=1e-2, temperature=0.1,
             patience=30, n_threads=1)


@cache
def fitted() -> QACDualEncoder:
    return QACDualEncoder(DualEncoder(**SMALL, epochs=30, seed=0)).fit(
        *tiny_rows(copies=2), valid_fraction=0.0)


def cosine_reference(model: QACDualEncoder, prev: str, prefix: str, k: int) -> list[str]:
    """Brute force: encode with the batch path, score every label, keep the prefix's ones."""
    q = model.encoder.encode([request_text(prev, prefix)])[0]
    vecs = model.encoder.label_vectors_.numpy()
    scored = [(-float(vecs[i] @ q), lab) for i, lab in enumerate(model.labels_)
              if lab.startswith(prefix)]
    return [lab for _, lab in sorted(scored)[:k]]


def test_request_text_keeps_the_separator_a_word():
    assert request_text("cat litter", "ca") == f"cat litter {SEPARATOR} ca"
    assert SEPARATOR.isalnum()


def test_labels_are_the_sorted_distinct_next_queries():
    m = fitted()
    assert m.labels_ == sorted({q for _, q in SESSIONS})
    assert m.encoder.n_labels_ == len(m.labels_) and m.model_bytes_ > 0
    assert m.fit_time_s_ > 0


def test_ranks_the_prefix_candidates_by_cosine():
    m = fitted()
    rng = random.Random(0)
    for _ in range(30):
        prev, nxt = rng.choice(SESSIONS)
        prefix = nxt[:rng.randint(1, 3)] if rng.random() < 0.8 else rng.choice("cdpwz")
        k = rng.randint(1, 6)
        out = m.suggest(prev, prefix, k=k)
        assert all(s.startswith(prefix) for s in out) and len(out) <= k
        assert out == cosine_reference(m, prev, prefix, k)


def test_no_label_with_the_prefix_gives_no_suggestion():
    assert fitted().suggest("cat litter", "zz") == []


def test_learns_the_session_context():
    m = fitted()
    hits = [m.suggest(prev, nxt[:n])[0] == nxt for prev, nxt in SESSIONS
            for n in PREFIX_LENGTHS]
    assert np.mean(hits) >= 0.9, hits
    assert m.suggest("cat litter", "c")[0] == "cat food"
    assert m.suggest("iphone 12", "c")[0] == "case for iphone"


def test_save_load_gives_identical_suggestions(tmp_path):
    m = fitted()
    m.save(tmp_path / "de")
    back = QACDualEncoder.load(tmp_path / "de")
    assert back.labels_ == m.labels_
    assert torch.equal(back.encoder.label_vectors_, m.encoder.label_vectors_)
    for prev, nxt in SESSIONS:
        assert back.suggest(prev, nxt[:1]) == m.suggest(prev, nxt[:1])
    (tmp_path / "de" / "qac_labels.json").write_text("{}")
    with pytest.raises(ValueError, match="qac_labels.json is missing or damaged"):
        QACDualEncoder.load(tmp_path / "de")


def test_bad_inputs_get_clear_errors():
    m = fitted()
    with pytest.raises(ValueError, match="prefix is empty"):
        m.suggest("cat", "")
    with pytest.raises(TypeError, match="must be str, got int and str"):
        m.suggest(5, "c")
    with pytest.raises(ValueError, match="differ in length"):
        m.suggest_batch(["a"], ["b", "c"])
    with pytest.raises(NotFittedError, match="not fitted"):
        QACDualEncoder(DualEncoder()).suggest("a", "b")
    with pytest.raises(TypeError, match="encoder must be a DualEncoder"):
        QACDualEncoder(None).fit(["a"], ["b"], ["bc"])
    with pytest.raises(ValueError, match="next_queries is empty"):
        QACDualEncoder(DualEncoder()).fit([], [], [])
    with pytest.raises(ValueError, match="row 0: the prefix 'x'"):
        QACDualEncoder(DualEncoder()).fit(["a"], ["x"], ["bc"])
