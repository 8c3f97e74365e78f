"""The prepared-dataset cache knows its input files, and a failed write (a full disk) leaves
nothing half-written behind."""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from experiments import datacache
from experiments.datacache import prepare_dataset
from xmr.datasets.xmc import XMCConfig

LOADERS = Path(__file__).resolve().parent.parent / "data" / "loaders"
CONFIG = XMCConfig(name="toy", train_file="xmc/train.txt", test_file="xmc/test.txt")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(LOADERS / "xmc", folder / "xmc")
    return folder


def prepare(data_dir: Path, cache: Path):
    return prepare_dataset("toy", "xmc", CONFIG, asdict(CONFIG), str(data_dir), str(cache))


def test_cache_is_refreshed_when_an_input_file_changes(data_dir, tmp_path):
    cache = tmp_path / "cache"
    ds, card, folder, hit = prepare(data_dir, cache)
    assert not hit and [f["path"] for f in card["input_files"]] == ["xmc/test.txt",
                                                                   "xmc/train.txt"]
    assert prepare(data_dir, cache)[3]  # unchanged: a hit
    n_test = ds.splits["test"].n

    test_file = data_dir / "xmc" / "test.txt"  # one more test row, header updated
    lines = test_file.read_text().splitlines()
    test_file.write_text("\n".join(["5 5 4", *lines[1:], "1 1:1"]) + "\n")
    ds2, card2, folder2, hit = prepare(data_dir, cache)
    assert not hit and ds2.splits["test"].n == n_test + 1  # the edit is seen, not the old pickle
    assert folder2 == folder and card2["data_key"] != card["data_key"]  # models retrain
    assert prepare(data_dir, cache)[3]

    os.utime(test_file, ns=(1, 1))  # a new mtime, same content (a copy): still a hit
    assert prepare(data_dir, cache)[3]

    moved = tmp_path / "moved"  # the same files elsewhere: same key, still a hit
    shutil.copytree(data_dir, moved)
    assert prepare(moved, cache)[3]

    test_file.unlink()  # a vanished input: prepared again, which says the file is missing
    with pytest.raises(FileNotFoundError, match="test.txt"):
        prepare(data_dir, cache)


def test_a_full_disk_leaves_no_partial_file(data_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"

    def full_disk(obj, fh, protocol=None):
        fh.write(b"x" * 4096)  # part of it got written
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(datacache.pickle, "dump", full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        prepare(data_dir, cache)
    left = [p.name for p in cache.rglob("*") if p.is_file()]
    assert left == []  # no dataset.pkl.tmp<pid>, no half dataset.pkl
    monkeypatch.undo()  # the disk has room again
    assert not prepare(data_dir, cache)[3] and prepare(data_dir, cache)[3]
