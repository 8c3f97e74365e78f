"""The version of the code that trains: a hash of the source of the library (``xmr/``) and of
the baselines (``baselines/``). It enters the training cache key
(:func:`experiments.training.train`), so a model trained by other code is never reused; it is a
source hash, not the git commit, so it also tells two dirty trees apart and needs no git."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRAINING_PACKAGES = ("xmr", "baselines")  # the packages whose code decides a trained model


def source_hash(root: Path, packages: Iterable[str] = TRAINING_PACKAGES) -> str:
    """Hex SHA-256 over every ``*.py`` under ``root/<package>`` for each package: its path
    relative to ``root`` and its bytes, in sorted path order (the hash does not depend on the
    order the file system lists them, nor on where ``root`` lies).

    Parameters
    ----------
    root : Path
        The folder that holds the packages (the repository root).
    packages : iterable of str
        Package folders under ``root``; a missing one contributes nothing.
    """
    root = Path(root)
    files = sorted(path.relative_to(root).as_posix()
                   for package in packages for path in (root / package).rglob("*.py")
                   if path.is_file())
    digest = hashlib.sha256()
    for rel in files:
        data = (root / rel).read_bytes()
        # lengths delimit the fields: no two file sets hash alike by concatenation
        digest.update(f"{len(rel)}:{rel}:{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


@cache  # the source does not change under a running process (hashing takes ~10 ms)
def code_version() -> str:
    """The version of the code that trains: the first 16 hex digits of :func:`source_hash` of
    this repository's ``xmr/`` and ``baselines/``."""
    return source_hash(REPO)[:16]
