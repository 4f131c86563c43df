// Scenarios of issue 16 that op scripts cannot express (computed views over
// references, arrays of unidentified models, depth), run on MST for the
// expected values that test_mst_divergences.py records. Called by
// mst_runner.js for {"cmd": "probe", "name": ...}.
"use strict";

module.exports = function probes(mst, mobx) {
  const { types, getSnapshot, applySnapshot, applyPatch, onPatch, isAlive, clone, detach } = mst;

  const Todo = types.model("Todo", { id: types.identifier, title: "" });
  const Store = types
    .model("Store", { todos: types.array(Todo), sel: types.maybeNull(types.reference(Todo)) })
    .views((self) => ({
      get selTitle() {
        return self.sel ? self.sel.title : null;
      },
    }))
    .actions((self) => ({
      run(fn) {
        return fn(self);
      },
    }));

  // What a computed (kept alive by an autorun) and a direct read say after each change.
  function observeSelTitle(store, changes) {
    const seen = [];
    const dispose = mobx.autorun(() => {
      try {
        seen.push(store.selTitle);
      } catch (e) {
        seen.push("throws");
      }
    });
    const reads = [];
    for (const change of changes) {
      change(store);
      let read;
      try {
        read = store.selTitle;
      } catch (e) {
        read = "throws";
      }
      reads.push(read);
    }
    dispose();
    return { autorun: seen, reads };
  }

  const P = types.model("P", { a: "" });
  const List = types.model("List", { items: types.array(P) });

  const Deep = types.model("Deep", { kids: types.array(types.late(() => Deep)) }).actions((self) => ({
    grow(depth) {
      let node = self;
      for (let i = 0; i < depth; i++) {
        node.kids.push({});
        node = node.kids[0];
      }
    },
  }));

  function attempt(fn) {
    try {
      fn();
      return "ok";
    } catch (e) {
      return `throws: ${String(e.message || e).split("\n")[0].slice(0, 120)}`;
    }
  }

  return {
    // 11: the target appears after the reference was set.
    ref_target_appears() {
      const store = Store.create({ todos: [], sel: "a" });
      return observeSelTitle(store, [(s) => s.run(() => s.todos.push({ id: "a", title: "A" }))]);
    },
    // 11: the target is removed.
    ref_target_removed() {
      const store = Store.create({ todos: [{ id: "a", title: "A" }], sel: "a" });
      return observeSelTitle(store, [(s) => s.run(() => s.todos.splice(0, 1))]);
    },
    // 11: replaced in one action by a new node with the same identifier.
    ref_target_replaced() {
      const store = Store.create({ todos: [{ id: "a", title: "A" }], sel: "a" });
      return observeSelTitle(store, [
        (s) =>
          s.run(() => {
            s.todos.splice(0, 1);
            s.todos.push({ id: "a", title: "B" });
          }),
      ]);
    },
    // 11: what an MST peer sends for a move: remove + add, in one applyPatch.
    ref_target_patched() {
      const store = Store.create({ todos: [{ id: "a", title: "A" }, { id: "b" }], sel: "a" });
      return observeSelTitle(store, [
        (s) =>
          applyPatch(s, [
            { op: "remove", path: "/todos/0" },
            { op: "add", path: "/todos/1", value: { id: "a", title: "C" } },
          ]),
      ]);
    },
    // 12: applySnapshot of the own snapshot, then of one with one change.
    unidentified_reconcile() {
      const list = List.create({ items: [{ a: "x" }, { a: "y" }] });
      const first = list.items[0];
      const patches = [];
      onPatch(list, (p) => patches.push(p));
      applySnapshot(list, getSnapshot(list));
      const same = patches.splice(0);
      applySnapshot(list, { items: [{ a: "x" }, { a: "z" }] });
      return { same, changed: patches, firstAlive: isAlive(first), firstIsItem0: list.items[0] === first };
    },
    // 14: depth an action builds, then snapshot, clone, re-apply, create.
    depth(depth) {
      const root = Deep.create({});
      const out = { build: attempt(() => root.grow(depth)) };
      let snapshot = null;
      out.snapshot = attempt(() => {
        snapshot = getSnapshot(root);
      });
      out.clone = attempt(() => clone(root));
      out.create = attempt(() => Deep.create(snapshot));
      out.apply = attempt(() => applySnapshot(Deep.create({}), snapshot));
      return out;
    },
    // 7: assigning a node to the slot it occupies.
    same_slot() {
      const Owner = types.model("Owner", { o: types.maybeNull(Todo) }).actions((self) => ({
        same() {
          self.o = self.o;
        },
      }));
      const owner = Owner.create({ o: { id: "a" } });
      const patches = [];
      onPatch(owner, (p) => patches.push(p));
      const node = owner.o;
      const outcome = attempt(() => owner.same());
      return { outcome, patches, alive: isAlive(node), detached: attempt(() => detach(node)) };
    },
  };
};
