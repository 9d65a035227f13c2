"""Tests of demos/memory.py against published parameter counts, the ZeRO paper and hand computations."""

import json

import pytest

from demos import memory as mem

GB = 1e9

# Published sizes: Hugging Face model cards / safetensors metadata (Llama 2: arXiv 2307.09288 sizes 7B/13B/70B).
PUBLISHED = {
    "Qwen2.5-1.5B": 1.54e9,
    "DeepSeekMath-7B": 6.91e9,
    "Llama-2-7B": 6.74e9,
    "Qwen2.5-7B": 7.61e9,
    "Llama-2-13B": 13.0e9,
    "Qwen2.5-32B": 32.8e9,
    "Llama-2-70B": 69.0e9,
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_param_count_within_half_a_percent_of_published(name):
    n = mem.param_count(name)
    assert abs(n - PUBLISHED[name]) / PUBLISHED[name] < 0.005, (name, n)


def test_presets_cover_the_issue_list():
    assert set(PUBLISHED) <= set(mem.PRESETS)


def test_tied_embeddings_and_qkv_bias_are_counted():
    qwen = mem.PRESETS["Qwen2.5-1.5B"]
    untied = mem.with_overrides(qwen, tie_word_embeddings=False)
    assert mem.param_count(untied) - mem.param_count(qwen) == 151936 * 1536
    no_bias = mem.with_overrides(qwen, qkv_bias=False)
    # per layer q bias 1536 + k, v biases 2 * 256 (2 KV heads of 128)
    assert mem.param_count(qwen) - mem.param_count(no_bias) == 28 * (1536 + 2 * 256)


def test_tiny_config_hand_count():
    c = mem.custom_config(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                          num_key_value_heads=1, vocab_size=10)
    # embed 80 + lm_head 80; per layer q 64 + k 32 + v 32 + o 64 + MLP 3*128 + norms 16 = 592; final norm 8
    assert mem.param_count(c) == 80 + 80 + 2 * 592 + 8


def test_config_dict_round_trip():
    from dataclasses import asdict

    for config in mem.PRESETS.values():
        assert mem.resolve_model(asdict(config)) == config


def test_config_from_hf_matches_preset():
    cfg = {"model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
           "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
           "tie_word_embeddings": False, "hidden_act": "silu"}
    assert mem.param_count(cfg) == mem.param_count("Qwen2.5-7B")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"num_attention_heads": 3}, "multiple of num_attention_heads"),
        ({"num_key_value_heads": 3}, "must divide"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"hidden_size": 10.5}, "hidden_size"),
    ],
)
def test_custom_config_rejects_bad_numbers(fields, message):
    base = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, vocab_size=100)
    with pytest.raises(ValueError, match=message):
        mem.custom_config(**{**base, **fields})


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="presets"):
        mem.compare("GPT-5")


# --------------------------------------------------------------------------- ZeRO Table I


def test_sixteen_bytes_per_trained_parameter_two_frozen():
    assert mem.model_state_bytes(1e9, trained=True) == 16 * GB
    assert mem.model_state_bytes(1e9, trained=False) == 2 * GB
    assert mem.model_state_bytes(1e9, trained=True, precision="fp32") == 16 * GB


# ZeRO paper (arXiv 1910.02054) Table I, 7.5B model, GB per device for P_os, P_os+g, P_os+g+p, as printed.
ZERO_TABLE_I = {
    1: ("120", "120", "120"),
    4: ("52.5", "41.3", "30"),
    16: ("35.6", "21.6", "7.5"),
    64: ("31.4", "16.6", "1.88"),
    1024: ("30.1", "15.1", "0.12"),
}


@pytest.mark.parametrize("n_gpus", list(ZERO_TABLE_I))
def test_zero_table_one_for_7_5b(n_gpus):
    got = [mem.model_state_bytes(7.5e9, trained=True, zero_stage=s, n_gpus=n_gpus) / GB for s in (1, 2, 3)]
    for value, printed in zip(got, ZERO_TABLE_I[n_gpus]):
        decimals = len(printed.partition(".")[2])
        # the printed figure is our value rounded half-up to the paper's number of decimals
        assert abs(value - float(printed)) <= 0.5 * 10**-decimals + 1e-12, (n_gpus, got)
    assert mem.model_state_bytes(7.5e9, trained=True, zero_stage=0, n_gpus=n_gpus) == 120 * GB


def test_frozen_model_partitioned_only_by_stage_three():
    assert mem.model_state_bytes(7e9, trained=False, zero_stage=2, n_gpus=8) == 14 * GB
    assert mem.model_state_bytes(7e9, trained=False, zero_stage=3, n_gpus=8) == pytest.approx(14 * GB / 8)


# --------------------------------------------------------------------------- activations, logits, KV cache


def test_activation_formula_hand_computed():
    c = mem.custom_config(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                          vocab_size=100, hidden_act="gelu")
    # s b h = 10 * 3 * 64 = 1920; no recomputation: 2 layers * 1920 * (34 + 5*4*10/64 = 37.125) = 142560
    assert mem.activation_bytes(c, seq_len=10, micro_batch=3, grad_checkpointing=False, flash_attention=False) == 142560
    assert mem.activation_bytes(c, seq_len=10, micro_batch=3, grad_checkpointing=False, flash_attention=True) == 2 * 1920 * 34
    # full recomputation: 2 layers * 2 s b h + one layer recomputed (34 s b h) = 7680 + 65280
    assert mem.activation_bytes(c, seq_len=10, micro_batch=3, grad_checkpointing=True) == 72960


def test_kv_cache_llama2_7b_half_a_megabyte_per_token():
    # 2 * 32 layers * 32 heads * 128 dims * 2 bytes = 524288 bytes per token
    assert mem.kv_cache_bytes("Llama-2-7B", tokens=4096, sequences=1) == 2 * 1024**3


def test_kv_cache_uses_kv_heads_not_query_heads():
    llama70 = mem.PRESETS["Llama-2-70B"]
    mha = mem.with_overrides(llama70, num_key_value_heads=64)
    assert mem.kv_cache_bytes(mha, tokens=100, sequences=2) == 8 * mem.kv_cache_bytes(llama70, tokens=100, sequences=2)


def test_logits_for_a_150k_vocabulary():
    # 1024 completion tokens * 4 sequences * 152064 * 4 bytes = 2.49 GB
    assert mem.logits_bytes("Qwen2.5-7B", tokens=1024, micro_batch=4) / GB == pytest.approx(2.491, abs=1e-3)


# --------------------------------------------------------------------------- breakdown and helpers

PLAIN = dict(zero_stage=0, n_gpus=1, reference=True)


def test_breakdown_keys_exactly():
    assert tuple(mem.breakdown("Llama-2-7B")) == mem.COMPONENTS == (
        "policy_weights", "policy_grads", "optimizer", "critic", "reference", "reward_model",
        "activations", "logits", "kv_cache")


def test_half_comes_from_verifier_versus_reward_model():
    psi = mem.param_count("Llama-2-7B")
    grpo = mem.breakdown("Llama-2-7B", algorithm="grpo", reward="verifier", **PLAIN)
    ppo = mem.breakdown("Llama-2-7B", algorithm="ppo", reward="model", **PLAIN)
    assert mem.model_states(grpo) == 18 * psi
    assert mem.model_states(ppo) == 36 * psi
    assert mem.model_state_ratio("Llama-2-7B", reward="verifier", **PLAIN) == pytest.approx(18 / 34)
    assert mem.compare("Llama-2-7B", reward="verifier", ppo_reward="model", **PLAIN)["model_state_ratio"] == 0.5


def test_grpo_kv_cache_grows_with_group_size_ppo_does_not():
    kv = {G: mem.breakdown("Qwen2.5-7B", group_size=G, algorithm="grpo")["kv_cache"] for G in (4, 16)}
    assert kv[16] == 4 * kv[4]
    ppo = {G: mem.breakdown("Qwen2.5-7B", group_size=G, algorithm="ppo")["kv_cache"] for G in (4, 16)}
    assert ppo[4] == ppo[16]


def test_gradient_checkpointing_saves_activations():
    on = mem.breakdown("Llama-2-7B", grad_checkpointing=True)["activations"]
    off = mem.breakdown("Llama-2-7B", grad_checkpointing=False)["activations"]
    assert on < off / 5


def test_lora_freezes_the_base_and_drops_the_reference():
    psi = mem.param_count("Llama-2-7B")
    n_lora = mem.lora_param_count("Llama-2-7B", 16)
    # per layer r*(in+out): q,k,v,o 4*16*8192 + gate,up,down 3*16*(4096+11008)
    assert n_lora == 32 * (4 * 16 * 8192 + 3 * 16 * 15104)
    parts = mem.breakdown("Llama-2-7B", lora_rank=16, **PLAIN)
    assert parts["reference"] == 0
    assert parts["policy_grads"] == 2 * n_lora
    assert parts["optimizer"] == 12 * n_lora
    assert parts["policy_weights"] == 2 * psi + 2 * n_lora


def test_zero3_divides_every_model_state():
    one = mem.breakdown("Qwen2.5-7B", algorithm="ppo", reward="model", zero_stage=3, n_gpus=1)
    eight = mem.breakdown("Qwen2.5-7B", algorithm="ppo", reward="model", zero_stage=3, n_gpus=8)
    for key in mem.MODEL_STATE_COMPONENTS:
        assert eight[key] == pytest.approx(one[key] / 8)
    assert eight["activations"] == one["activations"]


def test_gpus_needed_is_the_smallest_that_fits():
    opts = dict(zero_stage=3, reward="model")
    for algorithm in ("grpo", "ppo"):
        n = mem.gpus_needed_80gb("Llama-2-70B", algorithm=algorithm, **opts)
        assert n is not None and n > 1
        assert mem.total(mem.breakdown("Llama-2-70B", algorithm=algorithm, n_gpus=n, **opts)) <= 80 * GB
        assert mem.total(mem.breakdown("Llama-2-70B", algorithm=algorithm, n_gpus=n - 1, **opts)) > 80 * GB
    # without ZeRO a 70B model's 16 bytes/param never fit on one 80 GB GPU
    assert mem.gpus_needed_80gb("Llama-2-70B", zero_stage=0) is None


def test_compare_is_json_friendly_and_consistent():
    out = mem.compare("Qwen2.5-1.5B", group_size=16, n_gpus=4)
    again = json.loads(json.dumps(out))
    assert again["grpo"]["total"] == pytest.approx(sum(again["grpo"]["breakdown"].values()))
    assert again["ratio"] == pytest.approx(out["grpo"]["total"] / out["ppo"]["total"])
    assert again["model"]["params"] == mem.param_count("Qwen2.5-1.5B")
    assert out["ppo"]["breakdown"]["critic"] > 0 and out["grpo"]["breakdown"]["critic"] == 0
    custom = mem.compare({"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                          "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
                          "tie_word_embeddings": True, "qkv_bias": True})
    assert custom["model"]["params"] == mem.param_count("Qwen2.5-1.5B")


@pytest.mark.parametrize(
    "option, message",
    [
        ({"zero_stage": 4}, "zero_stage"),
        ({"n_gpus": 0}, "n_gpus"),
        ({"group_size": -1}, "group_size"),
        ({"precision": "int4"}, "precision"),
        ({"reward": "human"}, "reward"),
        ({"lora_rank": -8}, "lora_rank"),
    ],
)
def test_breakdown_rejects_bad_options(option, message):
    with pytest.raises(ValueError, match=message):
        mem.breakdown("Llama-2-7B", **option)
