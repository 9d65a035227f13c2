"""GRPO with the paper's settings in Hugging Face TRL (written for trl==1.16.0, see examples/versions.py).

    python examples/trl_grpo.py      # needs a GPU node, the model download and a dataset with "prompt" and "answer"

The reward is a verifier: 1.0 if the last \\boxed{...} of a completion equals the reference answer.
"""
from __future__ import annotations

import re

BOXED = re.compile(r"\\boxed\s*\{")


def last_boxed(text: str) -> str | None:
    """Contents of the last \\boxed{...} in ``text``, braces matched (``\\boxed{\\frac{1}{2}}`` -> ``\\frac{1}{2}``);
    None if there is no box or it is never closed."""
    starts = [m.end() for m in BOXED.finditer(text)]
    if not starts:
        return None
    depth, start = 1, starts[-1]
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return None


def completion_text(completion) -> str:
    """TRL passes a string for standard prompts and a list of messages for conversational ones."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"]
    if isinstance(content, list):   # multimodal message: a list of {"type": "text", "text": ...} parts
        content = "".join(part.get("text", "") for part in content)
    return content


def correct_answer(completions: list, answer: list[str], **kwargs) -> list[float]:
    """TRL reward function: ``completions`` plus the dataset column ``answer``, passed by name (TRL also passes
    prompts, completion_ids, trainer_state, ..., which ``**kwargs`` absorbs). Whitespace is ignored."""
    rewards = []
    for completion, ref in zip(completions, answer, strict=True):
        boxed = last_boxed(completion_text(completion))
        same = boxed is not None and "".join(boxed.split()) == "".join(str(ref).split())
        rewards.append(1.0 if same else 0.0)
    return rewards


def paper_config(**overrides):
    """DeepSeekMath §4.2 as a GRPOConfig; ``overrides`` for anything else (output_dir, batch sizes, ...)."""
    from trl import GRPOConfig

    settings = dict(
        learning_rate=1e-6,            # paper: policy lr 1e-6 (also TRL's default)
        beta=0.04,                     # paper: KL coefficient 0.04 (TRL default 0.0 since v0.19: no reference model)
        num_generations=64,            # paper: G = 64 outputs per question (TRL default 8)
        max_completion_length=1024,    # paper: max length 1024 (TRL default 256 up to v1.9, 512 from v1.10)
        num_iterations=1,              # paper: mu = 1, a single update per sampled batch
        epsilon=0.2,                   # clip range; not stated in the paper, 0.2 everywhere
        loss_type="grpo",              # paper: token mean per completion, then mean (TRL default "dapo" since v0.22)
        scale_rewards="group",         # paper: normalise within each group (a string since v0.22; before, True)
        temperature=1.0,
        per_device_train_batch_size=16,
        gradient_accumulation_steps=8, # 8 GPUs x 16 x 8 = 1024 completions = 16 questions x 64, if the paper's
    )                                  # batch of 1024 counts completions (it does not say)
    settings.update(overrides)
    return GRPOConfig(**settings)


def make_trainer(model: str, train_dataset, args):
    """``model``: a model id or a local directory (weights and tokenizer); ``train_dataset``: columns "prompt"
    and "answer". With beta > 0 TRL loads the frozen reference model from the same id."""
    from trl import GRPOTrainer

    return GRPOTrainer(
        model=model,
        reward_funcs=correct_answer,   # the paper used a learned reward model; a model id works here too
        args=args,
        train_dataset=train_dataset,
    )


if __name__ == "__main__":
    from datasets import load_dataset

    dataset = load_dataset("json", data_files="math_train.jsonl", split="train")   # "prompt", "answer"
    trainer = make_trainer("deepseek-ai/deepseek-math-7b-instruct", dataset, paper_config(output_dir="grpo-paper"))
    trainer.train()
