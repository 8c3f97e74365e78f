"""Handing freed heap memory back to the operating system (glibc).

The training threads (numba's and the task pool's) allocate in glibc's per-thread arenas;
what they free stays mapped there and cannot serve the main thread's next large allocation,
so the resident set grows by what the threads once held. ``malloc_trim(0)`` returns the free
pages of every arena; the fit calls it between phases (after each tree level and before the
inference layout is built), which lowers the peak, not only the end state.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys


def _load_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim  # glibc only (musl has none)
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _load_trim()


def release_free_memory() -> None:
    """Return the heap's free pages to the OS (a no-op where glibc's ``malloc_trim`` is
    absent)."""
    if _TRIM is not None:
        _TRIM(0)
