"""Paper 2's Table 2: MRR@10, BLEU and p50/p99 latency of every QAC configuration that was
run (task=qac), plus the MPC baseline.

    python -m analysis.qac_table2 [--experiment qac_table2] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import style
from analysis.common import QAC_CMD, Result, panel_keys, run_builders, write_table
from analysis.qac import MPC_LABEL, config_labels, qac_runs, row_order

NAME = "qac_table2"
COLUMNS = {"mrr_at_10": "MRR@10", "bleu": "BLEU", "latency_p50_ms": "p50 latency (ms)",
           "latency_p99_ms": "p99 latency (ms)"}


def rows(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per QAC run (already one per grid point): configuration, dataset, metrics."""
    qac = qac_runs(runs)
    table = qac.assign(configuration=config_labels(qac))
    table = table.assign(_mpc=table["configuration"] == MPC_LABEL, _row=row_order(qac))
    table = table.sort_values(["dataset", "_mpc", "_row", "configuration"])
    out = table[["configuration", "dataset", *COLUMNS, "run_id"]].rename(columns=COLUMNS)
    return out.reset_index(drop=True)


def build(runs: pd.DataFrame, out: Path) -> Result:
    table = rows(runs)
    if table.empty:
        return Result(NAME, missing=f"no QAC runs: run `{QAC_CMD}`")
    notes = []
    if not (table["configuration"] == MPC_LABEL).any():
        notes.append("no MPC baseline run (model.name=mpc) among the QAC runs")
    used = runs[runs["run_id"].isin(table["run_id"])]
    same = [c for c in ("dataset",) if c not in panel_keys(table, [c])]
    title = ("Paper 2, Table 2: session-aware QAC — MRR@10, BLEU (rank-weighted sentence "
             "BLEU) and per-request latency (one thread, text in, every request) per "
             "configuration, with the MPC baseline"
             + (f" (dataset {table['dataset'].iloc[0]})" if same else ""))
    files = write_table(table.drop(columns=same), out, NAME, title=title,
                        footnote=style.footnote_text(used, "; ".join(notes)),
                        floatfmt={"MRR@10": ".4f", "BLEU": ".4f", "p50 latency (ms)": ".3f",
                                  "p99 latency (ms)": ".3f"})
    return Result(NAME, files=files, caption=title, notes=notes)


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.qac_table2")


if __name__ == "__main__":
    raise SystemExit(main())
