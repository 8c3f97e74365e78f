"""Every figure and table of the two papers from the runs in MLflow, plus ``index.md`` (each
output with its caption, or what to run to get it).

    python -m analysis.figures [--experiment NAME] [--tracking-uri URI] [--out analysis/figures]

Exit codes: 0 = done (outputs lacking runs are skipped, each saying which preset to run);
1 = a figure raised (a bug; the others are still built); 3 = no usable runs at all (missing or
empty MLflow store, unknown --experiment).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import (
    claims,
    feature_ablation,
    model_comparison,
    model_size,
    pruning_threshold,
    qac_prefix_slices,
    qac_table2,
    recall_vs_latency,
)
from analysis.common import Result, run_builders
from analysis.style import footnote_text

BUILDERS = [recall_vs_latency.build, pruning_threshold.build, feature_ablation.build,
            model_comparison.build, model_size.build, qac_table2.build,
            qac_prefix_slices.build, claims.build_preview]
INDEX = "index.md"


def build_all(runs: pd.DataFrame, out: Path) -> list[Result]:
    """Every builder on ``runs`` (for notebooks); the command line is :func:`main`."""
    results = [build(runs, out) for build in BUILDERS]
    write_index(results, runs, out)
    return results


def write_index(results: list[Result], runs: pd.DataFrame, out: Path) -> Path:
    """``index.md``: each figure (PNG) or table (Markdown) with its caption, or what to run."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Figures and tables", "",
             f"From {runs.attrs.get('tracking_uri', 'MLflow')}: {footnote_text(runs)}.",
             "Rebuild: `python -m analysis.figures` (see `--help`).", ""]
    for r in results:
        lines += [f"## {r.name}", ""]
        if r.missing:
            lines += [f"Not built: {r.missing}.", ""]
            continue
        png = [p for p in r.files if p.suffix == ".png"]
        md = [p for p in r.files if p.suffix == ".md"]
        if png:
            lines += [f"![{r.name}]({png[0].name})", "", f"*{r.caption}*", ""]
        for p in md:
            lines += [p.read_text().strip(), ""]
        lines += [f"Files: {', '.join(f'`{p.name}`' for p in r.files)}", ""]
        lines += [f"Note: {n}" for n in r.notes] + ([""] if r.notes else [])
    path = out / INDEX
    path.write_text("\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> int:
    def index(results, runs, out):
        print(f"index: {write_index(results, runs, out)}")

    return run_builders(BUILDERS, "All figures and tables of the two papers from the MLflow "
                        "runs.", argv, prog="python -m analysis.figures", on_done=index)


if __name__ == "__main__":
    raise SystemExit(main())
