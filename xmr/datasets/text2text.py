"""PECOS text2text files: input texts → output items (labels) given by their line numbers.

* a label file: one output item (label text) per line; line ``i`` (0-based) is label ``i``
  (PECOS's ``--output-item-path``);
* train / test files: one instance per line, ``label_ids<TAB>text`` with comma-separated
  0-based label ids (``1,4<TAB>some text``). An id may carry a relevance, ``4::2.0`` (PECOS's
  ``train_with_rel`` form); relevances must be positive numbers and are binarised (Y is 0/1).

Malformed lines (no tab, invalid UTF-8, empty text, no label id, a non-numeric or
out-of-range label id, a bad relevance) are skipped and counted in ``dataset.skipped``.
``label_ids`` are ``"0", "1", …`` and ``label_texts`` the label file's lines.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from xmr.datasets._build import label_matrix
from xmr.datasets._io import find_files, iter_lines
from xmr.datasets.tasks import SkipReport, XMRDataset, XMRSplit

logger = logging.getLogger(__name__)

HOW_TO_OBTAIN = (
    "Write the files in PECOS's text2text format: a label file with one output item per line "
    "and train/test files of 'label_ids<TAB>text' lines (see "
    "https://github.com/amzn/pecos/tree/mainline/pecos/apps/text2text)")


@dataclass
class Text2TextConfig:
    name: str = "text2text"  # dataset name (for messages and dataset.name)
    train_file: str = "train.txt"  # 'label_ids<TAB>text' lines, relative to data_dir
    test_file: str = "test.txt"  # same format, relative to data_dir
    label_file: str = "output_items.txt"  # one label text per line; line i = label i


def _check_config(config: Text2TextConfig) -> None:
    for field in ("name", "train_file", "test_file", "label_file"):
        value = getattr(config, field)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{field} must be a non-empty string, got {value!r}")


def _read_labels(path: Path, info: dict) -> list[str]:
    labels, n_replaced = [], 0
    for _, raw in iter_lines(path):
        try:
            labels.append(raw.decode("utf-8"))
        except UnicodeDecodeError:  # keep the line (ids are line numbers), mark the bytes
            labels.append(raw.decode("utf-8", errors="replace"))
            n_replaced += 1
    n_trailing = 0
    while labels and not labels[-1].strip():
        labels.pop()
        n_trailing += 1
    if not labels:
        raise ValueError(f"{path}: no label text (the label file is empty)")
    empty = sum(not t.strip() for t in labels)
    info["label_file"] = {"labels": len(labels), "invalid_utf8_lines_replaced": n_replaced,
                          "empty_label_texts": empty, "trailing_blank_lines_dropped": n_trailing}
    if n_replaced or empty:
        logger.warning("%s: %d label lines had invalid UTF-8 (replaced), %d are empty",
                       path, n_replaced, empty)
    return labels


def _parse_label_field(field: str, n_labels: int) -> tuple[list[int], str | None, bool]:
    """(label ids, skip reason or None, whether relevances were given)."""
    ids, has_rel = [], False
    if not field.strip():
        return ids, "no label ids", has_rel
    for item in field.split(","):
        lid, sep, rel = item.strip().partition("::")
        try:
            lid_i = int(lid)
        except ValueError:
            return ids, "non-numeric label id", has_rel
        if not 0 <= lid_i < n_labels:
            return ids, "label id out of range", has_rel
        if sep:
            has_rel = True
            try:
                rel_f = float(rel)
            except ValueError:
                return ids, "bad relevance", has_rel
            if not (math.isfinite(rel_f) and rel_f > 0):
                return ids, "bad relevance", has_rel
        ids.append(lid_i)
    return ids, None, has_rel


def _read_split(path: Path, n_labels: int, skipped: SkipReport) -> tuple[XMRSplit, bool]:
    texts, rows, any_rel = [], [], False
    for number, raw in iter_lines(path):
        where = f"{path.name}:{number}: "
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            skipped.add("invalid UTF-8", where + raw.decode("utf-8", errors="replace"))
            continue
        where += line
        if not line.strip():
            skipped.add("blank line", where)
            continue
        field, tab, text = line.partition("\t")
        if not tab:
            skipped.add("wrong column count (no tab)", where)
            continue
        if not text.strip():
            skipped.add("empty text", where)
            continue
        ids, reason, has_rel = _parse_label_field(field, n_labels)
        if reason is not None:
            skipped.add(reason, where)
            continue
        any_rel |= has_rel
        texts.append(text)
        rows.append(ids)
    if not rows:
        raise ValueError(f"{path}: no valid row (skipped so far: {dict(skipped.counts)})")
    return XMRSplit(Y=label_matrix(rows, n_labels), texts=texts), any_rel


def load_text2text(data_dir: str | Path,
                   config: Text2TextConfig = Text2TextConfig()) -> XMRDataset:
    """PECOS text2text train/test files and label file as an :class:`XMRDataset`."""
    _check_config(config)
    paths = {key: find_files(data_dir, config.name, [getattr(config, key)], HOW_TO_OBTAIN)[0]
             for key in ("label_file", "train_file", "test_file")}
    skipped = SkipReport()
    info: dict = {"config": asdict(config), "source": {k: str(p) for k, p in paths.items()}}
    label_texts = _read_labels(paths["label_file"], info)
    n_labels = len(label_texts)
    splits, rel = {}, False
    for split, key in (("train", "train_file"), ("test", "test_file")):
        splits[split], has_rel = _read_split(paths[key], n_labels, skipped)
        rel |= has_rel
    info.update(n_labels=n_labels, n_rows={s: part.n for s, part in splits.items()},
                relevances="given as id::rel, binarised" if rel else "none (0/1 labels)")
    if skipped.total:
        logger.warning("%s: skipped malformed lines %s", config.name, dict(skipped.counts))
    return XMRDataset(name=config.name, splits=splits,
                      label_ids=[str(i) for i in range(n_labels)], label_texts=label_texts,
                      skipped=skipped, info=info)
