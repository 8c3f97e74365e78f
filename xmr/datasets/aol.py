"""AOL 2006 search log → session-aware query autocompletion (QAC) examples (Paper 2).

Follows the public reference preprocessing of Yadav et al. (KDD 2021), PECOS
``examples/qp2q/utils/process_aol_dataset_from_orig_aol_files.py``, step by step:

1. **Rows → events.** Each row is ``AnonID, Query, QueryTime[, ItemRank, ClickURL]``; the log
   has one row per clicked URL, so consecutive rows with the same (AnonID, Query, QueryTime)
   are one query event and are collapsed. (The reference keeps them; they only ever produce
   consecutive duplicates, which step 3 removes, so the result is the same.)
2. **Normalise** (:func:`normalize_query`) and drop events whose query becomes empty, *before*
   sessions are formed: a dropped event neither starts nor extends a session.
3. **Sessions.** Per user, events in time order (stable: ties keep file order); a new session
   starts when the gap to the user's previous (kept) event is ``> session_gap_s`` (a gap of
   exactly 1800 s stays in the session). Within a session consecutive duplicate queries are
   dropped (after normalisation), and sessions with fewer than ``min_session_len`` queries
   left are dropped. A session's start time is its first event's time (duplicates included).
4. **Split by session start**: the whole session goes to train / valid / test when its start
   date lies in the inclusive date range; sessions outside every range are dropped and counted
   in ``info["sessions_out_of_range"]`` (the reference raises an error instead). A log none
   of whose kept sessions starts inside any range raises ValueError naming the ranges and the
   log's session dates (three empty splits would only fail later, far from the cause).
5. **Pairs and prefixes.** Each consecutive (previous, next) pair of a kept session is one
   example. Its prefix is ``next[:k]`` with ``k`` uniform in ``1..len(next)`` (characters).
   Draw order, identical to the reference's ``np.random.seed(0)`` +
   ``np.random.choice(range(1, len + 1))`` per pair: one legacy ``np.random.RandomState``
   seeded with ``prefix_seed`` **per split**, one draw per pair in pair order; pairs are
   ordered by user (order of first appearance in the files), then session time, then position.

With the defaults, ``aol/aol_top1000users.tsv.gz`` (the 1,000 heaviest users; label results
"AOL subset") gives 318,023 events and 122,398 pairs: 105,413 train / 8,025 valid / 8,960
test, 86,381 distinct next queries (``tests/datasets/test_aol.py`` checks these).

Deliberate differences from the reference script, none of which changes the subset's counts:
malformed rows (wrong column count, bad AnonID or QueryTime, invalid UTF-8) are skipped and
counted instead of crashing; fields are split on tabs only (the reference's ``csv.reader``
treats ``"`` as a quote character, so a query starting with an unbalanced quote would swallow
the following lines there); a user whose rows continue into the next file stays one user (the
reference sessionises each file on its own); events of a user are sorted by time (the
release already is; the reference trusts the file order).

Reading is streaming: the files are read line by line (gzip or plain) and only the current
user's events are held, so memory grows with the kept pairs, not with the file. The AOL
release is sorted by user then time; if a user's rows are not contiguous the loader notices,
says so in the log and in ``info["grouped_by_user"]``, and re-reads the files holding every
user's events until the end. Malformed rows are skipped and counted in ``dataset.skipped``.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from xmr._validation import check_int, check_seed
from xmr.datasets._io import find_files, iter_lines
from xmr.datasets.tasks import QACDataset, QACSplit, SkipReport

logger = logging.getLogger(__name__)

HOW_TO_OBTAIN = (
    "Get the AOL 2006 query log release (files user-ct-test-collection-01.txt.gz .. "
    "user-ct-test-collection-10.txt.gz, AOL's terms: non-commercial research use only) "
    "and put the files, plain or gzipped, in this folder; or use the shared 1,000-user subset "
    "aol/aol_top1000users.tsv.gz"
)

SPLITS = ("train", "valid", "test")
_EPOCH = datetime(1970, 1, 1)
_HEADER_PREFIX = b"AnonID\t"
_HOUR_RE = re.compile(rb"\d{4}-\d\d-\d\d \d\d")  # "YYYY-MM-DD HH" of QueryTime
_NON_WORD_RE = re.compile(r"[^\w ]+")  # anything but word characters and the joining space

# Skip reasons (keys of dataset.skipped.counts).
BAD_COLUMNS = "wrong_column_count"
BAD_ANON_ID = "non_integer_anon_id"
BAD_TIME = "bad_query_time"
BAD_UTF8 = "invalid_utf8"
EMPTY_QUERY = "empty_query_after_normalisation"


@dataclass
class AOLConfig:
    """Every preprocessing choice of :func:`load_aol`; the defaults are the paper's."""

    session_gap_s: int = 1800  # a gap > this many seconds (not ==) starts a new session
    min_session_len: int = 2  # keep sessions with at least this many queries after dedupe
    dedupe_consecutive: bool = True  # drop a query equal to the one before it in its session
    prefix_seed: int = 0  # seed of the prefix-length draws (reference: np.random.seed(0))
    # Keep this share of the users (all their sessions), drawn by a fixed hash of the AnonID:
    # a quick run on the full log with the same users every time (1.0 = every user).
    user_fraction: float = 1.0
    # Inclusive dates of the session START; a session starting outside all three is dropped.
    train_range: tuple[str, str] = ("2006-03-01", "2006-05-15")
    valid_range: tuple[str, str] = ("2006-05-16", "2006-05-23")
    test_range: tuple[str, str] = ("2006-05-24", "2006-05-31")
    # Glob patterns under data_dir, tried in order; every file matching the first pattern
    # that matches anything is read (sorted by name).
    files: tuple[str, ...] = (
        "aol/aol_top1000users.tsv.gz",
        "user-ct-test-collection-*.txt.gz",
        "user-ct-test-collection-*.txt",
        "aol/user-ct-test-collection-*.txt*",
    )


def normalize_query(q: str) -> str:
    """The reference normalisation: split on whitespace and on ``.``, strip ``\\W+`` from
    each token, join the tokens with one space, lowercase, strip.

    Empty tokens are kept in the join, exactly as in the reference, so ``"a . b"`` gives
    ``"a   b"`` (three spaces) and ``"www.aol.com"`` gives ``"www aol com"``.
    """
    # Equivalent single pass: whitespace runs → " ", each "." → " ", other non-word
    # characters deleted (tests compare it with the token-by-token reference on fuzz).
    q = " ".join(q.split())
    if "." in q:
        q = q.replace(".", " ")
    if not q.isalnum():
        q = _NON_WORD_RE.sub("", q)
    return q.lower().strip()


def _date_bounds(name: str, value) -> tuple[int, int]:
    """Inclusive ("YYYY-MM-DD", "YYYY-MM-DD") → [first second, last second] since the epoch."""
    if (not isinstance(value, tuple | list) or len(value) != 2
            or not all(isinstance(v, str) for v in value)):
        raise ValueError(f"{name} must be a pair of 'YYYY-MM-DD' dates, got {value!r}")
    try:
        first, last = (date.fromisoformat(v) for v in value)
    except ValueError:
        raise ValueError(f"{name} must be a pair of 'YYYY-MM-DD' dates, got {value!r}") from None
    if last < first:
        raise ValueError(f"{name} must not end before it starts, got {value!r}")
    start = int((datetime(first.year, first.month, first.day) - _EPOCH).total_seconds())
    end = int((datetime(last.year, last.month, last.day) - _EPOCH).total_seconds()) + 86399
    return start, end


def _check_config(config: AOLConfig) -> list[tuple[str, int, int]]:
    """Validate ``config``; return the split ranges as (split, first second, last second)."""
    if not isinstance(config, AOLConfig):
        raise TypeError(f"config must be an AOLConfig, got {type(config).__name__}")
    check_int("session_gap_s", config.session_gap_s, minimum=0)
    check_int("min_session_len", config.min_session_len, minimum=2)
    check_int("prefix_seed", config.prefix_seed, minimum=0)
    f = config.user_fraction
    if isinstance(f, bool) or not isinstance(f, int | float):
        raise TypeError(f"user_fraction must be a number in (0, 1], got {f!r}")
    if not 0 < f <= 1:
        raise ValueError(f"user_fraction must be in (0, 1] (the share of users kept), got {f!r}")
    if not isinstance(config.dedupe_consecutive, bool):
        raise TypeError(f"dedupe_consecutive must be a bool, got {config.dedupe_consecutive!r}")
    if (isinstance(config.files, str) or not config.files
            or not all(isinstance(p, str) and p for p in config.files)):
        raise ValueError(f"files must be a non-empty tuple of glob patterns, got {config.files!r}")
    ranges = [(s, *_date_bounds(f"{s}_range", getattr(config, f"{s}_range"))) for s in SPLITS]
    for i, (a, a0, a1) in enumerate(ranges):
        for b, b0, b1 in ranges[i + 1:]:
            if a0 <= b1 and b0 <= a1:
                raise ValueError(f"{a}_range and {b}_range overlap: "
                                 f"{getattr(config, a + '_range')} and "
                                 f"{getattr(config, b + '_range')}")
    return ranges


class _NotGroupedByUser(Exception):
    """A user's rows are not contiguous: the streaming pass cannot be used."""


class _Counters:
    """Row and event counts of one read (written once per file, not per row)."""

    __slots__ = ("rows", "events", "events_kept", "empty_events")

    def __init__(self):
        self.rows = self.events = self.events_kept = self.empty_events = 0


# Bytes a query may consist of to take the fast normalisation path (nothing to strip).
_PLAIN_QUERY_BYTES = b"abcdefghijklmnopqrstuvwxyz0123456789 "
_Run = tuple[int, list[int], list[str]]  # (AnonID, times in seconds, normalised queries)


def _iter_runs(path: Path, skipped: SkipReport, counters: _Counters,
               hour_cache: dict[bytes, int]) -> Iterator[_Run]:
    """The valid, collapsed, normalised, non-empty events of one file, as maximal runs of
    consecutive rows of one user. Malformed rows go to ``skipped``; a file without any event
    raises ValueError. ``hour_cache`` maps "YYYY-MM-DD HH" to seconds since the epoch."""
    rows = events = kept = empty = 0
    run_uid_b, times, queries = None, [], []
    last_uid_b = last_q_b = last_t_b = None  # raw fields of the previous event (collapse)
    norm_q_b, norm_q = None, ""  # the last raw query seen and its normalisation
    for number, raw in iter_lines(path):
        if number == 1 and raw.startswith(_HEADER_PREFIX):
            continue
        rows += 1
        parts = raw.split(b"\t")
        if not 3 <= len(parts) <= 5:
            skipped.add(BAD_COLUMNS, f"{path.name}:{number}: {len(parts)} columns: {raw!r}")
            continue
        uid_b, q_b, t_b = parts[0], parts[1], parts[2]
        if t_b == last_t_b and q_b == last_q_b and uid_b == last_uid_b:
            continue  # another clicked URL of the same query event
        if uid_b != run_uid_b and not uid_b.isdigit():
            skipped.add(BAD_ANON_ID, f"{path.name}:{number}: {raw!r}")
            continue
        # QueryTime "YYYY-MM-DD HH:MM:SS": hours cached, minutes and seconds parsed here.
        base = hour_cache.get(t_b[:13])
        if base is None and (base := _parse_hour(t_b[:13])) is not None:
            hour_cache[t_b[:13]] = base
        mmss = t_b[14:16] + t_b[17:]
        if (base is None or len(t_b) != 19 or t_b[13] != 58 or t_b[16] != 58
                or not mmss.isdigit() or (mmss := int(mmss)) >= 6000 or mmss % 100 >= 60):
            skipped.add(BAD_TIME, f"{path.name}:{number}: {raw!r}")
            continue
        if q_b != norm_q_b:
            if not q_b.translate(None, _PLAIN_QUERY_BYTES):  # only [a-z0-9 ]: fast path
                norm_q = " ".join(q_b.decode("ascii").split())
            else:
                try:
                    norm_q = normalize_query(q_b.decode("utf-8"))
                except UnicodeDecodeError:
                    skipped.add(BAD_UTF8, f"{path.name}:{number}: {raw!r}")
                    continue
            norm_q_b = q_b
        last_uid_b, last_q_b, last_t_b = uid_b, q_b, t_b
        events += 1
        if not norm_q:
            skipped.add(EMPTY_QUERY, f"{path.name}:{number}: {raw!r}")
            empty += 1
            continue
        if uid_b != run_uid_b:
            if times:
                yield int(run_uid_b), times, queries
            run_uid_b, times, queries = uid_b, [], []
        kept += 1
        times.append(base + (mmss // 100) * 60 + mmss % 100)
        queries.append(norm_q)
    if times:
        yield int(run_uid_b), times, queries
    counters.rows += rows
    counters.events += events
    counters.events_kept += kept
    counters.empty_events += empty
    if kept == 0:
        raise ValueError(f"{path}: no valid AOL row (expected tab-separated lines "
                         f"'AnonID, Query, QueryTime, ItemRank, ClickURL'); skipped rows: "
                         f"{dict(skipped.counts)}")


def _parse_hour(s: bytes) -> int | None:
    """Seconds since the epoch of a strict "YYYY-MM-DD HH", or None."""
    if not _HOUR_RE.fullmatch(s):
        return None
    try:
        dt = datetime(int(s[:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]))
    except ValueError:
        return None
    return int((dt - _EPOCH).total_seconds())


def _users_streaming(runs: Iterator[_Run]) -> Iterator[_Run]:
    """(AnonID, times, queries) per user, for input whose users are contiguous (the AOL release).
    A user continuing across a file boundary stays one user."""
    seen: set[int] = set()
    cur, times, queries = None, [], []
    for uid, run_times, run_queries in runs:
        if uid == cur:
            times.extend(run_times)
            queries.extend(run_queries)
            continue
        if times:
            yield cur, times, queries
        if uid in seen:
            raise _NotGroupedByUser(uid)
        seen.add(uid)
        cur, times, queries = uid, run_times, run_queries
    if times:
        yield cur, times, queries


def _users_grouped(runs: Iterator[_Run]) -> Iterator[_Run]:
    """(AnonID, times, queries) per user for any row order: holds every kept event until the end.
    Users come in order of first appearance, events in file order within a user."""
    users: dict[int, tuple[list[int], list[str]]] = {}
    for uid, run_times, run_queries in runs:
        entry = users.get(uid)
        if entry is None:
            users[uid] = (run_times, run_queries)
        else:
            entry[0].extend(run_times)
            entry[1].extend(run_queries)
    while users:
        uid = next(iter(users))
        yield uid, *users.pop(uid)


_MASK64 = (1 << 64) - 1


def _user_kept(uid: int, fraction: float) -> bool:
    """Whether ``user_fraction`` keeps this AnonID: splitmix64 of the id, uniform in [0, 1)."""
    z = (uid + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return ((z ^ (z >> 31)) >> 11) / float(1 << 53) < fraction


@dataclass
class _Sessions:
    """Accumulates the pairs of kept sessions, per split."""

    gap: int
    min_len: int
    dedupe: bool
    ranges: list[tuple[str, int, int]]

    def __post_init__(self):
        self.prev = {s: [] for s in SPLITS}
        self.next = {s: [] for s in SPLITS}
        # per pair: anonymised user (users numbered 0, 1, ... in reading order, never the
        # AnonID) and session (kept sessions numbered in the same order)
        self.user = {s: [] for s in SPLITS}
        self.session = {s: [] for s in SPLITS}
        self.n_users = 0  # users read (the next user's anonymised id)
        self.n_kept = 0  # sessions kept in any split (the next kept session's id)
        self.n_sessions = 0  # all sessions formed
        self.kept = {s: 0 for s in SPLITS}
        self.too_short = 0
        self.out_of_range = 0
        self.unsorted_users = 0
        self.users_left_out = 0  # by user_fraction
        self.first_start = self.last_start = None  # of the sessions long enough to keep

    def add_user(self, times: list[int], queries: list[str]) -> None:
        if any(a > b for a, b in zip(times, times[1:])):
            order = sorted(range(len(times)), key=times.__getitem__)  # stable
            times = [times[i] for i in order]
            queries = [queries[i] for i in order]
            self.unsorted_users += 1
        start = 0
        for i in range(1, len(times) + 1):
            if i == len(times) or times[i] - times[i - 1] > self.gap:
                self._add_session(times[start], queries[start:i], self.n_users)
                start = i
        self.n_users += 1

    def _add_session(self, t0: int, session: list[str], user: int) -> None:
        self.n_sessions += 1
        if self.dedupe:
            session = [q for j, q in enumerate(session) if j == 0 or q != session[j - 1]]
        if len(session) < self.min_len:
            self.too_short += 1
            return
        if self.first_start is None or t0 < self.first_start:
            self.first_start = t0
        if self.last_start is None or t0 > self.last_start:
            self.last_start = t0
        for split, first, last in self.ranges:
            if first <= t0 <= last:
                break
        else:
            self.out_of_range += 1
            return
        self.kept[split] += 1
        self.prev[split].extend(session[:-1])
        self.next[split].extend(session[1:])
        self.user[split].extend([user] * (len(session) - 1))
        self.session[split].extend([self.n_kept] * (len(session) - 1))
        self.n_kept += 1


def _check_some_session_in_range(sessions: _Sessions, config: AOLConfig) -> None:
    """Sessions long enough to keep, all starting outside every split's date range, would
    give three empty splits that fail far from here (an empty training set): say so now."""
    if sum(sessions.kept.values()) or not sessions.out_of_range:
        return
    ranges = ", ".join(f"{s} {a}..{b}" for s in SPLITS
                       for a, b in [getattr(config, f"{s}_range")])
    first, last = (_format_time(t)[:10] for t in (sessions.first_start, sessions.last_start))
    raise ValueError(f"no session of the AOL log starts inside the split date ranges ({ranges}): "
                     f"its {sessions.out_of_range} sessions of >= {sessions.min_len} queries "
                     f"start between {first} and {last}; set AOLConfig train_range, "
                     f"valid_range and test_range to dates inside the log, or point data_dir "
                     f"at the log the ranges are for")


def _draw_prefixes(next_queries: list[str], seed: int) -> list[str]:
    """``next[:k]``, k uniform in 1..len(next), one draw per pair in order from a fresh
    ``RandomState(seed)`` (the same stream as the reference's per-pair np.random.choice)."""
    if not next_queries:
        return []
    lengths = np.fromiter(map(len, next_queries), dtype=np.int64, count=len(next_queries))
    ks = np.random.RandomState(seed).randint(1, lengths + 1)
    return [q[:k] for q, k in zip(next_queries, ks.tolist())]


def _read(paths: list[Path], config: AOLConfig, ranges,
          group: Callable) -> tuple[_Sessions, SkipReport, _Counters]:
    skipped, counters = SkipReport(), _Counters()
    sessions = _Sessions(config.session_gap_s, config.min_session_len,
                         config.dedupe_consecutive, ranges)
    bar = tqdm(total=len(paths), unit="file", desc="AOL", disable=len(paths) < 2 or None)

    def runs():  # advances the progress bar file by file
        hour_cache: dict[bytes, int] = {}
        for path in paths:
            yield from _iter_runs(path, skipped, counters, hour_cache)
            bar.update()

    fraction = config.user_fraction
    try:
        for uid, times, queries in group(runs()):
            if fraction >= 1 or _user_kept(uid, fraction):
                sessions.add_user(times, queries)
            else:
                sessions.users_left_out += 1
    finally:
        bar.close()
    return sessions, skipped, counters


def load_aol(data_dir: str | Path, config: AOLConfig = AOLConfig()) -> QACDataset:
    """Read the AOL log under ``data_dir`` into (previous query, prefix) → next query examples.

    Parameters
    ----------
    data_dir : str or Path
        Folder searched with ``config.files`` (e.g. the shared data root, holding
        ``aol/aol_top1000users.tsv.gz``, or a folder of ``user-ct-test-collection-NN.txt.gz``).
    config : AOLConfig
        Preprocessing choices; the defaults are the paper's.

    Returns
    -------
    QACDataset
        Splits "train", "valid", "test", each with ``user_ids`` (users numbered 0, 1, ... in
        reading order: anonymised, never the AnonID) and ``session_ids`` (kept sessions
        numbered in the same order) per pair; ``name`` is "aol_subset" for the shared
        1,000-user file and "aol" otherwise. ``skipped`` counts malformed rows by reason;
        ``info`` holds the config, the files, the row / event / session / pair counts and
        ``rows_per_s``.

    Raises
    ------
    DataNotFoundError
        No file matches ``config.files`` under ``data_dir``.
    ValueError
        A bad config value, a file without a single valid row, or a log whose sessions (of at
        least ``min_session_len`` queries) all start outside the three date ranges.
    TypeError
        ``config`` is not an :class:`AOLConfig`, or one of its values has the wrong type.
    """
    ranges = _check_config(config)
    paths = find_files(data_dir, "aol", config.files, HOW_TO_OBTAIN)
    t0 = time.perf_counter()
    grouped = True
    try:
        sessions, skipped, counters = _read(paths, config, ranges, _users_streaming)
    except _NotGroupedByUser as exc:
        logger.warning("AOL rows are not grouped by user (user %s reappears): re-reading with "
                       "every user's events held in memory", exc.args[0])
        grouped = False
        sessions, skipped, counters = _read(paths, config, ranges, _users_grouped)
    _check_some_session_in_range(sessions, config)
    splits = {s: QACSplit(prev_queries=sessions.prev[s],
                          prefixes=_draw_prefixes(sessions.next[s], config.prefix_seed),
                          next_queries=sessions.next[s],
                          user_ids=np.array(sessions.user[s], dtype=np.int64),
                          session_ids=np.array(sessions.session[s], dtype=np.int64))
              for s in SPLITS}
    elapsed = time.perf_counter() - t0
    if sessions.out_of_range:
        logger.warning("%d sessions start outside the train/valid/test date ranges: dropped",
                       sessions.out_of_range)
    if skipped.total:
        logger.warning("AOL: skipped %d malformed rows: %s", skipped.total,
                       dict(skipped.counts))
    subset = any(p.name.startswith("aol_top1000users") for p in paths)
    info = {
        "config": asdict(config),
        "files": [str(p) for p in paths],
        "grouped_by_user": grouped,  # False: rows were not contiguous per user (re-read)
        "rows_read": counters.rows,  # data rows, headers excluded
        "rows_skipped": skipped.total - counters.empty_events,
        "events": counters.events,  # valid rows after collapsing repeated click rows
        "events_empty_query": counters.empty_events,
        "events_kept": counters.events_kept,
        "users_unsorted_times": sessions.unsorted_users,
        "users": sessions.n_users,  # users kept (all of them unless user_fraction < 1)
        "users_left_out": sessions.users_left_out,  # by user_fraction
        "sessions": sessions.n_sessions,  # all sessions formed from the kept events
        "sessions_too_short": sessions.too_short,
        "sessions_out_of_range": sessions.out_of_range,
        "sessions_kept": dict(sessions.kept),
        "pairs": {s: splits[s].n for s in SPLITS},
        "pairs_total": sum(splits[s].n for s in SPLITS),
        "unique_next_queries": len({q for s in SPLITS for q in splits[s].next_queries}),
        "seconds": round(elapsed, 3),
        "rows_per_s": round(counters.rows / elapsed) if elapsed > 0 else math.inf,
        "note": ("AOL subset: the 1,000 heaviest users; label results 'AOL subset'"
                 if subset else "AOL 2006 query log"),
    }
    logger.info("AOL: %d rows, %d events, %d pairs %s in %.1f s", counters.rows,
                counters.events, info["pairs_total"], info["pairs"], elapsed)
    return QACDataset(name="aol_subset" if subset else "aol", splits=splits,
                      skipped=skipped, info=info)


# --------------------------------------------------------------------------- synthetic files

_AOL_HEADER = "AnonID\tQuery\tQueryTime\tItemRank\tClickURL\n"

# The AOL 2006 release: 10 files, 36,389,567 data rows, 657,426 users.
AOL_RELEASE_ROWS, AOL_RELEASE_USERS, AOL_RELEASE_FILES = 36_389_567, 657_426, 10
_CHUNK_ROWS = 1_000_000  # rows generated at a time (memory stays flat at any log size)
# Bumped when the generator draws other rows for the same arguments: a log's files written by
# another version are not "complete" (their .done marker names the version), so they are redone.
GENERATOR_VERSION = 2
# Per generator version: (word popularity exponent, base query popularity exponent, whether
# the most popular base queries are the shortest); popularity ~ 1 / rank ** exponent.
# Version 1 stays reachable: the logs measured with it can be written again.
_GENERATORS = {1: (1.0, 1.05, False), 2: (0.8, 0.8, True)}
GENERATOR_VERSIONS = tuple(sorted(_GENERATORS))  # every version a log can be written with


def write_synthetic_aol_file(path: str | Path, n_rows: int, n_users: int,
                             seed: int = 0, generator: int = GENERATOR_VERSION) -> Path:
    """Write ``n_rows`` data rows in the AOL release's format (gzipped if ``path`` ends in .gz).

    For tests and benchmarks only, not a model of search behaviour (see
    :mod:`xmr.datasets.synthetic_qac` for that). Users are sorted, each user's rows sorted by
    time in 2006-03-01..2006-05-31; sessions are bursts of queries a few minutes apart; a
    query is a Zipf-popular 1-4 word string of fake words, sometimes with capitals, dots or
    punctuation ("Www.Quildor.com", "brashen-lake?"), often repeated (next result page) or
    refined by one word; ~30 % of rows repeat the previous one with another clicked URL.
    Rows of clicked events have ItemRank and ClickURL, the others leave them empty.
    ``generator``: the version of the draws (:data:`GENERATOR_VERSION`, the default, is the
    one calibrated on the real subset; 1 writes the logs measured before it).
    """
    check_int("n_rows", n_rows, minimum=1)
    check_int("n_users", n_users, minimum=1)
    check_seed("seed", seed)
    _check_generator(generator)
    rng = np.random.default_rng(seed)
    vocab = _Vocabulary(rng, n_rows, generator)
    path = Path(path)
    with _open_for_writing(path) as fh:
        fh.write(_AOL_HEADER)
        _write_rows(fh, rng, vocab, n_rows, 0, n_users)
    return path


def write_synthetic_aol_log(folder: str | Path, n_rows: int = AOL_RELEASE_ROWS,
                            n_users: int = AOL_RELEASE_USERS,
                            n_files: int = AOL_RELEASE_FILES, seed: int = 0,
                            compresslevel: int = 1,
                            generator: int = GENERATOR_VERSION) -> list[Path]:
    """A synthetic log of the release's size and shape: ``n_files`` gzipped files
    ``user-ct-test-collection-NN.txt.gz`` under ``folder``, the users split into contiguous
    ranges (file 1 the first users), ``n_rows`` rows in all, one vocabulary for the whole log
    (rows as :func:`write_synthetic_aol_file` draws them). Generated a million rows at a time;
    each file has its own seeded stream, so a file already complete (a ``.done`` marker beside
    it, written after the file is closed, naming the arguments and the generator version) is
    kept as it is: an interrupted run resumes, a file of another version is written again."""
    check_int("n_rows", n_rows, minimum=1)
    check_int("n_users", n_users, minimum=1)
    check_int("n_files", n_files, minimum=1)
    check_seed("seed", seed)
    _check_generator(generator)
    if n_users < n_files:
        raise ValueError(f"n_users ({n_users}) must be at least n_files ({n_files}): every "
                         f"file holds its own users")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if synthetic_log_complete(folder, n_rows, n_users, n_files, seed, generator):
        return _log_paths(folder, n_files)
    vocab = _Vocabulary(np.random.default_rng(seed), n_rows, generator)
    user_bounds = np.linspace(0, n_users, n_files + 1).round().astype(np.int64)
    row_bounds = np.linspace(0, n_rows, n_files + 1).round().astype(np.int64)
    paths = _log_paths(folder, n_files)
    spec = _log_spec(n_rows, n_users, n_files, seed, generator)
    for f, path in enumerate(paths):
        done = _done_marker(path)
        if path.is_file() and done.is_file() and done.read_text() == spec:
            continue
        done.unlink(missing_ok=True)
        rng = np.random.default_rng([seed, f + 1])
        u0, u1 = int(user_bounds[f]), int(user_bounds[f + 1])
        rows = int(row_bounds[f + 1] - row_bounds[f])
        n_chunks = max(1, -(-rows // _CHUNK_ROWS))
        chunk_users = np.linspace(u0, u1, n_chunks + 1).round().astype(np.int64)
        chunk_rows = np.linspace(0, rows, n_chunks + 1).round().astype(np.int64)
        with _open_for_writing(path, compresslevel) as fh:
            fh.write(_AOL_HEADER)
            for c in range(n_chunks):
                m = int(chunk_rows[c + 1] - chunk_rows[c])
                if m:
                    _write_rows(fh, rng, vocab, m, int(chunk_users[c]),
                                max(int(chunk_users[c + 1]), int(chunk_users[c]) + 1))
        done.write_text(spec)
    return paths


def synthetic_log_complete(folder: str | Path, n_rows: int, n_users: int, n_files: int,
                           seed: int = 0, generator: int = GENERATOR_VERSION) -> bool:
    """Whether :func:`write_synthetic_aol_log` with these arguments has nothing left to write."""
    spec = _log_spec(n_rows, n_users, n_files, seed, generator)
    return all(p.is_file() and _done_marker(p).is_file() and _done_marker(p).read_text() == spec
               for p in _log_paths(Path(folder), n_files))


def _log_paths(folder: Path, n_files: int) -> list[Path]:
    return [folder / f"user-ct-test-collection-{f + 1:02d}.txt.gz" for f in range(n_files)]


def _log_spec(n_rows: int, n_users: int, n_files: int, seed: int, generator: int) -> str:
    spec = f"rows={n_rows} users={n_users} files={n_files} seed={seed}"
    # version 1's markers predate the version field: theirs is the plain spec
    return spec + ("\n" if generator == 1 else f" generator={generator}\n")


def _check_generator(generator) -> None:
    # an int, not 2.0: the version is written into the done markers as given
    if not isinstance(generator, int | np.integer) or isinstance(generator, bool) \
            or generator not in _GENERATORS:
        raise ValueError(f"generator must be one of {list(GENERATOR_VERSIONS)}, "
                         f"got {generator!r}")


def _done_marker(path: Path) -> Path:
    return path.with_name(path.name + ".done")


def _open_for_writing(path: Path, compresslevel: int = 6):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        # mtime=0: the same log gives the same bytes (gzip otherwise stamps the write time)
        raw = gzip.GzipFile(path, "wb", compresslevel=compresslevel, mtime=0)
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    return open(path, "w", encoding="utf-8", newline="")


class _Vocabulary:
    """Fake words and Zipf-popular base queries of a synthetic log of ``n_rows`` rows (more
    distinct queries for a longer log: a fifth of the rows up to 200,000, a tenth beyond).

    Shape, calibrated on the real 1,000-user AOL subset (``python -m benchmarks.aol_shape``):
    the most popular queries are the shortest (as "google", "ebay", "yahoo" are), and the
    popularity exponents of words and base queries (:data:`_GENERATORS`) put the top query
    at about the subset's share of the pairs. Generator 1 drew popular queries of any
    length with steeper exponents (1.0 and 1.05): a popular query longer than 16 characters,
    refined by random words, put a hundred thousand labels of the full-size log under one
    16-character prefix, a trie family of a kind the real subset does not have (its largest:
    99 labels).
    """

    def __init__(self, rng: np.random.Generator, n_rows: int,
                 generator: int = GENERATOR_VERSION):
        from xmr.datasets.synthetic_qac import fake_words

        word_exponent, base_exponent, short_first = _GENERATORS[generator]

        self.words = fake_words(rng, max(200, min(50_000, n_rows // 20)))
        n_base = max(100, min(n_rows // 5, max(200_000, n_rows // 10)))
        lens = rng.choice(4, size=n_base, p=[0.3, 0.4, 0.2, 0.1]) + 1
        word_p = 1.0 / np.arange(1, len(self.words) + 1) ** word_exponent
        word_ids = rng.choice(len(self.words), size=int(lens.sum()), p=word_p / word_p.sum())
        bounds = np.concatenate([[0], np.cumsum(lens)])
        base = [" ".join(self.words[j] for j in word_ids[bounds[i]:bounds[i + 1]])
                for i in range(n_base)]
        if short_first:  # popularity rank follows length: one-word queries first (stable)
            base = [base[i] for i in np.argsort(lens, kind="stable").tolist()]
        self.base = base
        base_p = 1.0 / np.arange(1, n_base + 1) ** base_exponent
        self.base_p = base_p / base_p.sum()


def _write_rows(fh, rng: np.random.Generator, vocab: _Vocabulary, n_rows: int,
                user_lo: int, user_hi: int) -> None:
    """``n_rows`` rows of users ``user_lo .. user_hi - 1`` (AnonID ``7 u + 100``), sorted by
    user then time."""
    words, base = vocab.words, vocab.base
    # Per row: user (sorted), new-session flag, time; sessions start uniformly at random.
    users = np.sort(rng.integers(user_lo, user_hi, size=n_rows)) * 7 + 100  # sparse AnonIDs
    new_session = rng.random(n_rows) < 0.25
    new_session[0] = True
    new_session[1:] |= users[1:] != users[:-1]
    session = np.cumsum(new_session) - 1
    t_lo = int((datetime(2006, 3, 1) - _EPOCH).total_seconds())
    t_hi = int((datetime(2006, 6, 1) - _EPOCH).total_seconds()) - 4 * 3600
    starts = rng.integers(t_lo, t_hi, size=int(session[-1]) + 1)
    gaps = rng.exponential(120.0, size=n_rows).astype(np.int64)
    gaps[new_session] = 0
    within = np.cumsum(gaps)
    within -= within[np.flatnonzero(new_session)][session]
    times = np.minimum(starts[session] + within, t_hi + 4 * 3600 - 1)
    order = np.lexsort((times, users))  # rows sorted by user, then time
    users, times, new_session = users[order], times[order], new_session[order]

    kind = rng.random(n_rows)  # what the row does relative to the previous row of the user
    qids = rng.choice(len(base), size=n_rows, p=vocab.base_p)
    extra = rng.integers(0, len(words), size=n_rows)
    style = rng.random(n_rows)
    ranks = rng.integers(1, 11, size=n_rows)
    repeat = (kind < 0.3) & np.concatenate([[False], users[1:] == users[:-1]])
    clicked = (rng.random(n_rows) < 0.5) | np.concatenate([repeat[1:], [False]]) | repeat
    users, times, kind, qids, extra, style, ranks, clicked = (
        a.tolist() for a in (users, times, kind, qids, extra, style, ranks, clicked))

    lines: list[str] = []
    prev_q, prev_t, prev_u = "", "", -1
    for i in range(n_rows):
        u = users[i]
        t = _format_time(times[i])
        same_user = u == prev_u
        if same_user and kind[i] < 0.3:  # another clicked URL of the same event
            q, t = prev_q, prev_t
        elif same_user and kind[i] < 0.4:  # the same query again (next result page)
            q = prev_q
        elif same_user and kind[i] < 0.55:  # refine: add a word
            q = f"{prev_q} {words[extra[i]]}"
        else:
            q = base[qids[i]]
            if style[i] < 0.05:
                q = q.title()
            elif style[i] < 0.08:
                q = "www." + q.replace(" ", "") + ".com"
            elif style[i] < 0.1:
                q = q.replace(" ", "-") + "?"
        if clicked[i]:
            lines.append(f"{u}\t{q}\t{t}\t{ranks[i]}\thttp://www.{words[extra[i]]}.com\n")
        else:
            lines.append(f"{u}\t{q}\t{t}\t\t\n")
        prev_q, prev_t, prev_u = q, t, u
        if len(lines) == 100_000:
            fh.writelines(lines)
            lines.clear()
    fh.writelines(lines)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _format_time(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    d = date.fromordinal(_EPOCH_ORDINAL + days)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d.isoformat()} {h:02d}:{m:02d}:{s:02d}"
