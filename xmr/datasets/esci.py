"""Amazon Shopping Queries (ESCI): queries → products with Exact/Substitute/Complement/
Irrelevant judgements.

Two input forms, picked automatically (``source="auto"``: parquet when present):

(a) the official parquet files ``shopping_queries_dataset_examples.parquet`` (columns
    ``example_id, query, query_id, product_id, product_locale, esci_label, small_version,
    large_version, split``) and, for titles, ``shopping_queries_dataset_products.parquet``
    (``product_id, product_title, ..., product_locale``). Rows are kept for one locale and one
    version (``small``: ``small_version == 1``, the reduced Task-1 set; ``large``:
    ``large_version == 1``); the split is the official ``split`` column. Read in batches.
(b) a TSV of judgements ``query, product_id, rating, esci_label_inferred`` (ratings 100/10/1/0
    = E/S/C/I), e.g. the 150-query ``esci-mini/esci_us_judgments.tsv.gz``: no titles and no
    split column, so queries are split seeded (``test_fraction``, ``seed``).

Positives are E (``positives="E"``) or E and S (``"ES"``); queries without one are dropped
(counted in ``dataset.skipped``). Labels are product ids (ASINs), sorted.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from xmr._validation import check_choice, check_int
from xmr.datasets._build import (
    LABEL_SETS,
    NO_POSITIVE,
    check_split_settings,
    judgements_to_dataset,
)
from xmr.datasets._io import DataNotFoundError, find_files, iter_lines
from xmr.datasets.tasks import SkipReport, XMRDataset

logger = logging.getLogger(__name__)

EXAMPLES_FILE = "shopping_queries_dataset_examples.parquet"
PRODUCTS_FILE = "shopping_queries_dataset_products.parquet"
PARQUET_PATTERNS = tuple(f"{d}{EXAMPLES_FILE}" for d in (
    "", "esci/", "shopping_queries_dataset/", "esci/shopping_queries_dataset/",
    "esci-data/shopping_queries_dataset/"))
HOW_TO_OBTAIN = (
    "Get the parquet files from https://github.com/amazon-science/esci-data "
    "(shopping_queries_dataset/, Apache-2.0) into the data folder's esci/ subfolder, or put a "
    "judgements TSV (query, product_id, rating, esci_label_inferred) at "
    "esci-mini/esci_<locale>_judgments.tsv.gz")
EXAMPLE_COLUMNS = ("query", "query_id", "product_id", "product_locale", "esci_label", "split")
TSV_COLUMNS = ("query", "product_id", "rating", "esci_label_inferred")
ESCI_LABELS = ("E", "S", "C", "I")
RATING_LABEL = {100.0: "E", 10.0: "S", 1.0: "C", 0.0: "I"}  # the TSV's rating ↔ ESCI label
POSITIVES = {"E": frozenset("E"), "ES": frozenset("ES")}
LOCALES = ("us", "es", "jp")
VERSIONS = ("small", "large")
SOURCES = ("auto", "parquet", "tsv")
SPLITS = ("train", "test")


def tsv_patterns(locale: str) -> tuple[str, ...]:
    return (f"esci-mini/esci_{locale}_judgments.tsv*", f"esci/esci_{locale}_judgments.tsv*",
            f"esci_{locale}_judgments.tsv*")


@dataclass
class ESCIConfig:
    positives: str = "ES"  # "E": Exact only; "ES": Exact or Substitute are positives
    locale: str = "us"  # product_locale kept: "us", "es" or "jp"
    version: str = "small"  # parquet: "small" (small_version == 1) or "large" (large_version)
    source: str = "auto"  # "auto": parquet if present, else the TSV; "parquet"; "tsv"
    test_fraction: float = 0.2  # TSV only (no split column): share of queries held out
    seed: int = 0  # TSV only: seeds the query split
    title_as_input: bool = False  # parquet only: each label's title as a training row
    label_set: str = "positive"  # "positive": products in >= 1 positive pair; "judged": all
    batch_size: int = 65_536  # parquet rows read per batch


def _check_config(config: ESCIConfig) -> None:
    check_choice("positives", config.positives, POSITIVES)
    check_choice("locale", config.locale, LOCALES)
    check_choice("version", config.version, VERSIONS)
    check_choice("source", config.source, SOURCES)
    check_split_settings(config.test_fraction, config.seed)
    if not isinstance(config.title_as_input, bool):
        raise TypeError(f"title_as_input must be a bool, got {config.title_as_input!r}")
    check_choice("label_set", config.label_set, LABEL_SETS)
    check_int("batch_size", config.batch_size, minimum=1)


def _import_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError(
            "reading the ESCI parquet files needs pyarrow: pip install 'pyarrow==25.0.1' "
            "(or load a judgements TSV with ESCIConfig(source='tsv'))") from exc
    return pq


class _Judgements:
    """Accumulates validated (query, product, ESCI label[, split]) rows."""

    def __init__(self, positive_labels: frozenset, skipped: SkipReport):
        self.positive_labels, self.skipped = positive_labels, skipped
        self.positives: dict[str, list[str]] = {}  # query key → positive products
        self.texts: dict[str, str] = {}  # query key → query text
        self.split_of: dict[str, str] = {}  # query key → official split (parquet)
        self.products: set[str] = set()  # every product in a kept row
        self.seen: set[tuple[str, str]] = set()
        self.n_valid = 0
        self.text_conflicts = 0  # rows whose query text differs from its query id's first

    def add(self, key: str, text: str, pid: str, label: str, split: str | None) -> str | None:
        """Keep one validated row; returns why it was refused (the caller counts it)."""
        if split is not None and self.split_of.setdefault(key, split) != split:
            return "split disagrees with the query's earlier rows"
        if (key, pid) in self.seen:
            return "duplicate (query, product) pair"
        self.seen.add((key, pid))
        self.n_valid += 1
        if self.texts.setdefault(key, text) != text:
            self.text_conflicts += 1
        self.products.add(pid)
        if label in self.positive_labels:
            self.positives.setdefault(key, []).append(pid)
        else:
            self.positives.setdefault(key, [])
        return None

    def finish(self, path: Path) -> None:
        if self.n_valid == 0:
            raise ValueError(f"{path}: no valid row "
                             f"(skipped: {self.skipped.as_dict()['by_reason']})")
        for key in sorted(k for k, prods in self.positives.items() if not prods):
            self.skipped.add(NO_POSITIVE, self.texts[key])
            del self.positives[key]
        if not self.positives:
            raise ValueError(f"{path}: no positive pair ({self.n_valid} valid rows)")


def _blank(value) -> bool:
    return value is None or not isinstance(value, str) or not value.strip()


def _read_parquet(path: Path, config: ESCIConfig, acc: _Judgements) -> dict:
    pq = _import_parquet()
    version_col = f"{config.version}_version"
    columns = [*EXAMPLE_COLUMNS, version_col]
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise ValueError(f"{path}: not a readable parquet file ({exc})") from exc
    missing = [c for c in columns if c not in pf.schema_arrow.names]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} (has {pf.schema_arrow.names})")
    other_locale = other_version = 0
    offset = 0
    for batch in pf.iter_batches(batch_size=config.batch_size, columns=columns):
        cols = [batch.column(c).to_pylist() for c in columns]
        for i, row in enumerate(zip(*cols)):
            query, qid, pid, locale, label, split, flag = row
            if _blank(locale):
                reason = "bad locale"
            elif flag not in (0, 1):  # None, nan, 2, "1" are refused; 0.0/1.0/bools pass
                reason = f"bad {version_col} flag"
            elif locale.strip() != config.locale:
                other_locale += 1
                continue
            elif flag != 1:
                other_version += 1
                continue
            elif _blank(query):
                reason = "empty query"
            elif qid is None or (isinstance(qid, float) and math.isnan(qid)):
                reason = "missing query id"
            elif _blank(pid):
                reason = "empty product id"
            elif label not in ESCI_LABELS:
                reason = "bad esci label"
            elif split not in SPLITS:
                reason = "bad split value"
            else:
                reason = acc.add(str(qid), query.strip(), pid.strip(), label, split)
            if reason is not None:  # the example is built only for refused rows
                acc.skipped.add(reason, f"{path.name} row {offset + i}: {row!r}")
        offset += batch.num_rows
    acc.finish(path)
    return {"rows_of_other_locales": other_locale,
            f"rows_with_{version_col}_0": other_version}


def _read_titles(path: Path, config: ESCIConfig, wanted: set[str]) -> dict[str, str]:
    pq = _import_parquet()
    columns = ["product_id", "product_title", "product_locale"]
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable parquet file ({exc})") from exc
    missing = [c for c in columns if c not in pf.schema_arrow.names]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} (has {pf.schema_arrow.names})")
    titles: dict[str, str] = {}
    for batch in pf.iter_batches(batch_size=config.batch_size, columns=columns):
        for pid, title, locale in zip(*(batch.column(c).to_pylist() for c in columns)):
            if isinstance(pid, str) and locale == config.locale and pid.strip() in wanted:
                titles.setdefault(pid.strip(), title.strip() if isinstance(title, str) else "")
    return titles


def _read_tsv(path: Path, acc: _Judgements) -> None:
    lines = iter_lines(path)
    _, raw_header = next(lines, (0, b""))
    header = raw_header.decode("utf-8", errors="replace").lstrip("\ufeff").split("\t")
    names = [h.strip() for h in header]
    missing = [c for c in TSV_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"{path}: header must have the tab-separated columns "
                         f"{list(TSV_COLUMNS)}, missing {missing} (header: {header[:8]})")
    i_query, i_pid, i_rating, i_label = (names.index(c) for c in TSV_COLUMNS)
    for number, raw in lines:
        where = f"{path.name}:{number}: "
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            acc.skipped.add("invalid UTF-8", where + raw.decode("utf-8", errors="replace"))
            continue
        where += line
        if not line.strip():
            acc.skipped.add("blank line", where)
            continue
        fields = line.split("\t")
        if len(fields) != len(names):
            acc.skipped.add("wrong column count", where)
            continue
        query, pid = fields[i_query].strip(), fields[i_pid].strip()
        label = fields[i_label].strip()
        if not query:
            acc.skipped.add("empty query", where)
            continue
        if not pid:
            acc.skipped.add("empty product id", where)
            continue
        try:
            rating = float(fields[i_rating])
        except ValueError:
            acc.skipped.add("non-numeric rating", where)
            continue
        if rating not in RATING_LABEL:
            acc.skipped.add("bad relevance (rating not 100/10/1/0)", where)
            continue
        if label not in ESCI_LABELS:
            acc.skipped.add("bad esci label", where)
            continue
        if RATING_LABEL[rating] != label:
            acc.skipped.add("rating disagrees with esci label", where)
            continue
        reason = acc.add(query, query, pid, label, None)
        if reason is not None:
            acc.skipped.add(reason, where)
    acc.finish(path)


def load_esci(data_dir: str | Path, config: ESCIConfig = ESCIConfig()) -> XMRDataset:
    """ESCI queries → products (labels: product ids; label texts: titles when the parquet
    products file is present, else None).

    Malformed rows (wrong column count, invalid UTF-8, empty query or product id, a rating or
    ESCI label outside the scheme, a bad split or version value, a repeated (query, product)
    pair) are skipped and counted in ``dataset.skipped``.
    """
    _check_config(config)
    patterns = {"auto": PARQUET_PATTERNS + tsv_patterns(config.locale),
                "parquet": PARQUET_PATTERNS, "tsv": tsv_patterns(config.locale)}[config.source]
    path = find_files(data_dir, "esci", patterns, HOW_TO_OBTAIN)[0]
    skipped = SkipReport()
    acc = _Judgements(POSITIVES[config.positives], skipped)
    info: dict = {"source": str(path), "config": asdict(config),
                  "positives": "ESCI label " + " or ".join(config.positives),
                  "locale": config.locale}

    if path.suffix == ".parquet":
        info.update(_read_parquet(path, config, acc))
        info.update(format="parquet", version=f"{config.version}_version == 1",
                    split="official split column", queries="keyed by query_id")
        products_path = path.parent / PRODUCTS_FILE
        if products_path.is_file():
            wanted = acc.products if config.label_set == "judged" else {
                p for prods in acc.positives.values() for p in prods}
            titles = _read_titles(products_path, config, wanted)
            info["products_source"] = str(products_path)
            info["labels_without_title"] = sum(not titles.get(p) for p in wanted)
        elif config.title_as_input:
            raise DataNotFoundError(
                "esci", f"{PRODUCTS_FILE} (needed for title_as_input=True)", path.parent,
                HOW_TO_OBTAIN)
        else:
            titles = None
            info["products_source"] = f"{PRODUCTS_FILE} not found: no label texts"
        split_of = acc.split_of
    else:
        if config.title_as_input:
            raise ValueError(f"title_as_input=True needs product titles, and {path} (a "
                             "judgements TSV) has none: use the parquet files or set "
                             "title_as_input=False")
        _read_tsv(path, acc)
        info.update(format="tsv", version="n/a (the TSV has no version columns)",
                    split=(f"by query, seeded (seed={config.seed}, "
                           f"test_fraction={config.test_fraction})"),
                    queries="keyed by text (surrounding whitespace stripped, case kept)")
        titles, split_of = None, None

    info.update(n_valid_rows=acc.n_valid, n_judged_queries=len(acc.texts),
                n_judged_products=len(acc.products), query_text_conflicts=acc.text_conflicts)
    dataset = judgements_to_dataset(
        "esci", acc.positives, judged_products=acc.products, label_set=config.label_set,
        split_of=split_of, test_fraction=config.test_fraction, seed=config.seed,
        query_texts=acc.texts, titles=titles, title_as_input=config.title_as_input,
        skipped=skipped, info=info)
    malformed = {k: v for k, v in skipped.counts.items() if k != NO_POSITIVE}
    if malformed:
        logger.warning("esci: skipped malformed rows %s", malformed)
    return dataset
