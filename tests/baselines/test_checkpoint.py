"""Per-epoch checkpoints of the torch baselines (baselines._checkpoint): a training stopped
after an epoch resumes at the next one and ends with exactly what an uninterrupted training
gives (weights, history, suggestions); a finished checkpoint restores without training;
another training's or a damaged checkpoint is refused with a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _qac_sessions import tiny_rows

import baselines.dual_encoder.train as de_train
import baselines.seq2seq.train as s2s_train
from baselines._checkpoint import EpochCheckpoint, data_digest
from baselines._errors import CheckpointError
from baselines.dual_encoder import DualEncoder
from baselines.seq2seq import Seq2SeqCompleter
from xmr.datasets.synthetic import make_product_search_preset

S2S = dict(emb_dim=16, hidden=32, dropout=0.2, lr=1e-2, batch_size=16, n_threads=1,
           epochs=4, patience=4)  # dropout on: torch's random stream must be restored
DE = dict(n_buckets=2 ** 12, dim=16, hidden=32, batch_size=64, lr=3e-3, n_threads=1,
          epochs=3, patience=3, hard_negatives=2)  # mined negatives carried across


class Stopped(Exception):
    """Stands for a kill right after an epoch's checkpoint was written."""


def stop_after(monkeypatch, n_epochs: int) -> None:
    real = EpochCheckpoint.save

    def save(self, state):
        real(self, state)
        if len(state["history"]) == n_epochs:
            raise Stopped

    monkeypatch.setattr(EpochCheckpoint, "save", save)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def without_time(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time_s"} for r in history]


def test_seq2seq_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    rows, valid = tiny_rows(), tiny_rows(1)
    whole = Seq2SeqCompleter(**S2S, seed=3).fit(*rows, valid=valid)
    ckpt = tmp_path / "s2s.pt"
    with monkeypatch.context() as m:
        stop_after(m, 2)
        with pytest.raises(Stopped):
            Seq2SeqCompleter(**S2S, seed=3).fit(*rows, valid=valid, checkpoint=ckpt)
    resumed = Seq2SeqCompleter(**S2S, seed=3).fit(*rows, valid=valid, checkpoint=ckpt)
    assert len(resumed.history_) == 4
    assert without_time(resumed.history_) == without_time(whole.history_)
    assert resumed.best_epoch_ == whole.best_epoch_
    assert same_weights(resumed.net_, whole.net_)
    assert resumed.suggest("cat litter", "c") == whole.suggest("cat litter", "c")
    # the restored epochs' seconds are counted, not lost
    assert resumed.fit_time_s_ >= sum(r["time_s"] for r in resumed.history_[:2])

    # finished: a fit with the same checkpoint restores the result without a training step
    def no_step(*args, **kwargs):
        raise AssertionError("a finished checkpoint trained again")

    monkeypatch.setattr(s2s_train, "batch_loss", no_step)
    again = Seq2SeqCompleter(**S2S, seed=3).fit(*rows, valid=valid, checkpoint=ckpt)
    assert same_weights(again.net_, whole.net_)


def test_dual_encoder_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    d = make_product_search_preset("tiny")
    args = (d.train_texts, d.Y_train)
    whole = DualEncoder(**DE, seed=1).fit(*args, label_texts=d.label_texts)
    ckpt = tmp_path / "de.pt"
    with monkeypatch.context() as m:
        stop_after(m, 1)
        with pytest.raises(Stopped):
            DualEncoder(**DE, seed=1).fit(*args, label_texts=d.label_texts, checkpoint=ckpt)
    resumed = DualEncoder(**DE, seed=1).fit(*args, label_texts=d.label_texts,
                                            checkpoint=ckpt)
    assert without_time(resumed.history_) == without_time(whole.history_)
    assert same_weights(resumed.net_, whole.net_)
    assert torch.equal(resumed.label_vectors_, whole.label_vectors_)
    P, Q = resumed.predict(d.test_texts[:50], topk=5), whole.predict(d.test_texts[:50], topk=5)
    assert np.array_equal(P.indices, Q.indices)

    monkeypatch.setattr(de_train, "_mine", lambda *a, **k: pytest.fail("trained again"))
    again = DualEncoder(**DE, seed=1).fit(*args, label_texts=d.label_texts, checkpoint=ckpt)
    assert same_weights(again.net_, whole.net_)


def test_another_trainings_or_a_damaged_checkpoint_is_refused(tmp_path):
    rows = tiny_rows(1)
    small = {**S2S, "epochs": 1}
    ckpt = tmp_path / "s2s.pt"
    Seq2SeqCompleter(**small, seed=0).fit(*rows, checkpoint=ckpt)
    with pytest.raises(CheckpointError, match="another training"):  # other parameters
        Seq2SeqCompleter(**small, seed=1).fit(*rows, checkpoint=ckpt)
    with pytest.raises(CheckpointError, match="another training"):  # other data
        Seq2SeqCompleter(**small, seed=0).fit(*tiny_rows(2), checkpoint=ckpt)
    # verbose and the thread count say how it runs, not what it learns (the harness's
    # training key leaves them out too): the checkpoint is still this one's
    Seq2SeqCompleter(**small, seed=0, verbose=True).fit(*rows, checkpoint=ckpt)
    Seq2SeqCompleter(**{**small, "n_threads": 2}, seed=0).fit(*rows, checkpoint=ckpt)
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read.*delete it"):
        Seq2SeqCompleter(**small, seed=0).fit(*rows, checkpoint=ckpt)
    assert not list(tmp_path.glob("*.tmp"))  # every write completed or left nothing


def test_data_digest_tells_data_apart():
    import scipy.sparse as sp

    Y = sp.csr_matrix(np.eye(3, dtype=np.float32))
    base = data_digest(["a", "b"], Y, None)
    assert base == data_digest(["a", "b"], Y.copy(), None)
    assert base != data_digest(["a", "c"], Y, None)
    assert base != data_digest(["ab"], Y, None)  # not the joined text alone
    assert base != data_digest(["a", "b"], sp.csr_matrix(np.eye(3, k=1, dtype=np.float32)),
                               None)
    assert base != data_digest(["a", "b"], Y, ["t"])


def test_a_failed_write_leaves_the_previous_checkpoint_and_no_remnant(tmp_path, monkeypatch):
    ckpt = EpochCheckpoint(tmp_path / "c.pt", {"model": "m"})
    ckpt.save({"history": [{"epoch": 1}]})

    def full_disk(obj, f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        ckpt.save({"history": [{"epoch": 1}, {"epoch": 2}]})
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]
    monkeypatch.undo()
    assert ckpt.load()["history"] == [{"epoch": 1}]
