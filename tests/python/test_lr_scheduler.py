"""LR schedulers: chainable forms against PyTorch's closed forms and known sequences."""

import math
import warnings

import pytest

import rtorch as torch
from rtorch.optim import SGD, Adam
from rtorch.optim import lr_scheduler as S


@pytest.fixture(autouse=True)
def _quiet():
    # step(epoch) and get_lr() outside step() warn, as in PyTorch; not under test here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def make_opt(lrs=(0.05, 0.5), cls=SGD, **kwargs):
    groups = [{"params": [torch.tensor([0.0, 0.0], requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, **kwargs)


def collect(scheduler, opt, epochs):
    """lr of every group at each epoch, stepping the scheduler after each epoch."""
    out = []
    for _ in range(epochs):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        scheduler.step()
    return out


def assert_close(actual, expected, rel=1e-12, abs_=1e-15):
    assert len(actual) == len(expected)
    for epoch, (a, e) in enumerate(zip(actual, expected)):
        for x, y in zip(a, e):
            assert math.isclose(x, y, rel_tol=rel, abs_tol=abs_), (epoch, a, e)


def closed_form(make_scheduler, epochs, lrs=(0.05, 0.5)):
    """PyTorch's own check: the chainable form equals the closed form at every epoch."""
    opt = make_opt(lrs)
    chained = collect(make_scheduler(opt), opt, epochs)
    opt2 = make_opt(lrs)
    sched2 = make_scheduler(opt2)
    closed = []
    for epoch in range(epochs):
        sched2.step(epoch)
        closed.append([g["lr"] for g in opt2.param_groups])
    assert_close(chained, closed)
    return chained


def per_group(values, lrs=(0.05, 0.5)):
    return [[lr * v for lr in lrs] for v in values]


def test_steplr():
    out = closed_form(lambda o: S.StepLR(o, step_size=3, gamma=0.1), 10)
    assert_close(out, per_group([1] * 3 + [0.1] * 3 + [0.01] * 3 + [0.001]))


def test_multisteplr_with_repeated_milestone():
    out = closed_form(lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.1), 11)
    assert_close(out, per_group([1] * 2 + [0.1] * 3 + [0.001] * 4 + [0.0001] * 2))


def test_exponentiallr():
    out = closed_form(lambda o: S.ExponentialLR(o, gamma=0.9), 12)
    assert_close(out, per_group([0.9**e for e in range(12)]))


def test_constantlr():
    out = closed_form(lambda o: S.ConstantLR(o, factor=0.5, total_iters=4), 8)
    assert_close(out, per_group([0.5] * 4 + [1.0] * 4))


def test_linearlr():
    start, iters = 0.5, 4
    values = [start + i * (1 - start) / iters for i in range(iters)] + [1.0] * 6
    out = closed_form(lambda o: S.LinearLR(o, start_factor=start, total_iters=iters), 10)
    assert_close(out, per_group(values))


def test_polynomiallr():
    out = closed_form(lambda o: S.PolynomialLR(o, total_iters=4, power=2.0), 7)
    assert_close(out, per_group([(1 - min(4, e) / 4) ** 2 for e in range(7)]))


@pytest.mark.parametrize("eta_min", [0.0, 0.001])
def test_cosine_annealing_matches_closed_form_across_periods(eta_min):
    T_max = 5
    out = closed_form(lambda o: S.CosineAnnealingLR(o, T_max=T_max, eta_min=eta_min), 23)
    expected = [
        [eta_min + (lr - eta_min) * (1 + math.cos(math.pi * e / T_max)) / 2 for lr in (0.05, 0.5)]
        for e in range(23)
    ]
    assert_close(out, expected, rel=1e-9, abs_=1e-12)


def test_lambdalr_and_multiplicative():
    out = closed_form(lambda o: S.LambdaLR(o, lambda e: 0.95**e), 6)
    assert_close(out, per_group([0.95**e for e in range(6)]))
    opt = make_opt()
    sched = S.LambdaLR(opt, [lambda e: e + 1, lambda e: 1.0 / (e + 1)])
    assert_close(collect(sched, opt, 3), [[0.05, 0.5], [0.1, 0.25], [0.15, 0.5 / 3]])
    opt = make_opt()
    sched = S.MultiplicativeLR(opt, lambda e: 0.5)
    assert_close(collect(sched, opt, 4), per_group([1, 0.5, 0.25, 0.125]))
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        S.LambdaLR(make_opt(), [lambda e: 1.0])


def annealing_cos(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def run_cycle(scheduler, opt, steps, key="momentum"):
    lrs, moms = [], []
    for _ in range(steps):
        group = opt.param_groups[0]
        lrs.append(group["lr"])
        moms.append(group["betas"][0] if key == "betas" else group["momentum"])
        opt.step()
        scheduler.step()
    return lrs, moms


def test_onecycle_linear():
    # PyTorch's test_onecycle_lr_linear_annealing
    opt = make_opt((1.0,), momentum=0.9)
    sched = S.OneCycleLR(
        opt, max_lr=25, final_div_factor=2, base_momentum=1, max_momentum=22,
        total_steps=10, anneal_strategy="linear",
    )  # fmt: skip
    lrs, moms = run_cycle(sched, opt, 10)
    assert_close([lrs], [[1, 13, 25, 21.5, 18, 14.5, 11, 7.5, 4, 0.5]])
    assert_close([moms], [[22, 11.5, 1, 4, 7, 10, 13, 16, 19, 22]])


def test_onecycle_linear_three_phase():
    opt = make_opt((1.0,), momentum=0.9)
    sched = S.OneCycleLR(
        opt, max_lr=25, div_factor=25, base_momentum=1, max_momentum=22, total_steps=10,
        anneal_strategy="linear", pct_start=0.4, final_div_factor=4, three_phase=True,
    )  # fmt: skip
    lrs, moms = run_cycle(sched, opt, 10)
    assert_close([lrs], [[1, 9, 17, 25, 17, 9, 1, 0.75, 0.5, 0.25]])
    assert_close([moms], [[22, 15, 8, 1, 8, 15, 22, 22, 22, 22]])


def test_onecycle_cos_with_adam_betas():
    opt = make_opt((1.0,), cls=Adam, betas=(0.9, 0.999))
    sched = S.OneCycleLR(
        opt, max_lr=25, final_div_factor=2, base_momentum=0.1, max_momentum=0.9,
        total_steps=10,
    )  # fmt: skip
    lrs, moms = run_cycle(sched, opt, 10, key="betas")
    lr_t = [1, 13, 25] + [annealing_cos(25, 0.5, i / 7.0) for i in range(1, 8)]
    mom_t = [0.9, 0.5, 0.1] + [annealing_cos(0.1, 0.9, i / 7.0) for i in range(1, 8)]
    assert_close([lrs], [lr_t])
    assert_close([moms], [mom_t])
    assert opt.param_groups[0]["betas"][1] == 0.999
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        sched.step()


def test_onecycle_errors():
    opt = make_opt((1.0,), momentum=0.9)
    with pytest.raises(ValueError, match="either total_steps OR"):
        S.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="momentum or beta1"):
        S.OneCycleLR(make_opt((1.0,), cls=torch.optim.Adagrad), max_lr=1.0, total_steps=5)


def plateau(scheduler, opt, metrics):
    out = []
    for m in metrics:
        opt.step()
        scheduler.step(m)
        out.append(opt.param_groups[0]["lr"])
    return out


def test_reduce_lr_on_plateau_abs_min():
    # PyTorch's test_reduce_lr_on_plateau2: patience 5, abs threshold 0.1
    opt = make_opt((0.5,))
    sched = S.ReduceLROnPlateau(opt, patience=5, cooldown=0, threshold_mode="abs", threshold=0.1)
    out = plateau(sched, opt, [10 - i * 0.0165 for i in range(22)])
    assert_close([out], [[0.5] * 6 + [0.05] * 7 + [0.005] * 7 + [0.0005] * 2])


def test_reduce_lr_on_plateau_cooldown_max_rel_min_lr():
    opt = make_opt((0.5,))
    sched = S.ReduceLROnPlateau(opt, mode="max", patience=1, cooldown=2, factor=0.5, min_lr=0.1)
    # best=1 at step 1; bad steps 2,3 -> reduce at 3; cooldown 4,5; bad 6,7 -> reduce at 7
    out = plateau(sched, opt, [1.0] * 10)
    assert_close([out], [[0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125, 0.125]])
    # cooldown 8,9; bad 10,11 -> reduce at 11, clamped at min_lr
    assert plateau(sched, opt, [1.0])[-1] == 0.1
    assert sched.get_last_lr() == [0.1]
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode foo is unknown"):
        S.ReduceLROnPlateau(opt, mode="foo")


def test_reduce_lr_on_plateau_state_dict():
    opt = make_opt((0.5,))
    sched = S.ReduceLROnPlateau(opt, patience=0)
    plateau(sched, opt, [1.0, 2.0])
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["best"] == 1.0 and sd["num_bad_epochs"] == 0
    other = S.ReduceLROnPlateau(make_opt((0.5,)))
    other.load_state_dict(sd)
    assert other.best == 1.0 and other.patience == 0 and other.last_epoch == 2


def test_sequentiallr():
    # PyTorch's test_sequentiallr1
    opt = make_opt((0.05,))
    scheds = [S.ExponentialLR(opt, gamma=0.8), S.StepLR(opt, gamma=0.1, step_size=4)]
    sched = S.SequentialLR(opt, schedulers=scheds, milestones=[3])
    out = collect(sched, opt, 19)
    expected = [0.05, 0.04, 0.032] + [0.05] * 4 + [0.005] * 4 + [0.0005] * 4 + [0.00005] * 4
    assert_close(out, [[v] for v in expected])
    with pytest.raises(ValueError, match="number of milestone points"):
        S.SequentialLR(opt, schedulers=scheds, milestones=[])


def test_sequentiallr_linear_warmup_then_cosine():
    opt = make_opt((0.1,))
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=2)
    cos = S.CosineAnnealingLR(opt, T_max=4)
    sched = S.SequentialLR(opt, [warm, cos], milestones=[2])
    out = [v[0] for v in collect(sched, opt, 7)]
    expected = [0.01, 0.055] + [0.05 * (1 + math.cos(math.pi * e / 4)) for e in range(5)]
    assert_close([out], [expected], rel=1e-9, abs_=1e-12)


def test_chained_scheduler():
    opt = make_opt((1.0,))
    a = S.ConstantLR(opt, factor=0.1, total_iters=2)
    b = S.ExponentialLR(opt, gamma=0.9)
    sched = S.ChainedScheduler([a, b])
    out = [v[0] for v in collect(sched, opt, 5)]
    expected = [0.1, 0.09, 0.81, 0.729, 0.6561]
    assert_close([out], [expected])


def test_cosine_warm_restarts():
    T_0, T_mult, eta_min = 3, 2, 0.01
    opt = make_opt((0.1,))
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=T_0, T_mult=T_mult, eta_min=eta_min)
    out = [v[0] for v in collect(sched, opt, 25)]
    expected, T_cur, T_i = [], 0, T_0
    for _ in range(25):
        expected.append(eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2)
        T_cur += 1
        if T_cur >= T_i:
            T_cur, T_i = T_cur - T_i, T_i * T_mult
    assert_close([out], [expected])
    # explicit epochs (closed form with geometric periods)
    opt2 = make_opt((0.1,))
    sched2 = S.CosineAnnealingWarmRestarts(opt2, T_0=T_0, T_mult=T_mult, eta_min=eta_min)
    for epoch in range(25):
        sched2.step(epoch)
        assert math.isclose(opt2.param_groups[0]["lr"], expected[epoch], rel_tol=1e-9)
    with pytest.raises(ValueError, match="positive integer T_0"):
        S.CosineAnnealingWarmRestarts(opt, T_0=0)


def test_initial_lr_last_epoch_and_get_last_lr():
    opt = make_opt()
    sched = S.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.05, 0.5]
    assert sched.last_epoch == 0 and sched.base_lrs == [0.05, 0.5]
    assert sched.get_last_lr() == [0.05, 0.5]
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(make_opt(), step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), step_size=2)


def test_scheduler_state_dict_roundtrip():
    opt = make_opt()
    sched = S.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    collect(sched, opt, 3)
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3 and sd["base_lrs"] == [0.05, 0.5]
    opt2 = make_opt()
    sched2 = S.MultiStepLR(opt2, milestones=[9], gamma=0.1)
    sched2.load_state_dict(sd)
    for group, lr in zip(opt2.param_groups, sched.get_last_lr()):
        group["lr"] = lr
    assert_close(collect(sched2, opt2, 3), collect(sched, opt, 3))


def test_lambda_state_dict_skips_functions_keeps_callable_objects():
    class Factor:
        def __init__(self, f):
            self.f = f

        def __call__(self, epoch):
            return self.f**epoch

    opt = make_opt()
    sched = S.LambdaLR(opt, [lambda e: 1.0, Factor(0.5)])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, {"f": 0.5}]
    sched2 = S.LambdaLR(make_opt(), [lambda e: 1.0, Factor(0.9)])
    sched2.load_state_dict(sd)
    assert sched2.lr_lambdas[1].f == 0.5


def test_warns_when_scheduler_steps_before_optimizer():
    opt = make_opt()
    sched = S.StepLR(opt, step_size=1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched.step()
    assert any("before `optimizer.step()`" in str(x.message) for x in w)
    opt = make_opt()
    sched = S.StepLR(opt, step_size=1)
    opt.step()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched.step()
    assert not any("before `optimizer.step()`" in str(x.message) for x in w)


def test_against_pytorch():
    pt = pytest.importorskip("torch")
    cases = [
        ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
        ("StepLR", dict(step_size=3, gamma=0.3)),
        ("LinearLR", dict(start_factor=0.2, total_iters=5)),
        ("OneCycleLR", dict(max_lr=0.3, total_steps=30)),
        ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2)),
    ]
    for name, kw in cases:
        opt = make_opt((0.1,), momentum=0.9)
        ours = collect(getattr(S, name)(opt, **kw), opt, 25)
        p = pt.zeros(2, requires_grad=True)
        opt_pt = pt.optim.SGD([p], lr=0.1, momentum=0.9)
        sched_pt = getattr(pt.optim.lr_scheduler, name)(opt_pt, **kw)
        theirs = []
        for _ in range(25):
            theirs.append([g["lr"] for g in opt_pt.param_groups])
            opt_pt.step()
            sched_pt.step()
        assert_close(ours, theirs, rel=1e-12)
