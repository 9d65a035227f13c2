// The page's one Python runtime: a module Web Worker running Pyodide (see worker.mjs).
// Started on demand (start()), or takes over the worker start.js started early (adopt()), reports named stages
// to listeners, answers calls with a timeout,
// and restarts itself if a call never returns (e.g. an infinite loop in code the reader edited).
// The worker restores the runtime from a memory snapshot (in the origin private file system) when it has one
// (stage label "Python runtime (from cache)"); if Pyodide rejects a snapshot, the worker asks for a fresh start
// without it.
// When it has none, a second worker makes one once the demos are live and the page is idle, then ends.

export const STAGES = ["runtime", "numpy", "code", "live"];
export const STAGE_LABELS = {
  runtime: "Python runtime",
  numpy: "numpy",
  code: "demo code",
  live: "live",
};
export const CALL_TIMEOUT_MS = 10000;
const BOOT_TIMEOUT_MS = 120000;
// the helper worker (snapshot, packages) waits until the reader has been on the live page a while: not competing
// with the first interactions, and never started for a page that is closed at once
const CACHES_AFTER_LIVE_MS = 5000;

export class Runtime {
  // config: {mode, indexURL (absolute), integrity, rootURL (absolute, ends with /), manifestURL, workerURL};
  // bootMessage(config, snapshot): the worker's "boot" message (start.js, which may have started a worker already)
  constructor(config, bootMessage) {
    this.config = config;
    this.bootMessage = bootMessage;
    this.worker = null;
    this.stage = "static"; // static | runtime | numpy | code | live | error
    this.source = null; // "snapshot" when the runtime came from the cached memory snapshot
    this.cachesWanted = false; // the worker found no snapshot or no installed packages where it could keep them
    this.helper = null; // the worker that makes them
    this.error = null;
    this.listeners = new Set();
    this.pending = new Map();
    this.nextId = 1;
    this.bootTimer = 0;
    this.startedAt = 0;
    this.sources = new Map(); // repository path -> the text the interpreter runs now (edited code)
    this.originals = new Map(); // repository path -> the text the page shipped
    this.sourceListeners = new Set();
    this.loadedBytes = 0; // runtime files downloaded so far (worker "progress" messages)
    this.progressListeners = new Set();
  }

  onProgress(fn) {
    this.progressListeners.add(fn);
  }

  onChange(fn) {
    this.listeners.add(fn);
    fn(this.stage, this.error);
  }

  setStage(stage, error = null) {
    this.stage = stage;
    this.error = error;
    for (const fn of this.listeners) fn(stage, error);
  }

  // the stage's name for the status line: "Python runtime (from cache)" on a warm start
  stageLabel(stage) {
    const label = STAGE_LABELS[stage] || stage;
    return stage === "runtime" && this.source === "snapshot" ? `${label} (from cache)` : label;
  }

  get live() {
    return this.stage === "live";
  }

  start({ snapshot = true } = {}) {
    if (this.worker) return;
    this.source = null;
    this.startedAt = performance.now();
    performance.mark("demo-runtime-start");
    let worker;
    try {
      worker = new Worker(this.config.workerURL, { type: "module", name: "pyodide-demos" });
    } catch (err) {
      this.setStage("error", { stage: "runtime", message: "this browser cannot start a module worker" });
      return;
    }
    this.attach(worker);
    this.setStage("runtime");
    // the worker reads the build's manifest (demos/manifest.json) and loads every file it lists
    worker.postMessage(this.bootMessage(this.config, snapshot));
  }

  // take over the worker start.js started before this module had loaded ({worker, at, messages, error}): what it
  // has said so far is replayed in order
  adopt(early) {
    if (this.worker) return;
    this.source = null;
    this.startedAt = early.at;
    performance.mark("demo-runtime-start", { startTime: early.at });
    this.attach(early.worker);
    this.setStage("runtime");
    for (const msg of early.messages) this.receive(msg);
    if (early.error) this.fail("runtime", early.error);
  }

  attach(worker) {
    this.worker = worker;
    worker.onmessage = (event) => this.receive(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.fail("runtime", event.message || "the worker script could not be loaded");
    };
    worker.onmessageerror = () => this.fail(this.stage, "a message could not be read");
    this.bootTimer = setTimeout(() => this.fail(this.stage, "loading took too long"), BOOT_TIMEOUT_MS);
  }

  receive(msg) {
    if (msg.type === "stage") {
      if (msg.stage === "live") {
        clearTimeout(this.bootTimer);
        performance.mark("demo-runtime-live");
        if (this.cachesWanted) setTimeout(() => this.makeCaches(), CACHES_AFTER_LIVE_MS);
      }
      performance.mark(`demo-stage-${msg.stage}`); // when each stage began, for bench/
      // start() already showed "runtime": repeating it would rewrite every figure's status line for nothing
      // (a style, layout and paint of the long page while it boots)
      if (msg.stage === this.stage && (!msg.source || msg.source === this.source)) return;
      if (msg.source) this.source = msg.source;
      this.setStage(msg.stage);
    } else if (msg.type === "progress") {
      this.loadedBytes += msg.bytes;
      for (const fn of this.progressListeners) fn(this.loadedBytes, msg.file);
    } else if (msg.type === "snapshot" || msg.type === "packages") {
      // demo-snapshot-* / demo-packages-*: wanted | restored | dropped, read by tests and bench/
      performance.mark(`demo-${msg.type}-${msg.event}`);
      if (msg.event === "wanted") this.cachesWanted = true;
    } else if (msg.type === "restart") {
      this.stop();
      this.start({ snapshot: false });
    } else if (msg.type === "boot-error") {
      this.fail(msg.stage, msg.message);
    } else if (msg.type === "result") {
      mark("demo-call-answered");
      const entry = this.pending.get(msg.id);
      if (!entry) return;
      this.pending.delete(msg.id);
      clearTimeout(entry.timer);
      // the latest call's time in Python, for bench/ (one entry kept, so nothing accumulates)
      performance.clearMeasures("demo-python");
      performance.measure("demo-python", { start: performance.now() - msg.ms, duration: msg.ms });
      if (msg.ok) entry.resolve(msg.value);
      else entry.reject(new PythonError(msg.error));
    }
  }

  // a short-lived second worker makes what this visit missed, the snapshot and the installed packages, for the
  // next visit (off this visit's critical path)
  makeCaches() {
    if (this.helper || !this.cachesWanted) return;
    this.cachesWanted = false;
    let helper;
    try {
      helper = new Worker(this.config.workerURL, { type: "module", name: "pyodide-caches" });
    } catch {
      return;
    }
    this.helper = helper;
    const end = () => {
      clearTimeout(timer);
      helper.terminate();
    };
    const timer = setTimeout(end, BOOT_TIMEOUT_MS);
    helper.onmessage = (event) => {
      const { type, event: what } = event.data;
      // demo-snapshot-* / demo-packages-*: stored | failed | skipped | dropped
      if (type === "snapshot" || type === "packages") performance.mark(`demo-${type}-${what}`);
      if (type === "done") end();
    };
    helper.onerror = (event) => {
      event.preventDefault();
      end();
    };
    helper.postMessage({ type: "make-caches", indexURL: this.config.indexURL, integrity: this.config.integrity });
  }

  stop() {
    clearTimeout(this.bootTimer);
    // a new worker starts from the shipped files (the code tabs keep the reader's text, to fix and run again)
    for (const [path, text] of this.originals) this.sources.set(path, text);
    if (this.worker) this.worker.terminate();
    this.worker = null;
    this.loadedBytes = 0;
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(new RuntimeGone("the Python runtime was restarted"));
    }
    this.pending.clear();
  }

  fail(stage, message) {
    this.stop();
    this.setStage("error", { stage, message });
  }

  retry() {
    this.stop();
    this.start();
  }

  send(msg, timeoutMs) {
    if (!this.live) return Promise.reject(new RuntimeGone("the Python runtime is not ready"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimedOut(`Python did not answer within ${timeoutMs / 1000} s, so the runtime was restarted with the original code`));
        this.retry();
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage(Object.assign({ id }, msg));
      mark("demo-call-sent"); // with demo-call-answered and demo-python: the worker hop, for bench/
    });
  }

  // demos/<demo>/demo.py's <fn>(payload) -> parsed JSON result
  call(demo, fn, payload, timeoutMs = CALL_TIMEOUT_MS) {
    return this.send({ type: "call", demo, fn, payload: JSON.stringify(payload) }, timeoutMs);
  }

  // ----- code the reader edits: one interpreter per page, so one current text per file -----
  register(path, original) {
    if (!this.originals.has(path)) {
      this.originals.set(path, original);
      this.sources.set(path, original);
    }
  }

  current(path) {
    return this.sources.get(path);
  }

  onSource(fn) {
    this.sourceListeners.add(fn);
  }

  // replace files (repository paths, e.g. demos/grpo_core.py) in the worker and re-import demos.*; every
  // listener (each demo's code tab and figure) learns which files changed
  async setSources(texts, timeoutMs = CALL_TIMEOUT_MS) {
    const changed = [...texts].filter(([path, text]) => this.sources.get(path) !== text);
    if (!changed.length) return [];
    for (const [path, text] of changed) await this.send({ type: "source", path, source: text }, timeoutMs);
    for (const [path, text] of changed) this.sources.set(path, text);
    const paths = changed.map(([path]) => path);
    for (const fn of this.sourceListeners) fn(paths);
    return paths;
  }
}

// one entry per name (the latest), so nothing accumulates over a long session
function mark(name) {
  performance.clearMarks(name);
  performance.mark(name);
}

export class PythonError extends Error {}
export class RuntimeGone extends Error {}
export class TimedOut extends Error {}
