"""The dual encoder's training loop: Adam over (query, relevant label) pairs, in-batch
negatives, optional mined hard negatives, early stopping on validation recall@10.

One epoch = every (query, label) pair of the training part once, in a seeded random order,
in batches of ``batch_size`` pairs. The n-gram (and label-id) tables have sparse gradients
and are updated by ``SparseAdam`` (only the rows a batch touches); the MLPs by ``Adam``, both
at ``lr``. After each epoch the validation recall@10 is computed by exact search of the
held-out queries against every label; training stops after ``patience`` epochs without a new
best, and the best epoch's weights are restored.

Hard negatives (``hard_negatives = H > 0``): in epoch 1 each pair gets H uniformly random
labels that are not relevant to its query; after every epoch the ``HARD_POOL`` labels the
current model ranks highest for each training query are searched exactly, its positives
removed, and in the next epoch each pair draws its H negatives from that list.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from baselines._checkpoint import EpochCheckpoint, resume, save_epoch
from baselines._early_stopping import EarlyStopping
from baselines.dual_encoder.features import Bags
from baselines.dual_encoder.loss import InBatchNegativesLoss
from baselines.dual_encoder.model import DualEncoderNet
from baselines.dual_encoder.search import exact_topk, topk_to_csr
from xmr.metrics import recall_at_k

logger = logging.getLogger(__name__)

HARD_POOL = 50  # mined hard negatives are drawn from each query's top-HARD_POOL non-positives
ENCODE_BATCH = 4096  # texts per forward pass when encoding without gradients
VALID_K = 10  # early stopping watches recall@VALID_K


@dataclass(frozen=True)
class TrainConfig:
    lr: float  # Adam / SparseAdam learning rate
    batch_size: int  # (query, label) pairs per step; the other B-1 labels are negatives
    epochs: int  # passes over the pairs at most
    patience: int  # stop after this many epochs without a better valid recall@10
    temperature: float  # InfoNCE temperature
    hard_negatives: int  # mined negatives per pair (0 = in-batch only)
    seed: int  # shuffling and negative sampling
    verbose: bool  # progress bar per epoch


@dataclass
class TrainData:
    queries: Bags  # the training queries' n-gram bags
    Y: sp.csr_matrix  # (n_train, L) 0/1 relevance of the training queries
    label_bags: Bags | None  # the labels' text bags, or None (label-id tower)
    valid_queries: Bags | None  # held-out queries (None = no validation, no early stopping)
    Y_valid: sp.csr_matrix | None  # (n_valid, L)


def to_tensors(bags: Bags, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, offsets) tensors for ``nn.EmbeddingBag`` (offsets without the final end)."""
    return (torch.from_numpy(bags.ids).to(device),
            torch.from_numpy(bags.offsets[:-1]).to(device))


@torch.no_grad()
def encode_queries(net: DualEncoderNet, bags: Bags, device: torch.device) -> torch.Tensor:
    """(n, dim) unit vectors of every bag, on ``device``."""
    net.eval()
    out = [net.encode_queries(*to_tensors(bags.take(np.arange(s, min(s + ENCODE_BATCH,
                                                                         len(bags)))), device))
           for s in range(0, len(bags), ENCODE_BATCH)]
    return torch.cat(out) if out else torch.zeros(0, net.ngrams.embedding_dim, device=device)


@torch.no_grad()
def encode_all_labels(net: DualEncoderNet, label_bags: Bags | None, n_labels: int,
                      device: torch.device) -> torch.Tensor:
    """(L, dim) unit vectors of every label, on ``device``."""
    net.eval()
    out = []
    for s in range(0, n_labels, ENCODE_BATCH):
        rows = np.arange(s, min(s + ENCODE_BATCH, n_labels))
        ids = offsets = None
        if label_bags is not None:
            ids, offsets = to_tensors(label_bags.take(rows), device)
        out.append(net.encode_labels(torch.from_numpy(rows).to(device), ids, offsets))
    return torch.cat(out)


class _Positives:
    """Membership test for (query, label) relevance: sorted keys query * L + label."""

    def __init__(self, Y: sp.csr_matrix):
        Y = sp.csr_matrix(Y)
        Y.sort_indices()
        self.L = Y.shape[1]
        rows = np.repeat(np.arange(Y.shape[0], dtype=np.int64), np.diff(Y.indptr))
        self.keys = rows * self.L + Y.indices.astype(np.int64)  # sorted (CSR order)

    def __call__(self, q: np.ndarray, lab: np.ndarray) -> np.ndarray:
        """Bool array (broadcast shape of q and lab): is ``lab`` relevant to ``q``?"""
        key = q.astype(np.int64) * self.L + lab.astype(np.int64)
        if self.keys.size == 0:
            return np.zeros(key.shape, bool)
        pos = np.minimum(np.searchsorted(self.keys, key), self.keys.size - 1)
        return self.keys[pos] == key


def _random_negatives(rng, q: np.ndarray, n_labels: int, h: int, is_pos) -> np.ndarray:
    """(B, h) uniformly random labels not relevant to their query (resampled up to 10x)."""
    neg = rng.integers(0, n_labels, size=(q.size, h))
    for _ in range(10):
        bad = is_pos(np.repeat(q, h).reshape(q.size, h), neg)
        if not bad.any():
            break
        neg[bad] = rng.integers(0, n_labels, size=int(bad.sum()))
    return neg


def _mined_negatives(rng, pool: np.ndarray, q: np.ndarray, n_labels: int, h: int,
                     is_pos) -> np.ndarray:
    """(B, h) draws from each query's mined list (-1 = removed positive) without
    replacement; random labels where a list has fewer than h entries."""
    cand = pool[q]  # (B, HARD_POOL)
    keys = rng.random(cand.shape)
    keys[cand < 0] = np.inf
    pick = np.argsort(keys, axis=1)[:, :h]
    neg = np.take_along_axis(cand, pick, axis=1)
    short = neg < 0
    if short.any():
        neg[short] = _random_negatives(rng, q, n_labels, h, is_pos)[short]
    return neg


def _mine(net, data: TrainData, n_labels: int, device, is_pos) -> np.ndarray:
    """(n_train, HARD_POOL) top labels of each training query, positives set to -1."""
    labels = encode_all_labels(net, data.label_bags, n_labels, device)
    queries = encode_queries(net, data.queries, device)
    ids, _ = exact_topk(queries, labels, HARD_POOL)
    rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1]).reshape(ids.shape)
    ids[is_pos(rows, ids)] = -1
    return ids


def valid_recall(net, data: TrainData, n_labels: int, device) -> float:
    """recall@10 of the held-out queries by exact search over every label."""
    labels = encode_all_labels(net, data.label_bags, n_labels, device)
    queries = encode_queries(net, data.valid_queries, device)
    ids, scores = exact_topk(queries, labels, VALID_K)
    return recall_at_k(data.Y_valid, topk_to_csr(ids, scores, n_labels), VALID_K)


def run_training(net: DualEncoderNet, data: TrainData, cfg: TrainConfig,
                 device: torch.device, checkpoint: EpochCheckpoint | None = None
                 ) -> list[dict]:
    """Train ``net`` in place (left at its best validation epoch); returns the history: one
    dict per epoch with ``epoch``, ``loss`` (mean batch loss), ``valid_recall_at_10`` (None
    without validation) and ``time_s`` (the epoch's training + validation seconds). With a
    ``checkpoint`` the state is saved after every epoch and a stopped training resumes at its
    next epoch with the same result (`baselines._checkpoint`)."""
    rng = np.random.default_rng(cfg.seed)
    n_labels = data.Y.shape[1]
    Y = sp.csr_matrix(data.Y)
    pair_q = np.repeat(np.arange(Y.shape[0], dtype=np.int64), np.diff(Y.indptr))
    pair_l = Y.indices.astype(np.int64)
    is_pos = _Positives(Y)
    loss_fn = InBatchNegativesLoss(cfg.temperature)
    dense_opt = torch.optim.Adam(net.dense_parameters(), lr=cfg.lr)
    sparse_opt = torch.optim.SparseAdam(net.sparse_parameters(), lr=cfg.lr)
    h = cfg.hard_negatives
    stopper = EarlyStopping(cfg.patience)
    optimizers = {"dense": dense_opt, "sparse": sparse_opt}
    history, done, extra = resume(checkpoint, net, optimizers, rng, stopper)
    mined = extra.get("mined")  # the hard negatives mined after the last epoch
    for epoch in range(len(history) + 1, cfg.epochs + 1):
        if done:
            break
        t0 = time.perf_counter()
        net.train()
        order = rng.permutation(pair_q.size)
        n_batches = -(-order.size // cfg.batch_size)
        total, count = 0.0, 0
        for b in tqdm(range(n_batches), desc=f"epoch {epoch}/{cfg.epochs}", unit="batch",
                      disable=None if cfg.verbose else True, leave=False):
            rows = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            if rows.size < 2:  # a lone pair has no in-batch negative
                continue
            q, lab = pair_q[rows], pair_l[rows]
            queries = net.encode_queries(*to_tensors(data.queries.take(q), device))
            lab_t = torch.from_numpy(lab).to(device)
            if data.label_bags is not None:
                labels = net.encode_labels(lab_t, *to_tensors(data.label_bags.take(lab), device))
            else:
                labels = net.encode_labels(lab_t)
            hard = None
            if h > 0:
                neg = (_random_negatives(rng, q, n_labels, h, is_pos) if mined is None
                       else _mined_negatives(rng, mined, q, n_labels, h, is_pos)).ravel()
                neg_t = torch.from_numpy(neg).to(device)
                if data.label_bags is not None:
                    hard = net.encode_labels(neg_t, *to_tensors(data.label_bags.take(neg),
                                                                device))
                else:
                    hard = net.encode_labels(neg_t)
                hard = hard.view(rows.size, h, -1)
            ignore = torch.from_numpy(is_pos(q[:, None], lab[None, :])).to(device)
            loss = loss_fn(queries, labels, hard_negatives=hard, ignore=ignore)
            dense_opt.zero_grad(set_to_none=True)
            sparse_opt.zero_grad(set_to_none=True)
            loss.backward()
            dense_opt.step()
            sparse_opt.step()
            total += float(loss.detach()) * rows.size
            count += rows.size
        record = {"epoch": epoch, "loss": total / max(count, 1), "valid_recall_at_10": None}
        if data.valid_queries is not None and len(data.valid_queries):
            record["valid_recall_at_10"] = valid_recall(net, data, n_labels, device)
        if h > 0 and epoch < cfg.epochs:
            mined = _mine(net, data, n_labels, device, is_pos)
        record["time_s"] = time.perf_counter() - t0
        history.append(record)
        logger.info("epoch %d: loss %.4f, valid recall@10 %s, %.1fs", epoch, record["loss"],
                    record["valid_recall_at_10"], record["time_s"])
        done = stopper.update(record["valid_recall_at_10"], net) or epoch == cfg.epochs
        save_epoch(checkpoint, net, optimizers, rng, stopper, history, done, mined=mined)
    stopper.restore(net)
    net.eval()
    return history
