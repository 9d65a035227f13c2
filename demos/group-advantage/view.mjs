// Group-advantage view: reward sliders -> demo.py advantages() in the worker -> one SVG chart.
// render(state) is the chart's only drawing: at build time in Node (first frame) and live in the browser.
import { DemoShell } from "./shell.js";
import { tag, text, svgRoot, scale, signed, spread } from "./svg.js";

// Layout in SVG units. On phones the text is drawn at about 21-24 units (demos.css doubles it), so every gap
// that separates two labels is at least 24 units: the title band, the line labels, the bar labels and the x ticks.
const W = 640, H = 448, LEFT = 58, RIGHT = 72;
const TOP_PANEL = [48, 172], BOTTOM_PANEL = [254, 382];
const ADV_TITLE_Y = 218, LABEL_GAP = 24;

function ticks(values, y, fmt) {
  return values.map((v) => [
    tag("line", { x1: LEFT - 4, x2: W - RIGHT, y1: y(v), y2: y(v), class: "grid" }),
    text({ x: LEFT - 8, y: y(v) + 4, class: "tick-label", "text-anchor": "end" }, fmt(v)),
  ]);
}

// state: {rewards: [G], result: {advantages: [G], mean, std}} -> SVG markup
export function render({ rewards, result }) {
  const n = rewards.length;
  const x = scale(0, n, LEFT, W - RIGHT);
  const bw = ((W - RIGHT - LEFT) / n) * 0.6;
  const yr = scale(0, 1, TOP_PANEL[1], TOP_PANEL[0]);
  const lim = Math.max(2, ...result.advantages.map((a) => Math.abs(a) * 1.1));
  const ya = scale(-lim, lim, BOTTOM_PANEL[1], BOTTOM_PANEL[0]);
  const step = lim > 4 ? 2 : 1;
  const at = [];
  for (let v = -Math.floor(lim / step) * step; v <= lim; v += step) at.push(v);
  const clampR = (v) => yr(Math.min(1.08, Math.max(-0.08, v)));
  const lines = [["mean", result.mean, "mean-line"], ["+std", result.mean + result.std, "std-line"], ["\u2212std", result.mean - result.std, "std-line"]];
  const labelY = spread(lines.map(([, v]) => clampR(v) + 6), LABEL_GAP, TOP_PANEL[0] - 4, TOP_PANEL[1] + 20);
  const bars = rewards.map((r, i) => {
    const cx = x(i + 0.5);
    const a = result.advantages[i];
    return [
      tag("rect", { x: cx - bw / 2, width: bw, y: yr(r), height: Math.max(0, yr(0) - yr(r)), class: "bar reward" }),
      tag("rect", { x: cx - bw / 2, width: bw, y: Math.min(ya(a), ya(0)), height: Math.abs(ya(a) - ya(0)), class: `bar adv ${a < 0 ? "neg" : "pos"}` }),
      text({ x: cx, y: a >= 0 ? ya(a) - 5 : ya(a) + 19, class: "bar-label", "text-anchor": "middle" }, signed(a)),
      text({ x: cx, y: H - 10, class: "tick-label", "text-anchor": "middle" }, `#${i + 1}`),
    ];
  });
  return svgRoot(W, H, "Rewards with group mean and ±std, and the advantages",
    text({ x: LEFT, y: 26, class: "axis-title" }, "reward rᵢ"),
    text({ x: LEFT, y: ADV_TITLE_Y, class: "axis-title" }, "advantage Âᵢ"),
    tag("g", { class: "ticks" }, ticks([0, 0.5, 1], yr, (v) => v.toFixed(1))),
    tag("g", { class: "ticks" }, ticks(at, ya, (v) => (v > 0 ? `+${v}` : v < 0 ? `\u2212${-v}` : "0"))),
    bars,
    lines.map(([label, v, cls], j) => [
      tag("line", { x1: LEFT, x2: W - RIGHT, y1: clampR(v), y2: clampR(v), class: cls }),
      text({ x: W - RIGHT + 6, y: labelY[j], class: "line-label" }, label),
    ]),
    tag("line", { x1: LEFT, x2: W - RIGHT, y1: ya(0), y2: ya(0), class: "zero-line" }),
  );
}

// hash value: "g:mixed;r:1,0,0.7,...;n:1;d:1;b:mean"; bounds from the demo's LIMITS
export function parseHash(textValue, count, limits) {
  const fields = Object.fromEntries(textValue.split(";").map((kv) => kv.split(":")));
  const { min, max } = limits.rewards.items;
  const rewards = (fields.r || "").split(",").map(Number);
  if (rewards.length !== count || rewards.some((r) => !Number.isFinite(r) || r < min || r > max)) {
    throw new Error(`expected ${count} rewards between ${min} and ${max}`);
  }
  const out = { rewards, group: fields.g, normalise: fields.n !== "0", ddof: Number(fields.d ?? limits.ddof.default), baseline: fields.b || limits.baseline.default };
  if (!limits.ddof.choices.includes(out.ddof)) throw new Error("std must be d:0 or d:1");
  if (!limits.baseline.choices.includes(out.baseline)) throw new Error("unknown baseline");
  return out;
}

export function mount(figure, runtime, initial) {
  const sliders = [...figure.querySelectorAll(".ga-slider")];
  const rows = sliders.map((s) => s.closest(".ga-row"));
  const chartBox = figure.querySelector(".ga-chart");
  let group = initial.group;

  const radios = (name) => [...figure.querySelectorAll(`input[name="${figure.dataset.demo}-${name}"]`)];
  const checked = (name) => radios(name).find((r) => r.checked).value;
  const setRadio = (name, value) => radios(name).forEach((r) => { r.checked = r.value === String(value); });

  const options = () => ({
    rewards: sliders.map((s) => Number(s.value)),
    normalise: checked("norm") === "on",
    ddof: Number(checked("ddof")),
    baseline: checked("baseline"),
  });

  const shell = new DemoShell(figure, runtime, { fn: "advantages", payload: options, render: show });

  function setGroup(key) {
    group = key;
    const g = initial.groups[key];
    figure.querySelectorAll("[data-group]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.group === key)));
    rows.forEach((row, i) => { row.querySelector(".ga-text").lastChild.textContent = ` ${g.completions[i]}`; });
    return g;
  }

  function syncOptions() {
    const o = options();
    radios("ddof").forEach((r) => { r.disabled = !o.normalise; });
    figure.querySelector(".ga-ddof").classList.toggle("is-disabled", !o.normalise);
    return o;
  }

  function changed() {
    const o = syncOptions();
    sliders.forEach((s, i) => { s.nextElementSibling.textContent = o.rewards[i].toFixed(2); });
    shell.writeHash(`g:${group};r:${o.rewards.join(",")};n:${o.normalise ? 1 : 0};d:${o.ddof};b:${o.baseline}`);
    shell.update();
  }

  function show(res) {
    res.advantages.forEach((a, i) => {
      const adv = rows[i].querySelector(".ga-adv");
      adv.dataset.advantage = String(a);
      adv.classList.toggle("neg", a < 0);
      rows[i].querySelector(".ga-adv-value").textContent = signed(a);
      sliders[i].setAttribute("aria-valuetext", `reward ${res.rewards[i].toFixed(2)}, advantage ${signed(a).replace("\u2212", "-")}`);
    });
    figure.querySelector(".ga-mean").textContent = res.mean.toFixed(3);
    figure.querySelector(".ga-std").textContent = res.std.toFixed(3);
    const sum = figure.querySelector(".ga-sum");
    sum.dataset.sum = String(res.sum);
    sum.textContent = res.sum === 0 ? "0" : res.sum.toExponential(1);
    figure.querySelector(".ga-equal").hidden = !res.all_equal;
    chartBox.innerHTML = render({ rewards: res.rewards, result: res });   // the rewards this answer is for
    shell.announce(`Mean ${res.mean.toFixed(2)}, std ${res.std.toFixed(2)}. Advantages: ${res.advantages.map((a) => signed(a).replace("\u2212", "minus ")).join(", ")}.`);
  }

  // a state from the URL hash or a "try it" prompt (the same text "Copy link" writes)
  function apply(state) {
    if (initial.groups[state.group]) setGroup(state.group);
    sliders.forEach((s, i) => { s.value = String(state.rewards[i]); });
    setRadio("norm", state.normalise ? "on" : "off");
    setRadio("ddof", state.ddof);
    setRadio("baseline", state.baseline);
    changed();
  }

  // ----- wiring -----
  shell.followHash((t) => parseHash(t, sliders.length, initial.limits), apply);
  syncOptions();
  sliders.forEach((s) => s.addEventListener("input", changed));
  figure.querySelectorAll(".demo-choice input").forEach((r) => r.addEventListener("change", changed));
  figure.querySelectorAll("[data-group]").forEach((b) => b.addEventListener("click", () => {
    const g = setGroup(b.dataset.group);
    sliders.forEach((s, i) => { s.value = String(g.rewards[i]); });
    changed();
  }));
  return shell;
}
