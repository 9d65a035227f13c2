// Group-advantage demo: 8 reward sliders -> demos.web.advantages in the worker -> SVG bar chart.
import { DemoShell } from "./shell.js";
import { svg, setAttrs, scale, signed } from "./svg.js";

const W = 640, H = 420, LEFT = 58, RIGHT = 60;
const TOP_PANEL = [34, 178], BOTTOM_PANEL = [232, 385];

// hash value: "g:mixed;r:1,0,0.7,...;n:1;d:1;b:mean"
export function parseGroupHash(text, count) {
  const fields = Object.fromEntries(text.split(";").map((kv) => kv.split(":")));
  const rewards = (fields.r || "").split(",").map(Number);
  if (rewards.length !== count || rewards.some((r) => !Number.isFinite(r) || r < 0 || r > 1)) {
    throw new Error(`expected ${count} rewards between 0 and 1`);
  }
  const out = { rewards, group: fields.g, normalise: fields.n !== "0", ddof: Number(fields.d ?? 1), baseline: fields.b || "mean" };
  if (![0, 1].includes(out.ddof)) throw new Error("std must be d:0 or d:1");
  if (!["mean", "leave_one_out"].includes(out.baseline)) throw new Error("unknown baseline");
  return out;
}

export function mountGroupAdvantage(figure, runtime, initial) {
  const sliders = [...figure.querySelectorAll(".ga-slider")];
  const rows = sliders.map((s) => s.closest(".ga-row"));
  const chartBox = figure.querySelector(".ga-chart");
  let group = initial.group;
  let result = initial.result;
  let chart = null;

  const radios = (name) => [...figure.querySelectorAll(`input[name="${figure.dataset.demo}-${name}"]`)];
  const checked = (name) => radios(name).find((r) => r.checked).value;
  const setRadio = (name, value) => radios(name).forEach((r) => { r.checked = r.value === String(value); });

  const options = () => ({
    rewards: sliders.map((s) => Number(s.value)),
    normalise: checked("norm") === "on",
    ddof: Number(checked("ddof")),
    baseline: checked("baseline"),
  });

  const shell = new DemoShell(figure, runtime, {
    fn: "advantages_json",
    payload: options,
    render,
  });

  function setGroup(key) {
    group = key;
    const g = initial.groups[key];
    figure.querySelectorAll("[data-group]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.group === key)));
    rows.forEach((row, i) => {
      row.querySelector(".ga-text").lastChild.textContent = ` ${g.completions[i]}`;
    });
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

  function render(res) {
    result = res;
    const o = options();
    res.advantages.forEach((a, i) => {
      const row = rows[i];
      const adv = row.querySelector(".ga-adv");
      adv.dataset.advantage = String(a);
      adv.classList.toggle("neg", a < 0);
      row.querySelector(".ga-adv-value").textContent = signed(a);
      sliders[i].setAttribute("aria-valuetext", `reward ${o.rewards[i].toFixed(2)}, advantage ${signed(a).replace("\u2212", "-")}`);
    });
    figure.querySelector(".ga-mean").textContent = res.mean.toFixed(3);
    figure.querySelector(".ga-std").textContent = res.std.toFixed(3);
    const sum = figure.querySelector(".ga-sum");
    sum.dataset.sum = String(res.sum);
    sum.textContent = res.sum === 0 ? "0" : res.sum.toExponential(1);
    figure.querySelector(".ga-equal").hidden = !res.all_equal;
    draw(o.rewards, res);
    shell.announce(`Mean ${res.mean.toFixed(2)}, std ${res.std.toFixed(2)}. Advantages: ${res.advantages.map((a) => signed(a).replace("\u2212", "minus ")).join(", ")}.`);
  }

  function buildChart() {
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "demo-svg", role: "img", "aria-label": "Rewards with group mean and ±std, and the advantages" });
    const g = { root, rBars: [], aBars: [], labels: [] };
    root.append(svg("text", { x: LEFT, y: 16, class: "axis-title" }, "reward rᵢ  (line: group mean, dashed: ±std)"));
    root.append(svg("text", { x: LEFT, y: BOTTOM_PANEL[0] - 14, class: "axis-title" }, "advantage Âᵢ"));
    g.rTicks = svg("g", { class: "ticks" });
    g.aTicks = svg("g", { class: "ticks" });
    root.append(g.rTicks, g.aTicks);
    const n = sliders.length;
    const x = scale(0, n, LEFT, W - RIGHT);
    const bw = ((W - RIGHT - LEFT) / n) * 0.6;
    for (let i = 0; i < n; i++) {
      const cx = x(i + 0.5);
      g.rBars.push(root.appendChild(svg("rect", { x: cx - bw / 2, width: bw, class: "bar reward" })));
      g.aBars.push(root.appendChild(svg("rect", { x: cx - bw / 2, width: bw, class: "bar adv" })));
      root.append(svg("text", { x: cx, y: H - 14, class: "tick-label", "text-anchor": "middle" }, `#${i + 1}`));
      g.labels.push(root.appendChild(svg("text", { x: cx, class: "bar-label", "text-anchor": "middle" })));
    }
    g.mean = root.appendChild(svg("line", { x1: LEFT, x2: W - RIGHT, class: "mean-line" }));
    g.plus = root.appendChild(svg("line", { x1: LEFT, x2: W - RIGHT, class: "std-line" }));
    g.minus = root.appendChild(svg("line", { x1: LEFT, x2: W - RIGHT, class: "std-line" }));
    g.meanText = root.appendChild(svg("text", { x: W - RIGHT + 6, class: "line-label" }, "mean"));
    g.plusText = root.appendChild(svg("text", { x: W - RIGHT + 6, class: "line-label" }, "+std"));
    g.minusText = root.appendChild(svg("text", { x: W - RIGHT + 6, class: "line-label" }, "−std"));
    g.zero = root.appendChild(svg("line", { x1: LEFT, x2: W - RIGHT, class: "zero-line" }));
    return g;
  }

  function ticks(group, values, y, fmt) {
    group.replaceChildren(...values.flatMap((v) => [
      svg("line", { x1: LEFT - 4, x2: W - RIGHT, y1: y(v), y2: y(v), class: "grid" }),
      svg("text", { x: LEFT - 8, y: y(v) + 4, class: "tick-label", "text-anchor": "end" }, fmt(v)),
    ]));
  }

  function draw(rewards, res) {
    if (!chart) {
      chart = buildChart();
      chartBox.replaceChildren(chart.root);
    }
    const yr = scale(0, 1, TOP_PANEL[1], TOP_PANEL[0]);
    const lim = Math.max(2, ...res.advantages.map((a) => Math.abs(a) * 1.15));
    const ya = scale(-lim, lim, BOTTOM_PANEL[1], BOTTOM_PANEL[0]);
    ticks(chart.rTicks, [0, 0.5, 1], yr, (v) => v.toFixed(1));
    const step = lim > 4 ? 2 : 1;
    const at = [];
    for (let v = -Math.floor(lim / step) * step; v <= lim; v += step) at.push(v);
    ticks(chart.aTicks, at, ya, (v) => (v > 0 ? `+${v}` : v < 0 ? `−${-v}` : "0"));
    rewards.forEach((r, i) => {
      setAttrs(chart.rBars[i], { y: yr(r), height: Math.max(0, yr(0) - yr(r)) });
      const a = res.advantages[i];
      setAttrs(chart.aBars[i], { y: Math.min(ya(a), ya(0)), height: Math.abs(ya(a) - ya(0)), class: `bar adv ${a < 0 ? "neg" : "pos"}` });
      setAttrs(chart.labels[i], { y: a >= 0 ? ya(a) - 5 : ya(a) + 14 });
      chart.labels[i].textContent = signed(a);
    });
    const clampR = (v) => yr(Math.min(1.08, Math.max(-0.08, v)));
    for (const [line, text, v] of [[chart.mean, chart.meanText, res.mean], [chart.plus, chart.plusText, res.mean + res.std], [chart.minus, chart.minusText, res.mean - res.std]]) {
      setAttrs(line, { y1: clampR(v), y2: clampR(v) });
      setAttrs(text, { y: clampR(v) + 4 });
    }
    setAttrs(chart.zero, { y1: ya(0), y2: ya(0) });
  }

  // ----- wiring -----
  const fromHash = shell.readHash((text) => parseGroupHash(text, sliders.length));
  if (fromHash) {
    if (initial.groups[fromHash.group]) setGroup(fromHash.group);
    sliders.forEach((s, i) => { s.value = String(fromHash.rewards[i]); });
    setRadio("norm", fromHash.normalise ? "on" : "off");
    setRadio("ddof", fromHash.ddof);
    setRadio("baseline", fromHash.baseline);
    syncOptions();
    sliders.forEach((s, i) => { s.nextElementSibling.textContent = Number(s.value).toFixed(2); });
    runtime.start();
  }
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
