"""XR-Linear: label tree + one linear ranker per tree node + beam search (PECOS ``xlinear``)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numba as nb
import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from xmr._estimator import ParamsMixin, not_fitted
from xmr._io import DAMAGED_FILE_ERRORS, model_folder, read_model_meta
from xmr._memory import release_free_memory
from xmr._threads import resolve_n_jobs
from xmr._validation import (
    check_bool,
    check_choice,
    check_features,
    check_float,
    check_int,
    check_labels,
    check_power_of_two,
    check_prune_leaves_weights,
    check_seed,
    check_trained_weights,
    check_unit_rows,
    query_arrays,
    raise_query_problem,
)
from xmr.indexers.hkmeans import HierarchicalKMeans
from xmr.kernels.beam import POST_PROCESSORS, beam_search_batch, predict_one_checked
from xmr.kernels.layout import count_columns, level_columns, scatter_columns
from xmr.kernels.solver import train_tasks
from xmr.label_embedding import pifa
from xmr.layout import InferenceLayout, bias_entries, build_layout
from xmr.params import PREDICT, KMeansParams, XRLinearParams, store_params
from xmr.tree import LabelTree

FORMAT_NAME = "xmr.XRLinear"
FORMAT_VERSION = 1
NEGATIVE_SAMPLING = ("tfn", "man")
MAN_BEAM_SIZE = 20  # beam width and top-k of the matcher-aware negatives search: PECOS mines
# them with each layer's predict (its pred_params.only_topk, default 20), not the beam of 10


def validate_params(est) -> None:
    """The ranges of XR-Linear's hyperparameters (shared with the PECOS peer adapter)."""
    check_power_of_two("nr_splits", est.nr_splits)
    check_int("max_leaf_size", est.max_leaf_size, minimum=2)
    check_float("threshold", est.threshold, minimum=0.0)
    check_float("Cp", est.Cp, minimum=0.0, strict=True)
    check_float("Cn", est.Cn, minimum=0.0, strict=True)
    check_float("eps", est.eps, minimum=0.0, strict=True)
    check_int("max_iter", est.max_iter, minimum=1)
    check_float("bias", est.bias, minimum=0.0)
    check_choice("negative_sampling", est.negative_sampling, NEGATIVE_SAMPLING)
    check_seed("seed", est.seed)
    check_int("n_jobs", est.n_jobs, minimum=-1)


@contextmanager
def numba_threads(n: int):
    old = nb.get_num_threads()
    nb.set_num_threads(n)
    try:
        yield
    finally:
        nb.set_num_threads(old)


_K, _P = KMeansParams, XRLinearParams  # the defaults, defined once
# A level is cut into at least this many tasks per thread: with one task per parent, a level
# of few parents (the dense shape: 16 parents, ~60 children each, most rows in every pool)
# left one thread idle while the other finished the last long task. Gathering a pool once
# more per extra group costs little next to solving its children.
TASKS_PER_THREAD = 16


def task_batches(X_indptr, pool_ptr, pool_idx, child_ptr, trained, n_threads: int
                 ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A level's training tasks in batches for `xmr.kernels.solver.train_tasks`: a list of
    ``(task_parent, task_lo, task_hi)`` int64 arrays (children ``child_ptr``-positions
    ``lo:hi`` of ``parent``).

    A task is one parent's pool and a group of its children: a level with few parents splits
    their children into groups (``TASKS_PER_THREAD``), and so does a parent whose children
    cost more than a batch (below), into groups of about a batch each. Tasks are ordered by
    cost (the pool's non-zeros plus rows, times children), longest first, and consecutive
    tasks are batched up
    to ``1 / (TASKS_PER_THREAD × n_threads)`` of the level's cost each: a long task is a batch
    of its own, while the tens of thousands of one-child parents of a trie level take a few
    calls instead of one Python call and future each (which cost 4× their solving). The
    batching moves no weight: every task is solved as it is alone."""
    trained = np.asarray(trained, dtype=np.int64)
    n_kids = child_ptr[trained + 1] - child_ptr[trained]
    trained, n_kids = trained[n_kids > 0], n_kids[n_kids > 0]
    if trained.size == 0:
        return []
    cum = np.zeros(pool_idx.size + 1, dtype=np.int64)
    np.cumsum((np.diff(X_indptr) + 1)[pool_idx], out=cum[1:])
    pool_cost = (cum[pool_ptr[trained + 1]] - cum[pool_ptr[trained]]).astype(np.float64)
    n_tasks = TASKS_PER_THREAD * n_threads
    target = float((pool_cost * n_kids).sum()) / n_tasks  # a batch's share of the level
    # groups per parent: a level of few parents spreads each one over several tasks, and a
    # parent costing more than a batch's share is cut to that share (the trie's leaf level at
    # full AOL size has one parent of 110k children holding 98% of the level's cost: as one
    # task it ran on one thread while the other idled)
    groups = np.full(trained.size, -(-n_tasks // trained.size), dtype=np.int64)
    if target > 0.0:
        np.maximum(groups, np.ceil(pool_cost * n_kids / target).astype(np.int64), out=groups)
    np.minimum(groups, n_kids, out=groups)
    reps = np.repeat(np.arange(trained.size), groups)  # task -> index of its parent
    # group j of g over k children: np.array_split's sizes (the first k % g one larger)
    first = np.cumsum(groups) - groups  # each parent's first task
    j = np.arange(reps.size) - first[reps]
    k, g = n_kids[reps], groups[reps]
    start = j * (k // g) + np.minimum(j, k % g)
    size = k // g + (j < k % g)
    parent = trained[reps]
    lo = child_ptr[parent] + start
    hi = lo + size
    cost = pool_cost[reps] * size
    order = np.argsort(-cost, kind="stable")
    parent, lo, hi, cost = parent[order], lo[order], hi[order], cost[order]
    if target <= 0.0:  # nothing but empty pools
        return [(parent, lo, hi)]
    batch = np.floor((np.cumsum(cost) - cost) / target).astype(np.int64)
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(batch)) + 1, [cost.size]])
    return [(parent[a:b], lo[a:b], hi[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]


class XRLinear(ParamsMixin):
    """XR-Linear eXtreme multilabel ranker.

    Parameters (all keyword-only; stored as given, validated by :meth:`fit`)
    ----------
    nr_splits : int, default 16
        Out-degree B of the label tree (a power of two >= 2).
    max_leaf_size : int, default 100
        Labels per leaf cluster at most; the binary depth is ⌈log₂(L / max_leaf_size)⌉.
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
    negative_sampling : {"tfn", "man"}, default "tfn"
        "tfn" (teacher-forced): a child's negatives are the instances with a true label under
        its parent. "man": also the instances whose beam (width 10, over the already trained
        upper levels) reaches the parent (PECOS's "tfn+man").
    seed : int, default 0
        Seeds the indexer and the solver's permutations.
    n_jobs : int, default -1
        Threads for indexing, training and batch prediction; -1 = all cores.
    allow_empty : bool, default False
        Accept labels with no positive training row and rows with no label (PECOS accepts
        both silently); by default they are refused, because they usually mean a bad split.
    verbose : bool, default False
        Progress bars for each tree level's training and for prediction.

    Attributes (after fit)
    ----------
    tree_ : LabelTree; weights_ : list of CSC (D+1) × n_{t+1} float32 (last row = bias;
    rebuilt from the inference layout on each access, which holds the only copy);
    n_features_in_, n_labels_, model_nnz_, threshold_ (the pruning level the weights have),
    fit_time_s_ (indexing + training, seconds), index_time_s_.
    """

    def __init__(self, *, nr_splits: int = _K.nr_splits, max_leaf_size: int = _K.max_leaf_size,
                 threshold: float = _P.threshold, Cp: float = _P.Cp, Cn: float = _P.Cn,
                 eps: float = _P.eps, max_iter: int = _P.max_iter, bias: float = _P.bias,
                 negative_sampling: str = _P.negative_sampling, seed: int = 0,
                 n_jobs: int = _P.n_jobs, allow_empty: bool = False, verbose: bool = False):
        store_params(self, locals())  # get_params/set_params: ParamsMixin

    def _validate_params(self) -> None:
        validate_params(self)
        check_bool("allow_empty", self.allow_empty)
        check_bool("verbose", self.verbose)

    # --------------------------------------------------------------------- fit
    def fit(self, X, Y, *, tree: LabelTree | list | None = None) -> XRLinear:
        """Train on X (N × D CSR float32, rows l2-normalised) and Y (N × L, 0/1).

        ``tree``: train on a given label tree (a :class:`LabelTree` or a PECOS-layout list of
        cluster matrices) instead of building one by hierarchical k-means over PIFA.

        Raises ValueError for a non-empty row of X whose l2 norm is not 1 (all-zero rows are
        fine), and when ``threshold`` prunes every weight (a model that ranks every query
        alike); warns when it prunes every weight of one tree level.
        """
        X, Y, tree, n_threads = self._index(X, Y, tree)
        t0 = time.perf_counter()
        weights = self._train_levels(X, Y, tree, n_threads)
        self.fit_time_s_ = self.index_time_s_ + time.perf_counter() - t0
        check_trained_weights(weights, float(self.threshold), "XRLinear")
        self._set_model(tree, weights, float(self.threshold), X.shape[1])
        return self

    def _index(self, X, Y, tree) -> tuple[sp.csr_matrix, sp.csr_matrix, LabelTree, int]:
        """Checked X and Y, the label tree (built or given) and the thread count: everything
        :meth:`fit` (and :func:`xmr.sharded.fit_sharded`) does before training."""
        self._validate_params()
        X = check_features(X)
        Y = check_labels(Y, X.shape[0])
        if X.shape[0] == 0:
            raise ValueError("X has no rows: nothing to train on")
        if X.nnz == 0:
            raise ValueError(f"every row of X is empty ({X.shape[0]} rows, 0 non-zeros): "
                             f"nothing to learn from; check the featurizer's vocabulary")
        check_unit_rows(X)
        if Y.shape[1] < 2:
            raise ValueError(f"Y must have at least 2 labels, got {Y.shape[1]}")
        if not self.allow_empty:
            per_label = np.bincount(Y.indices, minlength=Y.shape[1])
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
        t0 = time.perf_counter()
        if tree is None:
            with numba_threads(n_threads):
                tree = HierarchicalKMeans(
                    nr_splits=self.nr_splits, max_leaf_size=self.max_leaf_size, seed=self.seed,
                    n_jobs=self.n_jobs).build(pifa(X, Y))
        else:
            tree = tree if isinstance(tree, LabelTree) else LabelTree.from_pecos_chain(tree)
            if tree.n_labels != Y.shape[1]:
                raise ValueError(f"tree has {tree.n_labels} labels but Y has {Y.shape[1]}")
        self.index_time_s_ = time.perf_counter() - t0
        return X, Y, tree, n_threads

    def _train_levels(self, X, Y, tree: LabelTree, n_threads: int, *,
                      parents: list[np.ndarray] | None = None) -> list[sp.csc_matrix]:
        """One CSC weight matrix per level. ``parents[t]``: train only the children of these
        level-t nodes (the others' columns stay empty; see :mod:`xmr.sharded`)."""
        targets = tree.level_targets(Y)
        N, D = X.shape
        X_indptr = X.indptr.astype(np.int64)
        X_indices = X.indices  # int32 as checked: no int64 copy of X's indices
        local = threading.local()

        def scratch():
            if not hasattr(local, "feat_map"):
                local.feat_map = np.full(D, -1, dtype=np.int64)
            return local.feat_map

        weights: list[sp.csc_matrix] = []
        for t in range(tree.depth):
            C = sp.csc_matrix(tree.chain[t])
            pools = self._pools(X, tree, targets, weights, t, n_threads)  # csc N × n_t
            Yt = targets[t]
            pos_ptr, pos_idx = Yt.indptr.astype(np.int64), Yt.indices.astype(np.int64)
            pool_ptr, pool_idx = pools.indptr.astype(np.int64), pools.indices.astype(np.int64)
            child_ptr, child_idx = C.indptr.astype(np.int64), C.indices.astype(np.int64)
            trained = (np.arange(C.shape[1], dtype=np.int64) if parents is None
                       else np.asarray(parents[t], dtype=np.int64))
            batches = task_batches(X_indptr, pool_ptr, pool_idx, child_ptr, trained, n_threads)

            def run(batch):
                return train_tasks(X_indptr, X_indices, X.data, pool_ptr, pool_idx, *batch,
                                   child_idx, pos_ptr, pos_idx, float(self.Cp), float(self.Cn),
                                   float(self.eps), int(self.max_iter), float(self.bias),
                                   float(self.threshold), int(self.seed), scratch())

            parts = []
            with ThreadPoolExecutor(max_workers=n_threads) as ex, tqdm(
                    total=len(batches), desc=f"train level {t + 1}/{tree.depth}", unit="batch",
                    disable=None if self.verbose else True, leave=False) as bar:
                for res in ex.map(run, batches):
                    parts.append(res)
                    bar.update(1)
            weights.append(self._assemble(parts, D, Yt.shape[1]))
            del parts, batches, pools
            release_free_memory()  # the threads' freed pieces, before the next level
        return weights

    def _pools(self, X, tree, targets, weights, t, n_threads) -> sp.csc_matrix:
        """Instances × level-t nodes: which instances train the children of each node."""
        N = X.shape[0]
        if t == 0:
            return sp.csc_matrix((np.ones(N, np.float32), (np.arange(N), np.zeros(N, int))),
                                 shape=(N, 1))
        pools = targets[t - 1]
        if self.negative_sampling == "man":
            layout = build_layout(tree.chain, weights, float(self.bias))
            nodes, _, counts = self._beam(X, layout, MAN_BEAM_SIZE, MAN_BEAM_SIZE,
                                          POST_PROCESSORS[PREDICT.post_processor], n_threads)
            rows = np.repeat(np.arange(N), counts)
            cols = nodes[nodes >= 0] - layout.level_base[t]
            man = sp.csc_matrix((np.ones(rows.size, np.float32), (rows, cols)),
                                shape=pools.shape)
            pools = sp.csc_matrix(pools + man)
        pools = sp.csc_matrix(pools)
        pools.sort_indices()
        return pools

    @staticmethod
    def _assemble(parts, D: int, n_children: int) -> sp.csc_matrix:
        """The batches' COO pieces (and bias weights, row D) into one CSC (D+1) × n_children.
        A part is `xmr.kernels.solver.train_tasks`' result: (feature, child, weight, bias
        weights, the children the bias weights belong to).

        Scattered straight into the CSC arrays, freeing each piece once placed: the peak is
        the pieces plus the matrix, not several concatenated copies of the level's weights.
        """
        counts = np.zeros(n_children, dtype=np.int64)
        bias_kids = [part[4][part[3] != 0] for part in parts]
        for part, kids in zip(parts, bias_kids):
            count_columns(part[1], counts)
            count_columns(kids, counts)
        indptr = np.zeros(n_children + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        nnz = int(indptr[-1])
        if nnz < np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)
        indices = np.empty(nnz, dtype=np.int32)
        data = np.empty(nnz, dtype=np.float32)
        fill = indptr[:-1].astype(np.int64)
        bias_vals = [part[3][part[3] != 0] for part in parts]
        for i in range(len(parts)):
            feat, kid, val = parts[i][:3]
            parts[i] = None  # free each piece once placed
            scatter_columns(feat, kid, val, fill, indices, data)
        row_d = np.int32(D)
        for kids, vals in zip(bias_kids, bias_vals):  # row D sorts last in its column
            scatter_columns(np.full(kids.size, row_d), kids, vals, fill, indices, data)
        W = sp.csc_matrix((data, indices, indptr), shape=(D + 1, n_children))
        W.sort_indices()
        return W

    def _set_model(self, tree: LabelTree, weights, threshold: float, n_features: int):
        """The fitted state from a tree and its weights. The weights are kept once, in the
        inference layout (:attr:`weights_` rebuilds them from it), and each level's bias
        weights as trained (the layout holds them times ``bias``)."""
        model_nnz = int(sum(W.nnz for W in weights))
        bias_weights = [bias_entries(sp.csc_matrix(W)) for W in weights]
        release_free_memory()  # before the layout's large allocations
        # the caller's list gives its matrices up level by level (every caller hands over a
        # list it holds no other reference into): a level's matrix and its layout coexist
        # only while copied
        layout = build_layout(tree.chain, weights, float(self.bias), release=True)
        # assigned together once the layout exists: weights_ reads all of them, so a failed
        # build (e.g. out of memory) leaves the previous fitted state whole
        self.tree_ = tree
        self.threshold_ = threshold
        self.n_features_in_ = int(n_features)
        self.n_labels_ = tree.n_labels
        self.model_nnz_ = model_nnz
        self._bias_weights = bias_weights
        self._layout: InferenceLayout = layout

    @property
    def weights_(self) -> list[sp.csc_matrix]:
        """One CSC (D+1) × n_{t+1} float32 matrix per level (last row = bias weights), rebuilt
        from the inference layout on each access: a fitted model holds its weights once (they
        were held twice, as these matrices and in the layout)."""
        return list(self._iter_weights())

    def weights_nbytes(self) -> int:
        """Bytes of :attr:`weights_` (data + indices + indptr of every level's CSC), counted
        from the layout without rebuilding the matrices."""
        self._check_fitted()
        lay = self._layout
        total = 0
        for t in range(lay.n_levels):
            parents = slice(int(lay.level_base[t]), int(lay.level_base[t + 1]) + 1)
            rows = lay.chunk_ptr[parents]
            nnz = int(lay.row_ptr[rows[-1]] - lay.row_ptr[rows[0]])
            nnz += self._bias_weights[t][0].size
            n_cols = int(lay.level_base[t + 2] - lay.level_base[t + 1])
            # scipy's CSC gives indices and indptr one index dtype: int32 while the shape and
            # the non-zeros fit it (scipy.sparse's get_index_dtype), int64 beyond
            wide = max(nnz, self.n_features_in_ + 1, n_cols) > np.iinfo(np.int32).max
            total += nnz * 4 + (nnz + n_cols + 1) * (8 if wide else 4)
        return total

    def _iter_weights(self):
        """The levels' weight matrices one at a time (a caller that drops each before the next
        holds one level's copy at most)."""
        self._check_fitted()
        lay, D = self._layout, self.n_features_in_
        for t in range(lay.n_levels):
            C = sp.csc_matrix(self.tree_.chain[t])
            C.sort_indices()  # as build_layout read it: child positions index these
            cols, vals = self._bias_weights[t]
            n_cols = int(lay.level_base[t + 2] - lay.level_base[t + 1])
            indptr, indices, data = level_columns(
                C.indptr.astype(np.int64), C.indices.astype(np.int64), lay.chunk_ptr,
                lay.row_feat, lay.row_ptr, lay.ent_child, lay.ent_val, lay.level_base[t],
                n_cols, D, cols, vals)
            # scipy picks the index dtype from the contents, as for the trained matrices
            yield sp.csc_matrix((data, indices, indptr), shape=(D + 1, n_cols))

    # ----------------------------------------------------------------- predict
    def _check_fitted(self):
        if not hasattr(self, "_layout"):
            raise not_fitted("this XRLinear is not fitted yet: call fit(X, Y) first "
                                 "(or XRLinear.load(folder))")

    def _check_predict_args(self, beam_size, topk, post_processor) -> tuple[int, int, int]:
        """(beam_size, topk, post-processor code). Both sizes are capped at the number of
        labels: a larger beam or topk cannot return more (accepted by design)."""
        beam_size = min(check_int("beam_size", beam_size, minimum=1), self.n_labels_)
        topk = min(check_int("topk", topk, minimum=1), self.n_labels_)
        check_choice("post_processor", post_processor, POST_PROCESSORS)
        return beam_size, topk, POST_PROCESSORS[post_processor]

    def _beam(self, X, layout: InferenceLayout, beam_size, topk, pp, n_threads):
        with numba_threads(n_threads):
            return beam_search_batch(
                X.indptr.astype(np.int64), X.indices.astype(np.int64), X.data,
                *layout.kernel_args(), int(beam_size), int(topk), int(pp),
                layout.max_children, max(1, min(X.shape[0], 8 * n_threads)))

    def predict(self, X, *, beam_size: int = PREDICT.beam_size, topk: int = PREDICT.topk,
                post_processor: str = PREDICT.post_processor) -> sp.csr_matrix:
        """Scores of the ``topk`` best labels of each row: CSR float32 (N, n_labels).

        X: N × n_features_in_, rows l2-normalised or all-zero, as for :meth:`fit` (checked;
        :meth:`predict_one`, the latency path, does not check the norm)."""
        self._check_fitted()
        beam_size, topk, pp = self._check_predict_args(beam_size, topk, post_processor)
        X = check_features(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features but the model was trained with "
                             f"{self.n_features_in_}; use the same featurizer as for fit")
        check_unit_rows(X)
        nodes, scores, counts = self._beam(X, self._layout, beam_size, topk, pp,
                                           resolve_n_jobs(self.n_jobs))
        valid = nodes >= 0
        indptr = np.concatenate([[0], np.cumsum(counts)])
        P = sp.csr_matrix((scores[valid], nodes[valid] - self._layout.label_base, indptr),
                          shape=(X.shape[0], self.n_labels_))
        P.sort_indices()
        return P

    def predict_one(self, indices: np.ndarray, data: np.ndarray, *,
                    beam_size: int = PREDICT.beam_size, topk: int = PREDICT.topk,
                    post_processor: str = PREDICT.post_processor
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Single-query fast path (one thread, no scipy): ``indices`` strictly increasing
        feature ids in [0, n_features_in_) and ``data`` their finite values, of equal length
        (e.g. ``TextFeaturizer.transform_one``; lists are accepted and converted). Anything
        else raises ValueError/TypeError naming the position. Returns (label ids int64,
        scores float32), best first."""
        self._check_fitted()
        beam_size, topk, pp = self._check_predict_args(beam_size, topk, post_processor)
        indices, data = query_arrays(indices, data)
        lay = self._layout
        code, pos, labels, scores = predict_one_checked(
            indices, data, self.n_features_in_, *lay.kernel_args(), beam_size, topk, pp,
            lay.max_children, lay.label_base)
        if code:
            raise_query_problem(code, pos, indices, data, self.n_features_in_)
        return labels, scores

    # ------------------------------------------------------------------- prune
    def prune(self, threshold: float) -> XRLinear:
        """A copy with weights ``|w| < threshold`` dropped (no retraining). ``threshold`` must
        be >= the one the model was trained or pruned with (``threshold_``) and <= the largest
        |w| (a model without a weight is refused); a level left without a weight warns."""
        self._check_fitted()
        threshold = check_float("threshold", threshold, minimum=0.0)
        if threshold < self.threshold_:
            raise ValueError(f"threshold must be >= the model's current threshold "
                             f"{self.threshold_} (pruned weights cannot come back), got "
                             f"{threshold}")
        pruned = self.weights_  # fresh copies: pruned in place
        check_prune_leaves_weights(pruned, threshold)
        for W in pruned:
            W.data[np.abs(W.data) < threshold] = 0.0
            W.eliminate_zeros()
        del W  # the list is then the only reference: _set_model releases level by level
        check_trained_weights(pruned, threshold, "XRLinear")
        new = XRLinear(**{**self.get_params(), "threshold": threshold})
        new.fit_time_s_ = getattr(self, "fit_time_s_", float("nan"))
        new.index_time_s_ = getattr(self, "index_time_s_", float("nan"))
        new._set_model(self.tree_, pruned, threshold, self.n_features_in_)
        return new

    # --------------------------------------------------------------- save/load
    def save(self, folder: str | Path) -> None:
        """Write the model to ``folder`` (created if missing; an existing folder's model files
        are overwritten). A path that is an existing file raises FileExistsError before
        anything is written."""
        self._check_fitted()
        folder = model_folder(folder, "XRLinear")
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "params": self.get_params(), "threshold_": self.threshold_,
                "n_features_in_": self.n_features_in_, "n_labels_": self.n_labels_,
                "depth": self.tree_.depth,
                "fit_time_s_": getattr(self, "fit_time_s_", None),
                "index_time_s_": getattr(self, "index_time_s_", None)}
        self.tree_.save(folder)
        for t, W in enumerate(self._iter_weights()):
            sp.save_npz(folder / f"W{t}.npz", W)
            del W  # before the next level's copy is built
        (folder / "xrlinear.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> XRLinear:
        folder, meta = read_model_meta(folder, "xrlinear.json", FORMAT_NAME, FORMAT_VERSION,
                                       "XRLinear")
        try:
            depth = int(meta["depth"])
            n_features = int(meta["n_features_in_"])
            threshold = float(meta["threshold_"])
            model = cls(**meta["params"])
            model._validate_params()
            tree = LabelTree.load(folder, depth)
            weights = [sp.csc_matrix(sp.load_npz(folder / f"W{t}.npz"), dtype=np.float32)
                       for t in range(depth)]
        except DAMAGED_FILE_ERRORS as exc:
            raise ValueError(f"{folder} is a damaged XRLinear model ({type(exc).__name__}: "
                             f"{exc}); save it again or retrain") from exc
        for t, W in enumerate(weights):
            expected = (n_features + 1, tree.level_sizes[t + 1])
            if W.shape != expected:
                raise ValueError(f"{folder} is a damaged XRLinear model: W{t}.npz has shape "
                                 f"{W.shape}, expected {expected}")
        model.fit_time_s_ = meta.get("fit_time_s_")
        model.index_time_s_ = meta.get("index_time_s_")
        model._set_model(tree, weights, threshold, n_features)
        return model
