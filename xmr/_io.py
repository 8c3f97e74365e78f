"""The versioned model folder every saved estimator uses: a JSON metadata file naming the
format and its version, next to the arrays. One reader, so every model's ``load`` reports a
missing, damaged or foreign folder the same way."""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path


def model_folder(folder: str | Path, kind: str) -> Path:
    """The folder ``<kind>.save`` writes to, created if missing (an existing folder is reused:
    its model files are overwritten). A path that is an existing file, or that lies under one,
    raises before anything is written."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"cannot save the {kind} model to {folder}: it is an existing "
                              f"file, not a folder; give a folder path (created if missing, "
                              f"overwritten if it holds a model)")
    for parent in folder.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"cannot save the {kind} model to {folder}: {parent} "
                                         f"is an existing file, not a folder; give a folder "
                                         f"path")
            break
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_model_meta(folder: str | Path, meta_name: str, format_name: str, version: int,
                    kind: str) -> tuple[Path, dict]:
    """(folder, metadata) of a folder written by ``<kind>.save``; raises FileNotFoundError
    (no folder) or ValueError (metadata missing, not JSON, another format or version), each
    naming the folder and what to do."""
    folder = Path(folder)
    meta_file = folder / meta_name
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist")
    if not meta_file.is_file():
        raise ValueError(f"{folder} is not a saved {kind} model: {meta_name} is missing "
                         f"(save one with {kind}.save(folder))")
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{meta_file} is damaged (not valid JSON): {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != format_name:
        found = meta.get("format") if isinstance(meta, dict) else "?"
        article = "an" if kind[0] in "AEIOU" else "a"
        raise ValueError(f"{meta_file} is not {article} {kind} model file (format {found})")
    if meta.get("format_version") != version:
        raise ValueError(f"{folder} has model format version {meta.get('format_version')}; "
                         f"this code reads version {version}")
    return folder, meta


# what reading a truncated, corrupted or hand-edited model file raises (np.load/sp.load_npz:
# BadZipFile, EOFError, zlib.error; json params: KeyError/TypeError; validation: ValueError)
DAMAGED_FILE_ERRORS = (KeyError, TypeError, OSError, ValueError, EOFError, IndexError,
                       zipfile.BadZipFile, zlib.error)
