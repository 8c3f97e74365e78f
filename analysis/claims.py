"""The claims table: every claim of the two papers, measured from the logged runs, with its
interval, a *direction* verdict (the ordering the paper states), a *magnitude* verdict (the
paper's figure reproduced, where its source gives one), their combination and the same after
Holm's adjustment over the table — each ``holds``, ``does not hold``, ``inconclusive`` (the
interval spans the threshold, or the runs cannot decide), ``inconclusive (n seeds < 3)``,
``not measured (busy machine)`` (latency timed on a loaded machine) or ``not run`` (naming
the preset to run).

    python -m analysis.claims [--tracking-uri URI | --bundle DIR] [--out analysis/figures]
                              [--allow-mixed]

Writes ``claims.md`` and ``claims.csv`` (one row per claim and dataset). How a row is
measured:

- each claim names the configurations it compares, the quantity, its ordering (``> 0`` for
  "beats", ``> 1`` for a ratio) and the paper's figure as a magnitude test: "≈ x" is
  two-sided, within :data:`BAND` = [0.75x, 1.33x] for every ≈ claim; "more than twice" is
  ``> 2``; a figure recalled but not read in the source is marked unconfirmed;
- a claim that depends on training is decided from >= :data:`MIN_SEEDS` seeds; rows on
  synthetic data (the harness's own generators) are "pipeline checks", outside the headline
  counts and the Holm family;
- per-query quantities (recall, reciprocal rank, BLEU of each test query, from the runs'
  ``per_query.parquet``) get a paired bootstrap interval over the test queries (10,000
  resamples, seeded) from one seed, and from several a t interval over the per-seed
  estimates (df = seeds − 1) that adds the within-seed bootstrap variance when the seeds
  share one test set (see :mod:`analysis.uncertainty`); per-run quantities (training time,
  latency percentiles, model size) a t interval over seeds (none from a single seed →
  ``inconclusive``);
- latency claims read each request's time: from the interleaved timing when the compared runs
  were timed together (``python -m experiments.latency``: one process, round-robin, >= 3
  repeats; ``latency_interleaved.parquet``, paired by request and repeat), else from the
  job's own timing (``latency_ms``), else the logged percentiles; a latency timed on a
  loaded machine (1-min load average above :data:`BUSY_LOAD` × the CPU count) reads
  ``not measured (busy machine)``;
- the runs come from one preset per dataset (the full preset if it ran there, else its smoke
  variant), only seeds that every compared configuration ran, and only configurations
  fixed in advance (no best-of selection, except the one the claim names: "trie/hybrid beat
  2-means" is against the best 2-means row, chosen by MRR, which favours the other side):
  XR-Linear at features ``all``, threshold 0.1, beam 10; QAC's "session-aware XMR" is
  Table 2 row 7 (the trie–tree hybrid, trie depth 2, the preset's default run). In a preset
  that tunes its models (``tune.models``: ``paper1_comparison``, ``qac_comparison``), that
  grid point's run holds the model tuned on the shared validation split and refitted (its
  params ``tuned.*`` name the chosen values), so each side is at its own best by one
  mechanism (``experiments/tuning.py``).
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
from analysis.common import Result, default_choice, markdown_table
from analysis.qac import model_kind, mpc_mask, qac_runs
from analysis.seeds import NotRun, by_seed, common_seeds
from xmr.params import PREDICT, XRLinearParams
from xmr.timing import QUIET_LOAD_PER_CPU

log = logging.getLogger(__name__)
NAME = "claims"
CMD = "python -m experiments.run -m experiment={}"
# claim family → presets that produce its runs: the full preset first, then its smoke variant
FAMILIES = {"paper1": ("paper1_comparison", "smoke_paper1"),
            "product_search": ("product_search", "smoke"),
            "qac": ("qac_table2", "smoke_qac"),
            "qac_neural": ("qac_comparison", "smoke_qac_comparison")}
# the configuration a claim tests, from where each default lives: the composed config's
# features choice (conf/config.yaml), the library's pruning threshold and beam width
DEFAULT_FEATURES = default_choice("features")
DEFAULT_THRESHOLD = XRLinearParams().threshold
DEFAULT_BEAM = PREDICT.beam_size
XMR_QAC_ROW = "7"  # "session-aware XMR": the trie-tree hybrid (qac_table2's default run)
HYBRID_ROWS, TRIE_ROW, PIFA_ROW, BASELINE_XMR_ROW = ("6", "7", "8"), "9", "4", "0"
# "trie/hybrid beat 2-means": against the best 2-means row on the same (position-weighted)
# input, chosen on the runs by MRR; row 4 (PIFA) is reported beside it
TWO_MEANS_ROWS = ("4", "5")
SHORT_PREFIX = 3  # "short prefixes": <= 3 characters (paper 2: +33% MRR there)
MIN_SEEDS = 3  # a claim that depends on training is decided from at least this many seeds
BAND = (0.75, 1.33)  # "≈ x" is two-sided: within [0.75x, 1.33x], the one band for every ≈
BUSY_LOAD = QUIET_LOAD_PER_CPU  # trusted when the 1-min load average was <= this x CPUs
# what a latency was measured under (metrics): at job time, or by the interleaved timing
JOB_CONDITIONS = ("latency_load_avg", "cpu_count")
IL_CONDITIONS = ("latency_il_load_avg", "latency_il_cpu_count")
_REPEAT_KEY = 1 << 20  # (query_id, repeat) → one int key: repeats stay below this
REAL, PIPELINE = "real data", "pipeline check"  # synthetic data checks our own generators
FEW_SEEDS = f"{u.INCONCLUSIVE} (n seeds < {MIN_SEEDS})"
BUSY = "not measured (busy machine)"
NO_MAGNITUDE = "–"
COLUMNS = ["claim", "dataset", "preset", "kind", "statement", "quantity", "estimate", "ci_low",
           "ci_high", "interval", "n_seeds", "seed_mean", "seed_std", "threshold",
           "direction_verdict", "paper", "magnitude_band", "magnitude_estimate",
           "magnitude_low", "magnitude_high", "magnitude_verdict", "verdict", "p_direction",
           "p_magnitude", "verdict_holm", "detail", "run_ids"]


@dataclass
class Measured:
    interval: u.Interval
    per_seed: list[float]  # the quantity on each seed alone (for mean ± std)
    detail: str
    run_ids: list[str]
    partial: str | None = None  # why a "holds" must stay inconclusive (part of the claim)
    magnitude: u.Interval | None = None  # the paper's figure's quantity, when not the same
    conditions: tuple[str, str] = JOB_CONDITIONS  # the metrics its latency was timed under


@dataclass
class Scope:
    """The runs of one preset on one dataset, and how to read their per-query results."""

    runs: pd.DataFrame
    preset: str
    family: str
    per_query: Callable[[str], pd.DataFrame | None]
    # a run's latency_interleaved.parquet (experiments/latency.py), None if it has none
    interleaved: Callable[[str], pd.DataFrame | None] = lambda run_id: None

    def cmd(self) -> str:
        return CMD.format(FAMILIES[self.family][0])


@dataclass(frozen=True)
class Magnitude:
    """The paper's figure as a test on the measured quantity: ``≈`` (within :data:`BAND` of
    ``value``), or ``>`` / ``<`` ``value`` (e.g. "more than twice")."""

    kind: str  # '≈', '>' or '<'
    value: float
    unconfirmed: bool = False  # a figure recalled, not read in the source (PAPERS.md)

    def bounds(self) -> tuple[float, float]:
        lo, hi = BAND[0] * self.value, BAND[1] * self.value
        return (min(lo, hi), max(lo, hi))

    def text(self) -> str:
        if self.kind == "≈":
            lo, hi = self.bounds()
            out = f"≈ {self.value:.4g}: in [{lo:.4g}, {hi:.4g}]"
        else:
            out = f"{self.kind} {self.value:.4g}"
        return out + (" (figure unconfirmed)" if self.unconfirmed else "")

    def verdict(self, iv: u.Interval) -> tuple[str, float]:
        """(verdict, p-value of the decision it reaches) on the interval."""
        if self.kind == "≈":
            v, (ph, pf) = u.band_verdict(iv, *self.bounds()), u.band_p_values(iv,
                                                                              *self.bounds())
        else:
            v, (ph, pf) = (u.verdict(iv, self.value, self.kind),
                           u.p_values(iv, self.value, self.kind))
        return v, min(ph, pf)


@dataclass(frozen=True)
class Claim:
    id: str
    family: str
    statement: str  # the paper's claim, in words
    quantity: str  # what is measured
    paper: str  # the paper's figure, in words
    direction: str  # '>' or '<': the ordering — the side of the threshold where it holds
    threshold: float
    measure: Callable[[Scope], Measured]
    magnitude: Magnitude | None = None  # the paper's figure, where its source gives one
    latency: bool = False  # measured by timing: trusted only on a quiet machine
    trained: bool = True  # depends on training: decided from >= MIN_SEEDS seeds

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
        df = qac[mpc_mask(qac)]
    else:
        col = qac["params.qac_row"] if "params.qac_row" in qac.columns else pd.Series(
            dtype=object)
        df = qac[(col.astype(str) == row) & (model_kind(qac) == "xmr").fillna(False)]
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
                      columns: list[str]) -> tuple[list[np.ndarray], list]:
    """(groups, clusters) of :func:`analysis.seeds.per_query_groups`: QAC runs that log a
    ``user_id`` per request are resampled by user."""
    return seeds_.per_query_groups(scope.per_query, seeds, points, columns, cmd=scope.cmd())


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


def _bootstrapped(groups, statistic, seeds, detail, ids, partial=None, *, shared=True,
                  clusters=None) -> Measured:
    return Measured(u.bootstrap(groups, statistic, shared_queries=shared, clusters=clusters),
                    _per_seed(groups, statistic),
                    detail + f"; seeds {', '.join(map(str, seeds))}", ids, partial)


def _compare(scope: Scope, a: dict, b: dict, column: str, *, ratio: bool, detail: str
             ) -> Measured:
    """Paired difference (or ratio) of ``column``'s mean between runs ``a`` and ``b``."""
    seeds = common_seeds(a, b)
    groups, clusters = per_query_columns(scope, seeds, [a, b], [column])

    def stat(m):
        return m[..., 0] / m[..., 1] if ratio else m[..., 0] - m[..., 1]

    means = np.mean([g.mean(axis=1) for g in groups], axis=0)
    return _bootstrapped(groups, stat, seeds,
                         f"{detail}: {means[0]:.4f} vs {means[1]:.4f}", _ids(seeds, a, b),
                         shared=shared_test_set(seeds, a, b), clusters=clusters)


def _seed_values(points: list[dict], value: Callable[..., float], detail: str) -> Measured:
    seeds = common_seeds(*points)
    vals = [float(value(*(p[s] for p in points))) for s in seeds]
    return Measured(u.seed_interval(vals), vals,
                    f"{detail}; seeds {', '.join(map(str, seeds))}", _ids(seeds, *points))


def interleaved_groups(scope: Scope, seeds: list[int], points: list[dict]
                       ) -> tuple[list[np.ndarray], int] | None:
    """(groups, repeats) of the interleaved timing when every run of each seed was timed in
    one group (one tag ``latency_il_group``, experiments/latency.py) and logged its
    ``latency_interleaved.parquet``: per seed a (len(points), n) array of the runs'
    request times paired by (query id, repeat), the repeats pooled; else None."""
    runs = [p[s] for s in seeds for p in points]
    for s in seeds:
        ids = {p[s].get("latency_il_group") for p in points}
        if len(ids) != 1 or any(pd.isna(i) for i in ids):
            return None

    def frame(run_id: str) -> pd.DataFrame | None:
        f = scope.interleaved(run_id)
        if f is None:
            return None
        key = f["query_id"].to_numpy(np.int64) * _REPEAT_KEY + f["repeat"].to_numpy(np.int64)
        return pd.DataFrame({"query_id": key, "latency_ms": f["latency_ms"].to_numpy()})

    try:
        groups = seeds_.per_query_groups(frame, seeds, points, ["latency_ms"],
                                         cmd=scope.cmd())[0]
    except NotRun:
        return None
    repeats = pd.to_numeric(pd.Series([r.get("latency_il_repeats") for r in runs]),
                            errors="coerce")
    return groups, int(repeats.min()) if repeats.notna().all() else 0


def _latency(scope: Scope, points: list[dict], percentile: float, statistic,
             value: Callable[..., float], detail: str) -> Measured:
    """A latency claim: the paired bootstrap of ``statistic`` over each run's per-request
    latencies, summarised by ``percentile``: from the interleaved timing when every run of
    each seed was timed in one group (:func:`interleaved_groups`; its load decides the busy
    rule), else from the job's own timing (``latency_ms``) when every run logged it; else
    ``value`` of the logged percentiles, with a t interval over seeds."""
    seeds = common_seeds(*points)
    conditions, how = JOB_CONDITIONS, "per-request latencies"
    il = interleaved_groups(scope, seeds, points)
    if il is not None:
        groups, repeats = il
        conditions = IL_CONDITIONS
        how = (f"per-request latencies interleaved in one process, {repeats} repeats "
               "(python -m experiments.latency)")
    else:
        try:
            groups = per_query_columns(scope, seeds, points, ["latency_ms"])[0]
        except NotRun:  # runs without per-request latencies (older runs, PECOS's peer)
            return _seed_values(points, value, detail)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_seed = [float(statistic(u.query_summary(g, percentile))) for g in groups]
    iv = u.bootstrap(groups, statistic, percentile=percentile,
                     shared_queries=shared_test_set(seeds, *points))
    return Measured(iv, per_seed, f"{detail}; {how}, seeds {', '.join(map(str, seeds))}",
                    _ids(seeds, *points), conditions=conditions)


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
    groups, clusters = per_query_columns(scope, seeds, points, ["recall_at_10"])

    def stat(m):
        return np.min(m[..., :1] - m[..., 1:], axis=-1)

    means = np.mean([g.mean(axis=1) for g in groups], axis=0)
    detail = (f"recall@10 at threshold {t:g}, beam {beam}: all {means[0]:.4f} vs "
              + ", ".join(f"{f} {m:.4f}" for f, m in zip(alone, means[1:])))
    missing = [f for f in ("word1", "word123", "char3") if f not in alone]
    partial = (f"{', '.join(missing)} not run — run `{scope.cmd()}`" if missing else None)
    return _bootstrapped(groups, stat, seeds, detail, _ids(seeds, *points), partial,
                         shared=shared_test_set(seeds, *points), clusters=clusters)


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


def best_two_means(scope: Scope) -> str:
    """The 2-means row of :data:`TWO_MEANS_ROWS` with the highest MRR@10 (mean over its
    seeds' per-query reciprocal ranks): the row the trie and hybrids must beat."""
    best, best_mrr = None, -np.inf
    for r in TWO_MEANS_ROWS:
        try:
            runs = qac_row(scope, r)
        except NotRun:
            continue
        frames = [scope.per_query(p["run_id"]) for p in runs.values()]
        vals = [f["reciprocal_rank"].mean() for f in frames
                if f is not None and "reciprocal_rank" in f.columns]
        mrr = float(np.mean(vals)) if vals else float(np.nanmean(
            [p.get("mrr_at_10", np.nan) for p in runs.values()]))
        if best is None or mrr > best_mrr:
            best, best_mrr = r, mrr
    if best is None:
        raise NotRun(f"no 2-means row ({', '.join(TWO_MEANS_ROWS)}) — run `{scope.cmd()}`")
    return best


def measure_c7_trie(base: str | None):
    """MRR@10 of the trie minus the 2-means row ``base`` (None: the best one)."""
    def measure(scope: Scope) -> Measured:
        row = best_two_means(scope) if base is None else base
        m = _qac_compare(TRIE_ROW, row)(scope)
        if base is None:
            m.detail += f"; best 2-means row on these runs: {row} (of " \
                        f"{', '.join(TWO_MEANS_ROWS)})"
        return m
    return measure


def measure_c7_hybrid(base_row: str | None):
    """min over the hybrid rows of MRR@10 minus the 2-means row ``base_row`` (None: the
    best)."""
    def measure(scope: Scope) -> Measured:
        present = []
        for r in HYBRID_ROWS:
            try:
                present.append((r, qac_row(scope, r)))
            except NotRun:
                pass
        if not present:
            raise NotRun(f"no trie-tree hybrid run (Table 2 rows 6-8) — run `{scope.cmd()}`")
        row = best_two_means(scope) if base_row is None else base_row
        base = qac_row(scope, row)
        points = [base] + [p for _, p in present]
        seeds = common_seeds(*points)
        groups, clusters = per_query_columns(scope, seeds, points, ["reciprocal_rank"])

        def stat(m):
            return np.min(m[..., 1:] - m[..., :1], axis=-1)

        means = np.mean([g.mean(axis=1) for g in groups], axis=0)
        detail = (f"MRR@10 row {row} {means[0]:.4f} vs "
                  + ", ".join(f"row {r} {m:.4f}" for (r, _), m in zip(present, means[1:])))
        if base_row is None:
            detail += f"; best 2-means row on these runs: {row} (of {', '.join(TWO_MEANS_ROWS)})"
        missing = [r for r in HYBRID_ROWS if r not in {r for r, _ in present}]
        partial = (f"rows {', '.join(missing)} not run — run `{scope.cmd()}`" if missing
                   else None)
        return _bootstrapped(groups, stat, seeds, detail, _ids(seeds, *points), partial,
                             shared=shared_test_set(seeds, *points), clusters=clusters)
    return measure


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
    raw, clusters = per_query_columns(scope, seeds, [xmr_, mpc],
                                      ["reciprocal_rank", "prefix_length"])
    groups = []
    for g in raw:  # rows: rr_x, len_x, rr_m, len_m
        short = (g[1] <= SHORT_PREFIX).astype(np.float64)
        groups.append(np.stack([g[0] * short, g[2] * short, g[0] * (1 - short),
                                g[2] * (1 - short)]))

    def stat(m):  # relative gain over MPC on short prefixes minus on longer ones
        return (m[..., 0] / m[..., 1]) - (m[..., 2] / m[..., 3])

    def short_gain(m):  # the paper's figure: the relative gain at short prefixes
        return m[..., 0] / m[..., 1] - 1

    means = np.mean([g.mean(axis=1) for g in groups], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        detail = (f"MRR gain of row {XMR_QAC_ROW} over MPC: {means[0] / means[1] - 1:+.1%} at "
                  f"prefixes <= {SHORT_PREFIX} chars, {means[2] / means[3] - 1:+.1%} longer")
    shared = shared_test_set(seeds, xmr_, mpc)
    m = _bootstrapped(groups, stat, seeds, detail, _ids(seeds, xmr_, mpc), shared=shared,
                      clusters=clusters)
    m.magnitude = u.bootstrap(groups, short_gain, shared_queries=shared, clusters=clusters)
    return m


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
          "recall@10 XR-Linear / dual encoder", "more than double (> 2×)", ">", 1.0,
          _xr_vs("dual_encoder", "recall_at_10", ratio=True), Magnitude(">", 2.0)),
    Claim("C1b", "paper1", "XR-Linear's recall@10 is almost four times the OVR linear model's",
          "recall@10 XR-Linear / OVR linear", "almost quadruple (≈ 4×)", ">", 1.0,
          _xr_vs("ovr_linear", "recall_at_10", ratio=True), Magnitude("≈", 4.0)),
    Claim("C2", "paper1", "XR-Linear's recall@100 is above the dual encoder's",
          "recall@100 XR-Linear − dual encoder",
          "60.9% vs 36.8% (+24.1 points, on the paper's data: no magnitude test)", ">", 0.0,
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
          "train time XR-Linear / dual encoder",
          "about one-sixth (≈ 1/6; the paper's neural model trained on GPUs)", "<", 1.0,
          measure_c5, Magnitude("≈", 1 / 6)),
    Claim("C6", "paper1", "about 1.25 ms per query", "XR-Linear p50 latency (ms)",
          "1.25 ms on average (at 100M products: consistent at this scale at most)", "<", 1.25,
          measure_c6, Magnitude("≈", 1.25), latency=True),
    Claim("C7a", "qac", "the trie indexer beats the best 2-means row in MRR",
          f"MRR@10 row {TRIE_ROW} (trie) − best 2-means row ({', '.join(TWO_MEANS_ROWS)})",
          "trie/hybrid best", ">", 0.0, measure_c7_trie(None)),
    Claim("C7a-row4", "qac", "... the trie against 2-means on PIFA (row 4)",
          f"MRR@10 row {TRIE_ROW} (trie) − row {PIFA_ROW} (PIFA 2-means)",
          "trie/hybrid best", ">", 0.0, measure_c7_trie(PIFA_ROW)),
    Claim("C7b", "qac", "the trie–tree hybrids beat the best 2-means row in MRR",
          "MRR@10 rows 6-8 (hybrid) − best 2-means row, min over rows", "trie/hybrid best",
          ">", 0.0, measure_c7_hybrid(None)),
    Claim("C7b-row4", "qac", "... the hybrids against 2-means on PIFA (row 4)",
          f"MRR@10 rows 6-8 (hybrid) − row {PIFA_ROW}, min over rows", "trie/hybrid best", ">",
          0.0, measure_c7_hybrid(PIFA_ROW)),
    Claim("C7c", "qac", "MRR 3.9× the baseline XMR approach",
          f"MRR@10 row {XMR_QAC_ROW} / row {BASELINE_XMR_ROW} (previous query only)",
          "3.9× (arXiv v1: +230%)", ">", 1.0,
          _qac_compare(XMR_QAC_ROW, BASELINE_XMR_ROW, ratio=True), Magnitude("≈", 3.9)),
    Claim("C8a", "qac", "position-weighted char TF-IDF beats plain char TF-IDF (PIFA 2-means)",
          "MRR@10 row 4 − row 2", "pos-weighted better", ">", 0.0, _qac_compare("4", "2")),
    Claim("C8b", "qac", "... with the label's own char TF-IDF as embedding",
          "MRR@10 row 5 − row 3", "pos-weighted better", ">", 0.0, _qac_compare("5", "3")),
    Claim("C8c", "qac", "... under the trie", "MRR@10 row 9 − row 10", "pos-weighted better",
          ">", 0.0, _qac_compare("9", "10")),
    Claim("C9a", "qac", "the trie is slower than the hybrid",
          f"p50 latency (ms) row {TRIE_ROW} − row {XMR_QAC_ROW}", "trie slower", ">", 0.0,
          measure_c9_slower, latency=True),
    Claim("C9b", "qac", "trie and hybrid both answer under 10 ms",
          "max p99 latency (ms) over trie and hybrid rows", "< 10 ms", "<", 10.0,
          measure_c9_bound, latency=True),
    Claim("C10a", "qac", "session-aware XMR beats most-popular completion",
          f"MRR@10 row {XMR_QAC_ROW} − MPC", "XMR better", ">", 0.0,
          _qac_compare(XMR_QAC_ROW, "mpc")),
    Claim("C10b", "qac", "... most at short prefixes",
          f"relative MRR gain over MPC, prefixes ≤ {SHORT_PREFIX} chars minus longer "
          f"(magnitude: the gain at ≤ {SHORT_PREFIX} chars)",
          "+33% MRR at ≤ 3 chars (unconfirmed: recalled, not read)", ">", 0.0,
          measure_c10_short, Magnitude("≈", 0.33, unconfirmed=True)),
    Claim("C11a", "qac_neural", "XMR beats the neural seq2seq completer on MRR",
          f"MRR@10 row {XMR_QAC_ROW} − seq2seq", "XMR better", ">", 0.0,
          _neural("seq2seq", "reciprocal_rank")),
    Claim("C11b", "qac_neural", "... and on BLEU", f"BLEU row {XMR_QAC_ROW} − seq2seq",
          "XMR better", ">", 0.0, _neural("seq2seq", "bleu")),
    Claim("C11c", "qac_neural", "... at far lower latency",
          f"p50 latency row {XMR_QAC_ROW} / seq2seq", "far lower (read: ≤ 1/2)", "<", 1.0,
          _neural("seq2seq", "", latency=True), Magnitude("<", 0.5), latency=True),
    # not in the paper: the same three against the dual-encoder retriever (issue 14)
    Claim("C11d", "qac_neural", "XMR beats the dual-encoder retriever on MRR (not in the paper)",
          f"MRR@10 row {XMR_QAC_ROW} − dual encoder", "–", ">", 0.0,
          _neural("dual_encoder", "reciprocal_rank")),
    Claim("C11e", "qac_neural", "... and on BLEU (not in the paper)",
          f"BLEU row {XMR_QAC_ROW} − dual encoder", "–", ">", 0.0,
          _neural("dual_encoder", "bleu")),
    Claim("C11f", "qac_neural", "... at far lower latency (not in the paper)",
          f"p50 latency row {XMR_QAC_ROW} / dual encoder", "– (read: ≤ 1/2)", "<", 1.0,
          _neural("dual_encoder", "", latency=True), Magnitude("<", 0.5), latency=True),
)


# ------------------------------------------------------------------------ the table
def _scopes(runs: pd.DataFrame, family: str, per_query, interleaved) -> list[Scope]:
    """One scope per dataset: the runs of the family's first preset that ran there."""
    presets = FAMILIES[family]
    df = runs[runs["experiment"].isin(presets)]
    out = []
    for dataset, group in df.groupby("dataset", sort=True):
        for preset in presets:
            mine = group[group["experiment"] == preset]
            if len(mine):
                out.append(Scope(mine, preset, family, per_query, interleaved))
                break
    return out


def kind(runs: pd.DataFrame) -> str:
    """:data:`PIPELINE` when the runs' data came from one of the harness's generators
    (a ``data.loader`` whose registry entry names a ``generator``: checks of our own
    generators, not evidence about the papers), else :data:`REAL`."""
    from xmr.datasets.registry import DATASETS

    generated = [name for name, spec in DATASETS.items() if spec.generator is not None]

    loader = pd.Series(None, index=runs.index, dtype=object)
    for col in ("params.data.loader", "data"):  # older runs: the data config's name
        if col in runs.columns:
            loader = loader.where(loader.notna(), runs[col].astype(object))
    return PIPELINE if loader.isin(generated).any() else REAL


def load_state(runs: pd.DataFrame, run_ids: list[str],
               conditions: tuple[str, str] = JOB_CONDITIONS) -> str | None:
    """How the runs of a latency claim were timed: :data:`BUSY` when any was timed with a
    1-min load average above :data:`BUSY_LOAD` × its CPU count (``conditions``: the metrics
    of the job's timing, ``latency_load_avg`` and ``cpu_count``, or of the interleaved one,
    :data:`IL_CONDITIONS`), "load not recorded" when some run lacks them, None when all
    were timed on a quiet machine."""
    mine = runs[runs["run_id"].isin(run_ids)]
    load_col, cpu_col = conditions
    if not all(c in mine.columns for c in conditions):
        return "load not recorded"
    load_avg = pd.to_numeric(mine[load_col], errors="coerce")
    cpus = pd.to_numeric(mine[cpu_col], errors="coerce")
    if (load_avg > BUSY_LOAD * cpus).any():
        return BUSY
    if load_avg.isna().any() or cpus.isna().any():
        return "load not recorded"
    return None


CAPPED = "capped model"  # the note of a row resting on a model stopped at its epoch cap


def capped_models(runs: pd.DataFrame, run_ids: list[str]) -> list[str]:
    """The models among ``run_ids`` whose training stopped at its epoch cap while early
    stopping had not yet fired (metric ``epochs_cap_hit``): possibly under-trained, so a
    claim they lose may be conservative."""
    if "epochs_cap_hit" not in runs.columns:
        return []
    mine = runs[runs["run_id"].isin(run_ids)]
    hit = pd.to_numeric(mine["epochs_cap_hit"], errors="coerce") > 0
    return sorted(set(mine.loc[hit, "model"].astype(str)))


def _row(claim: Claim, dataset: str, preset: str, kind_: str = "–") -> dict:
    return {"claim": claim.id, "dataset": dataset, "preset": preset, "kind": kind_,
            "statement": claim.statement, "quantity": claim.quantity,
            "threshold": claim.threshold_text(), "paper": claim.paper,
            "magnitude_band": claim.magnitude.text() if claim.magnitude else NO_MAGNITUDE}


def _judge(claim: Claim, m: Measured, runs: pd.DataFrame) -> dict:
    """The verdict columns of one measured row (before the Holm adjustment)."""
    iv = m.interval
    direction = u.verdict(iv, claim.threshold, claim.direction)
    p_dir = min(u.p_values(iv, claim.threshold, claim.direction))
    detail = m.detail
    if direction == u.HOLDS and m.partial:
        direction, detail = u.INCONCLUSIVE, f"{detail}; holds on what ran, but {m.partial}"
    elif m.partial:
        detail = f"{detail}; {m.partial}"
    out = {"direction_verdict": direction, "p_direction": p_dir}
    magnitude, mag_iv = None, m.magnitude or iv
    if claim.magnitude is not None:
        magnitude, p_mag = claim.magnitude.verdict(mag_iv)
        if magnitude == u.HOLDS and m.partial:
            magnitude = u.INCONCLUSIVE
        out |= {"magnitude_estimate": mag_iv.estimate, "magnitude_low": mag_iv.low,
                "magnitude_high": mag_iv.high, "p_magnitude": p_mag}
        if claim.magnitude.unconfirmed:
            detail += "; the paper's figure is unconfirmed (recalled, not read)"
    out["magnitude_verdict"] = magnitude or NO_MAGNITUDE
    out["verdict"] = u.combine(direction, magnitude)
    if not iv.has_interval:
        detail += "; one seed: no interval (run seed=0,1,2)"
    override = None
    if claim.trained and iv.n_seeds < MIN_SEEDS:
        override = FEW_SEEDS
        detail += f"; decided from >= {MIN_SEEDS} seeds only (run seed=0,1,2)"
    if claim.latency:
        state = load_state(runs, m.run_ids, m.conditions)
        if state == BUSY:
            override = BUSY
            detail += (f"; timed with a 1-min load average above {BUSY_LOAD} × the CPU "
                       "count")
        elif state is not None:
            detail += f" ({state})"
    capped = capped_models(runs, m.run_ids)
    if capped:
        detail += (f"; {CAPPED}: {', '.join(capped)} stopped at the epoch cap while still "
                   "improving (raise its epochs)")
    if override is not None:  # undecided: out of the Holm family too
        out |= {"direction_verdict": override, "verdict": override,
                "p_direction": np.nan, "p_magnitude": np.nan}
        if magnitude is not None:
            out["magnitude_verdict"] = override
    return out | {"detail": detail}


def _holm(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``verdict_holm`` beside each verdict: every direction and magnitude test of the
    real-data rows is one family; a test keeps its decision when its Holm-adjusted p-value
    is below 1 − confidence, else it is inconclusive. Returns (table, family size)."""
    table = table.copy()
    real = (table["kind"] == REAL).to_numpy()
    p = np.concatenate([np.where(real, table["p_direction"].astype(float), np.nan),
                        np.where(real, table["p_magnitude"].astype(float), np.nan)])
    adj = u.holm(p)
    n = len(table)
    alpha = 1 - u.CONFIDENCE
    holm_verdicts = []
    for i, row in enumerate(table.itertuples()):
        if not real[i] or row.verdict not in (u.HOLDS, u.DOES_NOT_HOLD, u.INCONCLUSIVE):
            holm_verdicts.append(row.verdict if real[i] else NO_MAGNITUDE)
            continue
        d = row.direction_verdict if adj[i] < alpha else u.INCONCLUSIVE
        mag = None if row.magnitude_verdict == NO_MAGNITUDE else (
            row.magnitude_verdict if adj[n + i] < alpha else u.INCONCLUSIVE)
        holm_verdicts.append(u.combine(d, mag))
    table["verdict_holm"] = holm_verdicts
    return table, int(np.isfinite(p).sum())


def evaluate(runs: pd.DataFrame, *, per_query=None, interleaved=None) -> pd.DataFrame:
    """Every claim on every dataset its presets ran on: the :data:`COLUMNS` frame (its
    ``attrs["holm_family"]``: the number of tests Holm's adjustment ran over).
    ``per_query`` / ``interleaved``: run id → its ``per_query.parquet`` / its
    ``latency_interleaved.parquet`` (default: read from where the runs came from)."""
    if per_query is None:
        def per_query(run_id):
            return load.load_per_query(runs, run_id)
    if interleaved is None:
        def interleaved(run_id):
            return load.load_interleaved(runs, run_id)
    rows = []
    for claim in CLAIMS:
        scopes = _scopes(runs, claim.family, per_query, interleaved)
        if not scopes:
            presets = " or ".join(f"`{CMD.format(p)}`" for p in FAMILIES[claim.family])
            rows.append(_row(claim, "–", "–") | {
                "verdict": u.NOT_RUN, "direction_verdict": u.NOT_RUN,
                "magnitude_verdict": u.NOT_RUN if claim.magnitude else NO_MAGNITUDE,
                "detail": f"no runs: run {presets}"})
            continue
        for scope in scopes:
            row = _row(claim, scope.runs["dataset"].iloc[0], scope.preset, kind(scope.runs))
            try:
                m = claim.measure(scope)
            except NotRun as exc:
                rows.append(row | {"verdict": u.NOT_RUN, "direction_verdict": u.NOT_RUN,
                                   "magnitude_verdict": u.NOT_RUN if claim.magnitude
                                   else NO_MAGNITUDE, "detail": str(exc)})
                continue
            mean, std, n = u.seed_summary(m.per_seed)
            iv = m.interval
            rows.append(row | {"estimate": iv.estimate, "ci_low": iv.low, "ci_high": iv.high,
                               "interval": iv.method, "n_seeds": n, "seed_mean": mean,
                               "seed_std": std, "run_ids": ";".join(m.run_ids)}
                        | _judge(claim, m, scope.runs))
    table, family = _holm(pd.DataFrame(rows, columns=COLUMNS))
    table.attrs["holm_family"] = family
    return table


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    a = abs(v)
    return f"{v:.3g}" if a >= 100 else f"{v:.3f}" if a >= 0.1 or a == 0 else f"{v:.4f}"


def _verdict_cell(verdict: str, magnitude_band: str) -> str:
    return f"**{verdict}**" + (" (figure unconfirmed)" if "unconfirmed" in str(magnitude_band)
                               and verdict not in (u.NOT_RUN,) else "")


def markdown(table: pd.DataFrame) -> str:
    """The Markdown table of claims.md: one line per row, the details as notes below."""
    mag = [
        "–" if pd.isna(e) else f"{_fmt(e)} [{_fmt(lo)}, {_fmt(hi)}]"
        for e, lo, hi in zip(table["magnitude_estimate"], table["magnitude_low"],
                             table["magnitude_high"])]
    shown = pd.DataFrame({
        "claim": table["claim"], "dataset": table["dataset"], "kind": table["kind"],
        "measured": table["quantity"],
        "value [95% interval]": [
            "–" if pd.isna(e) else f"{_fmt(e)} [{_fmt(lo)}, {_fmt(hi)}]"
            for e, lo, hi in zip(table["estimate"], table["ci_low"], table["ci_high"])],
        "seeds: mean ± std": [
            "–" if pd.isna(n) or n == 0 else f"{_fmt(m)} ± {_fmt(s)} (n={int(n)})"
            for m, s, n in zip(table["seed_mean"], table["seed_std"], table["n_seeds"])],
        "direction: holds if": table["threshold"], "direction": table["direction_verdict"],
        "paper": table["paper"],
        "magnitude: holds if": table["magnitude_band"],
        "magnitude [95% interval]": [m if b != NO_MAGNITUDE else "–"
                                     for m, b in zip(mag, table["magnitude_band"])],
        "magnitude": table["magnitude_verdict"],
        "verdict": [_verdict_cell(v, b) for v, b in zip(table["verdict"],
                                                         table["magnitude_band"])],
        "Holm": table["verdict_holm"]})
    notes = [f"- **{r.claim}** ({r.dataset}, {r.preset}, {r.kind}): {r.statement}. "
             f"{r.detail}." for r in table.itertuples()]
    return markdown_table(shown) + "\n\n" + "\n".join(notes)


VERDICTS = (u.HOLDS, u.DOES_NOT_HOLD, u.INCONCLUSIVE, FEW_SEEDS, BUSY, u.NOT_RUN)


def summary(table: pd.DataFrame) -> str:
    """The headline counts: real-data rows only; pipeline checks counted apart."""
    real = table[table["kind"] != PIPELINE]
    counts = real["verdict"].value_counts()
    out = f"{len(real)} rows on real data or not run: " + ", ".join(
        f"{counts.get(v, 0)} {v}" for v in VERDICTS if counts.get(v, 0) or v in VERDICTS[:3])
    n_pipe = int((table["kind"] == PIPELINE).sum())
    if n_pipe:
        out += (f"; {n_pipe} pipeline checks (synthetic data from our own generators, not "
                "counted)")
    return out


def used_runs(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The runs the table's rows rest on (their ``run_ids``)."""
    ids = {r for v in table["run_ids"].dropna() for r in str(v).split(";") if r}
    return runs[runs["run_id"].isin(ids)]


def code_text(commits: str) -> str:
    if not commits:
        return "no runs"
    if ";" not in commits and not commits.endswith("-dirty") and commits != "unknown":
        return f"library commit `{commits}`"
    return f"MIXED code (`--allow-mixed`): {', '.join(f'`{c}`' for c in commits.split(';'))}"


def header(table: pd.DataFrame, runs: pd.DataFrame) -> str:
    """What claims.md says before the table: the counts, the code and the rules."""
    from analysis.style import footnote_text

    family = table.attrs.get("holm_family", 0)
    lo, hi = BAND
    used = used_runs(table, runs)
    commits = table.attrs.get("code_version") or load.code_version(used, allow_mixed=True)
    return (
        "# The papers' claims, measured\n\n"
        f"{summary(table)}. Generated by `python -m analysis.claims` from {len(used)} runs "
        f"at {code_text(commits)} ({footnote_text(used if len(used) else runs)}). Why a "
        "claim holds or fails on this data (warm / cold products, seen / unseen next "
        "queries): [diagnostics.md](diagnostics.md).\n\n"
        "Runs from more than one library commit, or from a dirty tree, are refused unless "
        "`--allow-mixed` is given.\n\n"
        "Value: the measured quantity (means over seeds); interval: 95%. Per-query "
        "quantities and latency percentiles of runs that logged each request's latency: "
        "from one seed a paired bootstrap over test queries (10,000 resamples, seeded), "
        "from several Student's t over the per-seed estimates (df = seeds − 1) plus the "
        "within-seed bootstrap variance when the seeds share one test set; per-run "
        "quantities (training time, size, latency without per-request times): t over "
        "seeds.\n\n"
        "Each claim is judged twice. **Direction** (the ordering the paper states): "
        "**holds** when the whole interval is beyond the threshold, **does not hold** when "
        "it is wholly on the other side, **inconclusive** when it spans the threshold (or "
        "there is no interval, or only part of the claim ran). **Magnitude** (the paper's "
        f"figure, where its source gives one): \"≈ x\" is two-sided, the one band "
        f"[{lo}x, {hi}x] for every ≈ claim — holds when the interval lies inside the band, "
        "does not hold when it lies outside, else inconclusive; \"> x\" / \"< x\" as a "
        "direction. **Verdict**: does not hold if either does not, holds if both hold, "
        "else inconclusive. Figures marked unconfirmed are recalled, not read in the "
        "source.\n\n"
        f"Seeds: a claim that depends on training is decided from >= {MIN_SEEDS} seeds; "
        f"fewer read **{FEW_SEEDS}** (the interval is still shown). Latency: a latency "
        f"claim is trusted only when its runs were timed with a 1-min load average <= "
        f"{BUSY_LOAD} × the CPU count (metrics `latency_load_avg`, `cpu_count`); above, it "
        f"reads **{BUSY}**; runs that did not record their load keep their verdict, "
        "marked \"(load not recorded)\". When the compared runs were timed again together "
        "(`python -m experiments.latency`: in one process, round-robin over blocks of "
        "requests, >= 3 repeats with the model order rotated), their per-request times "
        "from that timing are used instead, paired by request and repeat, and its load "
        "(`latency_il_load_avg`, `latency_il_cpu_count`) decides; the row's note says "
        "\"interleaved\". A row resting on a neural model that stopped at its epoch cap "
        f"while still improving (metric `epochs_cap_hit`) says **{CAPPED}** in its note.\n\n"
        f"Multiplicity: the direction and magnitude tests of the real-data rows with a "
        f"verdict form one family of {family} tests. In the **Holm** column a test keeps "
        "its decision only when its Holm-adjusted p-value (from the same interval: t, or "
        "the bootstrap's resampled statistics) is below 0.05, else it is inconclusive; the "
        "row's two tests combine as above. Pipeline checks (synthetic data) are outside the "
        "family and the headline counts.\n\n")


def write(table: pd.DataFrame, out: Path, runs: pd.DataFrame) -> list[Path]:
    """claims.csv / claims.md, and beside them the diagnostics that explain the verdicts
    (:mod:`analysis.diagnostics`) of the runs the table rests on."""
    from analysis import diagnostics

    out.mkdir(parents=True, exist_ok=True)
    csv, md = out / f"{NAME}.csv", out / f"{NAME}.md"
    table.to_csv(csv, index=False)
    md.write_text(header(table, runs) + markdown(table) + "\n")
    diag = diagnostics.table(runs)
    d_csv, d_md = out / f"{diagnostics.NAME}.csv", out / f"{diagnostics.NAME}.md"
    diag.to_csv(d_csv, index=False)
    d_md.write_text(diagnostics.markdown(diag))
    return [md, csv, d_md, d_csv]


def build(runs: pd.DataFrame, out: Path, *, allow_mixed: bool = False) -> Result:
    """The claims table of ``runs`` into ``out``; refused (nothing written, the reason in
    ``Result.missing``) when the runs behind it come from several commits or a dirty tree,
    unless ``allow_mixed``."""
    table = evaluate(runs)
    try:
        table.attrs["code_version"] = load.code_version(used_runs(table, runs),
                                                        allow_mixed=allow_mixed)
    except load.MixedCodeError as exc:
        return Result(NAME, missing=f"refused: {exc}")
    files = write(table, out, runs)
    return Result(NAME, files=files, caption="The papers' claims with intervals and verdicts",
                  notes=[summary(table)])


def build_preview(runs: pd.DataFrame, out: Path) -> Result:
    """:func:`build` for ``analysis.figures`` (a working view of whatever ran): mixed code
    is allowed and claims.md says so ("MIXED code"); ``python -m analysis.claims`` (and the
    bundle) refuse it."""
    return build(runs, out, allow_mixed=True)


EXIT_MIXED = 4  # the runs mix code versions: nothing written


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from analysis import common

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    p = common.parser(__doc__.split("\n\n")[0], prog="python -m analysis.claims")
    p.add_argument("--allow-mixed", action="store_true",
                   help="use runs from several library commits or a dirty tree (refused by "
                        "default; claims.md then lists the commits)")
    p.add_argument("--bundle", type=Path, default=None, metavar="DIR",
                   help="read the runs from a results bundle (python -m analysis.bundle "
                        "export) instead of an MLflow store")
    args: argparse.Namespace = p.parse_args(argv)
    try:
        if args.bundle is not None:
            runs = load.load_bundle_runs(args.bundle, experiment=args.experiment)
        else:
            runs = common.load_from_args(args)
    except load.NoRunsError as exc:
        print(f"no claims: {exc}", file=sys.stderr)
        return common.EXIT_NO_RUNS
    print(f"{len(runs)} runs")
    result = build(runs, args.out, allow_mixed=args.allow_mixed)
    for line in result.lines():
        print(line)
    if result.missing:
        print(f"no claims: {result.missing}", file=sys.stderr)
        return EXIT_MIXED
    return common.EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
