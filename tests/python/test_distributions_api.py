"""The Distribution API: validation errors, shapes, expand, supports and constraints,
transforms (inverses, Jacobians), biject_to/transform_to, KL divergences, and PyTorch side
by side when it is installed."""

import math

import numpy as np
import pytest

import rtorch
import rtorch.distributions as D
from rtorch.distributions import constraints

F64 = rtorch.float64


def t(a):
    return rtorch.tensor(np.asarray(a, dtype=np.float64), dtype=F64)


def test_parameter_validation_messages():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(\)\) of distribution "
                       r"Normal\(loc: 0.0, scale: -1.0\) to satisfy the constraint GreaterThan\(lower_bound=0.0\), "
                       r"but found invalid values:\n-1.0"):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="Expected parameter probs"):
        D.Bernoulli(rtorch.tensor([0.2, 1.5]))
    with pytest.raises(ValueError, match="Expected parameter probs .* Simplex"):
        D.Categorical(rtorch.tensor([-0.2, 1.2]))
    with pytest.raises(ValueError, match="Expected parameter concentration"):
        D.Gamma(rtorch.tensor([-1.0]), 1.0)
    with pytest.raises(ValueError, match="Uniform is not defined when low>= high"):
        D.Uniform(1.0, 0.0)
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        D.Bernoulli(probs=0.3, logits=0.1)
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
        D.MultivariateNormal(rtorch.zeros(2))
    with pytest.raises(ValueError, match="Expected parameter covariance_matrix"):
        D.MultivariateNormal(rtorch.zeros(2), covariance_matrix=rtorch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    # validate_args=False skips the checks
    D.Normal(0.0, -1.0, validate_args=False)


def test_sample_validation_messages():
    n = D.Normal(rtorch.zeros(2), rtorch.ones(2))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        n.log_prob(1.0)
    with pytest.raises(ValueError, match=r"Value is not broadcastable with batch_shape\+event_shape: "
                       r"torch.Size\(\[3\]\) vs torch.Size\(\[2\]\)."):
        n.log_prob(rtorch.zeros(3))
    with pytest.raises(ValueError, match=r"The right-most size of value must match event_shape"):
        D.MultivariateNormal(rtorch.zeros(3), rtorch.eye(3)).log_prob(rtorch.zeros(2))
    with pytest.raises(ValueError, match=r"Expected value argument \(Tensor of shape \(\)\) to be within the "
                       r"support \(Boolean\(\)\) of the distribution Bernoulli"):
        D.Bernoulli(0.3).log_prob(rtorch.tensor(0.5))
    with pytest.raises(ValueError, match="IntegerInterval"):
        D.Categorical(logits=rtorch.zeros(3)).log_prob(rtorch.tensor(3))
    with pytest.raises(ValueError, match="GreaterThanEq"):
        D.Exponential(1.0).log_prob(rtorch.tensor(-1.0))


def test_set_default_validate_args():
    try:
        D.Distribution.set_default_validate_args(False)
        D.Normal(0.0, -1.0)
        assert D.Bernoulli(0.3).log_prob(rtorch.tensor(0.5)).shape == ()
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")


def test_shapes_and_expand():
    n = D.Normal(rtorch.zeros(3), 1.0)
    assert n.batch_shape == (3,) and n.event_shape == ()
    e = n.expand((4, 3))
    assert e.batch_shape == (4, 3)
    assert e.sample().shape == (4, 3)
    assert e.loc.shape == (4, 3)
    assert e.log_prob(rtorch.zeros(4, 3)).shape == (4, 3)
    c = D.Categorical(logits=rtorch.zeros(3, 5)).expand((2, 3))
    assert c.batch_shape == (2, 3) and c.logits.shape == (2, 3, 5)
    m = D.MultivariateNormal(rtorch.zeros(2), rtorch.eye(2)).expand((5,))
    assert m.batch_shape == (5,) and m.sample().shape == (5, 2)
    assert D.Independent(D.Normal(rtorch.zeros(3), 1.0), 1).expand((2,)).sample().shape == (2, 3)
    assert D.LogNormal(0.0, 1.0).expand((3,)).sample().shape == (3,)
    assert D.Dirichlet(rtorch.ones(4)).expand((2,)).sample().shape == (2, 4)
    assert D.Beta(1.0, 2.0).batch_shape == ()
    assert isinstance(n.batch_shape, rtorch.Size)


def test_enumerate_support():
    b = D.Bernoulli(rtorch.tensor([0.2, 0.7]))
    assert b.enumerate_support().tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert b.enumerate_support(expand=False).shape == (2, 1)
    c = D.Categorical(logits=rtorch.zeros(2, 3))
    assert c.enumerate_support().shape == (3, 2)
    assert D.Binomial(3, rtorch.tensor([0.5])).enumerate_support(False).reshape(-1).tolist() == [0, 1, 2, 3]
    oh = D.OneHotCategorical(rtorch.ones(3))
    assert oh.enumerate_support().tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_supports_and_constraints():
    assert repr(D.Normal(0.0, 1.0).support) == "Real()"
    assert repr(D.Uniform(0.0, 2.0).support) == "Interval(lower_bound=0.0, upper_bound=2.0)"
    assert repr(D.Categorical(logits=rtorch.zeros(3)).support) == "IntegerInterval(lower_bound=0, upper_bound=2)"
    assert repr(constraints.positive) == "GreaterThan(lower_bound=0.0)"
    assert repr(constraints.real_vector) == "IndependentConstraint(Real(), 1)"
    assert constraints.simplex.check(rtorch.tensor([0.3, 0.7])).item()
    assert not constraints.simplex.check(rtorch.tensor([0.3, 0.8])).item()
    assert constraints.lower_cholesky.check(rtorch.tensor([[1.0, 0.0], [3.0, 2.0]])).item()
    assert not constraints.lower_cholesky.check(rtorch.tensor([[1.0, 1.0], [3.0, 2.0]])).item()
    assert constraints.positive_definite.check(rtorch.tensor([[2.0, 1.0], [1.0, 2.0]])).item()
    assert not constraints.positive_definite.check(rtorch.tensor([[1.0, 2.0], [2.0, 1.0]])).item()
    assert constraints.corr_cholesky.check(rtorch.tensor([[1.0, 0.0], [0.6, 0.8]])).item()
    assert constraints.one_hot.check(rtorch.tensor([0.0, 1.0, 0.0])).item()
    assert constraints.integer_interval(0, 3).check(rtorch.tensor([0.0, 3.0, 1.5])).tolist() == [True, True, False]
    assert constraints.is_dependent(D.Uniform.arg_constraints["low"])
    assert D.Categorical.support.is_discrete and D.Normal.support.event_dim == 0
    cat = constraints.cat([constraints.positive, constraints.real], 0, [1, 2])
    assert cat.check(rtorch.tensor([1.0, -1.0, 2.0])).tolist() == [True, True, True]
    assert cat.check(rtorch.tensor([-1.0, -1.0, 2.0])).tolist() == [False, True, True]
    stack = constraints.stack([constraints.positive, constraints.unit_interval], 0)
    assert stack.check(rtorch.tensor([3.0, 0.5])).tolist() == [True, True]


def _jacobian(fn, x):
    """Numerical Jacobian of a vector function at x (float64 numpy)."""
    x = np.asarray(x, dtype=np.float64)
    cols = []
    for i in range(x.size):
        d = np.zeros_like(x)
        d[i] = 1e-6
        cols.append((fn(t(x + d)).numpy() - fn(t(x - d)).numpy()) / 2e-6)
    return np.stack(cols, -1)


ELEMENTWISE = [
    (D.ExpTransform(), [-1.0, 0.3, 2.0]),
    (D.SigmoidTransform(), [-3.0, 0.1, 4.0]),
    (D.TanhTransform(), [-2.0, 0.1, 1.5]),
    (D.SoftplusTransform(), [-3.0, 0.2, 5.0]),
    (D.AffineTransform(1.0, -2.5), [-1.0, 0.0, 3.0]),
    (D.PowerTransform(t(2.5)), [0.5, 1.0, 2.0]),
    (D.ComposeTransform([D.ExpTransform(), D.AffineTransform(2.0, 3.0)]), [-1.0, 0.0, 1.0]),
]


@pytest.mark.parametrize("transform,x", ELEMENTWISE, ids=[repr(e[0]).split("(")[0] for e in ELEMENTWISE])
def test_elementwise_transforms(transform, x):
    xt = t(x)
    y = transform(xt)
    np.testing.assert_allclose(transform.inv(y).numpy(), x, rtol=1e-9, atol=1e-12)
    jac = np.diag(_jacobian(transform, x))
    np.testing.assert_allclose(transform.log_abs_det_jacobian(xt, y).numpy(), np.log(np.abs(jac)), rtol=1e-6)
    assert transform.inv.inv is transform
    assert transform.bijective
    assert bool(transform.codomain.check(y).all())


@pytest.mark.parametrize("transform,x", [
    (D.StickBreakingTransform(), [0.3, -1.2, 0.5]),
    (D.CorrCholeskyTransform(), [0.3, -0.4, 0.9]),
])
def test_structured_transforms(transform, x):
    xt = t(x)
    y = transform(xt)
    assert bool(transform.codomain.check(y).all())
    np.testing.assert_allclose(transform.inv(y).numpy(), x, rtol=1e-8, atol=1e-10)
    if isinstance(transform, D.StickBreakingTransform):
        # the Jacobian onto the first K-1 coordinates
        jac = _jacobian(lambda v: transform(v)[:-1], x)
    else:
        # the free coordinates of the Cholesky factor: its strict lower triangle
        rows, cols = np.tril_indices(3, -1)
        jac = _jacobian(lambda v: transform(v)[rows, cols], x)
    np.testing.assert_allclose(float(transform.log_abs_det_jacobian(xt, y)), np.log(abs(np.linalg.det(jac))), rtol=1e-6)


def test_matrix_transforms_and_cache():
    x = t([[0.3, 0.0], [-0.5, -0.2]])
    lc = D.LowerCholeskyTransform()(x)
    assert constraints.lower_cholesky.check(lc).item()
    pd = D.PositiveDefiniteTransform()(x)
    assert constraints.positive_definite.check(pd).item()
    np.testing.assert_allclose(D.PositiveDefiniteTransform().inv(pd).numpy(), np.tril(x.numpy()), atol=1e-10)
    cached = D.ExpTransform().with_cache(1)
    v = t([1.0, 2.0])
    y = cached(v)
    assert cached.inv(y) is v
    reshape = D.ReshapeTransform((4,), (2, 2))
    assert reshape(rtorch.arange(4.0)).shape == (2, 2)
    assert reshape.forward_shape((3, 4)) == (3, 2, 2)
    cat = D.CatTransform([D.ExpTransform(), D.identity_transform], 0, [1, 2])
    assert cat(t([0.0, -1.0, 5.0])).tolist() == [1.0, -1.0, 5.0]
    stack = D.StackTransform([D.ExpTransform(), D.AffineTransform(1.0, 2.0)], 0)
    assert stack(t([0.0, 1.0])).tolist() == [1.0, 3.0]


def test_biject_to_and_transform_to():
    for c, x in [(constraints.positive, [-2.0, 3.0]), (constraints.greater_than(2.0), [-1.0, 1.0]),
                 (constraints.less_than(-1.0), [0.5, 4.0]), (constraints.unit_interval, [-5.0, 2.0]),
                 (constraints.interval(-3.0, 4.0), [0.3, 9.0]), (constraints.real, [1.0, 2.0])]:
        y = D.biject_to(c)(t(x))
        assert bool(c.check(y).all()), c
        np.testing.assert_allclose(D.biject_to(c).inv(y).numpy(), x, rtol=1e-6)
    s = D.biject_to(constraints.simplex)(t([0.1, 0.2]))
    assert constraints.simplex.check(s).item() and s.shape == (3,)
    assert isinstance(D.transform_to(constraints.simplex), D.SoftmaxTransform)
    assert constraints.lower_cholesky.check(D.transform_to(constraints.lower_cholesky)(rtorch.randn(3, 3))).item()
    ind = D.biject_to(constraints.independent(constraints.positive, 1))
    assert isinstance(ind, D.IndependentTransform)
    with pytest.raises(NotImplementedError):
        D.biject_to(constraints.lower_cholesky)


def _mc_kl(p, q, n=20000):
    rtorch.manual_seed(0)
    x = p.sample((n,))
    return (p.log_prob(x) - q.log_prob(x)).mean(0).numpy()


KL_PAIRS = [
    (lambda: D.Normal(t([0.3, -1.0]), t([1.2, 0.5])), lambda: D.Normal(t([1.0, 0.0]), t([0.8, 2.0]))),
    (lambda: D.Bernoulli(t([0.2, 0.6])), lambda: D.Bernoulli(t([0.5, 0.1]))),
    (lambda: D.Categorical(t([[0.2, 0.3, 0.5]])), lambda: D.Categorical(t([[0.6, 0.1, 0.3]]))),
    (lambda: D.Beta(t([2.0, 0.7]), t([3.0, 1.5])), lambda: D.Beta(t([1.0, 2.0]), t([1.5, 0.9]))),
    (lambda: D.Gamma(t([2.0, 5.0]), t([1.0, 2.0])), lambda: D.Gamma(t([3.0, 4.0]), t([2.0, 1.0]))),
    (lambda: D.Exponential(t([0.5, 2.0])), lambda: D.Exponential(t([1.0, 1.5]))),
    (lambda: D.Laplace(t([0.0, 1.0]), t([1.0, 0.5])), lambda: D.Laplace(t([0.5, 0.0]), t([2.0, 1.0]))),
    (lambda: D.Poisson(t([2.0, 7.0])), lambda: D.Poisson(t([3.0, 5.0]))),
    (lambda: D.Geometric(t([0.3, 0.6])), lambda: D.Geometric(t([0.5, 0.2]))),
    (lambda: D.Binomial(10, t([0.3, 0.6])), lambda: D.Binomial(10, t([0.5, 0.4]))),
    (lambda: D.Dirichlet(t([[1.0, 2.0, 3.0]])), lambda: D.Dirichlet(t([[2.0, 2.0, 1.0]]))),
    (lambda: D.Uniform(t([0.0, 1.0]), t([1.0, 2.0])), lambda: D.Uniform(t([-1.0, 0.0]), t([2.0, 3.0]))),
    (lambda: D.Uniform(t([0.0, 1.0]), t([1.0, 2.0])), lambda: D.Normal(t([0.5, 0.0]), t([1.0, 2.0]))),
    (lambda: D.Exponential(t([0.5, 2.0])), lambda: D.Gamma(t([2.0, 1.5]), t([1.0, 3.0]))),
    (lambda: D.MultivariateNormal(t([0.0, 1.0]), t([[2.0, 0.5], [0.5, 1.0]])),
     lambda: D.MultivariateNormal(t([1.0, -1.0]), t([[1.0, -0.2], [-0.2, 0.7]]))),
    (lambda: D.Independent(D.Normal(t([0.0, 1.0]), t([1.0, 2.0])), 1),
     lambda: D.Independent(D.Normal(t([1.0, 1.0]), t([1.5, 1.0])), 1)),
    (lambda: D.LogNormal(t([0.0, 1.0]), t([1.0, 0.5])), lambda: D.LogNormal(t([0.5, 0.5]), t([0.7, 0.9]))),
    (lambda: D.OneHotCategorical(t([0.2, 0.8])), lambda: D.OneHotCategorical(t([0.5, 0.5]))),
]


@pytest.mark.parametrize("make_p,make_q", KL_PAIRS, ids=[type(p()).__name__ + "-" + type(q()).__name__ for p, q in KL_PAIRS])
def test_kl_closed_forms_match_monte_carlo(make_p, make_q):
    p, q = make_p(), make_q()
    kl = D.kl_divergence(p, q).numpy()
    mc = _mc_kl(p, q)
    np.testing.assert_allclose(kl, mc, rtol=0.05, atol=0.02)
    assert (kl >= 0).all()
    np.testing.assert_allclose(D.kl_divergence(p, p).numpy(), 0.0, atol=1e-9)


def test_kl_edge_cases_and_registry():
    inf = D.kl_divergence(D.Uniform(0.0, 2.0), D.Uniform(0.5, 3.0))
    assert math.isinf(float(inf))
    zero_q = D.kl_divergence(D.Categorical(t([0.5, 0.5])), D.Categorical(t([1.0, 0.0])))
    assert math.isinf(float(zero_q))
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Poisson(1.0))

    class MyNormal(D.Normal):
        pass

    @D.register_kl(MyNormal, D.Normal)
    def _mine(p, q):
        return rtorch.tensor(123.0)

    assert float(D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(0.0, 1.0))) == 123.0
    # a subclass without its own rule uses its parent's
    class OtherNormal(D.Normal):
        pass

    assert float(D.kl_divergence(OtherNormal(0.0, 1.0), D.Normal(0.0, 1.0))) == 0.0
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)


def test_kl_gradients_flow():
    loc = rtorch.tensor([0.5], dtype=F64, requires_grad=True)
    D.kl_divergence(D.Normal(loc, 1.0), D.Normal(0.0, 1.0)).sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [0.5])


def test_log_prob_gradients_gradcheck():
    from rtorch.autograd import gradcheck

    x = t([0.3, 1.2])

    def f(loc, scale):
        return (D.Normal(loc, scale).log_prob(x) + D.Gamma(scale, scale + 1).log_prob(x)
                + D.Beta(scale, scale + 0.5).log_prob(x / 2) + D.StudentT(scale + 1, loc, scale).log_prob(x))

    loc = t([0.1, -0.4]).requires_grad_()
    scale = t([0.9, 1.6]).requires_grad_()
    assert gradcheck(f, (loc, scale))


def test_repr():
    assert repr(D.Normal(rtorch.zeros(2), rtorch.ones(2))) == "Normal(loc: torch.Size([2]), scale: torch.Size([2]))"
    assert repr(D.Categorical(probs=rtorch.tensor([0.2, 0.8]))) == "Categorical(probs: torch.Size([2]))"


def test_side_by_side_with_torch():
    torch = pytest.importorskip("torch")
    TD = torch.distributions
    x = np.array([0.2, 0.7, 1.5])
    def T(v):
        return torch.tensor(v, dtype=torch.float64)

    pairs = [
        (D.Normal(t(0.3), t(1.2)), TD.Normal(T(0.3), T(1.2))),
        (D.Gamma(t(2.0), t(3.0)), TD.Gamma(T(2.0), T(3.0))),
        (D.Beta(t(2.0), t(3.0)), TD.Beta(T(2.0), T(3.0))),
        (D.LogNormal(t(0.1), t(0.5)), TD.LogNormal(T(0.1), T(0.5))),
        (D.Laplace(t(0.1), t(0.5)), TD.Laplace(T(0.1), T(0.5))),
        (D.Exponential(t(2.0)), TD.Exponential(T(2.0))),
        (D.StudentT(t(3.0), t(0.1), t(0.5)), TD.StudentT(T(3.0), T(0.1), T(0.5))),
        (D.Gumbel(t(0.1), t(0.5)), TD.Gumbel(T(0.1), T(0.5))),
        (D.Kumaraswamy(t(2.0), t(3.0)), TD.Kumaraswamy(T(2.0), T(3.0))),
        (D.ContinuousBernoulli(t(0.3)), TD.ContinuousBernoulli(T(0.3))),
    ]
    for ours, theirs in pairs:
        xv = x / 2 if isinstance(ours, (D.Beta, D.Kumaraswamy, D.ContinuousBernoulli)) else x
        np.testing.assert_allclose(ours.log_prob(t(xv)).numpy(), theirs.log_prob(T(xv)).numpy(), rtol=1e-9)
        np.testing.assert_allclose(ours.entropy().numpy(), theirs.entropy().numpy(), rtol=1e-9)
        np.testing.assert_allclose(ours.mean.numpy(), theirs.mean.numpy(), rtol=1e-9)
        np.testing.assert_allclose(ours.variance.numpy(), theirs.variance.numpy(), rtol=1e-9)
    for ours, theirs in [((D.Beta, 2.0, 3.0), (D.Beta, 1.0, 1.5)), ((D.Gamma, 2.0, 3.0), (D.Gamma, 1.0, 1.5)),
                         ((D.Laplace, 0.2, 3.0), (D.Laplace, 1.0, 1.5)), ((D.Normal, 2.0, 3.0), (D.Normal, 1.0, 1.5))]:
        mine = D.kl_divergence(ours[0](t(ours[1]), t(ours[2])), theirs[0](t(theirs[1]), t(theirs[2])))
        tp = getattr(TD, ours[0].__name__)(T(ours[1]), T(ours[2]))
        tq = getattr(TD, theirs[0].__name__)(T(theirs[1]), T(theirs[2]))
        np.testing.assert_allclose(mine.numpy(), TD.kl_divergence(tp, tq).numpy(), rtol=1e-9)
    # error messages
    for make in (lambda M: M.Normal(0.0, -1.0), lambda M: M.Bernoulli(probs=0.3, logits=0.1)):
        with pytest.raises(ValueError) as ours:
            make(D)
        with pytest.raises(ValueError) as theirs:
            make(TD)
        assert str(ours.value) == str(theirs.value)
    # every name rtorch.distributions exports exists in torch.distributions
    for name in D.__all__:
        assert hasattr(TD, name), name
    # the same transform on both sides gives the same Jacobian
    v = np.array([0.3, -0.7])
    ours = D.StickBreakingTransform()
    theirs = TD.StickBreakingTransform()
    np.testing.assert_allclose(ours(t(v)).numpy(), theirs(torch.tensor(v)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(D.CorrCholeskyTransform()(t([0.3, -0.4, 0.9])).numpy(),
                               TD.CorrCholeskyTransform()(torch.tensor([0.3, -0.4, 0.9], dtype=torch.float64)).numpy(),
                               rtol=1e-10)
