"""Shared fixtures: where the real data and the PECOS peer live, skipping cleanly when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"


def shared_data_dir() -> Path:
    """`$XMR_SHARED_DATA`, else `../shared/data` beside the repository."""
    env = os.environ.get("XMR_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set XMR_SHARED_DATA to its folder)")
    return root


@pytest.fixture(scope="session")
def peer_python() -> Path:
    """The PECOS peer's interpreter; `make peer` builds it."""
    from baselines.pecos_peer import find_peer_python

    exe = find_peer_python()
    if exe is None:
        pytest.skip("PECOS peer venv not found: run `make peer` (or set XMR_PEER_PYTHON)")
    return exe
