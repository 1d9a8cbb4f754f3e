"""Matrix products: matmul in every rank combination (batch broadcast, 1-d promotion, 0-size),
mm/bmm/mv/dot/inner/outer/einsum/tensordot; values vs numpy, gradients, shape errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tensor_helpers import assert_np, f64, gradcheck, layouts, make, seeds

import rtorch as torch

# (shape a, shape b) pairs for matmul, numpy's rules
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((1, 2, 3), (5, 3, 4)),
    ((2, 1, 2, 3), (1, 4, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 4, 3), (3,)),
    ((0, 3), (3, 4)),
    ((2, 0), (0, 4)),
    ((2, 3), (3, 0)),
    ((0, 2, 3), (3, 4)),
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.int32])
@pytest.mark.parametrize(
    "la,lb", [("contiguous", "contiguous"), ("transposed", "sliced"), ("sliced", "transposed")]
)
def test_matmul_values(sa, sb, dtype, la, lb):
    rng = np.random.default_rng(0)
    a, ta = make(sa, dtype, rng, la)
    b, tb = make(sb, dtype, rng, lb)
    out = ta @ tb
    expected = a @ b
    assert_np(
        out,
        expected,
        rtol=1e-5 if dtype == torch.float32 else 1e-12,
        atol=1e-5 if dtype == torch.float32 else 1e-12,
    )
    assert_np(torch.matmul(ta, tb), expected, rtol=1e-5, atol=1e-5)


@given(
    m=st.integers(0, 5),
    k=st.integers(0, 5),
    n=st.integers(0, 5),
    batch=st.lists(st.integers(1, 3), max_size=2),
    la=layouts,
    lb=layouts,
    seed=seeds,
)
def test_matmul_random(m, k, n, batch, la, lb, seed):
    rng = np.random.default_rng(seed)
    a, ta = make((*batch, m, k), torch.float64, rng, la)
    b, tb = make((k, n), torch.float64, rng, lb)
    assert_np(ta @ tb, a @ b, rtol=1e-12, atol=1e-12)
    assert_np(ta.matmul(tb), a @ b, rtol=1e-12, atol=1e-12)


def test_matmul_bigger_than_parallel_threshold():
    rng = np.random.default_rng(1)
    a, ta = make((96, 130), torch.float32, rng, "transposed")
    b, tb = make((130, 70), torch.float32, rng)
    assert_np(ta @ tb, (a.astype(np.float64) @ b).astype(np.float32), rtol=1e-4, atol=1e-4)


def test_matmul_half_and_promotion():
    a = torch.ones(2, 3, dtype=torch.float16)
    assert (a @ torch.ones(3, 2, dtype=torch.float16)).dtype == torch.float16
    bf = torch.ones(2, 3, dtype=torch.bfloat16) @ torch.ones(3, 2, dtype=torch.bfloat16)
    assert bf.dtype == torch.bfloat16 and bf.float().tolist() == [[3.0, 3.0], [3.0, 3.0]]
    with pytest.raises(RuntimeError, match="dtype|same|type"):
        torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.float64)


def _ids(rows):
    return [r.values[0] if hasattr(r, "values") else r[0] for r in rows]


NAMED = [
    ("mm", lambda a, b: torch.mm(a, b), lambda a, b: a @ b, (2, 3), (3, 4)),
    ("bmm", lambda a, b: torch.bmm(a, b), lambda a, b: a @ b, (2, 2, 3), (2, 3, 4)),
    ("mv", lambda a, b: torch.mv(a, b), lambda a, b: a @ b, (2, 3), (3,)),
    ("dot", lambda a, b: torch.dot(a, b), np.dot, (4,), (4,)),
    ("inner", lambda a, b: torch.inner(a, b), np.inner, (2, 3), (4, 3)),
    ("inner_1d", lambda a, b: torch.inner(a, b), np.inner, (3,), (3,)),
    ("outer", lambda a, b: torch.outer(a, b), np.outer, (3,), (4,)),
    ("ger", lambda a, b: torch.ger(a, b), np.outer, (3,), (2,)),
    (
        "einsum_ij_jk",
        lambda a, b: torch.einsum("ij,jk->ik", a, b),
        lambda a, b: np.einsum("ij,jk->ik", a, b),
        (2, 3),
        (3, 4),
    ),
    (
        "einsum_batch",
        lambda a, b: torch.einsum("bij,bjk->bik", a, b),
        lambda a, b: np.einsum("bij,bjk->bik", a, b),
        (2, 2, 3),
        (2, 3, 4),
    ),
    (
        "einsum_trace",
        lambda a, b: torch.einsum("ii->", a) + b.sum(),
        lambda a, b: np.einsum("ii->", a) + b.sum(),
        (3, 3),
        (2,),
    ),
    (
        "einsum_diag_contract",
        lambda a, b: torch.einsum("iij,j->i", a, b),
        lambda a, b: np.einsum("iij,j->i", a, b),
        (3, 3, 2),
        (2,),
    ),
    (
        "einsum_outer",
        lambda a, b: torch.einsum("i,j->ij", a, b),
        lambda a, b: np.einsum("i,j->ij", a, b),
        (3,),
        (2,),
    ),
    (
        "einsum_implicit",
        lambda a, b: torch.einsum("ij,jk", a, b),
        lambda a, b: np.einsum("ij,jk", a, b),
        (2, 3),
        (3, 4),
    ),
    (
        "einsum_list",
        lambda a, b: torch.einsum("ij,kj->ik", [a, b]),
        lambda a, b: np.einsum("ij,kj->ik", a, b),
        (2, 3),
        (4, 3),
    ),
    (
        "einsum_ellipsis",
        lambda a, b: torch.einsum("...ij,...jk->...ik", a, b),
        lambda a, b: np.einsum("...ij,...jk->...ik", a, b),
        (2, 2, 3),
        (2, 3, 4),
    ),
    (
        "einsum_sum",
        lambda a, b: torch.einsum("ij,ij->i", a, b),
        lambda a, b: np.einsum("ij,ij->i", a, b),
        (2, 3),
        (2, 3),
    ),
    (
        "tensordot",
        lambda a, b: torch.tensordot(a, b, dims=1),
        lambda a, b: np.tensordot(a, b, 1),
        (2, 3),
        (3, 4),
    ),
    (
        "tensordot_2",
        lambda a, b: torch.tensordot(a, b),
        lambda a, b: np.tensordot(a, b),
        (2, 3, 4),
        (3, 4, 2),
    ),
    (
        "tensordot_dims",
        lambda a, b: torch.tensordot(a, b, dims=([0], [1])),
        lambda a, b: np.tensordot(a, b, ([0], [1])),
        (3, 2),
        (4, 3),
    ),
    (
        "addmm",
        lambda a, b: torch.addmm(torch.ones(2, 4, dtype=a.dtype), a, b, beta=0.5, alpha=2),
        lambda a, b: 0.5 + 2 * (a @ b),
        (2, 3),
        (3, 4),
    ),
    ("rmatmul_numpy", lambda a, b: a.__rmatmul__(b), lambda a, b: b @ a, (3, 2), (4, 3)),
]


@pytest.mark.parametrize("name,tf,nf,sa,sb", NAMED, ids=_ids(NAMED))
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_named_products(name, tf, nf, sa, sb, layout):
    rng = np.random.default_rng(3)
    a, ta = make(sa, torch.float64, rng, layout)
    b, tb = make(sb, torch.float64, rng, layout)
    assert_np(tf(ta, tb), nf(a, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,tf,nf,sa,sb", NAMED, ids=_ids(NAMED))
def test_named_products_gradcheck(name, tf, nf, sa, sb):
    rng = np.random.default_rng(4)
    gradcheck(tf, f64(sa, rng, layout="transposed"), f64(sb, rng))


@pytest.mark.parametrize("sa,sb", [s for s in MATMUL_SHAPES if 0 not in s[0] + s[1]])
def test_matmul_gradcheck(sa, sb):
    rng = np.random.default_rng(5)
    gradcheck(torch.matmul, f64(sa, rng, layout="transposed"), f64(sb, rng, layout="sliced"))


def test_matmul_second_order():
    from tensor_helpers import gradgradcheck

    gradgradcheck(torch.matmul, f64((2, 3)), f64((3, 2)))


@pytest.mark.parametrize(
    "fn,msg",
    [
        (
            lambda: torch.zeros(2, 3) @ torch.zeros(4, 2),
            r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x2\)",
        ),
        (
            lambda: torch.mm(torch.zeros(2, 3), torch.zeros(2, 3)),
            r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)",
        ),
        (lambda: torch.mm(torch.zeros(3), torch.zeros(3, 2)), "self must be a matrix|2D|matrix"),
        (lambda: torch.bmm(torch.zeros(2, 3), torch.zeros(3, 2)), "batch1 must be a 3D tensor|3D"),
        (lambda: torch.bmm(torch.zeros(2, 2, 3), torch.zeros(3, 3, 2)), "batch"),
        (
            lambda: torch.dot(torch.zeros(3), torch.zeros(4)),
            "inconsistent tensor size|same number of elements|size",
        ),
        (lambda: torch.dot(torch.zeros(3, 1), torch.zeros(3)), "1D tensors"),
        (
            lambda: torch.mv(torch.zeros(2, 3), torch.zeros(4)),
            "size mismatch|cannot be multiplied|shape",
        ),
        (lambda: torch.zeros(3) @ torch.zeros(4), "inconsistent tensor size|size|shape"),
        (lambda: torch.zeros(5, 2, 3) @ torch.zeros(4, 3, 2), "must match the size|broadcast|size"),
        (
            lambda: torch.tensor(1.0) @ torch.zeros(2),
            "both arguments to matmul need to be at least 1D|1D",
        ),
        (
            lambda: torch.einsum("ij,jk->ik", torch.zeros(2, 3), torch.zeros(4, 2)),
            "einsum\\(\\): subscript j has size 4",
        ),
    ],
)
def test_matmul_errors(fn, msg):
    with pytest.raises(RuntimeError, match=msg):
        fn()


def test_matmul_type_error():
    with pytest.raises(TypeError):
        torch.zeros(2, 2) @ "x"
