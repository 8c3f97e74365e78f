"""The claims table: every claim of the two papers, measured from the logged runs, with its
interval and a verdict — ``holds``, ``does not hold``, ``inconclusive`` (the interval spans
the claim's threshold, or the runs cannot decide) or ``not run`` (naming the preset to run).

    python -m analysis.claims [--tracking-uri URI] [--out analysis/figures]

Writes ``claims.md`` and ``claims.csv`` (one row per claim and dataset). How a row is
measured:

- each claim names the configurations it compares, the quantity, the paper's figure and a
  threshold the quantity must pass (``> 0`` for "beats", ``> 2`` for "more than twice");
  "≈ x" is read as "at least 75% of the way to x" (≈ 4× → ≥ 3, ≈ 1/6 of the time → ≤ 2/9,
  ≈ 1.25 ms → ≤ 1.67 ms), and is said in the row;
- per-query quantities (recall, reciprocal rank, BLEU of each test query, from the runs'
  ``per_query.parquet``) get a paired bootstrap interval over the test queries (10,000
  resamples, seeded) from one seed, and from several a t interval over the per-seed
  estimates (df = seeds − 1) that adds the within-seed bootstrap variance when the seeds
  share one test set (see :mod:`analysis.uncertainty`); per-run quantities (training time,
  latency percentiles, model size) a t interval over seeds (none from a single seed →
  ``inconclusive``);
- the runs come from one preset per dataset (the full preset if it ran there, else its smoke
  variant), only seeds that every compared configuration ran, and only configurations
  fixed in advance (no best-of selection): XR-Linear at features ``all``, threshold 0.1,
  beam 10; QAC's "session-aware XMR" is Table 2 row 7 (the trie–tree hybrid, trie depth 2,
  the preset's default run).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import load
from analysis import seeds as seeds_
from analysis import uncertainty as u
from analysis.common import Result, markdown_table, run_builders
from analysis.qac import is_mpc, qac_runs
from analysis.seeds import NotRun, by_seed, common_seeds

log = logging.getLogger(__name__)
NAME = "claims"
CMD = "python -m experiments.run -m experiment={}"
# claim family → presets that produce its runs: the full preset first, then its smoke variant
FAMILIES = {"paper1": ("paper1_comparison", "smoke_paper1"),
            "product_search": ("product_search", "smoke"),
            "qac": ("qac_table2", "smoke_qac"),
            "qac_neural": ("qac_comparison", "smoke_qac_comparison")}
DEFAULT_FEATURES, DEFAULT_THRESHOLD, DEFAULT_BEAM = "all", 0.1, 10  # conf/ defaults
XMR_QAC_ROW = "7"  # "session-aware XMR": the trie-tree hybrid (qac_table2's default run)
HYBRID_ROWS, TRIE_ROW, PIFA_ROW, BASELINE_XMR_ROW = ("6", "7", "8"), "9", "4", "0"
SHORT_PREFIX = 3  # "short prefixes": <= 3 characters (paper 2: +33% MRR there)
QAC_MODELS = {"xrlinear"}  # QAC runs that are XMR rows; MPC and any other model are baselines
COLUMNS = ["claim", "dataset", "preset", "statement", "quantity", "estimate", "ci_low",
           "ci_high", "interval", "n_seeds", "seed_mean", "seed_std", "threshold", "paper",
           "verdict", "detail", "run_ids"]


@dataclass
class Measured:
    interval: u.Interval
    per_seed: list[float]  # the quantity on each seed alone (for mean ± std)
    detail: str
    run_ids: list[str]
    partial: str | None = None  # why a "holds" must stay inconclusive (part of the claim)


@dataclass
class Scope:
    """The runs of one preset on one dataset, and how to read their per-query results."""

    runs: pd.DataFrame
    preset: str
    family: str
    per_query: Callable[[str], pd.DataFrame | None]

    def cmd(self) -> str:
        return CMD.format(FAMILIES[self.family][0])


@dataclass(frozen=True)
class Claim:
    id: str
    family: str
    statement: str  # the paper's claim, in words
    quantity: str  # what is measured
    paper: str  # the paper's figure
    direction: str  # '>' or '<': the side of the threshold where the claim holds
    threshold: float
    measure: Callable[[Scope], Measured]

    def threshold_text(self) -> str:
        return f"{self.direction} {self.threshold:.4g}"


# ------------------------------------------------------------------------ run selection
def xmr_point(scope: Scope, model: str, *, features: str = DEFAULT_FEATURES,
              threshold: float | None = DEFAULT_THRESHOLD, beam: int | None = DEFAULT_BEAM
              ) -> dict[int, pd.Series]:
    """seed → the product-search run of ``model`` at (features, threshold, beam); a model
    without pruning or beam (the dual encoder, OVR) matches any value of those."""
    df = scope.runs[(scope.runs["task"].fillna("xmr") == "xmr") & (scope.runs["model"] == model)
                    & (scope.runs["features"] == features)]
    if threshold is not None:
        df = df[df["threshold"].isna() | np.isclose(df["threshold"].fillna(-1), threshold)]
    if beam is not None:
        df = df[df["beam_size"].isna() | (df["beam_size"] == beam).fillna(False)]
    if df.empty:
        raise NotRun(f"no {model} run at features={features}, threshold={threshold}, "
                     f"beam={beam} — run `{scope.cmd()}`")
    return by_seed(df)


def qac_row(scope: Scope, row: str) -> dict[int, pd.Series]:
    """seed → the QAC run of Table 2 row ``row`` ('mpc' for most-popular completion)."""
    qac = qac_runs(scope.runs)
    if row == "mpc":
        df = qac[qac["model"].map(is_mpc)]
    else:
        col = qac["params.qac_row"] if "params.qac_row" in qac.columns else pd.Series(
            dtype=object)
        df = qac[(col.astype(str) == row) & qac["model"].isin(QAC_MODELS)]
    if df.empty:
        name = "MPC" if row == "mpc" else f"Table 2 row {row}"
        raise NotRun(f"no {name} run — run `{scope.cmd()}`")
    return by_seed(df)


def qac_neural(scope: Scope, model: str) -> dict[int, pd.Series]:
    """seed → the run of the neural QAC baseline ``model`` (``seq2seq``, ``dual_encoder``)."""
    qac = qac_runs(scope.runs)
    df = qac[qac["model"] == model]
    if df.empty:
        raise NotRun(f"no {model} QAC run — run `{scope.cmd()}`")
    return by_seed(df)


def _ids(seeds, *points) -> list[str]:
    return [p[s]["run_id"] for p in points for s in seeds]


def per_query_columns(scope: Scope, seeds: list[int], points: list[dict[int, pd.Series]],
                      columns: list[str]) -> list[np.ndarray]:
    return seeds_.per_query_columns(scope.per_query, seeds, points, columns, cmd=scope.cmd())


def _per_seed(groups: list[np.ndarray], statistic) -> list[float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return [float(statistic(g.mean(axis=1))) for g in groups]


def shared_test_set(seeds: list[int], *points: dict[int, pd.Series]) -> bool:
    """Whether the seeds were evaluated on one test set: every compared configuration has
    one dataset card (``params.dataset_card_hash``) over the seeds. Unknown (older runs
    without the param) counts as shared: the wider, safe interval."""
    for p in points:
        hashes = {p[s].get("params.dataset_card_hash") for s in seeds}
        if len(hashes) > 1 and not any(pd.isna(h) for h in hashes):
            return False
    return True


def _bootstrapped(groups, statistic, seeds, detail, ids, partial=None, *, shared=True
                  ) -> Measured:
    return Measured(u.bootstrap(groups, statistic, shared_queries=shared),
                    _per_seed(groups, statistic),
                    detail + f"; seeds {', '.join(map(str, seeds))}", ids, partial)


def _compare(scope: Scope, a: dict, b: dict, column: str, *, ratio: bool, detail: str
             ) -> Measured:
    """Paired difference (or ratio) of ``column``'s mean between runs ``a`` and ``b``."""
    seeds = common_seeds(a, b)
    groups = per_query_columns(scope, seeds, [a, b], [column])

    def stat(m):
        return m[..., 0] / m[..., 1] if ratio else m[..., 0] - m[..., 1]

    means = np.mean([g.mean(axis=1) for g in groups], axis=0)
    return _bootstrapped(groups, stat, seeds,
                         f"{detail}: {means[0]:.4f} vs {means[1]:.4f}", _ids(seeds, a, b),
                         shared=shared_test_set(seeds, a, b))


def _seed_values(points: list[dict], value: Callable[..., float], detail: str) -> Measured:
    seeds = common_seeds(*points)
    vals = [float(value(*(p[s] for p in points))) for s in seeds]
    return Measured(u.seed_interval(vals), vals,
                    f"{detail}; seeds {', '.join(map(str, seeds))}", _ids(seeds, *points))


def _latency(scope: Scope, points: list[dict], percentile: float, statistic,
             value: Callable[..., float], detail: str) -> Measured:
    """A latency claim: the paired bootstrap of ``statistic`` over each run's per-request
    latencies (``latency_ms``, summarised by ``percentile``) when every run logged them;
    else ``value`` of the logged percentiles, with a t interval over seeds."""
    seeds = common_seeds(*points)
    try:
        groups = per_query_columns(scope, seeds, points, ["latency_ms"])
    except NotRun:  # runs without per-request latencies (older runs, PECOS's peer)
        return _seed_values(points, value, detail)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_seed = [float(statistic(u.query_summary(g, percentile))) for g in groups]
    iv = u.bootstrap(groups, statistic, percentile=percentile,
                     shared_queries=shared_test_set(seeds, *points))
    return Measured(iv, per_seed,
                    f"{detail}; per-request latencies, seeds {', '.join(map(str, seeds))}",
                    _ids(seeds, *points))


# ------------------------------------------------------------------------ the claims
def _xr_vs(model: str, column: str, *, ratio: bool):
    def measure(scope: Scope) -> Measured:
        xr, other = xmr_point(scope, "xrlinear"), xmr_point(scope, model)
        return _compare(scope, xr, other, column, ratio=ratio,
                        detail=f"{column} XR-Linear vs {model}")
    return measure


def _pruning_pair(scope: Scope) -> tuple[float, float, dict, dict]:
    """(t_lo, t_hi, runs at t_lo, runs at t_hi): the smallest threshold run and the default
    0.1 (else the largest threshold run), features all, beam 10 (else the widest)."""
    df = scope.runs[(scope.runs["model"] == "xrlinear")
                    & (scope.runs["features"] == DEFAULT_FEATURES)].dropna(subset=["threshold"])
    thresholds = sorted(df["threshold"].unique())
    if len(thresholds) < 2:
        raise NotRun(f"XR-Linear (features all) ran at fewer than 2 pruning thresholds — run "
                     f"`{scope.cmd()}`")
    beams = df["beam_size"].dropna()
    beam = DEFAULT_BEAM if (beams == DEFAULT_BEAM).any() else int(beams.max())
    t_lo = thresholds[0]
    t_hi = DEFAULT_THRESHOLD if np.isclose(thresholds, DEFAULT_THRESHOLD).any() and \
        DEFAULT_THRESHOLD > t_lo else thresholds[-1]
    return (t_lo, t_hi, xmr_point(scope, "xrlinear", threshold=t_lo, beam=beam),
            xmr_point(scope, "xrlinear", threshold=t_hi, beam=beam))


def measure_c3_recall(scope: Scope) -> Measured:
    t_lo, t_hi, lo, hi = _pruning_pair(scope)
    return _compare(scope, hi, lo, "recall_at_10", ratio=True,
                    detail=f"recall@10 at threshold {t_hi:g} vs {t_lo:g}")


def measure_c3_size(scope: Scope) -> Measured:
    t_lo, t_hi, lo, hi = _pruning_pair(scope)
    return _seed_values([hi, lo], lambda h, lo_: h["model_bytes"] / lo_["model_bytes"],
                        f"model bytes at threshold {t_hi:g} / at {t_lo:g}")


def measure_c4(scope: Scope) -> Measured:
    alone = [f for f in ("word1", "word123", "char3")
             if (scope.runs["features"] == f).any()]
    if not alone:
        raise NotRun(f"no single-feature-set runs (word1, word123, char3) — run "
                     f"`{scope.cmd()}`")
    beams = scope.runs["beam_size"].dropna()
    beam = DEFAULT_BEAM if (beams == DEFAULT_BEAM).any() else int(beams.max())
    thresholds = scope.runs["threshold"].dropna()
    t = DEFAULT_THRESHOLD if np.isclose(thresholds, DEFAULT_THRESHOLD).any() else float(
        thresholds.min())
    points = [xmr_point(scope, "xrlinear", features=f, threshold=t, beam=beam)
              for f in (DEFAULT_FEATURES, *alone)]
    seeds = common_seeds(*points)
    groups = per_query_columns(scope, seeds, points, ["recall_at_10"])

    def stat(m):
        return np.min(m[..., :1] - m[..., 1:], axis=-1)

    means = np.mean([g.mean(axis=1) for g in groups], axis=0)
    detail = (f"recall@10 at threshold {t:g}, beam {beam}: all {means[0]:.4f} vs "
              + ", ".join(f"{f} {m:.4f}" for f, m in zip(alone, means[1:])))
    missing = [f for f in ("word1", "word123", "char3") if f not in alone]
    partial = (f"{', '.join(missing)} not run — run `{scope.cmd()}`" if missing else None)
    return _bootstrapped(groups, stat, seeds, detail, _ids(seeds, *points), partial,
                         shared=shared_test_set(seeds, *points))


def measure_c5(scope: Scope) -> Measured:
    xr, de = xmr_point(scope, "xrlinear"), xmr_point(scope, "dual_encoder")
    return _seed_values([xr, de], lambda a, b: a["train_time_s"] / b["train_time_s"],
                        "train_time_s XR-Linear / dual encoder")


def measure_c6(scope: Scope) -> Measured:
    xr = xmr_point(scope, "xrlinear")
    return _latency(scope, [xr], 50, lambda m: m[..., 0], lambda a: a["latency_p50_ms"],
                    "XR-Linear p50 latency (ms), one query at a time, text in")


def _qac_compare(row_a: str, row_b: str, column: str = "reciprocal_rank", *,
                 ratio: bool = False):
    def measure(scope: Scope) -> Measured:
        a, b = qac_row(scope, row_a), qac_row(scope, row_b)
        return _compare(scope, a, b, column, ratio=ratio,
                        detail=f"{column} row {row_a} vs row {row_b}")
    return measure


def measure_c7_hybrid(scope: Scope) -> Measured:
    present = []
    for r in HYBRID_ROWS:
        try:
            present.append((r, qac_row(scope, r)))
        except NotRun:
            pass
    if not present:
        raise NotRun(f"no trie-tree hybrid run (Table 2 rows 6-8) — run `{scope.cmd()}`")
    base = qac_row(scope, PIFA_ROW)
    points = [base] + [p for _, p in present]
    seeds = common_seeds(*points)
    groups = per_query_columns(scope, seeds, points, ["reciprocal_rank"])

    def stat(m):
        return np.min(m[..., 1:] - m[..., :1], axis=-1)

    means = np.mean([g.mean(axis=1) for g in groups], axis=0)
    detail = (f"MRR@10 row {PIFA_ROW} {means[0]:.4f} vs "
              + ", ".join(f"row {r} {m:.4f}" for (r, _), m in zip(present, means[1:])))
    missing = [r for r in HYBRID_ROWS if r not in {r for r, _ in present}]
    partial = f"rows {', '.join(missing)} not run — run `{scope.cmd()}`" if missing else None
    return _bootstrapped(groups, stat, seeds, detail, _ids(seeds, *points), partial,
                         shared=shared_test_set(seeds, *points))


def measure_c9_slower(scope: Scope) -> Measured:
    trie, hybrid = qac_row(scope, TRIE_ROW), qac_row(scope, XMR_QAC_ROW)
    return _latency(scope, [trie, hybrid], 50, lambda m: m[..., 0] - m[..., 1],
                    lambda a, b: a["latency_p50_ms"] - b["latency_p50_ms"],
                    f"p50 latency (ms) row {TRIE_ROW} (trie) − row {XMR_QAC_ROW} (hybrid)")


def measure_c9_bound(scope: Scope) -> Measured:
    rows = []
    for r in (*HYBRID_ROWS, TRIE_ROW):
        try:
            rows.append((r, qac_row(scope, r)))
        except NotRun:
            pass
    if not any(r == TRIE_ROW for r, _ in rows) or len(rows) < 2:
        raise NotRun(f"needs the trie (row {TRIE_ROW}) and a hybrid row (6-8) — run "
                     f"`{scope.cmd()}`")
    return _latency(scope, [p for _, p in rows], 99, lambda m: np.max(m, axis=-1),
                    lambda *runs: max(r["latency_p99_ms"] for r in runs),
                    "max p99 latency (ms) over rows " + ", ".join(r for r, _ in rows))


def measure_c10_short(scope: Scope) -> Measured:
    xmr_, mpc = qac_row(scope, XMR_QAC_ROW), qac_row(scope, "mpc")
    seeds = common_seeds(xmr_, mpc)
    raw = per_query_columns(scope, seeds, [xmr_, mpc], ["reciprocal_rank", "prefix_length"])
    groups = []
    for g in raw:  # rows: rr_x, len_x, rr_m, len_m
        short = (g[1] <= SHORT_PREFIX).astype(np.float64)
        groups.append(np.stack([g[0] * short, g[2] * short, g[0] * (1 - short),
                                g[2] * (1 - short)]))

    def stat(m):  # relative gain over MPC on short prefixes minus on longer ones
        return (m[..., 0] / m[..., 1]) - (m[..., 2] / m[..., 3])

    means = np.mean([g.mean(axis=1) for g in groups], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        detail = (f"MRR gain of row {XMR_QAC_ROW} over MPC: {means[0] / means[1] - 1:+.1%} at "
                  f"prefixes <= {SHORT_PREFIX} chars, {means[2] / means[3] - 1:+.1%} longer")
    return _bootstrapped(groups, stat, seeds, detail, _ids(seeds, xmr_, mpc),
                         shared=shared_test_set(seeds, xmr_, mpc))


def _neural(model: str, column: str, *, latency: bool = False):
    def measure(scope: Scope) -> Measured:
        neural, xmr_ = qac_neural(scope, model), qac_row(scope, XMR_QAC_ROW)
        if latency:
            return _latency(scope, [xmr_, neural], 50, lambda m: m[..., 0] / m[..., 1],
                            lambda a, b: a["latency_p50_ms"] / b["latency_p50_ms"],
                            f"p50 latency row {XMR_QAC_ROW} / {model}")
        return _compare(scope, xmr_, neural, column, ratio=False,
                        detail=f"{column} row {XMR_QAC_ROW} vs {model}")
    return measure


CLAIMS: tuple[Claim, ...] = (
    Claim("C1a", "paper1", "XR-Linear's recall@10 is more than twice the dual encoder's",
          "recall@10 XR-Linear / dual encoder", "> 2×", ">", 2.0,
          _xr_vs("dual_encoder", "recall_at_10", ratio=True)),
    Claim("C1b", "paper1", "XR-Linear's recall@10 is almost four times the OVR linear model's",
          "recall@10 XR-Linear / OVR linear", "≈ 4× (≈: ≥ 3)", ">", 3.0,
          _xr_vs("ovr_linear", "recall_at_10", ratio=True)),
    Claim("C2", "paper1", "XR-Linear's recall@100 is above the dual encoder's",
          "recall@100 XR-Linear − dual encoder", "60.9% vs 36.8% (+24.1 points)", ">", 0.0,
          _xr_vs("dual_encoder", "recall_at_100", ratio=False)),
    Claim("C3a", "product_search", "pruning costs little recall",
          "recall@10 kept: threshold 0.1 (else the largest run) / the smallest",
          "small loss (read: ≥ 95% kept)", ">",
          0.95, measure_c3_recall),
    Claim("C3b", "product_search", "... for a large memory saving",
          "model bytes kept: threshold 0.1 (else the largest run) / the smallest",
          "large saving (read: ≤ 50% kept)",
          "<", 0.5, measure_c3_size),
    Claim("C4", "product_search", "word n-grams + char trigrams + TF-IDF together beat each "
          "set alone", "recall@10 all − best single set (min over sets)", "all three best", ">",
          0.0, measure_c4),
    Claim("C5", "paper1", "XR-Linear trains in about 1/6 of the neural model's time",
          "train time XR-Linear / dual encoder", "≈ 1/6 (≈: ≤ 2/9)", "<", 2 / 9, measure_c5),
    Claim("C6", "paper1", "about 1.25 ms per query", "XR-Linear p50 latency (ms)",
          "1.25 ms (≈: ≤ 1.67 ms)", "<", 1.25 / 0.75, measure_c6),
    Claim("C7a", "qac", "the trie indexer beats 2-means on PIFA in MRR",
          f"MRR@10 row {TRIE_ROW} (trie) − row {PIFA_ROW} (PIFA 2-means)",
          "trie/hybrid best", ">", 0.0, _qac_compare(TRIE_ROW, PIFA_ROW)),
    Claim("C7b", "qac", "the trie–tree hybrids beat 2-means on PIFA in MRR",
          f"MRR@10 rows 6-8 (hybrid) − row {PIFA_ROW}, min over rows", "trie/hybrid best", ">",
          0.0, measure_c7_hybrid),
    Claim("C7c", "qac", "MRR 3.9× the baseline XMR approach",
          f"MRR@10 row {XMR_QAC_ROW} / row {BASELINE_XMR_ROW} (previous query only)",
          "3.9× (≈: ≥ 2.93)", ">", 3.9 * 0.75,
          _qac_compare(XMR_QAC_ROW, BASELINE_XMR_ROW, ratio=True)),
    Claim("C8a", "qac", "position-weighted char TF-IDF beats plain char TF-IDF (PIFA 2-means)",
          "MRR@10 row 4 − row 2", "pos-weighted better", ">", 0.0, _qac_compare("4", "2")),
    Claim("C8b", "qac", "... with the label's own char TF-IDF as embedding",
          "MRR@10 row 5 − row 3", "pos-weighted better", ">", 0.0, _qac_compare("5", "3")),
    Claim("C8c", "qac", "... under the trie", "MRR@10 row 9 − row 10", "pos-weighted better",
          ">", 0.0, _qac_compare("9", "10")),
    Claim("C9a", "qac", "the trie is slower than the hybrid",
          f"p50 latency (ms) row {TRIE_ROW} − row {XMR_QAC_ROW}", "trie slower", ">", 0.0,
          measure_c9_slower),
    Claim("C9b", "qac", "trie and hybrid both answer under 10 ms",
          "max p99 latency (ms) over trie and hybrid rows", "< 10 ms", "<", 10.0,
          measure_c9_bound),
    Claim("C10a", "qac", "session-aware XMR beats most-popular completion",
          f"MRR@10 row {XMR_QAC_ROW} − MPC", "XMR better", ">", 0.0,
          _qac_compare(XMR_QAC_ROW, "mpc")),
    Claim("C10b", "qac", "... most at short prefixes",
          f"relative MRR gain over MPC, prefixes ≤ {SHORT_PREFIX} chars minus longer",
          "+33% MRR at ≤ 3 chars", ">", 0.0, measure_c10_short),
    Claim("C11a", "qac_neural", "XMR beats the neural seq2seq completer on MRR",
          f"MRR@10 row {XMR_QAC_ROW} − seq2seq", "XMR better", ">", 0.0,
          _neural("seq2seq", "reciprocal_rank")),
    Claim("C11b", "qac_neural", "... and on BLEU", f"BLEU row {XMR_QAC_ROW} − seq2seq",
          "XMR better", ">", 0.0, _neural("seq2seq", "bleu")),
    Claim("C11c", "qac_neural", "... at far lower latency",
          f"p50 latency row {XMR_QAC_ROW} / seq2seq", "far lower (read: ≤ 1/2)", "<", 0.5,
          _neural("seq2seq", "", latency=True)),
    # not in the paper: the same three against the dual-encoder retriever (issue 14)
    Claim("C11d", "qac_neural", "XMR beats the dual-encoder retriever on MRR (not in the paper)",
          f"MRR@10 row {XMR_QAC_ROW} − dual encoder", "–", ">", 0.0,
          _neural("dual_encoder", "reciprocal_rank")),
    Claim("C11e", "qac_neural", "... and on BLEU (not in the paper)",
          f"BLEU row {XMR_QAC_ROW} − dual encoder", "–", ">", 0.0,
          _neural("dual_encoder", "bleu")),
    Claim("C11f", "qac_neural", "... at far lower latency (not in the paper)",
          f"p50 latency row {XMR_QAC_ROW} / dual encoder", "– (read: ≤ 1/2)", "<", 0.5,
          _neural("dual_encoder", "", latency=True)),
)


# ------------------------------------------------------------------------ the table
def _scopes(runs: pd.DataFrame, family: str, per_query) -> list[Scope]:
    """One scope per dataset: the runs of the family's first preset that ran there."""
    presets = FAMILIES[family]
    df = runs[runs["experiment"].isin(presets)]
    out = []
    for dataset, group in df.groupby("dataset", sort=True):
        for preset in presets:
            mine = group[group["experiment"] == preset]
            if len(mine):
                out.append(Scope(mine, preset, family, per_query))
                break
    return out


def _row(claim: Claim, dataset: str, preset: str) -> dict:
    return {"claim": claim.id, "dataset": dataset, "preset": preset,
            "statement": claim.statement, "quantity": claim.quantity,
            "threshold": claim.threshold_text(), "paper": claim.paper}


def evaluate(runs: pd.DataFrame, *, per_query=None) -> pd.DataFrame:
    """Every claim on every dataset its presets ran on: the :data:`COLUMNS` frame."""
    if per_query is None:
        def per_query(run_id):
            return load.load_per_query(runs, run_id)
    rows = []
    for claim in CLAIMS:
        scopes = _scopes(runs, claim.family, per_query)
        if not scopes:
            presets = " or ".join(f"`{CMD.format(p)}`" for p in FAMILIES[claim.family])
            rows.append(_row(claim, "–", "–") | {"verdict": u.NOT_RUN,
                                                 "detail": f"no runs: run {presets}"})
            continue
        for scope in scopes:
            row = _row(claim, scope.runs["dataset"].iloc[0], scope.preset)
            try:
                m = claim.measure(scope)
            except NotRun as exc:
                rows.append(row | {"verdict": u.NOT_RUN, "detail": str(exc)})
                continue
            mean, std, n = u.seed_summary(m.per_seed)
            verdict = u.verdict(m.interval, claim.threshold, claim.direction)
            detail = m.detail
            if verdict == u.HOLDS and m.partial:
                verdict, detail = u.INCONCLUSIVE, f"{detail}; holds on what ran, but {m.partial}"
            elif m.partial:
                detail = f"{detail}; {m.partial}"
            if not m.interval.has_interval:
                detail += "; one seed: no interval (run seed=0,1,2)"
            iv = m.interval
            rows.append(row | {"estimate": iv.estimate, "ci_low": iv.low, "ci_high": iv.high,
                               "interval": iv.method, "n_seeds": n, "seed_mean": mean,
                               "seed_std": std, "verdict": verdict, "detail": detail,
                               "run_ids": ";".join(m.run_ids)})
    return pd.DataFrame(rows, columns=COLUMNS)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    a = abs(v)
    return f"{v:.3g}" if a >= 100 else f"{v:.3f}" if a >= 0.1 or a == 0 else f"{v:.4f}"


def markdown(table: pd.DataFrame) -> str:
    """The Markdown table of claims.md: one line per row, the details as notes below."""
    shown = pd.DataFrame({
        "claim": table["claim"], "dataset": table["dataset"],
        "measured": table["quantity"],
        "value [95% interval]": [
            "–" if pd.isna(e) else f"{_fmt(e)} [{_fmt(lo)}, {_fmt(hi)}]"
            for e, lo, hi in zip(table["estimate"], table["ci_low"], table["ci_high"])],
        "seeds: mean ± std": [
            "–" if pd.isna(n) or n == 0 else f"{_fmt(m)} ± {_fmt(s)} (n={int(n)})"
            for m, s, n in zip(table["seed_mean"], table["seed_std"], table["n_seeds"])],
        "holds if": table["threshold"], "paper": table["paper"],
        "verdict": [f"**{v}**" for v in table["verdict"]]})
    notes = [f"- **{r.claim}** ({r.dataset}, {r.preset}): {r.statement}. {r.detail}."
             for r in table.itertuples()]
    return markdown_table(shown) + "\n\n" + "\n".join(notes)


def write(table: pd.DataFrame, out: Path, runs: pd.DataFrame) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv, md = out / f"{NAME}.csv", out / f"{NAME}.md"
    table.to_csv(csv, index=False)
    counts = table["verdict"].value_counts()
    summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in
                        (u.HOLDS, u.DOES_NOT_HOLD, u.INCONCLUSIVE, u.NOT_RUN))
    from analysis.style import footnote_text

    md.write_text(
        "# The papers' claims, measured\n\n"
        f"{len(table)} rows: {summary}. Generated by `python -m analysis.claims` from "
        f"{runs.attrs.get('tracking_uri', 'MLflow')} ({footnote_text(runs)}).\n\n"
        "Value: the measured quantity (means over seeds); interval: 95%. Per-query "
        "quantities and latency percentiles of runs that logged each request's latency: "
        "from one seed a paired bootstrap over test queries (10,000 resamples, seeded), "
        "from several Student's t over the per-seed estimates (df = seeds − 1) plus the "
        "within-seed bootstrap variance when the seeds share one test set; per-run "
        "quantities (training time, size, latency without per-request times): t over "
        "seeds. "
        "Verdict: **holds** when the whole interval is beyond the threshold, **does not "
        "hold** when it is wholly on the other side, **inconclusive** when it spans the "
        "threshold (or a single seed gives no interval, or only part of the claim ran), "
        "**not run** with the preset to run. \"≈ x\" is read as at least 75% of the way to "
        "x.\n\n" + markdown(table) + "\n")
    return [md, csv]


def build(runs: pd.DataFrame, out: Path) -> Result:
    table = evaluate(runs)
    files = write(table, out, runs)
    counts = table["verdict"].value_counts()
    notes = [f"{counts.get(v, 0)} {v}" for v in (u.HOLDS, u.DOES_NOT_HOLD, u.INCONCLUSIVE,
                                                  u.NOT_RUN)]
    return Result(NAME, files=files, caption="The papers' claims with intervals and verdicts",
                  notes=[", ".join(notes)])


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.claims")


if __name__ == "__main__":
    raise SystemExit(main())
