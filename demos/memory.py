"""GPU memory of RL fine-tuning: what PPO and GRPO need, per GPU, component by component.

Formulas and their sources (each function below says which one it implements):
  * model states -- ZeRO, Rajbhandari et al., arXiv 1910.02054, Sec. 3.1 and Table I: mixed-precision Adam
    keeps 2 bytes (fp16/bf16 weights) + 2 (gradients) + 12 (fp32 master weights, momentum, variance)
    = 16 bytes per parameter; ZeRO stage 1 partitions the 12, stage 2 also the gradients, stage 3 also
    the weights over the N data-parallel GPUs.
  * activations -- Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models",
    arXiv 2205.05198, Sec. 4.1: s*b*h*(34 + 5*a*s/h) bytes per layer (16-bit); full recomputation keeps 2*s*b*h.
  * logits -- fp32 logits of the completion tokens, 4*s*b*V bytes (TRL computes them for the completion
    only, ``logits_to_keep``); see TRL issue 3456 for how large they get with 150k vocabularies.
  * KV cache -- 2 (K and V) * layers * kv_heads * head_dim * tokens * sequences * bytes (vLLM's cache
    layout; grouped-query attention stores only the KV heads).
  * model presets -- the models' published config.json files on the Hugging Face Hub.
  * DeepSeekMath, arXiv 2402.03300, Sec. 4.1: GRPO "foregoes the value model", which in PPO is "typically
    another model of comparable size as the policy model".

All sizes are bytes (floats; GB = 1e9 bytes as in the ZeRO paper). Imports the standard library only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

COMPONENTS = (
    "policy_weights",
    "policy_grads",
    "optimizer",
    "critic",
    "reference",
    "reward_model",
    "activations",
    "logits",
    "kv_cache",
)
COMPONENT_LABELS = {
    "policy_weights": "Policy weights",
    "policy_grads": "Policy gradients",
    "optimizer": "Optimizer states (Adam + fp32 master)",
    "critic": "Critic / value model",
    "reference": "Reference model",
    "reward_model": "Reward model",
    "activations": "Activations",
    "logits": "Logits (fp32)",
    "kv_cache": "KV cache (sampling)",
}
MODEL_STATE_COMPONENTS = COMPONENTS[:6]
ALGORITHMS = ("grpo", "ppo")
PRECISIONS = ("bf16", "fp16", "fp32")
REWARDS = ("verifier", "model")
GPU_80GB = 80e9


# --------------------------------------------------------------------------- architectures


@dataclass(frozen=True)
class ModelConfig:
    """The config.json fields that set the size of a decoder-only transformer (Llama / Qwen2 family).

    Field names are Hugging Face's. ``qkv_bias``: biases on the q, k, v projections (Qwen2 has them,
    Llama not). ``gated_mlp``: SwiGLU MLP with gate, up and down projections (hidden_act "silu").
    ``head_dim`` defaults to hidden_size / num_attention_heads.
    """

    name: str
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    hidden_act: str = "silu"
    gated_mlp: bool = True
    head_dim: int | None = None
    hf_id: str = ""

    @property
    def d_head(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads


def _preset(name, hf_id, h, f, L, a, kv, V, *, tied=False, qkv_bias=False) -> ModelConfig:
    return ModelConfig(name, h, f, L, a, kv, V, tie_word_embeddings=tied, qkv_bias=qkv_bias, hf_id=hf_id)


# Values copied from each model's config.json on the Hugging Face Hub (all hidden_act "silu", RMSNorm).
PRESETS = {
    c.name: c
    for c in (
        _preset("Qwen2.5-1.5B", "Qwen/Qwen2.5-1.5B", 1536, 8960, 28, 12, 2, 151936, tied=True, qkv_bias=True),
        _preset("DeepSeekMath-7B", "deepseek-ai/deepseek-math-7b-base", 4096, 11008, 30, 32, 32, 102400),
        _preset("Llama-2-7B", "meta-llama/Llama-2-7b-hf", 4096, 11008, 32, 32, 32, 32000),
        _preset("Qwen2.5-7B", "Qwen/Qwen2.5-7B", 3584, 18944, 28, 28, 4, 152064, qkv_bias=True),
        _preset("Llama-2-13B", "meta-llama/Llama-2-13b-hf", 5120, 13824, 40, 40, 40, 32000),
        _preset("Qwen2.5-32B", "Qwen/Qwen2.5-32B", 5120, 27648, 64, 40, 8, 152064, qkv_bias=True),
        _preset("Llama-2-70B", "meta-llama/Llama-2-70b-hf", 8192, 28672, 80, 64, 8, 32000),
    )
}


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def custom_config(
    *,
    hidden_size,
    intermediate_size,
    num_hidden_layers,
    num_attention_heads,
    num_key_value_heads=None,
    vocab_size,
    tie_word_embeddings=False,
    qkv_bias=False,
    hidden_act="silu",
    head_dim=None,
    name="custom",
    hf_id="",
) -> ModelConfig:
    """A ModelConfig from the user's numbers, checked. num_key_value_heads defaults to num_attention_heads
    (multi-head attention); it must divide num_attention_heads. A non-"silu" hidden_act means a plain
    two-matrix MLP (GPT-style)."""
    h = _positive_int(hidden_size, "hidden_size")
    a = _positive_int(num_attention_heads, "num_attention_heads")
    kv = _positive_int(a if num_key_value_heads is None else num_key_value_heads, "num_key_value_heads")
    if a % kv:
        raise ValueError(f"num_key_value_heads ({kv}) must divide num_attention_heads ({a})")
    if head_dim is None and h % a:
        raise ValueError(f"hidden_size ({h}) must be a multiple of num_attention_heads ({a}), or give head_dim")
    return ModelConfig(
        name=str(name),
        hidden_size=h,
        intermediate_size=_positive_int(intermediate_size, "intermediate_size"),
        num_hidden_layers=_positive_int(num_hidden_layers, "num_hidden_layers"),
        num_attention_heads=a,
        num_key_value_heads=kv,
        vocab_size=_positive_int(vocab_size, "vocab_size"),
        tie_word_embeddings=bool(tie_word_embeddings),
        qkv_bias=bool(qkv_bias),
        hidden_act=str(hidden_act),
        gated_mlp=hidden_act in ("silu", "swiglu"),
        head_dim=None if head_dim is None else _positive_int(head_dim, "head_dim"),
        hf_id=str(hf_id),
    )


def config_from_hf(config_json: dict, name: str = "custom") -> ModelConfig:
    """ModelConfig from a Hugging Face config.json dict (Llama, Qwen2, Mistral style). Qwen2 models have
    QKV bias (model_type "qwen2"); Llama states it as ``attention_bias``."""
    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
    missing = [k for k in keys if k not in config_json]
    if missing:
        raise ValueError(f"config is missing {missing}")
    qkv_bias = config_json.get("model_type") == "qwen2" or bool(config_json.get("attention_bias", False))
    return custom_config(
        **{k: config_json[k] for k in keys},
        num_key_value_heads=config_json.get("num_key_value_heads"),
        tie_word_embeddings=config_json.get("tie_word_embeddings", False),
        qkv_bias=config_json.get("qkv_bias", qkv_bias),
        hidden_act=config_json.get("hidden_act", "silu"),
        head_dim=config_json.get("head_dim"),
        name=config_json.get("name", name),
        hf_id=config_json.get("hf_id", config_json.get("_name_or_path", "")),
    )


def resolve_model(model) -> ModelConfig:
    """A preset name, a ModelConfig, or a dict (our field names or a config.json) -> ModelConfig."""
    if isinstance(model, ModelConfig):
        return model
    if isinstance(model, str):
        if model not in PRESETS:
            raise ValueError(f"unknown model {model!r}; presets: {list(PRESETS)}")
        return PRESETS[model]
    if isinstance(model, dict):
        d = {k: v for k, v in model.items() if k != "gated_mlp"}
        return config_from_hf(d, d.get("name", "custom"))
    raise ValueError(f"model must be a preset name, a ModelConfig or a dict, got {type(model).__name__}")


def _linear_shapes(c: ModelConfig) -> list[tuple[int, int]]:
    """(in, out) of every weight matrix of one transformer block: q, k, v, o, then the MLP."""
    h, d = c.hidden_size, c.d_head
    q, kv = c.num_attention_heads * d, c.num_key_value_heads * d
    mlp = [(h, c.intermediate_size)] * (2 if c.gated_mlp else 1) + [(c.intermediate_size, h)]
    return [(h, q), (h, kv), (h, kv), (q, h), *mlp]


def param_count(config) -> int:
    """Parameters of a decoder-only transformer from its architecture:
    embeddings V*h, untied lm_head V*h, per layer the q/k/v/o and MLP matrices (+ q/k/v biases when
    qkv_bias) and two RMSNorm weight vectors (h each), and the final norm (h)."""
    c = resolve_model(config)
    h, d = c.hidden_size, c.d_head
    per_layer = sum(i * o for i, o in _linear_shapes(c)) + 2 * h
    if c.qkv_bias:
        per_layer += (c.num_attention_heads + 2 * c.num_key_value_heads) * d
    embeddings = c.vocab_size * h * (1 if c.tie_word_embeddings else 2)
    return embeddings + c.num_hidden_layers * per_layer + h


def lora_param_count(config, rank: int) -> int:
    """LoRA adapter parameters, rank r on every linear layer of every block (PEFT "all-linear"):
    r * (in + out) per matrix (arXiv 2106.09685)."""
    c = resolve_model(config)
    return c.num_hidden_layers * sum(rank * (i + o) for i, o in _linear_shapes(c))


# --------------------------------------------------------------------------- model states (ZeRO)


def _param_bytes(precision: str) -> tuple[int, int, int]:
    """(weights, gradients, optimizer) bytes per trained parameter. Mixed precision (bf16/fp16): 2 + 2 + 12
    (fp32 master copy, Adam momentum and variance); fp32: 4 + 4 + 8 (momentum, variance). Both 16."""
    return (4, 4, 8) if precision == "fp32" else (2, 2, 12)


def model_state_parts(n_params, *, trained: bool, zero_stage: int = 0, n_gpus: int = 1, precision: str = "bf16") -> dict:
    """Per-GPU bytes {weights, grads, optimizer} of one model (ZeRO, arXiv 1910.02054, Sec. 5 / Table I).

    Stage 1 partitions optimizer states over the N GPUs, stage 2 also gradients, stage 3 also weights.
    A frozen model has weights only (2 bytes/param in bf16); stage 3 partitions them too.
    """
    if zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {zero_stage!r}")
    N = _positive_int(n_gpus, "n_gpus")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    w, g, o = _param_bytes(precision)
    if not trained:
        g = o = 0
    return {
        "weights": w * n_params / (N if zero_stage >= 3 else 1),
        "grads": g * n_params / (N if zero_stage >= 2 else 1),
        "optimizer": o * n_params / (N if zero_stage >= 1 else 1),
    }


def model_state_bytes(n_params, *, trained: bool, zero_stage: int = 0, n_gpus: int = 1, precision: str = "bf16") -> float:
    """Model-state bytes per GPU: 16*Psi trained (mixed-precision Adam), 2*Psi frozen; with ZeRO over N GPUs
    stage 1: 4 Psi + 12 Psi / N, stage 2: 2 Psi + 14 Psi / N, stage 3: 16 Psi / N (arXiv 1910.02054, Table I)."""
    return sum(model_state_parts(n_params, trained=trained, zero_stage=zero_stage, n_gpus=n_gpus, precision=precision).values())


# --------------------------------------------------------------------------- activations, logits, KV cache


def _act_bytes(precision: str) -> int:
    return 4 if precision == "fp32" else 2


def activation_bytes(config, *, seq_len, micro_batch, grad_checkpointing=True, flash_attention=True, precision="bf16") -> float:
    """Activations kept for the backward pass of one micro-batch (arXiv 2205.05198, Sec. 4.1, Eq. 2).

    Per layer without recomputation: s*b*h*(34 + 5*a*s/h) bytes in 16-bit (the 5*a*s/h term is the
    attention-score matrices; FlashAttention does not store them). With full recomputation (gradient
    checkpointing) each layer keeps only its input, 2*s*b*h, plus one layer's full activations while it is
    recomputed. The 34 is derived for a GPT layer with a 4h GeLU MLP; for SwiGLU models it is an estimate.
    fp32 doubles every term.
    """
    c = resolve_model(config)
    s, b, h, a, L = seq_len, micro_batch, c.hidden_size, c.num_attention_heads, c.num_hidden_layers
    full_layer = s * b * h * (34 + (0 if flash_attention else 5 * a * s / h))
    scale = _act_bytes(precision) / 2
    if grad_checkpointing:
        return scale * (L * 2 * s * b * h + full_layer)
    return scale * L * full_layer


def logits_bytes(config, *, tokens, micro_batch) -> float:
    """fp32 logits of ``tokens`` positions for a micro-batch: 4 * s * b * V bytes (the completion tokens only,
    as TRL's ``logits_to_keep``; large for 150k-token vocabularies, TRL issue 3456)."""
    return 4.0 * tokens * micro_batch * resolve_model(config).vocab_size


def kv_cache_bytes(config, *, tokens, sequences, precision="bf16") -> float:
    """KV cache for sampling: 2 (K, V) * layers * kv_heads * head_dim * tokens * sequences * bytes.
    Uses the KV-head count (grouped-query attention); query heads would overstate Llama-2-70B's by 8x."""
    c = resolve_model(config)
    return 2.0 * c.num_hidden_layers * c.num_key_value_heads * c.d_head * tokens * sequences * _act_bytes(precision)


# --------------------------------------------------------------------------- the breakdown


def _trained_model_parts(config, *, lora_rank, zero_stage, n_gpus, precision) -> dict:
    """{weights, grads, optimizer} of a trained model, full fine-tuning or LoRA (frozen base + trained adapter)."""
    psi = param_count(config)
    kw = dict(zero_stage=zero_stage, n_gpus=n_gpus, precision=precision)
    if not lora_rank:
        return model_state_parts(psi, trained=True, **kw)
    base = model_state_parts(psi, trained=False, **kw)
    adapter = model_state_parts(lora_param_count(config, lora_rank), trained=True, **kw)
    return {k: base[k] + adapter[k] for k in base}


def breakdown(
    model,
    *,
    algorithm: str = "grpo",
    group_size: int = 8,
    prompt_len: int = 256,
    completion_len: int = 1024,
    prompts_per_step: int = 32,
    micro_batch: int = 4,
    precision: str = "bf16",
    zero_stage: int = 3,
    n_gpus: int = 8,
    reward: str = "verifier",
    grad_checkpointing: bool = True,
    lora_rank: int = 0,
    flash_attention: bool = True,
    reference: bool = True,
    critic_model=None,
    reward_model=None,
    ppo_samples_per_prompt: int = 1,
) -> dict:
    """Bytes per GPU by component (keys: COMPONENTS) for one RL step with every model on every GPU
    (colocated, data parallel over ``n_gpus``, as TRL and verl's hybrid engine run by default).

    policy_weights / policy_grads / optimizer: the trained policy (``model_state_parts``; LoRA: frozen base at
        2 bytes/param plus a trained rank-``lora_rank`` adapter).
    critic: PPO only, a trained model of ``critic_model``'s size (default: the policy's); 0 for GRPO.
    reference: frozen policy copy for the KL term; 0 with LoRA (the base with adapters off is the
        reference, as in TRL) or when ``reference`` is False (beta = 0).
    reward_model: frozen model of ``reward_model``'s size (default: the policy's) when reward="model";
        0 for a rule-based verifier.
    activations: one training micro-batch of ``micro_batch`` sequences of prompt_len + completion_len tokens
        (``activation_bytes``). PPO trains the critic after the policy, so the peak is the same.
    logits: fp32 logits of the completion tokens of one micro-batch (``logits_bytes``).
    kv_cache: sampling the step's completions, split over the GPUs: GRPO prompts_per_step * group_size
        sequences, PPO prompts_per_step * ppo_samples_per_prompt (``kv_cache_bytes``).
    ``total`` adds all components: a colocated vLLM engine keeps its KV-cache pool allocated while training.
    """
    c = resolve_model(model)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
    G = _positive_int(group_size, "group_size")
    P = _positive_int(prompts_per_step, "prompts_per_step")
    s_prompt = _positive_int(prompt_len, "prompt_len")
    s_completion = _positive_int(completion_len, "completion_len")
    b = _positive_int(micro_batch, "micro_batch")
    N = _positive_int(n_gpus, "n_gpus")
    k_ppo = _positive_int(ppo_samples_per_prompt, "ppo_samples_per_prompt")
    if isinstance(lora_rank, bool) or lora_rank != int(lora_rank) or lora_rank < 0:
        raise ValueError(f"lora_rank must be an integer >= 0, got {lora_rank!r}")
    kw = dict(zero_stage=zero_stage, n_gpus=N, precision=precision)

    policy = _trained_model_parts(c, lora_rank=lora_rank, **kw)
    critic = 0.0
    if algorithm == "ppo":
        critic_cfg = c if critic_model is None else resolve_model(critic_model)
        critic = sum(_trained_model_parts(critic_cfg, lora_rank=lora_rank, **kw).values())
    ref = 0.0
    if reference and not lora_rank:
        ref = model_state_bytes(param_count(c), trained=False, **kw)
    rm = 0.0
    if reward == "model":
        rm_cfg = c if reward_model is None else resolve_model(reward_model)
        rm = model_state_bytes(param_count(rm_cfg), trained=False, **kw)
    sequences = P * (G if algorithm == "grpo" else k_ppo)
    return {
        "policy_weights": policy["weights"],
        "policy_grads": policy["grads"],
        "optimizer": policy["optimizer"],
        "critic": critic,
        "reference": ref,
        "reward_model": rm,
        "activations": activation_bytes(
            c,
            seq_len=s_prompt + s_completion,
            micro_batch=b,
            grad_checkpointing=grad_checkpointing,
            flash_attention=flash_attention,
            precision=precision,
        ),
        "logits": logits_bytes(c, tokens=s_completion, micro_batch=b),
        "kv_cache": kv_cache_bytes(c, tokens=s_prompt + s_completion, sequences=math.ceil(sequences / N), precision=precision),
    }


def total(parts: dict) -> float:
    """Sum of a breakdown's components, bytes per GPU."""
    return float(sum(parts.values()))


def model_states(parts: dict) -> float:
    """Bytes of the models themselves (weights, gradients, optimizer states of every model), no activations."""
    return float(sum(parts[k] for k in MODEL_STATE_COMPONENTS))


def ratio(grpo_parts: dict, ppo_parts: dict) -> float:
    """total(GRPO) / total(PPO)."""
    return total(grpo_parts) / total(ppo_parts)


def model_state_ratio(model, **options) -> float:
    """GRPO / PPO model states for the same options (the same reward source on both sides), no LoRA:
    with a verifier 18 Psi / 34 Psi = 0.53 (policy 16 + reference 2, against policy 16 + critic 16 + reference 2),
    with a reward model 20 Psi / 36 Psi = 0.56. The "about half" (18 Psi / 36 Psi = 0.5) compares GRPO with a
    verifier against PPO with a reward model, which this function does not do."""
    return model_states(breakdown(model, algorithm="grpo", **options)) / model_states(
        breakdown(model, algorithm="ppo", **options)
    )


def gpus_needed_80gb(model, *, capacity_bytes: float = GPU_80GB, max_gpus: int = 4096, **options) -> int | None:
    """Smallest number of GPUs (data parallel, 80 GB = 80e9 bytes each by default) for which the per-GPU
    total fits; None if even ``max_gpus`` do not (e.g. ZeRO 0 with 16 bytes/param above 80 GB).
    Per-GPU bytes never grow with the GPU count, so a bisection finds the smallest."""
    options.pop("n_gpus", None)

    return smallest_count(lambda n: total(breakdown(model, n_gpus=n, **options)) <= capacity_bytes, max_gpus)


def smallest_count(fits, max_n: int) -> int | None:
    """The smallest n in 1..max_n with fits(n), by bisection (fits must be monotone: once true, true for every
    larger n); None if not even fits(max_n)."""
    if not fits(max_n):
        return None
    lo, hi = 1, max_n
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def compare(model_name_or_config="Qwen2.5-7B", *, ppo_reward: str | None = None, **options) -> dict:
    """Both algorithms side by side, JSON-friendly (for the browser demo).

    model_name_or_config: a preset name (``PRESETS``), a dict (``custom_config`` fields or a config.json) or a
    ModelConfig. options: those of ``breakdown`` except ``algorithm``; ``reward`` applies to GRPO and, unless
    ``ppo_reward`` is given, to PPO as well. Returns
    {"model": {...config, "params"}, "options": {...}, "components": [...], "labels": {...},
     "grpo": {"breakdown", "total", "model_states", "gpus_needed_80gb"}, "ppo": {same},
     "ratio": total GRPO / PPO, "model_state_ratio": model states GRPO / PPO}. Sizes in bytes.
    Raises ValueError for a bad option.
    """
    c = resolve_model(model_name_or_config)
    options.pop("algorithm", None)
    ppo_options = dict(options, reward=ppo_reward if ppo_reward is not None else options.get("reward", "verifier"))
    out = {"model": {**asdict(c), "params": param_count(c)}, "options": dict(options, ppo_reward=ppo_options["reward"])}
    out["components"] = list(COMPONENTS)
    out["labels"] = dict(COMPONENT_LABELS)
    for algorithm, opts in (("grpo", options), ("ppo", ppo_options)):
        parts = breakdown(c, algorithm=algorithm, **opts)
        out[algorithm] = {
            "breakdown": parts,
            "total": total(parts),
            "model_states": model_states(parts),
            "gpus_needed_80gb": gpus_needed_80gb(c, algorithm=algorithm, **opts),
        }
    out["ratio"] = out["grpo"]["total"] / out["ppo"]["total"]
    out["model_state_ratio"] = out["grpo"]["model_states"] / out["ppo"]["model_states"]
    return out


def with_overrides(config, **changes) -> ModelConfig:
    """A copy of a config with some fields changed (e.g. a longer vocabulary), checked like custom_config."""
    d = {**asdict(resolve_model(config)), **changes}
    d.pop("gated_mlp", None)
    return custom_config(**d)


__all__ = [
    "COMPONENTS",
    "COMPONENT_LABELS",
    "PRESETS",
    "ModelConfig",
    "custom_config",
    "config_from_hf",
    "resolve_model",
    "param_count",
    "lora_param_count",
    "model_state_parts",
    "model_state_bytes",
    "activation_bytes",
    "logits_bytes",
    "kv_cache_bytes",
    "breakdown",
    "total",
    "model_states",
    "ratio",
    "model_state_ratio",
    "gpus_needed_80gb",
    "compare",
    "with_overrides",
]
