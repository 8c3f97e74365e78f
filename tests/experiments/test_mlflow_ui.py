"""What experiments/mlflow_ui.py writes for MLflow's UI, on composed configs and hand-made
dataset cards (no training): dataset inputs for real data, sources, descriptions, the saved
view of a QAC comparison, the experiment name."""

from __future__ import annotations

import json

from experiments import mlflow_ui
from experiments.spec import describe, experiment_name
from experiments.tasks import get_task


def _card(loader: str, name: str, task: str = "xmr", options: dict | None = None) -> dict:
    splits = {"train": {"rows": 10, "positives": 12, "rows_without_labels": 0},
              "test": {"rows": 4, "positives": 5, "rows_without_labels": 1,
                       "share_positives_unseen_in_train": 0.25}}
    return {"name": name, "task": task, "n_labels": 7, "n_features": None, "rows_total": 14,
            "data_config": {"name": name, "loader": loader, "options": options or {}},
            "splits": splits}


def test_real_data_is_a_local_dataset_of_the_data_folder(compose_cfg, tmp_path):
    cfg = compose_cfg(["data=homedepot", f"paths.data_dir={tmp_path}"])
    inputs = mlflow_ui.dataset_inputs(cfg.paths.data_dir, _card("homedepot", "homedepot"), "abc123")
    assert [d.dataset.name for d in inputs] == ["homedepot-train", "homedepot-test"]
    assert [[(t.key, t.value) for t in d.tags] for d in inputs] == [
        [("mlflow.data.context", "training")], [("mlflow.data.context", "test")]]
    for d in inputs:
        assert d.dataset.digest == "abc123"
        assert d.dataset.source_type == "local"
        assert json.loads(d.dataset.source) == {"uri": tmp_path.resolve().as_uri()}
    profile = json.loads(inputs[1].dataset.profile)
    assert profile == {"rows": 4, "labels": 7, "rows_all_splits": 14, "task": "xmr",
                       "positives": 5, "rows_without_labels": 1,
                       "share_positives_unseen_in_train": 0.25}


def test_generated_data_names_its_generator_and_seed(compose_cfg):
    cfg = compose_cfg(["data=synthetic_products", "data.options.seed=7"])
    card = _card("synthetic_products", "synthetic_products",
                 options={"size": "demo", "seed": 7, "n_products": 20000})
    [train, _] = mlflow_ui.dataset_inputs(cfg.paths.data_dir, card, "d")
    assert train.dataset.name == "synthetic_products-demo-train"
    source = json.loads(train.dataset.source)["tags"]
    assert source["generator"] == "xmr.datasets.synthetic.make_product_search"
    assert source["seed"] == "7"
    assert json.loads(source["options"]) == {"seed": 7, "size": "demo"}  # the rest is unused


def test_source_tags():
    tags = mlflow_ui.source_tags("a" * 40 + "-dirty")
    assert tags == {"mlflow.source.type": "LOCAL", "mlflow.source.name": "experiments.run",
                    "mlflow.source.git.commit": "a" * 40, "mlflow.source.git.dirty": "true"}
    assert "mlflow.source.git.commit" not in mlflow_ui.source_tags("unknown")


def test_qac_description_and_view(compose_cfg):
    cfg = compose_cfg(["experiment=smoke_qac", "qac=row9"])
    note = describe(cfg, get_task("qac"), ["qac=row9", "paths.log_dir=/x"], "2026-01-01")
    assert note.startswith("Session-aware query autocompletion on synthetic_qac (tiny)")
    assert "Table 2 row **9**" in note and "`smoke_qac` sweep 2026-01-01" in note
    assert "`qac=row9`" in note and "paths.log_dir" not in note
    state = mlflow_ui.view_state("qac", ["qac"])
    assert state["orderByKey"] == "metrics.`mrr_at_10`"
    assert "params.`qac_row`" in state["selectedColumns"]
    assert "metrics.`bleu`" in state["selectedColumns"]
    assert "metrics.`recall_at_10`" not in state["selectedColumns"]


def test_experiment_name_per_preset_override_and_default(compose_cfg):
    assert experiment_name(compose_cfg(["experiment=demo"])) == "demo"
    assert experiment_name(compose_cfg(
        ["experiment=demo", "logger.experiment_name=mine"])) == "mine"
    assert experiment_name(compose_cfg([])) == "xmr-harness"
