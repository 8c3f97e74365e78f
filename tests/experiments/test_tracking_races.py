"""Races between parallel jobs on one MLflow store."""

from __future__ import annotations

import mlflow
import pytest

from experiments import tracking


def test_a_dataset_logged_meanwhile_by_a_parallel_job_is_linked_not_fatal(tmp_path,
                                                                          monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = tracking.TrackedRun(uri, "races", str(tmp_path), "r", {})
    calls = []
    real = run.client.log_inputs

    def first_loses_the_race(run_id, datasets=None):
        calls.append(run_id)
        if len(calls) == 1:  # what SQLite says when a parallel job inserted the row first
            raise mlflow.exceptions.MlflowException(
                "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, "
                "datasets.name, datasets.digest")
        return real(run_id, datasets=datasets)

    monkeypatch.setattr(run.client, "log_inputs", first_loses_the_race)
    run.log_inputs([])
    assert len(calls) == 2
    run.end("FINISHED")


def test_other_store_errors_are_not_retried(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = tracking.TrackedRun(uri, "races", str(tmp_path), "r", {})

    def broken(run_id, datasets=None):
        raise mlflow.exceptions.MlflowException("something else")

    monkeypatch.setattr(run.client, "log_inputs", broken)
    with pytest.raises(mlflow.exceptions.MlflowException, match="something else"):
        run.log_inputs([])
    run.end("FAILED")
