"""Runs of one configuration under several seeds: mean ± standard deviation per configuration,
and the paired bootstrap interval of a per-query difference between two configurations on the
same test queries (from the runs' ``per_query.parquet``). What the figures, the tables and the
claims table share."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from analysis import uncertainty as u

PerQuery = Callable[[str], "pd.DataFrame | None"]


class NotRun(Exception):
    """The runs needed for a comparison are missing; the message says what to run."""


def over_seeds(df: pd.DataFrame, keys: list[str], metrics: Sequence[str]) -> pd.DataFrame:
    """One row per ``keys`` value: each metric's mean over seeds, ``<metric>_std`` (sample
    standard deviation, NaN from one seed), ``n_seeds``, ``seeds``, the latest ``run_id`` and
    every ``run_ids`` (';'-joined). Within a seed the latest run of the key counts (runs come
    newest first)."""
    df = df.drop_duplicates(keys + ["seed"], keep="first")
    rows = []
    for key, g in df.groupby(keys, dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key))
        for m in metrics:
            v = pd.to_numeric(g[m], errors="coerce")
            row[m] = float(v.mean())
            row[f"{m}_std"] = float(v.std(ddof=1)) if v.notna().sum() > 1 else float("nan")
        row |= {"n_seeds": int(g["seed"].nunique()),
                "seeds": ",".join(str(s) for s in sorted(g["seed"].unique())),
                "run_id": g["run_id"].iloc[0], "run_ids": ";".join(g["run_id"])}
        rows.append(row)
    cols = keys + [c for m in metrics for c in (m, f"{m}_std")] + [
        "n_seeds", "seeds", "run_id", "run_ids"]
    return pd.DataFrame(rows, columns=cols)


# a run-level metric → (its per-query column, None for the mean or the percentile taken)
QUERY_COLUMNS = {"recall_at_10": ("recall_at_10", None), "recall_at_100": ("recall_at_100", None),
                 "precision_at_1": ("precision_at_1", None),
                 "mrr_at_10": ("reciprocal_rank", None), "bleu": ("bleu", None),
                 "latency_p50_ms": ("latency_ms", 50.0), "latency_p99_ms": ("latency_ms", 99.0)}
SE_RESAMPLES = 500  # bootstrap resamples for the standard error of a latency percentile


def query_standard_error(values: np.ndarray, percentile: float | None = None) -> float:
    """Standard error over test queries of their mean (``percentile`` None) or of a
    percentile (bootstrap, seeded)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan")
    if percentile is None:
        return float(v.std(ddof=1) / np.sqrt(v.size))
    rng = np.random.default_rng(u.BOOTSTRAP_SEED)
    draws = np.percentile(v[rng.integers(0, v.size, size=(SE_RESAMPLES, v.size))],
                          percentile, axis=1)
    return float(draws.std(ddof=1))


def query_spread(points: pd.DataFrame, per_query: PerQuery, metrics: Sequence[str], *,
                 run_col: str = "run_id") -> tuple[pd.DataFrame, bool]:
    """``points`` (an :func:`over_seeds`-style frame) where each one-seed point's
    ``<metric>_std`` — NaN, no spread over seeds — becomes the metric's standard error over
    the run's test queries (:func:`query_standard_error` of its ``per_query.parquet``
    column). Returns (points, whether any spread came from queries)."""
    out, used = points.copy(), False
    for i, row in out.iterrows():
        if row.get("n_seeds", 1) != 1 or pd.isna(row.get(run_col)):
            continue
        frame = per_query(str(row[run_col]))
        if frame is None:
            continue
        for m in metrics:
            column, pct = QUERY_COLUMNS[m]
            if column in frame.columns and pd.isna(row.get(f"{m}_std")):
                out.at[i, f"{m}_std"] = query_standard_error(frame[column].to_numpy(), pct)
                used = True
    return out, used


def logged_query_spread(points: pd.DataFrame, runs: pd.DataFrame, metrics: Sequence[str], *,
                        run_col: str = "run_id") -> tuple[pd.DataFrame, bool]:
    """:func:`query_spread` reading each run's ``per_query.parquet`` from the runs' store."""
    from analysis import load

    return query_spread(points, lambda rid: load.load_per_query(runs, rid), metrics,
                        run_col=run_col)


def all_run_ids(points: pd.DataFrame, column: str = "run_ids") -> set[str]:
    """Every run behind the rows of an :func:`over_seeds` frame."""
    return {rid for ids in points[column].dropna() for rid in str(ids).split(";") if rid}


def by_seed(df: pd.DataFrame) -> dict[int, pd.Series]:
    """seed → the run (runs come newest first: the latest run of a seed wins)."""
    return {int(s): g.iloc[0] for s, g in df.groupby("seed", sort=True)}


def seed_runs(runs: pd.DataFrame, run_ids: str) -> dict[int, pd.Series]:
    """seed → run, for the ';'-joined ``run_ids`` of an :func:`over_seeds` row."""
    return by_seed(runs[runs["run_id"].isin(str(run_ids).split(";"))])


def common_seeds(*points: dict[int, pd.Series]) -> list[int]:
    seeds = sorted(set.intersection(*(set(p) for p in points)))
    if not seeds:
        raise NotRun("the compared configurations share no seed — rerun them with the same "
                     "seed=… values")
    return seeds


CLUSTER_COLUMN = "user_id"  # QAC: requests of one user are resampled together


def per_query_groups(per_query: PerQuery, seeds: list[int],
                     points: list[dict[int, pd.Series]], columns: list[str], *,
                     cmd: str) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """(groups, clusters): per seed a (len(points) * len(columns), n) array — for each point,
    its per-query ``columns`` on the test queries every point has (aligned by ``query_id``)
    — and the queries' :data:`CLUSTER_COLUMN` labels (from the first run that has them;
    None when no run has them: each query is its own cluster). ``cmd``: what to run when a
    run has no per-query results."""
    out, clusters = [], []
    for s in seeds:
        frames, users = [], None
        for p in points:
            rid = p[s]["run_id"]
            frame = per_query(rid)
            if frame is None:
                raise NotRun(f"run {rid[:8]} has no per_query.parquet (logged before "
                             f"per-query results existed) — rerun `{cmd}`")
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise NotRun(f"run {rid[:8]}'s per_query.parquet lacks {', '.join(missing)}")
            frame = frame.set_index("query_id")
            if users is None and CLUSTER_COLUMN in frame.columns:
                users = frame[CLUSTER_COLUMN]
            frames.append(frame[columns])
        common = frames[0].index
        for f in frames[1:]:
            common = common.intersection(f.index)
        if len(common) == 0:
            raise NotRun(f"seed {s}: the compared runs share no test query")
        out.append(np.concatenate([f.loc[common].to_numpy(np.float64).T for f in frames]))
        clusters.append(None if users is None else users.loc[common].to_numpy())
    return out, clusters


def per_query_columns(per_query: PerQuery, seeds: list[int],
                      points: list[dict[int, pd.Series]], columns: list[str], *,
                      cmd: str) -> list[np.ndarray]:
    """The groups of :func:`per_query_groups` (without the clusters)."""
    return per_query_groups(per_query, seeds, points, columns, cmd=cmd)[0]


def paired_delta(per_query: PerQuery, a: dict[int, pd.Series], b: dict[int, pd.Series],
                 column: str, *, cmd: str) -> u.Interval:
    """95% paired bootstrap interval of mean(a) − mean(b) of a per-query ``column`` over the
    seeds both ran (see :func:`analysis.uncertainty.bootstrap`)."""
    seeds = common_seeds(a, b)
    groups, clusters = per_query_groups(per_query, seeds, [a, b], [column], cmd=cmd)
    return u.paired_difference([g[0] for g in groups], [g[1] for g in groups],
                               clusters=clusters)


def deltas_to_reference(table: pd.DataFrame, runs: pd.DataFrame, per_query: PerQuery,
                        is_reference: pd.Series, group: Sequence[str], metric: str, *,
                        cmd: str) -> np.ndarray:
    """(n, 3) array: each row's paired-bootstrap difference (estimate, low, high) in ``metric``
    to the reference row (``is_reference``) with the same ``group`` values; NaN for the
    reference itself, a group without one, or runs without per-query results."""
    out = np.full((len(table), 3), np.nan)
    for i, (_, row) in enumerate(table.iterrows()):
        if is_reference.iloc[i]:
            continue
        same = is_reference.copy()
        for col in group:
            same &= table[col] == row[col]
        ref = table[same]
        if not len(ref):
            continue
        try:
            iv = paired_delta(per_query, seed_runs(runs, row["run_ids"]),
                              seed_runs(runs, ref.iloc[0]["run_ids"]), metric, cmd=cmd)
        except NotRun:
            continue
        out[i] = (iv.estimate, iv.low, iv.high)
    return out


def fmt_pm(mean: float, std: float, fmt: str = ".4f") -> str:
    """'0.7660 ± 0.0031', or the mean alone when there is no spread (one seed)."""
    if mean is None or not np.isfinite(mean):
        return "–"
    return f"{mean:{fmt}}" + (f" ± {std:{fmt}}" if std is not None and np.isfinite(std) else "")


def fmt_interval(iv: u.Interval | None, fmt: str = "+.4f") -> str:
    """'+0.0123 [+0.0040, +0.0201]' (estimate and 95% interval), '–' when none."""
    if iv is None:
        return "–"
    if not iv.has_interval:
        return f"{iv.estimate:{fmt}}"
    return f"{iv.estimate:{fmt}} [{iv.low:{fmt}}, {iv.high:{fmt}}]"
