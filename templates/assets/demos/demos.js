// Entry point of the live demos: one shared Python runtime (worker.mjs) per page, started when the
// first demo comes near the viewport or is touched; each <figure class="demo" data-demo=NAME> is
// mounted by its module. Nothing here throws to the console: failures end up in the figures.
import { Runtime } from "./runtime.js";
import { mountGroupAdvantage } from "./group-advantage.js";
import { mountMemory } from "./memory.js";
import { mountPolicyDynamics } from "./policy-dynamics.js";

const MOUNTS = {
  "group-advantage": mountGroupAdvantage,
  memory: mountMemory,
  "policy-dynamics": mountPolicyDynamics,
};

function readJSON(figure, selector, fallback) {
  const node = figure.querySelector(selector);
  if (!node) return fallback;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return fallback;
  }
}

function runtimeConfig(figure) {
  const here = new URL(import.meta.url);
  const rootURL = new URL(figure.dataset.root || "./", document.baseURI);
  const mode = figure.dataset.pyodideMode || "local";
  const index = figure.dataset.pyodideIndexUrl || "pyodide/";
  const indexURL = new URL(index, rootURL).href; // absolute: the worker has another base URL
  return {
    mode,
    indexURL: indexURL.endsWith("/") ? indexURL : indexURL + "/",
    integrity: readJSON(figure, ".demo-integrity", {}),
    demosURL: new URL("demos/", rootURL).href,
    workerURL: new URL(`./worker.mjs${here.search}`, here).href,
  };
}

function main() {
  const figures = [...document.querySelectorAll("figure.demo[data-demo]")].filter((f) => MOUNTS[f.dataset.demo]);
  if (!figures.length) return;
  const runtime = new Runtime(runtimeConfig(figures[0]));
  const start = () => runtime.start();
  for (const figure of figures) {
    figure.classList.add("js");
    try {
      MOUNTS[figure.dataset.demo](figure, runtime, readJSON(figure, ".demo-initial", {}));
    } catch (err) {
      figure.dataset.state = "error";
      console.info(`demo ${figure.dataset.demo} could not start:`, err);
      continue;
    }
    figure.addEventListener("pointerdown", start, { once: true });
    figure.addEventListener("focusin", start, { once: true });
  }
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
