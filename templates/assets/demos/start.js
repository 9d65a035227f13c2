// The page's Python worker, started as early as the page allows when the reader came for a demo: opened at one
// (#demo-NAME, or a shared setup #demo-NAME=...), or reloaded (or returned to through the history) after this tab
// left it with a demo near the viewport. Other visits start it later, from demos.js, when a figure comes near.
// A classic async script in <head>: it runs before the page's modules do (they load as a graph, about 50 ms later
// on a warm reload), and the worker's start is on the critical path of a reader who came for a demo.
// It is also where the page's runtime settings and the start decision are made, for demos.js too
// (window.demoStart), so that each is made once. Nothing here throws to the console: without usable settings
// nothing starts and the figures stay the static build-time ones.
(() => {
  const IN_VIEW_KEY = "demo-in-view:"; // sessionStorage (this tab): was a demo near the viewport when the reader left?
  const here = new URL(document.currentScript.src);

  // the page's runtime settings (sitegen/pipeline.py demo_runtime), in <head> before this script: readable now
  function runtimeSettings() {
    const node = document.getElementById("demo-runtime");
    const cfg = node ? JSON.parse(node.textContent) : {};
    const root = new URL(cfg.root || "./", document.baseURI);
    const indexURL = new URL(cfg.index || "pyodide/", root).href; // absolute: the worker has another base URL
    return {
      root: root.href,
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

  // Save-Data, a slow or a cellular connection: the reader chooses to download the runtime (the status line
  // offers it, with its size); nothing starts it by itself
  function metered(connection = navigator.connection) {
    if (!connection) return false;
    return Boolean(connection.saveData) || ["slow-2g", "2g", "3g"].includes(connection.effectiveType)
      || connection.type === "cellular";
  }

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

  // the worker, booting: what it says before the page's Runtime takes it over is kept for it (runtime.js adopt())
  function spawn(runtime) {
    const early = { worker: null, at: performance.now(), messages: [], error: null };
    early.worker = new Worker(runtime.workerURL, { type: "module", name: "pyodide-demos" });
    early.worker.onmessage = (event) => early.messages.push(event.data);
    early.worker.onerror = (event) => {
      event.preventDefault();
      early.error = event.message || "the worker script could not be loaded";
    };
    early.worker.postMessage(bootMessage(runtime, true));
    return early;
  }

  // what the worker needs to boot (worker.mjs "boot"); runtime.js sends the same for a later start
  function bootMessage(runtime, snapshot) {
    return { type: "boot", indexURL: runtime.indexURL, integrity: runtime.integrity,
      manifestURL: runtime.manifestURL, rootURL: runtime.rootURL, snapshot };
  }

  let settings = null;
  try {
    settings = runtimeSettings();
  } catch {
    settings = null;
  }
  const askFirst = metered();
  // the reader came for a demo: Python starts now, while the page is still parsed and laid out
  const startNow = Boolean(settings) && !askFirst && (/^#demo-[a-z]/.test(location.hash) || returningToADemo());
  let early = null;
  if (startNow) {
    try {
      early = spawn(settings.runtime);
    } catch {
      early = null; // no module workers here: the page's Runtime starts (and reports) it as before
    }
  }
  window.demoStart = { settings, askFirst, startNow, early, bootMessage, rememberDemoInView };
})();
