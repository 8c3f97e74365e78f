"""Numba kernels for n-gram TF-IDF featurisation (the hot path of `xmr.features`).

Everything here works on plain arrays:

- ``cps``: the texts as unicode code points, ``uint32``, all texts of a batch concatenated;
- ``offsets``: ``int64`` of length ``n_texts + 1``, text ``i`` is ``cps[offsets[i]:offsets[i+1]]``;
- ``is_word``: ``uint8`` lookup table over all code points (``0x110000`` entries), 1 where the
  code point is a word character (``str.isalnum()`` or ``"_"``, i.e. Python's ``re`` ``\\w``);
- a block's vocabulary: a sorted ``uint64`` array of n-gram hashes (column ``j`` of the block is
  ``vocab[j]``) and a ``float32`` idf array of the same length, given to the kernels together
  as one `build_table` hash table; ``n_word`` is the word block's size (the char block's
  column offset).

A block range ``(lo, hi)`` with ``lo == 0`` disables that block.

Hashing (64-bit, collisions are possible in principle and ignored): FNV-1a over code points
followed by the murmur3 ``fmix64`` finaliser. Char n-grams hash their code points (the word-end
marker ``#`` included) from the char salt, so the same string is the same feature whatever ``n``
produced it. Word n-grams hash the sequence of their token hashes from a salt that also encodes
``n``. Word and char hashes start from different salts and live in different vocabularies, so
the two blocks never share a column.

Each function with a ``_`` prefix is an internal building block; the public kernels are
`batch_ngram_doc_sets` (fit), `batch_tfidf` (transform), each with a ``_serial`` twin for small
batches, `one_tfidf` (single query), `build_table` (vocabulary lookup table), and
`ngram_hashes` / `hash_char_gram` / `hash_word_ngram` (debugging and tests).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
WORD_TOKEN_SALT = np.uint64(0x9E3779B97F4A7C15)  # token hashes (intermediate, never columns)
WORD_NGRAM_SALT = np.uint64(0xD6E8FEB86659FD93)  # word n-grams, xor-ed with n
CHAR_SALT = np.uint64(0xA0761D6478BD642F)  # char n-grams
END_MARK = np.uint64(ord("#"))  # appended to every token for char n-grams (word END only)
# PECOS leaves a row un-normalised when its squared norm is below float32 epsilon.
FLT_EPS = float(np.finfo(np.float32).eps)

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


@njit(nogil=True, cache=True, inline="always")
def _fmix64(h):
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return h


# ---------------------------------------------------------------- bounds and tokenising


@njit(nogil=True, cache=True)
def _max_tokens(length):
    """Tokens are separated by >= 1 non-word code point, so at most ceil(length / 2)."""
    return (length + 1) // 2


@njit(nogil=True, cache=True)
def _word_bound(length, lo, hi):
    if lo == 0:
        return 0
    return (hi - lo + 1) * _max_tokens(length)


@njit(nogil=True, cache=True)
def _char_bound(length, lo, hi):
    # per token of marked length L at most L grams per n; sum of L <= length + n_tokens
    if lo == 0:
        return 0
    return (hi - lo + 1) * (length + _max_tokens(length))


@njit(nogil=True, cache=True)
def _tokenize(cps, start, end, is_word, tok_s, tok_e):
    """Maximal runs of word code points in ``cps[start:end]``; returns the token count."""
    ntok = 0
    in_tok = False
    n_table = is_word.size
    for p in range(start, end):
        c = cps[np.uint64(p)]
        w = c < n_table and is_word[c] != 0
        if w:
            if not in_tok:
                tok_s[np.uint64(ntok)] = p
                in_tok = True
        elif in_tok:
            tok_e[np.uint64(ntok)] = p
            ntok += 1
            in_tok = False
    if in_tok:
        tok_e[ntok] = end
        ntok += 1
    return ntok


# ---------------------------------------------------------------- hashing


@njit(nogil=True, cache=True)
def _char_gram_hash(cps, s, tlen, i, n):
    """Hash of the n code points at position i of the marked token ``cps[s:s+tlen] + '#'``."""
    h = FNV_OFFSET ^ CHAR_SALT
    for j in range(i, i + n):
        if j < tlen:
            h ^= np.uint64(cps[np.uint64(s + j)])
        else:
            h ^= END_MARK
        h *= FNV_PRIME
    return _fmix64(h)


@njit(nogil=True, cache=True)
def _token_hash(cps, s, e):
    h = FNV_OFFSET ^ WORD_TOKEN_SALT
    for p in range(s, e):
        h ^= np.uint64(cps[np.uint64(p)])
        h *= FNV_PRIME
    return _fmix64(h)


@njit(nogil=True, cache=True)
def _word_gram_hash(tok_h, i, n):
    h = WORD_NGRAM_SALT ^ np.uint64(n)
    for j in range(i, i + n):
        h = _fmix64((h ^ tok_h[np.uint64(j)]) * FNV_PRIME)
    return h


@njit(nogil=True, cache=True)
def _emit_word(cps, tok_s, tok_e, ntok, lo, hi, tok_h, out):
    """Word n-gram hashes, n ascending then position; returns how many were written."""
    for t in range(ntok):
        ut = np.uint64(t)
        tok_h[ut] = _token_hash(cps, tok_s[ut], tok_e[ut])
    m = 0
    for n in range(lo, hi + 1):
        for i in range(ntok - n + 1):
            out[np.uint64(m)] = _word_gram_hash(tok_h, i, n)
            m += 1
    return m


@njit(nogil=True, cache=True)
def _emit_char(cps, tok_s, tok_e, ntok, lo, hi, out):
    """Char n-gram hashes per token (token, then n ascending, then position).

    The token is marked at its END with ``#``; a marked token shorter than ``lo`` yields the
    whole marked token once."""
    m = 0
    for t in range(ntok):
        ut = np.uint64(t)
        s = tok_s[ut]
        tlen = tok_e[ut] - s
        L = tlen + 1
        if lo > L:
            out[np.uint64(m)] = _char_gram_hash(cps, s, tlen, 0, L)
            m += 1
            continue
        for n in range(lo, min(hi, L) + 1):
            for i in range(L - n + 1):
                out[np.uint64(m)] = _char_gram_hash(cps, s, tlen, i, n)
                m += 1
    return m


# ---------------------------------------------------------------- tf-idf of one row


@njit(nogil=True, cache=True)
def build_table(vocab, idf):
    """Open-addressing hash table of a block: ``(size, 2)`` uint64 rows of ``(hash, packed)``
    with ``packed = (column + 1) << 32 | float32 bits of idf[column]`` (0 = empty slot); size a
    power of two >= 2 V, linear probing.

    The sorted ``vocab`` defines the columns; the table makes the lookup one cache line (a
    binary search over a large vocabulary costs ~20 cache misses per n-gram)."""
    size = 16
    while size < 2 * vocab.size:
        size *= 2
    table = np.zeros((size, 2), np.uint64)
    mask = np.uint64(size - 1)
    idf_bits = idf.view(np.uint32)
    for col in range(vocab.size):
        h = vocab[col]
        s = h & mask
        while table[s, 1] != 0:
            s = (s + np.uint64(1)) & mask
        table[s, 0] = h
        table[s, 1] = (np.uint64(col + 1) << np.uint64(32)) | np.uint64(idf_bits[col])
    return table


@njit(nogil=True, cache=True, inline="always")
def _lookup(table, h):
    """Packed ``(column + 1) << 32 | idf bits`` of hash ``h`` in a `build_table` table, or 0."""
    mask = np.uint64(table.shape[0] - 1)
    s = h & mask
    while True:
        c = table[s, 1]
        if c == 0 or table[s, 0] == h:
            return np.int64(c)
        s = (s + np.uint64(1)) & mask


@njit(nogil=True, cache=True, inline="always")
def _float32_from_bits(b):
    """The (non-negative, finite) float32 whose bit pattern is ``b``, exactly, as a float."""
    e = (b >> 23) & 0xFF
    mant = float(b & 0x7FFFFF)
    if e == 0:
        return math.ldexp(mant, -149)
    return math.ldexp(mant + 8388608.0, e - 150)


@njit(nogil=True, cache=True)
def _block_tfidf(hbuf, m, table, col_offset, sublinear, lbuf, cbuf, vbuf, k):
    """Hashes ``hbuf[:m]`` -> l2-normalised tf-idf entries appended at ``cbuf/vbuf[k:]``.

    tf is the raw count (``1 + ln(tf)`` when sublinear); value = tf * idf; entries whose idf is
    0 are not stored. Returns the new end ``k``."""
    mm = 0
    for j in range(m):
        packed = _lookup(table, hbuf[np.uint64(j)])
        if packed != 0:
            lbuf[np.uint64(mm)] = packed
            mm += 1
    if mm == 0:
        return k
    found = lbuf[:mm]
    found.sort()  # by column: the column sits in the high bits, equal columns are equal values
    k0 = k
    ss = 0.0
    j = 0
    while j < mm:
        packed = found[np.uint64(j)]
        r = j + 1
        while r < mm and found[np.uint64(r)] == packed:
            r += 1
        tf = float(r - j)
        if sublinear:
            tf = 1.0 + math.log(tf)
        w = tf * _float32_from_bits(packed & 0xFFFFFFFF)
        if w != 0.0:
            cbuf[np.uint64(k)] = (packed >> 32) - 1 + col_offset
            vbuf[np.uint64(k)] = w
            ss += w * w
            k += 1
        j = r
    if ss >= FLT_EPS:
        inv = 1.0 / math.sqrt(ss)
        for q in range(k0, k):
            vbuf[np.uint64(q)] *= inv
    return k


@njit(nogil=True, cache=True)
def _row(cps, start, end, is_word, wlo, whi, clo, chi, w_table, c_table, n_word,
         sublinear, tok_s, tok_e, tok_h, hbuf, lbuf, cbuf, vbuf, out_idx, out_val, pos):
    """Tf-idf row of text ``cps[start:end]`` written at ``out_idx/out_val[pos:]``; returns nnz."""
    ntok = _tokenize(cps, start, end, is_word, tok_s, tok_e)
    k = 0
    if wlo > 0:
        m = _emit_word(cps, tok_s, tok_e, ntok, wlo, whi, tok_h, hbuf)
        k = _block_tfidf(hbuf, m, w_table, 0, sublinear, lbuf, cbuf, vbuf, k)
    if clo > 0:
        m = _emit_char(cps, tok_s, tok_e, ntok, clo, chi, hbuf)
        k = _block_tfidf(hbuf, m, c_table, n_word, sublinear, lbuf, cbuf, vbuf, k)
    ss = 0.0
    for q in range(k):
        ss += vbuf[np.uint64(q)] * vbuf[np.uint64(q)]
    inv = 1.0 / math.sqrt(ss) if ss >= FLT_EPS else 1.0
    for q in range(k):
        uq = np.uint64(q)
        out_idx[np.uint64(pos + q)] = cbuf[uq]
        out_val[np.uint64(pos + q)] = vbuf[uq] * inv
    return k


# ---------------------------------------------------------------- public kernels


@njit(nogil=True, cache=True)
def one_tfidf(cps, is_word, wlo, whi, clo, chi, w_table, c_table, n_word, sublinear,
              val_template):
    """Tf-idf row of one text (code points ``cps``): ``(indices int32 ascending, values)``,
    values of ``val_template.dtype``."""
    length = cps.size
    wb = _word_bound(length, wlo, whi)
    cb = _char_bound(length, clo, chi)
    ntok = _max_tokens(length) + 1
    tok_s = np.empty(ntok, np.int64)
    tok_e = np.empty(ntok, np.int64)
    tok_h = np.empty(ntok, np.uint64)
    hbuf = np.empty(max(wb, cb), np.uint64)
    lbuf = np.empty(max(wb, cb), np.int64)
    cbuf = np.empty(wb + cb, np.int64)
    vbuf = np.empty(wb + cb, np.float64)
    out_idx = np.empty(wb + cb, np.int32)
    out_val = np.empty(wb + cb, val_template.dtype)
    k = _row(cps, 0, length, is_word, wlo, whi, clo, chi, w_table, c_table, n_word,
             sublinear, tok_s, tok_e, tok_h, hbuf, lbuf, cbuf, vbuf, out_idx, out_val, 0)
    return out_idx[:k].copy(), out_val[:k].copy()


@njit(nogil=True, cache=True)
def _bounds(offsets, wlo, whi, clo, chi):
    """Prefix sums of the per-text upper bounds on the number of n-grams."""
    n = offsets.size - 1
    bptr = np.zeros(n + 1, np.int64)
    for i in range(n):
        length = offsets[i + 1] - offsets[i]
        bptr[i + 1] = bptr[i] + _word_bound(length, wlo, whi) + _char_bound(length, clo, chi)
    return bptr


@njit(nogil=True, cache=True)
def _tfidf_run(a, b, cps, offsets, is_word, wlo, whi, clo, chi, w_table, c_table, n_word,
               sublinear, bptr, tmp_idx, tmp_val, nnz):
    """Rows ``a..b-1`` at their bounds ``bptr[i]``, with scratch buffers shared by the run."""
    maxlen = 0
    for i in range(a, b):
        maxlen = max(maxlen, offsets[i + 1] - offsets[i])
    wb = _word_bound(maxlen, wlo, whi)
    cb = _char_bound(maxlen, clo, chi)
    ntok = _max_tokens(maxlen) + 1
    tok_s = np.empty(ntok, np.int64)
    tok_e = np.empty(ntok, np.int64)
    tok_h = np.empty(ntok, np.uint64)
    hbuf = np.empty(max(wb, cb), np.uint64)
    lbuf = np.empty(max(wb, cb), np.int64)
    cbuf = np.empty(wb + cb, np.int64)
    vbuf = np.empty(wb + cb, np.float64)
    for i in range(a, b):
        nnz[i] = _row(cps, offsets[i], offsets[i + 1], is_word, wlo, whi, clo, chi,
                      w_table, c_table, n_word, sublinear, tok_s, tok_e, tok_h,
                      hbuf, lbuf, cbuf, vbuf, tmp_idx, tmp_val, bptr[i])


@njit(nogil=True, cache=True)
def _doc_sets_run(a, b, cps, offsets, is_word, wlo, whi, clo, chi, bptr, tmp, cnt):
    """Sorted distinct hashes of texts ``a..b-1`` at ``tmp[bptr[i]:]``, their count in cnt."""
    maxlen = 0
    for i in range(a, b):
        maxlen = max(maxlen, offsets[i + 1] - offsets[i])
    ntok = _max_tokens(maxlen) + 1
    tok_s = np.empty(ntok, np.int64)
    tok_e = np.empty(ntok, np.int64)
    tok_h = np.empty(ntok, np.uint64)
    for i in range(a, b):
        ntk = _tokenize(cps, offsets[i], offsets[i + 1], is_word, tok_s, tok_e)
        p = bptr[i]
        m = 0
        if wlo > 0:
            m += _emit_word(cps, tok_s, tok_e, ntk, wlo, whi, tok_h, tmp[p:])
        if clo > 0:
            m += _emit_char(cps, tok_s, tok_e, ntk, clo, chi, tmp[p + m:])
        if m == 0:
            continue
        seg = tmp[p:p + m]
        seg.sort()
        u = 1
        for j in range(1, m):
            if seg[j] != seg[u - 1]:
                seg[u] = seg[j]
                u += 1
        cnt[i] = u


@njit(nogil=True, cache=True)
def _prefix(counts):
    ptr = np.zeros(counts.size + 1, np.int64)
    for i in range(counts.size):
        ptr[i + 1] = ptr[i] + counts[i]
    return ptr


@njit(nogil=True, cache=True, parallel=True)
def batch_tfidf(cps, offsets, is_word, wlo, whi, clo, chi, w_table, c_table, n_word,
                sublinear, val_template, n_chunks):
    """Tf-idf CSR arrays ``(indptr int64, indices int32, data)`` of a batch of texts.

    Rows are filled in parallel (``n_chunks`` contiguous runs of rows, each with its own
    scratch buffers) at per-row upper bounds, then compacted."""
    n = offsets.size - 1
    bptr = _bounds(offsets, wlo, whi, clo, chi)
    tmp_idx = np.empty(bptr[n], np.int32)
    tmp_val = np.empty(bptr[n], val_template.dtype)
    nnz = np.zeros(n, np.int64)
    n_chunks = max(1, min(n, n_chunks))
    for ch in prange(n_chunks):
        _tfidf_run(ch * n // n_chunks, (ch + 1) * n // n_chunks, cps, offsets, is_word,
                   wlo, whi, clo, chi, w_table, c_table, n_word, sublinear, bptr,
                   tmp_idx, tmp_val, nnz)
    indptr = _prefix(nnz)
    indices = np.empty(indptr[n], np.int32)
    data = np.empty(indptr[n], val_template.dtype)
    for i in prange(n):
        indices[indptr[i]:indptr[i + 1]] = tmp_idx[bptr[i]:bptr[i] + nnz[i]]
        data[indptr[i]:indptr[i + 1]] = tmp_val[bptr[i]:bptr[i] + nnz[i]]
    return indptr, indices, data


@njit(nogil=True, cache=True)
def batch_tfidf_serial(cps, offsets, is_word, wlo, whi, clo, chi, w_table, c_table, n_word,
                       sublinear, val_template):
    """`batch_tfidf` on the calling thread only: for small batches, where waking the thread
    pool costs more than the work (and a lot more on a loaded machine)."""
    n = offsets.size - 1
    bptr = _bounds(offsets, wlo, whi, clo, chi)
    tmp_idx = np.empty(bptr[n], np.int32)
    tmp_val = np.empty(bptr[n], val_template.dtype)
    nnz = np.zeros(n, np.int64)
    _tfidf_run(0, n, cps, offsets, is_word, wlo, whi, clo, chi, w_table, c_table, n_word,
               sublinear, bptr, tmp_idx, tmp_val, nnz)
    indptr = _prefix(nnz)
    indices = np.empty(indptr[n], np.int32)
    data = np.empty(indptr[n], val_template.dtype)
    for i in range(n):
        indices[indptr[i]:indptr[i + 1]] = tmp_idx[bptr[i]:bptr[i] + nnz[i]]
        data[indptr[i]:indptr[i + 1]] = tmp_val[bptr[i]:bptr[i] + nnz[i]]
    return indptr, indices, data


@njit(nogil=True, cache=True, parallel=True)
def batch_ngram_doc_sets(cps, offsets, is_word, wlo, whi, clo, chi, n_chunks):
    """Per text, the sorted distinct n-gram hashes of the enabled block(s), concatenated.

    Counting how often each hash occurs in the result gives its document frequency."""
    n = offsets.size - 1
    bptr = _bounds(offsets, wlo, whi, clo, chi)
    tmp = np.empty(bptr[n], np.uint64)
    cnt = np.zeros(n, np.int64)
    n_chunks = max(1, min(n, n_chunks))
    for ch in prange(n_chunks):
        _doc_sets_run(ch * n // n_chunks, (ch + 1) * n // n_chunks, cps, offsets, is_word,
                      wlo, whi, clo, chi, bptr, tmp, cnt)
    optr = _prefix(cnt)
    out = np.empty(optr[n], np.uint64)
    for i in prange(n):
        out[optr[i]:optr[i + 1]] = tmp[bptr[i]:bptr[i] + cnt[i]]
    return out


@njit(nogil=True, cache=True)
def batch_ngram_doc_sets_serial(cps, offsets, is_word, wlo, whi, clo, chi):
    """`batch_ngram_doc_sets` on the calling thread only (small batches)."""
    n = offsets.size - 1
    bptr = _bounds(offsets, wlo, whi, clo, chi)
    tmp = np.empty(bptr[n], np.uint64)
    cnt = np.zeros(n, np.int64)
    _doc_sets_run(0, n, cps, offsets, is_word, wlo, whi, clo, chi, bptr, tmp, cnt)
    optr = _prefix(cnt)
    out = np.empty(optr[n], np.uint64)
    for i in range(n):
        out[optr[i]:optr[i + 1]] = tmp[bptr[i]:bptr[i] + cnt[i]]
    return out


@njit(nogil=True, cache=True)
def ngram_hashes(cps, is_word, wlo, whi, clo, chi):
    """All n-gram hashes of one text in emission order (word block, then char block)."""
    length = cps.size
    ntok = _max_tokens(length) + 1
    tok_s = np.empty(ntok, np.int64)
    tok_e = np.empty(ntok, np.int64)
    tok_h = np.empty(ntok, np.uint64)
    out = np.empty(_word_bound(length, wlo, whi) + _char_bound(length, clo, chi), np.uint64)
    ntk = _tokenize(cps, 0, length, is_word, tok_s, tok_e)
    m = 0
    if wlo > 0:
        m += _emit_word(cps, tok_s, tok_e, ntk, wlo, whi, tok_h, out)
    if clo > 0:
        m += _emit_char(cps, tok_s, tok_e, ntk, clo, chi, out[m:])
    return out[:m].copy()


@njit(nogil=True, cache=True)
def hash_char_gram(cps):
    """Hash of one char n-gram given as code points (a word-end ``#`` included literally)."""
    return _char_gram_hash(cps, 0, cps.size, 0, cps.size)


@njit(nogil=True, cache=True)
def hash_word_ngram(cps, tok_offsets):
    """Hash of the word n-gram whose tokens are ``cps[tok_offsets[t]:tok_offsets[t+1]]``."""
    n = tok_offsets.size - 1
    tok_h = np.empty(n, np.uint64)
    for t in range(n):
        tok_h[t] = _token_hash(cps, tok_offsets[t], tok_offsets[t + 1])
    return _word_gram_hash(tok_h, 0, n)
