"""Local response norm, power-average pooling, max unpooling, feature alpha dropout and
embedding bags."""

import rtorch as torch

from .. import functional as F
from .. import init
from ..parameter import Parameter
from ._configured import REQUIRED, Configured
from .dropout import _DropoutNd
from .module import Module
from .sparse import _resolve_padding_idx
from .utils import _pair, _single, _triple

__all__ = [
    "LocalResponseNorm",
    "LPPool1d",
    "LPPool2d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "FeatureAlphaDropout",
    "EmbeddingBag",
]


class LocalResponseNorm(
    Configured,
    fn="local_response_norm",
    options=[("size", REQUIRED), ("alpha", 1e-4), ("beta", 0.75), ("k", 1.0)],
):
    """Normalises each channel by the activity of its `size` neighbours."""

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


_LP_OPTIONS = [
    ("norm_type", REQUIRED),
    ("kernel_size", REQUIRED),
    ("stride", None),
    ("ceil_mode", False),
]


class LPPool1d(Configured, fn="lp_pool1d", options=_LP_OPTIONS):
    """Power-average pooling over (N, C, L) windows."""


class LPPool2d(Configured, fn="lp_pool2d", options=_LP_OPTIONS):
    """Power-average pooling over (N, C, H, W) windows."""


class _MaxUnpoolNd(
    Configured, options=[("kernel_size", REQUIRED), ("stride", None), ("padding", 0)]
):
    _tuple = None

    def _prepare(self, values):
        kernel = type(self)._tuple(values["kernel_size"])
        stride = values["stride"]
        return {
            "kernel_size": kernel,
            "stride": kernel if stride is None else type(self)._tuple(stride),
            "padding": type(self)._tuple(values["padding"]),
        }

    def forward(self, input, indices, output_size=None):
        fn = getattr(F, self._fn)
        return fn(input, indices, **self._call_options(), output_size=output_size)


class MaxUnpool1d(_MaxUnpoolNd, fn="max_unpool1d"):
    """Partial inverse of MaxPool1d: maxima back at their indices, zeros elsewhere."""

    _tuple = staticmethod(_single)


class MaxUnpool2d(_MaxUnpoolNd, fn="max_unpool2d"):
    """Partial inverse of MaxPool2d: maxima back at their indices, zeros elsewhere."""

    _tuple = staticmethod(_pair)


class MaxUnpool3d(_MaxUnpoolNd, fn="max_unpool3d"):
    """Partial inverse of MaxPool3d: maxima back at their indices, zeros elsewhere."""

    _tuple = staticmethod(_triple)


class FeatureAlphaDropout(_DropoutNd, fn="feature_alpha_dropout"):
    """Alpha dropout that drops whole channels."""


class EmbeddingBag(Module):
    """Sums, averages or maxes the embeddings of each bag of indices."""

    def __init__(
        self,
        num_embeddings,
        embedding_dim,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        mode="mean",
        sparse=False,
        _weight=None,
        include_last_offset=False,
        padding_idx=None,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = _resolve_padding_idx(padding_idx, num_embeddings)
        shape = (num_embeddings, embedding_dim)
        if _weight is not None and tuple(_weight.shape) != shape:
            raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
        table = torch.empty(shape, device=device, dtype=dtype) if _weight is None else _weight
        self.weight = Parameter(table)
        if _weight is None:
            self.reset_parameters()
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with torch.no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(
            input,
            self.weight,
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            per_sample_weights,
            self.include_last_offset,
            self.padding_idx,
        )

    def extra_repr(self):
        parts = [f"{self.num_embeddings}", f"{self.embedding_dim}"]
        if self.max_norm is not None:
            parts.append(f"max_norm={self.max_norm}")
        if self.norm_type != 2:
            parts.append(f"norm_type={self.norm_type}")
        if self.scale_grad_by_freq is not False:
            parts.append(f"scale_grad_by_freq={self.scale_grad_by_freq}")
        parts.append(f"mode={self.mode!r}")
        if self.padding_idx is not None:
            parts.append(f"padding_idx={self.padding_idx}")
        return ", ".join(parts)

    @classmethod
    def from_pretrained(
        cls,
        embeddings,
        freeze=True,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        mode="mean",
        sparse=False,
        include_last_offset=False,
        padding_idx=None,
    ):
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(
            rows,
            cols,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            mode=mode,
            sparse=sparse,
            _weight=embeddings,
            include_last_offset=include_last_offset,
            padding_idx=padding_idx,
        )
        bag.weight.requires_grad = not freeze
        return bag
