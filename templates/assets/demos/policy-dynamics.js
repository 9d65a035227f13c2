// Policy-dynamics demo: GRPO steps run in the worker (demos.web.dynamics_json), animated in SVG.
import { DemoShell } from "./shell.js";
import { svg, setAttrs, scale, signed, el } from "./svg.js";

const W = 640, ROW = 30, LEFT = 70, RIGHT = 60, SPARK_H = 110;
const KNOBS = { G: [2, 64, true], beta: [0, 1, false], eps: [0.01, 1, false], lr: [0, 10, false], mu: [1, 8, true], seed: [0, 2147483647, true] };

export function parseDynamicsHash(text, initial) {
  const out = { config: { ...initial.config }, speed: initial.speed };
  for (const kv of text.split(";")) {
    const [k, v] = kv.split(":");
    const n = Number(v);
    if (k === "speed") {
      if (!initial.speeds.includes(n)) throw new Error("unknown speed");
      out.speed = n;
    } else if (KNOBS[k]) {
      const [lo, hi, integer] = KNOBS[k];
      if (!Number.isFinite(n) || n < lo || n > hi || (integer && !Number.isInteger(n))) throw new Error(`${k} must be between ${lo} and ${hi}`);
      out.config[k] = n;
    } else {
      throw new Error(`unknown setting ${k}`);
    }
  }
  return out;
}

export function mountPolicyDynamics(figure, runtime, initial) {
  const K = initial.answers.length;
  const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  const q = (sel) => figure.querySelector(sel);
  const knob = (name) => q(`.pd-controls [name="${name}"]`);
  const playButton = q(".pd-play");
  const speedSelect = q(".pd-speed");
  const TOP = 34;
  const H = TOP + K * ROW + 30 + SPARK_H + 30;
  let state = null;       // the Python run state (opaque JSON, includes the generator state)
  let history = [];       // expected reward (= pi(correct)) per step, for the sparkline
  let playing = false;
  let inflight = false;
  let lastStepAt = 0;
  let chart = null;

  const config = () => Object.fromEntries(Object.keys(KNOBS).map((k) => [k, Number(knob(k).value)]));
  const configValid = () => Object.keys(KNOBS).every((k) => knob(k).value !== "" && knob(k).checkValidity());

  // spec for the shell: a fresh run (after code edits or on going live)
  const shell = new DemoShell(figure, runtime, {
    fn: "dynamics_json",
    payload: () => ({ config: config(), state: null, steps: 0 }),
    render: (res) => { state = null; history = []; render(res); },
  });

  async function advance(steps) {
    if (inflight || !configValid()) return;
    if (!runtime.live) { runtime.start(); figure.classList.add("is-pending"); return; }
    inflight = true;
    try {
      const res = await runtime.call("dynamics_json", { config: config(), state, steps });
      render(res);
      shell.showError(null);
    } catch (err) {
      setPlaying(false);
      shell.showError(err);
    } finally {
      inflight = false;
    }
  }

  function render(res) {
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
    draw(res);
    if (!playing) shell.announce(`Step ${res.state.step}: probability of the correct answer ${res.probs[0].toFixed(2)}.`);
  }

  function buildChart(res) {
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "demo-svg", role: "img", "aria-label": "Probability of each answer (bars; tick: reference policy) and the expected reward over steps" });
    const c = { root, bars: [], values: [], refs: [] };
    root.append(svg("text", { x: LEFT, y: 20, class: "axis-title" }, "π(answer)   (tick: reference π_ref)"));
    for (let k = 0; k < K; k++) {
      const y = TOP + k * ROW;
      const ok = res.rewards[k] > 0;
      root.append(svg("text", { x: LEFT - 10, y: y + 17, class: "axis-title", "text-anchor": "end" }, `${res.answers[k]} ${ok ? "✓" : "✗"}`));
      root.append(svg("rect", { x: LEFT, y, width: W - LEFT - RIGHT, height: ROW - 8, class: "grid-bg" }));
      c.bars.push(root.appendChild(svg("rect", { x: LEFT, y, height: ROW - 8, class: `prob-bar ${ok ? "correct" : "wrong"}` })));
      c.refs.push(root.appendChild(svg("line", { y1: y - 2, y2: y + ROW - 6, class: "ref-tick" })));
      c.values.push(root.appendChild(svg("text", { y: y + 16, class: "tick-label" })));
    }
    const top = TOP + K * ROW + 30;
    c.sparkTop = top;
    root.append(svg("text", { x: LEFT, y: top - 6, class: "axis-title" }, "expected reward by step"));
    c.sparkAxis = root.appendChild(svg("g", { class: "ticks" }));
    c.spark = root.appendChild(svg("polyline", { class: "spark" }));
    return c;
  }

  function draw(res) {
    if (!chart) {
      chart = buildChart(res);
      q(".pd-chart").replaceChildren(chart.root);
    }
    const x = scale(0, 1, LEFT, W - RIGHT);
    res.probs.forEach((p, k) => {
      setAttrs(chart.bars[k], { width: Math.max(0, x(p) - LEFT) });
      setAttrs(chart.refs[k], { x1: x(res.ref_probs[k]), x2: x(res.ref_probs[k]) });
      setAttrs(chart.values[k], { x: Math.min(x(p) + 6, W - RIGHT + 4) });
      chart.values[k].textContent = p.toFixed(3);
    });
    const n = Math.max(40, history.length - 1);
    const sx = scale(0, n, LEFT, W - RIGHT);
    const sy = scale(0, 1, chart.sparkTop + SPARK_H, chart.sparkTop);
    chart.sparkAxis.replaceChildren(
      ...[0, 0.5, 1].flatMap((v) => [svg("line", { x1: LEFT, x2: W - RIGHT, y1: sy(v), y2: sy(v), class: "grid" }), svg("text", { x: LEFT - 8, y: sy(v) + 4, class: "tick-label", "text-anchor": "end" }, v.toFixed(1))]),
      svg("text", { x: W - RIGHT, y: chart.sparkTop + SPARK_H + 18, class: "tick-label", "text-anchor": "end" }, `step ${n}`),
      svg("text", { x: LEFT, y: chart.sparkTop + SPARK_H + 18, class: "tick-label" }, "0"),
    );
    setAttrs(chart.spark, { points: history.map((v, i) => `${sx(i).toFixed(1)},${sy(v).toFixed(1)}`).join(" ") });
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
    state = null;
    history = [];
    writeHash();
    if (!configValid()) {
      shell.note("A setting is out of range; fix it to run.");
      return;
    }
    shell.note("");
    advance(0);
  }

  function writeHash() {
    const c = config();
    shell.writeHash([...Object.keys(KNOBS).map((k) => `${k}:${c[k]}`), `speed:${speedSelect.value}`].join(";"));
  }

  // ----- wiring -----
  const fromHash = shell.readHash((text) => parseDynamicsHash(text, initial));
  if (fromHash) {
    for (const k of Object.keys(KNOBS)) knob(k).value = String(fromHash.config[k]);
    speedSelect.value = String(fromHash.speed);
  } else if (reduceMotion.matches) {
    speedSelect.value = "1";
  }
  playButton.addEventListener("click", () => { runtime.start(); setPlaying(!playing); });
  q(".pd-step").addEventListener("click", () => { setPlaying(false); advance(1); });
  q(".pd-reset").addEventListener("click", reset);
  speedSelect.addEventListener("change", writeHash);
  figure.querySelectorAll(".pd-controls input").forEach((i) => i.addEventListener("change", reset));
  return shell;
}
