"""Embedding."""

import rtorch as torch

from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Embedding"]

# Lookup options besides the table itself, with their defaults, in F.embedding order.
_LOOKUP_DEFAULTS = {
    "padding_idx": None,
    "max_norm": None,
    "norm_type": 2.0,
    "scale_grad_by_freq": False,
    "sparse": False,
}


def _resolve_padding_idx(padding_idx, rows):
    """A negative index counts from the end; anything outside the table is an error."""
    if padding_idx is None:
        return None
    if not -rows <= padding_idx < rows:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return padding_idx % rows


class Embedding(Module):
    """A lookup table; row `padding_idx` starts at zero and receives no gradient."""

    def __init__(
        self,
        num_embeddings,
        embedding_dim,
        padding_idx=None,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        sparse=False,
        _weight=None,
        _freeze=False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        padding_idx = _resolve_padding_idx(padding_idx, num_embeddings)
        lookup = (padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse)
        for name, value in zip(_LOOKUP_DEFAULTS, lookup):
            setattr(self, name, value)
        shape = (num_embeddings, embedding_dim)
        if _weight is not None and tuple(_weight.shape) != shape:
            raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
        table = torch.empty(shape, device=device, dtype=dtype) if _weight is None else _weight
        self.weight = Parameter(table, requires_grad=not _freeze)
        if _weight is None:
            self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with torch.no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input):
        options = [getattr(self, name) for name in _LOOKUP_DEFAULTS]
        return F.embedding(input, self.weight, *options)

    def extra_repr(self):
        parts = [str(self.num_embeddings), str(self.embedding_dim)]
        for name, default in _LOOKUP_DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                parts.append(f"{name}={value}")
        return ", ".join(parts)

    @classmethod
    def from_pretrained(
        cls,
        embeddings,
        freeze=True,
        padding_idx=None,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        sparse=False,
    ):
        """An Embedding around `embeddings` (one row per entry)."""
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        options = (padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse)
        rows, cols = embeddings.shape
        return cls(rows, cols, *options, _weight=embeddings, _freeze=freeze)
