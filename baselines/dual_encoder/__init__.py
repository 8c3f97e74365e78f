"""DSSM-like dual encoder, the neural baseline of Paper 1 (Nigam et al., KDD'19).

Contract: ``fit(train_texts, Y, *, label_texts=None)`` learns a query tower and a label tower
that map texts (hashed word unigrams + bigrams + char trigrams, mean-pooled) to unit vectors;
``predict(texts, *, topk)`` ranks every label by cosine with exact search: CSR float32 N × L.

Files: `features` (hashed n-gram bags), `model` (the towers), `loss` (in-batch InfoNCE),
`train` (the loop: Adam, early stopping), `search` (chunked exact top-k). This module holds the
estimator that ties them together.

Model
-----
Nigam et al.'s design: every n-gram is hashed into ``n_buckets`` rows of one
embedding table shared by both towers; a text is the mean of its n-gram embeddings, refined by
a residual MLP per tower and l2-normalised; a label is its text (product title) through the
label tower, or, without label texts, a learned vector per label id. Trained with InfoNCE over
in-batch negatives (``loss.InBatchNegativesLoss``), scored by cosine, searched exactly.

Hyperparameters
---------------
The defaults (`xmr.params.DualEncoderParams`: dim 256, lr 1e-3, temperature 0.1, ...) were tuned
on the synthetic ``demo`` data; the measured tuning grid, the reasons for each value and the
results on ``demo``/``bench`` are in the README ("Dual encoder: tuning and cost"), with their
commands. ``n_threads = None`` leaves torch's setting (all cores); on a shared machine one
thread can be much faster per step than two.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from baselines._checkpoint import for_training
from baselines.dual_encoder.features import HashedNgrams
from baselines.dual_encoder.model import DualEncoderNet
from baselines.dual_encoder.search import exact_topk, topk_to_csr
from baselines.dual_encoder.train import (
    TrainConfig,
    TrainData,
    encode_all_labels,
    encode_queries,
    run_training,
)
from xmr._estimator import ParamsMixin, not_fitted
from xmr._io import DAMAGED_FILE_ERRORS, read_model_meta
from xmr._validation import (
    check_allocation,
    check_choice,
    check_float,
    check_int,
    check_labels,
    check_seed,
    check_texts,
)
from xmr.params import DualEncoderParams, store_params

__all__ = ["DualEncoder"]

FORMAT_NAME = "baselines.DualEncoder"
FORMAT_VERSION = 1
_META_FILE = "dual_encoder.json"
_WEIGHTS_FILE = "weights.pt"
_LABELS_FILE = "label_vectors.npy"
DEVICES = ("auto", "cpu", "cuda")


@contextmanager
def _torch_settings(n_threads: int | None, *, deterministic: bool):
    """Torch CPU threads and (for training) deterministic algorithms, restored afterwards.

    ``deterministic`` switches on ``torch.use_deterministic_algorithms(True, warn_only=True)``
    (a CUDA op without a deterministic version warns instead of failing). Prediction does
    without it: inference has no non-deterministic op, and the switch imports
    ``torch._inductor`` (5-18 s here) in a process that has not trained."""
    old_threads = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    if deterministic:
        old_det = torch.are_deterministic_algorithms_enabled()
        old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        if deterministic:
            torch.use_deterministic_algorithms(old_det, warn_only=old_warn)


_P = DualEncoderParams  # the defaults, defined once


class DualEncoder(ParamsMixin):
    """Two-tower neural ranker over hashed n-grams; see the module docstring.

    Parameters (all keyword-only; stored as given, validated by :meth:`fit`)
    ----------
    dim : int, default 256
        Size of the n-gram embeddings and of the output vectors.
    hidden : int, default 256
        Hidden width of each tower's residual MLP.
    n_buckets : int, default 2**18
        Hash buckets of the n-gram embedding table (vocabulary-free).
    temperature : float, default 0.1
        InfoNCE temperature τ (logits = cosine / τ).
    lr : float, default 1e-3
        Learning rate of Adam (MLPs) and SparseAdam (embedding tables).
    batch_size : int, default 256
        (query, label) pairs per step; the batch's other labels are the negatives.
    epochs : int, default 20
        Passes over the training pairs at most.
    patience : int, default 2
        Early stopping: epochs without a better validation recall@10.
    hard_negatives : int, default 0
        Mined hard negatives per pair (0 = in-batch negatives only).
    seed : int, default 0
        Seeds the initial weights, the validation split, shuffling and sampling.
    device : {"auto", "cpu", "cuda"}, default "auto"
        "auto" = CUDA when available, else CPU.
    n_threads : int or None, default None
        Torch CPU threads during fit/predict (None = torch's current setting).
    verbose : bool, default False
        Progress bar per epoch.

    Attributes (after fit)
    ----------
    net_ : DualEncoderNet (on CPU after fit/load, moved to the device per call);
    label_vectors_ : (L, dim) float32 tensor of the labels' unit vectors; n_labels_;
    fit_time_s_ (featurisation + training, seconds); model_bytes_ (parameters + label
    vectors, bytes); history_ (list of per-epoch dicts: loss, valid_recall_at_10, time_s);
    best_epoch_.
    """

    def __init__(self, *, dim: int = _P.dim, hidden: int = _P.hidden,
                 n_buckets: int = _P.n_buckets, temperature: float = _P.temperature,
                 lr: float = _P.lr, batch_size: int = _P.batch_size, epochs: int = _P.epochs,
                 patience: int = _P.patience, hard_negatives: int = _P.hard_negatives,
                 seed: int = 0, device: str = _P.device, n_threads: int | None = _P.n_threads,
                 verbose: bool = False):
        store_params(self, locals())  # get_params/set_params: xmr._estimator.ParamsMixin

    def _validate_params(self) -> None:
        check_int("dim", self.dim, minimum=1)
        check_int("hidden", self.hidden, minimum=1)
        check_int("n_buckets", self.n_buckets, minimum=1)
        check_allocation(4 * self.n_buckets * self.dim, fix="lower n_buckets or dim",
                         what=f"the n-gram embedding table (n_buckets={self.n_buckets:,} x "
                              f"dim={self.dim:,} float32)")
        check_float("temperature", self.temperature, minimum=0.0, strict=True)
        check_float("lr", self.lr, minimum=0.0, strict=True)
        check_int("batch_size", self.batch_size, minimum=2)
        check_int("epochs", self.epochs, minimum=1)
        check_int("patience", self.patience, minimum=1)
        check_int("hard_negatives", self.hard_negatives, minimum=0)
        check_seed("seed", self.seed)
        check_choice("device", self.device, DEVICES)
        if self.n_threads is not None:
            check_int("n_threads", self.n_threads, minimum=1)

    def _device(self) -> torch.device:
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' but torch sees no CUDA device; use 'auto' or 'cpu'")
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    # --------------------------------------------------------------------- fit
    def fit(self, train_texts: Sequence[str], Y, *, label_texts: Sequence[str] | None = None,
            valid_fraction: float = 0.1,
            valid: tuple[Sequence[str], object] | None = None,
            checkpoint: str | os.PathLike | None = None) -> DualEncoder:
        """Train on ``train_texts`` (N queries) and ``Y`` (N × L, 0/1).

        label_texts : L texts (product titles) for the text label tower, or None for a
            learned vector per label id.
        valid_fraction : share of the training queries (a seeded random subset) held out for
            early stopping on recall@10; 0 trains on all of them for ``epochs`` epochs.
        valid : (texts, Y_valid) held-out queries to early-stop on instead (a validation
            split shared with other models); every training query is then trained on and
            ``valid_fraction`` must be 0.
        checkpoint : a file the training state is saved to after every epoch; when it holds
            this training's state (same parameters and data), training resumes after its
            last epoch with the result an uninterrupted fit gives (`baselines._checkpoint`;
            another training's file is refused). ``fit_time_s_`` counts the restored
            epochs' seconds too, and not the writing of checkpoints.
        """
        self._validate_params()
        texts = check_texts(train_texts, "train_texts")
        if not texts:
            raise ValueError("train_texts is empty: nothing to train on")
        Y = check_labels(Y, len(texts))
        L = Y.shape[1]
        if L < 2:
            raise ValueError(f"Y must have at least 2 labels, got {L}")
        if Y.nnz == 0:
            raise ValueError("Y has no positive (query, label) pair: nothing to train on")
        if label_texts is not None:
            label_texts = check_texts(label_texts, "label_texts")
            if len(label_texts) != L:
                raise ValueError(f"label_texts must have one text per label (Y has {L} "
                                 f"columns), got {len(label_texts)}")
        valid_fraction = check_float("valid_fraction", valid_fraction, minimum=0.0)
        if valid_fraction >= 1.0:
            raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
        if valid is not None:
            if not isinstance(valid, tuple | list) or len(valid) != 2:
                raise TypeError("valid must be a (texts, Y_valid) tuple or None")
            if valid_fraction:
                raise ValueError(f"valid is given, so valid_fraction must be 0 (one "
                                 f"validation set), got {valid_fraction}")
            valid_texts = check_texts(valid[0], "valid texts")
            Y_valid = check_labels(valid[1], len(valid_texts))
            if Y_valid.shape[1] != L:
                raise ValueError(f"valid Y has {Y_valid.shape[1]} label columns, Y has {L}")
        checkpoint = for_training(
            checkpoint, "dual_encoder", self.get_params(),
            (texts, Y, label_texts, *((valid_texts, Y_valid) if valid is not None else (None,))),
            valid_fraction=valid_fraction)
        device = self._device()
        with _torch_settings(self.n_threads, deterministic=True):
            t0 = time.perf_counter()
            hasher = HashedNgrams(self.n_buckets)
            bags = hasher(texts, "train_texts")
            label_bags = hasher(label_texts, "label_texts") if label_texts is not None else None
            rng = np.random.default_rng(self.seed)
            perm = rng.permutation(len(texts))
            n_valid = int(round(valid_fraction * len(texts)))
            if n_valid >= len(texts):
                raise ValueError(f"valid_fraction={valid_fraction} leaves no training query "
                                 f"out of {len(texts)}")
            valid_rows, train_rows = np.sort(perm[:n_valid]), np.sort(perm[n_valid:])
            data = TrainData(
                queries=bags.take(train_rows), Y=Y[train_rows], label_bags=label_bags,
                valid_queries=bags.take(valid_rows) if n_valid else None,
                Y_valid=Y[valid_rows] if n_valid else None)
            if valid is not None and len(valid_texts):
                data.valid_queries = hasher(valid_texts, "valid texts")
                data.Y_valid = Y_valid
            if data.Y.nnz == 0:
                raise ValueError("the training part has no positive pair; lower valid_fraction")
            torch.manual_seed(self.seed)
            net = DualEncoderNet(n_buckets=self.n_buckets, dim=self.dim, hidden=self.hidden,
                                 n_labels=L, label_text=label_bags is not None).to(device)
            cfg = TrainConfig(lr=float(self.lr), batch_size=self.batch_size, epochs=self.epochs,
                              patience=self.patience, temperature=float(self.temperature),
                              hard_negatives=self.hard_negatives, seed=self.seed,
                              verbose=bool(self.verbose))
            history = run_training(net, data, cfg, device, checkpoint)
            label_vectors = encode_all_labels(net, label_bags, L, device).cpu()
            self.fit_time_s_ = time.perf_counter() - t0
            if checkpoint is not None:
                self.fit_time_s_ = checkpoint.training_seconds(self.fit_time_s_)
        self.history_ = history
        recalls = [h["valid_recall_at_10"] for h in history]
        self.best_epoch_ = (int(np.argmax(recalls)) + 1 if recalls and recalls[0] is not None
                            else len(history))
        self._set_model(net.cpu(), label_vectors)
        return self

    def _set_model(self, net: DualEncoderNet, label_vectors: torch.Tensor) -> None:
        self.net_ = net.eval()
        self.label_vectors_ = label_vectors
        self.n_labels_ = int(label_vectors.shape[0])
        self._hasher = HashedNgrams(self.n_buckets)
        n_params = sum(p.numel() * p.element_size() for p in net.parameters())
        self.model_bytes_ = int(n_params + label_vectors.numel() * label_vectors.element_size())

    # ----------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise not_fitted("this DualEncoder is not fitted yet: call fit(texts, Y) "
                                 "first (or DualEncoder.load(folder))")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32 unit vectors of query texts."""
        self._check_fitted()
        bags = self._hasher(texts)
        device = self._device()
        with _torch_settings(self.n_threads, deterministic=False):
            net = self.net_.to(device)
            try:
                return encode_queries(net, bags, device).cpu().numpy()
            finally:
                self.net_ = net.cpu()

    def predict(self, texts: Sequence[str], *, topk: int = 10) -> sp.csr_matrix:
        """Cosine scores of the ``topk`` best labels of each text: CSR float32 (N, n_labels),
        by exact search (chunked over the texts)."""
        self._check_fitted()
        k = min(check_int("topk", topk, minimum=1), self.n_labels_)
        bags = self._hasher(texts)
        device = self._device()
        with _torch_settings(self.n_threads, deterministic=False):
            net = self.net_.to(device)
            try:
                queries = encode_queries(net, bags, device)
                ids, scores = exact_topk(queries, self.label_vectors_.to(device), k)
            finally:
                self.net_ = net.cpu()
        return topk_to_csr(ids, scores, self.n_labels_)

    @torch.no_grad()
    def predict_one(self, text: str, *, topk: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Single-query path on CPU with the current torch threads: (label ids int64, cosine
        scores float32), best first."""
        self._check_fitted()
        k = min(check_int("topk", topk, minimum=1), self.n_labels_)
        ids = torch.from_numpy(self._hasher.one(text))
        q = self.net_.encode_queries(ids, torch.zeros(1, dtype=torch.int64))  # (1, dim)
        top = torch.topk(self.label_vectors_ @ q[0], k)
        return top.indices.numpy(), top.values.numpy().astype(np.float32)

    # --------------------------------------------------------------- save/load
    def save(self, folder: str | Path) -> None:
        """Write ``dual_encoder.json`` (format, params, history), ``weights.pt`` (state dict)
        and ``label_vectors.npy`` to ``folder``."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "params": self.get_params(), "n_labels_": self.n_labels_,
                "label_text": bool(self.net_.label_text),
                "fit_time_s_": getattr(self, "fit_time_s_", None),
                "history_": getattr(self, "history_", None),
                "best_epoch_": getattr(self, "best_epoch_", None)}
        torch.save(self.net_.state_dict(), folder / _WEIGHTS_FILE)
        np.save(folder / _LABELS_FILE, self.label_vectors_.numpy())
        (folder / _META_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> DualEncoder:
        """Read a model written by :meth:`save`; a missing, damaged or foreign folder raises
        FileNotFoundError / ValueError saying what is wrong."""
        folder, meta = read_model_meta(folder, _META_FILE, FORMAT_NAME, FORMAT_VERSION,
                                       "DualEncoder")
        try:
            model = cls(**meta["params"])
            model._validate_params()
            n_labels = int(meta["n_labels_"])
            net = DualEncoderNet(n_buckets=model.n_buckets, dim=model.dim, hidden=model.hidden,
                                 n_labels=n_labels, label_text=bool(meta["label_text"]))
            net.load_state_dict(torch.load(folder / _WEIGHTS_FILE, map_location="cpu",
                                           weights_only=True))
            vectors = torch.from_numpy(np.load(folder / _LABELS_FILE, allow_pickle=False))
        except (*DAMAGED_FILE_ERRORS, RuntimeError) as exc:
            raise ValueError(f"{folder} is a damaged DualEncoder model ({type(exc).__name__}: "
                             f"{exc}); save it again or retrain") from exc
        if tuple(vectors.shape) != (n_labels, model.dim) or vectors.dtype != torch.float32:
            raise ValueError(f"{folder} is a damaged DualEncoder model: {_LABELS_FILE} has "
                             f"shape {tuple(vectors.shape)} ({vectors.dtype}), expected "
                             f"{(n_labels, model.dim)} float32")
        model.fit_time_s_ = meta.get("fit_time_s_")
        model.history_ = meta.get("history_")
        model.best_epoch_ = meta.get("best_epoch_")
        model._set_model(net, vectors)
        return model


# --------------------------------------------------------------------------- benchmark
def main(argv: list[str] | None = None) -> dict:
    """Train on a synthetic preset and print the metrics, e.g.
    ``python -c "from baselines.dual_encoder import main; main()" --preset demo --dim 128``
    (the tuning grid of the module docstring is this command over --dim/--lr/--temperature
    with --epochs 6). The optimiser's one-time import is warmed up first, never timed."""
    import argparse

    from xmr.datasets.synthetic import make_product_search_preset
    from xmr.metrics import ranking_metrics

    defaults = DualEncoder()
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--dim", type=int, default=defaults.dim)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--hard-negatives", type=int, default=defaults.hard_negatives)
    parser.add_argument("--n-threads", type=int, default=1)
    parser.add_argument("--label-ids", action="store_true",
                        help="learned label vectors instead of the label-text tower")
    args = parser.parse_args(argv)
    data = make_product_search_preset(args.preset)
    DualEncoder(n_buckets=64, dim=4, hidden=4, epochs=1).fit(data.train_texts[:50],
                                                             data.Y_train[:50])
    model = DualEncoder(dim=args.dim, lr=args.lr, temperature=args.temperature,
                        epochs=args.epochs, hard_negatives=args.hard_negatives,
                        n_threads=args.n_threads, verbose=True)
    model.fit(data.train_texts, data.Y_train,
              label_texts=None if args.label_ids else data.label_texts)
    t0 = time.perf_counter()
    P = model.predict(data.test_texts, topk=100)
    predict_s = time.perf_counter() - t0
    metrics = ranking_metrics(data.Y_test, P)
    out = {"preset": args.preset, **{k: v for k, v in vars(args).items() if k != "preset"},
           "train_time_s": model.fit_time_s_, "best_epoch": model.best_epoch_,
           "epochs_run": len(model.history_),
           "valid_recall_at_10": max((h["valid_recall_at_10"] or 0.0)
                                     for h in model.history_),
           "precision_at_1": metrics["precision_at_1"], "recall_at_10": metrics["recall_at_10"],
           "recall_at_100": metrics["recall_at_100"],
           "throughput_qps": len(data.test_texts) / predict_s,
           "model_bytes": model.model_bytes_, "history": model.history_}
    print(json.dumps(out, indent=2))
    return out
