"""File helpers shared by the loaders: locating files, gzip-transparent line streams."""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from pathlib import Path


class DataNotFoundError(FileNotFoundError):
    """A dataset file is missing: says which dataset, which file, where we looked, and how to
    get it."""

    def __init__(self, dataset: str, wanted: str, searched: Path, how_to_obtain: str):
        self.dataset, self.wanted, self.searched = dataset, wanted, searched
        super().__init__(
            f"dataset {dataset!r}: {wanted} not found in {searched}. {how_to_obtain} "
            f"(the data folder is paths.data_dir / $XMR_DATA_DIR)")


def find_files(data_dir: str | Path, dataset: str, patterns: Sequence[str],
               how_to_obtain: str, *, subdir: str | None = None) -> list[Path]:
    """All files matching the first glob pattern that matches anything, sorted, searched in
    ``data_dir/subdir`` (or ``data_dir``). Raises :class:`DataNotFoundError` if none."""
    folder = Path(data_dir) / subdir if subdir else Path(data_dir)
    for pattern in patterns:
        hits = sorted(p for p in folder.glob(pattern) if p.is_file())
        if hits:
            return hits
    raise DataNotFoundError(dataset, " or ".join(patterns), folder.resolve(), how_to_obtain)


def open_binary(path: Path):
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw line without the newline), streaming, gzip-transparent."""
    with open_binary(path) as fh:
        for number, raw in enumerate(fh, start=1):
            yield number, raw.rstrip(b"\r\n")
