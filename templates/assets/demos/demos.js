// Entry point of the live demos: one shared Python runtime (worker.mjs) per page, started when the
// first demo comes near the viewport or is touched. Each <figure class="demo" data-demo=NAME data-view=URL>
// is mounted by its own view module (demos/NAME/view.mjs, served as assets/demos/NAME.mjs), imported on demand:
// there is no list of demos here. Nothing here throws to the console: failures end up in the figures.
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

function rootURL(figure) {
  return new URL(figure.dataset.root || "./", document.baseURI);
}

function runtimeConfig(figure) {
  const here = new URL(import.meta.url);
  const root = rootURL(figure);
  const index = figure.dataset.pyodideIndexUrl || "pyodide/";
  const indexURL = new URL(index, root).href; // absolute: the worker has another base URL
  return {
    mode: figure.dataset.pyodideMode || "local",
    indexURL: indexURL.endsWith("/") ? indexURL : indexURL + "/",
    integrity: readJSON(figure, ".demo-integrity", {}),
    rootURL: root.href,
    manifestURL: new URL(`${figure.dataset.manifest || "demos/manifest.json"}${here.search}`, root).href,
    workerURL: new URL(`./worker.mjs${here.search}`, here).href,
  };
}

async function mountOne(figure, runtime, start) {
  const here = new URL(import.meta.url);
  try {
    const view = await import(new URL(`${figure.dataset.view}${here.search}`, rootURL(figure)).href);
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

function main() {
  const figures = [...document.querySelectorAll("figure.demo[data-demo][data-view]")];
  if (!figures.length) return;
  const runtime = new Runtime(runtimeConfig(figures[0]));
  runtime.askFirst = metered();
  const start = () => { if (!runtime.askFirst) runtime.start(); };
  for (const figure of figures) mountOne(figure, runtime, start);
  if ("IntersectionObserver" in window) {
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        io.disconnect();
        start();
      }
    }, { rootMargin: "600px 0px" });
    figures.forEach((f) => io.observe(f));
  }
}

main();
