"""The end-of-sweep table (experiments/sweep_table.py) on hand-made job folders: which keys
are swept, sorting, the best mark, skipped and failed jobs, QAC columns."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from experiments.sweep_table import format_table, param_key, sweep_rows, swept_keys


def _job(sweep: Path, num: int, config: dict, metrics: dict) -> None:
    folder = sweep / str(num)
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))


def _rows(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in table.splitlines()[2:] if line.startswith("| ")]


def test_swept_keys_from_the_preset_and_the_command_line():
    hydra = OmegaConf.create({
        "sweeper": {"params": {"features": "word1,all", "model.threshold": "0.1,0.2"}},
        "overrides": {"task": ["experiment=smoke", "eval.beam_size=2,10", "seed=1",
                               "paths.log_dir=/tmp/x", "data.options.size=tiny,nope"]}})
    assert swept_keys(hydra) == ["features", "model.threshold", "eval.beam_size",
                                 "data.options.size"]
    assert param_key("features") == "features.name" and param_key("qac") == "qac_row"
    assert param_key("model.threshold") == "model.threshold"


def test_table_sorted_best_marked_skipped_and_failed_listed(tmp_path):
    keys = ["features", "eval.beam_size"]
    base = {"task": "xmr", "eval": {"beam_size": 10}}
    _job(tmp_path, 0, {**base, "features": {"name": "word1"}},
         {"recall_at_10": 0.5, "precision_at_1": 0.6, "model_bytes": 2 * 2**20})
    _job(tmp_path, 1, {**base, "features": {"name": "all"}},
         {"recall_at_10": 0.7, "status": "SKIPPED", "finished_run_id": "x"})
    _job(tmp_path, 2, {**base, "features": {"name": "char3"}},
         {"status": "FAILED", "error": "ValueError('boom')"})
    _job(tmp_path, 10, {**base, "features": {"name": "word123"}}, {"recall_at_10": 0.6})
    rows = sweep_rows(tmp_path, keys)
    assert [r["job"] for r in rows] == ["0", "1", "2", "10"]  # numeric order
    table = format_table(rows, keys)
    head = [c.strip() for c in table.splitlines()[0].strip().strip("|").split("|")]
    assert head[:3] == ["", "features", "eval.beam_size"] and head[-1] == "status"
    cells = _rows(table)
    assert [c[1] for c in cells] == ["all", "word123", "word1", "char3"]  # failed last
    assert [c[0] for c in cells] == ["*", "", "", ""]
    assert cells[0][-1] == "skipped (done before)" and cells[-1][-1] == "FAILED"
    assert cells[2][head.index("MB")] == "2.00"
    assert cells[-1][head.index("R@10")] == "–"
    assert "sorted by R@10" in table


def test_qac_table_has_mrr_and_bleu(tmp_path):
    _job(tmp_path, 0, {"task": "qac", "qac_row": "7"}, {"mrr_at_10": 0.3, "bleu": 0.4})
    _job(tmp_path, 1, {"task": "qac", "qac_row": "mpc"}, {"mrr_at_10": 0.1, "bleu": 0.2})
    table = format_table(sweep_rows(tmp_path, ["qac"]), ["qac"])
    assert "| MRR@10 | BLEU |" in table and "| R@10 |" not in table
    assert "status" not in table.splitlines()[0]  # every job finished
    assert [c[:2] for c in _rows(table)] == [["*", "7"], ["", "mpc"]]
