"""The package's imports point one way: _util <- _engine <- _node <- _types <- _api <- public.

Read from the source with ``ast``: module-level imports and imports made inside
functions both count (imports under ``if TYPE_CHECKING:`` do not: they never
run). No import cycle, no arrow against the layers, and a function-level import
only where a cycle forces it, with a comment naming the cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mstlite

PACKAGE = Path(mstlite.__file__).parent

#: The layers, lowest first; the leaf modules import nothing of mstlite and may be
#: imported from anywhere.
LAYERS = {"_util": 0, "_engine": 1, "_node": 2, "_types": 3, "_api": 4}
LEAVES = {"mstlite.errors", "mstlite.typing"}
PUBLIC = 5


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS[parts[1]]
    return PUBLIC


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """``(imported mstlite module, line, inside a function)`` for each import that runs."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "mstlite":
                        found.append((alias.name, child.lineno, in_function))
            elif (
                isinstance(child, ast.ImportFrom)
                and child.module
                and child.module.split(".")[0] == "mstlite"
            ):
                for alias in child.names:
                    submodule = f"{child.module}.{alias.name}"
                    target = submodule if submodule in MODULES else child.module
                    found.append((target, child.lineno, in_function))
            inner = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            visit(child, inner)

    visit(tree, False)
    return found


GRAPH = {module: _imports(path) for module, path in MODULES.items()}


def test_the_package_is_in_layer_folders() -> None:
    flat = [
        m
        for m, path in MODULES.items()
        if m.count(".") == 1 and m.split(".")[1].startswith("_") and path.name != "__init__.py"
    ]
    assert flat == [], f"private modules outside the layer folders: {flat}"
    for folder in LAYERS:
        assert f"mstlite.{folder}" in MODULES


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for module, imports in GRAPH.items():
        for target, line, _ in imports:
            if target in LEAVES or target == module:
                continue
            if module in LEAVES:
                wrong.append(f"{module}:{line} imports {target}: leaf modules import nothing")
            elif _layer(target) > _layer(module):
                wrong.append(f"{module}:{line} imports {target}, a higher layer")
    assert wrong == []


def test_no_import_cycle_counting_function_level_imports() -> None:
    edges = {
        module: sorted({t for t, _, _ in imports if t in MODULES and t != module})
        for module, imports in GRAPH.items()
    }
    # Packages import their submodules' names through __init__ only when they say so;
    # an import of ``mstlite.x.y`` also runs ``mstlite.x`` but that is not a cycle.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in edges[module]:
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target, [*path, target])
        state[module] = 2

    for module in edges:
        if module not in state:
            walk(module, [module])
    assert cycles == []


def test_function_level_imports_name_their_cycle() -> None:
    unexplained = []
    for module, imports in GRAPH.items():
        lines = MODULES[module].read_text().splitlines()
        for target, line, in_function in imports:
            if not in_function:
                continue
            context = " ".join(lines[max(0, line - 3) : line])
            if "cycle" not in context:
                unexplained.append(f"{module}:{line} imports {target} inside a function")
    assert unexplained == []


def test_no_module_global_holds_engine_state() -> None:
    """The state that used to be global lives in runtimes and trees now."""
    for name in ("DETACHING", "model_registry", "pending_created", "_stack", "RT"):
        for module, path in MODULES.items():
            tree = ast.parse(path.read_text())
            for node in tree.body:
                targets = (
                    node.targets
                    if isinstance(node, ast.Assign)
                    else [node.target]
                    if isinstance(node, ast.AnnAssign)
                    else []
                )
                for target in targets:
                    assert not (isinstance(target, ast.Name) and target.id == name), (
                        f"{module} defines the global {name}"
                    )


def test_modules_stay_small() -> None:
    """One job per module, about 400 lines at most."""
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > 430} == {}
