"""Generative seq2seq query completer, the neural baseline of Paper 2 (its code is not public:
this is a standard, strong one, described here).

Contract: ``fit(prev_queries, prefixes, next_queries, *, valid=None)`` learns to generate the
next query from (previous query, prefix); ``suggest(prev_query, prefix, *, k)`` returns the
``k`` most probable distinct next queries that **start with the prefix**, best first.

Files: `vocab` (characters <-> ids, source/target layout), `model` (the GRU encoder–decoder
with attention), `decode` (the prefix-constrained beam search), `train` (teacher forcing,
early stopping on validation MRR). This module holds the estimator that ties them together.

Design
------
- **Input** = previous query ⊕ ``SEP`` ⊕ prefix; **output** = the whole next query ⊕ ``EOS``.
- **Characters, not subwords**, because (1) the typed prefix usually ends inside a word: at the
  character level forcing it is exact (feed its characters), while a subword model would
  have to handle a prefix that cuts a token (token healing, several tokenisations of one
  string); (2) two different character paths are two different strings, so the beam's
  completions are distinct without de-duplication; (3) the vocabulary is closed (~40–100
  symbols): no out-of-vocabulary next queries — on the AOL subset 69% of the test next
  queries never occur in training — and a softmax that costs nothing on a CPU. The price is
  longer sequences (~20 decoder steps per query instead of ~5).
- **Network**: one bidirectional GRU layer over the source characters, one GRU decoder
  layer with Luong (general) attention (`model`). A GRU rather than a Transformer because
  each decoding step is one small matrix product per layer on a CPU, one request at a time
  (the latency protocol), with no cache of past keys to manage.
- **Decoding**: beam search forced through the typed prefix (`decode`), no length penalty,
  the ``k`` best finished hypotheses. Inference always runs on the CPU (the latency
  protocol); training uses CUDA when present (``device="auto"``).
- **Training**: teacher forcing, Adam, gradient clipping, length-bucketed batches; early
  stopping on the validation MRR@10 of the real decoder over ``valid_size`` held-out
  requests; seeded (weights, shuffling, validation sample) and deterministic on the CPU
  (``torch.use_deterministic_algorithms``).

Sizes tried on the AOL subset and the trade-off: README, "Paper 2 comparison".
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from baselines._checkpoint import for_training
from baselines._qac_checks import check_request, check_requests, check_triples
from baselines.dual_encoder import _torch_settings
from baselines.seq2seq.decode import beam_complete
from baselines.seq2seq.model import Seq2SeqNet
from baselines.seq2seq.train import TrainConfig, run_training
from baselines.seq2seq.vocab import CharVocab
from xmr._estimator import ParamsMixin, not_fitted
from xmr._io import read_model_meta
from xmr._validation import check_choice, check_float, check_int
from xmr.params import Seq2SeqParams, store_params

__all__ = ["Seq2SeqCompleter"]

FORMAT_NAME = "baselines.Seq2SeqCompleter"
FORMAT_VERSION = 1
_META_FILE = "seq2seq.json"
_WEIGHTS_FILE = "weights.pt"
DEVICES = ("auto", "cpu", "cuda")


_P = Seq2SeqParams  # the defaults, defined once


class Seq2SeqCompleter(ParamsMixin):
    """Character GRU encoder–decoder with attention and prefix-constrained beam search; see
    the module docstring.

    Parameters (all keyword-only; stored as given, validated by :meth:`fit`)
    ----------
    emb_dim : int, default 32
        Character embedding size (shared by encoder and decoder).
    hidden : int, default 128
        Decoder state size; the encoder has ``hidden // 2`` per direction (even).
    dropout : float, default 0.1
        Dropout on embeddings and the attentional output during training.
    lr : float, default 2e-3
        Adam learning rate.
    batch_size : int, default 256
        Training pairs per step.
    epochs : int, default 20
        Passes over the training pairs at most.
    patience : int, default 2
        Early stopping: epochs without a better validation MRR@10.
    clip : float, default 1.0
        Gradient clipping (global l2 norm).
    beam_size : int, default 10
        Live hypotheses of the beam search (>= the number of suggestions asked).
    max_prev_len : int, default 40
        Characters of the previous query kept (its last ones).
    max_target_len : int, default 48
        Characters generated at most (prefix included); longer training targets are cut.
    min_char_count : int, default 2
        Characters seen fewer times in training map to UNK.
    valid_size : int, default 1000
        Validation requests decoded after each epoch (a seeded sample of ``valid``).
    seed : int, default 0
        Seeds the initial weights, shuffling and the validation sample.
    device : {"auto", "cpu", "cuda"}, default "auto"
        Training device ("auto" = CUDA when available); inference runs on the CPU.
    n_threads : int or None, default None
        Torch CPU threads during fit/suggest (None = torch's current setting).
    verbose : bool, default False
        Progress bar per epoch.

    Attributes (after fit)
    ----------
    net_ : Seq2SeqNet (CPU, eval mode); vocab_ : CharVocab; fit_time_s_ (training + the
    per-epoch validation, seconds); model_bytes_ (parameter bytes); history_ (per-epoch dicts:
    loss, valid_mrr_at_10, time_s); best_epoch_.
    """

    def __init__(self, *, emb_dim: int = _P.emb_dim, hidden: int = _P.hidden,
                 dropout: float = _P.dropout, lr: float = _P.lr,
                 batch_size: int = _P.batch_size, epochs: int = _P.epochs,
                 patience: int = _P.patience, clip: float = _P.clip,
                 beam_size: int = _P.beam_size, max_prev_len: int = _P.max_prev_len,
                 max_target_len: int = _P.max_target_len,
                 min_char_count: int = _P.min_char_count, valid_size: int = _P.valid_size,
                 seed: int = 0, device: str = _P.device, n_threads: int | None = _P.n_threads,
                 verbose: bool = False):
        store_params(self, locals())  # get_params/set_params: xmr._estimator.ParamsMixin

    def _validate_params(self) -> None:
        check_int("emb_dim", self.emb_dim, minimum=1)
        if check_int("hidden", self.hidden, minimum=2) % 2:
            raise ValueError(f"hidden must be even (two encoder directions), got {self.hidden}")
        check_float("dropout", self.dropout, minimum=0.0)
        if self.dropout >= 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        check_float("lr", self.lr, minimum=0.0, strict=True)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("epochs", self.epochs, minimum=1)
        check_int("patience", self.patience, minimum=1)
        check_float("clip", self.clip, minimum=0.0, strict=True)
        check_int("beam_size", self.beam_size, minimum=1)
        check_int("max_prev_len", self.max_prev_len, minimum=0)
        check_int("max_target_len", self.max_target_len, minimum=1)
        check_int("min_char_count", self.min_char_count, minimum=1)
        check_int("valid_size", self.valid_size, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_choice("device", self.device, DEVICES)
        if self.n_threads is not None:
            check_int("n_threads", self.n_threads, minimum=1)

    def _train_device(self) -> torch.device:
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' but torch sees no CUDA device; use 'auto' or 'cpu'")
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _source(self, prev_query: str, prefix: str) -> list[int]:
        # the prefix is never cut in the source: it is what the decoder must complete
        return self.vocab_.source(prev_query, prefix, max_prev_len=self.max_prev_len,
                                  max_prefix_len=len(prefix))

    # --------------------------------------------------------------------- fit
    def fit(self, prev_queries: Sequence[str], prefixes: Sequence[str],
            next_queries: Sequence[str], *,
            valid: tuple[Sequence[str], Sequence[str], Sequence[str]] | None = None,
            checkpoint: str | os.PathLike | None = None) -> Seq2SeqCompleter:
        """Train on N requests (previous query, prefix) and their next queries.

        valid : (prev_queries, prefixes, next_queries) held out for early stopping on
            MRR@10 (up to ``valid_size`` of them, a seeded sample); None trains ``epochs``
            epochs.
        checkpoint : a file the training state is saved to after every epoch; when it holds
            this training's state (same parameters and data), training resumes after its
            last epoch with the result an uninterrupted fit gives (`baselines._checkpoint`;
            another training's file is refused). ``fit_time_s_`` counts the restored
            epochs' seconds too, and not the writing of checkpoints.
        """
        self._validate_params()
        prev, pre, nxt = check_triples(prev_queries, prefixes, next_queries, "training")
        if valid is not None:
            if not isinstance(valid, tuple | list) or len(valid) != 3:
                raise TypeError("valid must be a (prev_queries, prefixes, next_queries) tuple "
                                "or None")
            vprev, vpre, vnxt = check_triples(*valid, "valid")
        checkpoint = for_training(
            checkpoint, "seq2seq", self.get_params(),
            (prev, pre, nxt, *((vprev, vpre, vnxt) if valid is not None else (None,))))
        device = self._train_device()
        with _torch_settings(self.n_threads, deterministic=True):
            t0 = time.perf_counter()
            self.vocab_ = CharVocab.build([*prev, *nxt],
                                          min_count=self.min_char_count)
            src = [self._source(p, x) for p, x in zip(prev, pre)]
            tgt = [self.vocab_.target(q, max_target_len=self.max_target_len) for q in nxt]
            torch.manual_seed(self.seed)
            net = Seq2SeqNet(vocab_size=len(self.vocab_), emb_dim=self.emb_dim,
                             hidden=self.hidden, dropout=float(self.dropout)).to(device)
            valid_mrr = None
            if valid is not None:
                rng = np.random.default_rng(self.seed)
                rows = np.sort(rng.permutation(len(vnxt))[:self.valid_size])
                v_req = [(vprev[i], vpre[i]) for i in rows]
                v_true = [vnxt[i] for i in rows]

                def valid_mrr() -> float:
                    rr = 0.0
                    for (p, x), truth in zip(v_req, v_true):
                        out = self._complete(net, p, x, k=10)
                        rr += 1.0 / (out.index(truth) + 1) if truth in out else 0.0
                    return rr / len(v_true)
            cfg = TrainConfig(lr=float(self.lr), batch_size=self.batch_size, epochs=self.epochs,
                              patience=self.patience, clip=float(self.clip), seed=self.seed,
                              verbose=bool(self.verbose))
            history = run_training(net, src, tgt, cfg, device, valid_mrr, checkpoint)
            self.fit_time_s_ = time.perf_counter() - t0
            if checkpoint is not None:
                self.fit_time_s_ = checkpoint.training_seconds(self.fit_time_s_)
        self.history_ = history
        mrrs = [h["valid_mrr_at_10"] for h in history]
        self.best_epoch_ = (int(np.argmax(mrrs)) + 1 if mrrs and mrrs[0] is not None
                            else len(history))
        self._set_net(net.cpu())
        return self

    def _set_net(self, net: Seq2SeqNet) -> None:
        self.net_ = net.eval()
        self.model_bytes_ = int(sum(p.numel() * p.element_size() for p in net.parameters()))

    def _complete(self, net: Seq2SeqNet, prev_query: str, prefix: str, *, k: int) -> list[str]:
        found = beam_complete(net, self._source(prev_query, prefix), self.vocab_.ids(prefix),
                              k=k, beam_size=max(self.beam_size, k),
                              max_len=self.max_target_len)
        text = self.vocab_.text
        return [prefix + text(ids) for ids, _ in found]

    # ----------------------------------------------------------------- suggest
    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise not_fitted("this Seq2SeqCompleter is not fitted yet: call "
                                 "fit(prev_queries, prefixes, next_queries) first (or "
                                 "Seq2SeqCompleter.load(folder))")

    def suggest(self, prev_query: str, prefix: str, *, k: int = 10) -> list[str]:
        """Up to ``k`` distinct next queries starting with ``prefix``, most probable first
        (one request, on the CPU, with the current torch threads: the latency path)."""
        self._check_fitted()
        check_request(prev_query, prefix)
        k = check_int("k", k, minimum=1)
        with torch.inference_mode():
            return self._complete(self.net_, prev_query, prefix, k=k)

    def suggest_batch(self, prev_queries: Sequence[str], prefixes: Sequence[str], *,
                      k: int = 10) -> list[list[str]]:
        """`suggest` for each request, with ``n_threads`` torch threads."""
        self._check_fitted()
        prev, pre = check_requests(prev_queries, prefixes)
        with _torch_settings(self.n_threads, deterministic=False):
            return [self.suggest(p, x, k=k) for p, x in zip(prev, pre)]

    # --------------------------------------------------------------- save/load
    def save(self, folder: str | Path) -> None:
        """Write ``seq2seq.json`` (format, params, vocabulary, history) and ``weights.pt``."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "params": self.get_params(), "chars": self.vocab_.chars,
                "fit_time_s_": getattr(self, "fit_time_s_", None),
                "history_": getattr(self, "history_", None),
                "best_epoch_": getattr(self, "best_epoch_", None)}
        torch.save(self.net_.state_dict(), folder / _WEIGHTS_FILE)
        (folder / _META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False),
                                         encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> Seq2SeqCompleter:
        """Read a model written by :meth:`save`; a missing, damaged or foreign folder raises
        FileNotFoundError / ValueError saying what is wrong."""
        folder, meta = read_model_meta(folder, _META_FILE, FORMAT_NAME, FORMAT_VERSION,
                                       "Seq2SeqCompleter")
        try:
            model = cls(**meta["params"])
            model._validate_params()
            model.vocab_ = CharVocab(meta["chars"])
            net = Seq2SeqNet(vocab_size=len(model.vocab_), emb_dim=model.emb_dim,
                             hidden=model.hidden, dropout=float(model.dropout))
            net.load_state_dict(torch.load(folder / _WEIGHTS_FILE, map_location="cpu",
                                           weights_only=True))
        except (KeyError, TypeError, OSError, ValueError, RuntimeError) as exc:
            raise ValueError(f"{folder} is a damaged Seq2SeqCompleter model: {exc}") from exc
        model.fit_time_s_ = meta.get("fit_time_s_")
        model.history_ = meta.get("history_")
        model.best_epoch_ = meta.get("best_epoch_")
        model._set_net(net)
        return model
