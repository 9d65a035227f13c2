// Run-planner view: the reader's GPUs and trainer options -> demo.py plan() in the worker -> verdicts, one
// SVG chart (per-GPU peak by component, GRPO and PPO, against the GPU's capacity) and the plan as code.
// render(state) is the chart's only drawing: at build time in Node (first frame) and live in the browser.
import { limitedNumber } from "./hash-state.js";
import { DemoShell } from "./shell.js";
import { tag, text, svgRoot, scale } from "./svg.js";

const GiB = 2 ** 30;
const W = 440, LEFT = 10, RIGHT = 14, BAR_H = 24, ROW = 58, TOP = 46;
// one class per component; the nine chart colours of demos.css, context in the neutral grid colour
const COMP_CLASS = {
  context: "pl-ctx", policy_weights: "comp-1", policy_grads: "comp-2", optimizer: "comp-3", critic: "comp-4",
  reference: "comp-5", reward_model: "comp-6", activations: "comp-7", logits: "comp-8", engine: "comp-9",
};
const ALGS = ["grpo", "ppo"];
const gib = (bytes) => (bytes / GiB).toFixed(1);

function niceStep(max) {
  return [5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000].find((s) => max / s <= 5) || 20000;
}

// state: {result: demo.py plan_result(...)} -> SVG markup
export function render({ result: res }) {
  const cap = res.grpo.capacity;
  const max = Math.max(cap, ...ALGS.map((a) => res[a].peak)) * 1.04;
  const x = scale(0, max / GiB, LEFT, W - RIGHT);
  const step = niceStep(max / GiB);
  const axisY = TOP + ROW * ALGS.length - 12;
  const ticks = [];
  for (let v = 0; v <= max / GiB; v += step) ticks.push(v);
  const bars = ALGS.map((alg, i) => {
    const r = res[alg];
    const y = TOP + i * ROW;
    let left = 0;
    const segs = r.stack.parts.map(([name, bytes]) => {
      const v = bytes / GiB;
      const seg = tag("rect", { x: x(left), y, width: Math.max(0, x(left + v) - x(left)), height: BAR_H, class: `seg ${COMP_CLASS[name]}` },
        tag("title", {}, `${res.labels[name]}: ${gib(bytes)} GiB`));
      left += v;
      return seg;
    });
    const verdict = r.fits ? "fits" : "does not fit";
    return [
      text({ x: LEFT, y: y - 7, class: `bar-total ${r.fits ? "pl-ok" : "pl-bad"}` },
        `${alg.toUpperCase()} ${gib(r.peak)} GiB per GPU \u00b7 ${verdict}`),
      segs,
    ];
  });
  // legend with the numbers: one row per component that either algorithm has at its peak
  const names = Object.keys(COMP_CLASS).filter((n) => ALGS.some((a) => res[a].stack.parts.some(([k]) => k === n)));
  const value = (alg, name) => {
    const p = res[alg].stack.parts.find(([k]) => k === name);
    return p ? gib(p[1]) : "\u2013";
  };
  const LY = axisY + 64, LH = 22, C1 = W - 80, C2 = W - RIGHT;   // rows roomy enough for the phone's text size
  const legend = [
    text({ x: LEFT, y: LY, class: "axis-title" }, "GiB per GPU at the peak"),
    text({ x: C1, y: LY, class: "axis-title", "text-anchor": "end" }, "GRPO"),
    text({ x: C2, y: LY, class: "axis-title", "text-anchor": "end" }, "PPO"),
    names.map((n, j) => {
      const y = LY + (j + 1) * LH;
      return [
        tag("rect", { x: LEFT, y: y - 10, width: 11, height: 11, rx: 2, class: `seg ${COMP_CLASS[n]}` }),
        text({ x: LEFT + 17, y, class: "pl-leg" }, res.labels[n]),
        text({ x: C1, y, class: "pl-leg pl-num", "text-anchor": "end" }, value("grpo", n)),
        text({ x: C2, y, class: "pl-leg pl-num", "text-anchor": "end" }, value("ppo", n)),
      ];
    }),
    text({ x: LEFT, y: LY + (names.length + 1) * LH + 2, class: "pl-leg pl-phase" },
      `Peak phase: GRPO ${res.grpo.stack.phase}, PPO ${res.ppo.stack.phase}`),
  ];
  const H = LY + (names.length + 2) * LH + 6;
  const capLabel = `${res.options.gpu_gb} GB GPU`;
  return svgRoot(W, H, `Per-GPU peak memory by component for GRPO (${gib(res.grpo.peak)} GiB) and PPO (${gib(res.ppo.peak)} GiB) against the ${gib(cap)} GiB capacity`,
    tag("g", { class: "ticks" },
      ticks.map((v) => [
        tag("line", { x1: x(v), x2: x(v), y1: TOP - 2, y2: axisY, class: "grid" }),
        text({ x: x(v), y: axisY + 17, class: "tick-label", "text-anchor": v === 0 ? "start" : "middle" }, String(v)),
      ]),
      text({ x: W - RIGHT, y: axisY + 38, class: "tick-label", "text-anchor": "end" }, "GiB per GPU")),
    bars,
    tag("line", { x1: x(cap / GiB), x2: x(cap / GiB), y1: 8, y2: axisY, class: "limit-line" }),
    text({ x: x(cap / GiB) - 4, y: 14, class: "line-label", "text-anchor": "end" }, capLabel),
    legend,
  );
}

// hash value: "model:Qwen2.5-7B;gpu_gb:80;...;grad_checkpointing:1" (booleans 1/0); bounds from LIMITS.
// A model of the reader's own: "model:custom;cm:layers,hidden,heads,kv_heads,ffn,vocab,tied,qkv_bias".
export const MODEL_FIELDS = ["num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads",
  "intermediate_size", "vocab_size", "tie_word_embeddings", "qkv_bias"];

export function parseHash(value, limits) {
  const out = {};
  for (const kv of value.split(";")) {
    const i = kv.indexOf(":");
    const k = kv.slice(0, i), v = kv.slice(i + 1);
    if (k === "cm") {
      const parts = v.split(",");
      if (parts.length !== MODEL_FIELDS.length) throw new Error(`cm needs ${MODEL_FIELDS.length} numbers`);
      out.model = Object.fromEntries(MODEL_FIELDS.map((f, j) => {
        const spec = limits.model.object[f];
        return [f, spec.choices ? parts[j] === "1" : limitedNumber(f, parts[j], spec)];
      }));
      continue;
    }
    const spec = limits[k];
    if (i < 0 || !spec) throw new Error(`unknown setting ${kv}`);
    if (k === "model" && v === "custom") {
      if (!out.model || typeof out.model !== "object") out.model = "custom";
    } else if (spec.choices) {
      const choice = spec.choices.find((c) => String(typeof c === "boolean" ? Number(c) : c) === v);
      if (choice === undefined) throw new Error(`${k} must be one of ${spec.choices.join(", ")}`);
      out[k] = choice;
    } else {
      out[k] = limitedNumber(k, v, spec);
    }
  }
  if (out.model === "custom") throw new Error("model:custom needs its numbers (cm:…)");
  return out;
}

export function mount(figure, runtime, initial) {
  const L = initial.limits;
  const KEYS = Object.keys(L);
  const field = (name) => figure.querySelector(`.pl-options [name="${name}"]`);
  const NUMBERS = KEYS.filter((k) => !L[k].choices);
  const gpuType = field("gpu_type");
  const q = (sel) => figure.querySelector(sel);
  const modelBox = q(".pl-model-custom");
  const modelField = (f) => modelBox.querySelector(`[data-model-field="${f}"]`);
  const customModel = () => Object.fromEntries(MODEL_FIELDS.map((f) => {
    const input = modelField(f);
    return [f, input.type === "checkbox" ? input.checked : Number(input.value)];
  }));
  const setCustomModel = (m) => MODEL_FIELDS.forEach((f) => {
    const input = modelField(f);
    if (input.type === "checkbox") input.checked = Boolean(m[f]);
    else if (m[f] !== undefined && m[f] !== null) input.value = String(m[f]);
  });

  // a field's value as LIMITS types it: numbers, choices (numbers, strings) and booleans (checkboxes)
  const read = (k) => {
    const f = field(k);
    if (k === "model" && f.value === "custom") return customModel();
    if (f.type === "checkbox") return f.checked;
    if (!L[k].choices) return Number(f.value);
    return L[k].choices.find((c) => String(c) === f.value);
  };
  const write = (k, v) => {
    const f = field(k);
    if (k === "model" && typeof v === "object") {
      f.value = "custom";
      setCustomModel(v);
      return;
    }
    if (f.type === "checkbox") f.checked = Boolean(v);
    else f.value = String(v);
  };
  const options = () => Object.fromEntries(KEYS.map((k) => [k, read(k)]));

  // which controls apply: the custom size, vLLM's options by engine, parameter offload needs ZeRO-3
  function sync() {
    modelBox.hidden = field("model").value !== "custom";
    const custom = gpuType.value === "custom";
    q(".pl-custom").hidden = !custom;
    if (!custom) field("gpu_gb").value = gpuType.value;
    const engine = field("engine").value;
    figure.querySelectorAll(".pl-vllm").forEach((e) => { e.hidden = engine === "hf"; });
    q(".pl-server").hidden = engine !== "vllm_server";
    q(".pl-colocate").hidden = engine !== "vllm_colocate";
    const z3 = field("zero_stage").value === "3";
    field("offload_params").disabled = !z3;
    if (!z3) field("offload_params").checked = false;
  }

  const shell = new DemoShell(figure, runtime, { fn: "plan", payload: options, render: show });

  function problems(o) {
    const inputs = [...NUMBERS.map(field), ...(typeof o.model === "object" ? MODEL_FIELDS.map(modelField) : [])]
      .filter((f) => f.type === "number");
    const bad = inputs.filter((f) => !f.checkValidity() || f.value === "")
      .map((f) => `${f.closest("label").textContent.trim()} (${f.min} to ${f.max})`);
    if (!bad.length && o.engine === "vllm_server" && o.vllm_gpus >= o.n_gpus) {
      bad.push(`vLLM GPUs must leave at least one of the ${o.n_gpus} GPUs for training`);
    }
    return bad;
  }

  function changed() {
    sync();
    const o = options();
    const bad = problems(o);
    shell.note(bad.length ? `Not valid: ${bad.join("; ")}. The numbers use the last valid settings.` : "");
    if (bad.length) return;
    const hashValue = (k) => (typeof o[k] === "boolean" ? Number(o[k]) : o[k]);
    const custom = typeof o.model === "object";
    shell.writeHash([...KEYS.map((k) => (k === "model" && custom ? "model:custom" : `${k}:${hashValue(k)}`)),
      ...(custom ? [`cm:${MODEL_FIELDS.map((f) => (typeof o.model[f] === "boolean" ? Number(o.model[f]) : o.model[f])).join(",")}`] : [])].join(";"));
    shell.update();
  }

  function show(res) {
    for (const alg of ["grpo", "ppo"]) {
      const r = res[alg];
      figure.dataset[`${alg}Peak`] = String(r.peak);
      const box = q(`.pl-verdict[data-alg="${alg}"]`);
      box.classList.toggle("pl-fits", r.fits);
      box.classList.toggle("pl-nofit", !r.fits);
      box.querySelector(".pl-head").textContent = r.headline;
      box.querySelector(".pl-text").textContent = r.text;
      const change = box.querySelector(".pl-change");
      change.textContent = r.change_text;
      change.hidden = !r.change_text;
    }
    figure.querySelectorAll(".pl-code").forEach((c) => { c.textContent = res.code[c.dataset.code]; });
    q(".pl-chart").innerHTML = render({ result: res });
    shell.announce(`GRPO: ${res.grpo.text} PPO: ${res.ppo.text}`);
  }

  // number fields change only by typing or their arrows: a wheel over a focused field scrolls the page
  figure.querySelectorAll('.pl-options input[type="number"]').forEach((f) => f.addEventListener("wheel", () => f.blur(), { passive: true }));

  // ----- wiring -----
  // a state from the URL hash or a "try it" prompt (the same text "Copy link" writes); unnamed inputs: defaults
  function apply(fromHash) {
    const o = { ...initial.options, ...fromHash };
    for (const k of KEYS) write(k, o[k]);
    gpuType.value = initial.gpu_sizes.includes(o.gpu_gb) ? String(o.gpu_gb) : "custom";
    changed();
  }
  sync();
  shell.followHash((value) => parseHash(value, L), apply);
  // a pasted config.json fills the numbers (JSON.parse only; unknown keys are ignored, as the planner needs none)
  modelBox.querySelector('[name="config_json"]').addEventListener("input", (e) => {
    const text = e.target.value.trim();
    if (!text) return;
    let cfg;
    try {
      cfg = JSON.parse(text);
      if (!cfg || typeof cfg !== "object" || Array.isArray(cfg)) throw new Error("it is not a JSON object");
    } catch (err) {
      shell.note(`That config.json could not be read (${err.message}); the numbers below are unchanged.`);
      return;
    }
    const missing = ["num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "vocab_size"].filter((f) => !(f in cfg));
    if (missing.length) {
      shell.note(`That config.json has no ${missing.join(", ")}; the numbers below are unchanged.`);
      return;
    }
    setCustomModel({ ...cfg, num_key_value_heads: cfg.num_key_value_heads ?? cfg.num_attention_heads,
      qkv_bias: Boolean(cfg.qkv_bias ?? (cfg.model_type === "qwen2" || cfg.attention_bias)) });
    changed();
  });
  gpuType.addEventListener("change", changed);
  figure.querySelectorAll(".pl-options input, .pl-options select").forEach((i) => {
    if (i !== gpuType) i.addEventListener(i.type === "number" ? "input" : "change", changed);   // incl. the model's numbers
  });
  return shell;
}
