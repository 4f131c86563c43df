// The MobX-State-Tree side of mstlite's benchmarks: one workload per process.
//
//   NODE_ENV=production [ENABLE_TYPE_CHECK=true] \
//     node --expose-gc bench.js WORKLOAD N --data FILE [--count C] [--warmup W] [--repeats R]
//
// FILE is the JSON dataset benchmarks/_data.py wrote for this workload (the
// same values the Python sides use). Prints the same JSON document as
// `python -m benchmarks._worker`; exits 1 when a check fails. Each workload
// mirrors its Python twin in benchmarks/_workloads_mstlite.py.
"use strict";

const fs = require("fs");
const { isDeepStrictEqual } = require("util");
const { performance } = require("perf_hooks");
const { reaction } = require("mobx");
const {
  types,
  getSnapshot,
  applySnapshot,
  applyPatch,
  onPatch,
} = require("mobx-state-tree");

const Meta = types.model("Meta", {
  priority: types.integer,
  note: types.maybeNull(types.string),
});

const Todo = types
  .model("Todo", {
    id: types.identifier,
    title: types.string,
    done: types.boolean,
    tags: types.array(types.string),
    meta: Meta,
  })
  .actions((self) => ({
    toggle() {
      self.done = !self.done;
    },
  }));

const Store = types.model("Store", { todos: types.array(Todo) }).views((self) => ({
  get doneCount() {
    let count = 0;
    for (const todo of self.todos) if (todo.done) count++;
    return count;
  },
}));

const clock = () => performance.now() / 1000; // seconds, like the Python sides

class Recorder {
  constructor() {
    this.recording = false;
    this.samples = {};
    this.values = {};
  }
  record(phase, seconds) {
    if (this.recording) (this.samples[phase] ||= []).push(seconds);
  }
  value(name, amount) {
    if (this.recording) this.values[name] = amount;
  }
}

class CheckFailed extends Error {}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

// Same protocol as benchmarks/_timing.py: a full collection before each
// iteration (untimed), the collector otherwise left alone.
function runIterations(iteration, recorder, warmup, repeats) {
  for (let index = 0; index < warmup + repeats; index++) {
    recorder.recording = index >= warmup;
    if (global.gc) global.gc();
    iteration(recorder);
  }
}

let retained = null; // keeps the measured structure alive through the second reading

function measureGrowth(build, recorder, count) {
  global.gc();
  const before = process.memoryUsage();
  retained = build();
  global.gc();
  const after = process.memoryUsage();
  retained = null;
  const heap = after.heapUsed - before.heapUsed;
  recorder.value("rss_growth_bytes", after.rss - before.rss);
  recorder.value("heap_growth_bytes", heap);
  recorder.value("heap_bytes_per_item", heap / count);
}

// A tree whose every todo has been read, as in a running app (untimed setup):
// MST builds nodes lazily and would otherwise bill those first reads to the
// operation measured.
function materialized(snapshot) {
  const store = Store.create(snapshot);
  for (const todo of store.todos) todo.title;
  return store;
}

function runningDoneCounts(snapshot, toggles) {
  const done = snapshot.todos.map((todo) => todo.done);
  let count = done.filter(Boolean).length;
  return toggles.map((index) => {
    done[index] = !done[index];
    count += done[index] ? 1 : -1;
    return count;
  });
}

const WORKLOADS = {
  create(data) {
    const snapshot = data.snapshot;
    return (recorder) => {
      const start = clock();
      const store = Store.create(snapshot);
      const created = clock();
      const titles = [];
      for (const todo of store.todos) titles.push(todo.title);
      const read = clock();
      recorder.record("create", created - start);
      recorder.record("read_titles", read - created);
      recorder.record("total", read - start);
      check(isDeepStrictEqual(titles, snapshot.todos.map((todo) => todo.title)), "titles differ");
      check(isDeepStrictEqual(getSnapshot(store), snapshot), "the snapshot differs from the input");
    };
  },

  snapshot(data) {
    const initial = data.snapshot;
    const [firstIndex, nextIndex] = data.changed_indices;
    const [afterFirst, afterNext] = data.after_changes;
    return (recorder) => {
      const store = materialized(initial);
      const start = clock();
      const first = getSnapshot(store);
      const firstDone = clock();
      const again = getSnapshot(store);
      const againDone = clock();
      store.todos[firstIndex].toggle();
      const changed = clock();
      const afterOne = getSnapshot(store);
      const afterOneDone = clock();
      store.todos[nextIndex].toggle();
      const changedAgain = clock();
      const afterTwo = getSnapshot(store);
      const afterTwoDone = clock();
      recorder.record("first", firstDone - start);
      recorder.record("unchanged", againDone - firstDone);
      recorder.record("after_first_change", afterOneDone - changed);
      recorder.record("after_next_change", afterTwoDone - changedAgain);
      check(isDeepStrictEqual(first, initial), "the first snapshot differs from the input");
      check(again === first, "an unchanged tree gave a new snapshot object");
      check(isDeepStrictEqual(afterOne, afterFirst), "the snapshot after one toggle is wrong");
      check(isDeepStrictEqual(afterTwo, afterNext), "the snapshot after two toggles is wrong");
      check(afterTwo.todos[firstIndex] === afterOne.todos[firstIndex], "a todo was not shared");
    };
  },

  actions(data) {
    const { snapshot: initial, toggles, patches, final } = data;
    return (recorder) => {
      const store = materialized(initial);
      const todos = store.todos.slice(); // indexing the array is not what is measured
      const heard = [];
      const dispose = onPatch(store, (patch) => heard.push(patch));
      const start = clock();
      for (const index of toggles) todos[index].toggle();
      recorder.record("actions", clock() - start);
      dispose();
      check(isDeepStrictEqual(heard, patches), "the listener heard other patches than expected");
      check(isDeepStrictEqual(getSnapshot(store), final), "the tree after the actions is wrong");
    };
  },

  apply_patch(data) {
    const { snapshot: initial, toggles, final } = data;
    // The patches of the actions workload, recorded the same way (untimed).
    const source = Store.create(initial);
    const todos = source.todos.slice();
    const patches = [];
    const dispose = onPatch(source, (patch) => patches.push(patch));
    for (const index of toggles) todos[index].toggle();
    dispose();
    check(isDeepStrictEqual(patches, data.patches), "the recorded patches are not the expected ones");
    return (recorder) => {
      // MST's best form: a materialized tree. On a tree never read, MST builds every
      // node lazily inside the timed applyPatch (about 8x slower): not what apps see.
      const store = materialized(initial);
      const start = clock();
      applyPatch(store, patches);
      recorder.record("apply_patch", clock() - start);
      check(isDeepStrictEqual(getSnapshot(store), final), "the tree after applyPatch is wrong");
    };
  },

  computed(data) {
    const { snapshot: initial, toggles } = data;
    const expected = runningDoneCounts(initial, toggles);
    return (recorder) => {
      const store = materialized(initial);
      const todos = store.todos.slice();
      const effects = [];
      const dispose = reaction(() => store.doneCount, (count) => effects.push(count));
      const counts = [];
      const start = clock();
      for (const index of toggles) {
        todos[index].toggle();
        counts.push(store.doneCount);
      }
      recorder.record("toggle_and_read", clock() - start);
      dispose();
      check(isDeepStrictEqual(counts, expected), "doneCount read a wrong value");
      check(isDeepStrictEqual(effects, expected), "the reaction did not run once per change");
    };
  },

  apply_snapshot(data) {
    const { snapshot: initial, edited } = data;
    // Unchanged todos are equal (the JSON file lost the Python side's identity).
    const kept = edited.todos.findIndex((todo, i) => isDeepStrictEqual(todo, initial.todos[i]));
    return (recorder) => {
      const store = materialized(initial);
      const unchanged = store.todos[kept];
      const start = clock();
      applySnapshot(store, edited);
      recorder.record("apply_snapshot", clock() - start);
      check(isDeepStrictEqual(getSnapshot(store), edited), "the reconciled tree differs");
      check(store.todos[kept] === unchanged, "an unchanged todo was rebuilt, not reused");
    };
  },

  memory(data) {
    const snapshot = data.snapshot;
    return (recorder) => measureGrowth(() => materialized(snapshot), recorder, snapshot.todos.length);
  },

  fanout(data) {
    const { snapshot: initial, toggles } = data;
    return (recorder) => {
      const store = materialized(initial);
      const todos = store.todos.slice();
      const effects = [];
      const start = clock();
      const disposers = todos.map((todo) =>
        reaction(() => todo.done, (done) => effects.push(done)),
      );
      const subscribed = clock();
      for (const index of toggles) todos[index].toggle();
      const committed = clock();
      recorder.record("subscribe", subscribed - start);
      recorder.record("commits", committed - subscribed);
      for (const dispose of disposers) dispose();
      // Each commit flips one todo, so exactly one reaction runs per commit.
      check(effects.length === toggles.length, `${effects.length} effects for ${toggles.length}`);
    };
  },
};

function parseArgs(argv) {
  const [workload, n, ...rest] = argv;
  const options = { count: 0, warmup: 1, repeats: 5, data: null };
  for (let i = 0; i < rest.length; i += 2) {
    const name = rest[i].replace(/^--/, "");
    if (!(name in options)) throw new Error(`unknown option ${rest[i]}`);
    options[name] = name === "data" ? rest[i + 1] : Number(rest[i + 1]);
  }
  if (!(workload in WORKLOADS) || !options.data) {
    throw new Error("usage: bench.js WORKLOAD N --data FILE [--count C] [--warmup W] [--repeats R]");
  }
  return { workload, n: Number(n), ...options };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const data = JSON.parse(fs.readFileSync(args.data, "utf8"));
  const recorder = new Recorder();
  try {
    runIterations(WORKLOADS[args.workload](data), recorder, args.warmup, args.repeats);
  } catch (error) {
    if (!(error instanceof CheckFailed)) throw error;
    console.error(`mst ${args.workload}: check failed: ${error.message}`);
    process.exit(1);
  }
  const side = process.env.ENABLE_TYPE_CHECK === "true" ? "mst-typecheck" : "mst";
  console.log(
    JSON.stringify({
      side,
      workload: args.workload,
      n: args.n,
      count: args.count,
      samples: recorder.samples,
      values: recorder.values,
    }),
  );
}

main();
