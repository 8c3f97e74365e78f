"""What every figure/table script shares: the command line, the result of one builder (files
written or what to run to get the missing runs), tables as Markdown + CSV, exit codes.

Exit codes (every ``main()``): 0 = done, including when some figures were skipped for lack of
runs (each says what to run); 1 = a figure raised (a bug: its traceback is logged, the other
figures are still built); 3 = no usable runs at all (missing or empty store, no FINISHED run,
unknown ``--experiment``): nothing written, the message says what to run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import load

EXIT_OK = 0
EXIT_BUILDER_FAILED = 1
EXIT_NO_RUNS = 3
DEFAULT_OUT = Path("analysis") / "figures"
PRODUCT_SEARCH_CMD = "python -m experiments.run -m experiment=product_search"
QAC_CMD = "python -m experiments.run -m experiment=qac_table2"

log = logging.getLogger(__name__)
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"  # the harness's configs (read only)


def group_choices(doc: dict) -> dict[str, str]:
    """``{group: option}`` of a Hydra YAML's defaults list (``features: all``, ``override
    /indexer: hybrid``); analysis reads the configs as YAML, never composes them."""
    out = {}
    for entry in doc.get("defaults") or []:
        if isinstance(entry, dict):
            for key, value in entry.items():
                out[str(key).removeprefix("override").strip().lstrip("/")] = str(value)
    return out


def default_choice(group: str, conf: Path = CONF_DIR) -> str:
    """The option of config group ``group`` that ``conf/config.yaml`` selects by default."""
    import yaml

    doc = yaml.safe_load((conf / "config.yaml").read_text()) or {}
    return group_choices(doc)[group]


@dataclass
class Result:
    """What one builder did: the files it wrote, a caption, or why it wrote nothing."""

    name: str
    files: list[Path] = field(default_factory=list)
    caption: str = ""
    missing: str | None = None  # "no runs with ... — run `...`"
    notes: list[str] = field(default_factory=list)  # partial data: what else could be run

    def lines(self) -> list[str]:
        if self.missing:
            return [f"{self.name}: {self.missing}"]
        out = [f"{self.name}: wrote {', '.join(p.name for p in self.files)}"]
        out += [f"{self.name}: note: {n}" for n in self.notes]
        return out


Builder = Callable[[pd.DataFrame, Path], Result]


def parser(description: str, prog: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description=description,
        epilog="exit codes: 0 done (figures lacking runs are skipped, saying what to run); "
               "1 a figure failed (bug; the others are built); 3 no usable runs (missing or "
               "empty store, unknown --experiment)")
    p.add_argument("--experiment", default=None, metavar="NAME",
                   help="only the runs of this preset (experiment_name: smoke, demo, "
                        "product_search, qac_table2, ...); default: all presets")
    p.add_argument("--tracking-uri", default=None, metavar="URI",
                   help="MLflow store; default $MLFLOW_TRACKING_URI, else "
                        "sqlite:///<log-dir>/mlflow.db")
    p.add_argument("--log-dir", default=load.DEFAULT_LOG_DIR,
                   help="the harness's paths.log_dir (default: ./logs)")
    p.add_argument("--mlflow-experiment", default=None, metavar="NAME",
                   help="read this MLflow experiment only (the harness logs one per preset, "
                        "older stores all in 'xmr-harness'); default: every experiment")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="output folder (default: analysis/figures)")
    return p


def load_from_args(args: argparse.Namespace) -> pd.DataFrame:
    uri = load.resolve_tracking_uri(args.tracking_uri, log_dir=args.log_dir)
    return load.load_runs(uri, experiment=args.experiment,
                          mlflow_experiment=args.mlflow_experiment)


def run_builders(builders: list[Builder], description: str, argv: list[str] | None = None,
                 *, prog: str | None = None,
                 on_done: Callable[[list[Result], pd.DataFrame, Path], None] | None = None,
                 ) -> int:
    """Parse the command line, load the runs, run each builder, print what happened (then
    ``on_done(results, runs, out)``)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser(description, prog).parse_args(argv)
    try:
        runs = load_from_args(args)
    except load.NoRunsError as exc:
        print(f"no figures: {exc}", file=sys.stderr)
        return EXIT_NO_RUNS
    print(f"{len(runs)} runs from {runs.attrs['tracking_uri']}"
          + (f" (experiment {args.experiment})" if args.experiment else ""))
    results, failed = [], False
    for build in builders:
        name = build.__module__.rsplit(".", 1)[-1]
        try:
            result = build(runs, args.out)
        except Exception as exc:  # one broken figure never keeps the others from being built
            log.exception("%s failed", name)
            result = Result(name, missing=f"FAILED ({type(exc).__name__}: {exc}); a bug, "
                                          "please report it with the traceback above")
            failed = True
        results.append(result)
        for line in result.lines():
            print(line)
    if on_done is not None:
        on_done(results, runs, args.out)
    return EXIT_BUILDER_FAILED if failed else EXIT_OK


def markdown_table(df: pd.DataFrame, *, floatfmt: dict[str, str] | None = None) -> str:
    """A GitHub Markdown table (numbers right-aligned, NaN as '–'), no extra dependency."""
    floatfmt = floatfmt or {}

    def cell(col, v) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
            return "–"
        if col == "run_id":  # the full id is in the CSV
            return str(v)[:8]
        if isinstance(v, int | float) and not isinstance(v, bool):
            return format(v, floatfmt.get(col, ".4g"))
        return str(v).replace("|", "\\|")

    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---:" if n else "---" for n in numeric) + "|"
    rows = ["| " + " | ".join(cell(c, v) for c, v in zip(df.columns, row)) + " |"
            for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def write_table(df: pd.DataFrame, out_dir: Path, name: str, *, title: str, footnote: str,
                floatfmt: dict[str, str] | None = None,
                shown: pd.DataFrame | None = None) -> list[Path]:
    """``<name>.csv`` (the rows, full precision) and ``<name>.md`` (title, table, footnote);
    ``shown``: what the Markdown shows instead of ``df`` (e.g. 'mean ± std' cells)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv, md = out_dir / f"{name}.csv", out_dir / f"{name}.md"
    df.to_csv(csv, index=False)
    table = markdown_table(df if shown is None else shown, floatfmt=floatfmt)
    md.write_text(f"**{title}**\n\n{table}\n\n<sub>{footnote}</sub>\n")
    return [md, csv]


def write_points(df: pd.DataFrame, out_dir: Path, name: str) -> Path:
    """The data behind a figure, one row per plotted point (``<name>.csv``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.csv"
    df.to_csv(path, index=False)
    return path


def panel_keys(df: pd.DataFrame, candidates: list[str]) -> list[str]:
    """The columns among ``candidates`` that take more than one value: what panels or
    curves must be split by (and labelled with)."""
    return [c for c in candidates if df[c].nunique(dropna=False) > 1]


def xmr_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Product-search (XMR) runs: task ``xmr`` (older runs without the param count too)."""
    return runs[runs["task"].fillna("xmr") == "xmr"]
