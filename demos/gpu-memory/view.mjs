// GPU-memory view: model + options -> demo.py breakdown() in the worker -> stacked bars PPO vs GRPO.
// render(state) is the chart's only drawing: at build time in Node (first frame) and live in the browser.
import { DemoShell } from "./shell.js";
import { tag, text, svgRoot, scale } from "./svg.js";

const W = 640, H = 215, LEFT = 70, RIGHT = 16;
const fitText = (n) => (n ? `fits on ${n} × 80 GB` : "does not fit on 80 GB GPUs");
const gb = (bytes, d = 1) => `${(bytes / 1e9).toFixed(d)} GB`;
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// state: {result: memory.compare(...)} -> SVG markup
export function render({ result: res }) {
  const niceMax = (Math.max(res.ppo.total, res.grpo.total, 80e9) / 1e9) * 1.02;
  const x = scale(0, niceMax, LEFT, W - RIGHT);
  const step = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000].find((s) => niceMax / s <= 6) || 10000;
  const ticks = [];
  for (let v = 0; v <= niceMax; v += step) ticks.push(v);
  const rows = ["ppo", "grpo"].map((alg, i) => {
    const y = 40 + i * 76;
    let left = 0;
    const segs = res.components.map((comp, j) => {
      const v = res[alg].breakdown[comp] / 1e9;
      const seg = tag("rect", { x: x(left), y, width: Math.max(0, x(left + v) - x(left)), height: 36, class: `seg comp-${j + 1}` },
        tag("title", {}, `${res.labels[comp]}: ${v.toFixed(2)} GB`));
      left += v;
      return seg;
    });
    return [
      text({ x: LEFT - 8, y: y + 24, class: "axis-title", "text-anchor": "end" }, alg.toUpperCase()),
      segs,
      text({ x: LEFT, y: y - 8, class: "bar-total" }, `${gb(res[alg].total)} · ${fitText(res[alg].gpus_needed_80gb)}`),
    ];
  });
  return svgRoot(W, H, "Stacked bars of GB per GPU by component, PPO and GRPO (numbers in the table below)",
    tag("g", { class: "ticks" },
      ticks.map((v) => [
        tag("line", { x1: x(v), x2: x(v), y1: 30, y2: 160, class: "grid" }),
        text({ x: x(v), y: 182, class: "tick-label", "text-anchor": "middle" }, String(v)),
      ]),
      text({ x: (LEFT + W - RIGHT) / 2, y: 208, class: "tick-label", "text-anchor": "middle" }, "GB per GPU")),
    rows,
    tag("line", { x1: x(80), x2: x(80), y1: 14, y2: 160, class: "limit-line" }),
    text({ x: x(80), y: 12, class: "line-label", "text-anchor": "end" }, "80 GB "),
  );
}

// hash value: "m:Llama-2-70B;group_size:8;...;reward:model;grad_checkpointing:1"; bounds from LIMITS
export function parseHash(value, limits) {
  const out = {};
  for (const kv of value.split(";")) {
    const [k0, v] = kv.split(":");
    const k = k0 === "m" ? "model" : k0;
    const spec = limits[k];
    if (!spec) throw new Error(`unknown setting ${k0}`);
    if (spec.choices) {
      const choice = spec.choices.find((c) => String(typeof c === "boolean" ? Number(c) : c) === v);
      if (choice === undefined) throw new Error(`${k} must be one of ${spec.choices.join(", ")}`);
      out[k] = choice;
    } else {
      const n = Number(v);
      if (!Number.isFinite(n) || n < spec.min || n > spec.max || (spec.integer && !Number.isInteger(n))) {
        throw new Error(`${k} must be between ${spec.min} and ${spec.max}`);
      }
      out[k] = n;
    }
  }
  return out;
}

export function mount(figure, runtime, initial) {
  const L = initial.limits;
  const INT_FIELDS = Object.keys(L).filter((k) => L[k].integer && k !== "micro_batch");
  const field = (name) => figure.querySelector(`.mem-options [name="${name}"]`);
  const radios = (name) => [...figure.querySelectorAll(`input[name="${figure.dataset.demo}-${name}"]`)];
  const more = figure.querySelector(".mem-more");
  const chartBox = figure.querySelector(".mem-chart");
  let model = initial.options.model;

  const options = () => {
    const o = { model };
    for (const k of INT_FIELDS) o[k] = Number(field(k).value);
    o.zero_stage = Number(field("zero_stage").value);
    o.lora_rank = Number(field("lora_rank").value);
    o.reward = radios("reward").find((r) => r.checked).value;
    o.ppo_rollout = radios("ppo_rollout").find((r) => r.checked).value;
    o.grad_checkpointing = field("grad_checkpointing").checked;
    o.micro_batch = initial.options.micro_batch;
    return o;
  };

  const shell = new DemoShell(figure, runtime, { fn: "breakdown", payload: options, render: show });

  function setModel(name) {
    model = name;
    figure.querySelectorAll("[data-model]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.model === name)));
    more.value = initial.prominent.includes(name) ? "" : name;
  }

  function changed() {
    const o = options();
    const bad = INT_FIELDS.filter((k) => !field(k).checkValidity() || field(k).value === "");
    shell.note(bad.length ? `Out of range: ${bad.map((k) => field(k).closest("label").textContent.trim()).join(", ")}; the numbers use the last valid value.` : "");
    if (bad.length) return;
    const bool = (b) => (b ? 1 : 0);
    shell.writeHash([`m:${o.model}`, ...INT_FIELDS.map((k) => `${k}:${o[k]}`), `zero_stage:${o.zero_stage}`, `lora_rank:${o.lora_rank}`,
      `reward:${o.reward}`, `ppo_rollout:${o.ppo_rollout}`, `grad_checkpointing:${bool(o.grad_checkpointing)}`].join(";"));
    shell.update();
  }

  function show(res) {
    figure.dataset.ppoBytes = String(res.ppo.total);
    figure.dataset.grpoBytes = String(res.grpo.total);
    const q = (sel) => figure.querySelector(sel);
    q(".mem-model").textContent = res.model.name;
    q(".mem-params").textContent = (res.model.params / 1e9).toFixed(2);
    q(".mem-gpus").textContent = plural(res.options.n_gpus, "GPU");
    q(".mem-ppo-total").textContent = gb(res.ppo.total);
    q(".mem-grpo-total").textContent = gb(res.grpo.total);
    q(".mem-ppo-fit").textContent = fitText(res.ppo.gpus_needed_80gb);
    q(".mem-grpo-fit").textContent = fitText(res.grpo.gpus_needed_80gb);
    q(".mem-ratio").textContent = res.ratio.toFixed(2);
    q(".mem-ms-ratio").textContent = res.model_state_ratio.toFixed(2);
    for (const c of res.components) {
      const row = q(`tr[data-component="${c}"]`);
      row.querySelector(".mem-ppo").textContent = (res.ppo.breakdown[c] / 1e9).toFixed(2);
      row.querySelector(".mem-grpo").textContent = (res.grpo.breakdown[c] / 1e9).toFixed(2);
    }
    q(".mem-ppo-sum").textContent = (res.ppo.total / 1e9).toFixed(2);
    q(".mem-grpo-sum").textContent = (res.grpo.total / 1e9).toFixed(2);
    chartBox.innerHTML = render({ result: res });
    shell.announce(`${res.model.name}: PPO ${gb(res.ppo.total)} per GPU, ${fitText(res.ppo.gpus_needed_80gb)}; GRPO ${gb(res.grpo.total)}, ${fitText(res.grpo.gpus_needed_80gb)}.`);
  }

  // number fields change only by typing or their arrows: a wheel over a focused field scrolls the page
  figure.querySelectorAll('.mem-options input[type="number"]').forEach((f) => f.addEventListener("wheel", () => f.blur(), { passive: true }));

  // ----- wiring -----
  const fromHash = shell.readHash((value) => parseHash(value, L));
  if (fromHash) {
    const o = { ...initial.options, ...fromHash };
    setModel(o.model);
    for (const k of INT_FIELDS) field(k).value = String(o[k]);
    field("zero_stage").value = String(o.zero_stage);
    field("lora_rank").value = String(o.lora_rank);
    radios("reward").forEach((r) => { r.checked = r.value === o.reward; });
    radios("ppo_rollout").forEach((r) => { r.checked = r.value === o.ppo_rollout; });
    field("grad_checkpointing").checked = o.grad_checkpointing;
    shell.update();
  }
  figure.querySelectorAll("[data-model]").forEach((b) => b.addEventListener("click", () => { setModel(b.dataset.model); changed(); }));
  more.addEventListener("change", () => { if (more.value) { setModel(more.value); changed(); } });
  figure.querySelectorAll(".mem-options input, .mem-options select").forEach((i) => i.addEventListener(i.type === "number" ? "input" : "change", changed));
  return shell;
}
