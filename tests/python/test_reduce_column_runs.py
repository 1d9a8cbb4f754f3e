"""Sums over the leading dims of a wide tensor (`sum(dim=0)`, bias gradients) with few column
blocks are computed by workers each adding a contiguous run of rows: values against numpy in
float64, for float32/float64/int64, grouped outputs, means and odd row counts."""

import numpy as np
import pytest

import rtorch as torch

RNG = np.random.default_rng(8)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape,dim", [((4096, 1024), 0), ((1037, 700), 0),
                                       ((3, 2001, 600), 1), ((2, 1500, 3, 100), (1, 2))])
def test_column_sums_match_numpy(shape, dim, dtype, tol):
    a = RNG.standard_normal(shape).astype(dtype)
    x = torch.from_numpy(a)
    ref = a.astype(np.float64).sum(axis=dim)
    scale = np.abs(a).sum(axis=dim).max()
    np.testing.assert_allclose(x.sum(dim=dim).numpy(), ref, rtol=0, atol=tol * scale)
    reduced = a.size // ref.size
    np.testing.assert_allclose(x.mean(dim=dim).numpy(), a.astype(np.float64).mean(axis=dim),
                               rtol=0, atol=tol * scale / reduced)


def test_integer_column_sums_are_exact():
    a = RNG.integers(-1000, 1000, (3000, 513))
    np.testing.assert_array_equal(torch.from_numpy(a).sum(dim=0).numpy(), a.sum(axis=0))
