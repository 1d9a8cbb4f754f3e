"""Module-level functions (``torch.exp(x)``, ``torch.sum(x, dim)`` …) that forward to the
Tensor method of the same name, with PyTorch's ``out=`` argument."""

from rtorch import _C
from rtorch._out import check_out, store

_METHOD_FUNCTIONS = """
abs absolute neg negative sign sgn exp exp2 expm1 log log2 log10 log1p sqrt rsqrt sin cos tan
asin acos atan arcsin arccos arctan sinh cosh tanh asinh acosh atanh arcsinh arccosh arctanh
sigmoid relu floor ceil trunc fix frac reciprocal square erf erfc erfinv round
logical_not bitwise_not isnan isinf isfinite signbit nan_to_num clamp clip clamp_min clamp_max
add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow float_power
maximum minimum fmax fmin atan2 arctan2 eq ne lt le gt ge not_equal less less_equal greater
greater_equal logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor
bitwise_left_shift bitwise_right_shift lerp rsub
sum nansum mean prod amax amin max min argmax argmin var std norm logsumexp all any
count_nonzero cumsum cumprod sort argsort topk unique softmax log_softmax
reshape transpose swapaxes swapdims t permute squeeze unsqueeze flatten ravel unflatten narrow
select movedim moveaxis diagonal flip fliplr flipud roll tril triu split chunk unbind
matmul mm bmm mv dot inner outer ger gather scatter scatter_add index_select index_add
masked_fill masked_select take nonzero argwhere repeat_interleave std_mean var_mean
as_strided addcmul addcdiv addmm allclose
abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_
ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ detach_ erf_ erfc_ exp2_ exp_
expm1_ fill_ fix_ floor_ frac_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_
rad2deg_ reciprocal_ relu_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_
trunc_ xlogy_ zero_ addmv_ gcd_ lcm_ ldexp_ i0_ conj_physical_ index_put_ hardshrink prelu
is_signed get_device is_inference isclose index_fill index_copy clone detach numel equal broadcast_to
addbmm addmv addr adjoint aminmax angle as_strided_scatter baddbmm bincount cholesky_inverse
cholesky_solve conj conj_physical copysign corrcoef cov cross cummax cummin deg2rad det diag_embed
diagflat diagonal_scatter diff digamma dist dsplit frexp gcd heaviside histc histogram hsplit
hypot i0 igamma igammac index_put index_reduce inverse is_conj is_neg is_same_size isneginf
isposinf isreal kron kthvalue lcm ldexp lgamma logaddexp logaddexp2 logcumsumexp logdet logit lu
lu_solve masked_scatter matrix_exp matrix_power median mode msort mvlgamma nanmean nanmedian
nanquantile narrow_copy nextafter nonzero_static positive put qr quantile rad2deg renorm
resolve_conj resolve_neg rot90 scatter_reduce select_scatter sinc slice_scatter slogdet
split_with_sizes take_along_dim tensor_split tile triangular_solve unique_consecutive unsafe_chunk
unsafe_split unsafe_split_with_sizes vdot vsplit xlogy cholesky svd pinverse
"""


# Set by rtorch.func when imported: the batching rule for a call like ``torch.add(x, b)``
# whose tensor method rejected a vmap BatchedTensor argument with a TypeError.
_batched_hook = [None]


def _make(name):
    def fn(input, *args, out=None, **kwargs):
        if not isinstance(input, _C.Tensor):
            if getattr(type(input), "_rtorch_batched", False):
                # Inside vmap: the BatchedTensor's rule (or its "no rule" error).
                if out is not None:
                    input._escape()
                return getattr(input, name)(*args, **kwargs)
            input = _C.tensor(input)
        if out is not None:
            check_out(name, out, (input, *args, *kwargs.values()))
        try:
            result = getattr(input, name)(*args, **kwargs)
        except TypeError:
            hook = _batched_hook[0]
            result = NotImplemented if hook is None else hook(name, input, args, kwargs, out)
            if result is NotImplemented:
                raise
        if out is not None:
            return store(name, result, out)
        return result

    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}(input, ...)``: same as ``Tensor.{name}``."
    return fn


def install(namespace):
    for name in _METHOD_FUNCTIONS.split():
        namespace[name] = _make(name)
