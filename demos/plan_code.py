"""The plan as code: a TRL GRPOConfig, its accelerate/DeepSpeed launch config and the matching verl command.

Option names checked against the sources: TRL 1.16.0 (``trl/trainer/grpo_config.py``: ``num_generations``,
``per_device_train_batch_size``, ``generation_batch_size``, ``max_completion_length``, ``beta``,
``gradient_checkpointing``, ``bf16``, ``use_vllm``, ``vllm_mode`` "colocate"/"server",
``vllm_gpu_memory_utilization``, ``vllm_tensor_parallel_size``, ``vllm_enable_sleep_mode``,
``vllm_max_model_length``; ``trl/accelerate_configs/zero3.yaml``; ``trl/scripts/vllm_serve.py``) and verl
(``verl/trainer/config/_generated_ppo_trainer.yaml``, ``examples/tuning/7b/qwen2-7b_grpo_2_h800_fsdp_vllm.sh``).
Pure functions from a ``planner.Plan`` to text.
"""

from __future__ import annotations

from demos import memory
from demos.planner import Plan, check_plan, training_gpus

TRL_VERSION = "1.16.0"


def model_id(plan: Plan) -> str:
    """The Hugging Face id of the model, or a placeholder for a custom architecture."""
    return memory.resolve_model(plan.model).hf_id or "your-org/your-model"


def _py(value) -> str:
    return repr(float(value)) if isinstance(value, float) else repr(value)


def grpo_config_kwargs(plan: Plan) -> dict:
    """The GRPOConfig keyword arguments for the plan (TRL 1.16.0 names), in the order they are printed."""
    check_plan(plan)
    kw = {
        "output_dir": "grpo-out",
        "num_generations": plan.group_size,
        "per_device_train_batch_size": plan.micro_batch,
        "generation_batch_size": plan.prompts_per_step * plan.group_size,
        "max_completion_length": plan.completion_len,
        "beta": float(plan.beta),
        "gradient_checkpointing": plan.grad_checkpointing,
        **({"fp16": True} if plan.precision == "fp16" else {"bf16": plan.precision == "bf16"}),
        "use_vllm": plan.engine != "hf",
    }
    if plan.engine == "vllm_colocate":
        kw.update(vllm_mode="colocate", vllm_gpu_memory_utilization=float(plan.vllm_util),
                  vllm_tensor_parallel_size=plan.vllm_tp, vllm_enable_sleep_mode=plan.engine_sleeps,
                  vllm_max_model_length=plan.prompt_len + plan.completion_len)
    elif plan.engine == "vllm_server":
        kw.update(vllm_mode="server")
    return kw


def grpo_config_code(plan: Plan) -> str:
    """Ready-to-copy Python: ``config = GRPOConfig(...)`` (and a ``LoraConfig`` when LoRA is on)."""
    kw = grpo_config_kwargs(plan)
    lines = [f"# pip install trl=={TRL_VERSION}", "from trl import GRPOConfig", ""]
    if plan.lora_rank:
        lines[1:1] = ["from peft import LoraConfig"]
    lines.append("config = GRPOConfig(")
    lines += [f"    {k}={_py(v)}," for k, v in kw.items()]
    lines.append(")")
    if plan.lora_rank:
        lines += ["peft_config = LoraConfig(", f"    r={plan.lora_rank},", f"    lora_alpha={2 * plan.lora_rank},",
                  '    target_modules="all-linear",', '    task_type="CAUSAL_LM",', ")",
                  "# GRPOTrainer(model, reward_funcs, args=config, peft_config=peft_config, ...)"]
    else:
        lines.append("# GRPOTrainer(model, reward_funcs, args=config, ...)")
    return "\n".join(lines) + "\n"


def accelerate_config_code(plan: Plan) -> str:
    """accelerate's config file for the training processes (TRL's ``accelerate_configs/zero{1,2,3}.yaml``
    with the plan's ZeRO stage, offload devices and process count); ZeRO 0 is plain multi-GPU DDP."""
    check_plan(plan)
    n = training_gpus(plan)
    mixed = {"bf16": "bf16", "fp16": "fp16", "fp32": "no"}[plan.precision]
    if plan.zero_stage == 0:
        body = ["distributed_type: MULTI_GPU" if n > 1 else "distributed_type: 'NO'"]
    else:
        body = [
            "deepspeed_config:",
            "  deepspeed_multinode_launcher: standard",
            f"  offload_optimizer_device: {'cpu' if plan.offload_optimizer else 'none'}",
            f"  offload_param_device: {'cpu' if plan.offload_params else 'none'}",
        ]
        if plan.zero_stage == 3:
            body += ["  zero3_init_flag: true", "  zero3_save_16bit_model: true"]
        body += [f"  zero_stage: {plan.zero_stage}", "distributed_type: DEEPSPEED"]
    return "\n".join(["compute_environment: LOCAL_MACHINE", *body, f"mixed_precision: {mixed}",
                      "num_machines: 1", f"num_processes: {n}", ""])


def launch_commands(plan: Plan) -> str:
    """Shell lines: the vLLM server on its own GPUs (server mode), then the training launch."""
    n = training_gpus(plan)
    lines = []
    if plan.engine == "vllm_server":
        k = plan.vllm_gpus
        serve_ids = ",".join(str(i) for i in range(n, n + k))
        lines.append(f"CUDA_VISIBLE_DEVICES={serve_ids} trl vllm-serve --model {model_id(plan)} "
                     f"--tensor_parallel_size {plan.vllm_tp} --data_parallel_size {max(1, k // plan.vllm_tp)} "
                     f"--gpu_memory_utilization {plan.vllm_util:g} &")
    train_ids = ",".join(str(i) for i in range(n))
    lines.append(f"CUDA_VISIBLE_DEVICES={train_ids} accelerate launch --config_file accelerate.yaml train_grpo.py")
    return "\n".join(lines) + "\n"


def verl_command(plan: Plan, algorithm: str = "grpo") -> str:
    """verl's ``main_ppo`` with the plan's settings (Hydra overrides). verl trains with FSDP, which shards
    like ZeRO-3 whatever stage was chosen; it rolls out with vLLM colocated (hybrid engine), so HF generate
    and separate vLLM GPUs map to the colocated engine with a note."""
    check_plan(plan)
    if algorithm not in memory.ALGORITHMS:
        raise ValueError(f"algorithm must be one of {memory.ALGORITHMS}, got {algorithm!r}")
    b = plan.micro_batch
    kl = plan.beta > 0
    o = [
        f"algorithm.adv_estimator={'grpo' if algorithm == 'grpo' else 'gae'}",
        f"data.train_batch_size={plan.prompts_per_step}",
        f"data.max_prompt_length={plan.prompt_len}",
        f"data.max_response_length={plan.completion_len}",
        f"actor_rollout_ref.model.path={model_id(plan)}",
        f"actor_rollout_ref.model.enable_gradient_checkpointing={plan.grad_checkpointing}",
        f"actor_rollout_ref.model.lora_rank={plan.lora_rank}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={b}",
    ]
    if algorithm == "grpo":
        o += [f"actor_rollout_ref.actor.use_kl_loss={kl}"]
        o += [f"actor_rollout_ref.actor.kl_loss_coef={plan.beta:g}"] if kl else []
        o += ["algorithm.use_kl_in_reward=False"]
    else:
        o += ["actor_rollout_ref.actor.use_kl_loss=False", f"algorithm.use_kl_in_reward={kl}"]
        o += [f"algorithm.kl_ctrl.kl_coef={plan.beta:g}"] if kl else []
    o += [
        f"actor_rollout_ref.actor.fsdp_config.param_offload={plan.offload_params}",
        f"actor_rollout_ref.actor.fsdp_config.optimizer_offload={plan.offload_optimizer}",
        "actor_rollout_ref.rollout.name=vllm",
        f"actor_rollout_ref.rollout.gpu_memory_utilization={plan.vllm_util:g}",
        f"actor_rollout_ref.rollout.tensor_model_parallel_size={plan.vllm_tp}",
        f"actor_rollout_ref.rollout.free_cache_engine={plan.engine_sleeps or plan.engine != 'vllm_colocate'}",
        f"actor_rollout_ref.rollout.n={plan.group_size if algorithm == 'grpo' else 1}",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={b}",
    ]
    if kl:
        o += [f"actor_rollout_ref.ref.fsdp_config.param_offload={plan.offload_params}",
              f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={b}"]
    if algorithm == "ppo":
        o += [f"critic.model.path={model_id(plan)}",
              f"critic.model.enable_gradient_checkpointing={plan.grad_checkpointing}",
              f"critic.model.lora_rank={plan.lora_rank}",
              f"critic.ppo_micro_batch_size_per_gpu={b}",
              f"critic.model.fsdp_config.param_offload={plan.offload_params}",
              f"critic.model.fsdp_config.optimizer_offload={plan.offload_optimizer}"]
    o += [f"trainer.n_gpus_per_node={plan.n_gpus}", "trainer.nnodes=1"]
    notes = []
    if plan.zero_stage != 3:
        notes.append(f"# verl's FSDP shards parameters, gradients and optimizer states (like ZeRO-3), not ZeRO-{plan.zero_stage}")
    if plan.engine != "vllm_colocate":
        notes.append("# verl's hybrid engine colocates vLLM with training; this is its nearest setting")
    return "\n".join(notes + ["python3 -m verl.trainer.main_ppo \\"] + [f"    {x} \\" for x in o[:-1]] + [f"    {o[-1]}", ""])
