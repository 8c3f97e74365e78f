"""The AOL loader: normalisation, sessions, splits, prefixes, bad input, the real file's counts."""

from __future__ import annotations

import csv
import gzip
import hashlib
import random
import re
from collections import defaultdict
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from xmr.datasets._io import DataNotFoundError
from xmr.datasets.aol import (
    BAD_ANON_ID,
    BAD_COLUMNS,
    BAD_TIME,
    BAD_UTF8,
    EMPTY_QUERY,
    GENERATOR_VERSION,
    AOLConfig,
    load_aol,
    normalize_query,
    synthetic_log_complete,
    write_synthetic_aol_file,
    write_synthetic_aol_log,
)

HEADER = b"AnonID\tQuery\tQueryTime\tItemRank\tClickURL"


def _row(uid, query, when, rank="", url="") -> bytes:
    q = query if isinstance(query, bytes) else query.encode()
    return b"\t".join([str(uid).encode(), q, when.encode(), rank.encode(), url.encode()])


# Two users; every session rule and every malformed-row kind, with the expected outcome.
USER_10 = [
    _row(10, "Running  Shoes", "2006-03-01 10:00:00", "1", "http://a.com"),
    _row(10, "Running  Shoes", "2006-03-01 10:00:00", "2", "http://b.com"),  # same event
    b"10\tonly two columns",  # wrong column count
    _row("abc", "foo", "2006-03-01 10:01:00"),  # non-integer AnonID
    _row(10, "foo", "2006-13-01 10:02:00"),  # bad month
    _row(10, "foo", "2006-03-01 24:02:00"),  # bad hour
    _row(10, "foo", "yesterday"),  # not a timestamp
    _row(10, b"caf\xe9", "2006-03-01 10:03:00"),  # invalid UTF-8 (latin-1 byte)
    _row(10, "...", "2006-03-01 10:04:00"),  # empty after normalisation
    _row(10, "running shoes", "2006-03-01 10:30:00"),  # +1800 s: same session; duplicate
    _row(10, "running shoes for women", "2006-03-01 10:40:00"),
    _row(10, "Nike.com", "2006-03-01 11:10:01"),  # +1801 s: new, one-query session
    _row(10, "weather", "2006-03-01 14:00:00"),
    _row(10, "weather boston", "2006-03-01 14:05:00"),
]
USER_20 = [
    _row(20, "a", "2006-05-15 23:50:00"),  # starts on the last train day ...
    _row(20, "b c", "2006-05-16 00:10:00"),  # ... and continues into valid: train
    _row(20, "x", "2006-05-20 12:00:00"),
    _row(20, "y!", "2006-05-20 12:10:00"),
    _row(20, "p", "2006-05-24 00:00:00"),
    _row(20, "q", "2006-05-24 00:01:00"),
    _row(20, "?!", "2006-05-24 00:20:00"),  # empty: does not extend the session, so ...
    _row(20, "r", "2006-05-24 00:45:00"),  # ... 2640 s after "q": a new one-query session
    _row(20, "late", "2006-06-01 08:00:00"),  # session after every split range: dropped
    _row(20, "later", "2006-06-01 08:01:00"),
]
EXPECTED = {
    "train": [("running shoes", "running shoes for women"), ("weather", "weather boston"),
              ("a", "b c")],
    "valid": [("x", "y")],
    "test": [("p", "q")],
}
EXPECTED_SKIPS = {BAD_COLUMNS: 1, BAD_ANON_ID: 1, BAD_TIME: 3, BAD_UTF8: 1, EMPTY_QUERY: 2}


def _write(path: Path, lines: list[bytes], *, header: bool = True) -> Path:
    data = b"\n".join(([HEADER] if header else []) + lines) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


def _pairs(ds, split):
    s = ds.splits[split]
    return list(zip(s.prev_queries, s.next_queries))


@pytest.fixture()
def tiny_dir(tmp_path) -> Path:
    _write(tmp_path / "user-ct-test-collection-01.txt.gz", USER_10 + USER_20)
    return tmp_path


# ------------------------------------------------------------------------- normalisation

def _reference_normalize(q: str) -> str:
    """PECOS qp2q's normalisation, token by token, as published."""
    tokens = [t for w in q.split() for t in w.split(".")]
    return " ".join(re.sub(r"\W+", "", t) for t in tokens).lower().strip()


@pytest.mark.parametrize("raw, expected", [
    ("Running Shoes", "running shoes"),
    ("  www.Google.com ", "www google com"),
    ("mapquest.com", "mapquest com"),
    ("don't stop-believing!", "dont stopbelieving"),
    ("a . b", "a   b"),  # empty tokens are joined too, as in the reference
    ("C++ tutorial", "c tutorial"),
    ("café  au\tlait", "café au lait"),
    ("snake_case", "snake_case"),  # "_" is a word character
    ("...", ""),
    ("-", ""),
    ("", ""),
])
def test_normalize_query_examples(raw, expected):
    assert normalize_query(raw) == expected
    assert _reference_normalize(raw) == expected


def test_normalize_query_matches_reference_on_fuzz():
    rng = random.Random(0)
    alphabet = "aZ09 ._-!?'\t\u00a0é\u00dfİ\u2003\u0661\u00b2\u00bd\u0301,&/\\\x1c"
    for _ in range(5000):
        q = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert normalize_query(q) == _reference_normalize(q), repr(q)


# ------------------------------------------------------------------ rules on the tiny file

def test_tiny_file_pairs_splits_and_counts(tiny_dir):
    ds = load_aol(tiny_dir)
    assert ds.name == "aol"
    for split, pairs in EXPECTED.items():
        assert _pairs(ds, split) == pairs
    info = ds.info
    assert info["rows_read"] == len(USER_10) + len(USER_20)
    assert info["events"] == 17  # 24 rows - 1 repeated click row - 6 malformed rows
    assert info["events_empty_query"] == 2
    assert info["sessions"] == 8
    assert info["sessions_too_short"] == 2  # "nike com" and "r"
    assert info["sessions_out_of_range"] == 1  # "late" → "later"
    assert info["sessions_kept"] == {"train": 3, "valid": 1, "test": 1}
    assert info["pairs"] == {"train": 3, "valid": 1, "test": 1}
    assert info["pairs_total"] == 5
    assert info["unique_next_queries"] == 5
    assert info["grouped_by_user"] is True
    assert info["config"] == asdict(AOLConfig())
    assert info["files"] == [str(tiny_dir / "user-ct-test-collection-01.txt.gz")]
    assert info["rows_per_s"] > 0


# anonymised users (0, 1 in reading order, not the AnonIDs 10, 20) and kept sessions
EXPECTED_IDS = {"train": ([0, 0, 1], [0, 1, 2]), "valid": ([1], [3]), "test": ([1], [4])}


def _ids(ds):
    return {split: (s.user_ids.tolist(), s.session_ids.tolist()) for split, s in
            ds.splits.items()}


def test_every_pair_keeps_its_anonymised_user_and_session(tiny_dir, tmp_path):
    ds = load_aol(tiny_dir)
    assert _ids(ds) == EXPECTED_IDS
    assert all(s.user_ids.dtype == s.session_ids.dtype == np.int64 for s in ds.splits.values())
    # the pairs of one session share its id; a user's sessions share the user's id
    rows = [_row(987654, "a", "2006-03-01 10:00:00"), _row(987654, "b", "2006-03-01 10:01:00"),
            _row(987654, "c", "2006-03-01 10:02:00"), _row(987654, "d", "2006-03-02 10:00:00"),
            _row(987654, "e", "2006-03-02 10:01:00"), _row(5, "f", "2006-05-25 10:00:00"),
            _row(5, "g", "2006-05-25 10:01:00")]
    _write(tmp_path / "log" / "user-ct-test-collection-01.txt", rows)
    other = load_aol(tmp_path / "log")
    assert _ids(other) == {"train": ([0, 0, 0], [0, 0, 1]), "valid": ([], []),
                           "test": ([1], [2])}


def test_tiny_file_skips_are_counted_by_reason(tiny_dir):
    ds = load_aol(tiny_dir)
    assert dict(ds.skipped.counts) == EXPECTED_SKIPS
    assert ds.info["rows_skipped"] == sum(EXPECTED_SKIPS.values()) - EXPECTED_SKIPS[EMPTY_QUERY]
    assert "only two columns" in ds.skipped.examples[BAD_COLUMNS][0]
    assert ":4:" in ds.skipped.examples[BAD_COLUMNS][0]  # file name and line number
    assert "yesterday" in " ".join(ds.skipped.examples[BAD_TIME])


def test_gap_is_strictly_greater_than_session_gap(tmp_path):
    rows = [_row(1, "a", "2006-03-01 10:00:00"), _row(1, "b", "2006-03-01 10:30:00"),
            _row(1, "c", "2006-03-01 11:00:01"), _row(1, "d", "2006-03-01 11:00:02")]
    _write(tmp_path / "user-ct-test-collection-01.txt", rows)
    ds = load_aol(tmp_path)
    assert _pairs(ds, "train") == [("a", "b"), ("c", "d")]
    wide = load_aol(tmp_path, replace(AOLConfig(), session_gap_s=1801))
    assert _pairs(wide, "train") == [("a", "b"), ("b", "c"), ("c", "d")]


def test_config_options_change_the_rules(tiny_dir):
    no_dedupe = load_aol(tiny_dir, replace(AOLConfig(), dedupe_consecutive=False))
    assert _pairs(no_dedupe, "train")[:2] == [("running shoes", "running shoes"),
                                              ("running shoes", "running shoes for women")]
    singles = load_aol(tiny_dir, replace(AOLConfig(), min_session_len=3))
    assert singles.info["pairs_total"] == 0
    moved = load_aol(tiny_dir, replace(AOLConfig(), test_range=("2006-05-24", "2006-06-30")))
    assert _pairs(moved, "test") == [("p", "q"), ("late", "later")]
    assert moved.info["sessions_out_of_range"] == 0


def test_plain_gzip_and_multiple_files_agree(tmp_path):
    expected = load_aol(_write(tmp_path / "gz" / "user-ct-test-collection-01.txt.gz",
                               USER_10 + USER_20).parent)
    plain = load_aol(_write(tmp_path / "plain" / "user-ct-test-collection-01.txt",
                            USER_10 + USER_20).parent)
    many = tmp_path / "many"
    _write(many / "user-ct-test-collection-01.txt.gz", USER_10 + USER_20[:3])
    _write(many / "user-ct-test-collection-02.txt.gz", USER_20[3:])  # user 20 spans both
    nested = tmp_path / "nested"
    _write(nested / "aol" / "user-ct-test-collection-01.txt", USER_10, header=False)
    _write(nested / "aol" / "user-ct-test-collection-02.txt.gz", USER_20)
    for other in (plain, load_aol(many), load_aol(nested)):
        for split in EXPECTED:
            assert other.splits[split] == expected.splits[split]
        assert other.skipped.counts == expected.skipped.counts
    assert len(load_aol(many).info["files"]) == 2


def test_rows_not_grouped_by_user_are_regrouped(tmp_path):
    mixed = USER_10[:3] + USER_20[:4] + USER_10[3:] + USER_20[4:]  # each user's order kept
    _write(tmp_path / "user-ct-test-collection-01.txt", mixed)
    ds = load_aol(tmp_path)
    assert ds.info["grouped_by_user"] is False
    for split, pairs in EXPECTED.items():
        assert _pairs(ds, split) == pairs
    assert _ids(ds) == EXPECTED_IDS  # users numbered in order of first appearance
    assert dict(ds.skipped.counts) == EXPECTED_SKIPS  # counted once, not once per pass


def test_out_of_order_times_within_a_user_are_sorted(tmp_path):
    rows = [_row(1, "b", "2006-03-01 10:05:00"), _row(1, "a", "2006-03-01 10:00:00")]
    _write(tmp_path / "user-ct-test-collection-01.txt", rows)
    ds = load_aol(tmp_path)
    assert _pairs(ds, "train") == [("a", "b")]
    assert ds.info["users_unsorted_times"] == 1


# ---------------------------------------------------------------------------- prefixes

def test_prefixes_are_uniform_prefixes_and_seeded(tmp_path):
    write_synthetic_aol_file(tmp_path / "user-ct-test-collection-01.txt.gz", 3000, 40, seed=1)
    a = load_aol(tmp_path)
    b = load_aol(tmp_path)
    c = load_aol(tmp_path, replace(AOLConfig(), prefix_seed=1))
    for split in ("train", "valid", "test"):
        sa = a.splits[split]
        assert sa.prefixes == b.splits[split].prefixes
        assert all(1 <= len(p) <= len(q) and q.startswith(p)
                   for p, q in zip(sa.prefixes, sa.next_queries))
        # the reference's draw: np.random.seed(seed) per split, then per pair in order
        # np.random.choice(range(1, len(next) + 1), size=1)
        rs = np.random.RandomState(0)
        ref = [q[:int(rs.choice(range(1, len(q) + 1), size=1)[0])] for q in sa.next_queries]
        assert sa.prefixes == ref
    train_a, train_c = a.splits["train"], c.splits["train"]
    assert train_a.next_queries == train_c.next_queries
    assert train_a.prefixes != train_c.prefixes


# ------------------------------------------------------ parity with the reference script

def _reference_pipeline(path: Path) -> dict[str, list[tuple[str, str, str]]]:
    """PECOS qp2q's process_aol_dataset_from_orig_aol_files.py, condensed but literal: csv
    rows, no collapsing, sessions on raw datetimes, dedupe, split, per-split np.random.seed(0)
    and one np.random.choice per pair (on a RandomState, not the global one)."""
    fmt = "%Y-%m-%d %H:%M:%S"
    users = defaultdict(list)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader)
        for row in reader:
            query = _reference_normalize(row[1])
            if query:
                users[row[0]].append((query, datetime.strptime(row[2], fmt)))
    sessions = []
    for events in users.values():
        current, times, prev_t = [events[0][0]], [events[0][1]], events[0][1]
        for query, t in events[1:]:
            if (t - prev_t).total_seconds() > 1800:
                sessions.append((current, min(times)))
                current, times = [query], [t]
            else:
                current.append(query)
                times.append(t)
            prev_t = t
        sessions.append((current, min(times)))
    ranges = {"train": ("2006-03-01", "2006-05-15"), "valid": ("2006-05-16", "2006-05-23"),
              "test": ("2006-05-24", "2006-05-31")}
    pairs = {split: [] for split in ranges}
    for session, start in sessions:
        dedup = [session[0]] + [q for p, q in zip(session, session[1:]) if q != p]
        if len(dedup) < 2:
            continue
        for split, (lo, hi) in ranges.items():
            if (datetime.strptime(lo + " 00:00:00", fmt) <= start
                    <= datetime.strptime(hi + " 23:59:59", fmt)):
                pairs[split] += list(zip(dedup[:-1], dedup[1:]))
                break
    out = {}
    for split, split_pairs in pairs.items():
        rs = np.random.RandomState(0)
        out[split] = [(p, n[:int(rs.choice(range(1, len(n) + 1), size=1)[0])], n)
                      for p, n in split_pairs]
    return out


def _triples(ds, split):
    s = ds.splits[split]
    return list(zip(s.prev_queries, s.prefixes, s.next_queries))


def test_matches_reference_pipeline_on_a_synthetic_log(tmp_path):
    path = write_synthetic_aol_file(tmp_path / "user-ct-test-collection-01.txt.gz", 20_000,
                                    150, seed=4)
    ds = load_aol(tmp_path)
    ref = _reference_pipeline(path)
    for split in ("train", "valid", "test"):
        assert len(ref[split]) > 50
        assert _triples(ds, split) == ref[split]


@pytest.mark.realdata
@pytest.mark.slow
def test_matches_reference_pipeline_on_the_shared_subset(shared_data):
    path = shared_data / "aol" / "aol_top1000users.tsv.gz"
    if not path.is_file():
        pytest.skip(f"aol/aol_top1000users.tsv.gz not found under {shared_data}")
    ds = load_aol(shared_data)
    ref = _reference_pipeline(path)
    for split in ("train", "valid", "test"):
        assert _triples(ds, split) == ref[split]


# --------------------------------------------------------------------------- bad input

def test_file_without_a_valid_row_names_the_file(tmp_path):
    bad = _write(tmp_path / "user-ct-test-collection-01.txt", [b"x\ty", _row("u", "q", "now")])
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        load_aol(tmp_path)
    only_header = tmp_path / "h"
    _write(only_header / "user-ct-test-collection-01.txt", [])
    with pytest.raises(ValueError, match="no valid AOL row"):
        load_aol(only_header)


def test_log_without_a_session_in_the_date_ranges_is_refused(tmp_path):
    # a log of another period: every session falls outside the three ranges, which used to
    # give three empty splits (and a crash far away, when training on nothing)
    rows = [_row(1, "a", "2006-06-02 10:00:00"), _row(1, "b", "2006-06-02 10:01:00"),
            _row(2, "c", "2006-07-09 09:00:00"), _row(2, "d", "2006-07-09 09:05:00"),
            _row(2, "lonely", "2006-04-01 09:00:00")]  # in train's range, but a 1-query session
    _write(tmp_path / "user-ct-test-collection-01.txt", rows)
    with pytest.raises(ValueError, match=re.escape(
            "no session of the AOL log starts inside the split date ranges (train "
            "2006-03-01..2006-05-15, valid 2006-05-16..2006-05-23, test 2006-05-24..2006-05-31):"
            " its 2 sessions of >= 2 queries start between 2006-06-02 and 2006-07-09; set "
            "AOLConfig train_range, valid_range and test_range")):
        load_aol(tmp_path)
    moved = load_aol(tmp_path, replace(AOLConfig(), test_range=("2006-06-01", "2006-07-31")))
    assert _pairs(moved, "test") == [("a", "b"), ("c", "d")]


def test_missing_files_raise_data_not_found(tmp_path):
    folder = tmp_path / "nothing_here"
    folder.mkdir()
    with pytest.raises(DataNotFoundError) as err:
        load_aol(folder)
    msg = str(err.value)
    assert str(folder.resolve()) in msg and "'aol'" in msg
    assert "user-ct-test-collection-*.txt.gz" in msg and "research" in msg
    with pytest.raises(DataNotFoundError):
        load_aol(tmp_path / "no_such_folder")


@pytest.mark.parametrize("change, match", [
    (dict(session_gap_s=-1), "session_gap_s must be >= 0, got -1"),
    (dict(min_session_len=1), "min_session_len must be >= 2, got 1"),
    (dict(prefix_seed=-3), "prefix_seed must be >= 0, got -3"),
    (dict(train_range=("2006-03-01",)), "train_range must be a pair"),
    (dict(valid_range=("2006-05-16", "May 23")), "valid_range must be a pair"),
    (dict(test_range=("2006-05-31", "2006-05-24")), "test_range must not end before"),
    (dict(valid_range=("2006-05-15", "2006-05-23")), "train_range and valid_range overlap"),
    (dict(files=()), "files must be a non-empty tuple"),
    (dict(files="aol/*.gz"), "files must be a non-empty tuple"),
    (dict(user_fraction=0.0), "user_fraction must be in (0, 1]"),
    (dict(user_fraction=1.5), "user_fraction must be in (0, 1]"),
])
def test_bad_config_values_are_refused(tiny_dir, change, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        load_aol(tiny_dir, replace(AOLConfig(), **change))


def test_bad_config_types_are_refused(tiny_dir):
    with pytest.raises(TypeError, match="config must be an AOLConfig"):
        load_aol(tiny_dir, {"session_gap_s": 1800})
    with pytest.raises(TypeError, match="dedupe_consecutive must be a bool"):
        load_aol(tiny_dir, replace(AOLConfig(), dedupe_consecutive="yes"))
    with pytest.raises(TypeError, match="user_fraction must be a number"):
        load_aol(tiny_dir, replace(AOLConfig(), user_fraction="half"))


# ------------------------------------------------------------------ the synthetic writer

def test_synthetic_aol_file_is_seeded_and_loadable(tmp_path):
    a = write_synthetic_aol_file(tmp_path / "a" / "user-ct-test-collection-01.txt", 2000, 30,
                                 seed=3)
    b = write_synthetic_aol_file(tmp_path / "b" / "user-ct-test-collection-01.txt", 2000, 30,
                                 seed=3)
    assert a.read_bytes() == b.read_bytes()
    lines = a.read_bytes().splitlines()
    assert lines[0] == HEADER and len(lines) == 2001
    ds = load_aol(a.parent)
    assert ds.info["rows_read"] == 2000
    assert ds.skipped.total == ds.skipped.counts[EMPTY_QUERY]
    assert ds.info["events"] < 2000  # repeated click rows were collapsed
    assert min(ds.info["pairs"].values()) > 0


def test_synthetic_log_splits_users_over_files_and_resumes(tmp_path):
    paths = write_synthetic_aol_log(tmp_path, n_rows=6000, n_users=90, n_files=3, seed=2)
    assert [p.name for p in paths] == [f"user-ct-test-collection-0{i}.txt.gz" for i in (1, 2, 3)]
    users_per_file, rows = [], 0
    for p in paths:
        lines = gzip.open(p, "rb").read().splitlines()
        assert lines[0] == HEADER
        ids = [int(line.split(b"\t")[0]) for line in lines[1:]]
        assert ids == sorted(ids)  # sorted by user, as the release
        users_per_file.append(set(ids))
        rows += len(ids)
    assert rows == 6000
    a, b, c = users_per_file
    assert not (a & b) and not (b & c)
    ds = load_aol(tmp_path)
    assert ds.info["grouped_by_user"] and ds.info["rows_read"] == 6000
    assert min(ds.info["pairs"].values()) > 0
    # a finished file is kept; one without its completion marker is written again, the same
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in paths}
    paths[1].with_name(paths[1].name + ".done").unlink()
    paths[1].write_bytes(b"truncated")
    write_synthetic_aol_log(tmp_path, n_rows=6000, n_users=90, n_files=3, seed=2)
    assert paths[0].stat().st_mtime_ns == before[paths[0]][0]
    assert paths[1].read_bytes() == before[paths[1]][1]
    with pytest.raises(ValueError, match="n_users .* must be at least n_files"):
        write_synthetic_aol_log(tmp_path / "x", n_rows=100, n_users=2, n_files=3)


def test_generator_1_still_writes_the_logs_measured_with_it(tmp_path):
    # the digest of what the generator wrote before version 2 (commit 91e0b5c): results
    # measured on version-1 logs (docs/bench/aol_full_generator1.json) can be re-made
    path = write_synthetic_aol_file(tmp_path / "user-ct-test-collection-01.txt", 2000, 30,
                                    seed=1, generator=1)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == (
        "78bffc903c230e8fa560f0943a051999196e90db2cc1d1e9fb11a0ad49a7727e")
    current = write_synthetic_aol_file(tmp_path / "v2" / "user-ct-test-collection-01.txt",
                                       2000, 30, seed=1)
    assert GENERATOR_VERSION == 2 and current.read_bytes() != path.read_bytes()


def test_a_log_of_another_generator_version_is_written_again(tmp_path):
    old = write_synthetic_aol_log(tmp_path, n_rows=3000, n_users=30, n_files=2, seed=2,
                                  generator=1)
    before = [p.read_bytes() for p in old]
    assert synthetic_log_complete(tmp_path, 3000, 30, 2, seed=2, generator=1)
    assert not synthetic_log_complete(tmp_path, 3000, 30, 2, seed=2)  # the current version
    new = write_synthetic_aol_log(tmp_path, n_rows=3000, n_users=30, n_files=2, seed=2)
    assert [p.read_bytes() for p in new] != before
    assert synthetic_log_complete(tmp_path, 3000, 30, 2, seed=2)
    assert "generator=2" in (tmp_path / "user-ct-test-collection-01.txt.gz.done").read_text()
    # version 1's markers on disk predate the version field: their text is the plain spec
    v1 = write_synthetic_aol_log(tmp_path / "v1", n_rows=3000, n_users=30, n_files=2, seed=2,
                                 generator=1)
    assert v1[0].with_name(v1[0].name + ".done").read_text() == (
        "rows=3000 users=30 files=2 seed=2\n")
    for bad in (0, 3, True, "2", 2.0):
        with pytest.raises(ValueError, match="generator must be one of"):
            write_synthetic_aol_file(tmp_path / "x.txt", 100, 2, generator=bad)


def test_user_fraction_keeps_whole_users_the_same_each_time(tmp_path):
    write_synthetic_aol_file(tmp_path / "user-ct-test-collection-01.txt.gz", 20_000, 400, seed=5)
    full = load_aol(tmp_path)
    half = load_aol(tmp_path, replace(AOLConfig(), user_fraction=0.5))
    again = load_aol(tmp_path, replace(AOLConfig(), user_fraction=0.5))
    kept, out = half.info["users"], half.info["users_left_out"]
    assert kept + out == full.info["users"] == 400
    assert 0.35 < kept / 400 < 0.65
    assert _triples(half, "train") == _triples(again, "train")
    # every kept (previous, next) pair is one of the full log's (prefixes are drawn anew)

    def pairs(ds):
        return {(p, n) for p, _, n in _triples(ds, "train")}
    assert pairs(half) <= pairs(full) and pairs(half) != pairs(full)
    assert 0.3 < half.info["pairs_total"] / full.info["pairs_total"] < 0.7


# -------------------------------------------------------------------- the real subset

@pytest.mark.realdata
def test_shared_aol_subset_counts(shared_data):
    if not (shared_data / "aol" / "aol_top1000users.tsv.gz").is_file():
        pytest.skip(f"aol/aol_top1000users.tsv.gz not found under {shared_data}")
    ds = load_aol(shared_data)
    assert ds.name == "aol_subset"
    assert ds.info["events"] == 318_023
    assert ds.info["pairs"] == {"train": 105_413, "valid": 8_025, "test": 8_960}
    assert ds.info["pairs_total"] == 122_398
    assert ds.info["unique_next_queries"] == 86_381
    assert ds.skipped.total == 0 and ds.info["sessions_out_of_range"] == 0
