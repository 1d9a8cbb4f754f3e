"""Indexing with Python sequences as PyTorch does: ranges, tuples and lists inside the
index, numpy arrays, empty lists, nested integer lists as one index (NumPy's rule, which
PyTorch has announced), and the legacy list-as-tuple rule for lists holding slices, None,
Ellipsis or tensors (with PyTorch's deprecation warning)."""

import warnings

import numpy as np
import pytest

import rtorch as torch

BASE = np.arange(12.0).reshape(3, 4)


def make():
    return torch.tensor(BASE)


@pytest.mark.parametrize(
    "index, expected",
    [
        ((range(3), [0, 1, 2]), BASE[[0, 1, 2], [0, 1, 2]]),
        ((range(3), torch.tensor([3, 2, 1])), BASE[[0, 1, 2], [3, 2, 1]]),
        (range(1, 3), BASE[1:3]),
        ((slice(None), range(0, 4, 2)), BASE[:, [0, 2]]),
        (((0, 2),), BASE[[0, 2]]),
        (np.array([2, 0]), BASE[[2, 0]]),
        (np.array([True, False, True]), BASE[[True, False, True]]),
        (np.array([[0, 1], [1, 2]]), BASE[np.array([[0, 1], [1, 2]])]),
        ([], BASE[[]].reshape(0, 4)),
        ((range(0), 1), BASE[[], 1]),
    ],
)
def test_sequence_indices_get(index, expected):
    got = make()[index]
    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.array(got.tolist()).reshape(expected.shape), expected)


@pytest.mark.parametrize(
    "index, expected",
    [
        ([0, slice(1, 3)], BASE[0, 1:3]),
        ([0, None], BASE[0, None]),
        ([torch.tensor(0), torch.tensor(2)], BASE[0, 2]),
    ],
)
def test_list_with_sequences_indexes_like_a_tuple(index, expected):
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        got = make()[index]
    assert tuple(got.shape) == np.shape(expected)
    np.testing.assert_array_equal(np.array(got.tolist()), expected)


def test_plain_and_nested_integer_lists_are_one_index_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make()[[2, 0]].tolist() == BASE[[2, 0]].tolist()
        nested = make()[[[0, 1], [1, 2]]]
        assert nested.shape == (2, 2, 4)
        assert nested.tolist() == BASE[np.array([[0, 1], [1, 2]])].tolist()
        assert make()[[(0, 1), (1, 2)]].shape == (2, 2, 4)


def test_sequence_indices_set():
    x = make()
    x[range(3), [0, 1, 2]] = -1.0
    expected = BASE.copy()
    expected[[0, 1, 2], [0, 1, 2]] = -1.0
    assert x.tolist() == expected.tolist()
    y = make()
    with pytest.warns(UserWarning):
        y[[0, slice(1, 3)]] = 7.0
    expected = BASE.copy()
    expected[0, 1:3] = 7.0
    assert y.tolist() == expected.tolist()
    z = make()
    z[np.array([True, False, True])] = 0.0
    assert z[1].tolist() == BASE[1].tolist() and z[0].tolist() == [0.0] * 4


def test_gradient_through_range_index():
    x = torch.tensor(BASE, dtype=torch.float64, requires_grad=True)
    x[range(3), [1, 1, 1]].sum().backward()
    expected = np.zeros_like(BASE)
    expected[:, 1] = 1.0
    assert x.grad.tolist() == expected.tolist()


def test_bad_sequence_indices():
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        make()[[0.5, 1.0]]
    with pytest.raises(IndexError):
        make()[range(5)]
