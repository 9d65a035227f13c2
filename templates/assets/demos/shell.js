// What every demo figure shares: the status line with named stages and retry, the Demo/Python tabs,
// the editable code, the error box, the URL-hash state and the coalesced request loop.
import { STAGES, STAGE_LABELS, TimedOut, RuntimeGone } from "./runtime.js";
import { readHashState, writeHashState, setupURL } from "./hash-state.js";
import { el } from "./svg.js";

const STATIC_TEXT = "This figure was drawn when the page was built; it becomes live (numpy in your browser) as you reach it.";

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

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
    this.buildShare();
    this.buildPrompts();
    runtime.onChange((stage, error) => this.onStage(stage, error));
    if (runtime.onProgress) runtime.onProgress((bytes) => this.onProgress(bytes));
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
    // on a metered or Save-Data connection the reader chooses to download the runtime (runtime.askFirst)
    const size = Number(this.figure.dataset.downloadBytes) || 0;
    this.startButton = el("button", { type: "button", class: "demo-start" },
      this.runtime.askFirst ? `Load live Python${size ? ` (${megabytes(size)} download)` : ""}` : "Run live");
    this.startButton.addEventListener("click", () => { this.runtime.askFirst = false; this.runtime.start(); });
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
      this.statusText.textContent = this.runtime.askFirst
        ? "Your connection is metered or in data-saver mode, so live Python waits for you. This is the figure drawn when the page was built."
        : STATIC_TEXT;
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
      this.stage = stage;
      this.statusText.textContent = this.loadingText();
    }
  }

  loadingText() {
    const size = Number(this.figure.dataset.downloadBytes) || 0;
    const got = this.runtime.loadedBytes || 0;
    const bytes = got ? ` (${megabytes(got)}${size ? ` of about ${megabytes(size)}` : ""} downloaded)` : "";
    return `Loading live Python: ${this.runtime.stageLabel(this.stage)}${bytes}…`;
  }

  onProgress() {
    if (this.figure.dataset.state === "loading") this.statusText.textContent = this.loadingText();
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
  // Until Python answers, the numbers derived from the inputs are stale: the figure is marked pending
  // (demos.css hides them and dims the chart), so no two numbers on screen ever disagree.
  update() {
    this.dirty = true;
    this.figure.dataset.busy = "true"; // until the newest state's answer is drawn (tests wait on it)
    if (!this.runtime.live) this.setPending(true);
    this.flush();
  }

  setPending(on) {
    this.figure.classList.toggle("is-pending", on);
    const main = this.figure.querySelector(".demo-main");
    if (main) main.setAttribute("aria-busy", on ? "true" : "false");
  }

  flush() {
    if (!this.dirty || this.inflight) return;
    if (!this.runtime.live) {
      if (!this.runtime.askFirst) this.runtime.start();
      return; // onStage("live") calls update() again
    }
    this.dirty = false;
    this.inflight = true;
    this.runtime.call(this.name, this.spec.fn, this.spec.payload())
      .then((result) => {
        const t0 = performance.now();
        this.setPending(false);
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
        else this.figure.dataset.busy = "false";
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
    this.hashValue = value;
    writeHashState(this.name, value);
  }

  // The view's way in for a state given as hash text (a shared link on load, a "try it" prompt):
  // parse(text) -> object (throws on bad text), apply(object) sets the controls and updates the figure.
  followHash(parse, apply) {
    this.applyText = (raw) => {
      let parsed;
      try {
        parsed = parse(raw);
      } catch (err) {
        this.note(`The settings in the link could not be used (${err.message}); showing the defaults.`);
        return false;
      }
      this.note("");
      this.hashValue = raw;
      apply(parsed);
      return true;
    };
    if (this.promptList) this.promptList.hidden = false;
    const raw = readHashState(this.name);
    if (raw !== null) this.applyText(raw);
  }

  // ----- "Copy link to this setup": the page URL with only this demo's state in the hash -----
  buildShare() {
    const button = this.figure.querySelector(".demo-copy-link");
    const out = this.figure.querySelector(".demo-share-status");
    if (!button) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      const url = setupURL(this.name, this.hashValue ?? readHashState(this.name));
      const done = (text) => { out.textContent = text; clearTimeout(this.shareTimer); this.shareTimer = setTimeout(() => { out.textContent = ""; }, 4000); };
      const fallback = () => {
        out.textContent = "";
        const field = el("input", { type: "text", class: "demo-share-url", readonly: "", value: url, "aria-label": "Link to this setup" });
        out.append("Copy this link: ", field);
        field.select();
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url).then(() => done("Link copied: it opens this demo with these settings."), fallback);
      } else {
        fallback();
      }
      button.dataset.url = url;
    });
  }

  // ----- "Predict, then try": the demo's PROMPTS (demo.py), each a state in the demo's hash format -----
  buildPrompts() {
    this.promptList = this.figure.querySelector(".demo-prompts");
    if (!this.promptList) return;
    this.promptList.hidden = true; // shown once the view has called followHash
    for (const item of this.promptList.querySelectorAll("[data-prompt-state]")) {
      const button = item.querySelector(".demo-prompt-try");
      button.addEventListener("click", () => {
        if (!this.applyText) return;
        const raw = item.dataset.promptState;
        writeHashState(this.name, raw);
        if (!this.applyText(raw)) return;
        for (const other of this.promptList.querySelectorAll(".demo-prompt")) other.classList.toggle("is-active", other === item);
        const look = item.querySelector(".demo-prompt-look");
        if (look) look.hidden = false;
        const chart = this.figure.querySelector(".demo-chart");
        if (chart && chart.getBoundingClientRect().top < 0) chart.scrollIntoView({ block: "nearest" });
      });
    }
  }

  note(text) {
    const box = this.figure.querySelector(".demo-note");
    box.textContent = text;
    box.hidden = !text;
  }
}
