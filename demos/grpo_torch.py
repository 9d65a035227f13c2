"""The GRPO loss in PyTorch, as a trainer computes it (arXiv 2402.03300, Eq. 3 and 4; TRL's conventions).

Autograd gives the gradient. Tested against the numpy core (demos/grpo_core.py), which writes the gradient
out by hand. Not used by the browser demos.
"""

import torch


def group_advantages(rewards, eps=1e-4):
    """rewards (B, G) -> advantages (B, G): (r - group mean) / (group std + eps).
    Sample std (ddof = 1) as the trainers use; a group of one gives NaN here (the numpy core returns 0)."""
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True)
    return (rewards - mean) / (std + eps)


def grpo_loss(logp, old_logp, ref_logp, advantages, mask, eps_low=0.2, eps_high=None,
              beta=0.04, loss_type="grpo", max_completion_length=None):
    """The scalar to minimise (-J). logp, old_logp, ref_logp, mask: (N, T) for N completions of T tokens;
    advantages: (N,) (every token of o_i gets A_i) or (N, T). Only logp carries a gradient."""
    eps_high = eps_low if eps_high is None else eps_high
    A = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages
    old_logp, ref_logp = old_logp.detach(), ref_logp.detach()

    ratio = torch.exp(logp - old_logp)                        # rho = pi_theta / pi_old, per token
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    surrogate = torch.minimum(ratio * A, clipped * A)         # the pessimistic (clipped) objective

    log_r = ref_logp - logp                                   # log(pi_ref / pi_theta)
    kl = torch.exp(log_r) - log_r - 1                         # k3 estimate of KL(pi_theta || pi_ref), >= 0

    per_token = -surrogate + beta * kl
    mask = mask.to(per_token.dtype)
    total = (per_token * mask).sum()

    if loss_type == "grpo":                 # token mean in each completion, then mean over completions
        return ((per_token * mask).sum(dim=1) / mask.sum(dim=1)).mean()
    if loss_type in ("bnpo", "dapo"):       # mean over every unmasked token (one process)
        return total / mask.sum()
    if loss_type == "dr_grpo":              # a constant normaliser: no length bias (Dr. GRPO)
        L = max_completion_length or mask.shape[1]
        return total / (mask.shape[0] * L)
    raise ValueError(f"unknown loss_type {loss_type!r}")
