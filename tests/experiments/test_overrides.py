"""experiments.overrides: a misspelt override fails at once, naming the key, the closest valid
key and every valid key of that node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.overrides import check_overrides, check_overrides_or_exit

REPO = Path(__file__).resolve().parents[2]
MODEL_KEYS = ("name", "threshold", "Cp", "Cn", "eps", "max_iter", "bias", "n_jobs",
              "negative_sampling", "shards", "shard_workers",
              "train_threshold")  # experiments.schema.ModelConfig


@pytest.mark.parametrize("argv", [
    [],
    ["model.threshold=0.2"],
    ["experiment=smoke", "model.threshold=0.2", "eval.beam_size=5"],
    ["data=bibtex", "data.options.train_file=x.txt"],
    ["debug=tiny", "eval.latency_warmup=3"],
    ["features=word123", "features.min_df=2", "seed=3"],
])
def test_valid_overrides(argv):
    assert check_overrides(argv) == []


def test_an_appended_model_key_passes_the_key_check_but_not_the_model():
    """``+model.extra=1`` is the user's explicit choice of a key, but the model takes no such
    parameter: refused before the sweep (it would fail every job)."""
    [problem] = check_overrides(["+model.extra=1"])
    assert problem.startswith("model: ") and "'extra'" in problem


def test_misspelt_key_names_it_suggests_and_lists_valid_keys():
    problems = check_overrides(["model.treshold=0.2"])
    assert len(problems) == 1
    message = problems[0]
    assert "'model.treshold'" in message
    assert "did you mean 'model.threshold'?" in message
    assert "valid keys of 'model': " + ", ".join(MODEL_KEYS) in message


@pytest.mark.parametrize(("override", "suggestion", "node"), [
    ("data.options.sise=tiny", "data.options.size", "data.options"),
    ("features.word_ngram_rang=[1,2]", "features.word_ngram_range", "features"),
    ("eval.beam_sise=5", "eval.beam_size", "eval"),
])
def test_misspelt_nested_keys(override, suggestion, node):
    [message] = check_overrides([override])
    assert f"did you mean '{suggestion}'?" in message
    assert f"valid keys of '{node}'" in message


def test_misspelt_top_level_key():
    [message] = check_overrides(["sed=1"])
    assert "did you mean 'seed'?" in message
    assert "valid keys of the top level" in message
    for key in ("data", "features", "model", "eval", "logger", "paths", "seed"):
        assert key in message


def test_key_of_the_selected_option():
    """Keys are checked against the data option the overrides select, not the default one."""
    [message] = check_overrides(["data=bibtex", "data.options.size=tiny"])
    assert "'data.options.size'" in message
    assert "train_file" in message  # the keys of bibtex's options (XMCConfig)


def test_wrong_type_says_what_is_wrong():
    [message] = check_overrides(["eval.beam_size=abc"])
    assert "eval.beam_size" in message
    assert "could not be converted to Integer" in message  # Hydra's cause, not only its title


def test_unknown_group_option_lists_options():
    [message] = check_overrides(["data=nope"])
    assert "data/nope" in message
    for option in ("bibtex", "homedepot", "synthetic_products"):
        assert option in message


def test_sweeps_are_accepted():
    assert check_overrides(["model.threshold=0.1,0.2", "features=word1,all"]) == []
    assert check_overrides(["eval.beam_size=range(1,4)",
                            "data.options.size=choice(tiny,demo)"]) == []


@pytest.mark.parametrize(("argv", "expected"), [
    (["model.treshold=0.1,0.2"], "did you mean 'model.threshold'?"),
    (["model.threshold=0.1,0.2", "eval.beam_sise=1,2"], "did you mean 'eval.beam_size'?"),
    (["features=al,word1"], "features/al"),
    (["features=word1,al"], "features/al"),  # a typo after the first value of a sweep
    (["model.threshold=0.1,0.2", "data=bibtex,nope"], "data/nope"),
])
def test_typo_inside_a_sweep_is_caught(argv, expected):
    problems = check_overrides(argv)
    assert problems, f"{argv} passed the check"
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("argv", [
    ["hydra.launcher.n_jobs=2", "hydra/launcher=joblib"],
    ["hydra.sweep.dir=/tmp/somewhere", "hydra.job.chdir=true"],
    ["hydra.bogus_key=1"],  # hydra.* is Hydra's own business
])
def test_hydra_overrides_are_ignored(argv):
    assert check_overrides(argv) == []


def test_check_overrides_in_a_fresh_process():
    """The checker registers the schemas itself: it must not depend on an import done by the
    app before it."""
    code = ("from experiments.overrides import check_overrides; "
            "print(check_overrides(['model.threshold=0.2']))")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_check_overrides_or_exit(capsys):
    check_overrides_or_exit(["-m", "model.threshold=0.1,0.2"])  # passes
    check_overrides_or_exit(["--cfg", "job", "model.treshold=0.2"])  # Hydra's flags: left alone
    with pytest.raises(SystemExit) as info:
        check_overrides_or_exit(["-m", "model.treshold=0.1,0.2"])
    assert info.value.code == 2
    assert "did you mean 'model.threshold'?" in capsys.readouterr().err


def test_run_with_misspelt_key_exits_with_the_message(run_app, tmp_paths, tmp_path):
    proc = run_app("experiments.run", "model.treshold=0.2", *tmp_paths(tmp_path), cwd=tmp_path)
    assert proc.returncode != 0
    assert "unknown key 'model.treshold'" in proc.stderr
    assert "did you mean 'model.threshold'?" in proc.stderr
    assert "valid keys of 'model': " + ", ".join(MODEL_KEYS) in proc.stderr
    assert not (tmp_path / "logs").exists()  # nothing ran, no MLflow store was created


def test_sweep_with_misspelt_option_starts_nothing(run_app, tmp_paths, tmp_path):
    """A typo in a later sweep value stops the command before the sweep's parent MLflow run
    is created."""
    proc = run_app("experiments.run", "-m", "experiment=smoke", "features=word1,al",
                   *tmp_paths(tmp_path), cwd=tmp_path)
    assert proc.returncode != 0
    assert "features/al" in proc.stderr
    assert "word123" in proc.stderr  # the available options
    assert not (tmp_path / "logs" / "mlflow.db").exists()
