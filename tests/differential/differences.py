"""The documented differences from MST, each recognised by name, and ``classify``.

These are kept on purpose (README, "Differences from MobX-State-Tree"). A
recogniser says yes only to a divergence that the difference explains
exactly; it never loosens the comparison for anything else. ``classify``
tries them first, then the open items of issue 16 (``open_items.py``).
"""

from __future__ import annotations

import re
from typing import Any

import jsonpatch
import jsonpointer

from . import runner_py
from .case import (
    Case,
    Difference,
    equal_but_references,
    has_duplicate_ids,
    is_clash,
    is_clearing,
    item_ids,
    references_dropped,
    values_of,
)
from .stream import explain_stream, map_key_order

__all__ = ["DOCUMENTED", "MST_DEFECTS", "classify"]


def _mstlite_failed_alone(case: Case) -> dict[str, Any] | None:
    """The op mstlite failed at, when MST did not fail at that op (or before it)."""
    failed = case.py.get("failed")
    if case.phase != "step" or failed is None:
        return None
    theirs = case.js.get("failed")
    if theirs is not None and theirs <= failed:
        return None
    return case.op(failed)


def transactions(case: Case) -> bool | list[str]:
    """Both failed at the same op; mstlite rolled the whole step back, MST kept its writes.

    MST's patches must begin with exactly what mstlite emits for the ops before
    the failing one, and undoing all of MST's patches must give the snapshot
    before the step: the only difference is the rollback.
    """
    failed = case.py.get("failed")
    if case.phase != "step" or failed is None or case.js.get("failed") != failed:
        return False
    if case.py["patches"] or not case.equal(case.py["snapshot"], case.before):
        return False
    done = case.prefix(failed)
    ahead = case.js_pairs[: len(done["patches"])]
    mine = list(zip(done["patches"], done["inverses"], strict=True))
    names = ["actions are transactions"]
    if done["threw"]:
        return False
    if not case.equal([list(p) for p in ahead], [list(p) for p in mine]):
        # The prefix run alone ends its action: it drops the dangling safe references
        # it wrote, which MST's action, going on until it threw, never reached (its
        # failing op may even clear others first, as it destroys a node before it
        # throws). What MST emits after the prefix's own writes is the failing op's
        # partial work, as when the prefix ends with no such clearing: the undo check
        # below holds it to MST's own stream.
        kept = len(mine)
        while kept and is_clearing(mine[kept - 1][0]):
            kept -= 1
        theirs = [list(p) for p in case.js_pairs]
        if not (kept < len(mine) and case.equal(theirs[:kept], [list(p) for p in mine[:kept]])):
            return False
    from mstlite.patch import apply as apply_json_patch

    try:
        undone = apply_json_patch(case.js["snapshot"], list(reversed(case.js["inverses"])))
    except Exception:
        return False
    return names if case.equal(undone, case.before) and case.js["patches"] else False


def unique_identifiers(case: Case) -> bool:
    """mstlite refused a second Item with one identifier, which MST's tree then held."""
    if case.phase == "create":
        error = case.py["error"] or ""
        return is_clash(error) and has_duplicate_ids(case.js["snapshot"])
    op = _mstlite_failed_alone(case)
    if op is None or not is_clash(case.py["error"]):
        return False
    if op["k"] == "snap":  # a snapshot valid as a whole may pass through a duplicate (16.13)
        return has_duplicate_ids(case.js["snapshot"])
    return any(has_duplicate_ids(state) for state in case.states(case.js))


def rfc6902_strict(case: Case) -> bool:
    """mstlite refused a patch that RFC 6902 (per ``jsonpatch``) refuses too; MST took it.

    The patch is judged on the document it met: the tree after the patches
    before it in the same list (which may have cleared safe references).
    """
    op = _mstlite_failed_alone(case)
    error = case.py["error"] or ""
    number = re.match(r"PatchError: patch ([0-9]+) ", error)
    if op is None or op["k"] != "patch" or number is None:
        return False
    index = int(number.group(1))
    earlier = {**op, "v": op["v"][:index]}
    steps = [*case.script["steps"][: case.found.step], [*case.ops[: case.py["failed"]], earlier]]
    done = runner_py.run_script({"init": case.script["init"], "steps": steps})["steps"][-1]
    try:
        if done["threw"]:
            # The earlier patches alone leave an identifier twice (mstlite checks that
            # once a list is applied): judge the patch on them applied as plain JSON.
            if not is_clash(done["error"]):
                return False
            steps[-1] = steps[-1][:-1]
            run = runner_py.run_script({"init": case.script["init"], "steps": steps})
            before = run["steps"][-1]["snapshot"] if run["steps"] else run["create"]["snapshot"]
            document = jsonpointer.resolve_pointer(before, _pointer(op["t"]))
            document = jsonpatch.apply_patch(document, earlier["v"])
        else:
            document = jsonpointer.resolve_pointer(done["snapshot"], _pointer(op["t"]))
        jsonpatch.apply_patch(document, [op["v"][index]])
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException):
        return True
    return False


def _pointer(parts: list[Any]) -> str:
    return "".join(f"/{part}" for part in parts)


def unknown_keys(case: Case) -> bool:
    """mstlite refused a snapshot with an undeclared key (``zz``), which MST dropped."""
    error = case.py["error"] or ""
    if "Extra inputs are not permitted" not in error:
        return False
    if case.phase == "create":
        carrier: Any = case.script["init"]
        dropped = not case.js["threw"] and "zz" not in str(case.js["snapshot"])
    else:
        op = _mstlite_failed_alone(case)
        carrier, dropped = op, True
    return dropped and any(isinstance(v, dict) and "zz" in v for v in values_of(carrier))


def failed_write_leaves_mst_inconsistent(case: Case) -> bool:
    """MST defect: after a write that throws, its tree is not what its own patches describe.

    (Seen: ``apply_patch`` on a map of identified models, ``replace /c`` then
    a ``replace /c`` whose identifier is not ``c``: MST emits ``add /imap/c``,
    throws, and is left holding the node under the key ``""``.) mstlite rolls
    the step back; there is no MST state to compare with.
    """
    failed = case.py.get("failed")
    if case.phase != "step" or failed is None or case.js.get("failed") != failed:
        return False
    if case.py["patches"] or not case.equal(case.py["snapshot"], case.before):
        return False
    from mstlite.patch import apply as apply_json_patch

    try:
        described = apply_json_patch(case.before, case.js["patches"])
    except Exception:
        return True
    return not case.equal(described, case.js["snapshot"])


_GHOST = "MST defect: a write that threw leaves ghost nodes in its identifier cache"
_GHOST_SIGNS = ("multiple candidates", "Cannot read properties of undefined",
                "node is not alive", "[dead]", "assertion failed")


def _threw_before(case: Case, text: str = "") -> bool:
    """A step before the diverging one (any step, for a replay or undo) threw (saying ``text``)."""
    steps = case.script["steps"]
    if case.phase == "step":
        steps = steps[: case.found.step]
    result = runner_py.run_script({"init": case.script["init"], "steps": steps})
    return any(step["threw"] and text in (step["error"] or "") for step in result["steps"])


_MISMATCHED_KEY = "must be stored under its own identifier"


def _only_more_clearings(case: Case) -> bool:
    """MST's step is mstlite's plus safe-reference clearings, the snapshots alike but for them."""
    from .stream import _extra_clearings

    extra = _extra_clearings(case.py_pairs, case.js_pairs)
    kept = [p for p in case.js_pairs if not any(p is e for e in extra)]
    same = case.equal([_cleared_form(p) for p in kept], [_cleared_form(p) for p in case.py_pairs])
    return bool(extra) and same and equal_but_references(case.py["snapshot"], case.js["snapshot"])


def _cleared_form(pair: Any) -> Any:
    """A pair as compared by ``_only_more_clearings``: a clearing of ``srefs`` by the
    identifiers it drops, not its index (MST's extra clearing before it shifts the
    index, or makes the removal of the last item a ``replace /srefs []``)."""
    from .stream import _cleared_ids

    if is_clearing(pair[0]) and pair[0]["path"].startswith("/srefs"):
        return ["clears /srefs of", _cleared_ids(pair)]
    return list(pair)


def _drops_ghost_references(case: Case) -> bool:
    """MST's replay or undo dropped safe references its run kept (they had resolved to a
    ghost, or the node under their identifier is one), and differs in nothing else."""
    if case.found.detail is None:
        return False
    got, expected = case.found.detail["got"], case.found.detail["expected"]
    if got.get("threw") or not isinstance(got.get("snapshot"), dict):
        return False
    snapshot = got["snapshot"]
    return (equal_but_references(snapshot, expected) and references_dropped(snapshot, expected)
            and not case.equal(snapshot, expected))


def _same_but_paths(mine: list[Any], theirs: list[Any]) -> bool:
    """The same patches but for (some of) their paths."""
    def strip(patches: list[Any]) -> list[Any]:
        return [{k: v for k, v in p.items() if k != "path"} for p in patches]

    return len(mine) == len(theirs) and mine != theirs and strip(mine) == strip(theirs)


def _removes_elsewhere(case: Case) -> bool:
    """A destroy or detach of the node at ``t``: mstlite removes ``t``'s path, MST removes
    another item of the same array (the place a failed reconcile left it believing it is
    at), consistently with its own snapshot."""
    ops = case.script["steps"][case.found.step]
    if len(ops) != 1 or ops[0]["k"] not in ("destroy", "detach"):
        return False
    path = "/" + "/".join(str(part) for part in ops[0]["t"])
    mine, theirs = case.py["patches"], case.js["patches"]
    if [p["path"] for p in mine] != [path] or mine[0]["op"] != "remove":
        return False
    if not _same_but_paths(mine, theirs):
        return False
    parent = path.rsplit("/", 1)[0]
    if theirs[0]["path"].rsplit("/", 1)[0] != parent:
        return False
    from mstlite.patch import apply as apply_json_patch

    try:
        described = apply_json_patch(case.before, theirs)
    except Exception:
        return False
    return case.equal(described, case.js["snapshot"])


def _ghost_key(snapshot: Any, reference: Any) -> bool:
    """``snapshot`` holds a node under the key ``""`` of ``imap``, ``reference`` does not."""
    held = (snapshot or {}).get("imap") or {} if isinstance(snapshot, dict) else {}
    return "" in held and "" not in ((reference or {}).get("imap") or {})


def _keeps_ghost_reference(mine: Any, theirs: Any) -> bool:
    if not (isinstance(mine, dict) and isinstance(theirs, dict)) or "srefs" not in theirs:
        return False
    ids = set(item_ids(theirs))
    ghosts = [r for r in [theirs["sref"], *theirs["srefs"]] if r is not None and r not in ids]
    return (bool(ghosts) and equal_but_references(mine, theirs)
            and references_dropped(mine, theirs)
            and [r for r in theirs["srefs"] if r in ids] == mine["srefs"])


def mst_ghost_nodes(case: Case) -> bool:
    """MST defect: a write that threw leaves its half-built nodes in MST's identifier cache.

    (Seen: a splice whose second snapshot is invalid, after its first one
    ``{"id": "e"}`` was built; ``imap["e"] = {"id": "c"}`` refused for its
    key.) MST's tree holds one ``e``, yet later MST finds "multiple
    candidates" for ``e`` (even "/items/0, /items/0"), fails inside
    ("Cannot read properties of undefined (reading 'cache')", "Error while
    detaching, node is not alive"), keeps a dead node in the map (writing it
    says "[dead]"; or "assertion failed: the creation of the observable instance
    must be done on the initializing phase" after ``owner = items[2]`` was
    refused), shows the node under the key ``""``, holds one node at two
    places after detaching and re-adding it, emits a patch at a node's old path,
    removes another item than the node destroyed (after a failed array reconcile), or
    keeps a safe reference to ``e`` (resolved to the ghost) that an undo or a
    replay of the same patches on a fresh tree drops. Only after a step that
    threw; mstlite rolled that step back whole and stays sound.
    """
    if case.phase == "step":
        mine, theirs = case.py.get("failed"), case.js.get("failed")
        mst_alone = theirs is not None and (mine is None or mine > theirs)
        error, state = (case.js["error"] or "") if mst_alone else "", case.before
        ghost = _ghost_key(case.js["snapshot"], case.py["snapshot"])
        # One node at two places: MST's detach of a half-failed node did nothing, so
        # re-adding it doubled it; mstlite (which refuses any duplicate) did not throw.
        ghost = ghost or (case.py.get("failed") is None and case.js.get("failed") is None
                          and has_duplicate_ids(case.js["snapshot"])
                          and not has_duplicate_ids(case.py["snapshot"]))
        # A node left believing it is elsewhere: MST's patches name another path.
        ghost = ghost or (case.equal(case.py["snapshot"], case.js["snapshot"])
                          and _same_but_paths(case.py["patches"], case.js["patches"]))
        # A node left believing it is elsewhere, seen by removing it: MST removes the
        # place it believes it is at (another item), and its snapshot says so.
        ghost = ghost or _removes_elsewhere(case)
        # A safe reference to an identifier MST's tree does not hold, kept by MST
        # (resolved to the ghost), dropped by mstlite as dangling.
        ghost = ghost or _keeps_ghost_reference(case.py["snapshot"], case.js["snapshot"])
    elif case.phase in ("undo_mst", "replay_on_mst") and case.found.detail is not None:
        got = case.found.detail["got"]
        error, state = got.get("error") or "", case.found.detail["expected"]
        ghost = _ghost_key(got.get("snapshot"), state) or _drops_ghost_references(case)
    else:
        return False
    signs = ghost or any(sign in error for sign in _GHOST_SIGNS)
    return signs and not has_duplicate_ids(state) and _threw_before(case)


def mst_ghost_clearings(case: Case) -> bool:
    """The ghost defect seen through safe references: after a write that threw, MST clears
    references to a node its cache holds dead (or keeps ones to a ghost), and nothing
    else differs. Tried only when no open item explains the clearings."""
    return case.phase == "step" and _only_more_clearings(case) and _threw_before(case)


def mst_overwrite_dangling_reference(case: Case) -> bool:
    """MST defect: writing over a reference whose target is not in the tree throws.

    (``ref = owner`` while ``ref`` holds ``"d"`` and no ``d`` is in the tree:
    MST throws "Failed to resolve reference 'd'"; so does a ``replace`` patch
    of a safe reference MST has not cleared yet, and so does MST undoing its
    own step with its own inverse patches.) mstlite writes it.
    """
    if case.phase in ("undo_mst", "replay_on_mst") and case.found.detail is not None:
        got = case.found.detail["got"]  # MST's own undo or replay wrote over one
        found = re.search(r"Failed to resolve reference '([^']*)'", got.get("error") or "")
        return found is not None and found.group(1) not in item_ids(got.get("snapshot"))
    failed = case.js.get("failed")
    match = re.search(r"Failed to resolve reference '([^']*)'", case.js.get("error") or "")
    if case.phase != "step" or failed is None or match is None:
        return False
    mine = case.py.get("failed")
    if mine is not None and mine <= failed:
        return False
    state = case.prefix(failed)["snapshot"]
    # Held by the tree before the failing op, or written by an earlier op of the step
    # (mstlite's prefix, run alone, drops such a dangling safe reference at its end).
    held = [state["ref"], state["sref"], *state["srefs"]]
    written = [v for p in case.js["patches"] if p["op"] in ("add", "replace")
               and re.fullmatch(r"/s?ref|/srefs(/[0-9]+)?", p["path"])
               for v in values_of(p.get("value"))]
    return match.group(1) not in item_ids(state) and (
        match.group(1) in held or match.group(1) in written
        or case.op(failed)["k"] == "patch")  # type: ignore[index]


def mst_undo_ambiguous(case: Case) -> bool:
    """MST defect: MST cannot undo, with its own inverse patches, a step that moved an
    identifier to an earlier property.

    (``imap {a}`` -> ``apply_snapshot({owner: {id: a}, imap: {}})`` with a safe
    reference to ``a``: the inverses add ``a`` back into ``imap`` while ``owner``
    still holds it, and MST's identifier cache throws "Cannot resolve a reference
    ... unambigously, there are multiple candidates". mstlite undoes it.)
    """
    if case.phase != "undo_mst" or case.found.detail is None:
        return False
    error = case.found.detail["got"].get("error") or ""
    return "unambigously, there are multiple candidates" in error


def mst_node_twice_in_array(case: Case) -> bool:
    """MST defect: writing into an array a node it already holds keeps it at two indices.

    (``items[0:2] = [items[2]]``: MST's array then holds the one node twice,
    ``[b, b]``; mstlite refuses, "it is already in this array".)
    """
    op = _mstlite_failed_alone(case)
    error = case.py["error"] or ""
    if op is None or ("already in this array" not in error and "one parent" not in error):
        return False
    sources = [v["$node"] for v in values_of(op.get("v")) if isinstance(v, dict) and "$node" in v]
    if not any(source[:-1] == op["t"] for source in sources):
        return False
    ids = [item["id"] for item in case.js["snapshot"][op["t"][0]]]
    return len(ids) != len(set(ids))


def move_replays_as_destroy_and_create(case: Case) -> bool:
    """Stream limit (MST's and so mstlite's): a move inside an array is streamed as
    ``remove`` + ``add`` of the same identifier; replayed on a fresh tree that is a destroy
    and a create, which clears the safe references to the node the live run kept.

    (``items[1:3] = [items[2]]``, or ``[{"id": <items[2]'s>}]``, with ``srefs`` pointing at
    the moved item.)
    """
    if case.phase != "replay_on_mst" or not _drops_ghost_references(case):
        return False
    removed = {p["path"] for p in case.js["patches"] if p["op"] == "remove"
               and re.fullmatch(r"/items/[0-9]+", p["path"])}
    re_added = {p.get("value", {}).get("id") for p in case.js["patches"] if p["op"] == "add"
                and re.fullmatch(r"/items/[0-9]+", p["path"]) and isinstance(p.get("value"), dict)}
    # A live node moved, or a snapshot with its identifier (reconciled into it: item 4).
    moved = [op for op in case.ops if any(isinstance(v, dict) and ("$node" in v or v.get("id")
                                                                  in re_added)
                                          for v in values_of(op.get("v")))]
    return bool(removed) and bool(re_added) and bool(moved)


def undo_fails_as_in_mst(case: Case) -> bool:
    """Stream limit (MST's and so mstlite's): the step's inverse patches do not undo it, on
    either side, and both end alike.

    (Seen: ``add /srefs/1 "e"`` before ``e`` arrives, in one step: undoing removes
    ``e`` first, which clears that reference, so the inverse ``remove /srefs/1``
    then removes the item after it; MST's undo of its own, identical, inverses
    ends the same.)
    """
    if case.phase not in ("undo_mstlite", "undo_mst") or case.found.detail is None:
        return False
    if case.py["patches"] != case.js["patches"] or case.py["inverses"] != case.js["inverses"]:
        return False
    got, other = case.found.detail["got"], case.found.detail.get("other")
    if other is None or got["threw"] != other["threw"]:
        return False
    return bool(got["threw"]) or case.equal(got["snapshot"], other["snapshot"])


#: MST's own inconsistencies that the harness met, and a limit of its patch stream:
#: not differences of mstlite's to document nor bugs of mstlite's to fix, but named
#: so that they are explained.
MST_DEFECTS: list[Difference] = [
    Difference("stream limit: a move inside an array replays as destroy + create",
               move_replays_as_destroy_and_create),
    Difference("stream limit: MST's own undo of the same inverse patches fails alike",
               undo_fails_as_in_mst),
    Difference("MST defect: a failed write leaves a tree its patches do not describe",
               failed_write_leaves_mst_inconsistent),
    Difference(_GHOST, mst_ghost_nodes),
    Difference("MST defect: writing over a reference to a missing target throws",
               mst_overwrite_dangling_reference),
    Difference("MST defect: an array write can put a node twice into its own array",
               mst_node_twice_in_array),
    Difference("MST defect: it cannot undo a move of an identifier to an earlier property",
               mst_undo_ambiguous),
]

#: The differences kept on purpose (README: "Differences from MobX-State-Tree").
DOCUMENTED: list[Difference] = [
    Difference("actions are transactions", transactions),
    Difference("identifiers are unique per type in a tree", unique_identifiers),
    Difference("apply_patch is RFC 6902-strict", rfc6902_strict),
    Difference("map keys keep insertion order", rewrite=map_key_order),
    Difference("unknown keys in a snapshot are rejected", unknown_keys),
]


def classify(case: Case) -> list[str] | None:
    """The names explaining ``case`` (documented differences, open items), or ``None``."""
    from .open_items import OPEN

    known = [*DOCUMENTED, *OPEN, *MST_DEFECTS]
    for difference in known:
        verdict = difference.recognise(case) if difference.recognise is not None else False
        if verdict:
            return verdict if isinstance(verdict, list) else [difference.name]
    names = explain_stream(case, known)
    if names is None and mst_ghost_clearings(case):
        return [_GHOST]
    return names
