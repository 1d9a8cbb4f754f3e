"""Stochastic weight averaging (``torch.optim.swa_utils``).

``AveragedModel`` keeps a running average (equal-weight SWA by default, or an EMA) of a
model's parameters, ``SWALR`` anneals each group's learning rate towards a fixed SWA
rate, and ``update_bn`` recomputes batch-norm statistics for the averaged weights.
"""

import itertools
import math
from copy import deepcopy

import rtorch as torch
from rtorch.nn.modules.module import Module
from rtorch.nn.modules.normalization import _BatchNorm

from .lr_scheduler import LRScheduler, _per_group

__all__ = [
    "AveragedModel",
    "update_bn",
    "SWALR",
    "get_ema_multi_avg_fn",
    "get_swa_multi_avg_fn",
    "get_ema_avg_fn",
    "get_swa_avg_fn",
]


def _blendable(tensor):
    return tensor.is_floating_point() or tensor.is_complex()


def get_ema_multi_avg_fn(decay=0.999):
    """In-place EMA over lists: ``ema <- decay * ema + (1 - decay) * current``."""

    @torch.no_grad()
    def ema_update(ema_params, current_params, num_averaged):
        for ema, current in zip(ema_params, current_params):
            if _blendable(ema):
                ema.lerp_(current, 1 - decay)
            else:
                ema.copy_(ema * decay + current * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """In-place equal-weight average over lists: ``avg <- avg + (cur - avg) / (n + 1)``."""

    @torch.no_grad()
    def swa_update(averaged_params, current_params, num_averaged):
        if torch.is_tensor(num_averaged):
            num_averaged = num_averaged.item()
        for averaged, current in zip(averaged_params, current_params):
            averaged.copy_(averaged + (current - averaged) / (num_averaged + 1))

    return swa_update


def get_ema_avg_fn(decay=0.999):
    """Per-tensor EMA: returns ``decay * ema + (1 - decay) * current``."""

    @torch.no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return ema_param.mul(decay).add(current_param, alpha=1 - decay)

    return ema_update


def get_swa_avg_fn():
    """Per-tensor equal-weight average: returns ``avg + (cur - avg) / (n + 1)``."""

    @torch.no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param.add(current_param.sub(averaged_param).div(num_averaged + 1))

    return swa_update


class AveragedModel(Module):
    """A deep copy of ``model`` whose parameters hold an average of ``model``'s over time.

    ``avg_fn(avg, current, n)`` returns one averaged tensor; ``multi_avg_fn(avgs, currents,
    n)`` updates lists in place; with neither, the equal-weight SWA average is used.
    ``use_buffers=True`` averages buffers too (otherwise they are copied from ``model``).
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if not (avg_fn is None or multi_avg_fn is None):
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", torch.tensor(0, dtype=torch.long, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tracked(self, model):
        if self.use_buffers:
            return list(itertools.chain(model.parameters(), model.buffers()))
        return list(model.parameters())

    def update_parameters(self, model):
        """Fold ``model``'s current weights into the average."""
        ours = [p.detach() for p in self._tracked(self.module)]
        theirs = [p.detach().to(mine.device) for p, mine in zip(self._tracked(model), ours)]
        count = int(self.n_averaged.item())
        with torch.no_grad():
            if count == 0:
                # the first model seen is copied as is
                for mine, other in zip(ours, theirs):
                    mine.copy_(other)
            elif self.avg_fn is not None:
                n = self.n_averaged
                for mine, other in zip(ours, theirs):
                    mine.copy_(self.avg_fn(mine, other, n.to(mine.device)))
            else:
                # the list form, grouped so each call sees one device and dtype
                combine = self.multi_avg_fn or get_swa_multi_avg_fn()
                groups = {}
                for mine, other in zip(ours, theirs):
                    key = (str(mine.device), mine.dtype)
                    groups.setdefault(key, ([], []))
                    groups[key][0].append(mine)
                    groups[key][1].append(other)
                for mine_list, other_list in groups.values():
                    combine(mine_list, other_list, self.n_averaged.to(mine_list[0].device))
            if not self.use_buffers:
                # buffers follow the source model rather than being averaged
                for mine, other in zip(self.module.buffers(), model.buffers()):
                    mine.detach().copy_(other.detach().to(mine.device))
            self.n_averaged.add_(1)


@torch.no_grad()
def update_bn(loader, model, device=None):
    """Recompute the running statistics of every batch-norm layer of ``model``.

    One pass over ``loader`` with cumulative averaging (momentum ``None``); for batches
    given as lists or tuples the first element is the input.
    """
    saved_momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            saved_momenta[module] = module.momentum
    if not saved_momenta:
        return
    was_training = model.training
    model.train()
    for module in saved_momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in saved_momenta.items():
        module.momentum = momentum
    model.train(was_training)


def _cosine_ramp(progress):
    return (1 - math.cos(math.pi * progress)) / 2


def _linear_ramp(progress):
    return progress


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` over ``anneal_epochs`` epochs, then hold it.

    ``anneal_strategy`` is 'cos' or 'linear'.
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        for group, value in zip(optimizer.param_groups, _per_group("swa_lr", optimizer, swa_lr)):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self._anneal_strategy = anneal_strategy
        if not (isinstance(anneal_epochs, int) and anneal_epochs >= 0):
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _ramp(self, progress):
        fn = _cosine_ramp if self._anneal_strategy == "cos" else _linear_ramp
        return fn(progress)

    def _fraction(self, step):
        return max(0, min(1, step / max(1, self.anneal_epochs)))

    def get_lr(self):
        self._warn_outside_step()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        before = self._ramp(self._fraction(step - 1))
        now = self._ramp(self._fraction(step))
        lrs, groups = [], self.optimizer.param_groups
        for group in groups:
            swa_lr, lr = group["swa_lr"], group["lr"]
            # undo last step's blend to recover the starting lr, then blend anew
            start = swa_lr if before == 1 else (lr - before * swa_lr) / (1 - before)
            lrs.append(swa_lr * now + start * (1 - now))
        return lrs
