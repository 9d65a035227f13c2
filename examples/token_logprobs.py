"""Per-token log-probabilities of sampled completions from a Hugging Face causal language model: the input of
the GRPO loss (demos/grpo_torch.py). content/grpo.md includes ``token_logprobs``; tests/test_examples_logprobs.py
checks it against a position-by-position computation and against TRL's own helper.

    python examples/token_logprobs.py        # a tiny random model: shapes and one value, checked
"""
from __future__ import annotations

import torch


def token_logprobs(model, input_ids, attention_mask, n_prompt_tokens):
    """(N, L) ids, every prompt left-padded to n_prompt_tokens, then its completion
    -> (N, L - n_prompt_tokens) log-probs of the completion tokens."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]   # predicts ids[:, 1:]
    logp = torch.log_softmax(logits.float(), dim=-1)
    logp = logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return logp[:, n_prompt_tokens - 1:]


def main() -> int:
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32))
    ids = torch.randint(1, 32, (2, 7))
    logp = token_logprobs(model, ids, torch.ones_like(ids), n_prompt_tokens=4)
    print(f"ids {tuple(ids.shape)} -> completion log-probs {tuple(logp.shape)}; first {logp[0, 0].item():.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
