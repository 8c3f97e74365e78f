"""What the two QAC outputs share: which runs are QAC, which is the MPC baseline, and a short
label for each configuration of the paper's Table 2 grid."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from analysis.common import CONF_DIR, group_choices
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


def model_kind(runs: pd.DataFrame) -> pd.Series:
    """Each run's kind: its ``model_kind`` tag (``xmr`` for the tree models, ``baseline``
    for most-popular completion, ``neural`` for seq2seq / the dual encoder); runs logged
    before the tag existed: ``baseline`` for ``model.name`` mpc, ``xmr`` for xrlinear, else
    None."""
    tag = runs["model_kind"] if "model_kind" in runs.columns else pd.Series(
        None, index=runs.index, dtype=object)
    old = runs["model"].map({"mpc": "baseline", "xrlinear": "xmr"}) if "model" in \
        runs.columns else pd.Series(None, index=runs.index, dtype=object)
    return tag.astype(object).where(tag.notna(), old.astype(object))


def mpc_mask(runs: pd.DataFrame) -> pd.Series:
    """True for the most-popular-completion baseline runs (:func:`model_kind` ``baseline``)."""
    return (model_kind(runs) == "baseline").fillna(False).astype(bool)


def table2_rows(conf: Path | None = None) -> dict[str, str]:
    """The paper's Table 2 rows as the configs define them (``conf/qac/row*.yaml``): row →
    ``features | label embedding | indexer [depth]``, each value read from the row's file
    (else its indexer group's file, else the library's default), never copied here."""
    from xmr.params import HybridParams, MustLinkParams, TrieParams

    conf = conf or CONF_DIR
    rows = {}
    for path in sorted((conf / "qac").glob("row*.yaml")):
        doc = yaml.safe_load(path.read_text()) or {}
        groups = group_choices(doc)
        indexer = groups.get("indexer", "?")
        group_file = conf / "indexer" / f"{indexer}.yaml"
        group = (yaml.safe_load(group_file.read_text()) or {}) if group_file.is_file() else {}
        mine = {**group, **(doc.get("indexer") or {})}
        embedding = mine.get("label_embedding", "–") if indexer != "trie" else "–"
        if indexer == "hybrid":
            indexer += f" d={mine.get('trie_depth', HybridParams().trie_depth)}"
        elif indexer == "trie":
            indexer += f" d={mine.get('depth', TrieParams().depth)}"
        elif indexer == "mustlink":
            indexer += f" l={mine.get('prefix_len', MustLinkParams().prefix_len)}"
        row = str(doc.get("qac_row", path.stem.removeprefix("row")))
        rows[row] = f"{groups.get('features', '?')} | {embedding} | {indexer}"
    return dict(sorted(rows.items(), key=lambda kv: (len(kv[0]), kv[0])))


# the paper's Table 2 rows, read from conf/qac/row*.yaml: input | label embedding | indexer
TABLE2_ROWS = table2_rows()
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
    mpc = mpc_mask(qac)
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
        if mpc[row.name]:
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
    mpc = mpc_mask(qac)

    def label(row) -> str:
        if mpc[row.name]:
            return "MPC"
        name = str(row["indexer"] if row["indexer"] is not None else row["model"])
        same = qac[qac["indexer"] == row["indexer"]]
        extra = [f"{c.removeprefix('params.indexer.')}={row[c]}" for c in depth_cols
                 if same[c].astype(str).nunique() > 1]
        return f"{name} ({', '.join(extra)})" if extra else name

    return qac.apply(label, axis=1) if len(qac) else pd.Series(dtype=str)
