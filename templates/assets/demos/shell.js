// What every demo figure shares: the status line with named stages and retry, the Demo/Python tabs,
// the editable code, the error box, the URL-hash state and the coalesced request loop.
import { STAGES, STAGE_LABELS, TimedOut, RuntimeGone } from "./runtime.js";
import { readHashState, writeHashState } from "./hash-state.js";
import { el } from "./svg.js";

const STATIC_TEXT = "Static figure computed at build time by CPython numpy.";

export class DemoShell {
  // spec: {fn (a function of demos/<name>/demo.py), payload() -> object, render(result), onLive?()}
  constructor(figure, runtime, spec) {
    this.figure = figure;
    this.runtime = runtime;
    this.spec = spec;
    this.name = figure.dataset.demo;
    this.inflight = false;
    this.dirty = false;
    this.lastAnnounce = 0;
    this.status = figure.querySelector(".demo-status");
    this.errorBox = figure.querySelector(".demo-error");
    this.buildStatus();
    this.buildTabs();
    this.buildCode();
    runtime.onChange((stage, error) => this.onStage(stage, error));
  }

  // ----- status: static -> loading (runtime, numpy, demo code) -> live | error -----
  buildStatus() {
    this.statusText = el("span", { class: "demo-status-text" }, STATIC_TEXT);
    this.stageList = el("ol", { class: "demo-stages", "aria-label": "Loading stages" });
    this.stageItems = {};
    for (const s of STAGES) {
      const li = el("li", { "data-stage": s }, STAGE_LABELS[s]);
      this.stageItems[s] = li;
      this.stageList.append(li);
    }
    this.retryButton = el("button", { type: "button", class: "demo-retry", hidden: "" }, "Retry");
    this.retryButton.addEventListener("click", () => this.runtime.retry());
    this.startButton = el("button", { type: "button", class: "demo-start" }, "Run live");
    this.startButton.addEventListener("click", () => this.runtime.start());
    this.status.replaceChildren(this.statusText, this.stageList, this.startButton, this.retryButton);
  }

  onStage(stage, error) {
    const f = this.figure;
    const reached = STAGES.indexOf(stage);
    for (const [i, s] of STAGES.entries()) {
      const li = this.stageItems[s];
      li.classList.toggle("done", reached > i || stage === "live");
      li.classList.toggle("current", s === stage && stage !== "live");
      li.classList.toggle("failed", stage === "error" && error && error.stage === s);
    }
    const runtimeLabel = this.runtime.stageLabel("runtime");
    if (this.stageItems.runtime.textContent !== runtimeLabel) this.stageItems.runtime.textContent = runtimeLabel;
    this.retryButton.hidden = stage !== "error";
    this.startButton.hidden = stage !== "static";
    this.stageList.hidden = stage === "static" || stage === "error";
    if (stage === "static") {
      f.dataset.state = "static";
      this.statusText.textContent = STATIC_TEXT;
    } else if (stage === "error") {
      f.dataset.state = "error";
      this.statusText.textContent = `Live Python could not load (${STAGE_LABELS[error.stage] || error.stage}: ${error.message}); this is the static build-time figure.`;
    } else if (stage === "live") {
      f.dataset.state = "live";
      this.statusText.textContent = "Live: numpy is running in your browser.";
      if (this.spec.onLive) this.spec.onLive();
      this.update();
    } else {
      f.dataset.state = "loading";
      this.statusText.textContent = `Static figure for now; loading live numpy: ${this.runtime.stageLabel(stage)}…`;
    }
  }

  // ----- Demo / Python tabs (WAI-ARIA tabs; without JS both panels simply show) -----
  buildTabs() {
    const panels = [this.figure.querySelector(".demo-main"), this.figure.querySelector(".demo-code")];
    const names = ["Demo", "Python"];
    const list = el("div", { class: "demo-tabs", role: "tablist", "aria-label": "View" });
    const tabs = panels.map((panel, i) => {
      panel.id = panel.id || `${this.figure.id}-panel-${i}`;
      panel.setAttribute("role", "tabpanel");
      const tab = el("button", {
        type: "button", role: "tab", id: `${panel.id}-tab`, "aria-controls": panel.id,
        "aria-selected": i === 0 ? "true" : "false", tabindex: i === 0 ? "0" : "-1",
      }, names[i]);
      panel.setAttribute("aria-labelledby", tab.id);
      panel.hidden = i !== 0;
      list.append(tab);
      return tab;
    });
    const select = (i) => {
      tabs.forEach((t, j) => {
        t.setAttribute("aria-selected", i === j ? "true" : "false");
        t.tabIndex = i === j ? 0 : -1;
        panels[j].hidden = i !== j;
      });
      if (i === 1) this.showFunctions();
    };
    tabs.forEach((tab, i) => {
      tab.addEventListener("click", () => select(i));
      tab.addEventListener("keydown", (e) => {
        const k = { ArrowRight: 1, ArrowLeft: -1, Home: -i, End: tabs.length - 1 - i }[e.key];
        if (k === undefined) return;
        e.preventDefault();
        const j = (i + k + tabs.length) % tabs.length;
        select(j);
        tabs[j].focus();
      });
    });
    panels[0].before(list);
  }

  // ----- editable code. All demos of a page share one interpreter, so the runtime keeps one current text per
  // file: Run sends this figure's edits, and every figure showing an edited file updates its tab and re-runs;
  // Reset restores the shipped text of this figure's files, everywhere. -----
  buildCode() {
    const code = this.figure.querySelector(".demo-code");
    this.editors = [...code.querySelectorAll("textarea[data-file]")].map((t) => ({ textarea: t, path: t.dataset.file, line: Number(t.dataset.line) || 1 }));
    for (const ed of this.editors) this.runtime.register(ed.path, ed.textarea.value);
    this.codeOut = code.querySelector(".demo-code-output");
    this.shownFunctions = false;
    code.querySelector(".demo-run").addEventListener("click", () => this.runCode(false));
    code.querySelector(".demo-reset").addEventListener("click", () => this.runCode(true));
    this.runtime.onSource((paths) => this.sourcesChanged(paths));
  }

  // the first time the Python tab shows: scroll each file to the function the demo calls
  showFunctions() {
    if (this.shownFunctions) return;
    this.shownFunctions = true;
    for (const { textarea, line } of this.editors) {
      const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
      textarea.scrollTop = Math.max(0, (line - 2) * lineHeight);
      const offset = textarea.value.split("\n").slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
      textarea.setSelectionRange(offset, offset);
    }
  }

  sourcesChanged(paths) {
    const mine = this.editors.filter((ed) => paths.includes(ed.path));
    if (!mine.length) return;
    for (const ed of mine) ed.textarea.value = this.runtime.current(ed.path);
    if (this.running) return; // this figure made the change; runCode reports it
    const edited = mine.filter((ed) => ed.textarea.value !== this.runtime.originals.get(ed.path)).map((ed) => ed.path);
    this.codeOut.textContent = edited.length
      ? `${edited.join(", ")} changed in another demo on this page; this demo now runs that version.`
      : `${mine.map((ed) => ed.path).join(", ")} restored to the original in another demo on this page.`;
    if (this.runtime.live) this.update();
  }

  async runCode(reset) {
    this.runtime.start();
    if (!this.runtime.live) {
      this.codeOut.textContent = "The Python runtime is still loading; try again when the status says live.";
      return;
    }
    this.codeOut.textContent = "Running…";
    this.running = true;
    try {
      const texts = this.editors.map((ed) => [ed.path, reset ? this.runtime.originals.get(ed.path) : ed.textarea.value]);
      await this.runtime.setSources(texts);
      if (reset) for (const ed of this.editors) ed.textarea.value = this.runtime.current(ed.path);
      const result = await this.runtime.call(this.name, this.spec.fn, this.spec.payload());
      this.spec.render(result);
      this.showError(null);
      this.codeOut.textContent = reset ? "Original code restored and run." : "Ran your code: the demo above now uses it.";
    } catch (err) {
      this.showError(err);
      this.codeOut.textContent = this.errorText(err);
    } finally {
      this.running = false;
    }
  }

  errorText(err) {
    return err instanceof RuntimeGone || err instanceof TimedOut ? err.message : `Python raised an error:\n${err.message}`;
  }

  showError(err) {
    this.errorBox.hidden = !err;
    this.errorBox.textContent = err ? this.errorText(err) : "";
    this.figure.classList.toggle("has-error", Boolean(err));
  }

  // ----- coalesced requests: at most one call in flight, the newest state wins -----
  // An input is sent at once when nothing is in flight (no frame of added latency); inputs that arrive
  // meanwhile only mark the state dirty, and the newest state is sent when the answer comes back.
  update() {
    this.dirty = true;
    if (!this.runtime.live) this.figure.classList.add("is-pending");
    this.flush();
  }

  flush() {
    if (!this.dirty || this.inflight) return;
    if (!this.runtime.live) {
      this.runtime.start();
      return; // onStage("live") calls update() again
    }
    this.dirty = false;
    this.inflight = true;
    this.runtime.call(this.name, this.spec.fn, this.spec.payload())
      .then((result) => {
        const t0 = performance.now();
        this.figure.classList.remove("is-pending");
        this.spec.render(result);
        this.showError(null);
        this.figure.dataset.renders = String(Number(this.figure.dataset.renders || 0) + 1);
        performance.clearMeasures("demo-render");
        performance.measure("demo-render", { start: t0, end: performance.now() });
      })
      .catch((err) => this.showError(err))
      .finally(() => {
        this.inflight = false;
        if (this.dirty) this.flush();
      });
  }

  // polite, throttled announcements of the changing numbers (live region in the template)
  announce(text) {
    const region = this.figure.querySelector(".demo-announce");
    clearTimeout(this.announceTimer);
    this.announceTimer = setTimeout(() => { region.textContent = text; }, 700);
  }

  // ----- URL hash: #demo-NAME=<encoded>; bad value -> defaults + a visible note -----
  readHash(parse) {
    const raw = readHashState(this.name);
    if (raw === null) return null;
    try {
      return parse(raw);
    } catch (err) {
      this.note(`The settings in the link could not be used (${err.message}); showing the defaults.`);
      return null;
    }
  }

  writeHash(value) {
    writeHashState(this.name, value);
  }

  note(text) {
    const box = this.figure.querySelector(".demo-note");
    box.textContent = text;
    box.hidden = !text;
  }
}
