"""``mstlite.rx``, ``.patch``, ``.undo`` and ``.typing`` are attributes of ``mstlite``,
imported on first access, so ``import mstlite`` alone does not import reactivex."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

LAZY = ("patch", "rx", "typing", "undo")


def _run(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (this one has imported everything) and
    return the JSON it prints."""
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(completed.stdout)
    return result


def test_import_mstlite_imports_neither_reactivex_nor_the_lazy_submodules() -> None:
    result = _run(
        """
        import json, sys
        import mstlite
        print(json.dumps(sorted(
            name for name in sys.modules
            if name.split(".")[0] == "reactivex" or name in {
                "mstlite.patch", "mstlite.rx", "mstlite.typing", "mstlite.undo"}
        )))
        """
    )
    assert result == []


@pytest.mark.parametrize("name", LAZY)
def test_each_submodule_is_an_attribute_after_import_mstlite(name: str) -> None:
    result = _run(
        f"""
        import json, sys
        import mstlite
        module = mstlite.{name}
        print(json.dumps({{
            "same_module": module is sys.modules["mstlite.{name}"],
            "bound_on_package": vars(mstlite)["{name}"] is module,
            "reactivex_loaded": "reactivex" in sys.modules,
        }}))
        """
    )
    assert result["same_module"] is True
    assert result["bound_on_package"] is True
    # Only rx needs reactivex; undo and patch must not drag it in.
    assert result["reactivex_loaded"] is (name == "rx")


def test_readme_spelling_mstlite_rx_observe_works() -> None:
    result = _run(
        """
        import json
        import mstlite

        class Counter(mstlite.Model):
            value: int = 0

            @mstlite.action
            def bump(self) -> None:
                self.value += 1

        counter = Counter.create()
        seen = []
        subscription = mstlite.rx.observe(lambda: counter.value).subscribe(seen.append)
        counter.bump()
        subscription.dispose()
        print(json.dumps(seen))
        """
    )
    assert result == [0, 1]


def test_dir_lists_the_lazy_submodules_before_they_are_imported() -> None:
    result = _run(
        """
        import json, sys
        import mstlite
        listed = [name for name in ("patch", "rx", "typing", "undo") if name in dir(mstlite)]
        print(json.dumps({"listed": listed, "imported": "mstlite.rx" in sys.modules}))
        """
    )
    assert result == {"listed": list(LAZY), "imported": False}


def test_unknown_attribute_still_raises_attribute_error_naming_it() -> None:
    import mstlite

    with pytest.raises(AttributeError, match="module 'mstlite' has no attribute 'obsreve'"):
        mstlite.obsreve  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(mstlite, "_private_thing")


def test_lazy_submodules_stay_out_of_star_import() -> None:
    """``from mstlite import *`` binds only ``__all__``: it must not import rx."""
    import mstlite

    assert not set(LAZY) & set(mstlite.__all__)
    result = _run(
        """
        import json, sys
        namespace = {}
        exec("from mstlite import *", namespace)
        print(json.dumps({"rx": "rx" in namespace, "loaded": "reactivex" in sys.modules}))
        """
    )
    assert result == {"rx": False, "loaded": False}
