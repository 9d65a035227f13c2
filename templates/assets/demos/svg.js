// Tiny helpers for the demos' drawing (no library). Two halves:
//  * markup strings (tag, esc, ...) for the views' pure render(state) -> string, which runs in Node at build
//    time (the first frame) and in the browser (every live frame): one renderer per chart;
//  * DOM helpers (el) for the few nodes a view builds outside its chart.
const SVG_NS = "http://www.w3.org/2000/svg";

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
export const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ESC[c]);

const round = (v) => String(Math.round(v * 100) / 100);

// <name a="1" ...>children</name>; numbers are rounded to 0.01, children are markup strings (already escaped)
export function tag(name, attrs = {}, ...children) {
  let out = `<${name}`;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    out += ` ${k}="${typeof v === "number" ? round(v) : esc(v)}"`;
  }
  const body = children.flat(Infinity).join("");
  return body ? `${out}>${body}</${name}>` : `${out}/>`;
}

// a text node: tag("text", attrs, esc(string))
export const text = (attrs, string) => tag("text", attrs, esc(string));

export function svgRoot(width, height, label, ...children) {
  return tag("svg", { xmlns: SVG_NS, viewBox: `0 0 ${width} ${height}`, class: "demo-svg", role: "img", "aria-label": label }, ...children);
}

// labels at wanted y positions, moved apart so that no two are closer than `gap` (order kept)
export function spread(ys, gap, lo = -Infinity, hi = Infinity) {
  const order = ys.map((y, i) => [y, i]).sort((a, b) => a[0] - b[0]);
  const out = new Array(ys.length);
  let prev = -Infinity;
  for (const [y, i] of order) {
    const v = Math.max(y, prev + gap, lo);
    out[i] = v;
    prev = v;
  }
  // pushed past the bottom: shift the run back up
  const over = Math.max(0, ...out) - hi;
  return over > 0 ? out.map((v) => v - over) : out;
}

export function el(tagName, attrs = {}, content) {
  const node = document.createElement(tagName);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (content !== undefined) node.textContent = content;
  return node;
}

// linear scale [d0, d1] -> [r0, r1]
export function scale(d0, d1, r0, r1) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

// +1.23 / −1.23 / 0.00 (a true minus sign)
export function signed(x, digits = 2) {
  const s = Math.abs(x) < 0.5 * 10 ** -digits ? (0).toFixed(digits) : Math.abs(x).toFixed(digits);
  return (x > 0 && s !== (0).toFixed(digits) ? "+" : x < 0 && s !== (0).toFixed(digits) ? "\u2212" : "") + s;
}

export function formatBytes(bytes) {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}
