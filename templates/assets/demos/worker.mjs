// Module Web Worker: boots Pyodide, installs numpy, loads the very files of demos/ that the build's manifest
// lists (demos/manifest.json: shared modules, each demo's demo.py, data files) and answers calls.
// Protocol (all payloads are JSON strings, so nothing but strings crosses the boundary):
//   in : {type: "boot", indexURL, integrity: {file: "sha384-..."}, manifestURL, rootURL}
//        {type: "call", id, demo, fn, payload}    -> demos/<demo>/demo.py's <fn>(payload)
//        {type: "source", id, path, source}       -> replace the file at <path> and re-import demos.*
//   out: {type: "stage", stage}                    stage: runtime | numpy | code | live
//        {type: "progress", file, bytes}              a runtime file arrived (bytes: its size), for the status line
//        {type: "boot-error", stage, message}
//        {type: "result", id, ok, value | error, ms}   ms: time spent in Python
// Runs only in the worker: code a reader edits never touches the page.

const PYODIDE_VERSION = "0.27.7";
const HOME = "/home/pyodide";
const BOOTSTRAP = `
import importlib, json, sys, traceback
if ${JSON.stringify(HOME)} not in sys.path:
    sys.path.insert(0, ${JSON.stringify(HOME)})

def _import_registry():
    for name in [m for m in sys.modules if m == "demos" or m.startswith("demos.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    return importlib.import_module("demos.registry")

_registry = _import_registry()

def _demo_call(demo, fn, payload):
    try:
        return '{"ok": true, "value": ' + _registry.call(demo, fn, payload) + "}"
    except Exception as exc:
        return json.dumps({"ok": False, "error": _short_traceback(exc)})

def _demo_reload():
    global _registry
    try:
        _registry = _import_registry()
        for name in _registry.names():   # surface an error in an edited file now, not at the next call
            if (_registry.DEMOS_DIR / name / "demo.py").exists():
                _registry.load(name)
        return '{"ok": true, "value": null}'
    except BaseException as exc:
        return json.dumps({"ok": False, "error": _short_traceback(exc)})

def _short_traceback(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/demos/" in f.filename]
    where = "".join(traceback.format_list(frames[-3:]))
    return (where + "".join(traceback.format_exception_only(type(exc), exc))).strip()
`;

let pyodide = null;
let callFn = null;
let reloadFn = null;

function post(msg) {
  self.postMessage(msg);
}

// fetch() that enforces Subresource Integrity for the pinned runtime files (cdn and local mode alike).
function pinnedFetch(integrity, baseURL) {
  const plain = self.fetch.bind(self);
  return (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url.startsWith(baseURL)) {
      const sri = integrity[url.slice(baseURL.length)];
      if (sri) return reportSize(plain(input, Object.assign({}, init, { integrity: sri })), url);
    }
    return reportSize(plain(input, init), url);
  };
}

// the status line counts the bytes downloaded: each file's size once it has arrived (Content-Length)
function reportSize(promise, url) {
  return promise.then((response) => {
    const bytes = Number(response.headers.get("content-length")) || 0;
    if (response.ok && bytes) post({ type: "progress", file: url.slice(url.lastIndexOf("/") + 1), bytes });
    return response;
  });
}

// import() cannot carry an integrity attribute: fetch with integrity, then import the verified bytes.
async function importVerified(url, sri) {
  if (!sri) return import(url);
  const response = await self.fetch(url, { integrity: sri }); // self.fetch is pinnedFetch: reports the size
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const blobURL = URL.createObjectURL(new Blob([await response.text()], { type: "text/javascript" }));
  try {
    return await import(blobURL);
  } finally {
    URL.revokeObjectURL(blobURL);
  }
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// the build's manifest, then every file it lists (fetched while Pyodide boots): [[path, bytes], ...]
async function demoFiles(manifestURL, rootURL) {
  const response = await fetch(manifestURL);
  if (!response.ok) throw new Error(`${manifestURL}: HTTP ${response.status}`);
  const manifest = await response.json();
  const version = new URL(manifestURL).search;
  return Promise.all(manifest.files.map(async (path) => [path, await fetchBytes(new URL(path, rootURL).href + version)]));
}

function writeFile(path, data) {
  const full = `${HOME}/${path}`;
  pyodide.FS.mkdirTree(full.slice(0, full.lastIndexOf("/")));
  pyodide.FS.writeFile(full, data);
}

// Pyodide reports some failures through console.error/warn; collect them into the error we show instead.
// A refused or truncated runtime file (SRI mismatch, network lost) is only *logged* by Emscripten's loader,
// and the promise never settles: fail at once on an abort, and a few seconds after any other console.error
// unless loading recovers (e.g. the streaming-compile fallback) -- never leave the figure "loading" for minutes.
const GRACE_AFTER_ERROR_MS = 8000;
// (Pyodide 0.27's own instantiateWasm only console.warn()s "wasm instantiation failed!" and never calls back.)
const FATAL = /instantiation failed|failed to asynchronously prepare wasm|Aborted\(|RuntimeError|NetworkError|Failed to fetch|integrity/i;

async function quietly(fn, notes) {
  const saved = { error: console.error, warn: console.warn };
  let fail, timer = null;
  const failed = new Promise((_, reject) => { fail = reject; });
  const note = (args) => { const m = args.map(String).join(" "); notes.push(m); return m; };
  console.warn = (...args) => { if (FATAL.test(note(args))) fail(new Error(notes.join("\n"))); };
  console.error = (...args) => {
    const m = note(args);
    if (FATAL.test(m)) fail(new Error(m));
    else if (timer === null) timer = setTimeout(() => fail(new Error(notes.join("\n"))), GRACE_AFTER_ERROR_MS);
  };
  const work = Promise.resolve().then(fn);
  work.catch(() => {}); // if `failed` wins the race, a later rejection of `work` must not go unhandled
  try {
    return await Promise.race([work, failed]);
  } finally {
    if (timer !== null) clearTimeout(timer);
    console.error = saved.error;
    console.warn = saved.warn;
  }
}

async function boot({ indexURL, integrity = {}, manifestURL, rootURL }) {
  let stage = "runtime";
  const notes = [];
  try {
    post({ type: "stage", stage });
    self.fetch = pinnedFetch(integrity, indexURL);
    const sources = demoFiles(manifestURL, rootURL);
    sources.catch(() => {}); // awaited below; avoid an unhandled rejection meanwhile
    const asm = integrity["pyodide.asm.js"];
    if (asm) await importVerified(indexURL + "pyodide.asm.js", asm); // defines globalThis._createPyodideModule
    const { loadPyodide, version } = await importVerified(indexURL + "pyodide.mjs", integrity["pyodide.mjs"]);
    if (version !== PYODIDE_VERSION) throw new Error(`expected Pyodide ${PYODIDE_VERSION}, got ${version}`);
    pyodide = await quietly(() => loadPyodide({ indexURL, stdout: () => {}, stderr: () => {} }), notes);

    stage = "numpy";
    post({ type: "stage", stage });
    await quietly(() => pyodide.loadPackage("numpy", { messageCallback: () => {}, errorCallback: (m) => notes.push(m) }), notes);
    if (notes.length) throw new Error(notes.join("\n"));
    pyodide.runPython("import numpy");

    stage = "code";
    post({ type: "stage", stage });
    for (const [path, data] of await sources) writeFile(path, data);
    pyodide.runPython(BOOTSTRAP);
    callFn = pyodide.globals.get("_demo_call");
    reloadFn = pyodide.globals.get("_demo_reload");

    stage = "live";
    post({ type: "stage", stage });
  } catch (err) {
    const detail = notes.length ? ` (${notes[0]})` : "";
    post({ type: "boot-error", stage, message: String((err && err.message) || err).split("\n")[0] + detail });
  }
}

function answer(id, json, ms) {
  const out = JSON.parse(json);
  post({ type: "result", id, ms, ok: out.ok, value: out.ok ? out.value : undefined, error: out.ok ? undefined : out.error });
}

function timed(fn) {
  const t0 = performance.now();
  const json = fn();
  return [json, performance.now() - t0];
}

// Failures surface as boot-error / result messages; a stray rejection inside Pyodide's loader must not
// reach the page's console as an uncaught error.
self.addEventListener("unhandledrejection", (event) => event.preventDefault());

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg.type === "boot") return boot(msg);
  if (!callFn) return post({ type: "result", id: msg.id, ok: false, error: "Python runtime is not ready" });
  try {
    if (msg.type === "call") return answer(msg.id, ...timed(() => callFn(msg.demo, msg.fn, msg.payload)));
    if (msg.type === "source") {
      if (!/^demos\/[\w./-]+\.py$/.test(msg.path) || msg.path.includes("..")) throw new Error(`not a demo file: ${msg.path}`);
      writeFile(msg.path, msg.source);
      return answer(msg.id, ...timed(() => reloadFn()));
    }
  } catch (err) {
    post({ type: "result", id: msg.id, ok: false, error: String((err && err.message) || err) });
  }
};
