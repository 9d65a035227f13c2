// Entry point of the live demos: one shared Python runtime (worker.mjs) per page, started when the
// first demo comes near the viewport or is touched, or at once when the page is opened at a demo (#demo-NAME)
// or reloaded (or returned to through the history) with one in view.
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

// the page's runtime settings (sitegen/pipeline.py demo_runtime), in <head>: readable before the body is parsed
function runtimeSettings() {
  const node = document.getElementById("demo-runtime");
  const cfg = node ? JSON.parse(node.textContent) : {};
  const here = new URL(import.meta.url);
  const root = new URL(cfg.root || "./", document.baseURI);
  const indexURL = new URL(cfg.index || "pyodide/", root).href; // absolute: the worker has another base URL
  return {
    root,
    runtime: {
      mode: cfg.mode || "local",
      indexURL: indexURL.endsWith("/") ? indexURL : indexURL + "/",
      integrity: cfg.integrity || {},
      rootURL: root.href,
      manifestURL: new URL(`${cfg.manifest || "demos/manifest.json"}${here.search}`, root).href,
      workerURL: new URL(`./worker.mjs${here.search}`, here).href,
    },
  };
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

// Save-Data, a slow or a cellular connection: the reader chooses to download the runtime (the status line
// offers it, with its size); nothing starts it by itself.
export function metered(connection = navigator.connection) {
  if (!connection) return false;
  return Boolean(connection.saveData) || ["slow-2g", "2g", "3g"].includes(connection.effectiveType)
    || connection.type === "cellular";
}

// sessionStorage (this tab): was a demo near the viewport when the reader left this page?
const IN_VIEW_KEY = "demo-in-view:";

function returningToADemo() {
  try {
    const type = performance.getEntriesByType("navigation")[0]?.type;
    const returning = type === "reload" || type === "back_forward";
    return returning && sessionStorage.getItem(IN_VIEW_KEY + location.pathname) === "1";
  } catch {
    return false; // storage switched off: start on scroll, as for a first visit
  }
}

function rememberDemoInView(inView) {
  try {
    sessionStorage.setItem(IN_VIEW_KEY + location.pathname, inView ? "1" : "0");
  } catch {
    // storage switched off or full: the next visit starts on scroll
  }
}

function main() {
  let settings;
  try {
    settings = runtimeSettings();
  } catch {
    return; // no usable settings: the figures stay the static build-time ones
  }
  const runtime = new Runtime(settings.runtime);
  runtime.askFirst = metered();
  const start = () => { if (!runtime.askFirst) runtime.start(); };
  // A link to a demo (#demo-NAME, or a shared setup #demo-NAME=...): the reader came for it, so Python starts now,
  // while the page is still being parsed and laid out, instead of when the figure comes into view.
  // The same for a reload, or a return through the history, of a page this tab left with a demo in view: the
  // browser restores that scroll position, but only once the page is laid out.
  if (/^#demo-[a-z]/.test(location.hash) || returningToADemo()) start();
  const margin = 600;
  const near = (f) => {
    const r = f.getBoundingClientRect(); // all zero for a figure not rendered (e.g. hidden at this depth)
    return (r.width > 0 || r.height > 0) && r.bottom > -margin && r.top < innerHeight + margin;
  };
  const mountAll = () => {
    const figures = [...document.querySelectorAll("figure.demo[data-demo][data-view]")];
    for (const figure of figures) mountOne(figure, runtime, start, settings.root);
    // the observer's rule, checked once now: its first report comes only after the page's first paint (on the long
    // chapter, a third of a second later); asking for the figures' boxes lays the page out now instead
    if (figures.some(near)) start();
    addEventListener("pagehide", () => rememberDemoInView(figures.some(near)));
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
  // async script: it may run before the body is parsed; the figures are mounted once it is
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll, { once: true });
  else mountAll();
}

main();
