"""The network of the seq2seq completer: a character GRU encoder–decoder with attention.

- **Encoder**: character embedding (``emb_dim``) -> one bidirectional GRU layer (``hidden // 2``
  units per direction), so each source position is a ``hidden``-vector ("memory").
- **Bridge**: the decoder's initial state = tanh(Linear([last forward state; last backward
  state])).
- **Decoder**: character embedding (the same table as the encoder: one alphabet) -> one GRU
  layer of ``hidden`` units; at each step Luong "general" attention over the memory
  (score = hᵀ W m, padding masked), then ``tanh(Linear([h; context]))`` -> Linear -> logits
  over the vocabulary. No input feeding, so teacher-forced training runs the decoder GRU over
  the whole target in one call (fast on CPU) and attends for all steps at once.

Shapes: B = batch, S = source length, T = target length, H = ``hidden``, V = vocabulary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from baselines.seq2seq.vocab import PAD


class Seq2SeqNet(nn.Module):
    """GRU encoder–decoder with Luong attention over characters.

    Parameters
    ----------
    vocab_size : V, characters + the reserved ids.
    emb_dim : character embedding size.
    hidden : H, decoder state size (the encoder has H // 2 per direction; H must be even).
    dropout : dropout on the embeddings and on the attentional output (training only).
    """

    def __init__(self, *, vocab_size: int, emb_dim: int, hidden: int, dropout: float):
        super().__init__()
        if hidden % 2:
            raise ValueError(f"hidden must be even (two encoder directions), got {hidden}")
        self.hidden = hidden
        self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.encoder = nn.GRU(emb_dim, hidden // 2, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(hidden, hidden)
        self.decoder = nn.GRU(emb_dim, hidden, batch_first=True)
        self.attn = nn.Linear(hidden, hidden, bias=False)  # W of score = hᵀ W m
        self.combine = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, vocab_size)
        self.drop = nn.Dropout(dropout)

    def encode(self, src: torch.Tensor, lengths: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """src (B, S) int64 right-padded, lengths (B,) int64 (CPU) -> memory (B, S, H),
        keys (B, S, H) = memory projected by W (computed once per source), and the decoder's
        initial state (1, B, H)."""
        x = self.drop(self.embed(src))  # (B, S, E)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h = self.encoder(packed)  # h: (2, B, H/2)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        h0 = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=-1))).unsqueeze(0)  # (1, B, H)
        return memory, self.attn(memory), h0

    def attend(self, dec: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor,
               src_mask: torch.Tensor) -> torch.Tensor:
        """dec (B, T, H) decoder states -> logits (B, T, V). src_mask (B, S) bool, True at
        real (non-padding) source positions."""
        scores = dec @ keys.transpose(1, 2)  # (B, T, S)
        scores = scores.masked_fill(~src_mask.unsqueeze(1), float("-inf"))
        context = F.softmax(scores, dim=-1) @ memory  # (B, T, H)
        att = torch.tanh(self.combine(torch.cat([dec, context], dim=-1)))
        return self.out(self.drop(att))

    def decode(self, tgt_in: torch.Tensor, h: torch.Tensor, memory: torch.Tensor,
               keys: torch.Tensor, src_mask: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the decoder over tgt_in (B, T) int64 from state h (1, B, H): logits (B, T, V)
        and the state after the last step (1, B, H). Used for teacher forcing (the whole
        target), for forcing the typed prefix, and for one beam-search step (T = 1)."""
        dec, h = self.decoder(self.drop(self.embed(tgt_in)), h)  # (B, T, H)
        return self.attend(dec, memory, keys, src_mask), h

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor
                ) -> torch.Tensor:
        """Teacher forcing: logits (B, T, V) of every next character given the true ones."""
        memory, keys, h0 = self.encode(src, src_lengths)
        logits, _ = self.decode(tgt_in, h0, memory, keys, src != PAD)
        return logits
