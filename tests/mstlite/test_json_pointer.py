"""RFC 6901 pointer helpers: escaping, joining and splitting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mstlite._util.json_pointer import (
    escape_json_path,
    join_json_path,
    split_json_path,
    unescape_json_path,
)
from mstlite.errors import PatchError


@pytest.mark.parametrize(
    ("segment", "escaped"),
    [
        ("", ""),
        ("todos", "todos"),
        ("a/b", "a~1b"),
        ("m~n", "m~0n"),
        ("~1", "~01"),
        ("/~", "~1~0"),
        ("~~//", "~0~0~1~1"),
    ],
)
def test_escape_and_unescape_are_inverse(segment: str, escaped: str) -> None:
    assert escape_json_path(segment) == escaped
    assert unescape_json_path(escaped) == segment


def test_unescape_replaces_tilde_one_before_tilde_zero() -> None:
    # "~01" is an escaped "~" followed by "1", never "/".
    assert unescape_json_path("~01") == "~1"


@pytest.mark.parametrize("segment", ["~", "a~", "~2", "~~1", "a~b"])
def test_unescape_rejects_a_tilde_that_is_not_an_escape(segment: str) -> None:
    with pytest.raises(PatchError, match="'~0'"):
        unescape_json_path(segment)


def test_join_of_no_parts_is_the_whole_document() -> None:
    assert join_json_path([]) == ""


def test_join_escapes_strings_and_writes_indexes() -> None:
    assert join_json_path(["todos", 0, "a/b", "~"]) == "/todos/0/a~1b/~0"
    assert join_json_path(iter(["", ""])) == "//"


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("", []),
        ("/", [""]),
        ("//", ["", ""]),
        ("/todos/0", ["todos", "0"]),
        ("/a~1b/m~0n", ["a/b", "m~n"]),
        ("/ ", [" "]),
    ],
)
def test_split_gives_unescaped_segments(path: str, parts: list[str]) -> None:
    assert split_json_path(path) == parts


def test_split_rejects_a_relative_path_and_says_how_to_write_it() -> None:
    with pytest.raises(PatchError, match=r"'todos/0' is not a JSON pointer.*write '/todos/0'"):
        split_json_path("todos/0")


def test_split_names_the_path_with_a_bad_escape() -> None:
    with pytest.raises(PatchError, match=r"'/a/b~2' is not a valid JSON pointer"):
        split_json_path("/a/b~2")


@given(st.text())
def test_escape_round_trips_any_text(segment: str) -> None:
    escaped = escape_json_path(segment)
    assert "/" not in escaped
    assert unescape_json_path(escaped) == segment


@given(st.lists(st.text() | st.integers(min_value=0)))
def test_split_undoes_join(parts: list[str | int]) -> None:
    assert split_json_path(join_json_path(parts)) == [str(part) for part in parts]
