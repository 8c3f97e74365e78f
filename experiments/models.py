"""The product-retrieval models behind one surface, so the XMR job, its training cache and
its latency protocol treat XR-Linear, the OVR linear baseline, the dual encoder and the real
PECOS alike.

A runner owns its input pipeline (TF-IDF featurizer or none), its trained model, and how a
single query is answered end to end (text in, featurisation included).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import scipy.sparse as sp
from omegaconf import DictConfig

import xmr
from experiments import build
from xmr.datasets.tasks import XMRSplit
from xmr.features import PerOrderFeaturizer, TextFeaturizer, load_featurizer
from xmr.timing import measure_latency

PRUNABLE = {"xrlinear"}  # models whose weights can be re-pruned without retraining


def _weights_bytes(mats) -> int:
    return int(sum(W.data.nbytes + W.indices.nbytes + W.indptr.nbytes for W in mats))


class Runner:
    name = "?"

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.feat: TextFeaturizer | PerOrderFeaturizer | None = None
        self.model = None
        self.fit_time_s = float("nan")

    # inputs ------------------------------------------------------------------------
    def _fit_features(self, split: XMRSplit) -> sp.csr_matrix:
        if split.texts is None:
            return split.X
        self.feat = build.featurizer(self.cfg).fit(split.texts)
        return self.feat.transform(split.texts)

    def features(self, split: XMRSplit) -> sp.csr_matrix:
        return split.X if self.feat is None else self.feat.transform(split.texts)

    def queries(self, split: XMRSplit, X: sp.csr_matrix) -> list:
        """What one latency request is: the text (featurised inside the timed call) or,
        for pre-featurised data, the row's arrays."""
        if self.feat is not None:
            return list(split.texts)
        return [(X.indices[X.indptr[i]:X.indptr[i + 1]], X.data[X.indptr[i]:X.indptr[i + 1]])
                for i in range(X.shape[0])]

    def _row(self, q):
        return self.feat.transform_one(q) if self.feat is not None else q

    # persistence ----------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        if self.feat is not None:
            self.feat.save(folder / "featurizer")
        self.model.save(folder / "model")

    def load(self, folder: Path) -> Runner:
        if (folder / "featurizer").is_dir():
            self.feat = load_featurizer(folder / "featurizer")
        self.model = self.model_class().load(folder / "model")
        return self

    # interface ------------------------------------------------------------------------
    cacheable = True  # trained models can be saved to and loaded from paths.cache_dir

    def with_threshold(self, threshold: float) -> Runner:
        return self

    def latency(self, split: XMRSplit, X, ev, n: int) -> dict:
        return measure_latency(self.one, self.queries(split, X), n_warmup=ev.latency_warmup,
                               min_timed=n)

    def size(self) -> dict[str, float]:
        return {}

    def extra_metrics(self) -> dict[str, float]:
        """Run metrics beyond the fixed names (e.g. how a hyperparameter was chosen)."""
        return {}


class XRLinearRunner(Runner):
    name = "xrlinear"

    @staticmethod
    def model_class():
        return xmr.XRLinear

    def fit(self, split: XMRSplit, label_texts) -> None:
        t0 = time.perf_counter()
        X = self._fit_features(split)
        self.model = build.xrlinear(self.cfg).fit(X, split.Y)
        self.fit_time_s = time.perf_counter() - t0  # featurisation + indexing + training

    def with_threshold(self, threshold: float) -> Runner:
        if threshold <= self.model.threshold_:
            return self
        pruned = XRLinearRunner(self.cfg)
        pruned.feat, pruned.fit_time_s = self.feat, self.fit_time_s
        pruned.model = self.model.prune(threshold)
        return pruned

    def predict(self, X, ev, topk: int) -> sp.csr_matrix:
        return self.model.predict(X, beam_size=ev.beam_size, topk=topk,
                                  post_processor=ev.post_processor)

    def one(self, q):
        ev = self.cfg.eval
        idx, val = self._row(q)
        return self.model.predict_one(idx, val, beam_size=ev.beam_size, topk=10,
                                      post_processor=ev.post_processor)

    def size(self) -> dict[str, float]:
        return {"model_nnz": float(self.model.model_nnz_),
                "model_bytes": float(_weights_bytes(self.model.weights_))}

    def tags(self) -> dict[str, str]:
        return {"tree_levels": str(self.model.tree_.level_sizes)}


class OVRRunner(Runner):
    """One-vs-rest at its own best pruning threshold: with ``model.threshold = null`` (the
    default) it is chosen on held-out training rows among ``model.threshold_candidates``
    (`baselines.ovr_linear.select_threshold`), then the model is trained on all training
    rows at that threshold. The choice and every candidate's validation recall@10 are logged
    (``ovr_threshold``, ``valid_recall_at_10_t<threshold>``); ``train_time_s`` is the final
    training (featurisation included), ``threshold_selection_s`` the search."""

    name = "ovr_linear"
    _SELECTION_FILE = "threshold_selection.json"

    def __init__(self, cfg: DictConfig):
        super().__init__(cfg)
        self.selection: dict = {}

    @staticmethod
    def model_class():
        from baselines.ovr_linear import OVRLinear

        return OVRLinear

    def fit(self, split: XMRSplit, label_texts) -> None:
        from baselines.ovr_linear import OVRLinear, select_threshold

        m = self.cfg.model
        params = {"Cp": m.Cp, "Cn": m.Cn, "eps": m.eps, "max_iter": m.max_iter,
                  "bias": m.bias, "n_jobs": m.n_jobs}
        t0 = time.perf_counter()
        X = self._fit_features(split)
        featurize_s = time.perf_counter() - t0
        threshold = m.threshold
        if threshold is None:
            t1 = time.perf_counter()
            threshold, scores = select_threshold(
                X, split.Y, candidates=list(m.threshold_candidates),
                valid_fraction=m.valid_fraction, seed=self.cfg.seed, **params)
            self.selection = {"threshold": threshold, "valid_recall_at_10": scores,
                              "seconds": time.perf_counter() - t1}
        t2 = time.perf_counter()
        self.model = OVRLinear(threshold=threshold, seed=self.cfg.seed, allow_empty=True,
                               **params).fit(X, split.Y)
        self.fit_time_s = featurize_s + time.perf_counter() - t2

    def save(self, folder: Path) -> None:
        super().save(folder)
        (folder / self._SELECTION_FILE).write_text(json.dumps(self.selection))

    def load(self, folder: Path) -> Runner:
        super().load(folder)
        if (folder / self._SELECTION_FILE).is_file():
            sel = json.loads((folder / self._SELECTION_FILE).read_text())
            sel["valid_recall_at_10"] = {float(k): v for k, v in
                                         sel.get("valid_recall_at_10", {}).items()}
            self.selection = sel
        return self

    def predict(self, X, ev, topk: int) -> sp.csr_matrix:
        return self.model.predict(X, topk=topk)

    def one(self, q):
        idx, val = self._row(q)
        return self.model.predict_one(idx, val, topk=10)

    def size(self) -> dict[str, float]:
        return {"model_nnz": float(self.model.model_nnz_),
                "model_bytes": float(_weights_bytes([self.model.weights_]))}

    def extra_metrics(self) -> dict[str, float]:
        out = {"ovr_threshold": float(self.model.threshold)}
        if self.selection:
            out["threshold_selection_s"] = float(self.selection["seconds"])
            out |= {f"valid_recall_at_10_t{c:g}": float(r)
                    for c, r in self.selection["valid_recall_at_10"].items()}
        return out

    def tags(self) -> dict[str, str]:
        return {"threshold_chosen_on": "validation" if self.selection else "config"}


class DualEncoderRunner(Runner):
    name = "dual_encoder"

    @staticmethod
    def model_class():
        from baselines.dual_encoder import DualEncoder

        return DualEncoder

    def fit(self, split: XMRSplit, label_texts) -> None:
        from baselines.dual_encoder import DualEncoder

        if split.texts is None:
            raise ValueError("model=dual_encoder needs text inputs; this dataset is "
                             "pre-featurised (use xrlinear, ovr_linear or pecos)")
        m = self.cfg.model
        self.model = DualEncoder(
            dim=m.dim, hidden=m.hidden, n_buckets=m.n_buckets, temperature=m.temperature,
            lr=m.lr, batch_size=m.batch_size, epochs=m.epochs, patience=m.patience,
            hard_negatives=m.hard_negatives, seed=self.cfg.seed, device=m.device,
            n_threads=m.n_threads, verbose=True).fit(split.texts, split.Y,
                                                      label_texts=label_texts)
        self.fit_time_s = float(self.model.fit_time_s_)

    def features(self, split: XMRSplit):
        return split.texts  # the towers hash their own n-grams

    def queries(self, split: XMRSplit, X) -> list:
        return list(split.texts)

    def predict(self, texts, ev, topk: int) -> sp.csr_matrix:
        return self.model.predict(texts, topk=topk)

    def one(self, q):
        return self.model.predict_one(q, topk=10)

    def size(self) -> dict[str, float]:
        return {"model_bytes": float(self.model.model_bytes_)}

    def tags(self) -> dict[str, str]:
        return {"best_epoch": str(getattr(self.model, "best_epoch_", ""))}


class PecosRunner(Runner):
    """The real PECOS (libpecos in .peer-venv) on our TF-IDF features. Its single-query
    latency is measured inside the peer on precomputed feature rows (featurisation is not
    included: tagged ``latency_includes_featurization=false``)."""

    name = "pecos"
    cacheable = False  # the peer keeps its model in a temporary folder

    def fit(self, split: XMRSplit, label_texts) -> None:
        from baselines.pecos_peer import PecosXRLinear

        m, ix = self.cfg.model, self.cfg.indexer
        t0 = time.perf_counter()
        X = self._fit_features(split)
        featurize_s = time.perf_counter() - t0
        self.model = PecosXRLinear(nr_splits=ix.nr_splits, max_leaf_size=ix.max_leaf_size,
                                   threshold=m.threshold, Cp=m.Cp, Cn=m.Cn, eps=m.eps,
                                   max_iter=m.max_iter, bias=m.bias,
                                   negative_sampling=m.negative_sampling, seed=self.cfg.seed,
                                   n_jobs=m.n_jobs).fit(X, split.Y)
        # featurisation + PECOS's own indexing + training time (measured inside its worker,
        # no process start or file transfer), comparable with XRLinearRunner's
        self.fit_time_s = featurize_s + float(self.model.train_time_s_)

    def predict(self, X, ev, topk: int) -> sp.csr_matrix:
        return self.model.predict(X, beam_size=ev.beam_size, topk=topk,
                                  post_processor=ev.post_processor)

    def latency(self, split: XMRSplit, X, ev, n: int) -> dict:
        rows = X if X.shape[0] >= n else sp.vstack([X] * (n // X.shape[0] + 1))[:n]
        out = self.model.measure_latency(rows, beam_size=ev.beam_size, topk=10,
                                         post_processor=ev.post_processor,
                                         n_warmup=ev.latency_warmup)
        # the peer times PECOS's predict with threads=1 (its single-query protocol)
        return {k: out[k] for k in ("latency_p50_ms", "latency_p99_ms", "latency_mean_ms")} \
            | {"latency_threads": 1}

    def size(self) -> dict[str, float]:
        return {"model_nnz": float(self.model.model_nnz_),
                "model_bytes": float(self.model.model_bytes_)}

    def tags(self) -> dict[str, str]:
        return {"latency_includes_featurization": "false"}


RUNNERS: dict[str, type[Runner]] = {r.name: r for r in (XRLinearRunner, OVRRunner,
                                                        DualEncoderRunner, PecosRunner)}


def runner(cfg: DictConfig) -> Runner:
    if cfg.model.name not in RUNNERS:
        raise ValueError(f"model={cfg.model.name} is not a product-retrieval model; known: "
                         f"{sorted(RUNNERS)}")
    return RUNNERS[cfg.model.name](cfg)
