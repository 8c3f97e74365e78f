"""The hyperparameters of the library's estimators and indexers, each defined once.

Every estimator or indexer takes these as keyword arguments, with these defaults; the harness's
config schema (``experiments/schema.py``) extends the same dataclasses, so a default written
here is the default of the Python API, of the YAML configs and of the PECOS peer adapter.
Validation stays with the classes that use the values (their ``fit``/``build``).
"""

from __future__ import annotations

from dataclasses import dataclass


# ------------------------------------------------------------------------- indexers
@dataclass
class TrieParams:
    """:class:`~xmr.indexers.TrieIndexer`."""

    depth: int = 16  # character depth of the leaf clusters (Paper 2: 16)


@dataclass
class KMeansParams:
    """:class:`~xmr.indexers.HierarchicalKMeans` (PECOS's ``hierarchicalkmeans`` defaults)."""

    nr_splits: int = 16  # tree out-degree B (a power of two >= 2)
    max_leaf_size: int = 100  # labels per leaf cluster at most (about)
    max_iter: int = 20  # 2-means rounds per split


@dataclass
class HybridParams(KMeansParams):
    """:class:`~xmr.indexers.TrieHybridIndexer`: a trie part, then 2-means below it."""

    trie_depth: int = 1  # character depth of the trie part (Paper 2: 1, 2, 3)


@dataclass
class MustLinkParams(KMeansParams):
    """:class:`~xmr.indexers.MustLinkIndexer`: 2-means over prefix components."""

    prefix_len: int = 5  # constrained levels: level l keeps labels sharing their first l + 1
    # characters together (0-5; the paper: 5; 0 = plain 2-means)


# ---------------------------------------------------------------------- prediction
@dataclass(frozen=True)
class PredictParams:
    """How a trained tree model is searched: the one home of the prediction settings of
    :class:`~xmr.XRLinear`, :class:`~xmr.qac.QACSuggester`, the PECOS peer adapter and the
    harness's ``eval`` config (which extends it). Checked where used (``predict``)."""

    beam_size: int = 10  # beam width: tree nodes kept per level (PECOS's predict default)
    topk: int = 10  # labels returned per query at most
    post_processor: str = "l3-hinge"  # how a child's score combines with its parent's
    # (xmr.kernels.beam.POST_PROCESSORS; PECOS's XR-Linear default)


PREDICT = PredictParams()  # the defaults, for keyword defaults of the predict methods


# ---------------------------------------------------------------------- estimators
@dataclass
class LinearParams:
    """The sparse linear one-vs-rest solver (XR-Linear's node rankers, the OVR baseline):
    PECOS's defaults."""

    threshold: float = 0.1  # weights |w| < threshold are dropped after each solve
    Cp: float = 1.0  # SVM cost of positives
    Cn: float = 1.0  # SVM cost of negatives
    eps: float = 0.1  # dual coordinate descent tolerance
    max_iter: int = 100  # dual CD passes per binary problem at most
    bias: float = 1.0  # value of the constant feature (0 = no bias term)
    n_jobs: int = -1  # threads (-1 = all cores); results do not depend on it


@dataclass
class OVRParams(LinearParams):
    """:class:`baselines.ovr_linear.OVRLinear` at its own best pruning threshold: XR-Linear's
    0.1 removes far more of its smaller per-label weights (DiSMEC prunes at 0.01)."""

    threshold: float | None = None  # None = chosen on held-out training rows by recall@10
    # among threshold_candidates (baselines.ovr_linear.select_threshold)
    threshold_candidates: tuple[float, ...] = (0.0, 0.01, 0.05, 0.1)  # tried when None
    valid_fraction: float = 0.1  # training rows held out to choose the threshold


@dataclass
class XRLinearParams(LinearParams):
    """:class:`~xmr.XRLinear` and the PECOS peer adapter, besides the indexer's
    ``nr_splits``/``max_leaf_size`` (:class:`KMeansParams`)."""

    negative_sampling: str = "tfn"  # "tfn" (teacher-forced) or "man" (+ matcher-aware)


def defaults(cls: type) -> dict[str, object]:
    """``{field: default}`` of a params dataclass (all its fields have defaults)."""
    return dict(vars(cls()))


@dataclass
class DualEncoderParams:
    """:class:`baselines.dual_encoder.DualEncoder` (tuned on the synthetic demo data with
    ``experiment=dual_encoder_tuning``: dim and the temperature are the biggest levers).
    Kept here, free of torch, so the config schema can extend it."""

    dim: int = 256  # n-gram embedding / output size
    hidden: int = 256  # tower MLP hidden width
    n_buckets: int = 262144  # n-gram hash buckets (2^18)
    temperature: float = 0.1  # InfoNCE temperature
    lr: float = 0.001  # Adam / SparseAdam learning rate
    batch_size: int = 256  # pairs per step (the batch's other labels are the negatives)
    epochs: int = 20  # passes at most: a cap early stopping reaches first (a run that
    # stops at it while still improving is flagged: the metric epochs_cap_hit)
    patience: int = 2  # early stopping: epochs without a better validation recall@10
    hard_negatives: int = 0  # mined hard negatives per pair
    device: str = "auto"  # "auto" (CUDA when available), "cpu", "cuda"
    n_threads: int | None = None  # torch CPU threads (None = torch's default)


@dataclass
class Seq2SeqParams:
    """:class:`baselines.seq2seq.Seq2SeqCompleter` (sized on the AOL subset for a training
    budget of 30 minutes on 2 CPU cores: README, "Paper 2 comparison"). Kept here, free of
    torch, so the config schema can extend it."""

    emb_dim: int = 32  # character embedding size (shared by encoder and decoder)
    hidden: int = 128  # decoder GRU state; the encoder has hidden // 2 per direction (even)
    dropout: float = 0.1  # on embeddings and the attentional output, training only
    lr: float = 0.002  # Adam learning rate
    batch_size: int = 256  # training pairs per step
    epochs: int = 20  # passes at most: a cap early stopping reaches first (its validation
    # MRR still rose at epoch 5 of 5 on AOL; a run stopped at the cap is flagged by the
    # metric epochs_cap_hit)
    patience: int = 2  # early stopping: epochs without a better validation MRR@10
    clip: float = 1.0  # gradient clipping (global l2 norm)
    beam_size: int = PREDICT.beam_size  # live hypotheses of the prefix-forced beam search
    max_prev_len: int = 40  # characters of the previous query kept (its last ones)
    max_target_len: int = 48  # characters generated at most, prefix included
    min_char_count: int = 2  # rarer training characters map to UNK
    valid_size: int = 1000  # validation requests decoded after each epoch
    device: str = "auto"  # training: "auto" (CUDA when available), "cpu", "cuda"
    n_threads: int | None = None  # torch CPU threads (None = torch's default)


def store_params(est: object, params: dict[str, object]) -> None:
    """Store an ``__init__``'s arguments (its ``locals()``) as attributes of the same names,
    unchanged, as scikit-learn's ``get_params``/``clone`` expect."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)

