// Demo state in the URL hash, shareable: #demo-NAME=<value>&demo-OTHER=<value>.
// A hash that is an ordinary anchor (#ref-3, #eq-1) is left alone.

// history.replaceState costs milliseconds (more on a busy machine) and Chromium throttles it (about 200 calls
// per 10 s, then a console warning): during a slider drag the URL is written at most every HASH_WRITE_MS, off the
// input -> chart path. Reads see the pending value at once.
const HASH_WRITE_MS = 150;
const pending = new Map(); // name -> encoded value not yet in the URL
let writeTimer = 0;

function entries() {
  const hash = location.hash.slice(1);
  const map = new Map();
  if (hash.startsWith("demo-")) {
    for (const part of hash.split("&")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.startsWith("demo-")) map.set(part.slice(5, eq), part.slice(eq + 1));
    }
  }
  for (const [name, value] of pending) map.set(name, value);
  return map;
}

export function readHashState(name) {
  const value = entries().get(name);
  if (value === undefined) return null;
  try {
    return decodeURIComponent(value);
  } catch {
    return "\u0000"; // undecodable: the parser rejects it and the demo shows its defaults with a note
  }
}

// a value as it appears in the hash: percent-encoded, but with "," ":" ";" kept readable
function encode(value) {
  return encodeURIComponent(value).replace(/%2C/g, ",").replace(/%3A/g, ":").replace(/%3B/g, ";");
}

export function writeHashState(name, value) {
  pending.set(name, encode(value));
  if (!writeTimer) writeTimer = setTimeout(flushHashState, HASH_WRITE_MS);
}

// put the pending values into the URL now (also when the page is left, so history keeps the last state)
export function flushHashState() {
  clearTimeout(writeTimer);
  writeTimer = 0;
  if (!pending.size) return;
  const map = entries();
  pending.clear();
  const hash = [...map].map(([k, v]) => `demo-${k}=${v}`).join("&");
  history.replaceState(history.state, "", `${location.pathname}${location.search}#${hash}`);
}

if (typeof addEventListener === "function") addEventListener("pagehide", flushHashState); // (not in Node: the build imports views)

// The URL of this page that opens demo NAME with state VALUE (only that demo's entry in the hash);
// with no value, the demo's plain anchor (#demo-NAME: its default setup).
export function setupURL(name, value) {
  const base = `${location.origin}${location.pathname}${location.search}`;
  if (value === null || value === undefined) return `${base}#demo-${name}`;
  return `${base}#demo-${name}=${encode(value)}`;
}

// A number from a hash value, checked against its LIMITS entry {min, max, integer}; Error naming `key` if not.
export function limitedNumber(key, text, spec) {
  const n = Number(text);
  if (text === "" || !Number.isFinite(n) || n < spec.min || n > spec.max || (spec.integer && !Number.isInteger(n))) {
    throw new Error(`${key} must be between ${spec.min} and ${spec.max}`);
  }
  return n;
}
