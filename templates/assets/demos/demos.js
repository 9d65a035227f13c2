// Entry point of the live demos: one shared Python runtime (worker.mjs) per page, started when the
// first demo comes near the viewport or is touched, or at once when the page is opened at a demo (#demo-NAME)
// or reloaded (or returned to through the history) with one in view: start.js, which runs before this module,
// makes that decision and starts the worker; the Runtime here takes it over.
// Each <figure class="demo" data-demo=NAME data-view=URL> is mounted by its own view module (demos/NAME/view.mjs,
// served as assets/demos/NAME.mjs), imported on demand: there is no list of demos here. Nothing here throws to
// the console: failures end up in the figures.
import { Runtime } from "./runtime.js";

function readJSON(figure, selector, fallback) {
  const node = figure.querySelector(selector);
  if (!node) return fallback;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return fallback;
  }
}

async function mountOne(figure, runtime, start, root) {
  const here = new URL(import.meta.url);
  try {
    const view = await import(new URL(`${figure.dataset.view}${here.search}`, root).href);
    figure.classList.add("js");
    view.mount(figure, runtime, readJSON(figure, ".demo-initial", {}));
  } catch (err) {
    figure.dataset.state = "error";
    const note = figure.querySelector(".demo-note");
    if (note) {
      note.textContent = `This demo could not start (${(err && err.message) || err}); the figure shows its build-time numbers.`;
      note.hidden = false;
    }
    return;
  }
  figure.addEventListener("pointerdown", start, { once: true });
  figure.addEventListener("focusin", start, { once: true });
}

// start.js (a classic async script before this module in <head>) has read the page's runtime settings and decided
// whether Python starts at once (and started it if so); async scripts run in the order they arrive, so wait for it
// if it has not run yet. Resolves to window.demoStart, or null if start.js could not load.
function startDecision() {
  if (window.demoStart) return Promise.resolve(window.demoStart);
  const script = document.querySelector('script[src*="assets/demos/start.js"]');
  if (!script) return Promise.resolve(null);
  return new Promise((resolve) => {
    script.addEventListener("load", () => resolve(window.demoStart || null), { once: true });
    script.addEventListener("error", () => resolve(null), { once: true });
  });
}

// resolves once the body is parsed (this module is async: it may run before)
function bodyParsed() {
  if (document.readyState !== "loading") return Promise.resolve();
  return new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve, { once: true }));
}

async function main() {
  const parsed = bodyParsed(); // listening from now: the figures are mounted in DOMContentLoaded's own task
  const decided = await startDecision();
  if (!decided || !decided.settings) return; // no usable settings: the figures stay the static build-time ones
  const runtime = new Runtime(decided.settings.runtime, decided.bootMessage);
  runtime.askFirst = decided.askFirst;
  const start = () => { if (!runtime.askFirst) runtime.start(); };
  // the reader came for a demo (a link to one, or a reload with one in view): start.js started Python already;
  // if it could not, start (and report) it here
  if (decided.early) runtime.adopt(decided.early);
  else if (decided.startNow) start();
  const margin = 600;
  const near = (f) => {
    const r = f.getBoundingClientRect(); // all zero for a figure not rendered (e.g. hidden at this depth)
    return (r.width > 0 || r.height > 0) && r.bottom > -margin && r.top < innerHeight + margin;
  };
  const mountAll = () => {
    const figures = [...document.querySelectorAll("figure.demo[data-demo][data-view]")];
    for (const figure of figures) mountOne(figure, runtime, start, decided.settings.root);
    // the observer's rule, checked once now: its first report comes only after the page's first paint (on the long
    // chapter, a third of a second later); asking for the figures' boxes lays the page out now instead
    if (figures.some(near)) start();
    addEventListener("pagehide", () => decided.rememberDemoInView(figures.some(near)));
    if ("IntersectionObserver" in window) {
      const io = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          io.disconnect();
          start();
        }
      }, { rootMargin: `${margin}px 0px` });
      figures.forEach((f) => io.observe(f));
    }
  };
  await parsed;
  mountAll();
}

main();
