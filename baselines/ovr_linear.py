"""One-vs-rest sparse linear baseline (DiSMEC-style): one binary SVM per label, no tree.

Contract: ``fit(X, Y)`` (X: CSR float32 N × D, rows l2-normalised; Y: N × L 0/1) trains, for
every label, one L2-regularised squared-hinge SVM over **all** N training rows (positives =
the rows with the label, negatives = every other row), then keeps only the weights with
``|w| >= threshold`` (DiSMEC's "prune after solve", Babbar & Schölkopf, WSDM 2017).
``predict(X, *, topk)`` scores every label exactly (``wᵀ[x; bias]``) and keeps the top k:
CSR float32 N × L.

It is XR-Linear with a one-level tree and xmr's own dual coordinate-descent solver. By default
(``lanes=None``: 8) it solves several labels in each pass over the rows
(`xmr.kernels.solver_batch.train_labels_lanes`): every problem here has all N rows, and on
Home Depot (37k rows, 29k labels with 1-2 positives each) a problem needs ~10 full passes, each
a chain of cache misses, which 8 problems sharing a pass pay once (measured there: 2.2× less
CPU per label against the one-label solver before it prefetched its rows; ~1.4× against the
prefetching one: ``docs/bench/ovr_homedepot_0.005.json``, ``python -m
benchmarks.ovr_homedepot``). The weights are then eps-approximate solutions of the same
problems, not bit-identical to the one-label solver's, and depend on
which labels shared their passes (``chunk_size``, ``lanes``), never on ``n_jobs``. With
``lanes=1`` every label is solved alone by `xmr.kernels.solver.train_task` (pool = all rows,
children = a chunk of labels), with XR-Linear's seeds, so the weights equal
``XRLinear(max_leaf_size >= L)``'s bit for bit (tested). Labels are trained in parallel
chunks on a thread pool (the kernels release the GIL), as `XRLinear` trains its tasks.
Prediction is a numba kernel over the sparse weights: per row, a sparse accumulator over
the labels the row's features touch plus the best bias-only labels, so it never builds a
dense N × L block (memory: one L-vector of scratch per worker).

Hyperparameters (the values used, and why)
-----------------------------------------
- ``threshold``: chosen on validation data (`select_threshold`, candidates
  ``THRESHOLD_CANDIDATES`` = 0, 0.01, 0.05, 0.1; the harness does this for every
  ``paper1_comparison`` run). XR-Linear's 0.1 is not this model's best: each per-label SVM
  sees all N rows, so its weights are smaller and the same cut removes far more (on ``bench``
  626k non-zeros vs XR-Linear's 1.02M, recall@100 0.815 vs 0.856); DiSMEC prunes at 0.01.
  Pruning happens after each solve and labels are independent, so `prune` (a re-pruned copy)
  equals training at the higher threshold.
- ``Cp = Cn = 1``, ``eps = 0.1``, ``max_iter = 100``, ``bias = 1``: XR-Linear's / PECOS's
  solver defaults, so any difference between the two models comes from the tree only.
- ``lanes = None`` (auto): 8 labels per pass of the rows (Home Depot, CPU ms per label,
  before the one-label solver prefetched: 1 lane 61, 4 lanes 38, 8 lanes 28, 16 lanes 34:
  past 8 the n_features × lanes block of weights leaves the cache), fewer when the features
  are so many that the block would exceed 16M entries (128 MB) per worker.
- ``chunk_size = None`` (auto): labels per task. With lanes, 256 (a task's lanes drain at its
  end: a longer task wastes less). With ``lanes=1`` the solver's output buffer is
  (#features used by the pool) × chunk_size entries, so the chunk is sized to keep it near
  2M entries (24 MB) per worker, between 1 and 256 labels.

Its measured cost (one binary problem per label over all rows, against XR-Linear's ~100-label
pools) is in the README ("OVR linear: cost"), with the command that measured it.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba as nb
import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from xmr._estimator import ParamsMixin, not_fitted
from xmr._io import DAMAGED_FILE_ERRORS, model_folder, read_model_meta
from xmr._threads import resolve_n_jobs
from xmr._validation import (
    check_features,
    check_float,
    check_int,
    check_labels,
    check_prune_leaves_weights,
    check_query,
    check_seed,
    check_trained_weights,
    check_unit_rows,
)
from xmr.kernels.solver import train_task
from xmr.kernels.solver_batch import train_labels_lanes
from xmr.params import LinearParams, OVRParams, store_params

FORMAT_NAME = "baselines.OVRLinear"
FORMAT_VERSION = 1
_META_FILE = "ovr_linear.json"
_WEIGHTS_FILE = "W.npz"
_OUT_BUFFER_ENTRIES = 1 << 21  # auto chunk: solver output buffer per task (12 bytes each)
_MAX_AUTO_CHUNK = 256  # auto chunk: labels per task at most (and the chunk with lanes)
_AUTO_LANES = 8  # auto lanes: labels per pass of the rows (the fastest on Home Depot)
_LANE_ENTRIES = 1 << 24  # auto lanes: the n_features × lanes weight block per worker at most
_PREDICT_ROWS = 16_384  # rows per predict call of the kernel (bounds the output buffers)
# pruning levels `select_threshold` tries by default: unpruned, DiSMEC's 0.01, ..., XR-Linear's
THRESHOLD_CANDIDATES = OVRParams.threshold_candidates  # xmr.params: one default


# --------------------------------------------------------------------------- kernels
@nb.njit(nogil=True, cache=True)
def _score_row(x_idx, x_val, w_ptr, w_lab, w_val, bias_score, bias_order, k,
               acc, mark, touched, out_lab, out_score):
    """Top-k labels of one row by ``bias_score[l] + Σ_f x_f · W[f, l]`` (ties: lower label).

    ``w_ptr/w_lab/w_val``: the weights as CSR over features (bias row excluded);
    ``bias_order``: labels by decreasing ``bias_score`` (ties: lower label first).
    Scratch: ``acc`` (L,) float64 all 0, ``mark`` (L,) bool all False (both restored),
    ``touched`` (L,) int64. Writes ``out_lab``/``out_score`` (k,), returns how many."""
    n_t = 0
    for p in range(x_idx.size):
        # unsigned indices: numba emits negative-index wrap-around code for signed ones
        up = np.uint64(p)
        uf = np.uint64(x_idx[up])
        v = np.float64(x_val[up])
        for q in range(w_ptr[uf], w_ptr[uf + np.uint64(1)]):
            uq = np.uint64(q)
            lab = w_lab[uq]
            ul = np.uint64(lab)
            if not mark[ul]:
                mark[ul] = True
                touched[np.uint64(n_t)] = lab
                n_t += 1
            acc[ul] += v * w_val[uq]
    # candidates: every touched label + the k best bias-only labels that were not touched
    n_extra = 0
    for j in range(bias_order.size):
        if n_extra == k:
            break
        if not mark[bias_order[j]]:
            n_extra += 1
    n_c = n_t + n_extra
    cand = np.empty(n_c, np.int64)
    cand[:n_t] = touched[:n_t]
    m = n_t
    for j in range(bias_order.size):
        if m == n_c:
            break
        lab = bias_order[j]
        if not mark[lab]:
            cand[m] = lab
            m += 1
    cand.sort()  # label order, so the stable sort below breaks ties by the lower label
    score = np.empty(n_c, np.float64)
    for j in range(n_c):
        lab = cand[j]
        score[j] = bias_score[lab] + acc[lab]
    order = np.argsort(-score, kind="mergesort")
    n_out = min(k, n_c)
    for j in range(n_out):
        out_lab[j] = cand[order[j]]
        out_score[j] = score[order[j]]
    for j in range(n_t):
        lab = touched[j]
        acc[lab] = 0.0
        mark[lab] = False
    return n_out


@nb.njit(nogil=True, cache=True, parallel=True)
def _predict_batch(x_ptr, x_idx, x_val, w_ptr, w_lab, w_val, bias_score, bias_order, k,
                   n_chunks):
    """`_score_row` for every row, in ``n_chunks`` contiguous runs of rows (one scratch each).
    Returns labels (n, k) int64 (-1 padded), scores (n, k) float32 and counts (n,)."""
    n = x_ptr.size - 1
    L = bias_score.size
    labels = np.full((n, k), -1, np.int64)
    scores = np.zeros((n, k), np.float32)
    counts = np.zeros(n, np.int64)
    n_chunks = max(1, min(n, n_chunks))
    for ch in nb.prange(n_chunks):
        acc = np.zeros(L, np.float64)
        mark = np.zeros(L, np.bool_)
        touched = np.empty(L, np.int64)
        out_lab = np.empty(k, np.int64)
        out_score = np.empty(k, np.float64)
        for r in range(ch * n // n_chunks, (ch + 1) * n // n_chunks):
            s, e = x_ptr[r], x_ptr[r + 1]
            c = _score_row(x_idx[s:e], x_val[s:e], w_ptr, w_lab, w_val, bias_score, bias_order,
                           k, acc, mark, touched, out_lab, out_score)
            counts[r] = c
            for j in range(c):
                labels[r, j] = out_lab[j]
                scores[r, j] = out_score[j]
    return labels, scores, counts


# --------------------------------------------------------------------------- estimator
_P = LinearParams  # XR-Linear's solver defaults, defined once


class OVRLinear(ParamsMixin):
    """One-vs-rest sparse linear ranker (DiSMEC-style); see the module docstring.

    Parameters (all keyword-only; stored as given, validated by :meth:`fit`)
    ----------
    threshold : float, default 0.1
        Weights with ``|w| < threshold`` are dropped after each solve (0 keeps all non-zeros).
    Cp, Cn : float, default 1.0
        SVM costs of positive and negative instances.
    eps : float, default 0.1
        Stopping tolerance of the dual coordinate descent.
    max_iter : int, default 100
        Passes over the data per binary problem at most.
    bias : float, default 1.0
        Value of the constant feature appended to every row (0 = no bias term).
    seed : int, default 0
        Seeds the solver's permutations (label ``l`` uses ``seed + l``, as XR-Linear).
    n_jobs : int, default -1
        Threads for training and batch prediction; -1 = all cores.
    lanes : int or None, default None
        Labels solved together in each pass over the rows (`xmr.kernels.solver_batch`);
        1 = one label at a time, XR-Linear's solver bit for bit; None = 8, fewer when the
        features are very many (see the module docstring).
    chunk_size : int or None, default None
        Labels per training task; None = 256 with lanes, else sized from the number of
        features (see the module docstring). With lanes > 1 the weights depend on it (the
        labels of a task share their passes), never on ``n_jobs``.
    allow_empty : bool, default False
        Accept labels with no positive training row and rows with no label.
    verbose : bool, default False
        Progress bar over the training tasks.

    Attributes (after fit)
    ----------
    weights_ : CSC float32 (D+1) × L, last row = bias weights; n_features_in_, n_labels_,
    model_nnz_, fit_time_s_ (training, seconds), lanes_ (labels per pass of the rows the fit
    used: ``lanes`` resolved).
    """

    def __init__(self, *, threshold: float = _P.threshold, Cp: float = _P.Cp,
                 Cn: float = _P.Cn, eps: float = _P.eps, max_iter: int = _P.max_iter,
                 bias: float = _P.bias, seed: int = 0, n_jobs: int = _P.n_jobs,
                 lanes: int | None = None, chunk_size: int | None = None,
                 allow_empty: bool = False, verbose: bool = False):
        store_params(self, locals())  # get_params/set_params: xmr._estimator.ParamsMixin

    def _validate_params(self) -> None:
        check_float("threshold", self.threshold, minimum=0.0)
        check_float("Cp", self.Cp, minimum=0.0, strict=True)
        check_float("Cn", self.Cn, minimum=0.0, strict=True)
        check_float("eps", self.eps, minimum=0.0, strict=True)
        check_int("max_iter", self.max_iter, minimum=1)
        check_float("bias", self.bias, minimum=0.0)
        check_seed("seed", self.seed)
        check_int("n_jobs", self.n_jobs, minimum=-1)
        if self.lanes is not None:
            check_int("lanes", self.lanes, minimum=1)
        if self.chunk_size is not None:
            check_int("chunk_size", self.chunk_size, minimum=1)

    # --------------------------------------------------------------------- fit
    def fit(self, X, Y) -> OVRLinear:
        """Train one binary SVM per label on X (N × D CSR float32, rows l2-normalised) and
        Y (N × L, 0/1). Returns self.

        Raises ValueError for a non-empty row of X whose l2 norm is not 1 (all-zero rows are
        fine) and when ``threshold`` prunes every weight (a model that ranks every query
        alike)."""
        self._validate_params()
        X = check_features(X)
        Y = check_labels(Y, X.shape[0])
        N, D = X.shape
        L = Y.shape[1]
        if N == 0:
            raise ValueError("X has no rows: nothing to train on")
        if L < 1:
            raise ValueError(f"Y must have at least 1 label, got {L}")
        check_unit_rows(X)
        if not self.allow_empty:
            per_label = np.bincount(Y.indices, minlength=L)
            if (per_label == 0).any():
                bad = np.flatnonzero(per_label == 0)
                raise ValueError(
                    f"Y has {bad.size} labels with no positive training row (e.g. label ids "
                    f"{bad[:5].tolist()}); drop them or pass allow_empty=True")
            empty_rows = np.flatnonzero(np.diff(Y.indptr) == 0)
            if empty_rows.size:
                raise ValueError(
                    f"Y has {empty_rows.size} rows with no label (e.g. rows "
                    f"{empty_rows[:5].tolist()}); drop them or pass allow_empty=True")
        n_threads = resolve_n_jobs(self.n_jobs)
        self.lanes_ = self._lanes(D)
        t0 = time.perf_counter()
        W = self._train(X, Y, n_threads, self.lanes_)
        self.fit_time_s_ = time.perf_counter() - t0
        check_trained_weights([W], float(self.threshold), "OVRLinear")
        self._set_model(W, D)
        return self

    def _lanes(self, n_features: int) -> int:
        if self.lanes is not None:
            return int(self.lanes)
        return int(max(1, min(_AUTO_LANES, _LANE_ENTRIES // max(1, n_features))))

    def _chunk(self, n_used_features: int, L: int, lanes: int) -> int:
        if self.chunk_size is not None:
            return min(int(self.chunk_size), L)
        if lanes > 1:  # not from the data's size: the chunk decides which labels share passes
            return min(_MAX_AUTO_CHUNK, L)
        auto = _OUT_BUFFER_ENTRIES // max(1, n_used_features)
        return int(min(max(1, auto), _MAX_AUTO_CHUNK, L))

    def _train(self, X: sp.csr_matrix, Y: sp.csr_matrix, n_threads: int,
               lanes: int) -> sp.csc_matrix:
        N, D = X.shape
        L = Y.shape[1]
        X_indptr = X.indptr.astype(np.int64)
        X_indices = X.indices.astype(np.int64)
        Yc = sp.csc_matrix(Y)
        Yc.sort_indices()
        pos_ptr, pos_idx = Yc.indptr.astype(np.int64), Yc.indices.astype(np.int64)
        pool = np.arange(N, dtype=np.int64)  # every label trains on every row
        n_used = int(np.unique(X.indices).size)
        chunk = self._chunk(n_used, L, lanes)
        chunks = [np.arange(s, min(s + chunk, L), dtype=np.int64) for s in range(0, L, chunk)]
        local = threading.local()
        solver = (float(self.Cp), float(self.Cn), float(self.eps), int(self.max_iter),
                  float(self.bias), float(self.threshold), int(self.seed))
        X_indices32 = X.indices.astype(np.int32, copy=False)  # half the memory traffic of int64

        def run(children):
            if lanes > 1:
                return train_labels_lanes(X_indptr, X_indices32, X.data, D, children, pos_ptr,
                                          pos_idx, lanes, *solver)
            if not hasattr(local, "feat_map"):
                local.feat_map = np.full(D, -1, dtype=np.int64)
            return train_task(X_indptr, X_indices, X.data, pool, children, pos_ptr, pos_idx,
                              *solver, local.feat_map)

        parts = []
        with ThreadPoolExecutor(max_workers=n_threads) as ex, tqdm(
                total=L, desc="train one-vs-rest", unit="label",
                disable=None if self.verbose else True, leave=False) as bar:
            for children, res in zip(chunks, ex.map(run, chunks), strict=True):
                parts.append(res)
                bar.update(children.size)
        feats = np.concatenate([p[0] for p in parts])
        labs = np.concatenate([p[1] for p in parts])
        vals = np.concatenate([p[2] for p in parts])
        bias_w = np.concatenate([p[3] for p in parts])  # (L,) in label order
        keep = np.flatnonzero(bias_w != 0)
        rows = np.concatenate([feats, np.full(keep.size, D, np.int32)])
        cols = np.concatenate([labs, keep.astype(np.int32)])
        data = np.concatenate([vals, bias_w[keep]])
        W = sp.csc_matrix((data, (rows, cols)), shape=(D + 1, L), dtype=np.float32)
        W.sort_indices()
        return W

    def _set_model(self, W: sp.csc_matrix, n_features: int) -> None:
        self.weights_ = W
        self.n_features_in_ = int(n_features)
        self.n_labels_ = int(W.shape[1])
        self.model_nnz_ = int(W.nnz)
        D = n_features
        Wr = sp.csr_matrix(W[:D])
        Wr.sort_indices()
        self._w_ptr = Wr.indptr.astype(np.int64)
        self._w_lab = Wr.indices.astype(np.int64)
        self._w_val = Wr.data.astype(np.float32)
        bias_w = W[D].toarray().ravel().astype(np.float64)
        self._bias_score = bias_w * float(self.bias)
        self._bias_order = np.argsort(-self._bias_score, kind="stable").astype(np.int64)
        self._local = threading.local()

    def prune(self, threshold: float) -> OVRLinear:
        """A copy with weights ``|w| < threshold`` dropped (bias weights too, as the solver
        does); equal to training at ``threshold`` (each label's solve is independent and
        pruned after it). ``threshold`` must be >= the model's own and <= the largest |w| (a
        model without a weight is refused)."""
        self._check_fitted()
        threshold = check_float("threshold", threshold, minimum=0.0)
        if threshold < self.threshold:
            raise ValueError(f"threshold must be >= the model's threshold {self.threshold} "
                             f"(pruned weights cannot come back), got {threshold}")
        check_prune_leaves_weights([self.weights_], threshold)
        return self._pruned(threshold)

    def _pruned(self, threshold: float) -> OVRLinear:
        """`prune` without its checks: `select_threshold` scores every candidate, including
        one above every weight (a model that ranks by label id, which then loses)."""
        W = self.weights_.copy()
        W.data[np.abs(W.data) < threshold] = 0.0
        W.eliminate_zeros()
        new = OVRLinear(**{**self.get_params(), "threshold": threshold})
        new.fit_time_s_ = getattr(self, "fit_time_s_", float("nan"))
        new.lanes_ = getattr(self, "lanes_", None)  # a loaded model does not know it
        new._set_model(W, self.n_features_in_)
        return new

    # ----------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise not_fitted("this OVRLinear is not fitted yet: call fit(X, Y) first "
                             "(or OVRLinear.load(folder))")

    def predict(self, X, *, topk: int = 10) -> sp.csr_matrix:
        """Exact scores ``wᵀ[x; bias]`` of the ``topk`` best labels of each row: CSR float32
        (N, n_labels), indices sorted. Rows are processed in blocks, so memory stays
        O(block × topk + threads × L). Rows of X: l2-normalised or all-zero, as for
        :meth:`fit` (checked; :meth:`predict_one` does not check the norm)."""
        self._check_fitted()
        k = min(check_int("topk", topk, minimum=1), self.n_labels_)
        X = check_features(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features but the model was trained with "
                             f"{self.n_features_in_}; use the same featurizer as for fit")
        check_unit_rows(X)
        n_threads = resolve_n_jobs(self.n_jobs)
        N = X.shape[0]
        labels = np.empty((N, k), np.int64)
        scores = np.empty((N, k), np.float32)
        counts = np.empty(N, np.int64)
        x_ptr = X.indptr.astype(np.int64)
        x_idx = X.indices.astype(np.int64)
        old = nb.get_num_threads()
        nb.set_num_threads(n_threads)
        try:
            for s in range(0, N, _PREDICT_ROWS):
                e = min(s + _PREDICT_ROWS, N)
                ptr = x_ptr[s:e + 1] - x_ptr[s]
                lab, sc, cnt = _predict_batch(
                    ptr, x_idx[x_ptr[s]:x_ptr[e]], X.data[x_ptr[s]:x_ptr[e]], self._w_ptr,
                    self._w_lab, self._w_val, self._bias_score, self._bias_order, k,
                    max(1, min(e - s, 4 * n_threads)))
                labels[s:e], scores[s:e], counts[s:e] = lab, sc, cnt
        finally:
            nb.set_num_threads(old)
        valid = labels >= 0
        indptr = np.concatenate([[0], np.cumsum(counts)])
        P = sp.csr_matrix((scores[valid], labels[valid], indptr), shape=(N, self.n_labels_))
        P.sort_indices()
        return P

    def predict_one(self, indices: np.ndarray, data: np.ndarray, *, topk: int = 10
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Single-query fast path (one thread, no scipy): ``indices`` feature ids and ``data``
        their values (e.g. ``TextFeaturizer.transform_one``). Returns (label ids int64,
        scores float32), best first."""
        self._check_fitted()
        k = min(check_int("topk", topk, minimum=1), self.n_labels_)
        indices, data = check_query(indices, data, self.n_features_in_)
        local = self._local
        if not hasattr(local, "acc"):
            L = self.n_labels_
            local.acc = np.zeros(L, np.float64)
            local.mark = np.zeros(L, np.bool_)
            local.touched = np.empty(L, np.int64)
        out_lab = np.empty(k, np.int64)
        out_score = np.empty(k, np.float64)
        n = _score_row(indices.astype(np.int64, copy=False), data.astype(np.float32, copy=False),
                       self._w_ptr, self._w_lab, self._w_val, self._bias_score,
                       self._bias_order, k, local.acc, local.mark, local.touched, out_lab,
                       out_score)
        return out_lab[:n], out_score[:n].astype(np.float32)

    # --------------------------------------------------------------- save/load
    def save(self, folder: str | Path) -> None:
        """Write ``ovr_linear.json`` (format, params, sizes) and ``W.npz`` to ``folder``
        (created if missing; an existing folder's model files are overwritten). A path that
        is an existing file raises FileExistsError before anything is written."""
        self._check_fitted()
        folder = model_folder(folder, "OVRLinear")
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "params": self.get_params(), "n_features_in_": self.n_features_in_,
                "n_labels_": self.n_labels_, "fit_time_s_": getattr(self, "fit_time_s_", None)}
        sp.save_npz(folder / _WEIGHTS_FILE, self.weights_)
        (folder / _META_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> OVRLinear:
        """Read a model written by :meth:`save`; a missing, damaged or foreign folder raises
        FileNotFoundError / ValueError saying what is wrong."""
        folder, meta = read_model_meta(folder, _META_FILE, FORMAT_NAME, FORMAT_VERSION,
                                       "OVRLinear")
        try:
            n_features = int(meta["n_features_in_"])
            n_labels = int(meta["n_labels_"])
            model = cls(**meta["params"])
            model._validate_params()
            W = sp.csc_matrix(sp.load_npz(folder / _WEIGHTS_FILE), dtype=np.float32)
        except DAMAGED_FILE_ERRORS as exc:
            raise ValueError(f"{folder} is a damaged OVRLinear model ({type(exc).__name__}: "
                             f"{exc}); save it again or retrain") from exc
        if W.shape != (n_features + 1, n_labels):
            raise ValueError(f"{folder} is a damaged OVRLinear model: {_WEIGHTS_FILE} has shape "
                             f"{W.shape}, expected {(n_features + 1, n_labels)}")
        model.fit_time_s_ = meta.get("fit_time_s_")
        model._set_model(W, n_features)
        return model


# ------------------------------------------------------------------ threshold selection
def select_threshold(X, Y, *, candidates=THRESHOLD_CANDIDATES, valid_fraction: float = 0.1,
                     seed: int = 0, **params) -> tuple[float, dict[float, float]]:
    """The pruning threshold with the best validation recall@10 (ties: the larger threshold,
    i.e. the smaller model).

    A seeded random ``valid_fraction`` of the rows of (X, Y) is held out; one `OVRLinear`
    (``params``: its other hyperparameters) is trained on the rest at the smallest candidate
    and re-pruned (`OVRLinear.prune`, exact) to each. Returns ``(best, {candidate: recall})``.
    """
    X = check_features(X)
    Y = check_labels(Y, X.shape[0])
    check_unit_rows(X)  # here, not in the probe's fit: row numbers of X, not of its subset
    cands = sorted({check_float("candidates", c, minimum=0.0) for c in candidates})
    if not cands:
        raise ValueError("candidates is empty: give at least one threshold")
    valid, fit = validation_split(X.shape[0], valid_fraction, seed)
    probe = OVRLinear(**{**params, "threshold": cands[0], "seed": seed,
                         "allow_empty": True}).fit(X[fit], Y[fit])
    scores = candidate_scores(probe, X[valid], Y[valid], cands)
    best = max(cands, key=lambda c: (scores[c], c))
    return best, scores


def validation_split(n_rows: int, valid_fraction: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """`select_threshold`'s rows: (validation rows, training rows), sorted int64 ids, a
    seeded random ``valid_fraction`` of ``n_rows`` held out."""
    valid_fraction = check_float("valid_fraction", valid_fraction, minimum=0.0, strict=True)
    n_valid = int(round(valid_fraction * n_rows))
    if valid_fraction >= 1.0 or not 1 <= n_valid < n_rows:
        raise ValueError(f"valid_fraction={valid_fraction} of {n_rows} rows leaves no "
                         f"training or no validation row; use a value in (0, 1)")
    perm = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(perm[:n_valid]), np.sort(perm[n_valid:])


def candidate_scores(probe: OVRLinear, X_valid, Y_valid, candidates) -> dict[float, float]:
    """``{threshold: recall@10 on (X_valid, Y_valid)}`` of ``probe`` re-pruned to each
    candidate (each >= ``probe.threshold``): `select_threshold`'s scores."""
    from xmr.metrics import recall_at_k

    return {c: float(recall_at_k(Y_valid, probe._pruned(c).predict(X_valid, topk=10), 10))
            for c in candidates}


# --------------------------------------------------------------------------- benchmark
def main(argv: list[str] | None = None) -> dict:
    """``python -m baselines.ovr_linear [--preset bench] [--threshold 0.1]``: train on the
    synthetic preset with word (1, 2) TF-IDF, print and return train_s, model_nnz, P@1, R@10
    and batch throughput (numba kernels warmed up first, never timed)."""
    import argparse

    from xmr.datasets.synthetic import make_product_search_preset
    from xmr.features import TextFeaturizer
    from xmr.metrics import ranking_metrics
    from xmr.warmup import warmup

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--preset", default="bench")
    parser.add_argument("--threshold", type=float, default=0.1)
    parser.add_argument("--n-jobs", type=int, default=-1)
    args = parser.parse_args(argv)
    warmup()
    data = make_product_search_preset(args.preset)
    feat = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=None)
    X = feat.fit_transform(data.train_texts)
    X_test = feat.transform(data.test_texts)
    OVRLinear(n_jobs=1, allow_empty=True).fit(X[:100], data.Y_train[:100]).predict(X[:10])
    model = OVRLinear(threshold=args.threshold, n_jobs=args.n_jobs, allow_empty=True,
                      verbose=True).fit(X, data.Y_train)
    t0 = time.perf_counter()
    P = model.predict(X_test, topk=100)
    predict_s = time.perf_counter() - t0
    metrics = ranking_metrics(data.Y_test, P)
    out = {"preset": args.preset, "threshold": args.threshold, "n_features": X.shape[1],
           "train_time_s": model.fit_time_s_, "model_nnz": model.model_nnz_,
           "precision_at_1": metrics["precision_at_1"], "recall_at_10": metrics["recall_at_10"],
           "recall_at_100": metrics["recall_at_100"],
           "throughput_qps": X_test.shape[0] / predict_s}
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
