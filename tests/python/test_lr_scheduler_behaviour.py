"""LR schedulers stepped side by side with PyTorch's, plus hand-computed references."""

import math
import warnings

import pytest

import rtorch as torch
from rtorch.optim import SGD, Adam
from rtorch.optim import lr_scheduler as S


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def close(a, b, rel=1e-12, abs_=1e-15):
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)


def assert_rows(ours, theirs, rel=1e-12):
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert len(a) == len(b), (i, a, b)
        assert all(close(x, y, rel) for x, y in zip(a, b)), (i, a, b)


def snapshot(opt):
    """lr and momentum-like value of every group."""
    row = []
    for g in opt.param_groups:
        row.append(g["lr"])
        if "betas" in g:
            row.append(g["betas"][0])
        elif "momentum" in g:
            row.append(g["momentum"])
    return row


# ---------------------------------------------------------------------------------------
# no PyTorch needed


def sgd(lrs=(0.1,), **kw):
    groups = [{"params": [torch.tensor([0.0], requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, **kw)


def run(sched, opt, n, metrics=None):
    rows = []
    for i in range(n):
        rows.append(snapshot(opt))
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
    return rows


def test_cyclic_triangular_modes_by_hand():
    opt = sgd((1.0,), momentum=0.9)
    sched = S.CyclicLR(opt, base_lr=1.0, max_lr=5.0, step_size_up=4, mode="triangular2")
    lrs = [r[0] for r in run(sched, opt, 17)]
    up = [1, 2, 3, 4, 5, 4, 3, 2]
    expected = up + [1, 1.5, 2, 2.5, 3, 2.5, 2, 1.5] + [1]
    assert all(close(a, b) for a, b in zip(lrs, expected)), lrs
    opt = sgd((1.0,), momentum=0.9)
    sched = S.CyclicLR(opt, 1.0, 5.0, step_size_up=2, step_size_down=6, base_momentum=0.8)
    rows = run(sched, opt, 9)
    assert [r[0] for r in rows] == pytest.approx([1, 3, 5, 5 - 4 / 6 * 1, 5 - 4 / 6 * 2,
                                                  3, 5 - 4 / 6 * 4, 5 - 4 / 6 * 5, 1])  # fmt: skip
    assert rows[2][1] == pytest.approx(0.8) and rows[0][1] == pytest.approx(0.9)


def test_cyclic_exp_range_and_errors():
    opt = sgd((1.0,), momentum=0.9)
    sched = S.CyclicLR(opt, 1.0, 3.0, step_size_up=2, mode="exp_range", gamma=0.5)
    lrs = [r[0] for r in run(sched, opt, 5)]
    assert lrs == pytest.approx([1, 1 + 1 * 0.5, 1 + 2 * 0.25, 1 + 1 * 0.125, 1])
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        S.CyclicLR(sgd(momentum=0.9), 0.1, 1.0, mode="bogus")
    with pytest.raises(ValueError, match="momentum or beta1"):
        S.CyclicLR(torch.optim.Adagrad([torch.tensor([0.0], requires_grad=True)]), 0.1, 1.0)
    opt = Adam([torch.tensor([0.0], requires_grad=True)], betas=(0.5, 0.99))
    S.CyclicLR(opt, 0.1, 1.0, base_momentum=0.7, max_momentum=0.8)
    assert opt.param_groups[0]["betas"] == (0.8, 0.99)
    opt = sgd()  # momentum 0 is replaced by max_momentum
    S.CyclicLR(opt, 0.1, 1.0)
    assert opt.param_groups[0]["momentum"] == 0.9 and opt.param_groups[0]["lr"] == 0.1


def test_state_dict_keys_without_optimizer():
    opt = sgd((0.1, 0.2))
    sched = S.StepLR(opt, step_size=2)
    keys = set(sched.state_dict())
    assert keys == {
        "step_size", "gamma", "base_lrs", "last_epoch", "_step_count", "_is_initial",
        "_get_lr_called_within_step", "_last_lr",
    }  # fmt: skip
    chained = S.ChainedScheduler([sched, S.ExponentialLR(opt, 0.9)])
    assert set(chained.state_dict()) == {"_last_lr", "_schedulers"}
    assert chained.optimizer is opt


def test_step_with_epoch_uses_closed_form_and_warns():
    opt = sgd((1.0,))
    sched = S.ExponentialLR(opt, gamma=0.5)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched.step(3)
    assert opt.param_groups[0]["lr"] == 0.125
    assert any("epoch parameter in `scheduler.step()`" in str(x.message) for x in w)


def test_get_lr_outside_step_warns():
    sched = S.StepLR(sgd(), step_size=1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched.get_lr()
    assert any("please use `get_last_lr()`" in str(x.message) for x in w)


def test_overridden_optimizer_step_warns():
    opt = sgd()
    sched = S.StepLR(opt, step_size=1)
    opt.step = lambda closure=None: None
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched.step()
    assert any("has been overridden" in str(x.message) for x in w)


def test_sequential_state_dict_nests_children():
    opt = sgd()
    a, b = S.ConstantLR(opt, factor=0.5, total_iters=2), S.ExponentialLR(opt, 0.9)
    seq = S.SequentialLR(opt, [a, b], milestones=[3])
    run(seq, opt, 4)
    sd = seq.state_dict()
    assert set(sd) == {"_milestones", "last_epoch", "_last_lr", "_schedulers"}
    assert sd["_schedulers"][1]["last_epoch"] == 1
    opt2 = sgd()
    seq2 = S.SequentialLR(
        opt2, [S.ConstantLR(opt2, factor=0.5, total_iters=2), S.ExponentialLR(opt2, 0.9)], [3]
    )
    seq2.load_state_dict(sd)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    assert_rows(run(seq2, opt2, 5), run(seq, opt, 5))


# ---------------------------------------------------------------------------------------
# side by side with PyTorch


@pytest.fixture
def pt():
    return pytest.importorskip("torch")


class Pair:
    """The same optimizer in rtorch and in PyTorch."""

    def __init__(self, pt, kind="sgd", lrs=(0.1, 0.02), resume=None, **kw):
        self.pt = pt
        groups = [{"lr": lr} for lr in lrs]
        if resume is not None:
            for g in groups:
                g["initial_lr"] = g["lr"]
        cls, pt_cls = {"sgd": (SGD, pt.optim.SGD), "adam": (Adam, pt.optim.Adam)}[kind]
        self.ours = cls(
            [dict(g, params=[torch.tensor([0.0], requires_grad=True)]) for g in groups], **kw
        )
        self.theirs = pt_cls(
            [dict(g, params=[pt.zeros(1, requires_grad=True)]) for g in groups], **kw
        )

    def build(self, factory):
        return factory(S, self.ours), factory(self.pt.optim.lr_scheduler, self.theirs)


def lockstep(pair, scheds, n, metrics=None, epochs=None):
    mine, theirs = scheds
    rows_a, rows_b = [], []
    for i in range(n):
        rows_a.append(snapshot(pair.ours) + list(mine.get_last_lr()))
        rows_b.append(snapshot(pair.theirs) + [float(v) for v in theirs.get_last_lr()])
        for opt, sched in ((pair.ours, mine), (pair.theirs, theirs)):
            opt.step()
            if metrics is not None:
                sched.step(metrics[i])
            elif epochs is not None:
                sched.step(epochs[i])
            else:
                sched.step()
    assert_rows(rows_a, rows_b)
    return rows_a


SIMPLE = {
    "lambda": lambda M, o: M.LambdaLR(o, lambda e: 1.0 / (1 + e)),
    "lambda_list": lambda M, o: M.LambdaLR(o, [lambda e: 0.9**e, lambda e: e + 1]),
    "multiplicative": lambda M, o: M.MultiplicativeLR(o, lambda e: 0.95),
    "step": lambda M, o: M.StepLR(o, step_size=3, gamma=0.3),
    "multistep": lambda M, o: M.MultiStepLR(o, milestones=[2, 5, 5, 11], gamma=0.4),
    "constant": lambda M, o: M.ConstantLR(o, factor=0.25, total_iters=4),
    "linear": lambda M, o: M.LinearLR(o, start_factor=0.1, end_factor=0.7, total_iters=6),
    "exponential": lambda M, o: M.ExponentialLR(o, gamma=0.87),
    "polynomial": lambda M, o: M.PolynomialLR(o, total_iters=7, power=1.7),
    "cosine": lambda M, o: M.CosineAnnealingLR(o, T_max=6, eta_min=0.001),
    "cosine_big_eta": lambda M, o: M.CosineAnnealingLR(o, T_max=4, eta_min=0.05),
    "warm_restarts": lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3),
    "warm_restarts_1": lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=4),
    "onecycle": lambda M, o: M.OneCycleLR(o, max_lr=[0.5, 0.3], total_steps=40),
    "onecycle_3": lambda M, o: M.OneCycleLR(
        o, max_lr=0.4, epochs=4, steps_per_epoch=10, three_phase=True, anneal_strategy="linear"
    ),
    "onecycle_nomom": lambda M, o: M.OneCycleLR(o, 0.4, total_steps=40, cycle_momentum=False),
    "cyclic": lambda M, o: M.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=4),
    "cyclic_tri2": lambda M, o: M.CyclicLR(o, 0.01, 0.1, 3, step_size_down=5, mode="triangular2"),
    "cyclic_exp": lambda M, o: M.CyclicLR(o, 0.01, 0.1, 3, mode="exp_range", gamma=0.9),
    "cyclic_fn": lambda M, o: M.CyclicLR(
        o, 0.01, 0.1, 3, scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations"
    ),
}


@pytest.mark.parametrize("name", sorted(SIMPLE))
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_lockstep(pt, name, kind):
    if kind == "adam" and name.startswith("cyclic"):
        pytest.skip("CyclicLR cycles SGD momentum")
    kw = {"momentum": 0.9} if kind == "sgd" else {}
    pair = Pair(pt, kind, **kw)
    lockstep(pair, pair.build(SIMPLE[name]), 40)


CLOSED = ["step", "multistep", "constant", "linear", "exponential", "polynomial", "cosine",
          "warm_restarts", "lambda", "multiplicative", "cyclic"]  # fmt: skip


@pytest.mark.parametrize("name", CLOSED)
def test_explicit_epochs(pt, name):
    pair = Pair(pt, momentum=0.9)
    epochs = [0, 1, 2, 5, 4, 9, 3, 12, 12, 7, 20, 1, 0, 6]
    lockstep(pair, pair.build(SIMPLE[name]), len(epochs), epochs=epochs)


@pytest.mark.parametrize(
    "name", ["step", "multistep", "constant", "linear", "exponential", "polynomial", "cosine",
             "warm_restarts", "lambda", "multiplicative"],
)  # fmt: skip
@pytest.mark.parametrize("start", [0, 3, 8])
def test_resume_from_last_epoch(pt, name, start):
    pair = Pair(pt, resume=True, momentum=0.9)
    lockstep(pair, pair.build(lambda M, o: _rebuild(name, M, o, start)), 15)


def _rebuild(name, M, o, last_epoch):
    table = {
        "lambda": lambda: M.LambdaLR(o, lambda e: 1.0 / (1 + e), last_epoch=last_epoch),
        "multiplicative": lambda: M.MultiplicativeLR(o, lambda e: 0.95, last_epoch=last_epoch),
        "step": lambda: M.StepLR(o, 3, gamma=0.3, last_epoch=last_epoch),
        "multistep": lambda: M.MultiStepLR(o, [2, 5, 5, 11], 0.4, last_epoch=last_epoch),
        "constant": lambda: M.ConstantLR(o, 0.25, 4, last_epoch=last_epoch),
        "linear": lambda: M.LinearLR(o, 0.1, 0.7, 6, last_epoch=last_epoch),
        "exponential": lambda: M.ExponentialLR(o, 0.87, last_epoch=last_epoch),
        "polynomial": lambda: M.PolynomialLR(o, 7, 1.7, last_epoch=last_epoch),
        "cosine": lambda: M.CosineAnnealingLR(o, 6, 0.001, last_epoch=last_epoch),
        "warm_restarts": lambda: M.CosineAnnealingWarmRestarts(o, 3, 2, 1e-3, last_epoch),
    }
    return table[name]()


def test_chained_and_sequential(pt):
    def chained(M, o):
        return M.ChainedScheduler(
            [M.ConstantLR(o, 0.1, 3), M.ExponentialLR(o, 0.9), M.StepLR(o, 4, 0.5)]
        )

    def sequential(M, o):
        warm = M.LinearLR(o, start_factor=0.01, total_iters=5)
        return M.SequentialLR(o, [warm, M.CosineAnnealingLR(o, 10), M.ExponentialLR(o, 0.8)],
                              milestones=[5, 12])  # fmt: skip

    def nested(M, o):
        inner = M.SequentialLR(o, [M.ConstantLR(o, 0.5, 3), M.ExponentialLR(o, 0.9)], [4])
        return M.ChainedScheduler([inner, M.StepLR(o, 5, 0.5)])

    def restarts_after_warmup(M, o):
        warm = M.LinearLR(o, start_factor=0.1, total_iters=3)
        cyc = M.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2)
        return M.SequentialLR(o, [warm, cyc, M.MultiplicativeLR(o, lambda e: 0.9)], [3, 20])

    for factory in (chained, sequential, nested, restarts_after_warmup):
        pair = Pair(pt, momentum=0.9)
        lockstep(pair, pair.build(factory), 30)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"mode": "max", "patience": 1, "cooldown": 2, "factor": 0.5, "min_lr": 0.01},
        {"threshold_mode": "abs", "threshold": 0.1, "patience": 2, "min_lr": [0.001, 0.05]},
        {"mode": "max", "threshold_mode": "abs", "patience": 0, "eps": 0.005},
    ],
)
def test_plateau(pt, kw):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.94, 0.96, 0.5, 0.6, 0.6, 0.7, 1.0, 1.0] * 3
    pair = Pair(pt, momentum=0.9)
    mine, theirs = pair.build(lambda M, o: M.ReduceLROnPlateau(o, **kw))
    lockstep(pair, (mine, theirs), len(metrics), metrics=metrics)
    ours_sd, their_sd = mine.state_dict(), theirs.state_dict()
    assert set(ours_sd) == set(their_sd)
    for key in ours_sd:
        assert ours_sd[key] == their_sd[key], key


STATEFUL = ["step", "multistep", "linear", "cosine", "warm_restarts", "onecycle", "cyclic",
            "lambda", "polynomial", "constant"]  # fmt: skip


@pytest.mark.parametrize("name", STATEFUL)
def test_state_dict_matches_and_crossloads(pt, name):
    pair = Pair(pt, momentum=0.9)
    mine, theirs = pair.build(SIMPLE[name])
    lockstep(pair, (mine, theirs), 7)
    ours_sd, their_sd = mine.state_dict(), theirs.state_dict()
    assert set(ours_sd) == set(their_sd)
    for key, value in their_sd.items():
        if isinstance(value, (int, float, str, bool, list, tuple, dict)) or value is None:
            assert type(ours_sd[key]) is type(value), key
            assert ours_sd[key] == value or key == "_last_lr", key
    # each side continues from the other's checkpoint
    fresh = Pair(pt, momentum=0.9)
    a, b = fresh.build(SIMPLE[name])
    a.load_state_dict(their_sd)
    b.load_state_dict(ours_sd)
    for src, dst in ((pair.theirs, fresh.ours), (pair.ours, fresh.theirs)):
        for g_src, g_dst in zip(src.param_groups, dst.param_groups):
            for key in ("lr", "momentum", "initial_lr", "max_lr", "min_lr"):
                if key in g_src:
                    g_dst[key] = float(g_src[key])
    assert_rows(lockstep(fresh, (a, b), 10), lockstep(pair, (mine, theirs), 10))


def test_warning_messages_match(pt):
    def messages(M, opt_factory):
        out = []
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            opt = opt_factory()
            sched = M.StepLR(opt, 2)
            sched.get_lr()
            sched.step()
            sched.step(4)
        out = [str(x.message) for x in w]
        return out

    pair = Pair(pt)
    assert messages(S, lambda: pair.ours) == messages(pt.optim.lr_scheduler, lambda: pair.theirs)


@pytest.mark.parametrize(
    "factory",
    [
        lambda M, o: M.ConstantLR(o, factor=1.5),
        lambda M, o: M.LinearLR(o, start_factor=0),
        lambda M, o: M.LinearLR(o, end_factor=2),
        lambda M, o: M.LambdaLR(o, [lambda e: 1]),
        lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=0),
        lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
        lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="x"),
        lambda M, o: M.OneCycleLR(o, 1.0),
        lambda M, o: M.OneCycleLR(o, 1.0, total_steps=0),
        lambda M, o: M.OneCycleLR(o, 1.0, epochs=0, steps_per_epoch=2),
        lambda M, o: M.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=-1),
        lambda M, o: M.OneCycleLR(o, 1.0, total_steps=5, pct_start=2.0),
        lambda M, o: M.OneCycleLR(o, 1.0, total_steps=5, anneal_strategy="x"),
        lambda M, o: M.OneCycleLR(o, [1.0], total_steps=5),
        lambda M, o: M.ReduceLROnPlateau(o, factor=2.0),
        lambda M, o: M.ReduceLROnPlateau(o, mode="x"),
        lambda M, o: M.ReduceLROnPlateau(o, threshold_mode="x"),
        lambda M, o: M.ReduceLROnPlateau(o, min_lr=[0.1]),
        lambda M, o: M.SequentialLR(o, [], milestones=[]),
        lambda M, o: M.SequentialLR(o, [M.StepLR(o, 2)], milestones=[1]),
        lambda M, o: M.SequentialLR(o, [M.StepLR(o, 2), M.ReduceLROnPlateau(o)], [1]),
        lambda M, o: M.ChainedScheduler([]),
        lambda M, o: M.CyclicLR(o, 0.1, 1.0, mode="x"),
        lambda M, o: M.CyclicLR(o, [0.1], 1.0),
        lambda M, o: M.StepLR(o, 2, last_epoch=4),
    ],
)
def test_errors_match(pt, factory):
    pair = Pair(pt, momentum=0.9)
    with pytest.raises(Exception) as theirs:
        factory(pt.optim.lr_scheduler, pair.theirs)
    with pytest.raises(type(theirs.value)) as ours:
        factory(S, pair.ours)
    assert str(ours.value) == str(theirs.value)


def test_onecycle_overstep_and_wrong_optimizer(pt):
    pair = Pair(pt, momentum=0.9)
    mine, theirs = pair.build(lambda M, o: M.OneCycleLR(o, 1.0, total_steps=3))
    for sched in (mine, theirs):
        for _ in range(3):
            sched.step()
    with pytest.raises(ValueError) as t:
        theirs.step()
    with pytest.raises(ValueError) as o:
        mine.step()
    assert str(o.value) == str(t.value)
    with pytest.raises(TypeError) as t:
        pt.optim.lr_scheduler.StepLR(object(), 2)
    with pytest.raises(TypeError) as o:
        S.StepLR(object(), 2)
    assert str(o.value) == str(t.value)
