// Policy-dynamics view: GRPO steps run in the worker (demo.py run()), drawn by render() after each answer.
// render(state) is the chart's only drawing: at build time in Node (first frame) and live in the browser.
import { limitedNumber } from "./hash-state.js";
import { DemoShell } from "./shell.js";
import { tag, text, svgRoot, scale, signed, el } from "./svg.js";

// SVG units; phones draw the text at about 21-24 units (demos.css), so the right margin holds a probability
// label ("0.999", ~60 units) beside a full bar, and the title band clears the first row's label.
const W = 640, ROW = 30, LEFT = 70, RIGHT = 76, SPARK_H = 110, TOP = 42;

// state: {answers: [K], rewards: [K], probs: [K], ref_probs: [K], history: [expected reward per step]} -> SVG
export function render({ answers, rewards, probs, ref_probs: refProbs, history }) {
  const K = answers.length;
  const H = TOP + K * ROW + 30 + SPARK_H + 30;
  const x = scale(0, 1, LEFT, W - RIGHT);
  const rows = answers.map((answer, k) => {
    const y = TOP + k * ROW;
    const ok = rewards[k] > 0;
    return [
      text({ x: LEFT - 10, y: y + 17, class: "axis-title", "text-anchor": "end" }, `${answer} ${ok ? "✓" : "✗"}`),
      tag("rect", { x: LEFT, y, width: W - LEFT - RIGHT, height: ROW - 8, class: "grid-bg" }),
      tag("rect", { x: LEFT, y, width: Math.max(0, x(probs[k]) - LEFT), height: ROW - 8, class: `prob-bar ${ok ? "correct" : "wrong"}` }),
      tag("line", { x1: x(refProbs[k]), x2: x(refProbs[k]), y1: y - 2, y2: y + ROW - 6, class: "ref-tick" }),
      text({ x: x(probs[k]) + 6, y: y + 16, class: "tick-label" }, probs[k].toFixed(3)),
    ];
  });
  const top = TOP + K * ROW + 30;
  const n = Math.max(40, history.length - 1);
  const sx = scale(0, n, LEFT, W - RIGHT);
  const sy = scale(0, 1, top + SPARK_H, top);
  return svgRoot(W, H, "Probability of each answer (bars; tick: reference policy) and the expected reward over steps",
    text({ x: LEFT, y: 26, class: "axis-title" }, "π(answer) · tick: π_ref"),
    rows,
    text({ x: LEFT, y: top - 6, class: "axis-title" }, "expected reward by step"),
    tag("g", { class: "ticks" },
      [0, 0.5, 1].map((v) => [
        tag("line", { x1: LEFT, x2: W - RIGHT, y1: sy(v), y2: sy(v), class: "grid" }),
        text({ x: LEFT - 8, y: sy(v) + 4, class: "tick-label", "text-anchor": "end" }, v.toFixed(1)),
      ]),
      text({ x: W - RIGHT, y: top + SPARK_H + 18, class: "tick-label", "text-anchor": "end" }, `step ${n}`),
      text({ x: LEFT, y: top + SPARK_H + 18, class: "tick-label" }, "0")),
    tag("polyline", { class: "spark", points: sparkSteps(history.length).map((i) => `${sx(i).toFixed(1)},${sy(history[i]).toFixed(1)}`).join(" ") }),
  );
}

// The steps the sparkline draws: all of them up to SPARK_POINTS, then SPARK_POINTS evenly spaced ones (first and
// last included). A long play at 60 steps/s would otherwise rebuild a polyline of every step ever taken, every frame.
const SPARK_POINTS = 320;
export function sparkSteps(count, max = SPARK_POINTS) {
  if (count <= max) return Array.from({ length: count }, (_, i) => i);
  return Array.from({ length: max }, (_, j) => Math.round((j * (count - 1)) / (max - 1)));
}

// hash value: "G:8;beta:0.04;...;speed:5"; bounds from LIMITS
export function parseHash(value, initial) {
  const L = initial.limits;
  const out = { config: { ...initial.config }, speed: initial.speed };
  for (const kv of value.split(";")) {
    const [k, v] = kv.split(":");
    const n = Number(v);
    if (k === "speed") {
      if (!initial.speeds.includes(n)) throw new Error("unknown speed");
      out.speed = n;
    } else if (L[k]) {
      out.config[k] = limitedNumber(k, v, L[k]);
    } else {
      throw new Error(`unknown setting ${k}`);
    }
  }
  return out;
}

export function mount(figure, runtime, initial) {
  const KNOBS = Object.keys(initial.limits);
  const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  const q = (sel) => figure.querySelector(sel);
  const knob = (name) => q(`.pd-controls [name="${name}"]`);
  const playButton = q(".pd-play");
  const speedSelect = q(".pd-speed");
  let state = null;       // the Python run state (opaque JSON, includes the generator state)
  let history = [];       // expected reward (= pi(correct)) per step, for the sparkline
  let playing = false;
  let inflight = false;
  let lastStepAt = 0;
  let epoch = 0;          // which run an answer belongs to: a reset or a code edit starts a new one
  let queued = 0;         // Step clicks that came while a step was running: taken after it
  let freshWanted = false; // a reset that came while a step was running: a fresh run after it

  const config = () => Object.fromEntries(KNOBS.map((k) => [k, Number(knob(k).value)]));
  const configValid = () => KNOBS.every((k) => knob(k).value !== "" && knob(k).checkValidity());

  // spec for the shell: a fresh run (on going live, after code edits)
  const shell = new DemoShell(figure, runtime, {
    fn: "run",
    payload: () => ({ config: config(), state: null, steps: 0 }),
    render: (res) => { epoch += 1; state = null; history = []; show(res); },
  });

  // steps >= 0 from the current state (0 with no state: a fresh run). What comes while a step runs waits for
  // it: a Step click is taken after it, a reset discards its answer and starts afresh.
  async function advance(steps, { click = false } = {}) {
    if (!configValid()) return;
    if (inflight || !runtime.live) {
      if (click) queued += steps;
      if (!runtime.live) { runtime.start(); figure.classList.add("is-pending"); }
      return;
    }
    inflight = true;
    const mine = epoch;
    try {
      const res = await runtime.call(figure.dataset.demo, "run", { config: config(), state, steps });
      if (mine === epoch) {
        show(res);
        if (res.diverged) {     // the run cannot go on with these settings: say why, stop, keep the last finite step
          setPlaying(false);
          queued = 0;
          shell.note(`Stopped: ${res.diverged}.`);
        }
      }
      shell.showError(null);
    } catch (err) {
      setPlaying(false);
      queued = 0;
      shell.showError(err);
    } finally {
      inflight = false;
      if (freshWanted) {
        freshWanted = false;
        advance(0);
      } else if (queued) {
        const n = queued;
        queued = 0;
        advance(n);
      }
    }
  }

  function show(res) {
    figure.classList.remove("is-pending");
    state = res.state;
    if (!history.length) history.push(res.probs[0]);
    for (const r of res.records) history.push(r.expected_reward);
    const last = res.records[res.records.length - 1];
    figure.dataset.step = String(res.state.step);
    figure.dataset.probs = JSON.stringify(res.probs);
    q(".pd-step-n").textContent = String(res.state.step);
    q(".pd-pc").textContent = res.probs[0].toFixed(3);
    q(".pd-kl").textContent = last ? last.kl.toFixed(4) : "0";
    q(".pd-clip").textContent = last ? `${(100 * last.clip_fraction).toFixed(0)}%` : "–";
    q(".pd-loss").textContent = last ? last.loss.toFixed(4) : "–";
    const group = q(".pd-group");
    if (last) {
      group.replaceChildren(...last.samples.map((k, i) => {
        const a = last.advantages[i];
        const li = el("li", { class: a > 0 ? "pos" : a < 0 ? "neg" : "" });
        li.append(el("b", {}, res.answers[k]), `r ${last.rewards[i]} → ${signed(a)}`);
        return li;
      }));
    } else {
      group.replaceChildren(el("li", {}, "no step yet"));
    }
    q(".pd-chart").innerHTML = render({ answers: res.answers, rewards: res.rewards, probs: res.probs, ref_probs: res.ref_probs, history });
    if (!playing) shell.announce(`Step ${res.state.step}: probability of the correct answer ${res.probs[0].toFixed(2)}.`);
  }

  // ----- transport -----
  function setPlaying(on) {
    playing = on;
    playButton.setAttribute("aria-pressed", String(on));
    playButton.textContent = on ? "Pause" : "Play";
    if (on) requestAnimationFrame(loop);
  }

  function loop(now) {
    if (!playing) return;
    const interval = 1000 / Number(speedSelect.value);
    if (!inflight && now - lastStepAt >= interval - 1) {
      lastStepAt = now;
      advance(1);
    }
    requestAnimationFrame(loop);
  }

  function reset() {
    setPlaying(false);
    epoch += 1;
    queued = 0;
    state = null;
    history = [];
    writeHash();
    if (!configValid()) {
      shell.note("A setting is out of range; fix it to run.");
      return;
    }
    shell.note("");
    if (inflight) freshWanted = true;
    else advance(0);
  }

  function writeHash() {
    const c = config();
    shell.writeHash([...KNOBS.map((k) => `${k}:${c[k]}`), `speed:${speedSelect.value}`].join(";"));
  }

  // a state from the URL hash or a "try it" prompt (the text writeHash writes): a fresh run with those knobs
  let applied = false;
  function apply(settings) {
    applied = true;
    for (const k of KNOBS) knob(k).value = String(settings.config[k]);
    speedSelect.value = String(settings.speed);
    reset();
  }

  // ----- wiring -----
  shell.followHash((value) => parseHash(value, initial), apply);
  if (!applied && reduceMotion.matches) speedSelect.value = "1";
  playButton.addEventListener("click", () => { runtime.start(); setPlaying(!playing); });
  q(".pd-step").addEventListener("click", () => { setPlaying(false); advance(1, { click: true }); });
  q(".pd-reset").addEventListener("click", reset);
  speedSelect.addEventListener("change", writeHash);
  figure.querySelectorAll(".pd-controls input").forEach((i) => i.addEventListener("change", reset));
  return shell;
}
