"""The real PECOS XR-Linear (libpecos) behind the same surface as `xmr.XRLinear`.

libpecos 1.2.8 cannot live in the project's environment (it breaks on numpy 2 and scipy >= 1.14),
so this module never imports it. Each `fit` / `predict` / `measure_latency` call runs
`_pecos_worker.py` once under the peer's own interpreter (`.peer-venv`, see PEER.md), exchanging
scipy ``.npz`` matrices and JSON through a temporary folder. The trained model stays on disk in a
temporary folder owned by the estimator and is removed by `close()` (or when it is collected).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import tempfile
import weakref
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from xmr._estimator import ParamsMixin, not_fitted
from xmr._validation import check_choice, check_features, check_int, check_labels
from xmr.kernels.beam import POST_PROCESSORS as _OUR_POST_PROCESSORS
from xmr.model import validate_params
from xmr.params import PREDICT, KMeansParams, XRLinearParams, store_params

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "_pecos_worker.py"
_STDERR_TAIL_CHARS = 4000
# Our names (as in xmr.XRLinear) -> PECOS's negative-sampling schemes.
NEGATIVE_SAMPLING = {"tfn": "tfn", "man": "tfn+man"}
_FITTED = ("tree_", "train_time_s_", "fit_time_s_", "index_time_s_", "model_nnz_",
           "model_bytes_", "n_features_in_", "n_labels_", "peer_versions_", "predict_time_s_",
           "fit_peak_rss_mib_", "peak_rss_mib_")
# PostProcessor.valid_list() of libpecos 1.2.8: the same names as ours
POST_PROCESSORS = tuple(_OUR_POST_PROCESSORS)


@functools.lru_cache(maxsize=8)
def _can_import_pecos(exe: str) -> bool:
    try:
        proc = subprocess.run([exe, "-c", "import pecos.xmc.xlinear.model"],
                              capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if proc.returncode != 0:
        logger.warning("%s cannot import pecos:\n%s", exe, proc.stderr.decode(errors="replace"))
    return proc.returncode == 0


def find_peer_python() -> Path | None:
    """The PECOS peer's interpreter, or None when there is no working one.

    ``$XMR_PEER_PYTHON`` if set, else ``<repo>/.peer-venv/bin/python`` if it exists; either is
    returned only if it can import pecos (checked once per path, then cached).
    """
    env = os.environ.get("XMR_PEER_PYTHON")
    exe = Path(env) if env else REPO_ROOT / ".peer-venv" / "bin" / "python"
    if not exe.exists():
        return None
    return exe if _can_import_pecos(str(exe)) else None


def _check_tree(tree, n_labels: int) -> list[sp.csc_matrix]:
    """PECOS chain layout: chain[0] is (K1, 1), chain[t] is (K_{t+1}, K_t), chain[-1] is (L, K)."""
    if hasattr(tree, "to_pecos_chain"):
        tree = tree.to_pecos_chain()
    if not isinstance(tree, (list, tuple)) or len(tree) == 0:
        raise TypeError("tree must be a non-empty list of scipy.sparse cluster matrices "
                        f"(or have .to_pecos_chain()), got {type(tree).__name__}")
    chain = []
    for i, C in enumerate(tree):
        if not sp.issparse(C):
            raise TypeError(f"tree[{i}] must be a scipy.sparse matrix, got {type(C).__name__}")
        chain.append(sp.csc_matrix(C, dtype=np.float32))
    if chain[0].shape[1] != 1:
        raise ValueError(f"tree[0] must have 1 column (the root), got shape {chain[0].shape}")
    for i in range(1, len(chain)):
        if chain[i].shape[1] != chain[i - 1].shape[0]:
            raise ValueError(f"tree[{i}] has {chain[i].shape[1]} columns but tree[{i - 1}] has "
                             f"{chain[i - 1].shape[0]} rows (shapes must chain)")
    if chain[-1].shape[0] != n_labels:
        raise ValueError(f"tree[-1] must have one row per label ({n_labels}), "
                         f"got shape {chain[-1].shape}")
    return chain


def _save(path: Path, M) -> None:
    sp.save_npz(path, M, compressed=False)


_K, _P = KMeansParams, XRLinearParams  # XR-Linear's parameters and defaults, shared


class PecosXRLinear(ParamsMixin):
    """libpecos 1.2.8 XR-Linear, driven in the peer venv; same surface as `xmr.XRLinear`.

    Parameters
    ----------
    nr_splits : int
        Branching factor B of the hierarchical k-means label tree.
    max_leaf_size : int
        Maximum number of labels in a leaf cluster.
    kmeans_max_iter : int
        Spherical 2-means rounds per split of PECOS's indexer.
    threshold : float
        Weights with ``|w| < threshold`` are pruned after each solve.
    Cp, Cn : float
        Cost of positive / negative examples of the squared-hinge SVM.
    eps : float
        Stopping tolerance of the dual coordinate-descent solver.
    max_iter : int
        Maximum solver iterations.
    bias : float
        Value of the constant feature appended to every instance.
    negative_sampling : {"tfn", "man"}
        As in `xmr.XRLinear`: "tfn" (teacher-forced) or "man" (PECOS's "tfn+man").
    seed : int
        Seed of the k-means indexer.
    n_jobs : int
        Threads for indexing, training and batch prediction (-1 = all cores).
    peer_python : str or Path, optional
        The peer interpreter; default `find_peer_python()`.

    Attributes
    ----------
    tree_ : list of scipy.sparse.csc_matrix (float32)
        PECOS's cluster chain: ``tree_[0]`` is (K1, 1), ``tree_[-1]`` is (L, K_last).
    train_time_s_ : float
        Indexing + training seconds, measured inside the worker (no process start, no file IO);
        also as ``fit_time_s_``, the name `xmr.XRLinear` uses.
    index_time_s_ : float
        The indexing part of it (PIFA + hierarchical k-means); 0 when a tree was given.
    model_nnz_ : int
        Total number of stored weights over all levels.
    model_bytes_ : int
        Bytes of the weight matrices' data, indices and indptr arrays over all levels.
    n_features_in_, n_labels_ : int
        Training shapes.
    peer_versions_ : dict
        libpecos / numpy / scipy / python versions of the peer.
    predict_time_s_ : float
        Seconds of the last `predict` call inside the worker.
    fit_peak_rss_mib_ : float
        Peak resident memory (MiB, Linux ``VmHWM``) of the `fit` worker process.
    peak_rss_mib_ : float
        The largest peak of the worker processes since `fit` (fit, predict and latency each
        run in a process of their own).
    """

    def __init__(self, *, nr_splits: int = _K.nr_splits, max_leaf_size: int = _K.max_leaf_size,
                 kmeans_max_iter: int = _K.max_iter, threshold: float = _P.threshold,
                 Cp: float = _P.Cp, Cn: float = _P.Cn, eps: float = _P.eps,
                 max_iter: int = _P.max_iter, bias: float = _P.bias,
                 negative_sampling: str = _P.negative_sampling, seed: int = 0,
                 n_jobs: int = _P.n_jobs, peer_python: str | Path | None = None):
        store_params(self, locals())
        self._tmpdir: Path | None = None
        self._finalizer = None
        self._n_calls = 0

    # ----------------------------------------------------------------------------- plumbing
    def _python(self) -> Path:
        if self.peer_python is None:
            exe = find_peer_python()
            if exe is None:
                raise RuntimeError("PECOS peer interpreter not found: run `make peer` or set "
                                   "XMR_PEER_PYTHON to a python that can import pecos")
            return exe
        exe = Path(self.peer_python)
        if not exe.is_file():
            raise FileNotFoundError(f"peer_python {str(exe)!r} does not exist: point it at the "
                                    "peer venv's interpreter (e.g. .peer-venv/bin/python)")
        return exe

    def _own_tmpdir(self) -> Path:
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="pecos_peer_"))
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(self._tmpdir), True)
        return self._tmpdir

    @property
    def _model_dir(self) -> Path:
        return self._own_tmpdir() / "model"

    def _run(self, op: str, params: dict, inputs: dict, extra: dict | None = None):
        """One worker call: write `inputs`, run `op`, return (result dict, workdir)."""
        exe = self._python()
        self._n_calls += 1
        workdir = self._own_tmpdir() / f"call{self._n_calls}-{op}"
        workdir.mkdir()
        for name, M in inputs.items():
            _save(workdir / f"{name}.npz", M)
        request = {"op": op, "workdir": str(workdir), "model_dir": str(self._model_dir),
                   "params": params, **(extra or {})}
        req_path = workdir / "request.json"
        req_path.write_text(json.dumps(request))
        proc = subprocess.run([str(exe), str(WORKER), str(req_path)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            tail = proc.stderr[-_STDERR_TAIL_CHARS:]
            shutil.rmtree(workdir, ignore_errors=True)
            raise RuntimeError(f"PECOS worker {op!r} failed (exit {proc.returncode}, "
                               f"python {exe}):\n{tail}")
        return json.loads((workdir / "result.json").read_text()), workdir

    def _validate_params(self) -> None:
        validate_params(self)  # the same ranges as `xmr.XRLinear`
        check_int("kmeans_max_iter", self.kmeans_max_iter, minimum=1)

    def _forget(self) -> None:
        for name in _FITTED:
            self.__dict__.pop(name, None)

    def _check_fitted(self) -> None:
        if not hasattr(self, "tree_"):
            raise not_fitted("This PecosXRLinear instance is not fitted yet; call fit first")

    def _check_query(self, X) -> sp.csr_matrix:
        X = check_features(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features but the model was trained on "
                             f"{self.n_features_in_}")
        return X

    # ----------------------------------------------------------------------------- public API
    def fit(self, X, Y, *, tree=None) -> PecosXRLinear:
        """Train PECOS XR-Linear.

        Parameters
        ----------
        X : csr_matrix, shape (n, d), float32
            Instances with l2-normalised rows (float64 is converted).
        Y : sparse matrix, shape (n, L)
            0/1 labels.
        tree : list of csc_matrix or object with ``to_pecos_chain()``, optional
            A cluster chain in PECOS layout to train on; default: PIFA + hierarchical
            spherical k-means (B = nr_splits, max_leaf_size, kmeans_max_iter).
        """
        self._validate_params()
        X = check_features(X)
        if sp.issparse(Y) and Y.shape[0] != X.shape[0]:
            raise ValueError(f"X and Y must have the same number of rows, got X {X.shape} "
                             f"and Y {Y.shape}")
        Y = check_labels(Y, X.shape[0])
        chain = [] if tree is None else _check_tree(tree, Y.shape[1])

        self._forget()
        if self._model_dir.exists():
            shutil.rmtree(self._model_dir)
        params = {"nr_splits": self.nr_splits, "max_leaf_size": self.max_leaf_size,
                  "threshold": self.threshold, "Cp": self.Cp, "Cn": self.Cn, "eps": self.eps,
                  "max_iter": self.max_iter, "bias": self.bias,
                  "negative_sampling": NEGATIVE_SAMPLING[self.negative_sampling],
                  "seed": self.seed,
                  "threads": self.n_jobs, "kmeans_max_iter": self.kmeans_max_iter}
        inputs = {"X": X, "Y": Y} | {f"C{i}": C for i, C in enumerate(chain)}
        res, workdir = self._run("fit", params, inputs, {"tree_depth": len(chain)})
        try:
            self.tree_ = [sp.csc_matrix(sp.load_npz(workdir / f"tree{i}.npz"), dtype=np.float32)
                          for i in range(res["tree_depth"])]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        self.train_time_s_ = self.fit_time_s_ = float(res["train_time_s"])
        self.index_time_s_ = float(res["index_time_s"])
        self.model_nnz_ = int(res["model_nnz"])
        self.model_bytes_ = int(res.get("model_bytes", 0))  # its weight matrices' arrays
        self.n_features_in_ = int(X.shape[1])
        self.n_labels_ = int(Y.shape[1])
        self.peer_versions_ = res["versions"]
        self.fit_peak_rss_mib_ = self.peak_rss_mib_ = float(res.get("peak_rss_mib", "nan"))
        logger.info("PECOS trained in %.2f s (indexing %.2f s), %d weights, depth %d",
                    self.train_time_s_, self.index_time_s_, self.model_nnz_, len(self.tree_))
        return self

    def predict(self, X, *, beam_size: int = PREDICT.beam_size, topk: int = PREDICT.topk,
                post_processor: str = PREDICT.post_processor,
                threads: int = -1) -> sp.csr_matrix:
        """Beam-search scores of the predict-only model: csr float32 (n, L), <= topk per row."""
        beam_size = check_int("beam_size", beam_size, minimum=1)
        topk = check_int("topk", topk, minimum=1)
        check_choice("post_processor", post_processor, POST_PROCESSORS)
        self._check_fitted()
        X = self._check_query(X)
        params = {"beam_size": int(beam_size), "topk": int(topk),
                  "post_processor": post_processor, "threads": int(threads)}
        res, workdir = self._run("predict", params, {"X": X})
        try:
            P = sp.csr_matrix(sp.load_npz(workdir / "P.npz"), dtype=np.float32)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        self.predict_time_s_ = float(res["predict_time_s"])
        self._note_peak(res)
        P.sort_indices()
        return P

    def measure_latency(self, X, *, beam_size: int = PREDICT.beam_size,
                        topk: int = PREDICT.topk,
                        post_processor: str = PREDICT.post_processor, n_warmup: int = 100,
                        threads: int = 1) -> dict:
        """Time the predict-only model inside the worker.

        Every row of X is one query (a pre-sliced single-row CSR, ``threads`` threads), after
        ``n_warmup`` warm-up queries; then one batch predict of all of X with ``n_jobs`` threads.

        Returns
        -------
        dict
            ``latency_p50_ms``, ``latency_p99_ms``, ``latency_mean_ms`` (single queries),
            ``throughput_qps`` (n / seconds of the batch call) and ``n_queries``.
        """
        beam_size = check_int("beam_size", beam_size, minimum=1)
        topk = check_int("topk", topk, minimum=1)
        check_choice("post_processor", post_processor, POST_PROCESSORS)
        n_warmup = check_int("n_warmup", n_warmup, minimum=0)
        self._check_fitted()
        X = self._check_query(X)
        if X.shape[0] == 0:
            raise ValueError("X must have at least one row")
        params = {"beam_size": int(beam_size), "topk": int(topk),
                  "post_processor": post_processor, "n_warmup": int(n_warmup),
                  "threads": int(threads), "batch_threads": int(self.n_jobs)}
        res, workdir = self._run("latency", params, {"X": X})
        shutil.rmtree(workdir, ignore_errors=True)
        res.pop("versions", None)
        self._note_peak(res)
        return res

    def _note_peak(self, res: dict) -> None:
        peak = float(res.get("peak_rss_mib", "nan"))
        if not np.isnan(peak):
            self.peak_rss_mib_ = max(self.peak_rss_mib_, peak)

    def close(self) -> None:
        """Delete the model folder; the estimator is unfitted afterwards."""
        if self._finalizer is not None:
            self._finalizer()
        self._tmpdir = None
        self._finalizer = None
        self._forget()

    def __del__(self):
        if getattr(self, "_finalizer", None) is not None:
            self._finalizer()

    def __enter__(self) -> PecosXRLinear:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
