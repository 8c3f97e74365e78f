"""Tokens and n-grams of the text featurizers: the word-character table the kernels use and
the readable (pure-Python) n-gram twins of what they hash.

Tokens are maximal runs of word characters (unicode alphanumerics and ``_``, Python's ``\\w``)
of the text, lowercased first by ``str.lower()`` when ``lowercase``; everything else separates.
Word n-grams are over consecutive tokens. Char n-grams are over unicode code points of each
token with ``#`` appended; word STARTS are not marked (the paper marks ends only). A marked
token shorter than the smallest n yields the whole marked token as one gram ("a" -> "a#").
"""

from __future__ import annotations

import functools
import re

import numpy as np

WORD_RE = re.compile(r"\w+")


@functools.lru_cache(maxsize=1)
def word_table() -> np.ndarray:
    """uint8[0x110000]: 1 where the code point is a word character (``re``'s ``\\w``)."""
    cps = np.arange(0x110000, dtype=np.uint32)
    cps[0xD800:0xE000] = 0x20  # surrogates cannot be decoded; they are not word characters
    text = cps.tobytes().decode("utf-32-le")
    marked = re.sub(r"\W", " ", text).encode("utf-32-le")
    return (np.frombuffer(marked, dtype=np.uint32) != 0x20).astype(np.uint8)


def encode(text: str) -> np.ndarray:
    """The code points of ``text`` as uint32 (the kernels' input)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def word_ngrams(text: str, n_range: tuple[int, int] = (1, 1), *,
                lowercase: bool = True) -> list[str]:
    """Word n-grams of ``text`` as strings (tokens joined by a space), n ascending.

    The readable twin of what the featurizer hashes; for debugging, not for speed."""
    tokens = WORD_RE.findall(text.lower() if lowercase else text)
    lo, hi = n_range
    return [" ".join(tokens[i:i + n]) for n in range(lo, hi + 1)
            for i in range(len(tokens) - n + 1)]


def char_ngrams(text: str, n_range: tuple[int, int] = (3, 3), *,
                lowercase: bool = True) -> list[str]:
    """Char n-grams of each word of ``text`` with the word end marked by ``#``.

    Per token, n ascending, then position; a marked token shorter than ``n_range[0]`` yields
    itself once. ``char_ngrams("echo with", (3, 3)) == ["ech", "cho", "ho#", "wit", "ith",
    "th#"]``. For debugging, not for speed."""
    lo, hi = n_range
    grams = []
    for token in WORD_RE.findall(text.lower() if lowercase else text):
        marked = token + "#"
        if lo > len(marked):
            grams.append(marked)
            continue
        for n in range(lo, min(hi, len(marked)) + 1):
            grams.extend(marked[i:i + n] for i in range(len(marked) - n + 1))
    return grams
