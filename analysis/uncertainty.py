"""How sure a measured difference is: spread over seeds and paired bootstrap intervals over
test queries. Pure functions over arrays; nothing here reads MLflow.

Two kinds of quantity, two kinds of interval:

- **Per-query quantities** (recall@10, reciprocal rank, BLEU … of each test query, from a
  run's ``per_query.parquet``): :func:`paired_bootstrap`. Two (or more) configurations
  evaluated on the same test set are compared query by query: a resample draws test queries
  with replacement and takes the *same* queries for every configuration, so what varies
  between resamples is which queries were drawn, never which configuration saw which query.
  With several seeds (each with its own test set when the seed moves the data generator, or
  the same test set with another trained model), the point estimate is the statistic of the
  seed-averaged means; each resample first draws the seeds with replacement, then the
  queries within each drawn seed (a two-stage bootstrap), so the interval covers both the
  choice of test queries and the training randomness. With one seed it is the plain paired
  bootstrap over test queries. Percentile interval, 10,000 resamples, seeded.
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
from dataclasses import dataclass

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
    interval could be computed, e.g. a per-run quantity from one seed)."""

    estimate: float
    low: float
    high: float
    method: str  # "paired bootstrap (…)", "t over seeds", "single seed"
    n_seeds: int
    n_queries: int = 0  # test queries per seed summed (0 for per-run quantities)
    confidence: float = CONFIDENCE

    @property
    def has_interval(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high))

    def contains(self, value: float) -> bool:
        return self.has_interval and self.low <= value <= self.high


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


def bootstrap(groups: Sequence[np.ndarray], statistic: Callable[[np.ndarray], np.ndarray], *,
              n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
              seed: int = BOOTSTRAP_SEED, percentile: float | None = None) -> Interval:
    """Paired (two-stage when several seeds) bootstrap interval of ``statistic``.

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

    Returns
    -------
    Interval
        ``estimate`` = statistic of the seed-averaged column means; ``[low, high]`` the
        percentile interval over the resamples.
    """
    if n_resamples < 100:
        raise ValueError(f"n_resamples must be >= 100, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    values = _check_groups(groups)
    rng = np.random.default_rng(seed)
    if percentile is not None and not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    point = float(statistic(np.mean([query_summary(v, percentile) for v in values], axis=0)))
    means = np.stack([_resampled_means(v, n_resamples, rng, percentile)
                      for v in values])  # (S, R, k)
    n_seeds = len(values)
    if n_seeds == 1:
        combined = means[0]
        method = "paired bootstrap over test queries"
    else:  # stage 1: seeds with replacement; stage 2 (above): queries within each seed
        picks = rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
        combined = means[picks, np.arange(n_resamples)[:, None], :].mean(axis=1)
        method = f"paired two-stage bootstrap over {n_seeds} seeds and test queries"
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = np.asarray(statistic(combined), dtype=np.float64)
    stats = stats[np.isfinite(stats)]  # e.g. a ratio whose resampled denominator is 0
    if stats.size < n_resamples // 2:
        low = high = float("nan")
    else:
        alpha = (1.0 - confidence) / 2.0
        low, high = (float(q) for q in np.quantile(stats, [alpha, 1.0 - alpha]))
    return Interval(point, low, high, method, n_seeds, int(sum(v.shape[1] for v in values)),
                    confidence)


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
    from scipy import stats

    mean, std, n = seed_summary(values)
    if n == 0:
        raise ValueError("seed_interval needs at least one finite value")
    if n == 1:
        return Interval(mean, float("nan"), float("nan"), "single seed (no interval)", 1)
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * std / np.sqrt(n)
    return Interval(mean, mean - half, mean + half, f"t interval over {n} seeds", n,
                    confidence=confidence)


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
