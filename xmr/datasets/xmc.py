"""Pre-featurised XMC benchmarks (Bibtex, Eurlex, …): feature matrix X → label matrix Y.

Two formats:

``format="text"``: the Extreme Classification Repository text format. A header line
    ``N D L`` (rows, features, labels), then one row per instance ``l1,l2,... f:v f:v ...``
    with 0-based ids; a row without labels starts with a space (or directly with ``f:v``).
    Malformed rows (a label id >= L, a feature id >= D, a token that is not ``int:float``,
    a non-finite value, invalid UTF-8) are skipped and counted; header counts that disagree
    with what was read are reported in ``dataset.info["header_mismatch"]``. The train
    header's D and L fix the matrix shapes.
``format="npz"``: PECOS's scipy CSR files ``X.trn.npz, Y.trn.npz, X.tst.npz, Y.tst.npz`` in
    one folder.

Rows of X are L2-normalised when ``normalize_rows`` (PECOS expects it; raw Bibtex features
are binary). Y is float32 0/1; ``label_ids`` are ``"0", "1", …`` (the column index).
"""

from __future__ import annotations

import logging
import math
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from xmr._validation import check_choice
from xmr.datasets._build import label_matrix
from xmr.datasets._io import DataFileError, find_files, iter_lines
from xmr.datasets.tasks import SkipReport, XMRDataset, XMRSplit

logger = logging.getLogger(__name__)

FORMATS = ("text", "npz")
HOW_TO_OBTAIN = (
    "Download the dataset from the Extreme Classification Repository "
    "(http://manikvarma.org/downloads/XC/XMLRepository.html; e.g. Bibtex: "
    "bibtex_train.txt / bibtex_test.txt, gzipped or not) into the data folder, or PECOS's "
    "X/Y.{trn,tst}.npz files into one folder")
NPZ_FILES = ("X.trn.npz", "Y.trn.npz", "X.tst.npz", "Y.tst.npz")


@dataclass
class XMCConfig:
    name: str = "bibtex"  # dataset name (for messages and dataset.name)
    format: str = "text"  # "text": XC-repository text files; "npz": PECOS CSR .npz files
    train_file: str = "bibtex/bibtex_train.txt.gz"  # text: train file, relative to data_dir
    test_file: str = "bibtex/bibtex_test.txt.gz"  # text: test file, relative to data_dir
    npz_dir: str = "bibtex/npz"  # npz: folder (relative to data_dir) of X/Y.{trn,tst}.npz
    normalize_rows: bool = True  # L2-normalise the rows of X (PECOS expects unit rows)


def _check_config(config: XMCConfig) -> None:
    check_choice("format", config.format, FORMATS)
    for field in ("name", "train_file", "test_file", "npz_dir"):
        value = getattr(config, field)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{field} must be a non-empty string, got {value!r}")
    if not isinstance(config.normalize_rows, bool):
        raise TypeError(f"normalize_rows must be a bool, got {config.normalize_rows!r}")


def normalize_rows(X: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (all-zero rows stay zero); float32 CSR."""
    X = sp.csr_matrix(X, dtype=np.float32, copy=True)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel())
    norms[norms == 0] = 1.0
    X.data /= np.repeat(norms, np.diff(X.indptr)).astype(np.float32)
    return X


def _file_patterns(name: str) -> tuple[str, ...]:
    """The configured name first, then its gzipped / plain twin."""
    twin = name[:-3] if name.endswith(".gz") else name + ".gz"
    return (name, twin)


def _parse_header(path: Path, raw: bytes) -> tuple[int, int, int]:
    parts = raw.split()
    try:
        n, d, n_labels = (int(p) for p in parts)
    except ValueError:
        n = d = n_labels = -1
    if len(parts) != 3 or min(n, d, n_labels) < 0:
        raise ValueError(f"{path}: the first line must be the header 'N D L' (three "
                         f"non-negative integers), got {raw[:80]!r}")
    return n, d, n_labels


def _read_text(path: Path, d: int | None, n_labels: int | None, skipped: SkipReport,
               header_counts: dict) -> tuple[sp.csr_matrix, sp.csr_matrix, dict]:
    """One XC-repository text file → (X, Y, header). ``d``/``n_labels`` None: use this file's
    header (the train file); else the train file's shapes (the test file)."""
    lines = iter_lines(path)
    first = next(lines, None)
    if first is None:
        raise ValueError(f"{path}: empty file (expected a header 'N D L')")
    n_head, d_head, l_head = _parse_header(path, first[1])
    header = {"N": n_head, "D": d_head, "L": l_head}
    d_given, l_given = d, n_labels
    d = d_head if d is None else d
    n_labels = l_head if n_labels is None else n_labels

    # typed buffers: a few bytes per nonzero, not a Python object each
    indptr, indices, values, label_rows = array("q", [0]), array("q"), array("f"), []
    n_read = 0
    for number, raw in lines:
        where = f"{path.name}:{number}: "
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            n_read += 1
            skipped.add("invalid UTF-8", where + raw.decode("utf-8", errors="replace"))
            continue
        if not line.strip():
            skipped.add("blank line", where)
            continue
        n_read += 1
        tokens = line.split()
        if line[0].isspace() or ":" in tokens[0]:
            label_field, feature_tokens = "", tokens
        else:
            label_field, feature_tokens = tokens[0], tokens[1:]
        reason, labels = None, []
        for item in (label_field.split(",") if label_field else ()):
            try:
                lid = int(item)
            except ValueError:
                reason = "non-numeric label id"
                break
            if lid >= n_labels:  # the header is wrong, not this row: refuse the file
                raise DataFileError(
                    f"{where}label id {lid} >= L={n_labels} "
                    f"({'the header' if l_given is None else 'the train file header'} says "
                    f"{n_labels} labels); fix the header 'N D L' (L must exceed every label "
                    f"id)")
            if lid < 0:
                reason = "label id out of range"
                break
            labels.append(lid)
        cols, vals = [], []
        for tok in feature_tokens if reason is None else ():
            fid, colon, val = tok.partition(":")
            try:
                fid_i, val_f = int(fid), float(val)
            except ValueError:
                reason = "malformed feature token"
                break
            if not colon or ":" in val:
                reason = "malformed feature token"
                break
            if fid_i >= d:
                raise DataFileError(
                    f"{where}feature id {fid_i} >= D={d} "
                    f"({'the header' if d_given is None else 'the train file header'} says "
                    f"{d} features); fix the header 'N D L' (D must exceed every feature id)")
            if fid_i < 0:
                reason = "feature id out of range"
                break
            if not math.isfinite(val_f):
                reason = "non-finite feature value"
                break
            cols.append(fid_i)
            vals.append(val_f)
        if reason is not None:
            skipped.add(reason, where + line)
            continue
        indices.extend(cols)
        values.extend(vals)
        indptr.append(len(indices))
        label_rows.append(labels)

    if not label_rows:
        raise ValueError(f"{path}: no valid row (skipped so far: {dict(skipped.counts)})")
    if n_read != n_head:
        header_counts.setdefault("header_mismatch", []).append(
            f"{path.name}: header says N={n_head} rows, file has {n_read}")
    X = sp.csr_matrix((np.frombuffer(values, dtype=np.float32),
                       np.frombuffer(indices, dtype=np.int64),
                       np.frombuffer(indptr, dtype=np.int64)), shape=(len(label_rows), d))
    n_dup = X.nnz
    X.sum_duplicates()
    if X.nnz != n_dup:
        header_counts["duplicate_feature_entries_summed"] = (
            header_counts.get("duplicate_feature_entries_summed", 0) + n_dup - X.nnz)
    return X, label_matrix(label_rows, n_labels), header


def _load_text(data_dir, config: XMCConfig, skipped: SkipReport, info: dict):
    train_path = find_files(data_dir, config.name, _file_patterns(config.train_file),
                            HOW_TO_OBTAIN)[0]
    test_path = find_files(data_dir, config.name, _file_patterns(config.test_file),
                           HOW_TO_OBTAIN)[0]
    X_trn, Y_trn, head_trn = _read_text(train_path, None, None, skipped, info)
    d, n_labels = head_trn["D"], head_trn["L"]
    X_tst, Y_tst, head_tst = _read_text(test_path, d, n_labels, skipped, info)
    if (head_tst["D"], head_tst["L"]) != (d, n_labels):
        info.setdefault("header_mismatch", []).append(
            f"{test_path.name}: header D={head_tst['D']} L={head_tst['L']} differs from the "
            f"train file's D={d} L={n_labels}; the train shapes are used")
    info.update(format="text", source=[str(train_path), str(test_path)],
                header={"train": head_trn, "test": head_tst})
    return X_trn, Y_trn, X_tst, Y_tst


def _load_npz_matrix(path: Path) -> sp.csr_matrix:
    try:
        M = sp.load_npz(path)
    except Exception as exc:  # numpy/scipy raise several types for unreadable files
        raise ValueError(f"{path}: not a scipy sparse .npz file ({exc})") from exc
    return sp.csr_matrix(M, dtype=np.float32)


def _load_npz(data_dir, config: XMCConfig, skipped: SkipReport, info: dict):
    paths = [find_files(data_dir, config.name, [name], HOW_TO_OBTAIN,
                        subdir=config.npz_dir)[0] for name in NPZ_FILES]
    X_trn, Y_trn, X_tst, Y_tst = (_load_npz_matrix(p) for p in paths)
    for (X, Y), (px, py) in (((X_trn, Y_trn), paths[:2]), ((X_tst, Y_tst), paths[2:])):
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"{px} has {X.shape[0]} rows but {py} has {Y.shape[0]}")
    if X_trn.shape[1] != X_tst.shape[1]:
        raise ValueError(f"{paths[0]} has {X_trn.shape[1]} features but {paths[2]} has "
                         f"{X_tst.shape[1]}")
    if Y_trn.shape[1] != Y_tst.shape[1]:
        raise ValueError(f"{paths[1]} has {Y_trn.shape[1]} labels but {paths[3]} has "
                         f"{Y_tst.shape[1]}")
    out = []
    for (X, Y), px in (((X_trn, Y_trn), paths[0]), ((X_tst, Y_tst), paths[2])):
        bad = np.zeros(X.shape[0], dtype=bool)
        bad_entries = np.flatnonzero(~np.isfinite(X.data))
        bad[np.searchsorted(X.indptr, bad_entries, side="right") - 1] = True
        for r in np.flatnonzero(bad):
            skipped.add("non-finite feature value", f"{px.name} row {r}")
        keep = np.flatnonzero(~bad)
        if keep.size == 0:
            raise ValueError(f"{px}: no valid row (every row has a non-finite value)")
        X, Y = X[keep], Y[keep]
        if Y.nnz and not np.all(Y.data == 1.0):
            info["Y_binarised"] = "Y held values other than 1: entries > 0 set to 1, rest dropped"
            Y.data = (Y.data > 0).astype(np.float32)
            Y.eliminate_zeros()
        out += [X, Y]
    info.update(format="npz", source=[str(p) for p in paths])
    return tuple(out)


def load_xmc(data_dir: str | Path, config: XMCConfig = XMCConfig()) -> XMRDataset:
    """An XMC benchmark as :class:`XMRDataset` with ``X`` set (``texts`` None)."""
    _check_config(config)
    skipped = SkipReport()
    info: dict = {"config": asdict(config),
                  "normalize_rows": "L2" if config.normalize_rows else "raw features"}
    loader = _load_text if config.format == "text" else _load_npz
    X_trn, Y_trn, X_tst, Y_tst = loader(data_dir, config, skipped, info)
    if config.normalize_rows:
        X_trn, X_tst = normalize_rows(X_trn), normalize_rows(X_tst)
    n_labels = Y_trn.shape[1]
    info.update(n_features=X_trn.shape[1], n_labels=n_labels,
                n_rows={"train": X_trn.shape[0], "test": X_tst.shape[0]})
    if "header_mismatch" in info:
        logger.warning("%s: %s", config.name, "; ".join(info["header_mismatch"]))
    if skipped.total:
        logger.warning("%s: skipped malformed rows %s", config.name, dict(skipped.counts))
    return XMRDataset(
        name=config.name,
        splits={"train": XMRSplit(Y=Y_trn, X=X_trn), "test": XMRSplit(Y=Y_tst, X=X_tst)},
        label_ids=[str(j) for j in range(n_labels)], skipped=skipped, info=info)
