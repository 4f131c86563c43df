"""A seeded generator of op scripts: plain JSON data that both runners execute.

A script is ``{"init": root snapshot, "steps": [[op, ...], ...]}``; each step
runs as one action. An op is ``{"k": kind, "t": target, ...}`` where the
target is a list of parts from the root (an int is an array position, taken
modulo the length at run time; a string a property or map key). A value is a
snapshot, or ``{"$node": parts}`` (the live node there) or ``{"$detach":
parts}`` (that node, detached first: how a live node moves). Small pools of
identifiers, keys and values make equal writes, identifier clashes and
same-identifier reconciliation common.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["generate", "scripts"]

IDS = ["a", "b", "c", "d", "e"]
#: Integer-like keys too: JavaScript orders those first (a documented difference).
KEYS = ["a", "b", "k", "1", "10"]
STRS = ["", "x", "y"]
INTS = [0, 1, 2]
FLOATS = [0, 0.5, 1, 2.25]
FROZEN: list[Any] = [None, 1, "x", {"a": 1}, [1, 2], {"a": [1]}]
#: Values no property of their slot accepts: both sides must refuse them.
BAD = [1.5, "1", True, None, [], {}]

MODEL_TARGETS = [["child"], ["owner"], ["items", 0], ["items", 1], ["imap", "a"], ["pmap", "a"]]
ARRAYS = ["items", "tags", "srefs"]
MAPS = ["smap", "imap", "pmap"]


class _Gen:
    def __init__(self, rng: random.Random) -> None:
        self.r = rng
        #: While building the initial snapshot: no bad values, rare unknown keys.
        self.clean = False

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, pool: list[Any]) -> Any:
        return self.r.choice(pool)

    # -- snapshots -------------------------------------------------------------
    def scalar(self, kind: str) -> Any:
        if not self.clean and self.chance(0.04):
            return self.pick(BAD)
        if kind == "str":
            return self.pick(STRS)
        if kind == "int":
            return self.pick(INTS)
        if kind == "float":
            return self.pick(FLOATS)
        if kind == "bool":
            return self.chance(0.5)
        if kind == "maybe_str":
            return self.pick([None, *STRS])
        if kind == "lit":
            return self.pick(["x", "y", "x"] + (["z"] if self.chance(0.1) else []))
        if kind == "frozen":
            return self.pick(FROZEN)
        raise ValueError(kind)

    def maybe_unknown(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        if self.chance(0.002 if self.clean else 0.01):
            snapshot["zz"] = 1  # an unknown key: MST drops it, mstlite refuses
        return snapshot

    def item(self, identifier: str | None = None) -> dict[str, Any]:
        snapshot: dict[str, Any] = {"id": identifier or self.pick(IDS)}
        if self.chance(0.5):
            snapshot["name"] = self.scalar("str")
        if self.chance(0.4):
            snapshot["n"] = self.scalar("int")
        return self.maybe_unknown(snapshot)

    def pair(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = {}
        if self.chance(0.6):
            snapshot["a"] = self.scalar("str")
        if self.chance(0.5):
            snapshot["b"] = self.scalar("float")
        return self.maybe_unknown(snapshot)

    def child(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = {}
        if self.chance(0.6):
            snapshot["label"] = self.scalar("str")
        if self.chance(0.4):
            snapshot["k"] = self.scalar("int")
        return self.maybe_unknown(snapshot)

    def fresh_ids(self, count: int) -> list[str]:
        """``count`` identifiers, distinct unless the dice ask for a clash."""
        if self.chance(0.08):
            return [self.pick(IDS) for _ in range(count)]
        return self.r.sample(IDS, min(count, len(IDS)))

    def of(self, prop: str) -> Any:
        """A snapshot for the root property ``prop``."""
        if prop == "child":
            return self.child()
        if prop == "owner":
            return None if self.chance(0.3) else self.item()
        if prop == "items":
            return [self.item(i) for i in self.fresh_ids(self.r.randint(0, 3))]
        if prop == "tags":
            return [self.pick(STRS) for _ in range(self.r.randint(0, 3))]
        if prop == "smap":
            return {k: self.pick(STRS) for k in self.r.sample(KEYS, self.r.randint(0, 3))}
        if prop == "imap":
            return {i: self.item(i) for i in self.fresh_ids(self.r.randint(0, 2))}
        if prop == "pmap":
            return {k: self.pair() for k in self.r.sample(KEYS, self.r.randint(0, 2))}
        if prop in ("ref", "sref"):
            return None if self.chance(0.3) else self.pick(IDS)
        if prop == "srefs":
            return [self.pick(IDS) for _ in range(self.r.randint(0, 3))]
        from .schema import ROOT_PROPS

        return self.scalar(ROOT_PROPS[prop])

    def root(self) -> dict[str, Any]:
        from .schema import ROOT_PROPS

        snapshot = {p: self.of(p) for p in ROOT_PROPS if self.chance(0.5)}
        ids = self.fresh_ids(5)
        # Identified nodes mostly get distinct identifiers, and references
        # mostly point at one of them.
        if "items" in snapshot:
            snapshot["items"] = [self.item(i) for i in ids[: len(snapshot["items"])]]
        if snapshot.get("owner"):
            snapshot["owner"] = self.item(ids[3] if len(ids) > 3 else None)
        if "imap" in snapshot:
            snapshot["imap"] = {i: self.item(i) for i in ids[4:5]}
        present = [item["id"] for item in snapshot.get("items", [])]
        present += [item["id"] for item in snapshot.get("imap", {}).values()]
        present += [snapshot["owner"]["id"]] if snapshot.get("owner") else []
        present = present or IDS
        for prop in ("ref", "sref"):
            if snapshot.get(prop) and self.chance(0.85):
                snapshot[prop] = self.pick(present)
        if "srefs" in snapshot and self.chance(0.85):
            snapshot["srefs"] = [self.pick(present) for _ in snapshot["srefs"]]
        return self.maybe_unknown(snapshot)

    # -- values that may be live nodes -------------------------------------------
    def node_source(self) -> list[Any]:
        sources = [["owner"], ["items", self.r.randint(0, 2)], ["imap", self.pick(IDS)]]
        return list(self.pick(sources))

    def item_value(self) -> Any:
        roll = self.r.random()
        if roll < 0.15:
            return {"$detach": self.node_source()}
        if roll < 0.2:
            return {"$node": self.node_source()}
        return self.item()

    def ref_value(self) -> Any:
        if self.chance(0.15):
            return {"$node": self.node_source()}
        return self.pick(IDS)

    # -- ops ---------------------------------------------------------------------
    def op(self) -> dict[str, Any]:
        roll = self.r.random()
        if roll < 0.3:
            return self.set_op()
        if roll < 0.52:
            return self.array_op()
        if roll < 0.68:
            return self.map_op()
        if roll < 0.78:
            return self.snap_op()
        if roll < 0.9:
            return self.patch_op()
        kind = "detach" if self.chance(0.5) else "destroy"
        return {"k": kind, "t": self.pick(MODEL_TARGETS)}

    def set_op(self) -> dict[str, Any]:
        from .schema import CHILD_PROPS, ITEM_PROPS, PAIR_PROPS, ROOT_PROPS

        target = self.pick([[], [], [], *MODEL_TARGETS])
        head = target[0] if target else None
        props = {None: ROOT_PROPS, "child": CHILD_PROPS, "pmap": PAIR_PROPS}.get(head, ITEM_PROPS)
        prop = self.pick(list(props))
        if head is not None:
            kind = props[prop]
            value: Any = self.pick(IDS) if kind == "id" else self.scalar(kind)
        elif prop == "owner":
            value = None if self.chance(0.15) else self.item_value()
            if self.chance(0.05):
                value = {"$node": ["owner"]}  # the node already in the slot
        elif prop == "child" and self.chance(0.3):
            value = self.pick([{"$node": ["child"]}, {"$detach": ["child"]}])
        elif prop in ("ref", "sref"):
            value = None if self.chance(0.15) else self.ref_value()
        else:
            value = self.of(prop)
        return {"k": "set", "t": target, "p": prop, "v": value}

    def array_value(self, name: str) -> Any:
        if name == "items":
            return self.item_value()
        if name == "srefs":
            return self.ref_value()
        return self.pick(STRS) if not self.chance(0.03) else self.pick(BAD)

    def array_op(self) -> dict[str, Any]:
        name = self.pick(ARRAYS)
        t = [name]
        values = [self.array_value(name) for _ in range(self.r.randint(0, 2))]
        kind = self.pick(
            ["push", "insert", "pop", "del", "setitem", "splice", "splice", "replace", "clear"]
            + (["remove"] if name == "tags" else [])
        )
        i = self.r.randint(0, 3)
        if kind == "push":
            return {"k": kind, "t": t, "v": values or [self.array_value(name)]}
        if kind in ("insert", "setitem"):
            return {"k": kind, "t": t, "i": i, "v": self.array_value(name)}
        if kind == "del":
            return {"k": kind, "t": t, "i": i}
        if kind == "splice":
            return {"k": kind, "t": t, "i": i, "n": self.r.randint(0, 2), "v": values}
        if kind == "replace":
            return {"k": kind, "t": t, "v": values}
        if kind == "remove":
            return {"k": kind, "t": t, "v": self.pick(STRS)}
        return {"k": kind, "t": t}

    def map_value(self, name: str, key: str) -> Any:
        if name == "smap":
            return self.pick(STRS) if not self.chance(0.03) else self.pick(BAD)
        if name == "pmap":
            return self.pair()
        if self.chance(0.2):
            return {"$detach": self.node_source()}
        return self.item(key if key in IDS and not self.chance(0.1) else None)

    def map_op(self) -> dict[str, Any]:
        name = self.pick(MAPS)
        keys = IDS if name == "imap" else KEYS
        key = self.pick(keys)
        kind = self.pick(["mset", "mset", "mdel", "merge", "clear"])
        if kind == "mset":
            return {"k": kind, "t": [name], "key": key, "v": self.map_value(name, key)}
        if kind == "mdel":
            return {"k": kind, "t": [name], "key": key}
        if kind == "merge":
            chosen = self.r.sample(keys, self.r.randint(1, 2))
            values = {k: self.pick(STRS) if name == "smap" else self.pair() if name == "pmap"
                      else self.item(k) for k in chosen}
            return {"k": kind, "t": [name], "v": values}
        return {"k": kind, "t": [name]}

    def snapshot_for(self, target: list[Any]) -> Any:
        if not target:
            return self.root()
        head = target[0]
        if len(target) == 1:
            return self.of(head)
        if head == "pmap":
            return self.pair()
        return self.item()  # items/i, imap/key

    def snap_op(self) -> dict[str, Any]:
        target = self.pick(
            [[], [], ["child"], ["owner"], ["items"], ["items", 0], ["tags"], ["smap"], ["imap"],
             ["pmap"], ["imap", "a"], ["srefs"]]
        )
        return {"k": "snap", "t": target, "v": self.snapshot_for(target)}

    def patch_op(self) -> dict[str, Any]:
        target = self.pick([[], [], [], ["items", 0], ["items"], ["tags"], ["smap"], ["imap"]])
        return {"k": "patch", "t": target,
                "v": [self.patch(target) for _ in range(self.r.randint(1, 3))]}

    def patch(self, target: list[Any]) -> dict[str, Any]:
        op = self.pick(["add", "replace", "remove", "replace"])
        index = self.pick(["0", "1", "2", "-"] if op == "add" else ["0", "1", "2"])
        if target == ["items", 0]:
            prop = self.pick(["name", "n"])
            return {"op": self.pick(["replace", "replace", "add", "remove"]), "path": f"/{prop}",
                    "value": self.scalar("str" if prop == "name" else "int")}
        if len(target) == 1:
            name = target[0]
            if name in MAPS:
                key = self.pick(IDS if name == "imap" else KEYS)
                path, value = f"/{key}", self.map_value(name, key)
            else:
                path, value = f"/{index}", self.array_value(name)
            if isinstance(value, dict) and ("$detach" in value or "$node" in value):
                value = self.item()
            return self._patch(op, path, value)
        prop = self.pick(["s", "i", "ms", "fz", "owner", "sref", "tags", "items", "smap", "imap",
                          "ref", "srefs", "child"])
        if prop in ARRAYS:
            return self._patch(op, f"/{prop}/{index}", self.array_value(prop)
                               if prop != "items" else self.item())
        if prop in MAPS and self.chance(0.8):
            key = self.pick(IDS if prop == "imap" else KEYS)
            value = self.item(key) if prop == "imap" else self.map_value(prop, key)
            return self._patch(op, f"/{prop}/{key}", value)
        if prop == "items" and self.chance(0.5):
            sub = self.pick(["name", "n"])
            return self._patch("replace", f"/items/{index}/{sub}",
                               self.scalar("str" if sub == "name" else "int"))
        return self._patch(op, f"/{prop}", self.of(prop) if prop != "sref" else self.ref_value())

    @staticmethod
    def _patch(op: str, path: str, value: Any) -> dict[str, Any]:
        if isinstance(value, dict) and ("$node" in value or "$detach" in value):
            value = "a"
        return {"op": op, "path": path} if op == "remove" else {"op": op, "path": path,
                                                                 "value": value}

    def change_then_move(self) -> list[dict[str, Any]]:
        """Ops on one node: change it, then move it elsewhere (one step or two)."""
        i = self.r.randint(0, 2)
        destination = self.pick([
            {"k": "set", "t": [], "p": "owner", "v": {"$detach": ["items", i]}},
            {"k": "push", "t": ["items"], "v": [{"$detach": ["items", i]}]},
        ])
        return [{"k": "set", "t": ["items", i], "p": "name", "v": self.pick(STRS)}, destination]

    def script(self) -> dict[str, Any]:
        steps = []
        for _ in range(self.r.randint(1, 8)):
            roll = self.r.random()
            if roll < 0.05:
                steps.append(self.change_then_move())
            elif roll < 0.08:
                steps.extend([op] for op in self.change_then_move())
            else:
                count = 1 if roll < 0.72 else self.r.randint(2, 3)
                steps.append([self.op() for _ in range(count)])
        self.clean = True
        init = self.root()
        self.clean = False
        return {"init": init, "steps": steps}


class _PairList:
    """Ops on ``plist``, an array of models without an identifier (issue 16 item 12).

    MST reuses such an item's node only when it is given the node's own snapshot
    object (``{"$own": ["plist", i]}``); any other snapshot builds a new node.
    Drawn from a random stream of their own and added to a script's steps, so
    the scripts of the other properties stay as they were for every seed.
    """

    def __init__(self, rng: random.Random) -> None:
        self.r = rng
        self.pairs = _Gen(rng)

    def value(self) -> Any:
        if self.r.random() < 0.45:
            return {"$own": ["plist", self.r.randint(0, 3)]}
        return self.pairs.pair()

    def values(self) -> list[Any]:
        return [self.value() for _ in range(self.r.randint(0, 3))]

    def op(self) -> dict[str, Any]:
        t = ["plist"]
        roll = self.r.random()
        if roll < 0.3:
            return {"k": "snap", "t": t, "v": self.values()}
        if roll < 0.4:
            return {"k": "snap", "t": [], "v": {"plist": self.values()}}
        if roll < 0.55:
            return {"k": "set", "t": [], "p": "plist", "v": self.values()}
        if roll < 0.65:
            return {"k": "replace", "t": t, "v": self.values()}
        if roll < 0.75:
            return {"k": "splice", "t": t, "i": self.r.randint(0, 3), "n": self.r.randint(0, 2),
                    "v": self.values()}
        if roll < 0.8:
            return {"k": "push", "t": t, "v": [self.value()]}
        if roll < 0.85:
            return {"k": "setitem", "t": t, "i": self.r.randint(0, 3), "v": self.value()}
        if roll < 0.93:
            prop = self.r.choice(["a", "b"])
            return {"k": "set", "t": ["plist", self.r.randint(0, 2)], "p": prop,
                    "v": self.pairs.scalar("str" if prop == "a" else "float")}
        return {"k": self.r.choice(["detach", "destroy"]), "t": ["plist", self.r.randint(0, 2)]}

    def add_to(self, script: dict[str, Any]) -> None:
        if self.r.random() < 0.6:
            self.pairs.clean = True
            script["init"]["plist"] = [self.pairs.pair() for _ in range(self.r.randint(1, 4))]
            self.pairs.clean = False
        steps = script["steps"]
        for position in range(len(steps) - 1, -1, -1):
            roll = self.r.random()
            if roll < 0.25:
                steps[position] = [*steps[position], self.op()]  # in the same action
            elif roll < 0.5:
                steps.insert(position + 1, [self.op() for _ in range(self.r.randint(1, 2))])


def generate(seed: int, index: int) -> dict[str, Any]:
    """Script number ``index`` of the stream seeded by ``seed`` (independent of the others)."""
    script = _Gen(random.Random(f"{seed}:{index}")).script()
    if isinstance(script["init"], dict):
        _PairList(random.Random(f"{seed}:{index}:plist")).add_to(script)
    script["id"] = f"{seed}:{index}"
    return script


def scripts(seed: int, count: int) -> list[dict[str, Any]]:
    """The first ``count`` scripts of the stream seeded by ``seed``."""
    return [generate(seed, index) for index in range(count)]
