"""The planner against published measurements: each row a source, its setting, the measured figure; the
prediction and the error are computed here (``table()``), never typed. Settings a source does not state are
the trainer's defaults at the time, listed in ``assumed``.

Kinds: "run" (a whole run's peak per GPU, as nvidia-smi shows it: it includes PyTorch's cached blocks),
"component" (one term measured on its own), "bound" (a run that worked on GPUs of a given size: the
prediction must be below it). The error band the planner shows is the largest |error| of the "run" rows.
"""

from __future__ import annotations

from dataclasses import replace

from demos import planner as P

MiB = 2**20

QWEN3_0_6B = {"name": "Qwen3-0.6B", "hf_id": "Qwen/Qwen3-0.6B", "hidden_size": 1024, "intermediate_size": 3072,
              "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
              "vocab_size": 151936, "tie_word_embeddings": True}
QWEN3_1_7B = dict(QWEN3_0_6B, name="Qwen3-1.7B", hf_id="Qwen/Qwen3-1.7B", hidden_size=2048, intermediate_size=6144)

# TRL 0.17.0 (May 2025) defaults where the report is silent: beta 0.04, bf16 off and the model loaded in
# float32 (no torch_dtype), HF generate (use_vllm False), gradient checkpointing off.
_TRL_0_17_RUN = dict(gpu_gb=80, n_gpus=1, prompt_len=2048, completion_len=1024, micro_batch=4, group_size=4,
                     prompts_per_step=1, beta=0.04, grad_checkpointing=False, zero_stage=0, engine="hf",
                     precision="fp32")

ROWS = (
    {
        "source": "TRL issue 3456",
        "url": "https://github.com/huggingface/trl/issues/3456",
        "kind": "run",
        "plan": P.Plan(model=QWEN3_0_6B, **_TRL_0_17_RUN),
        "setting": "1 × A100-80GB, TRL GRPOTrainer, batch 4, prompt ≤ 2048, completion ≤ 1024",
        "assumed": "TRL 0.17 defaults: fp32, β = 0.04, HF generate, no checkpointing; G ≤ 4",
        "measured": 49273 * MiB,
    },
    {
        "source": "TRL issue 3456",
        "url": "https://github.com/huggingface/trl/issues/3456",
        "kind": "run",
        "plan": P.Plan(model=QWEN3_1_7B, **_TRL_0_17_RUN),
        "setting": "1 × A100-80GB, TRL GRPOTrainer, batch 4, prompt ≤ 2048, completion ≤ 1024",
        "assumed": "TRL 0.17 defaults: fp32, β = 0.04, HF generate, no checkpointing; G ≤ 4",
        "measured": 78147 * MiB,
    },
    {
        "source": "verl tuning script, 7B on 2 × H800",
        "url": "https://github.com/volcengine/verl/blob/main/examples/tuning/7b/qwen2-7b_grpo_2_h800_fsdp_vllm.sh",
        "kind": "bound",
        "plan": P.Plan(model="Qwen2.5-7B", gpu_gb=80, n_gpus=2, group_size=5, prompt_len=1024, completion_len=1024,
                       prompts_per_step=1024, micro_batch=16, beta=0.001, zero_stage=3, offload_optimizer=True,
                       offload_params=True, engine="vllm_colocate", vllm_util=0.6, vllm_tp=2, engine_sleeps=True),
        "model": "Qwen2-7B",
        "setting": "2 × H800-80GB, FSDP with param and optimizer offload, vLLM share 0.6, n = 5, micro-batch 16",
        "assumed": "Qwen2-7B has Qwen2.5-7B's architecture; verl frees vLLM's cache while training",
        "measured": 80 * P.GiB,
    },
)

COMPONENT_ROWS = (
    {
        "source": "open-r1 issue 615",
        "url": "https://github.com/huggingface/open-r1/issues/615",
        "what": "GRPO loss logits, batch 16 × 2048 completion tokens × 151,936 vocabulary (H200)",
        "elements": 16 * 2048 * 151936,
        "measured": 46e9,  # "reduce 46G memory": the saving of a fused kernel that keeps none of them
    },
    {
        "source": "TRL issue 3678",
        "url": "https://github.com/huggingface/trl/issues/3678",
        "what": "per-token log-prob forward, batch 2 × 256 tokens × 151,665 vocabulary (H100)",
        "elements": 2 * 256 * 151665,
        "measured": (902 - 44) * 1e6,  # peak allocated minus allocated before the forward, MB
    },
)


def predict(row: dict) -> float:
    """The planner's peak bytes per GPU for a row's plan."""
    return P.verdict(row["plan"])["peak"]


def relative_error(predicted: float, measured: float) -> float:
    """(predicted - measured) / measured: negative = the planner predicts too little."""
    return (predicted - measured) / measured


def table() -> list[dict]:
    """Calibration rows with "predicted" and "error" (relative; for "bound" rows None and "ok": predicted
    <= measured bound)."""
    out = []
    for row in ROWS:
        pred = predict(row)
        r = {k: v for k, v in row.items() if k != "plan"}
        r["model"] = row.get("model") or P.memory.resolve_model(row["plan"].model).name
        r["predicted"] = pred
        if row["kind"] == "bound":
            r["error"], r["ok"] = None, pred <= row["measured"]
        else:
            r["error"], r["ok"] = relative_error(pred, row["measured"]), None
        out.append(r)
    return out


def component_table() -> list[dict]:
    """The logits rows: measured bytes per element against ``planner.logit_bytes_per_element('bf16')``."""
    per = P.logit_bytes_per_element("bf16")
    return [dict(row, predicted=per * row["elements"],
                 error=relative_error(per * row["elements"], row["measured"])) for row in COMPONENT_ROWS]


def error_band() -> float:
    """Largest |relative error| over the whole-run rows: the band the planner shows beside its verdict."""
    return max(abs(r["error"]) for r in table() if r["kind"] == "run")


def _gib(x: float) -> str:
    return f"{x / P.GiB:.1f} GiB"


def _pct(x: float) -> str:
    return f"{x * 100:+.0f} %"


def markdown_table() -> str:
    """The chapter's table (content/grpo.md), generated from ``table()`` and ``component_table()``."""
    lines = ["| source | model | setting (assumed where the source is silent) | measured | predicted | error |",
             "|---|---|---|---|---|---|"]
    for r in table():
        measured = f"fits in {_gib(r['measured'])}" if r["kind"] == "bound" else _gib(r["measured"])
        err = ("within the bound" if r["ok"] else "above the bound") if r["kind"] == "bound" else _pct(r["error"])
        lines.append(f"| [{r['source']}]({r['url']}) | {r['model']} | {r['setting']}; assumed: {r['assumed']} "
                     f"| {measured} | {_gib(r['predicted'])} | {err} |")
    for r in component_table():
        lines.append(f"| [{r['source']}]({r['url']}) | logits term only | {r['what']} "
                     f"| {r['measured'] / 1e9:.2f} GB | {r['predicted'] / 1e9:.2f} GB | {_pct(r['error'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
    print(f"error band: ±{error_band() * 100:.0f} %")
