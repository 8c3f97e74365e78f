"""The tuning step (experiments/tuning.py, issue 24): per model family the search runs on
tiny data, scores every trial on the validation split carved from the training rows (the
test split is never read), chooses the best, refits on all training rows with the choice,
and logs what it tried; a neural model stopped at its epoch cap is flagged."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

import experiments.training
from experiments import tuning
from experiments.job import load_data, run_task
from experiments.models import Parts, convergence
from experiments.spec import ConfigValueError, resolve

XMR_BASE = ("debug=tiny", "data=synthetic_tiny", "features=word1", "indexer.max_leaf_size=20",
            "eval.latency_min_queries=5", "eval.latency_warmup=0")
QAC_BASE = ("experiment=smoke_qac_comparison", "logger=none", "eval.latency_min_queries=5",
            "eval.latency_warmup=0")


class _Untouchable:
    """Stands for the test split during a search: any read fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the search read the test split ({name})")


@pytest.fixture
def job(compose_cfg, tmp_path, monkeypatch):
    """job(overrides, tune={model: {...}}) -> (spec, dataset, dataset key)."""
    monkeypatch.setattr(experiments.training, "_MEMORY", {})

    def _job(overrides, tune=None, valid_fraction=0.25):
        cfg = compose_cfg([*overrides, f"paths.cache_dir={tmp_path / 'cache'}",
                           f"paths.log_dir={tmp_path / 'logs'}",
                           f"paths.output_dir={tmp_path / 'out'}"])
        if tune is not None:
            cfg.tune.valid_fraction, cfg.tune.models = valid_fraction, tune
        spec = resolve(cfg)
        ds, card, _, _ = load_data(spec.data)
        return spec, ds, card.get("data_key", card["cache_key"])

    return _job


def _search_blind(spec, ds, key):
    """The search with the dataset's test split replaced by a tripwire."""
    blind = copy.copy(ds)
    blind.splits = {**ds.splits, "test": _Untouchable()}
    return tuning.search(spec, blind, key)


def _best(outcome) -> int:
    values = [t["value"] for t in outcome["trials"]]
    return int(np.argmax(values))  # the first of equal values


def _check_logged(spec, tmp_path, outcome):
    """The job logs the trials (tuning.json), the choice (tuned.<param>) and the cost."""
    result, _, _ = run_task(spec, tmp_path / "out")
    m, params, art = result.metrics, result.params, result.artifacts["tuning.json"]
    assert m["tuning_trials"] == len(outcome["trials"]) and m["tuning_s"] > 0
    assert art["trials"] == outcome["trials"] and art["cache_hit"]  # the search ran once
    for name, value in outcome["chosen"].items():
        assert params[f"tuned.{name}"] == value
    assert result.tags["tuned"] == "true"
    for trial in art["trials"]:
        assert set(trial) >= {"params", "value", "seconds"}
    return result


# ------------------------------------------------------------------------- XR-Linear
def test_xrlinear_search_threshold_beam_features(job, tmp_path, monkeypatch):
    space = {"threshold": [0.2, 0.05], "beam_size": [2, 10], "features": ["word1", "char3"]}
    spec, ds, key = job(XMR_BASE, {"xrlinear": {"space": space}})
    fits = []
    orig = spec.runner_cls.fit
    monkeypatch.setattr(spec.runner_cls, "fit",
                        lambda self, d: (fits.append(d.splits["train"].n), orig(self, d))[1])
    outcome, hit = _search_blind(spec, ds, key)
    assert not hit and len(outcome["trials"]) == 8
    # threshold and beam cost no retraining: one training per feature set, on the rows
    # outside the validation split
    n = ds.splits["train"].n
    assert fits == [n - round(0.25 * n)] * 2 and outcome["n_valid"] == round(0.25 * n)
    # the threshold and beam vary innermost: features outermost
    assert [t["params"]["features"] for t in outcome["trials"]] == ["word1"] * 4 + ["char3"] * 4
    assert outcome["chosen_trial"] == _best(outcome)
    chosen = outcome["chosen"]
    final = tuning.chosen_spec(spec, outcome)
    assert final.threshold == chosen["threshold"] and final.inference.beam_size == \
        chosen["beam_size"]
    assert final.model_key["features"]["name"] == chosen["features"]
    assert final.parts.train_threshold == 0.05  # the space's smallest, re-pruned
    fits.clear()
    result = _check_logged(spec, tmp_path, outcome)
    assert fits == [n]  # the refit: every training row, once
    assert result.metrics["model_nnz"] > 0


def test_search_is_cached_and_budgeted(job, monkeypatch):
    space = {"threshold": [0.2, 0.1, 0.05], "beam_size": [2, 10]}
    spec, ds, key = job(XMR_BASE, {"xrlinear": {"space": space, "trials": 3}})
    outcome, hit = tuning.search(spec, ds, key)
    assert not hit and len(outcome["trials"]) == 3 and outcome["grid_size"] == 3
    monkeypatch.setattr(spec.runner_cls, "fit", lambda self, d: pytest.fail("refitted"))
    again, hit = tuning.search(spec, ds, key)
    assert hit and again["trials"] == outcome["trials"]


def test_tuned_run_differs_from_untuned_only_by_the_choice(job):
    """tune off: no search, the configured values (today's behaviour)."""
    spec, _, _ = job(XMR_BASE)
    assert spec.tuning is None
    spec, _, _ = job(XMR_BASE, {"ovr_linear": {"space": {"threshold": [0.1]}}})
    assert spec.tuning is None  # another model's entry


@pytest.mark.parametrize("tune, match", [
    ({"space": {"nope": [1]}}, "'nope' is not a tunable parameter"),
    ({"space": {"threshold": [-1.0]}}, "tune space: threshold=-1.0"),
    ({"space": {"features": ["qac_nope"]}}, "features must name feature sets"),
    ({"space": {}}, "is empty"),
    ({"space": {"threshold": [0.1]}, "trials": 0}, "trials must be >= 1"),
    ({"spcae": {"threshold": [0.1]}}, "spcae"),
])
def test_bad_tune_values_are_refused_before_loading(compose_cfg, tune, match):
    cfg = compose_cfg(list(XMR_BASE))
    cfg.tune.models = {"xrlinear": tune}
    with pytest.raises(ConfigValueError, match=match):
        resolve(cfg)


def test_validation_rows_are_one_seeded_split():
    valid, rest = tuning.validation_rows(100, 0.1, seed=3)
    assert len(valid) == 10 and len(rest) == 90 and not set(valid) & set(rest)
    again, _ = tuning.validation_rows(100, 0.1, seed=3)
    other, _ = tuning.validation_rows(100, 0.1, seed=4)
    assert list(valid) == list(again) and list(valid) != list(other)
    with pytest.raises(ValueError, match="valid_fraction"):
        tuning.validation_rows(5, 0.01, seed=0)


# ------------------------------------------------------------------------------- OVR
def test_ovr_threshold_search_through_the_generic_mechanism(job, tmp_path, monkeypatch):
    spec, ds, key = job((*XMR_BASE, "model=ovr_linear"),
                        {"ovr_linear": {"space": {"threshold": [0.1, 0.0]}}})
    fits = []
    orig = spec.runner_cls.fit
    monkeypatch.setattr(spec.runner_cls, "fit", lambda self, d: (
        fits.append(self.parts.params["threshold"]), orig(self, d))[1])
    outcome, _ = _search_blind(spec, ds, key)
    assert fits == [0.0]  # trained once at the smallest threshold, re-pruned to 0.1
    assert outcome["chosen_trial"] == _best(outcome)
    result = _check_logged(spec, tmp_path, outcome)
    m = result.metrics
    assert m["ovr_threshold"] == outcome["chosen"]["threshold"]
    assert {m["valid_recall_at_10_t0.1"], m["valid_recall_at_10_t0"]} == \
        {t["value"] for t in outcome["trials"]}


def test_ovr_default_space_is_its_candidates(job):
    spec, _, _ = job((*XMR_BASE, "model=ovr_linear"))
    assert spec.tuning.space == {"threshold": (0.1, 0.05, 0.01, 0.0)}  # ties: larger
    assert spec.tuning.valid_fraction == 0.1


# ---------------------------------------------------------------------- dual encoder
def test_dual_encoder_search_early_stops_on_the_shared_split(job, tmp_path, monkeypatch):
    from baselines.dual_encoder import DualEncoder

    space = {"lr": [0.003, 0.0001], "dim": [16], "temperature": [0.1], "epochs": [3]}
    spec, ds, key = job((*XMR_BASE, "model=dual_encoder_small", "model.n_threads=1"),
                        {"dual_encoder": {"space": space}})
    calls = []
    orig = DualEncoder.fit

    def spy(self, texts, Y, **kw):
        calls.append({"n": len(texts), "epochs": self.epochs,
                      "valid": None if kw.get("valid") is None else len(kw["valid"][0]),
                      "valid_fraction": kw.get("valid_fraction")})
        return orig(self, texts, Y, **kw)

    monkeypatch.setattr(DualEncoder, "fit", spy)
    outcome, _ = _search_blind(spec, ds, key)
    n = ds.splits["train"].n
    n_valid = round(0.25 * n)
    assert calls == [{"n": n - n_valid, "epochs": 3, "valid": n_valid,
                      "valid_fraction": 0.0}] * 2
    assert outcome["chosen_trial"] == _best(outcome)
    conv = outcome["trials"][outcome["chosen_trial"]]["convergence"]
    assert set(conv) == {"best_epoch", "epochs_run", "epochs_cap_hit"}
    calls.clear()
    result = _check_logged(spec, tmp_path, outcome)
    # the refit: every training row, the chosen trial's best epoch count, nothing held out
    assert calls == [{"n": n, "epochs": conv["best_epoch"], "valid": None,
                      "valid_fraction": 0.0}]
    assert result.metrics["best_epoch"] == conv["best_epoch"]
    assert result.metrics["epochs_cap_hit"] == conv["epochs_cap_hit"]


def test_a_capped_neural_model_is_flagged(job, tmp_path):
    """One epoch at most, patience 2: stopped by the cap, not by early stopping."""
    spec, _, _ = job((*XMR_BASE, "model=dual_encoder_small", "model.n_threads=1",
                      "model.epochs=1"))
    result, _, _ = run_task(spec, tmp_path / "out")
    assert result.metrics["epochs_cap_hit"] == 1.0
    assert result.metrics["epochs_run"] == 1.0 and result.metrics["best_epoch"] == 1.0


class _History:
    def __init__(self, scores, epochs, patience):
        self.history_ = [{"s": s} for s in scores]
        self.best_epoch_ = int(np.argmax(scores)) + 1 if scores and scores[0] is not None \
            else len(scores)
        self.epochs, self.patience = epochs, patience


@pytest.mark.parametrize("scores, epochs, capped", [
    ([0.1, 0.2, 0.3], 3, 1.0),  # still rising at the cap
    ([0.1, 0.3, 0.2], 3, 1.0),  # one epoch without progress, patience 2: not stopped by it
    ([0.3, 0.2, 0.1], 3, 0.0),  # two epochs without progress: early stopping's end
    ([0.1, 0.3, 0.2, 0.2], 5, 0.0),  # stopped before the cap
])
def test_epochs_cap_hit(scores, epochs, capped):
    out = convergence(_History(scores, epochs, 2), "s")
    assert out["epochs_cap_hit"] == capped and out["epochs_run"] == len(scores)


def test_no_validation_no_convergence_flag():
    assert convergence(_History([None, None], 2, 2), "s") == {"epochs_run": 2.0}


# -------------------------------------------------------------------- QAC: seq2seq, DE
@pytest.mark.parametrize("row, model, space", [
    ("seq2seq_tiny", "seq2seq", {"hidden": [16, 32], "epochs": [2]}),
    ("dual_encoder_tiny", "dual_encoder", {"temperature": [0.05, 0.2]}),
])
def test_qac_neural_search(job, tmp_path, monkeypatch, row, model, space):
    spec, ds, key = job((*QAC_BASE, f"qac={row}", "model.n_threads=1"),
                        {model: {"space": space}})
    assert spec.task.name == "qac" and spec.tuning.metric == "mrr_at_10"
    stops = []
    orig = spec.runner_cls.fit
    monkeypatch.setattr(spec.runner_cls, "fit", lambda self, d: (
        stops.append((self.parts.stop_on, d.splits["train"].n)), orig(self, d))[1])
    outcome, _ = _search_blind(spec, ds, key)
    n = ds.splits["train"].n
    assert stops == [("valid", n - round(0.25 * n))] * 2
    assert outcome["chosen_trial"] == _best(outcome)
    assert all(math.isfinite(t["value"]) for t in outcome["trials"])
    stops.clear()
    result = _check_logged(spec, tmp_path, outcome)
    assert stops == [("none", n)]
    assert "epochs_cap_hit" in result.metrics


# --------------------------------------------------------------------------- presets
@pytest.mark.parametrize("preset", ["paper1_comparison", "smoke_paper1", "qac_comparison",
                                    "smoke_qac_comparison"])
def test_presets_declare_a_space_for_every_tuned_model(compose_cfg, preset):
    cfg = compose_cfg([f"experiment={preset}"])
    tune = OmegaConf.to_container(cfg.tune)
    assert tune["models"], preset
    for model, node in tune["models"].items():
        assert node["space"], (preset, model)


def test_tuning_spec_parts_are_not_shared_between_trials(job):
    spec, _, _ = job(XMR_BASE, {"xrlinear": {"space": {"features": ["word1", "char3"]}}})
    a = tuning.apply(spec, {"features": "word1"}, stop_on="own")
    b = tuning.apply(spec, {"features": "char3"}, stop_on="own")
    assert a.parts.featurizer is not b.parts.featurizer
    assert a.model_key != b.model_key and isinstance(a.parts, Parts)
    assert json.dumps(tuning.cache_key(spec, "k"), default=str)


def test_run_hash_sees_only_this_models_search(job):
    """Another model's space, or a null entry, leaves the hash of an untuned run as before
    tuning existed; this model's space and budget change it."""
    untuned = job(XMR_BASE)[0].config_hash
    assert job(XMR_BASE, {"ovr_linear": {"space": {"threshold": [0.1]}}})[0].config_hash \
        == untuned
    assert job(XMR_BASE, {"xrlinear": None})[0].config_hash == untuned
    space = {"space": {"threshold": [0.1, 0.2]}}
    tuned = job(XMR_BASE, {"xrlinear": space})[0].config_hash
    assert tuned != untuned
    assert job(XMR_BASE, {"xrlinear": space, "ovr_linear": space})[0].config_hash == tuned
    assert job(XMR_BASE, {"xrlinear": {**space, "trials": 1}})[0].config_hash != tuned


# ------------------------------------------------------------ stopped and resumed
class _Stopped(Exception):
    """Stands for a kill (a session's end) right after an epoch's checkpoint was written."""


def _stop_at_save(monkeypatch, when):
    """Raise _Stopped after a checkpoint save whose state satisfies ``when(state)``."""
    from baselines._checkpoint import EpochCheckpoint

    real = EpochCheckpoint.save

    def save(self, state):
        real(self, state)
        if when(state):
            raise _Stopped

    monkeypatch.setattr(EpochCheckpoint, "save", save)


def test_a_stopped_search_resumes_without_rerunning_finished_trials(job, monkeypatch):
    space = {"hidden": [16, 32], "epochs": [3]}
    spec, ds, key = job((*QAC_BASE, "qac=seq2seq_tiny", "model.n_threads=1",
                         "model.patience=3"), {"seq2seq": {"space": space}})
    whole = tuning.run_search(spec, ds)  # uninterrupted, nothing kept
    fits = []
    orig = spec.runner_cls.fit

    def spy(self, d):
        fits.append((self.parts.params["hidden"], self.checkpoint_dir))
        return orig(self, d)

    monkeypatch.setattr(spec.runner_cls, "fit", spy)
    with monkeypatch.context() as m:  # stopped in the second trial, after its first epoch
        _stop_at_save(m, lambda st: len(fits) == 2 and len(st["history"]) == 1)
        with pytest.raises(_Stopped):
            tuning.search(spec, ds, key)
    partial = next((Path(spec.data.cache_dir) / "tuning").glob("*.partial"))
    saved = json.loads((partial / "trials.json").read_text())
    assert [t["params"]["hidden"] for t in saved["trials"]] == [16]
    assert any(partial.rglob("epochs.pt"))  # the second trial's epoch 1
    # the first trial's checkpoint went once its values were scored: one training's kept
    assert len(list((partial / "checkpoints").iterdir())) == 1
    fits.clear()
    outcome, hit = tuning.search(spec, ds, key)
    assert not hit and [h for h, _ in fits] == [32]  # the finished trial is not run again
    assert fits[0][1] is not None and fits[0][1].is_relative_to(partial)
    # the same trials, values and choice as the uninterrupted search; its seconds counted
    assert [(t["params"], t["value"], t["convergence"]) for t in outcome["trials"]] == \
        [(t["params"], t["value"], t["convergence"]) for t in whole["trials"]]
    assert outcome["chosen"] == whole["chosen"]
    assert outcome["seconds"] >= saved["seconds"]
    assert not partial.exists()  # cleared once the outcome is cached


def test_a_stopped_neural_training_resumes_at_its_next_epoch(job, monkeypatch):
    from experiments.training import train

    spec, ds, key = job((*QAC_BASE, "qac=seq2seq_tiny", "model.n_threads=1",
                         "model.epochs=3", "model.patience=3"))
    saved = []
    with monkeypatch.context() as m:
        _stop_at_save(m, lambda st: saved.append(st["history"][-1]) or len(saved) == 2)
        with pytest.raises(_Stopped):
            train(spec, ds, key)
    cache = Path(spec.data.cache_dir)
    assert len(list((cache / "checkpoints").rglob("epochs.pt"))) == 1
    run, trained, _ = train(spec, ds, key)
    history = run.model.history_
    assert trained and len(history) == 3
    assert history[:2] == saved  # epochs 1-2 restored, not trained again (same seconds)
    assert run.fit_time_s >= saved[0]["time_s"] + saved[1]["time_s"]
    assert not any((cache / "checkpoints").rglob("*"))  # cleared once the model is cached


def test_a_resumed_search_runs_a_failed_trial_again(job, tmp_path):
    space = {"threshold": [0.2, 0.05]}
    spec, ds, _ = job(XMR_BASE, {"xrlinear": {"space": space}})
    work = tmp_path / "work"
    work.mkdir()
    failed = {"params": {"threshold": 0.2}, "value": None, "error": "mended since",
              "seconds": 1.0, "convergence": {}}
    (work / "trials.json").write_text(json.dumps({"trials": [failed], "seconds": 1.0}))
    outcome = tuning.run_search(spec, ds, work)
    assert [t["value"] is not None for t in outcome["trials"]] == [True, True]
    assert outcome["seconds"] >= 1.0  # the stopped search's seconds still count


def test_a_checkpoint_fault_stops_the_search_rather_than_losing_a_trial(job, monkeypatch):
    from baselines._errors import CheckpointError

    spec, ds, key = job(XMR_BASE, {"xrlinear": {"space": {"threshold": [0.2, 0.05]}}})

    def refused(self, d):
        raise CheckpointError("checkpoint x belongs to another training; delete it")

    monkeypatch.setattr(spec.runner_cls, "fit", refused)
    with pytest.raises(CheckpointError, match="another training"):
        tuning.search(spec, ds, key)


def test_other_code_searches_again(job, monkeypatch):
    spec, _, key = job(XMR_BASE, {"xrlinear": {"space": {"threshold": [0.2, 0.05]}}})
    before = tuning.cache_key(spec, key)
    monkeypatch.setattr(tuning, "code_version", lambda: "other code")
    assert tuning.cache_key(spec, key) != before
