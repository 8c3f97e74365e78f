"""A tiny set of sessions the QAC baselines must learn (shared by their tests)."""

from __future__ import annotations

# (previous query, next query): the same first characters lead to different next queries
# depending on the session, so only a model that reads the previous query gets rank 1
SESSIONS = [
    ("iphone 12", "case for iphone"),
    ("cat litter", "cat food"),
    ("dog leash", "dog food"),
    ("weather boston", "weather new york"),
    ("cheap flights", "car rental"),
    ("pasta recipes", "pasta sauce"),
]
PREFIX_LENGTHS = (1, 2, 3, 5)  # characters of the next query typed


def tiny_rows(copies: int = 4) -> tuple[list[str], list[str], list[str]]:
    """(prev_queries, prefixes, next_queries): every session at every prefix length,
    ``copies`` times."""
    prev, pre, nxt = [], [], []
    for _ in range(copies):
        for p, q in SESSIONS:
            for n in PREFIX_LENGTHS:
                prev.append(p)
                pre.append(q[:n])
                nxt.append(q)
    return prev, pre, nxt
