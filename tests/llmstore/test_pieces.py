"""Piece plans: taking, splitting the largest held piece, what the sidecar records."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from llmstore._download import download_file, open_session
from llmstore._pieces import Piece, PiecePlan
from llmstore.testing import Fault, ModelServer

MiB = 1024 * 1024
RANGE = re.compile(r"bytes=(\d+)-(\d+)")


def covers(plan: PiecePlan, size: int) -> bool:
    """The pieces follow each other from 0 to ``size``, each with done inside it."""
    at = 0
    for piece in plan.pieces:
        if piece.start != at or not piece.start <= piece.done <= piece.end:
            return False
        at = piece.end
    return at == size


def test_the_lowest_free_piece_comes_first_then_the_largest_held_is_split() -> None:
    plan = PiecePlan.fresh(10 * MiB, 4 * MiB)
    assert plan.records() == (
        (0, 4 * MiB, 0),
        (4 * MiB, 8 * MiB, 4 * MiB),
        (8 * MiB, 10 * MiB, 8 * MiB),
    )
    first, second, third = plan.take(), plan.take(), plan.take()
    assert [p.start for p in (first, second, third) if p] == [0, 4 * MiB, 8 * MiB]
    assert first is not None and second is not None and third is not None
    third.done = 8 * MiB + MiB // 2  # 1.5 MiB left: too little to split
    first.done = 3 * MiB  # 1 MiB left: too little to split
    second.done = 5 * MiB  # 3 MiB left: split in the middle of what is left
    upper = plan.take()
    assert upper == Piece(6 * MiB + MiB // 2, 8 * MiB, 6 * MiB + MiB // 2, taken=True)
    assert second.end == upper.start
    assert covers(plan, 10 * MiB)
    assert plan.take() is None  # at most 1.5 MiB left anywhere: halves under MIN_SPLIT


def test_bytes_being_written_stay_with_their_piece() -> None:
    plan = PiecePlan([Piece(0, 8 * MiB, 0, taken=True, writing=4 * MiB)])
    upper = plan.take()
    assert upper is not None and upper.start == 6 * MiB  # half of the 4 MiB nobody writes
    assert plan.pieces[0].end == 6 * MiB >= plan.pieces[0].done + plan.pieces[0].writing


def test_a_recorded_plan_must_cover_the_file_exactly() -> None:
    assert PiecePlan.recorded([(0, 5, 3), (5, 9, 9)], 9) is not None
    assert PiecePlan.recorded([(0, 5, 3), (6, 9, 9)], 9) is None  # a gap
    assert PiecePlan.recorded([(0, 5, 6), (5, 9, 9)], 9) is None  # done past its end
    assert PiecePlan.recorded([(0, 5, 3)], 9) is None  # short
    assert PiecePlan.recorded([], 0) is None


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=64 * MiB),
    piece_size=st.integers(min_value=MiB // 4, max_value=16 * MiB),
    steps=st.lists(st.tuples(st.sampled_from(["take", "progress", "drop"]), st.integers(0, 99))),
)
def test_any_sequence_of_takes_and_progress_keeps_the_file_covered(
    size: int, piece_size: int, steps: list[tuple[str, int]]
) -> None:
    plan = PiecePlan.fresh(size, piece_size)
    for action, number in steps:
        held = [p for p in plan.pieces if p.taken]
        if action == "take":
            before = plan.done_bytes()
            piece = plan.take()
            if piece is not None:
                assert piece.taken and piece.done < piece.end
            assert plan.done_bytes() == before  # a split moves no finished byte
        elif held and action == "progress":
            piece = held[number % len(held)]
            piece.done += (piece.end - piece.done) * number // 99
        elif held:  # a connection failed: its piece is free for anyone again
            held[number % len(held)].taken = False
        assert covers(plan, size)
        assert 0 <= plan.prefix() <= size
    # Taking until nothing is left never loops: each split halves what is left.
    for _ in range(10_000):
        if plan.take() is None:
            break
    else:
        raise AssertionError("take() kept splitting")


def test_a_slow_connection_gives_the_upper_half_of_its_piece_to_a_free_one(
    tmp_path: Path,
) -> None:
    served, models = tmp_path / "served", tmp_path / "models"
    served.mkdir()
    data = os.urandom(12 * MiB)
    (served / "model.gguf").write_bytes(data)

    async def main() -> None:
        async with (
            ModelServer(served, sendfile=False) as server,
            open_session(sock_connect=5.0, sock_read=5.0) as session,
        ):
            # The first request (piece 0) crawls; the other connection does the rest.
            server.add_fault("model.gguf", Fault(bytes_per_second=4_000_000))
            result = await download_file(
                session, server.url_for("model.gguf"), models / "model.gguf",
                expected_size=len(data), connections=2, piece_size=4 * MiB, backoff=0.01,
            )  # fmt: skip
            assert result.size == len(data)
            records = server.requests_for("model.gguf")
            spans = [RANGE.fullmatch(r.range or "") for r in records]
            starts = [(int(m[1]), int(m[2])) for m in spans if m is not None]
            assert starts[0] == (0, 4 * MiB - 1)
            # The free connection took the upper half of piece 0 ...
            split = [(a, b) for a, b in starts if 0 < a < 4 * MiB]
            assert split and split[0][1] == 4 * MiB - 1
            # ... and the slow one stopped where that half begins, short of 4 MiB.
            assert records[0].bytes_sent < 4 * MiB

    asyncio.run(main())
    assert (models / "model.gguf").read_bytes() == data
    assert os.listdir(models) == ["model.gguf"]
