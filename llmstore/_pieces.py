"""The pieces of a segmented download: which byte ranges exist, who fetches which.

A file is cut into pieces in file order. A connection takes the lowest piece
nobody holds; once every piece is held, a connection that frees up splits
the piece with the most bytes left and takes its upper half, as aria2c does
(its ``--min-split-size``). Without that, the last pieces run alone at the
end of a download while the other connections idle: with every connection
capped (as CDNs cap them), the tail alone cost a tenth of the time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import final

__all__ = ["MIN_SPLIT", "Piece", "PiecePlan"]

#: a piece is split only when each half keeps at least this many bytes: a new
#: request (a round trip, maybe a new connection) must be worth it
MIN_SPLIT = 1024 * 1024


@dataclass(slots=True)
class Piece:
    """The bytes ``start`` to ``end`` (exclusive); those before ``done`` are on disk."""

    start: int
    end: int  # exclusive; lowered when the piece is split
    done: int  # the next byte to fetch
    taken: bool = False
    #: bytes being written right now (from ``done``): a split must leave them here
    writing: int = 0

    @property
    def left(self) -> int:
        """The bytes nobody is fetching or writing yet."""
        return self.end - self.done - self.writing


@final
class PiecePlan:
    """The pieces of one file, in file order, covering it exactly."""

    __slots__ = ("min_split", "pieces")

    def __init__(self, pieces: list[Piece], *, min_split: int = MIN_SPLIT) -> None:
        self.pieces = pieces
        self.min_split = min_split

    @classmethod
    def fresh(cls, size: int, piece_size: int, *, have: int = 0) -> PiecePlan:
        """Pieces of ``piece_size`` bytes over ``size``, the first ``have`` bytes done."""
        return cls(
            [
                Piece(start, end, min(end, max(start, have)))
                for start in range(0, size, piece_size)
                for end in [min(start + piece_size, size)]
            ]
        )

    @classmethod
    def recorded(cls, records: Iterable[tuple[int, int, int]], size: int) -> PiecePlan | None:
        """The pieces a sidecar recorded, or ``None`` unless they cover ``size`` exactly."""
        pieces = [Piece(start, end, done) for start, end, done in records]
        expected = 0
        for piece in pieces:
            if piece.start != expected or not piece.start <= piece.done <= piece.end:
                return None
            expected = piece.end
        return cls(pieces) if expected == size and pieces else None

    def records(self) -> tuple[tuple[int, int, int], ...]:
        """What the sidecar keeps: every piece as ``(start, end, next byte)``."""
        return tuple((p.start, p.end, p.done) for p in self.pieces)

    def done_bytes(self) -> int:
        """How many bytes are on disk, over every piece."""
        return sum(p.done - p.start for p in self.pieces)

    def prefix(self) -> int:
        """How many bytes from the start are complete on disk (the hasher's limit)."""
        for piece in self.pieces:
            if piece.done < piece.end:
                return piece.done
        return self.pieces[-1].end

    def release_all(self) -> None:
        """Nobody holds a piece (a new round of connections starts)."""
        for piece in self.pieces:
            piece.taken = False

    def take(self) -> Piece | None:
        """The piece a free connection fetches next, marked taken; ``None``: nothing left.

        The lowest free piece with bytes missing; when every one is held, the
        upper half of the held piece with the most bytes left, if each half
        keeps at least ``min_split`` bytes.
        """
        for piece in self.pieces:
            if not piece.taken and piece.done < piece.end:
                piece.taken = True
                return piece
        return self._split()

    def _split(self) -> Piece | None:
        held = [(p.left, index) for index, p in enumerate(self.pieces) if p.taken]
        if not held:
            return None
        left, index = max(held)
        if left < 2 * self.min_split:
            return None
        piece = self.pieces[index]
        middle = piece.end - left // 2
        upper = Piece(middle, piece.end, middle, taken=True)
        # Its connection sees the lower end and stops there (see SegmentedTransfer).
        piece.end = middle
        self.pieces.insert(index + 1, upper)
        return upper
