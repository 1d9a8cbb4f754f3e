"""Bad inputs raise PyTorch's exception type with a message naming the op and the shapes or
values, and never a Rust panic (pyo3's PanicException)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rtorch as torch

z23 = lambda: torch.zeros(2, 3)  # noqa: E731

# (id, call, exception type, message regex)
ERRORS = [
    (
        "broadcast",
        lambda: z23() + torch.zeros(4),
        RuntimeError,
        r"add: The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1",
    ),
    ("mul_broadcast", lambda: z23() * torch.zeros(3, 2), RuntimeError, "must match the size"),
    (
        "matmul",
        lambda: z23() @ z23(),
        RuntimeError,
        r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)",
    ),
    ("view", lambda: z23().view(7), RuntimeError, r"shape '\[7\]' is invalid for input of size 6"),
    (
        "dim_range",
        lambda: z23().sum(3),
        IndexError,
        r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 3\)",
    ),
    (
        "index_range",
        lambda: z23()[2],
        IndexError,
        "index 2 is out of bounds for dimension 0 with size 2",
    ),
    (
        "too_many_idx",
        lambda: z23()[0, 0, 0],
        IndexError,
        "too many indices for tensor of dimension 2",
    ),
    (
        "float_index",
        lambda: z23()[torch.tensor([0.0])],
        IndexError,
        "tensors used as indices must be long, int, byte or bool tensors",
    ),
    (
        "item",
        lambda: z23().item(),
        RuntimeError,
        "a Tensor with 6 elements cannot be converted to Scalar",
    ),
    (
        "bool_ambiguous",
        lambda: bool(z23()),
        RuntimeError,
        "Boolean value of Tensor with more than one value is ambiguous",
    ),
    ("len_0d", lambda: len(torch.tensor(1.0)), TypeError, "len\\(\\) of a 0-d tensor"),
    ("iter_0d", lambda: iter(torch.tensor(1.0)), TypeError, "iteration over a 0-d tensor"),
    (
        "requires_grad_int",
        lambda: torch.zeros(2, dtype=torch.int64).requires_grad_(),
        RuntimeError,
        "only Tensors of floating point and complex dtype can require gradients",
    ),
    (
        "mean_int",
        lambda: torch.tensor([1, 2]).mean(),
        RuntimeError,
        "mean\\(\\): could not infer output dtype",
    ),
    (
        "neg_bool",
        lambda: -torch.tensor([True]),
        RuntimeError,
        "Negation, the `-` operator, on a bool tensor is not supported",
    ),
    (
        "sub_bool",
        lambda: torch.tensor([True]) - torch.tensor([False]),
        RuntimeError,
        "Subtraction, the `-` operator, with two bool tensors is not supported",
    ),
    (
        "bitwise_float",
        lambda: torch.tensor([1.5]) & torch.tensor([1.0]),
        RuntimeError,
        "bitwise_and.*not implemented for 'Float'",
    ),
    ("int_div_zero", lambda: torch.tensor([1]) // 0, RuntimeError, "ZeroDivisionError"),
    (
        "neg_int_pow",
        lambda: torch.tensor([2]) ** -1,
        RuntimeError,
        "Integers to negative integer powers are not allowed",
    ),
    (
        "inplace_cast",
        lambda: torch.tensor([1]).add_(0.5),
        RuntimeError,
        "result type Float can't be cast to the desired output type Long",
    ),
    (
        "inplace_shape",
        lambda: z23().add_(torch.zeros(4, 2, 3)),
        RuntimeError,
        r"output with shape \[2, 3\] doesn't match the broadcast shape \[4, 2, 3\]",
    ),
    (
        "cat_shapes",
        lambda: torch.cat([z23(), torch.zeros(2, 4)]),
        RuntimeError,
        "Sizes of tensors must match except in dimension 0",
    ),
    (
        "stack_shapes",
        lambda: torch.stack([z23(), torch.zeros(3, 2)]),
        RuntimeError,
        "stack expects each tensor to be equal size",
    ),
    (
        "expand",
        lambda: z23().expand(3, 3),
        RuntimeError,
        "The expanded size of the tensor \\(3\\) must match the existing size \\(2\\)",
    ),
    (
        "reshape_infer",
        lambda: z23().reshape(-1, -1),
        RuntimeError,
        "only one dimension can be inferred",
    ),
    (
        "where_cond",
        lambda: torch.where(torch.ones(2), torch.ones(2), torch.ones(2)),
        RuntimeError,
        "where expected condition to be a boolean tensor",
    ),
    (
        "max_empty",
        lambda: torch.zeros(0).max(),
        RuntimeError,
        "Expected reduction dim to be specified for input.numel\\(\\) == 0",
    ),
    ("arange_step", lambda: torch.arange(0, 5, 0), RuntimeError, "step must be nonzero"),
    (
        "tensor_ragged",
        lambda: torch.tensor([[1], [1, 2]]),
        ValueError,
        "expected sequence of length 1 at dim 1 \\(got 2\\)",
    ),
    ("tensor_str", lambda: torch.tensor("x"), TypeError, "new\\(\\): invalid data type 'str'"),
    ("add_str", lambda: z23().add("x"), TypeError, "add"),
    ("zeros_neg", lambda: torch.zeros(-1), RuntimeError, "negative dimension -1"),
    (
        "numpy_grad",
        lambda: torch.ones(1, requires_grad=True).numpy(),
        RuntimeError,
        "Can't call numpy\\(\\) on Tensor that requires grad",
    ),
    (
        "leaf_inplace",
        lambda: torch.ones(1, requires_grad=True).mul_(2),
        RuntimeError,
        "a leaf Variable that requires grad is being used in an in-place operation",
    ),
    (
        "backward_nonscalar",
        lambda: (torch.ones(2, requires_grad=True) * 2).backward(),
        RuntimeError,
        "grad can be implicitly created only for scalar outputs",
    ),
    (
        "backward_no_grad",
        lambda: torch.ones(2).sum().backward(),
        RuntimeError,
        "element 0 of tensors does not require grad and does not have a grad_fn",
    ),
    (
        "gather_dtype",
        lambda: z23().gather(0, torch.zeros(1, 1, dtype=torch.int32)),
        RuntimeError,
        "gather\\(\\): Expected dtype int64 for index",
    ),
    ("squeeze_dim", lambda: z23().squeeze(5), IndexError, "Dimension out of range"),
    ("size_dim", lambda: z23().size(2), IndexError, "Dimension out of range"),
    (
        "to_bad",
        lambda: z23().to("nonsense"),
        (RuntimeError, TypeError, ValueError),
        "nonsense|device|dtype",
    ),
    # Without a GPU, device 0 does not exist; with n GPUs, device n does not.
    (
        "cuda",
        lambda: z23().cuda(torch.cuda.device_count()),
        (RuntimeError, AssertionError),
        "CUDA|cuda|NVIDIA driver",
    ),
]


@pytest.mark.parametrize("name,fn,exc,msg", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_type_and_message(name, fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()


def _maybe(fn):
    """Runs fn; any Exception is fine, a panic (BaseException, not Exception) is not."""
    try:
        fn()
    except Exception:
        pass


_junk = st.one_of(
    st.integers(-5, 5),
    st.floats(-3, 3),
    st.just(float("nan")),
    st.booleans(),
    st.none(),
    st.lists(st.integers(-4, 4), max_size=4),
    st.tuples(st.integers(-3, 3), st.integers(-3, 3)),
    st.sampled_from([slice(None, None, 2), Ellipsis, slice(-1, None)]),
)

METHODS = [
    "sum",
    "mean",
    "amax",
    "argmax",
    "cumsum",
    "softmax",
    "sort",
    "topk",
    "transpose",
    "permute",
    "view",
    "reshape",
    "expand",
    "narrow",
    "select",
    "unsqueeze",
    "squeeze",
    "flatten",
    "roll",
    "flip",
    "repeat",
    "chunk",
    "split",
    "unfold",
    "diagonal",
    "tril",
    "movedim",
    "gather",
    "index_select",
    "__getitem__",
    "std",
    "norm",
    "prod",
    "clamp",
    "pow",
    "add",
    "matmul",
    "masked_fill",
    "unflatten",
    "logsumexp",
]


@pytest.mark.parametrize("method", METHODS)
@given(args=st.lists(_junk, max_size=3), shape=st.lists(st.integers(0, 3), max_size=3))
def test_no_panics_on_junk_arguments(method, args, shape):
    t = torch.zeros(*shape) if shape else torch.tensor(1.0)
    fn = getattr(t, method)
    _maybe(lambda: fn(*args))
    _maybe(lambda: fn(*[torch.tensor(a) if isinstance(a, (int, float, list)) else a for a in args]))
