"""Prefix-constrained beam search: the typed prefix is forced, the rest is searched.

For one request (source ids, prefix ids):

1. encode the source once;
2. **force the prefix**: run the decoder over ``BOS`` ⊕ the prefix's characters in one call
   (teacher forcing), so every hypothesis starts with the prefix and its log-probability is
   a constant shared by all completions (it does not change their order, so it is left out);
3. **beam search** the continuation: each step expands the ``beam_size`` live hypotheses by
   every character or ``EOS`` (``PAD``, ``BOS``, ``SEP`` and ``UNK`` are never generated),
   keeps the ``2 × beam_size`` best extensions, moves those ending in ``EOS`` to the
   finished list and the others (at most ``beam_size``) to the next beam. Scores are sums of
   log-probabilities, i.e. the model's probability of the whole completion, with no length
   penalty: MRR rewards the exact string, and the most probable strings are what maximises it;
4. stop when ``k`` hypotheses have finished and no live one can still beat the ``k``-th best
   (a score only goes down as a hypothesis grows), or after ``max_len`` characters in all
   (at least one step, so a prefix as long as ``max_len`` can still end there).

Returns the ``k`` best finished completions, best first, as continuation id lists. At the
character level two different paths are two different strings, so the ``k`` completions are
distinct by construction (no de-duplication needed).
"""

from __future__ import annotations

import torch

from baselines.seq2seq.model import Seq2SeqNet
from baselines.seq2seq.vocab import BOS, EOS, SEP, UNK

NEVER_GENERATED = (0, BOS, SEP, UNK)  # PAD, BOS, SEP, UNK


@torch.no_grad()
def beam_complete(net: Seq2SeqNet, src: list[int], prefix: list[int], *, k: int,
                  beam_size: int, max_len: int) -> list[tuple[list[int], float]]:
    """The ``k`` most probable completions of ``prefix`` given ``src`` (see the module doc).

    net : the network, in eval mode, on the CPU or a device (inputs follow its parameters).
    src : source ids (previous query ⊕ SEP ⊕ prefix); prefix : the prefix's ids.
    Returns up to ``k`` ``(continuation ids without EOS, log-probability)``, best first.
    """
    device = net.out.weight.device
    src_t = torch.tensor([src], dtype=torch.int64, device=device)  # (1, S)
    memory, keys, h = net.encode(src_t, torch.tensor([len(src)]))
    mask = torch.ones(1, len(src), dtype=torch.bool, device=device)
    forced = torch.tensor([[BOS] + prefix], dtype=torch.int64, device=device)  # (1, P+1)
    logits, h = net.decode(forced, h, memory, keys, mask)
    logp = torch.log_softmax(logits[:, -1], dim=-1)  # (1, V): the first completion character
    banned = torch.tensor(NEVER_GENERATED, device=device)
    vocab = logp.shape[-1]

    live: list[list[int]] = [[]]  # continuation ids of each live hypothesis
    scores = torch.zeros(1, device=device)  # (n_live,)
    finished: list[tuple[list[int], float]] = []
    for _ in range(max(1, max_len - len(prefix))):  # a prefix at the cap may still end
        logp[:, banned] = float("-inf")
        cand = (scores.unsqueeze(1) + logp).view(-1)  # (n_live * V,)
        top = torch.topk(cand, min(2 * beam_size, cand.numel()))
        keep_rows, keep_tok, keep_scores = [], [], []
        for s, flat in zip(top.values.tolist(), top.indices.tolist()):
            if s == float("-inf"):
                break
            row, tok = divmod(flat, vocab)
            if tok == EOS:
                finished.append((live[row], s))
            elif len(keep_rows) < beam_size:
                keep_rows.append(row)
                keep_tok.append(tok)
                keep_scores.append(s)
        if len(finished) >= k:
            finished.sort(key=lambda f: -f[1])
            del finished[k:]
            if not keep_scores or keep_scores[0] <= finished[-1][1]:
                break  # no live hypothesis can still enter the top k
        if not keep_rows:
            break
        live = [live[r] + [t] for r, t in zip(keep_rows, keep_tok)]
        scores = torch.tensor(keep_scores, device=device)
        rows = torch.tensor(keep_rows, device=device)
        n = len(keep_rows)
        tok_t = torch.tensor(keep_tok, dtype=torch.int64, device=device).unsqueeze(1)
        logits, h = net.decode(tok_t, h[:, rows], memory.expand(n, -1, -1),
                               keys.expand(n, -1, -1), mask.expand(n, -1))
        logp = torch.log_softmax(logits[:, -1], dim=-1)  # (n, V)
    finished.sort(key=lambda f: -f[1])
    return finished[:k]
