"""The token embedding with ``ln0`` applied: every token's first step, ``LN0(emb[token])``.

The table has a row per vocabulary entry (65,536 for World models): 192 MiB in fp32 at width 768,
512 MiB at 2048, more than the head of an int8 model. A prompt reads a few hundred of its rows, a
decoded token one. So on the CPU the table is not copied: rows are read from the model file's
memory map and normalised as they are looked up, and the file's pages are let go again
(:func:`engine.models.checkpoint.release_pages`) once :data:`RELEASE_AFTER` rows have been read, so
the table costs next to no resident memory in any precision: at most the pages a page fault maps
in around each of those rows (Linux's fault-around, 64 KiB by default: 16 MiB for 256 rows). One
release of the whole table costs ~1 ms; one per row read would cost ~60 µs a token.

Where the file is not mapped (a GPU, or a platform where we cannot tell the file's pages from
ours) the normalised table is made once, as it always was: on a GPU a lookup must be a device op,
which a CUDA graph can replay.

A row is the same numbers either way, and the same as when the whole table was folded at load:
LN0 in the fold dtype (RWKV-4/5/6: the file's, as their oracle; RWKV-7: the compute dtype, as its
reference), then cast to the compute dtype and to the shift dtype the state keeps.

The compiled decode step reads its tokens' rows from a small staging table of its own
(:meth:`Embedding.stage`), filled before each step; it never reads the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

LN_EPS = 1e-5
STAGED_ROWS = 64          # the compiled step's staging table: a bigger batch is decoded in slices
_ROWS_PER_CHUNK = 4096    # a table folded at load is folded this many rows at a time
RELEASE_AFTER = 256       # rows read between two releases of the table's file pages


class Embedding:
    """``rows(tokens)``: ``LN0(emb[tokens])`` ``[T, C]`` in :attr:`dtype` (the shift dtype).

    ``table`` is the file's ``[V, C]`` with ``ln0`` (weight, bias) still to apply in ``fold`` on
    ``ln0``'s device, or, with ``ln0`` None, the folded rows themselves. ``release(row)`` lets go
    of the file's pages under a row that was read (None: the table is our own memory).
    """

    def __init__(self, table: Tensor, ln0: tuple[Tensor, Tensor] | None, fold: torch.dtype,
                 compute: torch.dtype, dtype: torch.dtype, device: torch.device,
                 release: Callable[[Tensor], None] | None = None):
        self.table, self.ln0, self.fold, self.compute, self.dtype = table, ln0, fold, compute, dtype
        self.device, self.release = device, release
        self.staged: Tensor | None = None
        self._unreleased = 0          # rows read since the table's pages were last let go

    @property
    def shape(self) -> torch.Size:
        return self.table.shape

    def rows(self, tokens: Tensor) -> Tensor:
        """The rows of ``tokens`` (a long tensor ``[T]`` on the table's device), normalised."""
        x = self.table.index_select(0, tokens)
        if self.ln0 is None:
            return x
        if self.release is not None:
            self._unreleased += tokens.numel()
            if self._unreleased >= RELEASE_AFTER:
                self.release(self.table)
                self._unreleased = 0
        return self._fold(x)

    def folded(self) -> Embedding:
        """This table normalised once, whole, on :attr:`device` (a slice at a time: no full-size float
        temporary), for where rows cannot be read from the file."""
        V, C = self.table.shape
        out = torch.empty(V, C, dtype=self.dtype, device=self.device)
        for i in range(0, V, _ROWS_PER_CHUNK):
            out[i:i + _ROWS_PER_CHUNK] = self._fold(self.table[i:i + _ROWS_PER_CHUNK])
        return Embedding(out, None, self.fold, self.compute, self.dtype, self.device)

    def staging(self) -> Tensor:
        """The compiled decode step's own table, :data:`STAGED_ROWS` rows in :attr:`dtype` (made once)."""
        if self.staged is None:
            self.staged = torch.empty(STAGED_ROWS, self.table.shape[1], dtype=self.dtype, device=self.device)
        return self.staged

    def stage(self, tokens: Sequence[int]) -> list[int]:
        """Write the rows of ``tokens`` (at most :data:`STAGED_ROWS`) into the staging table; their
        indices there, the token ids to hand the compiled step."""
        staged = self.staging()
        n = len(tokens)
        if n > staged.shape[0]:
            raise ValueError(f"at most {staged.shape[0]} tokens can be staged at once, not {n}")
        staged[:n] = self.rows(torch.tensor(tokens, dtype=torch.long, device=self.table.device))
        return list(range(n))

    def _fold(self, x: Tensor) -> Tensor:
        w, b = self.ln0
        y = F.layer_norm(x.to(device=w.device, dtype=self.fold), (x.shape[-1],), w, b, LN_EPS)
        return y.to(device=self.device, dtype=self.compute).to(self.dtype)
