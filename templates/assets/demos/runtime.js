// The page's one Python runtime: a module Web Worker running Pyodide (see worker.mjs).
// Started on demand (start()), reports named stages to listeners, answers calls with a timeout,
// and restarts itself if a call never returns (e.g. an infinite loop in code the reader edited).

export const STAGES = ["runtime", "numpy", "code", "live"];
export const STAGE_LABELS = {
  runtime: "Python runtime",
  numpy: "numpy",
  code: "demo code",
  live: "live",
};
export const CALL_TIMEOUT_MS = 10000;
const BOOT_TIMEOUT_MS = 120000;

export class Runtime {
  // config: {mode, indexURL (absolute), integrity, rootURL (absolute, ends with /), manifestURL, workerURL}
  constructor(config) {
    this.config = config;
    this.worker = null;
    this.stage = "static"; // static | runtime | numpy | code | live | error
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

  get live() {
    return this.stage === "live";
  }

  start() {
    if (this.worker) return;
    this.startedAt = performance.now();
    performance.mark("demo-runtime-start");
    let worker;
    try {
      worker = new Worker(this.config.workerURL, { type: "module", name: "pyodide-demos" });
    } catch (err) {
      this.setStage("error", { stage: "runtime", message: "this browser cannot start a module worker" });
      return;
    }
    this.worker = worker;
    worker.onmessage = (event) => this.receive(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.fail("runtime", event.message || "the worker script could not be loaded");
    };
    worker.onmessageerror = () => this.fail(this.stage, "a message could not be read");
    this.bootTimer = setTimeout(() => this.fail(this.stage, "loading took too long"), BOOT_TIMEOUT_MS);
    this.setStage("runtime");
    // the worker reads the build's manifest (demos/manifest.json) and loads every file it lists
    worker.postMessage({ type: "boot", indexURL: this.config.indexURL, integrity: this.config.integrity,
      manifestURL: this.config.manifestURL, rootURL: this.config.rootURL });
  }

  receive(msg) {
    if (msg.type === "stage") {
      if (msg.stage === "live") {
        clearTimeout(this.bootTimer);
        performance.mark("demo-runtime-live");
      }
      this.setStage(msg.stage);
    } else if (msg.type === "progress") {
      this.loadedBytes += msg.bytes;
      for (const fn of this.progressListeners) fn(this.loadedBytes, msg.file);
    } else if (msg.type === "boot-error") {
      this.fail(msg.stage, msg.message);
    } else if (msg.type === "result") {
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

export class PythonError extends Error {}
export class RuntimeGone extends Error {}
export class TimedOut extends Error {}
