"""File helpers shared by the loaders: locating files, gzip-transparent line streams."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

_RECORDERS: list[list[Path]] = []  # open recording_inputs() contexts, innermost last


@contextmanager
def recording_inputs() -> Iterator[list[Path]]:
    """Collects every file the loaders locate (through :func:`find_files`) while the context
    is open: what a prepared-dataset cache must watch."""
    files: list[Path] = []
    _RECORDERS.append(files)
    try:
        yield files
    finally:
        _RECORDERS.pop()


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
            for recorder in _RECORDERS:
                recorder.extend(h for h in hits if h not in recorder)
            return hits
    raise DataNotFoundError(dataset, " or ".join(patterns), folder.resolve(), how_to_obtain)


class DataFileError(ValueError):
    """A data file that cannot be read as what it claims to be (not gzip, truncated, a header
    contradicting the rows): names the file, the line when known, and what to do."""


GZIP_MAGIC = b"\x1f\x8b"


def open_binary(path: Path):
    """The file for reading bytes, decompressed if it ends in ``.gz``. A ``.gz`` name on a
    file that is not gzip-compressed raises :class:`DataFileError`."""
    path = Path(path)
    if path.suffix != ".gz":
        return open(path, "rb")
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != GZIP_MAGIC:
        raise DataFileError(f"{path} is named .gz but is not gzip-compressed (it starts with "
                            f"{magic!r}); rename it without .gz, or compress it with gzip")
    return gzip.open(path, "rb")


def raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw line with its newline), streaming, gzip-transparent. A
    truncated or corrupt ``.gz`` raises :class:`DataFileError` with the file and the last
    line read, instead of a bare EOFError/BadGzipFile."""
    number = 0
    with open_binary(path) as fh:
        try:
            for number, raw in enumerate(fh, start=1):
                yield number, raw
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise DataFileError(f"{path}: the compressed file is truncated or corrupt after "
                                f"line {number} ({type(exc).__name__}: {exc}); download or "
                                f"copy it again (check with: gzip -t {path})") from exc


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw line without the newline), streaming, gzip-transparent."""
    for number, raw in raw_lines(path):
        yield number, raw.rstrip(b"\r\n")
