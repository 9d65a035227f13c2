"""examples/trl_grpo.py: its verifier reward, its paper settings, and two real TRL training steps.

The reward tests need nothing but the file. The TRL tests need the pinned TRL (examples/versions.py, installed by
``scripts/setup.sh --test``) and run on a tiny randomly initialised Llama and a word-level tokenizer built here:
nothing is downloaded.
"""
from __future__ import annotations

import importlib
import importlib.util

import pytest

from examples import trl_grpo
from examples.trl_grpo import correct_answer, last_boxed
from examples.versions import TRL_VERSION

# ---------------------------------------------------------------- the verifier

@pytest.mark.parametrize("text,expected", [
    (r"so the answer is \boxed{42}.", "42"),
    (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),                      # nested braces
    (r"\boxed{\sqrt{2^{3}}} and more", r"\sqrt{2^{3}}"),
    (r"first \boxed{1}, then \boxed{2}", "2"),                    # the last box counts
    (r"\boxed {7}", "7"),                                          # a space before the brace
    (r"no box here", None),
    (r"\boxed{\frac{1}{2}", None),                                 # never closed
    (r"\boxed{}", ""),
])
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize("completion,answer,reward", [
    (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}", 1.0),
    (r"\boxed{\frac{1}{2}}", r"\frac{1}{3}", 0.0),
    (r"The answer is 1/2.", "1/2", 0.0),                          # no box: no reward
    (r"\boxed{3} ... wait, \boxed{4}", "4", 1.0),                  # several boxes: the last counts
    (r"\boxed{3} ... wait, \boxed{4}", "3", 0.0),
    (r"\boxed{ \frac {1}{2} }", r"\frac{1}{2}", 1.0),               # spaces are ignored
    (r"\boxed{42}", " 42 ", 1.0),
    (r"\boxed{12}", "1", 0.0),
])
def test_correct_answer_standard_completions(completion, answer, reward):
    assert correct_answer([completion], answer=[answer]) == [reward]


def test_correct_answer_conversational_completions_and_trl_keyword_arguments():
    """Conversational datasets give each completion as a list of messages; TRL passes prompts, completion_ids
    and trainer_state by name too."""
    completions = [[{"role": "assistant", "content": r"\boxed{\frac{1}{2}}"}],
                   [{"role": "assistant", "content": r"\boxed{2}"}],
                   [{"role": "assistant", "content": [{"type": "text", "text": r"\boxed{5}"}]}]]
    rewards = correct_answer(completions, answer=[r"\frac{1}{2}", "3", "5"], prompts=["p"] * 3,
                             completion_ids=[[1], [2], [3]], trainer_state=None)
    assert rewards == [1.0, 0.0, 1.0]


def test_correct_answer_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        correct_answer([r"\boxed{1}", r"\boxed{2}"], answer=["1"])


# ---------------------------------------------------------------- with TRL

def _trl():
    if importlib.util.find_spec("trl") is None:
        pytest.skip(f"TRL is not installed (scripts/setup.sh --test installs trl=={TRL_VERSION}; "
                    "where it cannot, these tests are skipped)")
    trl = importlib.import_module("trl")
    if trl.__version__ != TRL_VERSION:
        pytest.skip(f"TRL {trl.__version__} is installed; examples/trl_grpo.py targets trl=={TRL_VERSION}")
    return trl


def test_paper_config_holds_the_paper_settings():
    _trl()
    config = trl_grpo.paper_config(output_dir="unused", use_cpu=True, report_to="none")
    assert (config.learning_rate, config.beta, config.num_generations, config.max_completion_length) == \
        (1e-6, 0.04, 64, 1024)
    assert (config.num_iterations, config.epsilon, config.loss_type, config.scale_rewards) == (1, 0.2, "grpo", "group")
    assert 8 * config.per_device_train_batch_size * config.gradient_accumulation_steps == 16 * 64


def test_trl_defaults_the_chapter_quotes():
    """content/grpo.md's 'Where TRL's defaults differ from the paper' table is about the pinned release."""
    trl = _trl()
    d = trl.GRPOConfig(output_dir="unused", use_cpu=True, report_to="none")
    assert (d.beta, d.loss_type, d.num_generations, d.max_completion_length) == (0.0, "dapo", 8, 512)
    assert (d.scale_rewards, d.num_iterations, d.learning_rate, d.epsilon, d.temperature) == \
        ("group", 1, 1e-6, 0.2, 1.0)


def _save_tiny_model(directory):
    """A 2-layer Llama with a 40-word vocabulary, randomly initialised, and a matching word-level tokenizer,
    saved to ``directory`` as a model id would be (TRL loads the policy and, with beta > 0, the reference
    from it)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>", "what", "is", "one", "plus", "two", "half", "of", "the", "answer",
             r"\boxed{1}", r"\boxed{2}", r"\boxed{3}", r"\boxed{\frac{1}{2}}", "so", "?", ".", "="] + \
            [str(i) for i in range(20)]
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                        unk_token="<unk>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                         pad_token_id=0, eos_token_id=1, bos_token_id=None)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_two_training_steps_on_a_tiny_local_model(tmp_path):
    """The example's trainer, with the paper's loss settings (beta 0.04, loss "grpo", group scaling) and a
    tiny batch, runs two optimiser steps, scores with the example's reward function and changes the weights."""
    _trl()
    import torch
    from datasets import Dataset

    model_dir = _save_tiny_model(tmp_path / "tiny-llama")
    dataset = Dataset.from_dict({"prompt": ["what is one plus one ?", "what is half of one ?"] * 4,
                                 "answer": ["2", r"\frac{1}{2}"] * 4})
    args = trl_grpo.paper_config(
        output_dir=str(tmp_path / "out"), num_generations=4, max_completion_length=6, per_device_train_batch_size=4,
        gradient_accumulation_steps=1, max_steps=2, learning_rate=1e-2, use_cpu=True, report_to="none",
        logging_steps=1, save_strategy="no", bf16=False, seed=0)
    trainer = trl_grpo.make_trainer(str(model_dir), dataset, args)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    assert trainer.ref_model is not None, "beta = 0.04 loads a reference model"
    trainer.train()

    assert trainer.state.global_step == 2
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 2 and all(torch.isfinite(torch.tensor(h["loss"])) for h in logged)
    rewards = [h["rewards/correct_answer/mean"] for h in logged]   # the example's reward function was called
    assert all(0.0 <= r <= 1.0 for r in rewards)
    assert any(not torch.equal(b, p.detach()) for b, p in zip(before, trainer.model.parameters())), "no weight changed"
