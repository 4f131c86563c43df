"""temporary"""

from typing import Any


def validate_patch(p: Any) -> None:
    pass


def compare_json(a: Any, b: Any) -> bool:
    return bool(a == b)
