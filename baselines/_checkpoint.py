"""Per-epoch checkpoints for the torch baselines' training loops: a training stopped between
epochs (a session's end, a crash, a kill) resumes at its next epoch and ends with what an
uninterrupted training gives: the same weights, optimiser moments, random streams and
early-stopping state are restored (tests/baselines/test_checkpoint.py).

A checkpoint belongs to one training: it records a fingerprint of the model's parameters and
of the training data, and one from another training is refused rather than resumed. It is
written whole or not at all (a temporary file, then a rename), after every epoch and once more
when training has ended (``done``): a later ``fit`` with the same checkpoint then restores the
result without training. Deleting the file is how a caller starts over; the harness deletes
it once the trained model is in its cache (`experiments.training`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from baselines._early_stopping import EarlyStopping
from baselines._errors import CheckpointError

FORMAT = 1
# parameters that say where and how fast a training runs, not what it learns (the harness's
# training key leaves them out too): a training stopped on one machine resumes on another
RUN_PARAMS = ("verbose", "n_threads", "device")
logger = logging.getLogger(__name__)


def data_digest(*parts) -> str:
    """A digest of training data: sequences of strings, numpy arrays, sparse matrices, None."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if part is None:
            h.update(b"\x00none")
        elif sp.issparse(part):
            m = sp.csr_matrix(part)
            h.update(repr(m.shape).encode())
            for a in (m.indptr, m.indices, m.data):
                h.update(np.ascontiguousarray(a).tobytes())
        elif isinstance(part, np.ndarray):
            h.update(repr((part.shape, part.dtype.str)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            items = list(part)
            h.update(f"\x00{len(items)}\x00".encode())
            h.update("\x1f".join(map(str, items)).encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return h.hexdigest()


class EpochCheckpoint:
    """The training state of one training at ``path`` (see the module doc).

    fingerprint : plain values naming the training (parameters, data digest); a checkpoint
        whose fingerprint differs is refused.
    """

    def __init__(self, path: str | os.PathLike, fingerprint: dict):
        self.path = Path(path)
        self.fingerprint = {"format": FORMAT, **fingerprint}
        self.restored_epochs = 0  # epochs a load restored (0: trained from the start)
        self.restored_time_s = 0.0  # their training seconds, spent by an earlier process
        self.save_time_s = 0.0  # seconds spent writing checkpoints in this process

    def training_seconds(self, elapsed_s: float) -> float:
        """A fit's training time from its ``elapsed_s`` in this process: without the
        checkpoints' writing (so that a checkpointed training is timed like one without),
        with the restored epochs' seconds."""
        return elapsed_s - self.save_time_s + self.restored_time_s

    def load(self) -> dict | None:
        """The saved state, or None when there is none yet."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except (OSError, EOFError, RuntimeError, pickle.UnpicklingError) as exc:
            raise CheckpointError(f"checkpoint {self.path} cannot be read ({exc}); delete it to "
                             f"train from the first epoch") from exc
        if not isinstance(state, dict) or state.get("fingerprint") != self.fingerprint:
            raise CheckpointError(f"checkpoint {self.path} belongs to another training (other "
                             f"parameters or data); delete it or give this training its own "
                             f"path")
        history = state["history"]
        self.restored_epochs = len(history)
        self.restored_time_s = float(sum(r.get("time_s", 0.0) for r in history))
        return state

    def save(self, state: dict) -> None:
        """Write ``state`` (plus the fingerprint) whole: a kill mid-write keeps the previous
        checkpoint."""
        t0 = time.perf_counter()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "wb") as f:
                torch.save({**state, "fingerprint": self.fingerprint}, f)
                f.flush()
                os.fsync(f.fileno())  # on disk before the rename: an OS crash keeps one
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no gigabyte-sized remnant
            raise
        os.replace(tmp, self.path)
        self.save_time_s += time.perf_counter() - t0


def for_training(path: str | os.PathLike | None, model: str, params: dict, data: tuple,
                 **settings) -> EpochCheckpoint | None:
    """The checkpoint at ``path`` of one training (None without a path): its fingerprint
    names the ``model``, its ``params`` (less :data:`RUN_PARAMS`), the fit's other
    ``settings`` and a :func:`data_digest` of its ``data``."""
    if path is None:
        return None
    params = {k: v for k, v in params.items() if k not in RUN_PARAMS}
    return EpochCheckpoint(path, {"model": model, "params": params, **settings,
                                  "data": data_digest(*data)})


def resume(checkpoint: EpochCheckpoint | None, net: torch.nn.Module,
           optimizers: dict[str, torch.optim.Optimizer], rng: np.random.Generator,
           stopper: EarlyStopping) -> tuple[list[dict], bool, dict]:
    """Restore a training loop's state from ``checkpoint`` (the weights, each optimiser,
    ``rng``, torch's global CPU and CUDA generators (dropout draws from them), the early
    stopping):
    (history so far, whether training had ended, the loop's extra items). Nothing to
    restore: ([], False, {})."""
    state = checkpoint.load() if checkpoint is not None else None
    if state is None:
        return [], False, {}
    net.load_state_dict(state["net"])
    for name, opt in optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    rng.bit_generator.state = state["rng"]["numpy"]
    torch.set_rng_state(state["rng"]["torch"])
    if state["rng"].get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])  # dropout on a GPU draws here
    stopper.load_state(state["stopper"])
    logger.info("resumed from %s after epoch %d%s", checkpoint.path, len(state["history"]),
                " (training had ended)" if state["done"] else "")
    return state["history"], state["done"], state["extra"]


def save_epoch(checkpoint: EpochCheckpoint | None, net: torch.nn.Module,
               optimizers: dict[str, torch.optim.Optimizer], rng: np.random.Generator,
               stopper: EarlyStopping, history: list[dict], done: bool, **extra) -> None:
    """Save what :func:`resume` restores, after an epoch (nothing without a checkpoint)."""
    if checkpoint is None:
        return
    checkpoint.save({"net": net.state_dict(),
                     "optimizers": {k: opt.state_dict() for k, opt in optimizers.items()},
                     "rng": {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state(),
                             "cuda": (torch.cuda.get_rng_state_all()
                                      if torch.cuda.is_initialized() else None)},
                     "stopper": stopper.state(), "history": history, "done": done,
                     "extra": extra})
