"""A results bundle: everything the claims table rests on, in files anyone can re-check
without the MLflow store that made them.

    python -m analysis.bundle export --out docs/results/<name> [--experiment NAME]
                                     [--tracking-uri URI] [--allow-mixed]
    python -m analysis.claims --bundle docs/results/<name> --out DIR   # claims.csv again

A bundle folder holds:

- ``runs.parquet`` (and ``runs.csv`` to read): one row per run the analysis uses — the raw
  columns MLflow gives (``params.*`` with ``git_commit`` and ``dataset_card_hash``,
  ``metrics.*``, ``tags.*`` with MLflow's git source tags) plus ``inputs.datasets`` (each
  dataset input as ``name:digest:context``). :func:`load_runs` turns it into the same
  DataFrame :func:`analysis.load.load_runs` builds from the store.
- ``per_query/<run id>.parquet``: each run's per-test-query table, as the run logged it, for
  the runs the claims table rests on and those of the comparison presets (the diagnostics'):
  :func:`table_runs`.
- ``latency_interleaved/<run id>.parquet``: each request's time in each repeat of the
  interleaved timing (``python -m experiments.latency``), for those of them that had one (no
  folder when none had).
- ``environment.json``: package versions, CPU counts and the load averages the runs were
  timed under (as the runs recorded them), the library commits, the number of runs.
- ``cost.csv`` / ``cost.md``: what the runs cost on the machine that made them: per preset,
  dataset and model, the number of runs and the sum of their wall times (each job from its
  start to its end: loading, tuning, training, evaluation, timing, logging).
- ``claims.csv`` / ``claims.md`` and ``diagnostics.csv`` / ``diagnostics.md``: the claims
  table of these runs and the diagnostics beside it.

No file names a path of the machine that wrote it: the artifact locations and the job's
output folder are dropped, and any other value that is a local path keeps only its last
component (``<local>/homedepot``).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path

import pandas as pd

from analysis import common, load

log = logging.getLogger(__name__)

RUNS = load.BUNDLE_RUNS
RUNS_CSV = "runs.csv"
ENVIRONMENT = "environment.json"
PER_QUERY_DIR = load.BUNDLE_PER_QUERY
INTERLEAVED_DIR = load.BUNDLE_INTERLEAVED
# raw columns that only say where things were on the machine that ran them
DROPPED = ("artifact_uri", "tags.output_dir", "tags.mlflow.source.name", "experiment_id")
_LOCAL_PATH = re.compile(r"^(file:/+|/|~/|[A-Za-z]:[\\/])")


def _scrub(value):
    """A local path keeps only its last component; other values stay."""
    if isinstance(value, str) and _LOCAL_PATH.match(value):
        return "<local>/" + re.split(r"[\\/]", value.rstrip("/\\"))[-1]
    return value


def portable(raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` without machine-local columns and with local paths cut to their last part."""
    out = raw.drop(columns=[c for c in raw.columns if c in DROPPED or c.startswith(
        "params.paths.")])
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_scrub)
    return out


def environment(raw: pd.DataFrame) -> dict:
    """What the runs were made with and timed under, from what they logged."""
    versions: dict[str, list[str]] = {}
    for col in sorted(c for c in raw.columns if c.startswith("params.version.")):
        values = raw[col].dropna().astype(str)
        versions[col.removeprefix("params.version.")] = sorted(set(values))
    runs = load.tidy(raw)

    def numbers(col: str) -> list[float]:
        return sorted({float(v) for v in pd.to_numeric(runs.get(col), errors="coerce")
                       .dropna()}) if col in runs.columns else []

    def loads(col: str) -> dict | None:
        values = pd.to_numeric(runs.get(col), errors="coerce")
        if values is None or values.dropna().empty:
            return None
        return {"min": float(values.min()), "median": float(values.median()),
                "max": float(values.max()), "runs_recorded": int(values.notna().sum())}

    return {
        "n_runs": int(len(raw)),
        "git_commits": sorted(set(runs["git_commit"].dropna().astype(str))),
        "package_versions": versions,
        "cpu_count": numbers("cpu_count"),
        "latency_load_avg": loads("latency_load_avg"),
        # the interleaved timing's (experiments/latency.py), where it ran
        "latency_il_load_avg": loads("latency_il_load_avg"),
        "latency_il_cpu_count": numbers("latency_il_cpu_count"),
        "presets": sorted(set(runs["experiment"].dropna().astype(str))),
        "datasets": sorted(set(runs["dataset"].dropna().astype(str))),
    }


def export(out: Path, *, tracking_uri: str | None = None, experiment: str | None = None,
           mlflow_experiment: str | None = None) -> list[Path]:
    """Write the bundle of the store's runs (those :func:`analysis.load.load_runs` selects)
    into ``out``; returns the files written (claims not included, see :func:`main`)."""
    uri = load.resolve_tracking_uri(tracking_uri)
    raw = load.search_runs(uri, mlflow_experiment=mlflow_experiment)
    if raw.empty:
        raise load.NoRunsError(f"no runs in {uri}: run `{load.SMOKE_CMD}` first")
    runs = load.runs_from_raw(raw, uri, experiment=experiment)
    runs.attrs["tracking_uri"] = uri
    raw = raw[raw["run_id"].isin(runs["run_id"])]
    raw = raw.set_index("run_id").loc[runs["run_id"]].reset_index()  # newest first
    raw = portable(raw)
    out.mkdir(parents=True, exist_ok=True)
    (out / PER_QUERY_DIR).mkdir(exist_ok=True)
    files = [out / RUNS, out / RUNS_CSV, out / ENVIRONMENT, out / f"{COST}.csv",
             out / f"{COST}.md"]
    raw.to_parquet(out / RUNS, index=False)
    raw.to_csv(out / RUNS_CSV, index=False)
    cost = cost_table(raw)
    cost.to_csv(out / f"{COST}.csv", index=False)
    (out / f"{COST}.md").write_text(cost_markdown(cost))
    (out / ENVIRONMENT).write_text(json.dumps(environment(raw), indent=2, sort_keys=True)
                                   + "\n")
    from tqdm import tqdm

    timed = set(runs["run_id"][runs["latency_il_group"].notna()]) \
        if "latency_il_group" in runs.columns else set()
    needed = table_runs(runs)
    for rid in tqdm([r for r in runs["run_id"] if r in needed], desc="per-query tables",
                    unit="run", disable=len(needed) < 20):
        for name in (load.PER_QUERY, load.INTERLEAVED):
            if name == load.INTERLEAVED and rid not in timed:
                continue  # never timed interleaved: no artifact to look for
            frame = load.load_run_table(runs, rid, name)
            if frame is not None:
                path = out / load.RUN_TABLES[name] / f"{rid}.parquet"
                path.parent.mkdir(exist_ok=True)  # latency_interleaved/: only if some run has it
                frame.to_parquet(path, index=False)
                files.append(path)
    return files


COST = "cost"


def table_runs(runs: pd.DataFrame) -> set[str]:
    """The runs whose per-request tables the bundle keeps: those the claims table rests on
    and those of the comparison presets the diagnostics read. (A grid such as
    ``product_search`` has hundreds of runs; its figures need only their metrics, which
    ``runs.parquet`` keeps for every run.)"""
    from analysis import claims, diagnostics

    used = set(claims.used_runs(claims.evaluate(runs), runs)["run_id"])
    presets = [p for group in diagnostics.PRESETS.values() for p in group]
    return used | set(runs.loc[runs["experiment"].isin(presets), "run_id"])


def cost_table(raw: pd.DataFrame) -> pd.DataFrame:
    """Per preset, dataset and model: runs, the sum and the largest of their wall times
    (minutes), the mean training and tuning time per run (seconds, from the runs' metrics
    ``train_time_s`` and ``tuning_s``), then one total row per preset and dataset."""
    runs = load.tidy(raw)
    wall = (pd.to_datetime(raw["end_time"], utc=True)
            - pd.to_datetime(raw["start_time"], utc=True)).dt.total_seconds()
    frame = pd.DataFrame({
        "preset": runs["experiment"], "dataset": runs["dataset"],
        "model": runs["model"].fillna("–").astype(str), "wall_s": wall.to_numpy(),
        "train_s": pd.to_numeric(raw.get("metrics.train_time_s"), errors="coerce"),
        "tuning_s": pd.to_numeric(raw.get("metrics.tuning_s"), errors="coerce")})
    if "params.qac_row" in raw.columns:  # Table 2 rows share one model name: name the row
        row = raw["params.qac_row"].astype(object)
        named = ((runs["task"] == "qac") & row.notna() & (row.astype(str) != "mpc")
                 & (frame["model"] == "xrlinear"))
        frame.loc[named, "model"] = "row " + row[named].astype(str)
    keys = ["preset", "dataset", "model"]
    out = frame.groupby(keys, sort=True).agg(
        runs=("wall_s", "size"), wall_min=("wall_s", lambda v: v.sum() / 60),
        longest_run_min=("wall_s", lambda v: v.max() / 60),
        train_s_per_run=("train_s", "mean"), tuning_s_per_run=("tuning_s", "mean"))
    out = out.reset_index()
    totals = out.groupby(["preset", "dataset"], sort=True).agg(
        runs=("runs", "sum"), wall_min=("wall_min", "sum"),
        longest_run_min=("longest_run_min", "max")).reset_index()
    totals["model"] = "all (sum)"
    both = pd.concat([out.assign(_total=False), totals.assign(_total=True)], ignore_index=True)
    both["_row"] = pd.to_numeric(both["model"].str.removeprefix("row "), errors="coerce")
    both = both.sort_values(["preset", "dataset", "_total", "_row", "model"], ignore_index=True)
    return both[["preset", "dataset", "model", "runs", "wall_min",
                                        "longest_run_min", "train_s_per_run",
                                        "tuning_s_per_run"]]


def cost_markdown(table: pd.DataFrame) -> str:
    def cell(v, fmt):
        return "–" if pd.isna(v) else format(v, fmt)

    lines = ["# What the runs cost", "",
             "Sum of the jobs' wall times on the machine that made them (each job from its start "
             "to its end; the interleaved re-timing of `experiments.latency` is not in it), "
             "written by `python -m analysis.bundle export`.", "",
             "| preset | dataset | model | runs | wall (min) | longest run (min) | "
             "train s / run | tuning s / run |", "|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        bold = "**" if r["model"] == "all (sum)" else ""
        lines.append(f"| {r['preset']} | {r['dataset']} | {bold}{r['model']}{bold} | "
                     f"{r['runs']} | {bold}{cell(r['wall_min'], '.1f')}{bold} | "
                     f"{cell(r['longest_run_min'], '.1f')} | {cell(r['train_s_per_run'], '.1f')} "
                     f"| {cell(r['tuning_s_per_run'], '.1f')} |")
    return "\n".join(lines) + "\n"


load_runs = load.load_bundle_runs  # the reader lives with the store's (claims reads both)


def main(argv: list[str] | None = None) -> int:
    from analysis import claims

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m analysis.bundle",
                                description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write a bundle from the MLflow store")
    ex.add_argument("--out", type=Path, required=True, help="the bundle folder")
    ex.add_argument("--experiment", default=None, metavar="NAME",
                    help="only the runs of this preset (default: all)")
    ex.add_argument("--tracking-uri", default=None, metavar="URI",
                    help="MLflow store; default $MLFLOW_TRACKING_URI, else "
                         "sqlite:///<log-dir>/mlflow.db")
    ex.add_argument("--log-dir", default=load.DEFAULT_LOG_DIR)
    ex.add_argument("--mlflow-experiment", default=None, metavar="NAME")
    ex.add_argument("--allow-mixed", action="store_true",
                    help="write the claims even when the runs mix code versions")
    args = p.parse_args(argv)
    uri = load.resolve_tracking_uri(args.tracking_uri, log_dir=args.log_dir)
    try:
        files = export(args.out, tracking_uri=uri, experiment=args.experiment,
                       mlflow_experiment=args.mlflow_experiment)
        runs = load_runs(args.out, experiment=args.experiment)
    except load.NoRunsError as exc:
        print(f"no bundle: {exc}", file=sys.stderr)
        return common.EXIT_NO_RUNS
    tables = [f for f in files if f.parent.name == PER_QUERY_DIR]
    print(f"bundle: {len(runs)} runs, {len(tables)} per-query tables, "
          f"{len(files) - 5 - len(tables)} interleaved latency tables")
    # the claims come from the bundle itself: what `analysis.claims --bundle` reproduces
    result = claims.build(runs, args.out, allow_mixed=args.allow_mixed)
    for line in result.lines():
        print(line)
    if result.missing:
        print(f"no claims: {result.missing}", file=sys.stderr)
        return claims.EXIT_MIXED
    return common.EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
