// Tiny DOM/SVG helpers for the demos' drawing (no library).
const SVG_NS = "http://www.w3.org/2000/svg";

export function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, typeof v === "number" ? round(v) : v);
  return node;
}

const round = (v) => String(Math.round(v * 100) / 100);

// linear scale [d0, d1] -> [r0, r1]
export function scale(d0, d1, r0, r1) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

export function signed(x, digits = 2) {
  const s = Math.abs(x) < 0.5 * 10 ** -digits ? (0).toFixed(digits) : Math.abs(x).toFixed(digits);
  return (x > 0 && s !== (0).toFixed(digits) ? "+" : x < 0 && s !== (0).toFixed(digits) ? "\u2212" : "") + s;
}

export function formatBytes(bytes) {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}
