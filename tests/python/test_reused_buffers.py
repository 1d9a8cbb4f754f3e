"""Freed host buffers from 64 KiB up are cached and handed to the next allocation of the same
size, stale contents and all: every creation and conversion must still write all of its
elements (zeros, fills, casts, elementwise and matmul outputs), whatever the block held."""

import numpy as np
import pytest

import rtorch as torch

N = 300_000  # elements: above the cache's smallest block, on the pool's split path


def _stale(dtype):
    """Frees a block of N elements of `dtype` filled with a recognisable value."""
    t = torch.full((N,), 7, dtype=dtype)
    del t


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.int32])
def test_zeros_full_and_casts_overwrite_cached_blocks(dtype):
    for _ in range(3):
        _stale(dtype)
        assert not torch.zeros(N, dtype=dtype).numpy().any()
        _stale(dtype)
        np.testing.assert_array_equal(torch.full((N,), 3, dtype=dtype).numpy(), 3)
        _stale(dtype)
        src = torch.arange(N, dtype=torch.float32 if dtype != torch.float32 else torch.int32)
        np.testing.assert_array_equal(src.to(dtype).numpy(), np.arange(N))


def test_bool_outputs_on_cached_blocks_are_valid():
    # A stale block of another dtype is never handed out as bool without being written.
    for _ in range(3):
        t = torch.full((N // 8,), -1, dtype=torch.int64)  # N bytes of 0xff
        del t
        z = torch.zeros(N, dtype=torch.bool)
        assert not z.numpy().any()
        c = torch.arange(N) % 2 == 0
        np.testing.assert_array_equal(c.numpy(), np.arange(N) % 2 == 0)


def test_elementwise_and_matmul_outputs_overwrite_cached_blocks():
    a = np.random.default_rng(0).standard_normal((600, 500)).astype(np.float32)
    x = torch.from_numpy(a)
    for _ in range(3):
        _stale(torch.float32)
        np.testing.assert_allclose((x * 2).numpy(), a * 2)
        _stale(torch.float32)
        np.testing.assert_allclose(torch.exp(x).numpy(), np.exp(a), rtol=1e-6)
        m = torch.full((600, 500), 5.0)
        del m
        np.testing.assert_allclose((x @ x.T[:, :500]).numpy(), a @ a.T[:, :500], rtol=1e-4,
                                   atol=1e-3)
