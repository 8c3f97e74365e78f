"""Fixtures for the harness tests: composing the real conf/, running the Hydra apps as
subprocesses with every output under tmp_path, and reading the MLflow store they write."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from experiments.schema import register_configs  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONF_DIR = REPO / "conf"
EXPERIMENT_NAME = "smoke"  # one MLflow experiment per preset (logger.experiment_name=null)

register_configs()


@pytest.fixture(autouse=True)
def _clean_hydra_state():
    """No Hydra singleton (GlobalHydra, HydraConfig) leaks from one test into the next."""
    yield
    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None


@pytest.fixture
def compose_cfg() -> Callable[..., DictConfig]:
    """compose_cfg(overrides, return_hydra_config=False): the real conf/, as the apps see it."""

    def _compose(overrides: list[str] | None = None, *,
                 return_hydra_config: bool = False) -> DictConfig:
        register_configs()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose("config", overrides=list(overrides or []),
                           return_hydra_config=return_hydra_config)

    return _compose


def _harness_env() -> dict[str, str]:
    """The environment of the subprocesses: no telemetry, no MLflow server or experiment from
    outside, the repository importable from any folder."""
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    env.pop("HYDRA_FULL_ERROR", None)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


def _run_app(module: str, *args: str, cwd: Path, timeout: float = 240
             ) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` from ``cwd`` (a tmp folder: relative paths land there)."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=_harness_env(),
                          capture_output=True, text=True, timeout=timeout)


def _tmp_paths(root: Path) -> list[str]:
    """Overrides that point every output (MLflow store, Hydra run/sweep folders, caches) at
    ``root``."""
    return [f"paths.root_dir={root}", f"paths.log_dir={root / 'logs'}",
            f"paths.cache_dir={root / 'cache'}"]


def _mlflow_store(log_dir: Path, experiment: str = EXPERIMENT_NAME):
    """(client, experiment id) on the SQLite store the harness writes under ``log_dir``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{log_dir / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no MLflow experiment {experiment!r} in {log_dir}"
    return client, exp.experiment_id


@pytest.fixture(scope="session")
def run_app() -> Callable[..., subprocess.CompletedProcess]:
    """run_app(module, *args, cwd=folder): the app as a subprocess, output captured."""
    return _run_app


@pytest.fixture(scope="session")
def tmp_paths() -> Callable[[Path], list[str]]:
    """tmp_paths(root): overrides sending the store, Hydra folders and caches under root."""
    return _tmp_paths


@pytest.fixture(scope="session")
def mlflow_store():
    """mlflow_store(log_dir, experiment="smoke") -> (MlflowClient, experiment id) of the
    harness's SQLite store."""
    return _mlflow_store
