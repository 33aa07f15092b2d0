"""FSDP2 for the DiT loop (kinora.train.dit, `--fsdp`): shard a model over the ranks, and
move its full (unsharded) training state out of and into the shards.

* `shard` applies torch's FSDP2 (`torch.distributed.fsdp.fully_shard`) to each transformer
  block, then to the root (the embeddings, adaLN and the final layer): each rank keeps
  1/world of every parameter, and a block's full weights exist only while it runs. The
  loop shards its EMA copy the same way, so the EMA update stays a local, element-wise
  step on each rank's shard.
* `full_state` gathers the model, EMA and optimizer states as full tensors on rank 0's CPU
  (torch.distributed.checkpoint.state_dict with full_state_dict and cpu_offload), with the
  optimizer's state in torch's own format (parameters numbered in the optimizer's order, as
  `optimizer.state_dict()` gives it). train_state.pt is then the same file a plain run
  writes: any rank count, with or without FSDP, resumes it.
* `load_full_state` is the way back: every rank holds the full state read from
  train_state.pt and keeps its own shard (`set_model_state_dict`, `set_optimizer_state_dict`).
* `gather_model` returns a plain DiT with the full trained weights on every rank (what
  `run` returns).

What it follows: PyTorch's FSDP2 tutorial and torchtitan (per-block `fully_shard` then the
root; full state dicts through torch.distributed.checkpoint.state_dict).
"""

from __future__ import annotations

import torch
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from kinora.models.dit import DiT

# Full tensors, gathered to rank 0's CPU (the others get empty dicts): what train_state.pt holds.
TO_RANK0 = StateDictOptions(full_state_dict=True, cpu_offload=True)


def shard(modules: list[DiT], device: torch.device, world: int) -> None:
    """FSDP2 over all `world` ranks for each module: every block, then the root."""
    mesh = init_device_mesh(device.type, (world,))
    for module in modules:
        for block in module.blocks:
            fully_shard(block, mesh=mesh)
        fully_shard(module, mesh=mesh)


def param_names(model: torch.nn.Module, opt: torch.optim.Optimizer) -> list[str]:
    """The optimizer's parameters by name, in its own order (the numbers of its state_dict)."""
    name_of = {id(p): n for n, p in model.named_parameters()}
    return [name_of[id(p)] for group in opt.param_groups for p in group["params"]]


def full_state(model: DiT, ema: DiT, opt: torch.optim.Optimizer) -> tuple[dict, dict, dict]:
    """(model, EMA, optimizer) state dicts of full CPU tensors on rank 0, in the format of a
    plain run; empty dicts on the other ranks. Every rank must call it (it gathers)."""
    model_sd = get_model_state_dict(model, options=TO_RANK0)
    ema_sd = get_model_state_dict(ema, options=TO_RANK0)
    osd = get_optimizer_state_dict(model, opt, options=TO_RANK0)  # keyed by parameter name
    if not osd:
        return model_sd, ema_sd, {}
    number = {name: i for i, name in enumerate(param_names(model, opt))}
    plain = {"state": {number[name]: v for name, v in osd["state"].items()},
             "param_groups": [{**g, "params": [number[name] for name in g["params"]]} for g in osd["param_groups"]]}
    return model_sd, ema_sd, plain


def load_full_state(model: DiT, ema: DiT, opt: torch.optim.Optimizer, state: dict) -> None:
    """Load train_state.pt's full model, EMA and optimizer states (held by every rank) into
    the sharded modules: each rank keeps its shard. `state` itself is left as it was."""
    full = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, dict(state["model"]), options=full)  # (it replaces the dict's entries)
    set_model_state_dict(ema, dict(state["ema"]), options=full)
    names = param_names(model, opt)
    osd = state["optimizer"]
    by_name = {"state": {names[i]: dict(v) for i, v in osd["state"].items()},
               "param_groups": [{**g, "params": [names[i] for i in g["params"]]} for g in osd["param_groups"]]}
    set_optimizer_state_dict(model, opt, by_name, options=full)
    for group, saved in zip(opt.param_groups, osd["param_groups"]):  # it hands betas back as a list:
        group.update({k: v for k, v in saved.items() if k != "params"})  # keep the saved values as they were


def gather_model(model: DiT) -> DiT:
    """A plain DiT with the sharded model's full weights, on every rank (they all gather)."""
    from kinora.train.dit import plain_dit

    return plain_dit(model.cfg, get_model_state_dict(model, options=StateDictOptions(full_state_dict=True)))
