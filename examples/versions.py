"""The versions the examples target: one place, read by scripts/setup.sh and by anyone who builds a GRPOConfig.

TRL_VERSION is the TRL release examples/trl_grpo.py is written and tested against (the newest on PyPI when it was
pinned). The GRPOConfig defaults quoted in content/grpo.md are those of this release unless a version is named.
"""

TRL_VERSION = "1.16.0"
TORCH_VERSION = "2.13.0"   # the CPU build scripts/setup.sh --test installs before TRL (TRL does not pin torch)
