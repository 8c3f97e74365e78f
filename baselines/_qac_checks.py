"""Input checks shared by the QAC baselines (seq2seq completer, dual-encoder retriever): one
data contract, one set of messages."""

from __future__ import annotations

from xmr._validation import check_texts


def check_request(prev_query, prefix) -> None:
    """A request is (str, non-empty str); anything else raises TypeError / ValueError."""
    if not isinstance(prev_query, str) or not isinstance(prefix, str):
        raise TypeError(f"prev_query and prefix must be str, got {type(prev_query).__name__} "
                        f"and {type(prefix).__name__}")
    if not prefix:
        raise ValueError("prefix is empty: a completion needs at least one typed character")


def check_triples(prev_queries, prefixes, next_queries, name: str
                  ) -> tuple[list[str], list[str], list[str]]:
    """Three equally long lists of str, non-empty, each prefix non-empty and a prefix of its
    next query (the QAC data contract)."""
    prev = check_texts(prev_queries, f"{name} prev_queries")
    pre = check_texts(prefixes, f"{name} prefixes")
    nxt = check_texts(next_queries, f"{name} next_queries")
    if not nxt:
        raise ValueError(f"{name} next_queries is empty: nothing to train on")
    if not len(prev) == len(pre) == len(nxt):
        raise ValueError(f"{name} columns differ in length: {len(prev)} previous queries, "
                         f"{len(pre)} prefixes, {len(nxt)} next queries")
    for i, (p, q) in enumerate(zip(pre, nxt)):
        if not p or not q.startswith(p):
            raise ValueError(f"{name} row {i}: the prefix {p!r:.40} must be non-empty and "
                             f"start the next query {q!r:.60}")
    return prev, pre, nxt


def check_requests(prev_queries, prefixes) -> tuple[list[str], list[str]]:
    """Two equally long lists of str (a batch of requests)."""
    prev = check_texts(prev_queries, "prev_queries")
    pre = check_texts(prefixes, "prefixes")
    if len(prev) != len(pre):
        raise ValueError(f"prev_queries and prefixes differ in length: {len(prev)} and "
                         f"{len(pre)}")
    return prev, pre
