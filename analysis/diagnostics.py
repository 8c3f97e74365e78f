"""Diagnostics beside the claims: why a claim holds or fails on this data.

- **Paper 1** (per model of the comparison): recall@10 over the test positives whose product
  had training queries (*warm*) and over those that had none (*cold*), and the cold share of
  the positives. A model that reads product titles can reach cold products; one that learns
  only from queries cannot.
- **Paper 2** (per Table 2 row and baseline): MRR@10 and success@10 (the true next query in
  the top 10) on requests whose next query is a training label (*seen*) and on the others
  (*unseen*: no model that ranks labels can suggest it), the unseen share, and the share of
  requests whose prefix starts no label.

Read from each run's ``per_query`` table (columns ``n_pos``, ``n_pos_cold``, ``hits_at_10``,
``hits_cold_at_10`` of product search; ``seen``, ``prefix_matches_label``,
``reciprocal_rank`` of autocompletion); recall over positives is summed over the test rows
(micro), the other quantities are means over requests; each cell is the mean over the seeds.
Runs written before the columns existed read "not recorded".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis import load
from analysis.qac import model_kind, mpc_mask, qac_runs

NAME = "diagnostics"
# the comparison presets (full, then smoke) whose models the diagnostics describe
PRESETS = {"paper1": ("paper1_comparison", "smoke_paper1"),
           "qac": ("qac_table2", "qac_comparison", "smoke_qac", "smoke_qac_comparison")}
XMR_COLUMNS = ("n_pos", "n_pos_cold", "hits_at_10", "hits_cold_at_10")
QAC_COLUMNS = ("seen", "prefix_matches_label", "reciprocal_rank")
COLUMNS = ["family", "preset", "dataset", "model", "n_seeds", "recall_at_10_warm",
           "recall_at_10_cold", "cold_share", "mrr_at_10_seen", "mrr_at_10_unseen",
           "success_at_10_seen", "success_at_10_unseen", "unseen_share",
           "no_label_prefix_share", "note"]
NOT_RECORDED = "not recorded (runs older than these per-query columns)"


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def xmr_values(pq: pd.DataFrame) -> dict[str, float]:
    """Warm / cold recall@10 over positives and the cold share, from one run's table."""
    n_pos, n_cold = pq["n_pos"].sum(), pq["n_pos_cold"].sum()
    hits, hits_cold = pq["hits_at_10"].sum(), pq["hits_cold_at_10"].sum()
    return {"recall_at_10_warm": _ratio(hits - hits_cold, n_pos - n_cold),
            "recall_at_10_cold": _ratio(hits_cold, n_cold),
            "cold_share": _ratio(n_cold, n_pos)}


def qac_values(pq: pd.DataFrame) -> dict[str, float]:
    """Seen / unseen MRR@10 and success@10, the unseen and no-label-prefix shares."""
    seen = pq["seen"].to_numpy() > 0
    rr = pq["reciprocal_rank"].to_numpy(dtype=np.float64)
    out = {}
    for name, mask in (("seen", seen), ("unseen", ~seen)):
        out[f"mrr_at_10_{name}"] = float(rr[mask].mean()) if mask.any() else float("nan")
        out[f"success_at_10_{name}"] = (float((rr[mask] > 0).mean()) if mask.any()
                                        else float("nan"))
    out["unseen_share"] = float((~seen).mean()) if len(seen) else float("nan")
    out["no_label_prefix_share"] = float((pq["prefix_matches_label"].to_numpy() == 0).mean())
    return out


def _points(runs: pd.DataFrame, family: str) -> list[tuple[str, str, str, pd.DataFrame]]:
    """(preset, dataset, model label, its runs) of every model the family's presets ran."""
    df = runs[runs["experiment"].isin(PRESETS[family])]
    out = []
    for (preset, dataset), group in df.groupby(["experiment", "dataset"], sort=True):
        if family == "paper1":
            for model, mine in group.groupby("model", sort=True):
                out.append((preset, dataset, str(model), mine))
            continue
        qac = qac_runs(group)
        rows = (qac["params.qac_row"].astype(str) if "params.qac_row" in qac.columns
                else pd.Series("", index=qac.index))
        xmr_rows = (model_kind(qac) == "xmr").fillna(False)
        label = np.where(mpc_mask(qac), "MPC",
                         np.where(xmr_rows, "row " + rows, qac["model"].astype(str)))
        for name in sorted(set(label), key=_row_order):
            out.append((preset, dataset, name, qac[label == name]))
    return out


def _row_order(name: str) -> tuple[int, int, str]:
    if name.startswith("row "):
        tail = name[4:]
        return (0, int(tail) if tail.isdigit() else 99, name)
    return (1, 0, name)


def table(runs: pd.DataFrame, per_query: Callable[[str], pd.DataFrame | None] | None = None
          ) -> pd.DataFrame:
    """One row per (family, preset, dataset, model) of the comparison presets in ``runs``;
    ``per_query``: run id → its per-query table (default: read from where the runs came
    from)."""
    if per_query is None:
        def per_query(run_id):
            return load.load_per_query(runs, run_id)
    rows = []
    for family, columns, values in (("paper1", XMR_COLUMNS, xmr_values),
                                    ("qac", QAC_COLUMNS, qac_values)):
        for preset, dataset, model, mine in _points(runs, family):
            per_seed, missing = [], 0
            for run_id in mine["run_id"]:
                pq = per_query(run_id)
                if pq is None or not set(columns) <= set(pq.columns):
                    missing += 1
                    continue
                per_seed.append(values(pq))
            row = {"family": family, "preset": preset, "dataset": dataset, "model": model,
                   "n_seeds": len(per_seed), "note": ""}
            if per_seed:
                with np.errstate(invalid="ignore"):
                    row |= pd.DataFrame(per_seed).mean(skipna=True).to_dict()
            if missing:
                row["note"] = NOT_RECORDED if not per_seed else (
                    f"{missing} of {len(mine)} runs without the columns")
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(df: pd.DataFrame) -> str:
    """diagnostics.md: a table per family (empty families left out)."""
    parts = ["# Diagnostics beside the claims\n",
             "Why a claim holds or fails on this data (means over seeds; "
             "`python -m analysis.claims` writes this next to `claims.md`). Warm / cold: "
             "the test positive's product had / had no training queries (recall over "
             "positives). Seen / unseen: the true next query is / is not a training label; "
             "success@10: it is among the 10 suggestions.\n"]
    spec = {"paper1": ("Paper 1: product search", ["recall_at_10_warm", "recall_at_10_cold",
                                                    "cold_share"]),
            "qac": ("Paper 2: autocompletion", ["mrr_at_10_seen", "mrr_at_10_unseen",
                                                 "success_at_10_seen", "success_at_10_unseen",
                                                 "unseen_share", "no_label_prefix_share"])}
    for family, (title, cols) in spec.items():
        mine = df[df["family"] == family]
        if mine.empty:
            continue
        head = ["preset", "dataset", "model", "n_seeds", *cols, "note"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for _, r in mine.iterrows():
            lines.append("| " + " | ".join(_cell(r[c]) for c in head) + " |")
        parts.append(f"## {title}\n\n" + "\n".join(lines) + "\n")
    if len(parts) == 2:
        parts.append("No run of a comparison preset.\n")
    return "\n".join(parts)
