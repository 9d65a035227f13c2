// Demo state in the URL hash, shareable: #demo-NAME=<value>&demo-OTHER=<value>.
// A hash that is an ordinary anchor (#ref-3, #eq-1) is left alone.

function entries() {
  const hash = location.hash.slice(1);
  if (!hash.startsWith("demo-")) return new Map();
  const map = new Map();
  for (const part of hash.split("&")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.startsWith("demo-")) map.set(part.slice(5, eq), part.slice(eq + 1));
  }
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

export function writeHashState(name, value) {
  const map = entries();
  map.set(name, encodeURIComponent(value).replace(/%2C/g, ",").replace(/%3A/g, ":").replace(/%3B/g, ";"));
  const hash = [...map].map(([k, v]) => `demo-${k}=${v}`).join("&");
  history.replaceState(history.state, "", `${location.pathname}${location.search}#${hash}`);
}

// The URL of this page that opens demo NAME with state VALUE (only that demo's entry in the hash);
// with no value, the demo's plain anchor (#demo-NAME: its default setup).
export function setupURL(name, value) {
  const base = `${location.origin}${location.pathname}${location.search}`;
  if (value === null || value === undefined) return `${base}#demo-${name}`;
  return `${base}#demo-${name}=${encodeURIComponent(value).replace(/%2C/g, ",").replace(/%3A/g, ":").replace(/%3B/g, ";")}`;
}
