"""Paper 1's comparison table: XR-Linear against the baselines that were run (``model.name``
xrlinear, pecos, ovr_linear, dual_encoder, any other) — recall@10, recall@100, training time,
p50/p99 latency. One row per (preset, dataset, model): the run closest to the defaults
(features all, threshold 0.1, beam 10), ties broken by the best recall@10.

    python -m analysis.model_comparison [--experiment product_search] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import style
from analysis.common import (
    PRODUCT_SEARCH_CMD,
    Result,
    panel_keys,
    run_builders,
    write_table,
    xmr_runs,
)

NAME = "model_comparison"
MODELS = ("xrlinear", "pecos", "ovr_linear", "dual_encoder")  # the paper's comparison, in order
DEFAULTS = {"features": "all", "threshold": 0.1, "beam_size": 10}  # conf/ defaults
GROUP_COLS = ["experiment", "dataset", "model"]
COLUMNS = {"recall_at_10": "recall@10", "recall_at_100": "recall@100",
           "train_time_s": "train time (s)", "latency_p50_ms": "p50 latency (ms)",
           "latency_p99_ms": "p99 latency (ms)"}


def _default_score(df: pd.DataFrame) -> pd.Series:
    """How many of the default settings a run has (a setting the model lacks counts)."""
    score = pd.Series(0, index=df.index)
    for col, value in DEFAULTS.items():
        v = df[col]
        same = v.isna() | (np.isclose(pd.to_numeric(v, errors="coerce"), value)
                           if isinstance(value, float | int) else v == value)
        score += same.astype(int)
    return score


def rows(runs: pd.DataFrame) -> pd.DataFrame:
    df = xmr_runs(runs).dropna(subset=["model", "recall_at_10"])
    df = df.assign(_score=_default_score(df))
    picked = (df.sort_values(["_score", "recall_at_10"], ascending=False)
              .drop_duplicates(GROUP_COLS, keep="first"))
    rank = {m: i for i, m in enumerate(MODELS)}
    picked = (picked.assign(_rank=picked["model"].map(lambda m: rank.get(m, len(MODELS))))
              .sort_values(["experiment", "dataset", "_rank", "model"]))
    out = picked[GROUP_COLS + ["features", "threshold", "beam_size", *COLUMNS, "run_id"]]
    return out.rename(columns={"beam_size": "beam", **COLUMNS}).reset_index(drop=True)


def build(runs: pd.DataFrame, out: Path) -> Result:
    table = rows(runs)
    if table.empty:
        return Result(NAME, missing=f"no product-search runs with recall@10 — run "
                                    f"`{PRODUCT_SEARCH_CMD}`")
    # drop identifying columns that are the same on every row (said in the title instead)
    same = [c for c in ("experiment", "dataset") if c not in panel_keys(table, [c])]
    title_bits = [f"{c} {table[c].iloc[0]}" for c in same]
    used = runs[runs["run_id"].isin(table["run_id"])]
    table = table.drop(columns=same)
    notes = []
    absent = [m for m in MODELS if m not in set(table["model"])]
    if absent:
        notes.append(f"models not in the runs: {', '.join(absent)}")
    title = ("Paper 1 comparison: recall, training time and per-query latency (one thread, "
             "text in, every request) per model"
             + (f" ({', '.join(title_bits)})" if title_bits else "")
             + "; per model the run closest to features all / threshold 0.1 / beam 10")
    files = write_table(table, out, NAME, title=title,
                        footnote=style.footnote_text(used, "; ".join(notes)),
                        floatfmt={"recall@10": ".4f", "recall@100": ".4f",
                                  "train time (s)": ".2f", "p50 latency (ms)": ".3f",
                                  "p99 latency (ms)": ".3f", "threshold": "g", "beam": ".0f"})
    return Result(NAME, files=files, caption=title, notes=notes)


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.model_comparison")


if __name__ == "__main__":
    raise SystemExit(main())
