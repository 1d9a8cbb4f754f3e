"""Composite, metric-driven and cyclic schedulers; re-exported by ``lr_scheduler``."""

import math
from bisect import bisect_right

from .lr_scheduler import (
    LRScheduler,
    _assign_lr,
    _note_verbose,
    _pack_callables,
    _per_group,
    _positive_int,
    _require_optimizer,
    _set_momentum,
    _snapshot,
    _unpack_callables,
    _validate,
    _warn_epoch_argument,
)

__all__ = ["SequentialLR", "ChainedScheduler", "ReduceLROnPlateau", "OneCycleLR", "CyclicLR"]


def _group_lrs(optimizer):
    return [_snapshot(group["lr"]) for group in optimizer.param_groups]


def _check_children(owner, optimizer, schedulers):
    for idx, child in enumerate(schedulers):
        if not hasattr(child, "optimizer"):
            raise TypeError(f"{owner} at index {idx} should have `optimizer` as its attribute.")
        if isinstance(child, ReduceLROnPlateau):
            raise ValueError(
                f"{owner} does not support `ReduceLROnPlateau` scheduler as it requires "
                "additional kwargs to be specified when calling `step`, but got one at "
                f"index {idx} in the given schedulers sequence."
            )
        if child.optimizer != optimizer:
            raise ValueError(
                f"{owner} expects all schedulers to belong to the same optimizer, but got "
                f"scheduler {type(child).__name__} at index {idx} has {child.optimizer}, "
                f"which is different from {type(optimizer).__name__}."
            )


class _Composite(LRScheduler):
    """A scheduler driving others (kept in ``_schedulers``); their states nest in its own."""

    def state_dict(self):
        own = {k: v for k, v in vars(self).items() if k not in ("optimizer", "_schedulers")}
        own["_schedulers"] = [child.state_dict() for child in self._schedulers]
        return own

    def load_state_dict(self, state_dict):
        vars(self).update({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for child, saved in zip(self._schedulers, state_dict["_schedulers"]):
            child.load_state_dict(saved)


class SequentialLR(_Composite):
    """Runs ``schedulers[i]`` between ``milestones[i-1]`` and ``milestones[i]``."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1, verbose="deprecated"):
        name = type(self).__name__
        _validate((schedulers, f"{name} expects at least one scheduler, but got no scheduler."))
        _check_children(name, optimizer, schedulers)
        _validate(
            (
                len(schedulers) == len(milestones) + 1,
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers "
                f"{len(schedulers)} and the number of milestones to be equal to "
                f"{len(milestones)}",
            )
        )
        _note_verbose(verbose)
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Every child stepped once when it was built; take those steps back and start
        # only the first child from the initial lrs.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        schedulers[0]._initial_step()
        self._last_lr = schedulers[0].get_last_lr()

    def recursive_undo(self, sched=None):
        node = self if sched is None else sched
        if hasattr(node, "_schedulers"):
            for child in node._schedulers:
                self.recursive_undo(child)
        elif hasattr(node, "last_epoch"):
            node.last_epoch -= 1

    def step(self):
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        active = self._schedulers[index]
        if index and self._milestones[index - 1] == self.last_epoch:
            active._jump_to(0)  # a child starts its own schedule at its milestone
        else:
            active.step()
        self._last_lr = active.get_last_lr()


class ChainedScheduler(_Composite):
    """Steps every scheduler at once; their multiplicative effects compose."""

    def __init__(self, schedulers, optimizer=None):
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(
                f"{name} expects at least one scheduler to be chained, but got no scheduler."
            )
        if optimizer is None:
            optimizer = schedulers[0].optimizer
        _check_children(name, optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = _group_lrs(schedulers[-1].optimizer)

    def step(self):
        for child in self._schedulers:
            child.step()
        self._last_lr = _group_lrs(self._schedulers[-1].optimizer)


class ReduceLROnPlateau(LRScheduler):
    """Multiplies the lrs by ``factor`` once the metric stops improving for ``patience`` steps."""

    def __init__(
        self,
        optimizer,
        mode="min",
        factor=0.1,
        patience=10,
        threshold=1e-4,
        threshold_mode="rel",
        cooldown=0,
        min_lr=0,
        eps=1e-8,
        verbose="deprecated",
    ):
        _validate((factor < 1.0, "Factor should be < 1.0."))
        _require_optimizer(optimizer)
        self.factor = factor
        self.optimizer = optimizer
        count = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != count:
                raise ValueError(f"expected {count} min_lrs, got {len(min_lr)}")
            self.default_min_lr, self.min_lrs = None, list(min_lr)
        else:
            self.default_min_lr, self.min_lrs = min_lr, [min_lr] * count
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _group_lrs(optimizer)
        _note_verbose(verbose)
        self._set_mode(mode, threshold, threshold_mode)
        self._reset()

    def _set_mode(self, mode, threshold, threshold_mode):
        _validate(
            (mode in ("min", "max"), f"mode {mode} is unknown!"),
            (threshold_mode in ("rel", "abs"), f"threshold mode {threshold_mode} is unknown!"),
        )
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, a, best):
        if self.threshold_mode == "rel":
            margin = 1.0 - self.threshold if self.mode == "min" else self.threshold + 1.0
            bound = best * margin
        else:
            bound = best - self.threshold if self.mode == "min" else best + self.threshold
        return a < bound if self.mode == "min" else a > bound

    is_better = _is_better  # public name of PyTorch releases before 2.4

    def step(self, metrics, epoch=None):
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            _warn_epoch_argument()
        self.last_epoch = epoch

        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            # bad epochs during cooldown do not count
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr(epoch)
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = _group_lrs(self.optimizer)

    def _reduce_lr(self, epoch):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    "The number of param groups in the `optimizer` "
                    f"({len(groups)}) differs from when `ReduceLROnPlateau` was initialized "
                    f"({len(self.min_lrs)}), usually due to a new param group being added to "
                    "the optimizer. Please modify the `min_lrs` field to match the length of "
                    "the `optimizer` param groups."
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, floor in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, floor)
            if old - new > self.eps:
                _assign_lr(group, new)

    def load_state_dict(self, state_dict):
        vars(self).update(state_dict)
        self._set_mode(self.mode, self.threshold, self.threshold_mode)


def _cos_anneal(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _linear_anneal(start, end, pct):
    return (end - start) * pct + start


def _require_momentum(optimizer):
    """Whether momentum lives in ``betas[0]`` (Adam-like) rather than in ``momentum``."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
        )
    return "betas" in optimizer.defaults


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up to ``max_lr``, then anneal far below the initial lr."""

    def __init__(
        self,
        optimizer,
        max_lr,
        total_steps=None,
        epochs=None,
        steps_per_epoch=None,
        pct_start=0.3,
        anneal_strategy="cos",
        cycle_momentum=True,
        base_momentum=0.85,
        max_momentum=0.95,
        div_factor=25.0,
        final_div_factor=1e4,
        three_phase=False,
        last_epoch=-1,
        verbose="deprecated",
    ):
        _require_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is None:
            _validate(
                (
                    None not in (epochs, steps_per_epoch),
                    "You must define either total_steps OR (epochs AND steps_per_epoch)",
                )
            )
            total_steps = _positive_int("epochs", epochs)
            total_steps *= _positive_int("steps_per_epoch", steps_per_epoch)
        self.total_steps = _positive_int("total_steps", total_steps)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self._schedule_phases = self._phases(pct_start, three_phase)
        self._anneal_func_type = anneal_strategy

        fresh = last_epoch == -1
        peaks = _per_group("max_lr", optimizer, max_lr)
        if fresh:
            for group, peak in zip(optimizer.param_groups, peaks):
                start = peak / div_factor
                group.update(initial_lr=start, max_lr=peak, min_lr=start / final_div_factor)

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _require_momentum(optimizer)
            highs = _per_group("max_momentum", optimizer, max_momentum)
            lows = _per_group("base_momentum", optimizer, base_momentum)
            if fresh:
                for group, high, low in zip(optimizer.param_groups, highs, lows):
                    _set_momentum(group, high, self.use_beta1)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch, verbose)

    def _phases(self, pct_start, three_phase):
        """Each phase anneals between two group keys until (and including) ``end_step``."""
        keys = ("end_step", "start_lr", "end_lr", "start_momentum", "end_momentum")
        peak = float(pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        if three_phase:
            rows = [
                (peak, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                 "base_momentum", "max_momentum"),
                (last, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]  # fmt: skip
        else:
            rows = [
                (peak, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (last, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        return [dict(zip(keys, row)) for row in rows]

    def _where(self, t):
        """The phase holding step ``t`` and how far into it ``t`` is (0..1)."""
        begin = 0.0
        for phase in self._schedule_phases[:-1]:
            if t <= phase["end_step"]:
                return phase, (t - begin) / (phase["end_step"] - begin)
            begin = phase["end_step"]
        phase = self._schedule_phases[-1]
        return phase, (t - begin) / (phase["end_step"] - begin)

    def get_lr(self):
        self._warn_outside_step()
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(
                f"Tried to step {t} times. The specified number of total steps is "
                f"{self.total_steps}"
            )
        phase, pct = self._where(t)
        return [self._anneal_group(group, phase, pct) for group in self.optimizer.param_groups]

    def _anneal_group(self, group, phase, pct):
        """The group's lr for this step; its momentum (if cycled) is set on the way."""
        anneal = _cos_anneal if self._anneal_func_type == "cos" else _linear_anneal
        if self.cycle_momentum:
            m = anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
            _set_momentum(group, m, self.use_beta1)
        return anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)


_CYCLIC_MODES = {
    # mode: (amplitude scale at x, what x counts)
    "triangular": (lambda self, x: 1.0, "cycle"),
    "triangular2": (lambda self, x: 1 / (2.0 ** (x - 1)), "cycle"),
    "exp_range": (lambda self, x: self.gamma**x, "iterations"),
}


class CyclicLR(LRScheduler):
    """Cyclical lr (and inverse momentum) between two bounds, triangle-shaped per cycle."""

    def __init__(
        self,
        optimizer,
        base_lr,
        max_lr,
        step_size_up=2000,
        step_size_down=None,
        mode="triangular",
        gamma=1.0,
        scale_fn=None,
        scale_mode="cycle",
        cycle_momentum=True,
        base_momentum=0.8,
        max_momentum=0.9,
        last_epoch=-1,
        verbose="deprecated",
    ):
        _require_optimizer(optimizer)
        lows = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for group, low in zip(optimizer.param_groups, lows):
                _assign_lr(group, low)
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)

        up = float(step_size_up)
        down = up if step_size_down is None else float(step_size_down)
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        known = mode in _CYCLIC_MODES or scale_fn is not None
        _validate((known, "mode is invalid and scale_fn is None"))
        self.mode = mode
        self.gamma = gamma
        self.scale_mode = scale_mode if scale_fn is not None else _CYCLIC_MODES[mode][1]

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _require_momentum(optimizer)
            highs = _per_group("max_momentum", optimizer, max_momentum)
            lows_m = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, high, low in zip(optimizer.param_groups, highs, lows_m):
                    _set_momentum(group, high, self.use_beta1)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
            self.base_momentums = [g["base_momentum"] for g in optimizer.param_groups]
            self.max_momentums = [g["max_momentum"] for g in optimizer.param_groups]
        self._scale_fn_custom = scale_fn
        super().__init__(optimizer, last_epoch, verbose)
        self.base_lrs = lows

    def scale_fn(self, x):
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return _CYCLIC_MODES[self.mode][0](self, x)

    def get_lr(self):
        self._warn_outside_step()
        t = self.last_epoch
        cycle = math.floor(1 + t / self.total_size)
        x = 1.0 + t / self.total_size - cycle  # position within the cycle, 0..1
        if x <= self.step_ratio:
            rise = x / self.step_ratio
        else:
            rise = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        lrs = [low + (high - low) * rise * scale for low, high in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            bounds = zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums)
            for group, low, high in bounds:
                _set_momentum(group, high - (high - low) * rise * scale, self.use_beta1)
        return lrs

    def state_dict(self):
        saved = super().state_dict()
        custom = self._scale_fn_custom
        saved["_scale_fn_custom"] = None if custom is None else _pack_callables([custom])[0]
        return saved

    def load_state_dict(self, state_dict):
        custom = self._scale_fn_custom
        vars(self).update({k: v for k, v in state_dict.items() if k != "_scale_fn_custom"})
        if custom is not None:
            _unpack_callables([custom], [state_dict.get("_scale_fn_custom")])
