"""Numba kernels of the QAC prefix vectorizer: (position-weighted) char n-gram TF-IDF of whole
strings (spaces included, no tokenising, no end marks).

Texts come as code points (``cps`` uint32, all texts concatenated) and ``offsets`` (int64,
``n + 1``). For each text, n-grams are emitted for ``n = lo..hi`` (ascending), and within one
``n`` by position ``p = 0..len-n``; with ``position`` set, an n-gram at position ``p`` adds
``1 / (p + 1)`` to its term frequency instead of 1. N-gram hashes are those of
`xmr.kernels.ngrams` (char salt; a string is the same feature whatever its ``n``), looked up
in a `xmr.kernels.ngrams.build_table` hash table; value = tf × idf, then the row is
l2-normalised (left as is when its squared norm is below float32 epsilon, as in PECOS).

Public kernels: `prefix_doc_sets` (fit: distinct hashes of each text), `prefix_tfidf` (batch
transform, CSR arrays), `prefix_tfidf_one` (one text), `hstack_one` (join the query and
prefix rows of one request and renormalise), `prefix_hashes` (tests and debugging). The
pure-Python reference is `xmr.qac.features.prefix_ngram_weights`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xmr.kernels.ngrams import FLT_EPS, _char_gram_hash, _float32_from_bits, _lookup


@njit(nogil=True, cache=True)
def _bound(length, lo, hi):
    """Upper bound on the n-grams of a text of ``length`` code points."""
    return (hi - lo + 1) * length


@njit(nogil=True, cache=True)
def _emit(cps, s, e, lo, hi, position, hbuf, wbuf):
    """Hashes (``hbuf``) and tf increments (``wbuf``) of the n-grams of ``cps[s:e]``."""
    length = e - s
    m = 0
    for n in range(lo, hi + 1):
        for p in range(length - n + 1):
            um = np.uint64(m)  # unsigned: no negative-index wrap-around code (see beam.py)
            hbuf[um] = _char_gram_hash(cps, s, length, p, n)
            wbuf[um] = 1.0 / (p + 1) if position else 1.0
            m += 1
    return m


@njit(nogil=True, cache=True)
def _row(cps, s, e, lo, hi, position, table, hbuf, wbuf, kbuf, vbuf, out_idx, out_val, pos):
    """Tf-idf row of ``cps[s:e]`` written at ``out_idx/out_val[pos:]``; returns its nnz."""
    m = _emit(cps, s, e, lo, hi, position, hbuf, wbuf)
    mm = 0
    for j in range(m):
        uj = np.uint64(j)
        packed = _lookup(table, hbuf[uj])
        if packed != 0:
            kbuf[np.uint64(mm)] = packed
            vbuf[np.uint64(mm)] = wbuf[uj]
            mm += 1
    if mm == 0:
        return 0
    order = np.argsort(kbuf[:mm], kind="mergesort")
    k = 0
    ss = 0.0
    j = 0
    while j < mm:
        packed = kbuf[np.uint64(order[np.uint64(j)])]
        tf = 0.0
        r = j
        while r < mm and kbuf[np.uint64(order[np.uint64(r)])] == packed:
            tf += vbuf[np.uint64(order[np.uint64(r)])]
            r += 1
        w = tf * _float32_from_bits(packed & 0xFFFFFFFF)
        if w != 0.0:
            out_idx[np.uint64(pos + k)] = (packed >> 32) - 1
            out_val[np.uint64(pos + k)] = w
            ss += w * w
            k += 1
        j = r
    if ss >= FLT_EPS:
        inv = 1.0 / math.sqrt(ss)
        for q in range(pos, pos + k):
            out_val[np.uint64(q)] = out_val[np.uint64(q)] * inv
    return k


@njit(nogil=True, cache=True)
def _run(a, b, cps, offsets, lo, hi, position, table, bptr, tmp_idx, tmp_val, nnz):
    maxlen = 0
    for i in range(a, b):
        maxlen = max(maxlen, offsets[i + 1] - offsets[i])
    nb_ = _bound(maxlen, lo, hi)
    hbuf = np.empty(nb_, np.uint64)
    wbuf = np.empty(nb_, np.float64)
    kbuf = np.empty(nb_, np.int64)
    vbuf = np.empty(nb_, np.float64)
    for i in range(a, b):
        nnz[i] = _row(cps, offsets[i], offsets[i + 1], lo, hi, position, table, hbuf, wbuf,
                      kbuf, vbuf, tmp_idx, tmp_val, bptr[i])


@njit(nogil=True, cache=True)
def prefix_tfidf(cps, offsets, lo, hi, position, table, val_template):
    """CSR arrays ``(indptr int64, indices int32 ascending per row, data)`` of a batch, on
    the calling thread (prefixes are short: ~1 µs a row; serial keeps the compile cheap)."""
    n = offsets.size - 1
    bptr = np.zeros(n + 1, np.int64)
    for i in range(n):
        bptr[i + 1] = bptr[i] + _bound(offsets[i + 1] - offsets[i], lo, hi)
    tmp_idx = np.empty(bptr[n], np.int32)
    tmp_val = np.empty(bptr[n], val_template.dtype)
    nnz = np.zeros(n, np.int64)
    _run(0, n, cps, offsets, lo, hi, position, table, bptr, tmp_idx, tmp_val, nnz)
    indptr = np.zeros(n + 1, np.int64)
    for i in range(n):
        indptr[i + 1] = indptr[i] + nnz[i]
    indices = np.empty(indptr[n], np.int32)
    data = np.empty(indptr[n], val_template.dtype)
    for i in range(n):
        indices[indptr[i]:indptr[i + 1]] = tmp_idx[bptr[i]:bptr[i] + nnz[i]]
        data[indptr[i]:indptr[i + 1]] = tmp_val[bptr[i]:bptr[i] + nnz[i]]
    return indptr, indices, data


@njit(nogil=True, cache=True)
def prefix_tfidf_one(cps, lo, hi, position, table, val_template):
    """``(indices int32 ascending, values)`` of one text's row."""
    n = _bound(cps.size, lo, hi)
    hbuf = np.empty(n, np.uint64)
    wbuf = np.empty(n, np.float64)
    kbuf = np.empty(n, np.int64)
    vbuf = np.empty(n, np.float64)
    out_idx = np.empty(n, np.int32)
    out_val = np.empty(n, val_template.dtype)
    k = _row(cps, 0, cps.size, lo, hi, position, table, hbuf, wbuf, kbuf, vbuf, out_idx,
             out_val, 0)
    return out_idx[:k].copy(), out_val[:k].copy()


@njit(nogil=True, cache=True)
def hstack_one(q_idx, q_val, p_idx, p_val, p_offset):
    """One request's input row: ``[query row, prefix row shifted by p_offset]``,
    l2-normalised again (an all-zero row stays empty)."""
    n = q_idx.size + p_idx.size
    idx = np.empty(n, np.int32)
    val = np.empty(n, q_val.dtype)
    ss = 0.0
    for j in range(q_idx.size):
        idx[j] = q_idx[j]
        val[j] = q_val[j]
        ss += float(q_val[j]) * float(q_val[j])
    for j in range(p_idx.size):
        idx[q_idx.size + j] = p_idx[j] + p_offset
        val[q_idx.size + j] = p_val[j]
        ss += float(p_val[j]) * float(p_val[j])
    if ss >= FLT_EPS:
        inv = 1.0 / math.sqrt(ss)
        for j in range(n):
            val[j] = val[j] * inv
    return idx, val


@njit(nogil=True, cache=True)
def prefix_doc_sets(cps, offsets, lo, hi):
    """Per text, its sorted distinct n-gram hashes, concatenated (counting how often a hash
    occurs in the result gives its document frequency)."""
    n = offsets.size - 1
    total = 0
    maxlen = 0
    for i in range(n):
        length = offsets[i + 1] - offsets[i]
        total += _bound(length, lo, hi)
        maxlen = max(maxlen, length)
    out = np.empty(total, np.uint64)
    hbuf = np.empty(_bound(maxlen, lo, hi), np.uint64)
    wbuf = np.empty(_bound(maxlen, lo, hi), np.float64)
    k = 0
    for i in range(n):
        m = _emit(cps, offsets[i], offsets[i + 1], lo, hi, False, hbuf, wbuf)
        if m == 0:
            continue
        seg = np.sort(hbuf[:m])
        out[k] = seg[0]
        k += 1
        for j in range(1, m):
            if seg[j] != seg[j - 1]:
                out[k] = seg[j]
                k += 1
    return out[:k].copy()


@njit(nogil=True, cache=True)
def prefix_hashes(cps, lo, hi):
    """All n-gram hashes of one text in emission order (n ascending, then position)."""
    hbuf = np.empty(_bound(cps.size, lo, hi), np.uint64)
    wbuf = np.empty(_bound(cps.size, lo, hi), np.float64)
    m = _emit(cps, 0, cps.size, lo, hi, False, hbuf, wbuf)
    return hbuf[:m].copy()
