"""Learning-rate schedulers (``torch.optim.lr_scheduler``).

A scheduler owns a step counter, ``last_epoch``, and derives every param group's lr from it.
Decays that other schedulers may share a param group with (``ChainedScheduler``,
``SequentialLR``) are applied as a per-step multiplier on the group's current lr; an explicit
``step(epoch)`` uses the closed form computed from ``base_lrs`` instead.
"""

import math
import types
import warnings
import weakref
from bisect import bisect_right
from collections import Counter
from functools import wraps

import rtorch as torch

from .optimizer import Optimizer

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "SequentialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "OneCycleLR",
    "CosineAnnealingWarmRestarts",
    "PolynomialLR",
]

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available. "
    "Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)

_ORDER_DOCS = "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
_MESSAGES = {
    "get_lr": "To get the last learning rate computed by the scheduler, please use "
    "`get_last_lr()`.",
    "overridden": "Seems like `optimizer.step()` has been overridden after learning rate "
    "scheduler initialization. Please, make sure to call `optimizer.step()` before "
    f"`lr_scheduler.step()`. See more details at {_ORDER_DOCS}",
    "order": "Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch "
    "1.1.0 and later, you should call them in the opposite order: `optimizer.step()` before "
    "`lr_scheduler.step()`.  Failure to do this will result in PyTorch skipping the first "
    f"value of the learning rate schedule. See more details at {_ORDER_DOCS}",
    "verbose": "The verbose parameter is deprecated. Please use get_last_lr() to access the "
    "learning rate.",
    "resume": "param 'initial_lr' is not specified in param_groups[{}] when resuming scheduler "
    "with last_epoch >= 0.\nThis typically happens when:\n1. You're trying to resume training "
    "from a checkpoint but haven't properly loaded the optimizer state\n2. You're using "
    "last_epoch >= 0 for a fresh training run (not recommended)",
}
# Marks the per-instance optimizer.step wrapper; the usual name, which other code may check.
_STEP_MARK = "_wrapped_by_lr_sched"


def _warn(key, level=3):
    warnings.warn(_MESSAGES[key], UserWarning, stacklevel=level)


def _validate(*checks, error=ValueError):
    """Raise ``error`` with the message of the first failed ``(ok, message)`` check."""
    for ok, message in checks:
        if not ok:
            raise error(message)


def _require_optimizer(optimizer):
    kind = type(optimizer).__name__
    _validate((isinstance(optimizer, Optimizer), f"{kind} is not an Optimizer"), error=TypeError)


def _positive_int(name, value):
    ok = isinstance(value, int) and value > 0
    _validate((ok, f"Expected positive integer {name}, but got {value}"))
    return value


def _warn_epoch_argument():
    warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=3)


def _note_verbose(verbose):
    # Accepted for old call sites; it no longer prints anything.
    if verbose != "deprecated":
        _warn("verbose", level=4)


def _snapshot(value):
    return value.clone() if torch.is_tensor(value) else value


def _per_group(name, optimizer, value):
    """One value per param group; a scalar is repeated."""
    count = len(optimizer.param_groups)
    if not isinstance(value, (list, tuple)):
        return [value] * count
    if len(value) != count:
        raise ValueError(
            f"{name} must have the same length as optimizer.param_groups. "
            f"{name} has {len(value)} values, param_groups has {count}."
        )
    return list(value)


def _assign_lr(group, lr):
    if torch.is_tensor(group["lr"]):
        group["lr"].fill_(lr)
    else:
        group["lr"] = lr


def _set_momentum(group, value, in_betas):
    if in_betas:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


def _track_optimizer_steps(optimizer):
    """Wrap this optimizer's ``step`` once so a scheduler can tell whether it ever ran."""
    current = optimizer.step
    if getattr(current, _STEP_MARK, False):
        return
    func, owner = current.__func__, weakref.ref(optimizer)

    @wraps(func)
    def counted_step(*args, **kwargs):
        opt = owner()
        opt._opt_called = True
        return func(opt, *args, **kwargs)

    setattr(counted_step, _STEP_MARK, True)
    optimizer.step = counted_step


def _pack_callables(fns):
    # Plain functions cannot be saved; a callable object keeps its attributes.
    return [None if isinstance(fn, types.FunctionType) else dict(vars(fn)) for fn in fns]


def _unpack_callables(fns, saved):
    for fn, attrs in zip(fns, saved):
        if attrs is not None:
            vars(fn).update(attrs)


class LRScheduler:
    """Base class: subclasses provide ``get_lr`` (the lrs at ``self.last_epoch``)."""

    _get_lr_called_within_step = False
    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1, verbose="deprecated"):
        _require_optimizer(optimizer)
        self.optimizer = optimizer
        fresh = last_epoch == -1
        for index, group in enumerate(optimizer.param_groups):
            if fresh:
                group.setdefault("initial_lr", _snapshot(group["lr"]))
            elif "initial_lr" not in group:
                raise KeyError(_MESSAGES["resume"].format(index))
        self.base_lrs = [_snapshot(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        _track_optimizer_steps(optimizer)
        _note_verbose(verbose)
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def state_dict(self):
        return {key: value for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        vars(self).update(state_dict)

    def get_last_lr(self):
        return self._last_lr

    def get_lr(self):
        raise NotImplementedError

    def _lrs_now(self, closed_form):
        compute = getattr(self, "_get_closed_form_lr", None) if closed_form else None
        self._get_lr_called_within_step = True
        try:
            return (compute or self.get_lr)()
        finally:
            self._get_lr_called_within_step = False

    def _apply(self, lrs):
        groups = self.optimizer.param_groups
        for group, lr in zip(groups, lrs):
            _assign_lr(group, lr)
        self._last_lr = [_snapshot(group["lr"]) for group in groups]

    def _jump_to(self, epoch):
        """Closed-form lrs at ``epoch`` (where the scheduler has one), without counting a step."""
        self.last_epoch = epoch
        self._apply(self._lrs_now(closed_form=True))

    def _check_call_order(self):
        # Only the first real step checks: did optimizer.step run (through our wrapper)?
        wrapped = getattr(self.optimizer.step, _STEP_MARK, False)
        if not (wrapped and vars(self.optimizer).get("_opt_called")):
            _warn("order" if wrapped else "overridden", level=4)

    def step(self, epoch=None):
        if self._step_count == 1:
            self._check_call_order()
        self._step_count += 1
        if epoch is not None:
            _warn_epoch_argument()
            self._jump_to(epoch)
            return
        self.last_epoch += 1
        self._apply(self._lrs_now(closed_form=False))

    def _warn_outside_step(self):
        if not self._get_lr_called_within_step:
            _warn("get_lr", level=4)

    def _current_lrs(self):
        self._warn_outside_step()
        return [group["lr"] for group in self.optimizer.param_groups]


# The pre-2.0 name.
_LRScheduler = LRScheduler


class _MultiplierSchedule(LRScheduler):
    """lr <- lr * multiplier(t) on every step; ``scale(t)`` is the closed form lr/base_lr.

    A multiplier of int 1 leaves the stored value (and its type) as it was.
    """

    def get_lr(self):
        t = self.last_epoch
        return [lr * self._multiplier(t, i) for i, lr in enumerate(self._current_lrs())]

    def _get_closed_form_lr(self):
        t = self.last_epoch
        return [base * self._scale(t, i) for i, base in enumerate(self.base_lrs)]


class _LambdaState:
    """state_dict handling of schedulers holding user callables in ``lr_lambdas``."""

    def _take_lambdas(self, optimizer, lr_lambda):
        count = len(optimizer.param_groups)
        if not isinstance(lr_lambda, (list, tuple)):
            self.lr_lambdas = [lr_lambda] * count
        elif len(lr_lambda) == count:
            self.lr_lambdas = list(lr_lambda)
        else:
            raise ValueError(f"Expected {count} lr_lambdas, but got {len(lr_lambda)}")

    def state_dict(self):
        saved = {k: v for k, v in vars(self).items() if k not in ("optimizer", "lr_lambdas")}
        saved["lr_lambdas"] = _pack_callables(self.lr_lambdas)
        return saved

    def load_state_dict(self, state_dict):
        vars(self).update({k: v for k, v in state_dict.items() if k != "lr_lambdas"})
        _unpack_callables(self.lr_lambdas, state_dict["lr_lambdas"])


class LambdaLR(_LambdaState, LRScheduler):
    def __init__(self, optimizer, lr_lambda, last_epoch=-1, verbose="deprecated"):
        self.optimizer = optimizer
        self._take_lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch, verbose)

    def get_lr(self):
        self._warn_outside_step()
        t = self.last_epoch
        return [base * fn(t) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaState, _MultiplierSchedule):
    _get_closed_form_lr = None

    def __init__(self, optimizer, lr_lambda, last_epoch=-1, verbose="deprecated"):
        self.optimizer = optimizer
        self._take_lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch, verbose)

    def _multiplier(self, t, i):
        return 1 if self._is_initial else self.lr_lambdas[i](t)


class StepLR(_MultiplierSchedule):
    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1, verbose="deprecated"):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch, verbose)

    def _multiplier(self, t, i):
        return self.gamma if t and t % self.step_size == 0 else 1

    def _scale(self, t, i):
        return self.gamma ** (t // self.step_size)


class MultiStepLR(_MultiplierSchedule):
    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1, verbose="deprecated"):
        # a milestone listed twice decays twice
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch, verbose)

    def _multiplier(self, t, i):
        hits = self.milestones.get(t, 0)
        return self.gamma**hits if hits else 1

    def _scale(self, t, i):
        passed = bisect_right(sorted(self.milestones.elements()), t)
        return self.gamma**passed


class ConstantLR(_MultiplierSchedule):
    def __init__(
        self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1, verbose="deprecated"
    ):
        if not 0 <= factor <= 1.0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch, verbose)

    def _multiplier(self, t, i):
        if t == 0:
            return self.factor
        return 1.0 / self.factor if t == self.total_iters else 1

    def _scale(self, t, i):
        return 1.0 if t >= self.total_iters else self.factor


class LinearLR(_MultiplierSchedule):
    def __init__(
        self,
        optimizer,
        start_factor=1.0 / 3,
        end_factor=1.0,
        total_iters=5,
        last_epoch=-1,
        verbose="deprecated",
    ):
        if not 0 < start_factor <= 1.0:
            raise ValueError(
                "Starting multiplicative factor expected to be greater than 0 and less or "
                "equal to 1."
            )
        if not 0 <= end_factor <= 1.0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch, verbose)

    def _multiplier(self, t, i):
        if t == 0:
            return self.start_factor
        if self._is_initial or t > self.total_iters:
            return 1
        # ratio of consecutive points on the line start -> end
        slope = self.end_factor - self.start_factor
        return 1.0 + slope / (self.total_iters * self.start_factor + (t - 1) * slope)

    def _scale(self, t, i):
        done = min(self.total_iters, t) / self.total_iters
        return self.start_factor + (self.end_factor - self.start_factor) * done


class ExponentialLR(_MultiplierSchedule):
    def __init__(self, optimizer, gamma, last_epoch=-1, verbose="deprecated"):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch, verbose)

    def _multiplier(self, t, i):
        return 1 if self._is_initial else self.gamma

    def _scale(self, t, i):
        return self.gamma**t


class PolynomialLR(_MultiplierSchedule):
    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1, verbose="deprecated"):
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch, verbose)

    def _multiplier(self, t, i):
        if t == 0 or self._is_initial or t > self.total_iters:
            return 1
        n = self.total_iters
        return ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power

    def _scale(self, t, i):
        return (1.0 - min(self.total_iters, t) / self.total_iters) ** self.power


def _half_cosine(low, high, done, span):
    """``high`` after 0 of ``span`` steps down to ``low`` after all of them, cosine-shaped."""
    return low + (high - low) * (1 + math.cos(math.pi * done / span)) / 2


class CosineAnnealingLR(LRScheduler):
    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1, verbose="deprecated"):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch, verbose)

    def get_lr(self):
        lrs = self._current_lrs()
        t, period, low = self.last_epoch, self.T_max, self.eta_min
        if t == 0 or self._is_initial:
            return lrs
        if (t - 1 - period) % (2 * period) == 0:
            # leaving the trough the ratio below would be 0/0: climb by the first step's drop
            rise = (1 - math.cos(math.pi / period)) / 2
            return [lr + (base - low) * rise for lr, base in zip(lrs, self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [low + (lr - low) * ratio for lr in lrs]

    def _get_closed_form_lr(self):
        t, span = self.last_epoch, self.T_max
        return [_half_cosine(self.eta_min, base, t, span) for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1, verbose="deprecated"):
        _positive_int("T_0", T_0)
        _validate(
            (
                isinstance(T_mult, int) and T_mult >= 1,
                f"Expected integer T_mult >= 1, but got {T_mult}",
            ),
            (
                isinstance(eta_min, (int, float)),
                f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}",
            ),
        )
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch, verbose)

    def get_lr(self):
        self._warn_outside_step()
        done, span = self.T_cur, self.T_i
        return [_half_cosine(self.eta_min, base, done, span) for base in self.base_lrs]

    def _locate(self, epoch):
        """(position in its period, period length) of an absolute epoch."""
        if epoch < self.T_0:
            return epoch, self.T_0
        if self.T_mult == 1:
            return epoch % self.T_0, self.T_i
        # periods grow geometrically: T_0 * (1 + m + m^2 + ...)
        m = self.T_mult
        restarts = int(math.log(epoch / self.T_0 * (m - 1) + 1, m))
        return epoch - self.T_0 * (m**restarts - 1) / (m - 1), self.T_0 * m**restarts

    def step(self, epoch=None):
        # An explicit (possibly fractional) epoch is a documented use here: no warning.
        if epoch is None and self.last_epoch >= 0:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        else:
            epoch = 0 if epoch is None else epoch
            _validate((epoch >= 0, f"Expected non-negative epoch, but got {epoch}"))
            self.T_cur, self.T_i = self._locate(epoch)
        self.last_epoch = math.floor(epoch)
        self._apply(self._lrs_now(closed_form=False))


from ._schedulers_extra import (  # noqa: E402  (they subclass LRScheduler)
    ChainedScheduler,
    CyclicLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
)
