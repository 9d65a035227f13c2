// Module Web Worker: boots Pyodide, installs numpy, loads the very files of demos/ that the build's manifest
// lists (demos/manifest.json: shared modules, each demo's demo.py, data files) and answers calls.
// numpy is installed from its wheel (checked against the lock's sha256) by unpacking it: its extension modules
// are compiled when Python imports them, not all 19 up front as loadPackage does.
// Warm start: once the first visit is live, a second, short-lived instance of this worker ("make-caches") makes
// what the visit missed and keeps it in the origin private file system (OPFS), off the first visit's critical path:
//   - a memory snapshot of a bare interpreter (before any package is loaded: Pyodide 0.27 cannot snapshot
//     loaded extension modules), keyed by the Pyodide version and the SRI hash of pyodide.asm.wasm; later visits
//     restore it instead of initialising Python;
//   - numpy's installed files with every module compiled (Pyodide does not write .pyc files), keyed by the
//     version and the wheel's sha256; later visits write them back instead of unpacking the wheel and compiling.
// Anything wrong with either (no OPFS, quota, other build, corrupt bytes) deletes it and loads plainly.
// Neither ever ships with the site: each browser makes its own.
// Protocol (all payloads are JSON strings, so nothing but strings crosses the boundary):
//   in : {type: "boot", indexURL, integrity: {file: "sha384-..."}, manifestURL, rootURL, snapshot: bool}
//        {type: "call", id, demo, fn, payload}    -> demos/<demo>/demo.py's <fn>(payload)
//        {type: "source", id, path, source}       -> replace the file at <path> and re-import demos.*
//        {type: "make-caches", indexURL, integrity}  (a separate worker) make and store what is missing
//   out: {type: "stage", stage, source?}           stage: runtime | numpy | code | live;
//                                                  source: "snapshot" when the runtime is restored from cache
//        {type: "snapshot" | "packages", event}    event: wanted (a miss: make one once live) | stored |
//                                                  restored | dropped | failed | skipped
//        {type: "done"}                            the helper has stored what it could
//        {type: "restart"}                         a restored snapshot (or package files) failed inside Pyodide:
//                                                  start a fresh worker without them (the entry is already deleted)
//        {type: "progress", file, bytes}              a runtime file arrived (bytes: its size), for the status line
//        {type: "boot-error", stage, message}
//        {type: "result", id, ok, value | error, ms}   ms: time spent in Python
// Runs only in the worker: code a reader edits never touches the page.

const PYODIDE_VERSION = "0.27.7";
const HOME = "/home/pyodide";
// Directory listings the import system keeps (written files must be seen). importlib.invalidate_caches() would
// also re-read the standard library zip's directory once per zipimporter (70 ms in Node), for nothing.
const FORGET_LISTINGS = `
import importlib.machinery, sys
def _forget_listings():
    for finder in list(sys.path_importer_cache.values()):
        if isinstance(finder, importlib.machinery.FileFinder):
            finder.invalidate_caches()
`;
const BOOTSTRAP = `
import importlib, json, sys, traceback
if ${JSON.stringify(HOME)} not in sys.path:
    sys.path.insert(0, ${JSON.stringify(HOME)})

def _import_registry():
    for name in [m for m in sys.modules if m == "demos" or m.startswith("demos.")]:
        del sys.modules[name]
    _forget_listings()
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

// after a restore, Python's state is the snapshot's: reseed what would otherwise repeat on every visit
const RESEED = "import random; random.seed()";
// Standard-library modules imported before the snapshot is taken, so a restore has them already: Pyodide 0.27's
// standard library is sources (python312.zip holds .py files), and a module first imported after the restore is
// compiled on every visit. Those of Pyodide's package loader, of `import numpy` (ctypes and __future__ among
// them), of the bootstrap below and of the demos (dataclasses, hashlib, hmac, secrets: found by listing
// sys.modules after each step in Node). Measured in Node, 6 alternated restores each: restore + numpy + import,
// median 2.46 s with the first list vs 2.83 s without. (numpy itself cannot be in the snapshot in Pyodide 0.27.)
const SNAPSHOT_IMPORTS = "import pyodide._package_loader, zipfile, tarfile, shutil, sysconfig, base64, email.parser, " +
  "ast, collections.abc, contextvars, datetime, dis, inspect, linecache, math, numbers, opcode, pickle, platform, " +
  "struct, textwrap, tokenize, typing, weakref, json, importlib, traceback, random, pathlib, re, functools, warnings, " +
  "enum, ctypes, __future__, dataclasses, hashlib, hmac, secrets";

let pyodide = null;
let callFn = null;
let reloadFn = null;

function post(msg) {
  self.postMessage(msg);
}

// Responses read ahead of Pyodide's own request (the lock file, which the worker reads too), so that the download
// overlaps the runtime's boot: url -> Promise<{bytes, status, headers}>, each handed out once.
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

// Requests made ahead of Pyodide's own (the runtime's wasm and standard library), handed out once as they are:
// the wasm's very Response, so that its streaming compile still finds the browser's code cache.
const requested = new Map();

function request(url, sri) {
  const response = reportSize(plainFetch(url, sri ? { integrity: sri } : {}), url);
  response.catch(() => {}); // a failed early request is simply made again when Pyodide asks for it
  requested.set(url, response);
}

// fetch() that enforces Subresource Integrity for the pinned runtime files (cdn and local mode alike).
function pinnedFetch(integrity, baseURL) {
  const plain = plainFetch;
  return (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const made = requested.get(url);
    if (made) {
      requested.delete(url);
      return made.catch(() => pinnedFetch(integrity, baseURL)(input, init));
    }
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

// import() cannot carry an integrity attribute: fetch with integrity, then import the verified bytes (as a blob
// URL). Returns what to import: that URL, or the plain one when there is no pinned hash.
// A self-hosted runtime comes from the page's own origin, which SRI cannot guard against: import it by its URL,
// so that the browser's code cache for it is used (a blob URL compiles its 1.2 MB afresh on every visit).
async function verifiedModule(url, sri) {
  if (!sri || new URL(url).origin === self.location.origin) return url;
  const response = await self.fetch(url, { integrity: sri }); // self.fetch is pinnedFetch: reports the size
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return URL.createObjectURL(new Blob([await response.text()], { type: "text/javascript" }));
}

async function importModule(source) {
  const url = await source;
  try {
    return await import(url);
  } finally {
    if (url.startsWith("blob:")) URL.revokeObjectURL(url);
  }
}

async function fetchBytes(url, init = {}) {
  const response = await fetch(url, init);
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

// The packages the demos import (numpy and whatever it depends on, from the lock): [{name, url, sri}]. The lock
// is fetched now; Pyodide reads it too, at the start of loadPyodide, and gets these bytes (new Response() copies them).
async function packageList(indexURL, integrity, wanted = ["numpy"]) {
  const lockURL = indexURL + "pyodide-lock.json";
  const lock = JSON.parse(new TextDecoder().decode((await prefetch(lockURL, integrity["pyodide-lock.json"])).bytes));
  const todo = [...wanted], seen = new Set(), out = [];
  while (todo.length) {
    const name = todo.pop();
    const entry = lock.packages[name];
    if (!entry || seen.has(name)) continue;
    seen.add(name);
    todo.push(...entry.depends);
    out.push({ name, url: new URL(entry.file_name, indexURL).href, sri: sha256SRI(entry.sha256), sha256: entry.sha256 });
  }
  return out;
}

// a package's wheel, checked against the lock's sha256 (the check Pyodide's loadPackage makes); fetch is
// pinnedFetch here, which reports its size for the status line
function wheelBytes(pkg) {
  return fetchBytes(pkg.url, { integrity: pkg.sri });
}

// A stored entry's checksum, 8 bytes: against bytes that changed on disk or were cut short (nothing else can
// write an origin's private files but that origin's own scripts, so a cryptographic digest buys nothing here), and
// fast: in Chromium 21 + 17 MB take 17 + 6 ms (the first call includes V8 optimising it), where SHA-256 took
// 30 + 24 ms on the warm start's critical path. The payload, padded with zeros to a multiple of 8 bytes, is read
// as little-endian 32-bit words; lane a takes the even words (seed 0), lane b the odd ones (seed 0x9747b28c),
// each word mixed in as MurmurHash3 (x86, 32-bit) mixes its blocks; each lane is finalised as MurmurHash3
// finalises, with the payload's length in bytes; a then b, little-endian. tests/entry_checksum.py is the
// reference the browser tests hold this to.
function checksum(bytes) {
  const data = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice(); // an Int32Array view needs 4-byte alignment
  const whole = data.length >>> 3;
  const words = new Int32Array(data.buffer, data.byteOffset, 2 * whole); // little-endian on every browser's CPU
  let a = 0, b = 0x9747b28c;
  for (let i = 0; i < words.length; i += 2) {
    a = murmurBlock(a, words[i]);
    b = murmurBlock(b, words[i + 1]);
  }
  if (data.length % 8) {
    const last = new Uint8Array(8);
    last.set(data.subarray(8 * whole));
    const tail = new Int32Array(last.buffer);
    a = murmurBlock(a, tail[0]);
    b = murmurBlock(b, tail[1]);
  }
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, murmurFinal(a ^ data.length), true);
  view.setUint32(4, murmurFinal(b ^ data.length), true);
  return out;
}

function murmurBlock(h, k) {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function murmurFinal(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// Stored entries are files in the origin private file system (OPFS), in one directory, read and written with
// synchronous access handles (dedicated workers only): a 21 MB file is read in about 20 ms, where Cache Storage
// took 50 ms idle and up to 200 ms beside the page's load, on the warm start's critical path. Each file holds
// the payload, then its checksum (8 bytes). Entries of older builds (another name of the same kind) are deleted,
// and so are those of an older format: the file name ends with the format (names without it ended with a SHA-256).
const STORE_DIR = "pyodide-demos";
const STORE_FORMAT = "v2";
const CHECKSUM_BYTES = 8;
const OLD_CACHES = ["pyodide-snapshot", "pyodide-packages"]; // where earlier builds kept them (Cache Storage)

// The file for one kind of entry ("snapshot" | "packages", the name the page's marks use) of this build, or null
// when there is no usable OPFS (e.g. an insecure context) or nothing to name it by.
async function storeSlot(kind, id) {
  if (!id || !self.navigator.storage || !self.navigator.storage.getDirectory) return null;
  try {
    const root = await self.navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle(STORE_DIR, { create: true });
    const name = `${kind}-${PYODIDE_VERSION}-${id}.${STORE_FORMAT}`;
    for await (const other of dir.keys()) {
      if (other.startsWith(`${kind}-`) && other !== name) await dir.removeEntry(other).catch(() => {});
    }
    return { dir, name, kind };
  } catch {
    return null;
  }
}

// the memory snapshot: named by the runtime's version and the wasm's SRI (base64url: no "/" in a file name)
function snapshotSlot(integrity) {
  const wasm = integrity["pyodide.asm.wasm"];
  return storeSlot("snapshot", wasm && wasm.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));
}

// the installed packages: named by the runtime's version and each wheel's sha256 (from the lock)
function packagesSlot(pkgs) {
  return storeSlot("packages", pkgs.map((pkg) => `${pkg.name}-${pkg.sha256}`).join("+"));
}

// an entry's file opened for reading or writing, or null if it is missing or in use (another tab's worker)
async function openEntry(slot, create = false) {
  try {
    const file = await slot.dir.getFileHandle(slot.name, { create });
    return await file.createSyncAccessHandle();
  } catch {
    return null;
  }
}

async function hasEntry(slot) {
  const handle = await openEntry(slot);
  if (!handle) return false;
  try {
    return handle.getSize() > CHECKSUM_BYTES;
  } finally {
    handle.close();
  }
}

// a stored entry's payload if it is intact (its checksum matches), else null (and deleted; missing or in use: null)
async function readEntry(slot) {
  if (!slot) return null;
  const handle = await openEntry(slot);
  if (!handle) return null;
  let bytes = null;
  try {
    bytes = new Uint8Array(handle.getSize());
    if (handle.read(bytes, { at: 0 }) !== bytes.length) bytes = null;
  } catch {
    bytes = null; // unreadable: treated as corrupt
  } finally {
    handle.close();
  }
  if (bytes && bytes.length > CHECKSUM_BYTES) {
    const payload = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
    const sum = checksum(payload);
    if (sum.every((b, i) => b === bytes[payload.length + i])) return payload;
  }
  await dropEntry(slot);
  return null;
}

async function dropEntry(slot) {
  post({ type: slot.kind, event: "dropped" });
  try {
    await slot.dir.removeEntry(slot.name);
  } catch {
    // in use or gone: the next visit finds it unreadable again and loads plainly
  }
}

// store in the background (quota or a full disk just means no warm start next time)
async function storeEntry(slot, bytes) {
  const handle = await openEntry(slot, true);
  try {
    if (!handle) throw new Error("in use");
    const sum = checksum(bytes);
    handle.truncate(0);
    if (handle.write(bytes, { at: 0 }) !== bytes.length || handle.write(sum, { at: bytes.length }) !== CHECKSUM_BYTES)
      throw new Error("short write");
    handle.flush();
    handle.close();
    post({ type: slot.kind, event: "stored" });
  } catch {
    if (handle) handle.close();
    await dropEntry(slot);
  }
}

// Installed files as one uncompressed blob: [u32 LE: n][n bytes of JSON [[path, size], ...]][the files' bytes]
function packFiles(files) {
  const header = new TextEncoder().encode(JSON.stringify(files.map(([path, data]) => [path, data.length])));
  const out = new Uint8Array(4 + header.length + files.reduce((n, [, data]) => n + data.length, 0));
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  let at = 4 + header.length;
  for (const [, data] of files) {
    out.set(data, at);
    at += data.length;
  }
  return out;
}

// the inverse of packFiles: [[path, bytes], ...]; throws on anything packFiles did not write
function unpackFiles(blob) {
  const n = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0, true);
  const index = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(blob.subarray(4, 4 + n)));
  let at = 4 + n;
  const files = index.map(([path, size]) => {
    if (typeof path !== "string" || !path.startsWith("/lib/") || path.includes("..") || !Number.isInteger(size) || size < 0)
      throw new Error("not a package blob");
    const data = blob.subarray(at, at + size);
    at += size;
    return [path, data];
  });
  if (at !== blob.length) throw new Error("not a package blob");
  return files;
}

function sitePackages() {
  return pyodide.runPython("import site; site.getsitepackages()[0]");
}

function filesUnder(dir) {
  return JSON.parse(pyodide.runPython(`import json, os
json.dumps([os.path.join(d, f) for d, _, fs in os.walk(${JSON.stringify(dir)}) for f in fs])`));
}

// Install from the wheels: unpack; the extension modules are compiled when Python first imports them (the
// worker may compile synchronously), so numpy's test, fft and lapack_lite modules cost nothing until used
// (loadPackage compiles all 19 of numpy's at once).
async function installWheels(wheels) {
  const dir = sitePackages();
  for (const wheel of wheels) pyodide.unpackArchive(await wheel, "wheel", { extractDir: dir });
}

// canOwn: each file keeps its slice of the blob instead of a copy (17 MB copied took 160 ms in Chromium)
function installFiles(files) {
  const made = new Set();
  for (const [path, data] of files) {
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (!made.has(dir)) {
      pyodide.FS.mkdirTree(dir);
      made.add(dir);
    }
    pyodide.FS.writeFile(path, data, { canOwn: true });
  }
  pyodide.runPython(FORGET_LISTINGS + "_forget_listings()");
}

// Pyodide sets sys.dont_write_bytecode, so each visit compiled numpy's ~90 imported modules again. The stored
// copy holds every module compiled, as unchecked-hash .pyc (no source mtime to match: the files are rewritten
// on every visit); a new wheel means a new cache key.
const COMPILE = `
import py_compile
def _compile(paths):
    for path in paths:
        try:
            py_compile.compile(path, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        except py_compile.PyCompileError:
            pass   # imported from source, as without the cache
`;

// The packages, installed and compiled in this (helper) interpreter, as the blob a later visit writes back
async function storePackages(slot, pkgs) {
  const dir = sitePackages();
  const before = new Set(filesUnder(dir));
  await installWheels(pkgs.map(wheelBytes));
  pyodide.runPython(COMPILE);
  const compile = pyodide.globals.get("_compile");
  compile(filesUnder(dir).filter((path) => path.endsWith(".py") && !before.has(path)));
  compile.destroy();
  const files = filesUnder(dir).filter((path) => !before.has(path)).sort();
  await storeEntry(slot, packFiles(files.map((path) => [path, pyodide.FS.readFile(path)])));
}

// Pyodide's loadPyodide, from the pinned (SRI-checked) runtime files, both downloaded at once
async function runtimeLoader(indexURL, integrity) {
  const asm = integrity["pyodide.asm.js"];
  const asmSource = asm ? verifiedModule(indexURL + "pyodide.asm.js", asm) : null;
  const mjsSource = verifiedModule(indexURL + "pyodide.mjs", integrity["pyodide.mjs"]);
  mjsSource.catch(() => {}); // awaited below
  // pyodide.asm.js defines globalThis._createPyodideModule, which loadPyodide (not the import) needs
  const [, { loadPyodide, version }] = await Promise.all([asmSource && importModule(asmSource), importModule(mjsSource)]);
  if (version !== PYODIDE_VERSION) throw new Error(`expected Pyodide ${PYODIDE_VERSION}, got ${version}`);
  return loadPyodide;
}

// The helper worker: what the last visit missed — the snapshot (a bare interpreter with the standard-library
// modules a restore should have) and the installed, compiled packages — made and stored. Never fatal and never
// seen by the reader; the page terminates this worker when it says "done".
async function makeCaches({ indexURL, integrity = {} }) {
  try {
    self.fetch = pinnedFetch(integrity, indexURL);
    const pkgs = await packageList(indexURL, integrity).catch(() => []);
    if (typeof caches !== "undefined") for (const name of OLD_CACHES) await caches.delete(name).catch(() => {});
    const slot = await snapshotSlot(integrity);
    const pslot = await packagesSlot(pkgs);
    const needSnapshot = Boolean(slot && !(await hasEntry(slot)));
    const needPackages = Boolean(pslot && !(await hasEntry(pslot)));
    if (!needSnapshot) post({ type: "snapshot", event: "skipped" });
    if (!needPackages) post({ type: "packages", event: "skipped" });
    if (!needSnapshot && !needPackages) return;
    const loadPyodide = await runtimeLoader(indexURL, integrity);
    const options = { indexURL, stdout: () => {}, stderr: () => {}, _makeSnapshot: needSnapshot };
    pyodide = await quietly(() => loadPyodide(options), []);
    if (needSnapshot) {
      try {
        pyodide.runPython(SNAPSHOT_IMPORTS);
        await storeEntry(slot, pyodide.makeMemorySnapshot());
      } catch {
        post({ type: "snapshot", event: "failed" }); // e.g. "Unexpected hiwire entry": no warm start next time
      }
    }
    if (needPackages) {
      try {
        await storePackages(pslot, pkgs);
      } catch {
        post({ type: "packages", event: "failed" });
      }
    }
  } catch {
    post({ type: "snapshot", event: "failed" });
  } finally {
    post({ type: "done" });
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
    const pkgList = packageList(indexURL, integrity); // fetches the lock, which loadPyodide reads too
    pkgList.catch(() => {}); // awaited below
    // what loadPyodide fetches once the runtime's JavaScript has loaded: asked for now, alongside it
    for (const file of ["pyodide.asm.wasm", "python_stdlib.zip"]) request(indexURL + file, integrity[file]);
    const loader = runtimeLoader(indexURL, integrity);
    loader.catch(() => {}); // awaited below
    const slot = snapshot ? await snapshotSlot(integrity) : null;
    const stored = readEntry(slot); // read (and check) while the runtime's JavaScript loads
    // numpy: the installed files a helper stored after an earlier visit, else the wheels (downloaded now,
    // overlapping the boot)
    const packages = pkgList.then(async (pkgs) => {
      const pslot = snapshot ? await packagesSlot(pkgs) : null;
      const blob = await readEntry(pslot);
      if (blob) {
        try {
          return { slot: pslot, files: unpackFiles(blob) };
        } catch {
          await dropEntry(pslot);
        }
      }
      const wheels = pkgs.map(wheelBytes);
      wheels.forEach((w) => w.catch(() => {})); // awaited below
      return { slot: pslot, wheels };
    });
    packages.catch(() => {}); // awaited below
    const loadPyodide = await loader;
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
        await dropEntry(slot);
        return post({ type: "restart" });
      }
    } else {
      if (slot) post({ type: "snapshot", event: "wanted" });
      pyodide = await quietly(() => loadPyodide(options), notes);
    }

    stage = "numpy";
    post({ type: "stage", stage });
    const installed = await packages;
    if (installed.files) {
      try {
        installFiles(installed.files);
        pyodide.runPython("import numpy");
        post({ type: "packages", event: "restored" });
      } catch {
        await dropEntry(installed.slot);
        return post({ type: "restart" });
      }
    } else {
      if (installed.slot) post({ type: "packages", event: "wanted" });
      await installWheels(installed.wheels);
      pyodide.runPython("import numpy");
    }

    stage = "code";
    post({ type: "stage", stage });
    for (const [path, data] of await sources) writeFile(path, data);
    pyodide.runPython(FORGET_LISTINGS + BOOTSTRAP);
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
  if (msg.type === "make-caches") return makeCaches(msg);
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
