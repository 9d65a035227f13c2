// Module Web Worker: boots Pyodide, installs numpy, loads the very files of demos/ that the build's manifest
// lists (demos/manifest.json: shared modules, each demo's demo.py, data files) and answers calls.
// Warm start: once the first visit is live, a second, short-lived instance of this worker ("make-snapshot")
// takes a memory snapshot of a bare interpreter (before any package is loaded: Pyodide 0.27 cannot snapshot
// loaded extension modules) and keeps it in Cache Storage, keyed by the Pyodide version and the SRI hash of
// pyodide.asm.wasm, off the first visit's critical path; later visits restore it instead of initialising Python.
// Anything wrong with it (no Cache Storage, quota, other build, corrupt bytes) deletes it and loads plainly.
// The snapshot never ships with the site: each browser makes its own.
// Protocol (all payloads are JSON strings, so nothing but strings crosses the boundary):
//   in : {type: "boot", indexURL, integrity: {file: "sha384-..."}, manifestURL, rootURL, snapshot: bool}
//        {type: "call", id, demo, fn, payload}    -> demos/<demo>/demo.py's <fn>(payload)
//        {type: "source", id, path, source}       -> replace the file at <path> and re-import demos.*
//        {type: "make-snapshot", indexURL, integrity}  (a separate worker) make and store the snapshot
//   out: {type: "stage", stage, source?}           stage: runtime | numpy | code | live;
//                                                  source: "snapshot" when the runtime is restored from cache
//        {type: "snapshot", event}                 event: wanted (a miss: make one once live) | stored |
//                                                  restored | dropped | failed | skipped
//        {type: "restart"}                         a restored snapshot failed inside Pyodide: start a fresh
//                                                  worker without one (the entry is already deleted)
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
    # what went wrong first (a small box may show only its top), then where: the last three frames in the demos'
    # files, named as the Python tab names them (demos/...)
    what = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/demos/" in f.filename]
    for f in frames:
        f.filename = f.filename[f.filename.index("/demos/") + 1:]
    # without the ^^^ markers under each line (on a phone they wrap into rows of carets)
    where = "\\n".join(l for l in "".join(traceback.format_list(frames[-3:])).splitlines() if l.strip(" ^~"))
    return what + ("\\n\\nwhere (innermost last):\\n" + where if where else "")
`;

const SNAPSHOT_CACHE = "pyodide-snapshot";
// after a restore, Python's state is the snapshot's: reseed what would otherwise repeat on every visit
const RESEED = "import random; random.seed()";
// Pure-Python standard-library modules imported before the snapshot is taken, so a restore has them already:
// those of Pyodide's package loader (unpacking numpy's wheel), of `import numpy` (CPython 3.11's list) and of
// the bootstrap below. Measured in Node, 6 alternated restores each: restore + loadPackage("numpy") + import,
// median 2.46 s with them vs 2.83 s without. (numpy itself cannot be in the snapshot in Pyodide 0.27.)
const SNAPSHOT_IMPORTS = "import pyodide._package_loader, zipfile, tarfile, shutil, sysconfig, base64, email.parser, " +
  "ast, collections.abc, contextvars, datetime, dis, inspect, linecache, math, numbers, opcode, pickle, platform, " +
  "struct, textwrap, tokenize, typing, weakref, json, importlib, traceback, random, pathlib, re, functools, warnings, enum";

let pyodide = null;
let callFn = null;
let reloadFn = null;

function post(msg) {
  self.postMessage(msg);
}

// Responses fetched ahead of Pyodide's own request (the lock file, numpy's wheel), so that the downloads
// overlap the runtime's boot: url -> Promise<{bytes, status, headers}>, each handed out once.
const prefetched = new Map();
const plainFetch = self.fetch.bind(self);

function prefetch(url, sri) {
  const got = plainFetch(url, sri ? { integrity: sri } : {}).then(async (r) => ({
    bytes: await r.arrayBuffer(), status: r.status, headers: [...r.headers],
  }));
  got.catch(() => {}); // a failed prefetch is simply fetched again when Pyodide asks for it
  prefetched.set(url, got);
  return got;
}

// fetch() that enforces Subresource Integrity for the pinned runtime files (cdn and local mode alike).
function pinnedFetch(integrity, baseURL) {
  const plain = plainFetch;
  return (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const early = prefetched.get(url);
    if (early) {
      prefetched.delete(url);
      return early.then((r) => new Response(r.bytes, { status: r.status, headers: r.headers }), () => pinnedFetch(integrity, baseURL)(input, init));
    }
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

// the lock's sha256 (hex) as an SRI string, the form Pyodide's own package fetch uses
function sha256SRI(hex) {
  return "sha256-" + btoa(String.fromCharCode(...hex.match(/../g).map((h) => parseInt(h, 16))));
}

// start downloading numpy (and whatever it depends on) now; Pyodide's loadPackage picks the bytes up later
async function prefetchNumpy(indexURL, integrity) {
  const lockURL = indexURL + "pyodide-lock.json";
  // Pyodide reads the lock too, at the start of loadPyodide: it gets these bytes (new Response() copies them)
  const lock = JSON.parse(new TextDecoder().decode((await prefetch(lockURL, integrity["pyodide-lock.json"])).bytes));
  const todo = ["numpy"], seen = new Set();
  while (todo.length) {
    const name = todo.pop();
    const entry = lock.packages[name];
    if (!entry || seen.has(name)) continue;
    seen.add(name);
    todo.push(...entry.depends);
    prefetch(new URL(entry.file_name, indexURL).href, sha256SRI(entry.sha256));
  }
}

async function hexDigest(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// The snapshot's Cache Storage entry, or null when there is no usable Cache Storage (e.g. an insecure
// context) or nothing to key it by. Keyed by version and the wasm's SRI; any other entry is an older build.
async function snapshotSlot(indexURL, integrity) {
  const wasm = integrity["pyodide.asm.wasm"];
  if (!wasm || typeof caches === "undefined") return null;
  try {
    const cache = await caches.open(SNAPSHOT_CACHE);
    const key = new URL(`pyodide-snapshot/${PYODIDE_VERSION}/${encodeURIComponent(wasm)}`, indexURL).href;
    for (const old of await cache.keys()) if (old.url !== key) await cache.delete(old);
    return { cache, key };
  } catch {
    return null;
  }
}

// the stored snapshot's bytes if they are intact (their sha256 is kept beside them), else null (and deleted)
async function readSnapshot(slot) {
  if (!slot) return null;
  try {
    const hit = await slot.cache.match(slot.key);
    if (!hit) return null;
    const bytes = new Uint8Array(await hit.arrayBuffer());
    if (bytes.length && (await hexDigest(bytes)) === hit.headers.get("x-snapshot-sha256")) return bytes;
  } catch {
    // unreadable: treated as corrupt
  }
  await dropSnapshot(slot);
  return null;
}

async function dropSnapshot(slot) {
  post({ type: "snapshot", event: "dropped" });
  try {
    await slot.cache.delete(slot.key);
  } catch {
    // nothing more to do: the next visit finds it unreadable again and loads plainly
  }
}

// Pyodide's loadPyodide, from the pinned (SRI-checked) runtime files
async function runtimeLoader(indexURL, integrity) {
  const asm = integrity["pyodide.asm.js"];
  if (asm) await importVerified(indexURL + "pyodide.asm.js", asm); // defines globalThis._createPyodideModule
  const { loadPyodide, version } = await importVerified(indexURL + "pyodide.mjs", integrity["pyodide.mjs"]);
  if (version !== PYODIDE_VERSION) throw new Error(`expected Pyodide ${PYODIDE_VERSION}, got ${version}`);
  return loadPyodide;
}

// The snapshot worker: a bare interpreter, the standard-library modules a restore should have, snapshot, store.
// Never fatal and never seen by the reader; the page terminates this worker when it reports.
async function makeSnapshot({ indexURL, integrity = {} }) {
  try {
    self.fetch = pinnedFetch(integrity, indexURL);
    const slot = await snapshotSlot(indexURL, integrity);
    if (!slot || (await slot.cache.match(slot.key))) return post({ type: "snapshot", event: "skipped" });
    const loadPyodide = await runtimeLoader(indexURL, integrity);
    pyodide = await quietly(() => loadPyodide({ indexURL, stdout: () => {}, stderr: () => {}, _makeSnapshot: true }), []);
    pyodide.runPython(SNAPSHOT_IMPORTS);
    await storeSnapshot(slot, pyodide.makeMemorySnapshot());
  } catch {
    post({ type: "snapshot", event: "failed" }); // e.g. "Unexpected hiwire entry": no warm start next time
  }
}

// store in the background (about 21 MB; quota or a full disk just means no warm start next time)
async function storeSnapshot(slot, bytes) {
  try {
    const headers = { "content-type": "application/octet-stream", "x-snapshot-sha256": await hexDigest(bytes) };
    await slot.cache.put(slot.key, new Response(bytes, { headers }));
    post({ type: "snapshot", event: "stored" });
  } catch {
    await dropSnapshot(slot);
  }
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

async function boot({ indexURL, integrity = {}, manifestURL, rootURL, snapshot = true }) {
  let stage = "runtime";
  const notes = [];
  try {
    post({ type: "stage", stage });
    self.fetch = pinnedFetch(integrity, indexURL);
    const sources = demoFiles(manifestURL, rootURL);
    sources.catch(() => {}); // awaited below; avoid an unhandled rejection meanwhile
    prefetchNumpy(indexURL, integrity).catch(() => {}); // loadPackage fetches for itself if this failed
    const slot = snapshot ? await snapshotSlot(indexURL, integrity) : null;
    const stored = readSnapshot(slot); // read (and check) while the runtime's JavaScript loads
    const loadPyodide = await runtimeLoader(indexURL, integrity);
    const saved = await stored;
    if (saved) post({ type: "stage", stage, source: "snapshot" });
    const options = { indexURL, stdout: () => {}, stderr: () => {} };
    if (saved) {
      try {
        pyodide = await quietly(() => loadPyodide({ ...options, _loadSnapshot: saved }), notes);
        pyodide.runPython(RESEED);
        post({ type: "snapshot", event: "restored" });
      } catch {
        // another build, or bytes Pyodide cannot use: forget them; a fresh worker loads plainly
        await dropSnapshot(slot);
        return post({ type: "restart" });
      }
    } else {
      if (slot) post({ type: "snapshot", event: "wanted" });
      pyodide = await quietly(() => loadPyodide(options), notes);
    }

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
  if (msg.type === "make-snapshot") return makeSnapshot(msg);
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
