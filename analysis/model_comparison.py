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

from analysis import load, style
from analysis import uncertainty as u
from analysis.common import (
    PRODUCT_SEARCH_CMD,
    Result,
    panel_keys,
    run_builders,
    write_table,
    xmr_runs,
)
from analysis.seeds import (
    all_run_ids,
    deltas_to_reference,
    fmt_interval,
    fmt_pm,
    over_seeds,
)

NAME = "model_comparison"
MODELS = ("xrlinear", "pecos", "ovr_linear", "dual_encoder")  # the paper's comparison, in order
DEFAULTS = {"features": "all", "threshold": 0.1, "beam_size": 10}  # conf/ defaults
GROUP_COLS = ["experiment", "dataset", "model"]
COLUMNS = {"recall_at_10": "recall@10", "recall_at_100": "recall@100",
           "train_time_s": "train time (s)", "latency_p50_ms": "p50 latency (ms)",
           "latency_p99_ms": "p99 latency (ms)"}
FORMATS = {"recall@10": ".4f", "recall@100": ".4f", "train time (s)": ".2f",
           "p50 latency (ms)": ".3f", "p99 latency (ms)": ".3f"}
REFERENCE = "xrlinear"  # the Δ column: each model's difference to XR-Linear


def _default_score(df: pd.DataFrame) -> pd.Series:
    """How many of the default settings a run has (a setting the model lacks counts)."""
    score = pd.Series(0, index=df.index)
    for col, value in DEFAULTS.items():
        v = df[col]
        same = v.isna() | (np.isclose(pd.to_numeric(v, errors="coerce"), value)
                           if isinstance(value, float | int) else v == value)
        score += same.astype(int)
    return score


def rows(runs: pd.DataFrame, *, per_query=None) -> pd.DataFrame:
    """One row per (preset, dataset, model): the configuration closest to the defaults, each
    metric's mean over seeds with ``<metric> std``, ``seeds``, and recall@10's difference to
    XR-Linear on the same test queries with its 95% paired bootstrap interval
    (``Δ recall@10``, ``Δ low``, ``Δ high``; NaN without per-query results)."""
    if per_query is None:
        def per_query(rid):
            return load.load_per_query(runs, rid)
    df = xmr_runs(runs).dropna(subset=["model", "recall_at_10"])
    df = df.assign(_score=_default_score(df))
    agg = over_seeds(df, GROUP_COLS + ["features", "threshold", "beam_size", "_score"],
                     list(COLUMNS))
    picked = (agg.sort_values(["_score", "recall_at_10"], ascending=False)
              .drop_duplicates(GROUP_COLS, keep="first"))
    rank = {m: i for i, m in enumerate(MODELS)}
    picked = (picked.assign(_rank=picked["model"].map(lambda m: rank.get(m, len(MODELS))))
              .sort_values(["experiment", "dataset", "_rank", "model"]))
    picked[["Δ recall@10", "Δ low", "Δ high"]] = deltas_to_reference(
        picked, runs, per_query, picked["model"] == REFERENCE, ["experiment", "dataset"],
        "recall_at_10", cmd=PRODUCT_SEARCH_CMD)
    cols = GROUP_COLS + ["features", "threshold", "beam_size"] + [
        c for m in COLUMNS for c in (m, f"{m}_std")] + ["n_seeds", "Δ recall@10", "Δ low",
                                                        "Δ high", "run_id", "run_ids"]
    out = picked[cols].rename(columns={"beam_size": "beam", "n_seeds": "seeds",
                                       **{f"{m}_std": f"{v} std" for m, v in COLUMNS.items()},
                                       **COLUMNS})
    return out.reset_index(drop=True)


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """The Markdown view: 'mean ± std' cells and the Δ with its interval."""
    out = table[[c for c in ("experiment", "dataset", "model", "features", "threshold", "beam")
                 if c in table.columns]].copy()
    for name, fmt in FORMATS.items():
        out[name] = [fmt_pm(m, sd, fmt) for m, sd in zip(table[name], table[f"{name} std"])]
    out["seeds"] = table["seeds"]
    out[f"Δ recall@10 vs {REFERENCE} [95% CI]"] = [
        "–" if pd.isna(e) else fmt_interval(u.Interval(e, lo, hi, "", 0))
        for e, lo, hi in zip(table["Δ recall@10"], table["Δ low"], table["Δ high"])]
    out["run_id"] = table["run_id"]
    return out


def build(runs: pd.DataFrame, out: Path) -> Result:
    table = rows(runs)
    if table.empty:
        return Result(NAME, missing=f"no product-search runs with recall@10 — run "
                                    f"`{PRODUCT_SEARCH_CMD}`")
    # drop identifying columns that are the same on every row (said in the title instead)
    same = [c for c in ("experiment", "dataset") if c not in panel_keys(table, [c])]
    title_bits = [f"{c} {table[c].iloc[0]}" for c in same]
    used = runs[runs["run_id"].isin(all_run_ids(table))]
    table = table.drop(columns=same)
    notes = []
    absent = [m for m in MODELS if m not in set(table["model"])]
    if absent:
        notes.append(f"models not in the runs: {', '.join(absent)}")
    spread = ("mean ± std over seeds; Δ: difference to XR-Linear on the same test queries, "
              "95% paired bootstrap interval (10,000 resamples)")
    title = ("Paper 1 comparison: recall, training time and per-query latency (one thread, "
             "text in, every request) per model"
             + (f" ({', '.join(title_bits)})" if title_bits else "")
             + "; per model the run closest to features all / threshold 0.1 / beam 10; "
             + spread)
    files = write_table(table, out, NAME, title=title,
                        footnote=style.footnote_text(used, "; ".join(notes)),
                        floatfmt={"threshold": "g", "beam": ".0f"}, shown=shown(table))
    return Result(NAME, files=files, caption=title, notes=notes)


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.model_comparison")


if __name__ == "__main__":
    raise SystemExit(main())
