// The MobX-State-Tree side of the differential test: runs op scripts (JSON
// lines on stdin, one reply line each on stdout) against MST 9.0.0 + mobx 7.1.3.
//
//   node mst_runner.js MODULES_DIR      (MODULES_DIR holds mobx-state-tree)
//
// Requests: {"cmd": "run", "script": {...}} and {"cmd": "replay", "init": ...,
// "steps": [[patch, ...], ...]}. The op vocabulary, the index rules and the
// schema are the ones tests/differential/runner_py.py implements for mstlite;
// keep the two in step (schema.py describes the schema for the generator).
"use strict";

const path = require("path");
const readline = require("readline");

const modules = path.resolve(process.argv[2]);
const mst = require(path.join(modules, "mobx-state-tree"));
const mobx = require(path.join(modules, "mobx"));
const { types, getSnapshot, applySnapshot, applyPatch, onPatch, detach, destroy } = mst;
const probes = require("./mst_probes.js")(mst, mobx);

const Item = types.model("Item", {
  id: types.identifier,
  name: types.optional(types.string, ""),
  n: types.optional(types.integer, 0),
});
const Pair = types.model("Pair", {
  a: types.optional(types.string, ""),
  b: types.optional(types.number, 0),
});
const Child = types.model("Child", {
  label: types.optional(types.string, "c"),
  k: types.optional(types.integer, 0),
});
const Root = types
  .model("Root", {
    s: types.optional(types.string, ""),
    i: types.optional(types.integer, 0),
    f: types.optional(types.number, 0),
    b: types.optional(types.boolean, false),
    ms: types.maybeNull(types.string),
    lit: types.optional(types.enumeration("Lit", ["x", "y"]), "x"),
    child: types.optional(Child, {}),
    owner: types.maybeNull(Item),
    items: types.array(Item),
    tags: types.array(types.string),
    smap: types.map(types.string),
    imap: types.map(Item),
    pmap: types.map(Pair),
    ref: types.maybeNull(types.reference(Item)),
    sref: types.maybeNull(types.safeReference(Item, { acceptsUndefined: false })),
    srefs: types.array(types.safeReference(Item, { acceptsUndefined: false })),
    fz: types.frozen(null),
    plist: types.array(Pair),
  })
  .actions((self) => ({
    batch(fn) {
      return fn();
    },
  }));

// MST reports some misuse (writing a dead node) with console.warn besides
// throwing; those lines would interleave with the replies' stderr. Keep them
// per step in the result instead (informative, not compared).
let warnings = [];
console.warn = (...args) => {
  warnings.push(args.map(String).join(" ").split("\n")[0].slice(0, 300));
};

const SKIP = Symbol("skip");

// A target is a list of parts: a number is an array position (taken modulo the
// length), a string a model property or a map key. Missing -> SKIP.
function resolve(root, parts) {
  let node = root;
  for (const part of parts) {
    if (node === null || node === undefined) return SKIP;
    if (typeof part === "number") {
      if (!Array.isArray(node) && !mst.isArrayType(mst.getType(node))) return SKIP;
      if (node.length === 0) return SKIP;
      node = node[part % node.length];
    } else if (mst.isMapType(mst.getType(node))) {
      if (!node.has(part)) return SKIP;
      node = node.get(part);
    } else {
      node = node[part];
    }
  }
  return node === null || node === undefined ? SKIP : node;
}

function value(root, spec) {
  if (spec !== null && typeof spec === "object" && !Array.isArray(spec)) {
    if ("$node" in spec) return resolve(root, spec.$node);
    if ("$detach" in spec) {
      const node = resolve(root, spec.$detach);
      return node === SKIP ? SKIP : detach(node);
    }
    if ("$snap" in spec) return spec.$snap;
    if ("$own" in spec) {
      const node = resolve(root, spec.$own);
      return node === SKIP ? SKIP : getSnapshot(node);
    }
  }
  return spec;
}

// A snapshot given to applySnapshot or assigned: an array's items (also in a
// property of the snapshot) may each be {"$own": parts}, the current snapshot
// object of the node there.
function snapshotValue(root, spec) {
  if (Array.isArray(spec)) return values(root, spec);
  if (spec !== null && typeof spec === "object" && !Object.keys(spec).some((k) => k[0] === "$")) {
    const out = {};
    for (const [key, item] of Object.entries(spec)) {
      const v = Array.isArray(item) ? values(root, item) : item;
      if (v === SKIP) return SKIP;
      out[key] = v;
    }
    return out;
  }
  return value(root, spec);
}

// Left to right, stopping at the first missing one (as the Python runner does).
function values(root, specs) {
  const out = [];
  for (const spec of specs) {
    const v = value(root, spec);
    if (v === SKIP) return SKIP;
    out.push(v);
  }
  return out;
}

// One op; returns "skip" when its target (or a node it names) is missing.
function runOp(root, op) {
  const target = resolve(root, op.t);
  if (target === SKIP) return "skip";
  const len = () => target.length;
  switch (op.k) {
    case "set": {
      const v = snapshotValue(root, op.v);
      if (v === SKIP) return "skip";
      target[op.p] = v;
      return null;
    }
    case "push": {
      const vs = values(root, op.v);
      if (vs === SKIP) return "skip";
      target.push(...vs);
      return null;
    }
    case "insert": {
      const at = op.i % (len() + 1);
      const v = value(root, op.v);
      if (v === SKIP) return "skip";
      target.splice(at, 0, v);
      return null;
    }
    case "pop":
      if (len() === 0) return "skip";
      target.pop();
      return null;
    case "del":
      if (len() === 0) return "skip";
      target.splice(op.i % len(), 1);
      return null;
    case "setitem": {
      if (len() === 0) return "skip";
      const at = op.i % len();
      const v = value(root, op.v);
      if (v === SKIP) return "skip";
      // Python's a[i] = v needs i < len(a); taking v may have shortened the array.
      if (at >= len()) throw new Error(`IndexError: index ${at} out of range`);
      target[at] = v;
      return null;
    }
    case "splice": {
      const start = op.i % (len() + 1);
      const count = Math.min(op.n, len() - start);
      const vs = values(root, op.v);
      if (vs === SKIP) return "skip";
      target.splice(start, count, ...vs);
      return null;
    }
    case "replace": {
      const vs = values(root, op.v);
      if (vs === SKIP) return "skip";
      target.replace(vs);
      return null;
    }
    case "remove":
      if (!target.includes(op.v)) return "skip";
      target.remove(op.v);
      return null;
    case "clear":
      target.clear();
      return null;
    case "mset": {
      const v = value(root, op.v);
      if (v === SKIP) return "skip";
      target.set(op.key, v);
      return null;
    }
    case "mdel":
      target.delete(op.key);
      return null;
    case "merge":
      target.merge(op.v);
      return null;
    case "snap": {
      const v = snapshotValue(root, op.v);
      if (v === SKIP) return "skip";
      applySnapshot(target, v);
      return null;
    }
    case "patch":
      applyPatch(target, op.v);
      return null;
    case "detach":
      detach(target);
      return null;
    case "destroy":
      destroy(target);
      return null;
    default:
      throw new Error(`unknown op kind ${op.k}`);
  }
}

function message(error) {
  return String((error && error.message) || error).split("\n")[0].slice(0, 300);
}

function snap(root) {
  return JSON.parse(JSON.stringify(getSnapshot(root)));
}

// Runs a list of patch batches, one applyPatch each, recording snapshots.
function applyBatches(root, batches) {
  const out = [];
  for (const batch of batches) {
    let threw = false;
    let error = null;
    try {
      applyPatch(root, batch);
    } catch (e) {
      threw = true;
      error = message(e);
    }
    out.push({ threw, error, snapshot: snap(root) });
    if (threw) break;
  }
  return out;
}

function create(init) {
  try {
    return { root: Root.create(init), threw: false, error: null };
  } catch (e) {
    return { root: null, threw: true, error: message(e) };
  }
}

function runScript(script) {
  const made = create(script.init);
  const result = {
    create: { threw: made.threw, error: made.error, snapshot: made.root ? snap(made.root) : null },
    steps: [],
    undo: [],
  };
  const root = made.root;
  if (!root) return result;
  let patches = [];
  let inverses = [];
  const dispose = onPatch(root, (patch, inverse) => {
    patches.push(JSON.parse(JSON.stringify(patch)));
    inverses.push(JSON.parse(JSON.stringify(inverse)));
  });
  for (const step of script.steps) {
    patches = [];
    inverses = [];
    warnings = [];
    const skips = [];
    let threw = false;
    let error = null;
    let failed = null;
    try {
      root.batch(() => {
        for (const op of step) {
          failed = skips.length;
          skips.push(runOp(root, op) === "skip");
        }
      });
    } catch (e) {
      threw = true;
      error = message(e);
    }
    if (!threw) failed = null;
    const snapshot = snap(root);
    result.steps.push({ threw, error, failed, skips, patches, inverses, snapshot, warnings });
  }
  dispose();
  // Undo each step, last first, with its own inverse patches (reversed).
  const undoBatches = result.steps.map((s) => s.inverses.slice().reverse()).reverse();
  result.undo = applyBatches(root, undoBatches);
  return result;
}

function replay(init, batches) {
  const made = create(init);
  if (!made.root) return { threw: true, error: made.error, steps: [] };
  return { threw: false, error: null, steps: applyBatches(made.root, batches) };
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  let reply;
  try {
    const request = JSON.parse(line);
    if (request.cmd === "run") reply = runScript(request.script);
    else if (request.cmd === "replay") reply = replay(request.init, request.steps);
    else if (request.cmd === "probe") reply = probes[request.name](...(request.args || []));
    else if (request.cmd === "versions")
      reply = {
        node: process.version,
        "mobx-state-tree": require(path.join(modules, "mobx-state-tree", "package.json")).version,
        mobx: require(path.join(modules, "mobx", "package.json")).version,
      };
    else reply = { fatal: `unknown command ${request.cmd}` };
  } catch (e) {
    reply = { fatal: message(e) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
