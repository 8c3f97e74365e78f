"""The seq2seq completer's training loop: teacher forcing, Adam, early stopping on the
validation MRR@10 of the real decoder.

One epoch = every training pair once. Batches are length-bucketed to cut padding: the pairs
are shuffled (seeded), cut into pools of ``BUCKET_POOL`` batches, each pool sorted by source
length and cut into batches, and the batches shuffled again. Loss = mean cross-entropy of
every target character and the final ``EOS`` given the true previous ones (teacher forcing),
padding ignored; gradients clipped to ``clip`` (global norm).

After each epoch the validation MRR@10 is computed by running the prefix-constrained beam
search (`baselines.seq2seq.decode`) on the held-out requests, exactly as at test time;
training stops after ``patience`` epochs without a better MRR and the best epoch's weights
are restored. Without validation requests it trains ``epochs`` epochs. With a checkpoint
(`baselines._checkpoint`) the state is saved after every epoch and a stopped training resumes
at its next epoch with the same result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from baselines._checkpoint import EpochCheckpoint, resume, save_epoch
from baselines._early_stopping import EarlyStopping
from baselines.seq2seq.model import Seq2SeqNet
from baselines.seq2seq.vocab import BOS, PAD, pad_batch

logger = logging.getLogger(__name__)

BUCKET_POOL = 50  # batches per length-sorted pool (bigger = less padding, less randomness)


@dataclass(frozen=True)
class TrainConfig:
    lr: float  # Adam learning rate
    batch_size: int  # pairs per step
    epochs: int  # passes at most
    patience: int  # stop after this many epochs without a better validation MRR@10
    clip: float  # gradient clipping (global l2 norm)
    seed: int  # shuffling
    verbose: bool  # progress bar per epoch


def batches(src_lengths: np.ndarray, batch_size: int, rng: np.random.Generator
            ) -> list[np.ndarray]:
    """Length-bucketed batches of row indices covering every row once (see the module doc)."""
    order = rng.permutation(src_lengths.size)
    pool = batch_size * BUCKET_POOL
    out = []
    for s in range(0, order.size, pool):
        chunk = order[s:s + pool]
        chunk = chunk[np.argsort(src_lengths[chunk], kind="stable")]
        out.extend(chunk[b:b + batch_size] for b in range(0, chunk.size, batch_size))
    return [out[i] for i in rng.permutation(len(out))]


def batch_loss(net: Seq2SeqNet, src: list[list[int]], tgt: list[list[int]],
               device: torch.device) -> torch.Tensor:
    """Mean teacher-forced cross-entropy of the target ids (their EOS included)."""
    src_ids, src_len = pad_batch(src)
    tgt_ids, _ = pad_batch(tgt)
    tgt_in = np.concatenate([np.full((len(tgt), 1), BOS, np.int64), tgt_ids[:, :-1]], axis=1)
    logits = net(torch.from_numpy(src_ids).to(device), torch.from_numpy(src_len),
                 torch.from_numpy(tgt_in).to(device))  # (B, T, V)
    target = torch.from_numpy(tgt_ids).to(device)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                           ignore_index=PAD)


def run_training(net: Seq2SeqNet, src: list[list[int]], tgt: list[list[int]],
                 cfg: TrainConfig, device: torch.device,
                 valid_mrr: Callable[[], float] | None,
                 checkpoint: EpochCheckpoint | None = None) -> list[dict]:
    """Train ``net`` in place (left at its best validation epoch, in eval mode).

    src, tgt : training source / target id lists (`CharVocab.source` / `.target`).
    valid_mrr : called after each epoch with the net in eval mode; returns the validation
        MRR@10 (None = no validation: ``epochs`` epochs).
    checkpoint : where the state is saved after every epoch and resumed from (None: not
        saved).
    Returns the history: per epoch ``epoch``, ``loss`` (mean batch loss),
    ``valid_mrr_at_10`` (None without validation) and ``time_s``.
    """
    rng = np.random.default_rng(cfg.seed)
    lengths = np.fromiter((len(s) for s in src), np.int64, len(src))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    stopper = EarlyStopping(cfg.patience)
    optimizers = {"adam": opt}
    history, done, _ = resume(checkpoint, net, optimizers, rng, stopper)
    for epoch in range(len(history) + 1, cfg.epochs + 1):
        if done:
            break
        t0 = time.perf_counter()
        net.train()
        total, count = 0.0, 0
        for rows in tqdm(batches(lengths, cfg.batch_size, rng), desc=f"epoch {epoch}/"
                         f"{cfg.epochs}", unit="batch", disable=None if cfg.verbose else True,
                         leave=False):
            loss = batch_loss(net, [src[i] for i in rows], [tgt[i] for i in rows], device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            opt.step()
            total += float(loss.detach()) * rows.size
            count += rows.size
        net.eval()
        record = {"epoch": epoch, "loss": total / max(count, 1), "valid_mrr_at_10": None}
        if valid_mrr is not None:
            record["valid_mrr_at_10"] = float(valid_mrr())
        record["time_s"] = time.perf_counter() - t0
        history.append(record)
        logger.info("epoch %d: loss %.4f, valid MRR@10 %s, %.1fs", epoch, record["loss"],
                    record["valid_mrr_at_10"], record["time_s"])
        done = stopper.update(record["valid_mrr_at_10"], net) or epoch == cfg.epochs
        save_epoch(checkpoint, net, optimizers, rng, stopper, history, done)
    stopper.restore(net)
    net.eval()
    return history
