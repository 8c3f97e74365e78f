"""Paper 2's Table 2: MRR@10, BLEU and p50/p99 latency of every QAC configuration that was
run (task=qac), plus the MPC baseline.

    python -m analysis.qac_table2 [--experiment qac_table2] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import load, style
from analysis import uncertainty as u
from analysis.common import QAC_CMD, Result, panel_keys, run_builders, write_table
from analysis.qac import MPC_LABEL, config_labels, qac_runs, row_order
from analysis.seeds import (
    all_run_ids,
    deltas_to_reference,
    fmt_interval,
    fmt_pm,
    over_seeds,
)

NAME = "qac_table2"
COLUMNS = {"mrr_at_10": "MRR@10", "bleu": "BLEU", "latency_p50_ms": "p50 latency (ms)",
           "latency_p99_ms": "p99 latency (ms)"}
FORMATS = {"MRR@10": ".4f", "BLEU": ".4f", "p50 latency (ms)": ".3f", "p99 latency (ms)": ".3f"}


def rows(runs: pd.DataFrame, *, per_query=None) -> pd.DataFrame:
    """One row per (configuration, dataset): each metric's mean over seeds with
    ``<metric> std`` and ``seeds``, and MRR@10's difference to MPC on the same test requests
    with its 95% paired bootstrap interval (``Δ MRR@10``, ``Δ low``, ``Δ high``; NaN without
    per-query results or an MPC run)."""
    if per_query is None:
        def per_query(rid):
            return load.load_per_query(runs, rid)
    qac = qac_runs(runs)
    qac = qac.assign(configuration=config_labels(qac), _row=row_order(qac))
    table = over_seeds(qac, ["configuration", "dataset", "_row"], list(COLUMNS))
    table = table.assign(_mpc=table["configuration"] == MPC_LABEL)
    table = table.sort_values(["dataset", "_mpc", "_row", "configuration"])
    table[["Δ MRR@10", "Δ low", "Δ high"]] = deltas_to_reference(
        table, runs, per_query, table["_mpc"], ["dataset"], "reciprocal_rank", cmd=QAC_CMD)
    cols = ["configuration", "dataset"] + [c for m in COLUMNS for c in (m, f"{m}_std")] + [
        "n_seeds", "Δ MRR@10", "Δ low", "Δ high", "run_id", "run_ids"]
    out = table[cols].rename(columns={"n_seeds": "seeds", **COLUMNS,
                                      **{f"{m}_std": f"{v} std" for m, v in COLUMNS.items()}})
    return out.reset_index(drop=True)


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """The Markdown view: 'mean ± std' cells and the Δ with its interval."""
    out = table[[c for c in ("configuration", "dataset") if c in table.columns]].copy()
    for name, fmt in FORMATS.items():
        out[name] = [fmt_pm(m, sd, fmt) for m, sd in zip(table[name], table[f"{name} std"])]
    out["seeds"] = table["seeds"]
    out["Δ MRR@10 vs MPC [95% CI]"] = [
        "–" if pd.isna(e) else fmt_interval(u.Interval(e, lo, hi, "", 0))
        for e, lo, hi in zip(table["Δ MRR@10"], table["Δ low"], table["Δ high"])]
    out["run_id"] = table["run_id"]
    return out


def build(runs: pd.DataFrame, out: Path) -> Result:
    table = rows(runs)
    if table.empty:
        return Result(NAME, missing=f"no QAC runs: run `{QAC_CMD}`")
    notes = []
    if not (table["configuration"] == MPC_LABEL).any():
        notes.append("no MPC baseline run (model.name=mpc) among the QAC runs")
    used = runs[runs["run_id"].isin(all_run_ids(table))]
    same = [c for c in ("dataset",) if c not in panel_keys(table, [c])]
    title = ("Paper 2, Table 2: session-aware QAC — MRR@10, BLEU (rank-weighted sentence "
             "BLEU) and per-request latency (one thread, text in, every request) per "
             "configuration, with the MPC baseline"
             + (f" (dataset {table['dataset'].iloc[0]})" if same else "")
             + "; mean ± std over seeds; Δ: difference to MPC on the same test requests, "
               "95% paired bootstrap interval (10,000 resamples)")
    table = table.drop(columns=same)
    files = write_table(table, out, NAME, title=title,
                        footnote=style.footnote_text(used, "; ".join(notes)),
                        shown=shown(table))
    return Result(NAME, files=files, caption=title, notes=notes)


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.qac_table2")


if __name__ == "__main__":
    raise SystemExit(main())
