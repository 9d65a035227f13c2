"""examples/token_logprobs.py, the helper content/grpo.md shows for getting the GRPO loss's inputs from a Hugging
Face model: it must pick, for every completion token, the log-probability the model gave it from the position
before (the shift by one), skip the prompt, and ignore left padding."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from examples.token_logprobs import token_logprobs  # noqa: E402


def tiny_model():
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64)
    return transformers.LlamaForCausalLM(config).eval()


def by_hand(model, prompt: list[int], completion: list[int]) -> list[float]:
    """log p(completion[j] | prompt + completion[:j]), one forward pass per token, no padding."""
    out = []
    for j, token in enumerate(completion):
        ids = torch.tensor([prompt + completion[:j]])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, -1].float()
        out.append(torch.log_softmax(logits, -1)[token].item())
    return out


def test_each_completion_token_gets_its_log_prob_from_the_position_before():
    model = tiny_model()
    prompts, completions, P = [[5, 6, 7], [8, 9, 10, 11]], [[12, 13, 14], [15, 16, 17]], 4
    pad = 0
    rows = [[pad] * (P - len(p)) + p + c for p, c in zip(prompts, completions)]        # prompts left-padded to P
    ids = torch.tensor(rows)
    attn = torch.tensor([[0] * (P - len(p)) + [1] * (len(p) + len(c)) for p, c in zip(prompts, completions)])
    with torch.no_grad():
        got = token_logprobs(model, ids, attn, P)
    assert got.shape == (2, 3)
    # the padded row equals the unpadded one too (the mask hides the pad; Llama's rotary positions are relative)
    for i, (p, c) in enumerate(zip(prompts, completions)):
        assert got[i].tolist() == pytest.approx(by_hand(model, p, c), abs=1e-5)
    # an off-by-one (reading a token's probability at its own position) gives other numbers
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attn).logits.float()
    unshifted = torch.log_softmax(logits, -1)[:, P:].gather(-1, ids[:, P:].unsqueeze(-1)).squeeze(-1)
    assert not torch.allclose(unshifted, got, atol=1e-3)


def test_the_gradient_flows_to_the_policy_only_where_asked():
    model = tiny_model()
    ids = torch.randint(1, 40, (3, 8))
    logp = token_logprobs(model, ids, torch.ones_like(ids), n_prompt_tokens=5)
    assert logp.shape == (3, 3) and logp.requires_grad and bool((logp < 0).all())
    logp.sum().backward()
    assert model.lm_head.weight.grad is not None and model.lm_head.weight.grad.abs().sum() > 0
