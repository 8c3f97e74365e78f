"""What the two QAC outputs share: which runs are QAC, which is the MPC baseline, and a short
label for each configuration of the paper's Table 2 grid."""

from __future__ import annotations

import pandas as pd

from analysis.load import NON_GRID_PREFIXES

MPC_LABEL = "MPC (most popular completion)"
# a param the QAC preset may log to name its Table 2 row; the first one present wins
LABEL_PARAMS = ("params.qac.config", "params.config_label", "params.qac.label")
# label parts in this order (input features, label embedding, indexer), then the rest
LABEL_ORDER = ("params.features.name", "params.indexer.label_embedding", "params.indexer.name")
# params that never tell two configurations apart
NOT_CONFIG = NON_GRID_PREFIXES + ("params.seed", "params.data.", "params.eval.latency",
                                  "params.eval.n_prediction", "params.experiment_name",
                                  "params.task", "params.logger")


def qac_runs(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["task"] == "qac"]


def is_mpc(model) -> bool:
    """The most-popular-completion baseline, whatever its ``model.name`` spelling."""
    name = str(model or "").lower()
    return name in {"mpc", "most_popular", "most_popular_completion"} or "popular" in name


# the paper's Table 2 rows (conf/qac/row*.yaml): input | label embedding | indexer
TABLE2_ROWS = {
    "0": "prev query | PIFA | 2-means", "1": "prev query | char TF-IDF | 2-means",
    "2": "query + char TF-IDF | PIFA | 2-means",
    "3": "query + char TF-IDF | char TF-IDF | 2-means",
    "4": "query + pos-weighted | PIFA | 2-means",
    "5": "query + pos-weighted | pos-weighted | 2-means",
    "6": "query + pos-weighted | pos-weighted | hybrid d=1",
    "7": "query + pos-weighted | pos-weighted | hybrid d=2",
    "8": "query + pos-weighted | pos-weighted | hybrid d=3",
    "9": "query + pos-weighted | – | trie d=16", "10": "query + char TF-IDF | – | trie d=16",
    "11": "query + pos-weighted | pos-weighted | must-link l=5",
}
# the other rows of the comparison (conf/qac/seq2seq.yaml, conf/qac/dual_encoder.yaml)
NEURAL_ROWS = {"seq2seq": "seq2seq (char GRU + attention, prefix-forced beam)",
               "dual_encoder": "dual encoder (prefix-filtered cosine)"}
ROW_LABELS = {**{r: f"{r}: {text}" for r, text in TABLE2_ROWS.items()}, **NEURAL_ROWS}


def row_order(qac: pd.DataFrame) -> pd.Series:
    """Sort key: the Table 2 row number when the runs log ``qac_row``, then the neural rows
    (MPC last)."""
    col = "params.qac_row"
    if col not in qac.columns:
        return pd.Series(range(len(qac)), index=qac.index)
    neural = list(NEURAL_ROWS)
    return qac[col].map(lambda r: int(r) if str(r).isdigit() else
                        100 + neural.index(r) if r in neural else 99)


def config_labels(qac: pd.DataFrame) -> pd.Series:
    """A short label per run: the Table 2 row when the runs log ``qac_row``, else a naming
    param if the preset logs one, else the params that differ between the (non-MPC) QAC runs
    as ``key=value``; MPC runs get :data:`MPC_LABEL`."""
    mpc = qac["model"].map(is_mpc)
    if "params.qac_row" in qac.columns and qac.loc[~mpc, "params.qac_row"].isin(
            list(ROW_LABELS)).all():
        return qac["params.qac_row"].map(lambda r: ROW_LABELS.get(r, r)).where(~mpc, MPC_LABEL)
    for col in LABEL_PARAMS:
        if col in qac.columns and qac.loc[~mpc, col].notna().all():
            return qac[col].astype(str).where(~mpc, MPC_LABEL)
    others = qac[~mpc]
    varying = [c for c in others.columns if c.startswith("params.")
               and not c.startswith(NOT_CONFIG)
               and others[c].astype(str).nunique() > 1]
    varying.sort(key=lambda c: (LABEL_ORDER.index(c) if c in LABEL_ORDER else len(LABEL_ORDER),
                                c))
    short = {c: _short(c) for c in varying}
    if len(set(short.values())) < len(short):  # ambiguous last components: keep the group
        short = {c: c.removeprefix("params.") for c in varying}

    def label(row) -> str:
        if is_mpc(row["model"]):
            return MPC_LABEL
        parts = [f"{short[c]}={row[c]}" for c in varying if row[c] not in (None, "None")
                 and not (isinstance(row[c], float) and pd.isna(row[c]))]
        return ", ".join(parts) or str(row["model"])

    return qac.apply(label, axis=1) if len(qac) else pd.Series(dtype=str)


def _short(col: str) -> str:
    """params.indexer.name → indexer, params.indexer.trie_depth → trie_depth."""
    parts = col.removeprefix("params.").split(".")
    return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]


def indexer_labels(qac: pd.DataFrame) -> pd.Series:
    """The indexer of each run (``indexer.name`` plus any depth param that varies between
    runs of that indexer, e.g. the hybrid's trie depth); MPC runs are 'MPC'."""
    depth_cols = [c for c in qac.columns if c.startswith("params.indexer.") and "depth" in c]

    def label(row) -> str:
        if is_mpc(row["model"]):
            return "MPC"
        name = str(row["indexer"] if row["indexer"] is not None else row["model"])
        same = qac[qac["indexer"] == row["indexer"]]
        extra = [f"{c.removeprefix('params.indexer.')}={row[c]}" for c in depth_cols
                 if same[c].astype(str).nunique() > 1]
        return f"{name} ({', '.join(extra)})" if extra else name

    return qac.apply(label, axis=1) if len(qac) else pd.Series(dtype=str)
