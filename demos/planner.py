"""Will my run fit? A per-GPU memory verdict for GRPO and PPO on the reader's GPUs, with trainers' options.

Builds on ``demos.memory`` (model states, activations, logits, KV cache; each formula's source is in its
docstring there) and adds what a trainer user sets:

  * the GPU (nominal 24, 40, 48, 80, 94, 141 GB or a custom size) and how many;
  * beta: beta = 0 loads no reference model (TRL's GRPOTrainer creates ``ref_model`` only when
    ``beta != 0.0``; TRL 1.16.0, ``trl/trainer/grpo_trainer.py``); LoRA: the base with adapters disabled is
    the reference, so no copy either;
  * ZeRO stage, CPU offload of the optimizer states (ZeRO-Offload, arXiv 2101.06840; verl
    ``fsdp_config.optimizer_offload``) and of the parameters (ZeRO-3 ``offload_param`` / FSDP CPU offload;
    verl ``fsdp_config.param_offload``);
  * the generation engine: Hugging Face ``generate`` (its KV cache lives only while sampling), vLLM colocated
    on the training GPUs with a share ``gpu_memory_utilization`` of each GPU's memory (vLLM pre-allocates that
    share for its weights and KV-cache pool), optionally asleep while training (TRL
    ``vllm_enable_sleep_mode``, verl ``rollout.free_cache_engine``), or vLLM on separate GPUs (TRL
    ``vllm_mode="server"``);
  * the per-device micro-batch (TRL ``per_device_train_batch_size``, verl ``ppo_micro_batch_size_per_gpu``).

Phases (per training GPU, bytes): resident states R (weights, gradients, optimizer states left on the GPU,
frozen models), training transient T (activations + fp32 logits of one micro-batch), generation transient
S (the engine's memory while sampling), engine memory kept during training E (a colocated vLLM that does not
sleep keeps its whole share). Peak = C + R + max(T + E, S), C the CUDA context (``CUDA_CONTEXT_BYTES``).

GPU capacities: the nominal sizes are binary gigabytes (GiB, 2**30 bytes): nvidia-smi reports 81,920 MiB
for an A100-80GB (TRL issue 3456) and 24,564 MiB for an RTX 4090 (vLLM issue 7553). All sizes are bytes.
Imports the standard library and ``demos.memory`` only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from demos import memory

GiB = 2**30
GPU_SIZES_GB = (24, 40, 48, 80, 94, 141)
ENGINES = ("hf", "vllm_colocate", "vllm_server")
ENGINE_LABELS = {
    "hf": "Hugging Face generate",
    "vllm_colocate": "vLLM colocated",
    "vllm_server": "vLLM on separate GPUs",
}
# CUDA context, cuBLAS workspaces and NCCL buffers on every GPU: an assumption (about 1 GiB is what
# torch.cuda.mem_get_info shows an idle process using on an A100), checked against the calibration table.
CUDA_CONTEXT_BYTES = 1.0 * GiB
LORA_FALLBACK_RANK = 16


@dataclass(frozen=True)
class Plan:
    """What the reader chose. Field names follow the trainers where they have one.

    model: preset name or config dict (``memory.resolve_model``). gpu_gb: nominal GB (GiB) per GPU.
    n_gpus: all GPUs of the run (with ``engine="vllm_server"`` ``vllm_gpus`` of them serve vLLM).
    group_size: G (TRL ``num_generations``, verl ``rollout.n``). prompts_per_step: prompts per optimizer step
    over all GPUs (verl ``data.train_batch_size``). micro_batch: sequences per GPU per forward/backward.
    beta: KL coefficient; 0 means no reference model. vllm_util: vLLM's share of each of its GPUs' memory.
    vllm_tp: tensor parallelism of vLLM. engine_sleeps: a colocated vLLM frees its memory while training.
    """

    model: object = "Qwen2.5-7B"
    gpu_gb: float = 80
    n_gpus: int = 4
    group_size: int = 16
    prompt_len: int = 512
    completion_len: int = 4096
    prompts_per_step: int = 32
    micro_batch: int = 4
    beta: float = 0.0
    lora_rank: int = 0
    grad_checkpointing: bool = True
    zero_stage: int = 3
    offload_optimizer: bool = False
    offload_params: bool = False
    engine: str = "vllm_colocate"
    vllm_util: float = 0.3
    vllm_tp: int = 1
    vllm_gpus: int = 1
    engine_sleeps: bool = False
    precision: str = "bf16"
    reward: str = "verifier"


def check_plan(plan: Plan) -> Plan:
    """The plan, validated: a ValueError naming the field for anything out of range or inconsistent."""
    memory.resolve_model(plan.model)
    if not isinstance(plan.gpu_gb, (int, float)) or isinstance(plan.gpu_gb, bool) or not 1 <= plan.gpu_gb <= 4096:
        raise ValueError(f"gpu_gb must be a size in GB between 1 and 4096, got {plan.gpu_gb!r}")
    for name in ("n_gpus", "group_size", "prompt_len", "completion_len", "prompts_per_step", "micro_batch", "vllm_tp", "vllm_gpus"):
        memory._positive_int(getattr(plan, name), name)
    if not isinstance(plan.beta, (int, float)) or isinstance(plan.beta, bool) or plan.beta < 0:
        raise ValueError(f"beta must be a number >= 0, got {plan.beta!r}")
    if isinstance(plan.lora_rank, bool) or plan.lora_rank != int(plan.lora_rank) or plan.lora_rank < 0:
        raise ValueError(f"lora_rank must be an integer >= 0, got {plan.lora_rank!r}")
    if plan.zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {plan.zero_stage!r}")
    if plan.offload_params and plan.zero_stage != 3:
        raise ValueError("offload_params needs zero_stage 3 (parameters are offloaded shard by shard)")
    if plan.engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {plan.engine!r}")
    if not isinstance(plan.vllm_util, (int, float)) or not 0 < plan.vllm_util <= 1:
        raise ValueError(f"vllm_util must be in (0, 1], got {plan.vllm_util!r}")
    if plan.engine == "vllm_server" and plan.vllm_gpus >= plan.n_gpus:
        raise ValueError(f"vllm_gpus ({plan.vllm_gpus}) must leave at least one of the {plan.n_gpus} GPUs for training")
    if plan.precision not in memory.PRECISIONS:
        raise ValueError(f"precision must be one of {memory.PRECISIONS}, got {plan.precision!r}")
    if plan.reward not in memory.REWARDS:
        raise ValueError(f"reward must be one of {memory.REWARDS}, got {plan.reward!r}")
    return plan


def plural(n: int, noun: str) -> str:
    """'1 GPU', '2 GPUs'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def capacity_bytes(gpu_gb: float) -> float:
    """Usable bytes of one GPU of nominal size ``gpu_gb`` GB: gpu_gb * 2**30 (see the module docstring)."""
    return float(gpu_gb) * GiB


def training_gpus(plan: Plan) -> int:
    """GPUs that train (data parallel): all of them, except vLLM's own in server mode."""
    return plan.n_gpus - (plan.vllm_gpus if plan.engine == "vllm_server" else 0)


def largest_unit_params(config) -> int:
    """Parameters of the largest FSDP / ZeRO-3 unit that is gathered on the GPU at once: one transformer
    block or the embedding matrix (V * h), whichever is larger (the usual per-block wrapping)."""
    c = memory.resolve_model(config)
    embeddings = c.vocab_size * c.hidden_size * (1 if c.tie_word_embeddings else 2)
    block = (memory.param_count(c) - embeddings - c.hidden_size) // c.num_hidden_layers
    return max(block, c.vocab_size * c.hidden_size)


def trained_state_bytes(config, plan: Plan, n_train: int) -> dict:
    """{weights, grads, optimizer} on one training GPU for a trained model (policy or critic).

    ZeRO over ``n_train`` GPUs (``memory.model_state_parts``; LoRA: frozen base + trained adapter).
    offload_optimizer: the optimizer states live in CPU memory (0 on the GPU).
    offload_params: weights and gradients live in CPU memory; the GPU holds the largest gathered unit's
    weights and gradients, 2 * (2 bytes) * ``largest_unit_params``."""
    parts = memory._trained_model_parts(config, lora_rank=plan.lora_rank, zero_stage=plan.zero_stage,
                                        n_gpus=n_train, precision=plan.precision)
    if plan.offload_optimizer:
        parts["optimizer"] = 0.0
    if plan.offload_params:
        unit = memory._act_bytes(plan.precision) * largest_unit_params(config)
        parts["weights"] = float(unit)
        parts["grads"] = float(unit)
    return parts


def frozen_state_bytes(config, plan: Plan, n_train: int) -> float:
    """A frozen model (reference, reward model) on one training GPU: 2 bytes/param (bf16), partitioned by
    ZeRO-3; with offload_params one gathered unit (verl ``ref.fsdp_config.param_offload``)."""
    if plan.offload_params:
        return float(memory._act_bytes(plan.precision) * largest_unit_params(config))
    return memory.model_state_bytes(memory.param_count(config), trained=False, zero_stage=plan.zero_stage,
                                    n_gpus=n_train, precision=plan.precision)


def logit_bytes_per_element(precision: str) -> int:
    """Bytes per (token, vocabulary entry) that the GRPO loss keeps for one micro-batch: the lm_head's logits
    (2 bytes in bf16/fp16, 4 in fp32), their fp32 copy divided by the temperature (4) and the fp32
    log-softmax saved for the backward pass (4): 10 bytes in 16-bit. Measured: 46 GB for
    16 x 2048 x 151,936 elements = 9.2 bytes/element (open-r1 issue 615, TRL-0.16 loss on an H200) and
    858 MB for 2 x 256 x 151,665 = 11.0 bytes/element (TRL issue 3678, peak minus the memory before the
    forward). ``demos.memory.logits_bytes`` counts one fp32 copy, 4 bytes."""
    return 12 if precision == "fp32" else 10


def logits_bytes(config, *, tokens: int, micro_batch: int, precision: str = "bf16") -> float:
    """Logits memory of one micro-batch: ``logit_bytes_per_element`` * tokens * micro_batch * V."""
    return float(logit_bytes_per_element(precision) * tokens * micro_batch * memory.resolve_model(config).vocab_size)


def engine_weight_bytes(config, plan: Plan) -> float:
    """vLLM's own copy of the policy weights per GPU: 2 bytes/param (bf16) / tensor parallelism."""
    return 2.0 * memory.param_count(config) / plan.vllm_tp


def generation_sequences_per_gpu(plan: Plan, algorithm: str) -> int:
    """Sequences sampled at once per generating GPU: prompts_per_step * G (GRPO; PPO here samples as many,
    one per (prompt, copy), so the comparison isolates the critic), split over the generating GPUs."""
    gen_gpus = max(1, plan.vllm_gpus // plan.vllm_tp) if plan.engine == "vllm_server" else training_gpus(plan)
    return math.ceil(plan.prompts_per_step * plan.group_size / gen_gpus)


def phases(plan: Plan, algorithm: str = "grpo") -> dict:
    """Bytes on one training GPU by component and phase (see the module docstring).

    Returns {"components": {name: bytes}, "resident", "train_transient", "gen_transient", "engine_kept",
    "context", "peak"} for the training GPUs, and "server_peak" (bytes on a vLLM GPU, server mode; else 0).
    """
    if algorithm not in memory.ALGORITHMS:
        raise ValueError(f"algorithm must be one of {memory.ALGORITHMS}, got {algorithm!r}")
    check_plan(plan)
    c = memory.resolve_model(plan.model)
    N = training_gpus(plan)
    cap = capacity_bytes(plan.gpu_gb)
    policy = trained_state_bytes(c, plan, N)
    critic = sum(trained_state_bytes(c, plan, N).values()) if algorithm == "ppo" else 0.0
    # LoRA: the base with the adapter disabled is the reference (TRL, verl), so no second copy.
    reference = frozen_state_bytes(c, plan, N) if plan.beta > 0 and not plan.lora_rank else 0.0
    reward_model = frozen_state_bytes(c, plan, N) if plan.reward == "model" else 0.0
    seq = plan.prompt_len + plan.completion_len
    activations = memory.activation_bytes(c, seq_len=seq, micro_batch=plan.micro_batch,
                                          grad_checkpointing=plan.grad_checkpointing, precision=plan.precision)
    logits = logits_bytes(c, tokens=plan.completion_len, micro_batch=plan.micro_batch, precision=plan.precision)
    sequences = generation_sequences_per_gpu(plan, algorithm)
    kv_needed = memory.kv_cache_bytes(c, tokens=seq, sequences=sequences)
    if plan.engine == "hf":
        engine_gen, engine_kept = kv_needed, 0.0
    elif plan.engine == "vllm_colocate":
        engine_gen = plan.vllm_util * cap
        engine_kept = 0.0 if plan.engine_sleeps else engine_gen
    else:
        engine_gen = engine_kept = 0.0
    components = {
        "policy_weights": policy["weights"],
        "policy_grads": policy["grads"],
        "optimizer": policy["optimizer"],
        "critic": critic,
        "reference": reference,
        "reward_model": reward_model,
        "activations": activations,
        "logits": logits,
        "engine": engine_gen,
    }
    resident = sum(components[k] for k in memory.MODEL_STATE_COMPONENTS)
    train_transient = activations + logits
    peak = CUDA_CONTEXT_BYTES + resident + max(train_transient + engine_kept, engine_gen)
    server_peak = CUDA_CONTEXT_BYTES + plan.vllm_util * cap if plan.engine == "vllm_server" else 0.0
    return {
        "components": components,
        "resident": resident,
        "train_transient": train_transient,
        "gen_transient": engine_gen,
        "engine_kept": engine_kept,
        "context": CUDA_CONTEXT_BYTES,
        "peak": peak,
        "server_peak": server_peak,
        "kv_needed": kv_needed,
        "sequences_per_gpu": sequences,
    }


def engine_problem(plan: Plan) -> str | None:
    """Why the vLLM engine cannot start, or None: its share must hold its weights (``engine_weight_bytes``)
    plus the KV cache of one full-length sequence (vLLM refuses to start otherwise)."""
    if plan.engine == "hf":
        return None
    c = memory.resolve_model(plan.model)
    share = plan.vllm_util * capacity_bytes(plan.gpu_gb)
    one_seq = memory.kv_cache_bytes(c, tokens=plan.prompt_len + plan.completion_len, sequences=1) / plan.vllm_tp
    need = engine_weight_bytes(c, plan) + one_seq
    if share < need:
        return (f"vLLM's share ({plan.vllm_util:g} x {plan.gpu_gb:g} GB = {share / GiB:.1f} GiB) is smaller than its "
                f"weights plus one sequence's KV cache ({need / GiB:.1f} GiB)")
    return None


def verdict(plan: Plan, algorithm: str = "grpo") -> dict:
    """Fits or not on the chosen GPUs: {"fits", "peak", "capacity", "headroom" (capacity - peak, negative
    = shortfall), "problem" (engine cannot start, or None), "phases"}. Fits iff peak <= capacity on every
    GPU (training GPUs, and vLLM's own in server mode) and the engine can start."""
    ph = phases(plan, algorithm)
    cap = capacity_bytes(plan.gpu_gb)
    peak = max(ph["peak"], ph["server_peak"])
    problem = engine_problem(plan)
    return {
        "fits": peak <= cap and problem is None,
        "peak": peak,
        "capacity": cap,
        "headroom": cap - peak,
        "problem": problem,
        "phases": ph,
    }


def fits(plan: Plan, algorithm: str = "grpo") -> bool:
    return verdict(plan, algorithm)["fits"]


# --------------------------------------------------------------------------- the cheapest change


MICRO_BATCH_LABEL = "smaller micro-batch"
PROMPTS_LABEL = "fewer prompts per step"
# the changes that halve a field until the plan fits (then the field is doubled back while it still fits)
HALVED = {MICRO_BATCH_LABEL: ("micro_batch", "micro-batch"), PROMPTS_LABEL: ("prompts_per_step", "prompts per step")}


def _halve_micro_batch(p: Plan):
    return replace(p, micro_batch=p.micro_batch // 2) if p.micro_batch > 1 else None


def _halve_prompts(p: Plan):
    """Fewer prompts per step: fewer sequences sampled at once, which only Hugging Face generate's KV cache scales
    with (a colocated vLLM reserves its share whatever the batch; a vLLM server is on other GPUs)."""
    return replace(p, prompts_per_step=p.prompts_per_step // 2) if p.engine == "hf" and p.prompts_per_step > 1 else None


CHANGES = (
    # (label, change) in order of cost to the run: first what costs only speed, then what makes each step's
    # gradient noisier (fewer groups per step), last what changes what is trained or the objective.
    ("turn on gradient checkpointing", lambda p: replace(p, grad_checkpointing=True) if not p.grad_checkpointing else None),
    (MICRO_BATCH_LABEL, _halve_micro_batch),
    ("let vLLM sleep while training",
     lambda p: replace(p, engine_sleeps=True) if p.engine == "vllm_colocate" and not p.engine_sleeps else None),
    ("ZeRO stage 3", lambda p: replace(p, zero_stage=3) if p.zero_stage < 3 else None),
    ("offload optimizer states to CPU", lambda p: replace(p, offload_optimizer=True) if not p.offload_optimizer else None),
    ("offload parameters to CPU", lambda p: replace(p, offload_params=True, zero_stage=3) if not p.offload_params else None),
    (PROMPTS_LABEL, _halve_prompts),
    (f"LoRA rank {LORA_FALLBACK_RANK}", lambda p: replace(p, lora_rank=LORA_FALLBACK_RANK) if not p.lora_rank else None),
    ("beta = 0 (no reference model)", lambda p: replace(p, beta=0.0) if p.beta > 0 else None),
)


def describe_change(before: Plan, after: Plan) -> list[str]:
    """The fields that differ, as 'field: old -> new'."""
    a, b = asdict(before), asdict(after)
    return [f"{k}: {a[k]} -> {b[k]}" for k in a if a[k] != b[k]]


def cheapest_change(plan: Plan, algorithm: str = "grpo") -> dict | None:
    """The first change in ``CHANGES`` that makes the plan fit on its own (a micro-batch or the prompts per step
    are halved until it fits, down to 1); if none does, the shortest run of changes applied in ``CHANGES`` order
    that fits (then each halved field is doubled back while it still fits). Step labels name the new value
    ("micro-batch 8 \u2192 2"). None if the plan already fits. Returns {"steps": [labels], "plan": the changed
    Plan, "peak", "headroom", "diff"} or {"steps": [], "plan": None} when nothing in the list is enough."""
    if fits(plan, algorithm):
        return None

    def found(steps, p):
        for label in steps:
            if label in HALVED:   # keep the largest value that still fits
                field = HALVED[label][0]
                while getattr(p, field) < getattr(plan, field):
                    q = replace(p, **{field: min(getattr(p, field) * 2, getattr(plan, field))})
                    if not fits(q, algorithm):
                        break
                    p = q
        # a halved field that ended back at its value was not needed after the later changes: no step
        steps = [f"{HALVED[s][1]} {getattr(plan, HALVED[s][0])} \u2192 {getattr(p, HALVED[s][0])}" if s in HALVED else s
                 for s in steps if s not in HALVED or getattr(p, HALVED[s][0]) != getattr(plan, HALVED[s][0])]
        v = verdict(p, algorithm)
        return {"steps": steps, "plan": p, "peak": v["peak"], "headroom": v["headroom"], "diff": describe_change(plan, p)}

    for label, change in CHANGES:
        p = change(plan)
        while p is not None:
            if fits(p, algorithm):
                return found([label], p)
            p = change(p) if label in HALVED else None
    steps, p = [], plan
    for label, change in CHANGES:
        q, applied = change(p), False
        while q is not None:
            p, applied = q, True
            if fits(p, algorithm):
                return found(steps + [label], p)
            q = change(p) if label in HALVED else None
        if applied:
            steps.append(label)
    return {"steps": [], "plan": None, "peak": None, "headroom": None, "diff": []}


def gpus_needed(plan: Plan, algorithm: str = "grpo", max_gpus: int = 4096) -> int | None:
    """Smallest GPU count (same type and options) that fits, or None. Per-GPU memory never grows with the
    count (ZeRO divides states, the generation batch is split), so a bisection finds it."""
    extra = plan.vllm_gpus if plan.engine == "vllm_server" else 0

    n = memory.smallest_count(lambda n: fits(replace(plan, n_gpus=n + extra), algorithm), max_gpus)
    return None if n is None else n + extra
