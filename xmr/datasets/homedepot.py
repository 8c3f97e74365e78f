"""Home Depot Product Search Relevance (Kaggle): real queries → products, from judged pairs.

The competition's ``train.csv`` (latin-1; columns ``id, product_uid, product_title,
search_term, relevance``) holds 74,067 (query, product) pairs whose relevance is a crowd
average in [1, 3]. A pair is positive when ``relevance >= relevance_threshold`` (2.67 gives
34,338 positive pairs over 9,716 queries). Instances are the distinct queries that have a
positive pair, labels are products (their ``product_uid``), label texts are product titles.
The split is by query: all pairs of a query fall on one side.

Most products occur once, so many test products never appear as a training positive. With
``title_as_input=True`` every label's title is added as an extra *training* row whose only
label is that product (the "title → product" protocol); ``dataset.info["protocol"]`` says which
protocol was used, and results must report it.

This module also holds the helpers the other judgement-based loaders (ESCI) share:
:func:`split_queries`, :func:`label_matrix` and :func:`judgements_to_dataset`.
"""

from __future__ import annotations

import codecs
import csv
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from xmr._validation import check_choice, check_float
from xmr.datasets._build import LABEL_SETS, NO_POSITIVE, check_split_settings, judgements_to_dataset
from xmr.datasets._io import DataFileError, find_files, raw_lines
from xmr.datasets.tasks import SkipReport, XMRDataset

logger = logging.getLogger(__name__)

PATTERNS = ("homedepot/homedepot_train.csv.gz", "homedepot/train.csv*", "train.csv*")
HOW_TO_OBTAIN = (
    "Download train.csv from https://www.kaggle.com/c/home-depot-product-search-relevance/data "
    "(Kaggle competition data: internal research use only) and put it, optionally gzipped, "
    "in the data folder's homedepot/ subfolder")
COLUMNS = ("id", "product_uid", "product_title", "search_term", "relevance")
SINGLE_BYTE_CODECS = ("iso8859-1", "cp1252", "iso8859-15")  # decode any byte: no error on UTF-8
RELEVANCE_RANGE = (1.0, 3.0)  # crowd averages of 1 (irrelevant) .. 3 (perfect match)


@dataclass
class HomeDepotConfig:
    relevance_threshold: float = 2.67  # pairs with relevance >= this are positives
    test_fraction: float = 0.2  # share of queries (not pairs) held out for test
    seed: int = 0  # seeds the query split
    title_as_input: bool = False  # add each label's title as a training row → that product
    label_set: str = "positive"  # "positive": products in >= 1 positive pair; "judged": all
    encoding: str = "latin-1"  # the Kaggle file is latin-1, not UTF-8


# --------------------------------------------------------------------------------------
# Shared helpers for judgement-based loaders (query → products).


def _check_config(config: HomeDepotConfig) -> None:
    check_float("relevance_threshold", config.relevance_threshold, minimum=-math.inf)
    check_split_settings(config.test_fraction, config.seed)
    if not isinstance(config.title_as_input, bool):
        raise TypeError(f"title_as_input must be a bool, got {config.title_as_input!r}")
    check_choice("label_set", config.label_set, LABEL_SETS)
    if not isinstance(config.encoding, str) or not config.encoding:
        raise ValueError(f"encoding must be a codec name, got {config.encoding!r}")
    try:
        codecs.lookup(config.encoding)
    except LookupError as exc:
        raise ValueError(f"encoding {config.encoding!r} is not a codec Python knows (e.g. "
                         f"'latin-1', 'utf-8')") from exc


def _csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a CSV file, streaming and gzip-transparent. Undecodable
    bytes are kept as lone surrogates (``surrogateescape``) so the caller can skip the row.

    Read with a single-byte codec (latin-1, cp1252), a file whose every non-ASCII line is
    valid UTF-8 is a UTF-8 file: decoding it as latin-1 would turn "é" into "Ã©" silently, so
    it raises :class:`DataFileError` saying to set ``encoding=utf-8``."""
    single_byte = codecs.lookup(encoding).name in SINGLE_BYTE_CODECS
    utf8_lines, other_lines, example = 0, 0, None

    def lines():
        nonlocal utf8_lines, other_lines, example
        for number, raw in raw_lines(path):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # UTF-8 byte-order mark
            if single_byte and not raw.isascii():
                try:
                    text = raw.decode("utf-8")
                    utf8_lines += 1
                    example = example or (number, text.strip()[:80])
                except UnicodeDecodeError:
                    other_lines += 1
            yield raw.decode(encoding, errors="surrogateescape")

    reader = csv.reader(lines())
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over the csv module's size limit
            yield reader.line_num, [f"<csv error: {exc}>"]
            continue
        yield reader.line_num, fields
    if utf8_lines and not other_lines:
        raise DataFileError(
            f"{path} is UTF-8 (all {utf8_lines} lines with non-ASCII bytes are valid UTF-8, "
            f"e.g. line {example[0]}: {example[1]!r}) but is read as {encoding}, which would "
            f"garble them (é → Ã©); set data.options.encoding=utf-8 (HomeDepotConfig"
            f"(encoding='utf-8'))")


def _undecodable(fields: Sequence[str]) -> bool:
    try:
        for f in fields:
            f.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def load_homedepot(data_dir: str | Path,
                   config: HomeDepotConfig = HomeDepotConfig()) -> XMRDataset:
    """Home Depot queries → products (labels: ``product_uid``; label texts: titles).

    Malformed rows (wrong column count, undecodable bytes, empty query or product id,
    non-numeric or out-of-range relevance, repeated (query, product) pairs) are skipped and
    counted in ``dataset.skipped``; queries without a positive pair are dropped and counted.
    """
    _check_config(config)
    path = find_files(data_dir, "homedepot", PATTERNS, HOW_TO_OBTAIN)[0]
    skipped = SkipReport()

    rows = _csv_rows(path, config.encoding)
    header = next(rows, (0, []))[1]
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ValueError(f"{path}: header must have the columns {list(COLUMNS)}, "
                         f"missing {missing} (header: {header[:8]})")
    i_pid, i_title, i_query, i_rel = (names.index(c) for c in COLUMNS[1:])

    positives: dict[str, list[str]] = {}
    judged_queries: set[str] = set()
    titles: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    n_valid, n_title_conflicts = 0, 0
    lo, hi = RELEVANCE_RANGE
    for number, fields in rows:
        where = f"{path.name}:{number}: "
        if not fields:
            skipped.add("blank line", where)
            continue
        if len(fields) != len(names):
            skipped.add("wrong column count", where + ",".join(fields))
            continue
        if _undecodable(fields):
            skipped.add(f"invalid {config.encoding}",
                        where + ",".join(fields).encode("utf-8", "replace").decode())
            continue
        query, pid = fields[i_query].strip(), fields[i_pid].strip()
        if not query:
            skipped.add("empty query", where + ",".join(fields))
            continue
        if not pid:
            skipped.add("empty product id", where + ",".join(fields))
            continue
        try:
            rel = float(fields[i_rel])
        except ValueError:
            skipped.add("non-numeric relevance", where + ",".join(fields))
            continue
        if not lo <= rel <= hi:  # also catches nan
            skipped.add("relevance out of range", where + ",".join(fields))
            continue
        if (query, pid) in seen:
            skipped.add("duplicate (query, product) pair", where + ",".join(fields))
            continue
        seen.add((query, pid))
        n_valid += 1
        title = fields[i_title].strip()
        if pid not in titles or (not titles[pid] and title):
            titles[pid] = title
        elif title and title != titles[pid]:
            n_title_conflicts += 1
        judged_queries.add(query)
        if rel >= config.relevance_threshold:
            positives.setdefault(query, []).append(pid)

    if n_valid == 0:
        raise ValueError(f"{path}: no valid row (skipped: {skipped.as_dict()['by_reason']})")
    if not positives:
        raise ValueError(f"{path}: no pair has relevance >= {config.relevance_threshold} "
                         f"({n_valid} valid rows)")
    for query in sorted(judged_queries - positives.keys()):
        skipped.add(NO_POSITIVE, query)

    info = {
        "source": str(path),
        "config": asdict(config),
        "positives": f"relevance >= {config.relevance_threshold}",
        "split": f"by query, seeded (seed={config.seed}, test_fraction={config.test_fraction})",
        "queries": "search_term as given (surrounding whitespace stripped, case kept)",
        "n_valid_rows": n_valid,
        "n_judged_queries": len(judged_queries),
        "n_judged_products": len(titles),
        "title_conflicts": n_title_conflicts,  # rows whose title differs from the first seen
    }
    dataset = judgements_to_dataset(
        "homedepot", positives, judged_products=titles.keys(), label_set=config.label_set,
        test_fraction=config.test_fraction, seed=config.seed, titles=titles,
        title_as_input=config.title_as_input, skipped=skipped, info=info)
    malformed = {k: v for k, v in skipped.counts.items() if k != NO_POSITIVE}
    if malformed:
        logger.warning("homedepot: skipped malformed rows %s", malformed)
    return dataset
