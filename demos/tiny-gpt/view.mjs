// Tiny-GPT view: GRPO steps run in the worker (demo.py step()) in small chunks; render() draws after each answer.
// render(state) is the only drawing: at build time in Node (first frame) and live in the browser.
import { limitedNumber } from "./hash-state.js";
import { DemoShell } from "./shell.js";
import { tag, text, esc, svgRoot, scale, signed } from "./svg.js";

const PANELS = [
  ["reward_mean", "mean reward", [0, 1]],
  ["accuracy", "held-out accuracy (greedy)", [0, 1]],
  ["kl", "KL to π_ref (k3, token mean)", null],
  ["clip_frac", "clipped tokens", [0, 0.5]],
  ["zero_adv_frac", "groups with zero advantage", [0, 1]],
];
const PW = 220, PH = 84, LEFT = 40, RIGHT = 10, TOP = 22, BOTTOM = 22;
const MAX_POINTS = 400;

// [[x, y], ...] thinned to at most MAX_POINTS (every k-th point, the last kept)
function thin(points) {
  if (points.length <= MAX_POINTS) return points;
  const k = Math.ceil(points.length / MAX_POINTS);
  return points.filter((_, i) => i % k === 0 || i === points.length - 1);
}

function series(run, key) {
  if (key === "accuracy") return run.accuracy;
  return run.records.map((r) => [r.step, r[key]]);
}

// one small chart per quantity (they wrap: one column on a phone, three on a desktop)
function panel(state, [key, label, range]) {
  const W = LEFT + PW + RIGHT, H = TOP + PH + BOTTOM;
  const x0 = LEFT, y0 = TOP;
  const lines = state.runs.map((run) => series(run, key));
  const all = lines.flat();
  const nSteps = Math.max(50, ...all.map((p) => p[0]));
  const hi = range ? range[1] : Math.max(0.05, ...all.map((p) => p[1]));
  const lo = range ? range[0] : 0;
  const sx = scale(0, nSteps, x0, x0 + PW);
  const sy = scale(lo, hi, y0 + PH, y0);
  const ticks = [lo, (lo + hi) / 2, hi];
  return svgRoot(W, H, `${label} by training step`,
    tag("g", { class: `tg-panel tg-${key}` },
      text({ x: x0, y: y0 - 8, class: "axis-title" }, label),
      tag("rect", { x: x0, y: y0, width: PW, height: PH, class: "grid-bg" }),
      ticks.map((v) => [
        tag("line", { x1: x0, x2: x0 + PW, y1: sy(v), y2: sy(v), class: "grid" }),
        text({ x: x0 - 4, y: sy(v) + 4, class: "tick-label", "text-anchor": "end" }, v < 0.1 && v > 0 ? v.toFixed(3) : v.toFixed(2)),
      ]),
      text({ x: x0 + PW, y: y0 + PH + 16, class: "tick-label", "text-anchor": "end" }, `step ${nSteps}`),
      key === "accuracy" ? tag("line", { x1: x0, x2: x0 + PW, y1: sy(0.9), y2: sy(0.9), class: "tg-target" }) : "",
      lines.map((pts, i) => pts.length ? tag("polyline", {
        class: `tg-line tg-run${i}`,
        points: thin(pts).map(([x, y]) => `${sx(x).toFixed(1)},${sy(Math.min(y, hi)).toFixed(1)}`).join(" "),
      }) : "")));
}

function curves(state) {
  const legend = state.runs.length > 1
    ? tag("p", { class: "tg-legend" }, tag("span", { class: "tg-key tg-key0" }, "—— your settings"), " ",
      tag("span", { class: "tg-key tg-key1" }, esc(`- - - compare: ${state.compare}`)))
    : "";
  return [tag("div", { class: "tg-curves" }, PANELS.map((p) => panel(state, p))), legend];
}

// share = A x rho of one token -> a class: sign and one of 4 strengths
function shareClass(share, clipped) {
  const m = Math.abs(share);
  const level = m < 0.05 ? 0 : m < 0.5 ? 1 : m < 1 ? 2 : m < 1.5 ? 3 : 4;
  return `tg-tok tg-${share >= 0 ? "p" : "n"}${level}${clipped ? " tg-clipped" : ""}`;
}

function group(g) {
  if (!g) return tag("p", { class: "tg-group-empty" }, "No step yet: press Play or Step to sample a group.");
  const rows = g.rows.map((r) => tag("li", { class: r.reward > 0 ? "tg-right" : "tg-wrong" },
    tag("span", { class: "tg-prompt" }, esc(g.prompt)),
    r.tokens.map((t, j) => tag("span", {
      class: shareClass(r.share[j], r.clipped[j]),
      title: `ratio ${r.ratio[j].toFixed(3)}, A×ρ ${signed(r.share[j])}${r.clipped[j] ? ", clipped" : ""}`,
    }, esc(t))),
    tag("span", { class: "tg-meta" }, esc(`r ${r.reward}  A ${signed(r.advantage)}`))));
  return tag("div", { class: "tg-group" },
    tag("p", { class: "tg-group-label" }, esc(`Group for ${g.prompt} (answer ${g.answer}): each token coloured by its share A×ρ of the objective; outlined tokens were clipped.`)),
    tag("ol", { class: "tg-rows" }, rows));
}

function passChart(p) {
  if (!p) return "";
  const W = 640, H = 190, L = 40, R = 20, T = 14, B = 34;
  const sx = scale(1, p.reference.k.length, L, W - R);
  const sy = scale(0, 1, H - B, T);
  const line = (s, cls) => tag("polyline", { class: `tg-line ${cls}`, points: s.map((v, i) => `${sx(i + 1).toFixed(1)},${sy(v).toFixed(1)}`).join(" ") });
  const items = [[p.reference.pass, "tg-ref tg-pass", "reference pass@k"], [p.reference.maj, "tg-ref tg-maj", "reference maj@k"],
    [p.policy.pass, "tg-run0 tg-pass", `step ${p.step} pass@k`], [p.policy.maj, "tg-run0 tg-maj", `step ${p.step} maj@k`]];
  return [svgRoot(W, H, "pass@k and maj@k on held-out prompts for the reference and the current policy",
    tag("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "grid-bg" }),
    [0, 0.5, 1].map((v) => [tag("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), class: "grid" }),
      text({ x: L - 4, y: sy(v) + 4, class: "tick-label", "text-anchor": "end" }, v.toFixed(1))]),
    [1, 4, 8, 12, 16].map((k) => text({ x: sx(k), y: H - B + 16, class: "tick-label", "text-anchor": "middle" }, String(k))),
    text({ x: (L + W - R) / 2, y: H - 2, class: "axis-title", "text-anchor": "middle" }, "k (samples per prompt)"),
    items.map(([s, cls]) => line(s, cls))),
  tag("p", { class: "tg-legend" }, items.map(([, cls, label]) =>
    tag("span", { class: `tg-key ${cls.includes("ref") ? "tg-keyref" : "tg-key0"}` }, esc(`${cls.includes("maj") ? "···" : "——"} ${label}`))))];
}

// state: {runs: [{records: [{step, reward_mean, kl, clip_frac, zero_adv_frac, length_mean}], accuracy: [[step, acc]]}],
//         compare, group: null | {prompt, answer, rows: [{tokens, reward, advantage, ratio, share, clipped}]},
//         passk: null | {step, reference: {k, pass, maj}, policy: {...}}} -> HTML
export function render(state) {
  return tag("div", { class: "tg-view" }, curves(state), group(state.group), passChart(state.passk));
}

// ----- URL hash: "G:8;beta:0.04;loss_type:grpo;std_scale:true;...;compare:dr_grpo;speed:60" -----
export function parseHash(value, initial) {
  const L = initial.limits;
  const out = { config: { ...initial.config }, compare: initial.compare, speed: initial.speed };
  for (const kv of value.split(";")) {
    const [k, v] = kv.split(":");
    if (k === "speed") {
      if (!initial.speeds.includes(Number(v))) throw new Error("unknown speed");
      out.speed = Number(v);
    } else if (k === "compare") {
      if (!initial.compares.includes(v)) throw new Error(`compare must be one of ${initial.compares.join(", ")}`);
      out.compare = v;
    } else if (L[k] && L[k].choices) {
      const c = L[k].choices.find((x) => String(x) === v);
      if (c === undefined) throw new Error(`${k} must be one of ${L[k].choices.join(", ")}`);
      out.config[k] = c;
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
  const q = (sel) => figure.querySelector(sel);
  const knob = (name) => q(`.tg-controls [name="${name}"]`);
  const playButton = q(".tg-play");
  const speedSelect = q(".tg-speed");
  const compareSelect = q(".tg-compare");
  const chart = q(".tg-chart");
  let view = null;        // what render() draws: runs, compare, group, passk
  let runIds = [];
  let playing = false;
  let inflight = false;
  let lastStepAt = 0;
  let evalWanted = false;  // pass@k asked for while a chunk was running: run it after that chunk
  let queued = 0;          // Step clicks that came while a chunk ran or a run was starting: taken after it

  const value = (k) => {
    const spec = initial.limits[k], input = knob(k);
    if (spec.choices) return spec.choices.find((c) => String(c) === input.value);
    return Number(input.value);
  };
  const config = () => Object.fromEntries(KNOBS.map((k) => [k, value(k)]));
  const configValid = () => KNOBS.every((k) => knob(k).value !== "" && (!knob(k).checkValidity || knob(k).checkValidity()));

  const shell = new DemoShell(figure, runtime, {
    fn: "start",
    payload: () => ({ config: config(), compare: compareSelect.value }),
    render: (res) => started(res),
  });

  function started(res) {
    figure.classList.remove("is-pending");
    runIds = res.runs.map((r) => r.run);
    view = { runs: res.runs.map(() => ({ records: [], accuracy: [[0, res.ref_accuracy]] })), compare: res.compare,
      group: null, passk: null };
    draw(0);
    if (!inflight) drain();
  }

  // the Step clicks that waited for a chunk or a start, in one call
  function drain() {
    if (!queued || !view) return;
    const n = Math.min(queued, 5);
    queued -= n;
    advance(n);
  }

  function draw(step) {
    const runs = view.runs;
    const lastAcc = runs[0].accuracy[runs[0].accuracy.length - 1][1];
    const lastRec = runs[0].records[runs[0].records.length - 1];
    figure.dataset.step = String(step);
    figure.dataset.accuracy = String(lastAcc);
    figure.dataset.reward = lastRec ? String(lastRec.reward_mean) : "";
    figure.dataset.kl = lastRec ? String(lastRec.kl) : "";
    q(".tg-step-n").textContent = String(step);
    q(".tg-acc").textContent = lastAcc.toFixed(3);
    q(".tg-reward").textContent = lastRec ? lastRec.reward_mean.toFixed(3) : "–";
    q(".tg-kl").textContent = lastRec ? lastRec.kl.toFixed(4) : "0";
    q(".tg-zero").textContent = lastRec ? `${(100 * lastRec.zero_adv_frac).toFixed(0)}%` : "–";
    chart.innerHTML = render(view);
  }

  // steps > 0: take them now, or after the chunk in flight / the run being started (a click is never lost)
  async function advance(steps, { click = false } = {}) {
    if (!configValid()) return;
    if (!runtime.live || !view || inflight) {
      if (click) queued += steps;
      if (!runtime.live) { runtime.start(); figure.classList.add("is-pending"); }
      return;
    }
    inflight = true;
    try {
      let step = 0;
      for (const [i, id] of runIds.entries()) {
        let res;
        try {
          res = await runtime.call(figure.dataset.demo, "step", { run: id, steps });
        } catch (err) {
          if (!/unknown run/.test(String(err && err.message))) throw err;
          // the worker forgot the runs (a code edit re-imports the demos): start afresh, then take these steps
          queued += steps;
          started(await runtime.call(figure.dataset.demo, "start", { config: config(), compare: compareSelect.value }));
          return;
        }
        view.runs[i].records.push(...res.records);
        view.runs[i].accuracy.push(...res.accuracy);
        if (i === 0) { view.group = res.group; step = res.step; }
      }
      draw(step);
      shell.showError(null);
    } catch (err) {
      setPlaying(false);
      queued = 0;         // an error stops the waiting clicks too: the reader sees it first
      shell.showError(err);
    } finally {
      inflight = false;
      if (evalWanted) evaluate();
      else drain();
    }
  }

  async function evaluate() {
    if (!runtime.live || !view) { runtime.start(); return; }
    if (inflight) { evalWanted = true; return; }
    evalWanted = false;
    inflight = true;
    const button = q(".tg-eval");
    button.disabled = true;
    button.textContent = "sampling 16 answers per prompt…";
    try {
      view.passk = await runtime.call(figure.dataset.demo, "evaluate", { run: runIds[0] });
      chart.innerHTML = render(view);
      figure.dataset.passkStep = String(view.passk.step);
    } catch (err) {
      shell.showError(err);
    } finally {
      inflight = false;
      button.disabled = false;
      button.textContent = "pass@k and maj@k now";
      drain();
    }
  }

  // ----- transport: one chunk per answer; the chunk size follows the speed -----
  function setPlaying(on) {
    playing = on;
    playButton.setAttribute("aria-pressed", String(on));
    playButton.textContent = on ? "Pause" : "Play";
    if (on) requestAnimationFrame(loop);
  }

  function loop(now) {
    if (!playing) return;
    const speed = Number(speedSelect.value);
    const chunk = speed >= 60 ? 5 : 1;
    if (!inflight && now - lastStepAt >= (1000 * chunk) / speed - 1) {
      lastStepAt = now;
      advance(chunk);
    }
    requestAnimationFrame(loop);
  }

  function writeHash() {
    const c = config();
    shell.writeHash([...KNOBS.map((k) => `${k}:${c[k]}`), `compare:${compareSelect.value}`, `speed:${speedSelect.value}`].join(";"));
  }

  function reset() {
    setPlaying(false);
    view = null;          // no step until the new run has started (a Step click meanwhile waits for it)
    queued = 0;
    writeHash();
    if (!configValid()) { shell.note("A setting is out of range; fix it to run."); return; }
    shell.note("");
    shell.update();
  }

  // a state from the URL hash or a "try it" prompt (the same text "Copy link" writes)
  function apply(state) {
    for (const k of KNOBS) knob(k).value = String(state.config[k]);
    compareSelect.value = state.compare;
    speedSelect.value = String(state.speed);
    reset();
  }
  shell.followHash((v) => parseHash(v, initial), apply);
  playButton.addEventListener("click", () => { runtime.start(); setPlaying(!playing); });
  q(".tg-stepbtn").addEventListener("click", () => { setPlaying(false); advance(1, { click: true }); });
  q(".tg-reset").addEventListener("click", reset);
  q(".tg-eval").addEventListener("click", evaluate);
  speedSelect.addEventListener("change", writeHash);
  compareSelect.addEventListener("change", reset);
  figure.querySelectorAll(".tg-controls input, .tg-controls select").forEach((i) => i.addEventListener("change", reset));
  return shell;
}
