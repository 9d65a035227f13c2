// Memory demo: model + options -> demos.web.memory_json in the worker -> stacked bars PPO vs GRPO.
import { DemoShell } from "./shell.js";
import { svg, setAttrs, scale } from "./svg.js";

const W = 640, H = 215, LEFT = 70, RIGHT = 16;
const INT_FIELDS = ["group_size", "prompts_per_step", "prompt_len", "completion_len", "n_gpus"];
const fitText = (n) => (n ? `fits on ${n} × 80 GB` : "does not fit on 80 GB GPUs");
const gb = (bytes, d = 1) => `${(bytes / 1e9).toFixed(d)} GB`;

// hash value: "m:Llama-2-70B;group_size:8;...;reward:model;grad_checkpointing:1"
export function parseMemoryHash(text, initial) {
  const out = { ...initial.options };
  for (const kv of text.split(";")) {
    const [k, v] = kv.split(":");
    if (k === "m") {
      if (!initial.models.some((m) => m.name === v)) throw new Error(`unknown model ${v}`);
      out.model = v;
    } else if (INT_FIELDS.includes(k) || k === "zero_stage" || k === "lora_rank") {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${k} must be a whole number`);
      out[k] = n;
    } else if (k === "reward") {
      if (!["model", "verifier"].includes(v)) throw new Error("reward must be model or verifier");
      out.reward = v;
    } else if (k === "ppo_rollout") {
      if (!["completions", "prompts"].includes(v)) throw new Error("ppo_rollout must be completions or prompts");
      out.ppo_rollout = v;
    } else if (k === "grad_checkpointing") {
      out.grad_checkpointing = v === "1";
    } else {
      throw new Error(`unknown setting ${k}`);
    }
  }
  return out;
}

export function mountMemory(figure, runtime, initial) {
  const field = (name) => figure.querySelector(`.mem-options [name="${name}"]`);
  const rewardRadios = [...figure.querySelectorAll(`input[name="${figure.dataset.demo}-reward"]`)];
  const rolloutRadios = [...figure.querySelectorAll(`input[name="${figure.dataset.demo}-ppo_rollout"]`)];
  const more = figure.querySelector(".mem-more");
  const chartBox = figure.querySelector(".mem-chart");
  let model = initial.options.model;
  let chart = null;

  const options = () => {
    const o = { model };
    for (const k of INT_FIELDS) o[k] = Number(field(k).value);
    o.zero_stage = Number(field("zero_stage").value);
    o.lora_rank = Number(field("lora_rank").value);
    o.reward = rewardRadios.find((r) => r.checked).value;
    o.ppo_rollout = rolloutRadios.find((r) => r.checked).value;
    o.grad_checkpointing = field("grad_checkpointing").checked;
    o.micro_batch = initial.options.micro_batch;
    return o;
  };

  const shell = new DemoShell(figure, runtime, { fn: "memory_json", payload: options, render });

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
    const parts = [`m:${o.model}`, ...INT_FIELDS.map((k) => `${k}:${o[k]}`), `zero_stage:${o.zero_stage}`, `lora_rank:${o.lora_rank}`, `reward:${o.reward}`, `ppo_rollout:${o.ppo_rollout}`, `grad_checkpointing:${o.grad_checkpointing ? 1 : 0}`];
    shell.writeHash(parts.join(";"));
    shell.update();
  }

  function render(res) {
    figure.dataset.ppoBytes = String(res.ppo.total);
    figure.dataset.grpoBytes = String(res.grpo.total);
    const q = (sel) => figure.querySelector(sel);
    q(".mem-model").textContent = res.model.name;
    q(".mem-params").textContent = (res.model.params / 1e9).toFixed(2);
    q(".mem-gpus").textContent = String(res.options.n_gpus);
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
    draw(res);
    shell.announce(`${res.model.name}: PPO ${gb(res.ppo.total)} per GPU, ${fitText(res.ppo.gpus_needed_80gb)}; GRPO ${gb(res.grpo.total)}, ${fitText(res.grpo.gpus_needed_80gb)}.`);
  }

  function buildChart(res) {
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "demo-svg", role: "img", "aria-label": "Stacked bars of GB per GPU by component, PPO and GRPO (numbers in the table below)" });
    const c = { root, rows: {} };
    c.axis = root.appendChild(svg("g", { class: "ticks" }));
    ["ppo", "grpo"].forEach((alg, i) => {
      const y = 40 + i * 76;
      root.append(svg("text", { x: LEFT - 8, y: y + 24, class: "axis-title", "text-anchor": "end" }, alg.toUpperCase()));
      const segs = res.components.map((comp, j) => root.appendChild(svg("rect", { y, height: 36, class: `seg comp-${j + 1}` })));
      segs.forEach((s, j) => s.append(svg("title", {}, res.labels[res.components[j]])));
      const label = root.appendChild(svg("text", { x: LEFT, y: y - 8, class: "bar-total" }));
      c.rows[alg] = { segs, label };
    });
    c.limit = root.appendChild(svg("line", { y1: 14, y2: 160, class: "limit-line" }));
    c.limitText = root.appendChild(svg("text", { y: 12, class: "line-label", "text-anchor": "end" }, "80 GB "));
    return c;
  }

  function draw(res) {
    if (!chart) {
      chart = buildChart(res);
      const legend = document.createElement("ul");
      legend.className = "mem-legend";
      res.components.forEach((comp, j) => {
        const li = document.createElement("li");
        const sw = document.createElement("span");
        sw.className = `swatch comp-${j + 1}`;
        li.append(sw, res.labels[comp]);
        legend.append(li);
      });
      chartBox.replaceChildren(chart.root, legend);
    }
    const maxGB = Math.max(res.ppo.total, res.grpo.total, 80e9) / 1e9;
    const niceMax = maxGB * 1.02;
    const x = scale(0, niceMax, LEFT, W - RIGHT);
    const step = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000].find((s) => niceMax / s <= 6) || 10000;
    const ticks = [];
    for (let v = 0; v <= niceMax; v += step) ticks.push(v);
    chart.axis.replaceChildren(...ticks.flatMap((v) => [
      svg("line", { x1: x(v), x2: x(v), y1: 30, y2: 160, class: "grid" }),
      svg("text", { x: x(v), y: 182, class: "tick-label", "text-anchor": "middle" }, String(v)),
    ]), svg("text", { x: (LEFT + W - RIGHT) / 2, y: 208, class: "tick-label", "text-anchor": "middle" }, "GB per GPU"));
    for (const alg of ["ppo", "grpo"]) {
      let left = 0;
      res.components.forEach((comp, j) => {
        const v = res[alg].breakdown[comp] / 1e9;
        setAttrs(chart.rows[alg].segs[j], { x: x(left), width: Math.max(0, x(left + v) - x(left)) });
        left += v;
      });
      chart.rows[alg].label.textContent = `${gb(res[alg].total)} · ${fitText(res[alg].gpus_needed_80gb)}`;
    }
    setAttrs(chart.limit, { x1: x(80), x2: x(80) });
    setAttrs(chart.limitText, { x: x(80) });
  }

  // ----- wiring -----
  const fromHash = shell.readHash((text) => parseMemoryHash(text, initial));
  if (fromHash) {
    setModel(fromHash.model);
    for (const k of INT_FIELDS) field(k).value = String(fromHash[k]);
    field("zero_stage").value = String(fromHash.zero_stage);
    field("lora_rank").value = String(fromHash.lora_rank);
    rewardRadios.forEach((r) => { r.checked = r.value === fromHash.reward; });
    rolloutRadios.forEach((r) => { r.checked = r.value === fromHash.ppo_rollout; });
    field("grad_checkpointing").checked = fromHash.grad_checkpointing;
    const bad = [...INT_FIELDS.map(field), field("zero_stage"), field("lora_rank")].filter((f) => !f.checkValidity() || f.value === "");
    if (bad.length) {
      figure.querySelector(".mem-options").closest("form, .demo-main").querySelectorAll("input, select").forEach((f) => {
        if (f.type === "checkbox" || f.type === "radio") f.checked = f.defaultChecked;
        else if (f.tagName === "SELECT") f.value = [...f.options].find((opt) => opt.defaultSelected)?.value ?? f.options[0].value;
        else f.value = f.defaultValue;
      });
      setModel(initial.options.model);
      shell.note(`The settings in the link could not be used (${bad.map((f) => f.name).join(", ")} out of range); showing the defaults.`);
    } else {
      shell.update();
    }
  }
  figure.querySelectorAll("[data-model]").forEach((b) => b.addEventListener("click", () => { setModel(b.dataset.model); changed(); }));
  more.addEventListener("change", () => { if (more.value) { setModel(more.value); changed(); } });
  figure.querySelectorAll(".mem-options input, .mem-options select").forEach((i) => i.addEventListener(i.type === "number" ? "input" : "change", changed));
  return shell;
}
