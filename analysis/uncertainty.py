"""How sure a measured difference is: spread over seeds and paired bootstrap intervals over
test queries. Pure functions over arrays; nothing here reads MLflow.

Two kinds of quantity, two kinds of interval:

- **Per-query quantities** (recall@10, reciprocal rank, BLEU … of each test query, from a
  run's ``per_query.parquet``): :func:`paired_bootstrap`. Two (or more) configurations
  evaluated on the same test set are compared query by query: a resample draws test queries
  with replacement and takes the *same* queries for every configuration, so what varies
  between resamples is which queries were drawn, never which configuration saw which query.
  With one seed it is the plain paired bootstrap over test queries (percentile interval,
  10,000 resamples, seeded). With several seeds the point estimate is the statistic of the
  seed-averaged means and the interval is Student's t over the per-seed estimates (df =
  n_seeds − 1): estimate ± t · se with se² = s²/n (s: the sample standard deviation of the
  per-seed statistics), plus the within-seed bootstrap variance of one seed's estimate when
  the seeds share one test set (``shared_queries``): then the seeds' spread cannot show the
  noise of the test queries they all drew, and it is added: half-width² = t²·s²/n + z²·v
  (v: the mean within-seed bootstrap variance; the query part is known from many queries,
  so its quantile is the normal one). With test sets drawn per seed the per-seed spread
  already holds that noise. A two-stage bootstrap (seeds with
  replacement, then queries) is *not* used: with 3 seeds it covers the seed component
  about 75% of the time, not 95% (``tests/analysis/test_coverage.py`` simulates both).
- **QAC requests come in users**: when a run's ``per_query.parquet`` has a ``user_id``
  column, the bootstrap draws whole users (all of a user's requests) instead of single
  requests — a cluster bootstrap (``clusters=``): one user's requests are not independent,
  and resampling them one by one makes the interval too narrow.
- **Latency percentiles** of runs that logged each request's own latency (``latency_ms``):
  the same paired bootstrap with each column summarised by the percentile instead of the
  mean (``bootstrap(..., percentile=50)``): requests drawn with replacement, the same for
  every configuration. It covers which requests were drawn (and, with several seeds, the
  seeds), not a change of machine load between runs.
- **Per-run quantities** (training time, model size, latencies without per-request times:
  one number per run): :func:`seed_interval`, the mean over seeds ± Student's t half-width
  (no interval from a single seed).

:func:`verdict` turns an interval and a claim's threshold into ``holds`` / ``does not hold`` /
``inconclusive``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

N_RESAMPLES = 10_000  # bootstrap resamples (issue 13)
CONFIDENCE = 0.95  # two-sided interval level
BOOTSTRAP_SEED = 0  # the resampling generator's seed: the same inputs give the same interval
_CHUNK_VALUES = 4_000_000  # query draws per chunk (bounds memory: ~32 MB of indices)

HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, NOT_RUN = ("holds", "does not hold", "inconclusive",
                                               "not run")


@dataclass(frozen=True)
class Interval:
    """A point estimate with its ``confidence`` interval ``[low, high]`` (NaN bounds: no
    interval could be computed, e.g. a per-run quantity from one seed).

    Where the interval comes from is kept too, for p-values (:meth:`prob_at_most`): a t
    interval's standard error ``se`` and degrees of freedom ``df``, or a bootstrap's sorted
    resampled statistics ``draws``."""

    estimate: float
    low: float
    high: float
    method: str  # "paired bootstrap (…)", "t over seeds", "single seed"
    n_seeds: int
    n_queries: int = 0  # test queries per seed summed (0 for per-run quantities)
    confidence: float = CONFIDENCE
    se: float = float("nan")  # t intervals: the scale (half-width / t quantile)
    df: float = float("nan")  # t intervals: degrees of freedom (n_seeds - 1)
    draws: np.ndarray | None = field(default=None, compare=False, repr=False)  # bootstrap

    @property
    def has_interval(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high))

    def contains(self, value: float) -> bool:
        return self.has_interval and self.low <= value <= self.high

    def prob_at_most(self, value: float, *, strict: bool = False) -> float:
        """The sampling distribution's mass at or below ``value`` (below it when ``strict``):
        the bootstrap draws' share, or Student's t around the estimate; NaN without an
        interval."""
        if not self.has_interval:
            return float("nan")
        if self.draws is not None:
            side = "left" if strict else "right"
            return float(np.searchsorted(self.draws, value, side=side) / self.draws.size)
        if not self.se > 0:  # a deterministic quantity: all its mass on the estimate
            return float(value > self.estimate or (value == self.estimate and not strict))
        from scipy import stats

        return float(stats.t.cdf((value - self.estimate) / self.se, self.df))


def _check_groups(groups: Sequence[np.ndarray]) -> list[np.ndarray]:
    if len(groups) == 0:
        raise ValueError("paired_bootstrap needs at least one seed's per-query values, got none")
    out = []
    for g, values in enumerate(groups):
        v = np.asarray(values, dtype=np.float64)
        if v.ndim != 2:
            raise ValueError(f"groups[{g}] must be a 2-D array (columns x queries), got shape "
                             f"{v.shape}")
        if v.shape[1] == 0:
            raise ValueError(f"groups[{g}] has no test queries")
        if v.shape[0] != np.asarray(groups[0]).shape[0]:
            raise ValueError(f"every group must have the same number of columns: groups[0] "
                             f"has {np.asarray(groups[0]).shape[0]}, groups[{g}] {v.shape[0]}")
        if not np.isfinite(v).all():
            raise ValueError(f"groups[{g}] has NaN or infinite per-query values")
        out.append(v)
    return out


def query_summary(values: np.ndarray, percentile: float | None, axis: int = -1) -> np.ndarray:
    """The per-column summary over queries that the statistic sees: the mean, or a
    percentile (latency). Also each seed's point value in `analysis.claims`."""
    if percentile is None:
        return values.mean(axis=axis)
    return np.percentile(values, percentile, axis=axis)


def _resampled_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator,
                     percentile: float | None = None) -> np.ndarray:
    """(n_resamples, k): the column means (or ``percentile``) of ``values`` (k, n) over ``n``
    queries drawn with replacement, the same draw for every column (paired)."""
    k, n = values.shape
    out = np.empty((n_resamples, k))
    chunk = max(1, _CHUNK_VALUES // n)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))  # (chunk, n)
        for j in range(k):
            out[start:stop, j] = query_summary(values[j][idx], percentile, axis=1)
    return out


def _resampled_cluster_means(values: np.ndarray, clusters: np.ndarray, n_resamples: int,
                             rng: np.random.Generator) -> np.ndarray:
    """(n_resamples, k): the column means of ``values`` (k, n) when whole clusters (e.g. a
    user's requests; ``clusters`` (n,) labels) are drawn with replacement, as many as there
    are, the same draw for every column (paired)."""
    import pandas as pd

    codes = pd.factorize(clusters)[0]  # any hashable labels; a missing one: its own cluster
    lone = codes < 0
    codes[lone] = codes.max(initial=-1) + 1 + np.arange(lone.sum())
    sizes = np.bincount(codes)
    n_clusters = sizes.size
    sums = np.stack([np.bincount(codes, weights=row, minlength=n_clusters)
                     for row in values])  # (k, C)
    out = np.empty((n_resamples, values.shape[0]))
    chunk = max(1, _CHUNK_VALUES // n_clusters)
    for start in range(0, n_resamples, chunk):
        r = min(n_resamples, start + chunk) - start
        idx = rng.integers(0, n_clusters, size=(r, n_clusters))
        counts = np.bincount((idx + n_clusters * np.arange(r)[:, None]).ravel(),
                             minlength=r * n_clusters).reshape(r, n_clusters)  # (r, C)
        out[start:start + r] = (counts @ sums.T) / (counts @ sizes)[:, None]
    return out


def bootstrap(groups: Sequence[np.ndarray], statistic: Callable[[np.ndarray], np.ndarray], *,
              n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
              seed: int = BOOTSTRAP_SEED, percentile: float | None = None,
              shared_queries: bool = True,
              clusters: Sequence[np.ndarray | None] | None = None) -> Interval:
    """Paired bootstrap interval of ``statistic`` (one seed); Student's t over the per-seed
    statistics with several (see the module docstring).

    Parameters
    ----------
    groups : sequence of array-like, each (k, n_s) float
        One entry per seed: row j holds configuration/column j's value on each of that
        seed's ``n_s`` test queries, columns aligned query by query (paired).
    statistic : callable
        Maps column means, an array (..., k), to the statistic (...,); e.g.
        ``lambda m: m[..., 0] - m[..., 1]``. Vectorised over the leading axis.
    n_resamples : int, keyword-only
        Bootstrap resamples (default 10,000).
    confidence : float, keyword-only
        Two-sided level of the percentile interval (default 0.95).
    seed : int, keyword-only
        Seed of the resampling generator: the same inputs and seed give the same interval.
    percentile : float, keyword-only, optional
        Summarise each column by this percentile of its per-query values instead of the mean
        (e.g. 50 for the p50 latency of per-request times); the statistic then maps those.
    shared_queries : bool, keyword-only
        Several seeds: whether they were evaluated on one test set (the training seed does
        not move the data), so the query noise of that set is added to the seeds' spread.
        Default True, the conservative choice when it is not known.
    clusters : sequence of array-like, keyword-only, optional
        One entry per seed (or None for a seed): a label per test query (e.g. the user who
        sent the request). The bootstrap then draws whole clusters with replacement instead
        of single queries (a cluster bootstrap): requests of one user are not independent,
        and resampling them one by one makes the interval too narrow. Means only (a
        ``percentile`` summary resamples single queries).

    Returns
    -------
    Interval
        ``estimate`` = statistic of the seed-averaged column means; ``[low, high]`` the
        percentile interval over the resamples (one seed) or the t interval (several).
    """
    if n_resamples < 100:
        raise ValueError(f"n_resamples must be >= 100, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    values = _check_groups(groups)
    if clusters is not None:
        if len(clusters) != len(values):
            raise ValueError(f"clusters must have one entry per seed ({len(values)}), got "
                             f"{len(clusters)}")
        for g, c in enumerate(clusters):
            if c is not None and np.shape(c) != (values[g].shape[1],):
                raise ValueError(f"clusters[{g}] must have one label per test query "
                                 f"({values[g].shape[1]}), got shape {np.shape(c)}")
    rng = np.random.default_rng(seed)
    if percentile is not None and not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    summaries = np.stack([query_summary(v, percentile) for v in values])  # (S, k)
    point = float(statistic(summaries.mean(axis=0)))
    n_queries = int(sum(v.shape[1] for v in values))
    n_seeds = len(values)
    by_cluster = clusters is not None and percentile is None and any(
        c is not None for c in clusters)
    unit = "users (clusters of test queries)" if by_cluster else "test queries"
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = [np.asarray(statistic(
            _resampled_cluster_means(v, np.asarray(c), n_resamples, rng)
            if c is not None and percentile is None
            else _resampled_means(v, n_resamples, rng, percentile)), dtype=np.float64)
            for v, c in zip(values, clusters or [None] * n_seeds)]  # S x (R,)
    if n_seeds == 1:
        draws = np.sort(stats[0][np.isfinite(stats[0])])  # e.g. a ratio whose denominator is 0
        if draws.size < n_resamples // 2:
            low = high = float("nan")
        else:
            alpha = (1.0 - confidence) / 2.0
            low, high = (float(q) for q in np.quantile(draws, [alpha, 1.0 - alpha]))
        return Interval(point, low, high, f"paired bootstrap over {unit}", 1, n_queries,
                        confidence, draws=draws)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_seed = np.asarray(statistic(summaries), dtype=np.float64)  # (S,)
    within = [s_[np.isfinite(s_)] for s_ in stats]
    method = (f"t over {n_seeds} seeds"
              + (" + within-seed bootstrap (shared test set)" if shared_queries else "")
              + (" over users" if by_cluster and shared_queries else ""))
    if not np.isfinite(per_seed).all() or not np.isfinite(point) or any(
            w.size < n_resamples // 2 for w in within):
        return Interval(point, float("nan"), float("nan"), method, n_seeds, n_queries,
                        confidence)
    between = float(per_seed.var(ddof=1)) / n_seeds
    t = t_quantile(confidence, n_seeds - 1)
    half = t * np.sqrt(between)
    if shared_queries:  # one test set: its query noise is common to every seed
        query = float(np.mean([w.var(ddof=1) for w in within]))
        # the query part is known from many queries (normal quantile), the seeds' from few
        # (t): the two half-widths add in quadrature
        z = t_quantile(confidence, float("inf"))
        half = float(np.sqrt(t ** 2 * between + z ** 2 * query))
    # p-values (Interval.prob_at_most) read t(n_seeds - 1) scaled to this half-width
    return Interval(point, point - half, point + half, method, n_seeds, n_queries, confidence,
                    se=float(half / t), df=float(n_seeds - 1))


def t_quantile(confidence: float, df: float) -> float:
    """Student's t quantile of a two-sided ``confidence`` interval with ``df`` degrees."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2.0, df))


def _pairs(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> list[np.ndarray]:
    if len(a) != len(b):
        raise ValueError(f"a and b must have one array per seed each, got {len(a)} and "
                         f"{len(b)}")
    out = []
    for s, (x, y) in enumerate(zip(a, b)):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"seed {s}: a and b must be 1-D per-query arrays of the same "
                             f"test queries, got shapes {x.shape} and {y.shape}")
        out.append(np.stack([x, y]))
    return out


def paired_difference(a: Sequence[np.ndarray], b: Sequence[np.ndarray], **kwargs) -> Interval:
    """Interval of mean(a) − mean(b): ``a[s]``, ``b[s]`` are two configurations' per-query
    values on seed s's test queries (same order). Options as :func:`bootstrap`."""
    # the mean of differences is the difference of means: resample one column, not two
    return bootstrap([p[:1] - p[1:] for p in _pairs(a, b)], lambda m: m[..., 0], **kwargs)


def paired_ratio(a: Sequence[np.ndarray], b: Sequence[np.ndarray], **kwargs) -> Interval:
    """Interval of mean(a) / mean(b) (same pairing as :func:`paired_difference`)."""
    return bootstrap(_pairs(a, b), lambda m: m[..., 0] / m[..., 1], **kwargs)


def seed_summary(values) -> tuple[float, float, int]:
    """(mean, sample standard deviation, n) over seeds; std NaN from one value."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan"), int(v.size)


def seed_interval(values, *, confidence: float = CONFIDENCE) -> Interval:
    """Mean over seeds with Student's t interval (one value per seed: a per-run quantity
    such as a training time ratio). One seed: the value, no interval (NaN bounds)."""
    mean, std, n = seed_summary(values)
    if n == 0:
        raise ValueError("seed_interval needs at least one finite value")
    if n == 1:
        return Interval(mean, float("nan"), float("nan"), "single seed (no interval)", 1)
    se = std / np.sqrt(n)
    half = t_quantile(confidence, n - 1) * se
    return Interval(mean, mean - half, mean + half, f"t interval over {n} seeds", n,
                    confidence=confidence, se=float(se), df=float(n - 1))


def verdict(interval: Interval, threshold: float, direction: str) -> str:
    """``holds`` when the whole interval lies beyond ``threshold`` on the claim's side
    (``direction`` '>' : above it, '<' : below it), ``does not hold`` when it lies wholly on
    the other side (touching the threshold counts as not beyond it), ``inconclusive`` when
    it spans the threshold or there is no interval."""
    if direction not in (">", "<"):
        raise ValueError(f"direction must be '>' or '<', got {direction!r}")
    if not interval.has_interval:
        return INCONCLUSIVE
    lo, hi = interval.low, interval.high
    if direction == ">":
        return HOLDS if lo > threshold else DOES_NOT_HOLD if hi <= threshold else INCONCLUSIVE
    return HOLDS if hi < threshold else DOES_NOT_HOLD if lo >= threshold else INCONCLUSIVE


def band_verdict(interval: Interval, low: float, high: float) -> str:
    """A two-sided "≈ x" read as the band ``[low, high]``: ``holds`` when the whole interval
    lies inside it, ``does not hold`` when it lies wholly outside (touching a bound counts
    as outside), ``inconclusive`` otherwise or without an interval."""
    if not low < high:
        raise ValueError(f"band must have low < high, got [{low}, {high}]")
    if not interval.has_interval:
        return INCONCLUSIVE
    if low < interval.low and interval.high < high:
        return HOLDS
    if interval.high <= low or interval.low >= high:
        return DOES_NOT_HOLD
    return INCONCLUSIVE


def p_values(interval: Interval, threshold: float, direction: str) -> tuple[float, float]:
    """(p that the claim holds, p that it does not) for :func:`verdict`'s test, each as a
    two-sided level: the interval at level 1 − α decides ``holds`` about when the first is
    below α and ``does not hold`` when the second is. NaN without an interval."""
    if direction not in (">", "<"):
        raise ValueError(f"direction must be '>' or '<', got {direction!r}")
    if not interval.has_interval:
        return float("nan"), float("nan")
    at_most = interval.prob_at_most(threshold)
    below = interval.prob_at_most(threshold, strict=True)
    if direction == ">":  # holds: mass at or below the threshold is small
        p_holds, p_fails = at_most, 1.0 - at_most
    else:
        p_holds, p_fails = 1.0 - below, below
    return min(1.0, 2 * p_holds), min(1.0, 2 * p_fails)


def band_p_values(interval: Interval, low: float, high: float) -> tuple[float, float]:
    """(p holds, p does not hold) for :func:`band_verdict` (two one-sided tests for
    inside; the nearer bound for outside)."""
    lo_holds, lo_fails = p_values(interval, low, ">")
    hi_holds, hi_fails = p_values(interval, high, "<")
    return max(lo_holds, hi_holds), min(lo_fails, hi_fails)


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values of a family (NaN entries are not in it)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    m = order.size
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def combine(direction: str, magnitude: str | None) -> str:
    """One verdict from a claim's direction and magnitude verdicts (None: no magnitude):
    ``does not hold`` if either does not, ``holds`` if both hold, else ``inconclusive``."""
    parts = [direction] if magnitude is None else [direction, magnitude]
    if DOES_NOT_HOLD in parts:
        return DOES_NOT_HOLD
    if all(p == HOLDS for p in parts):
        return HOLDS
    return INCONCLUSIVE
