"""Flatten and Unflatten."""

import rtorch as torch

from ._configured import REQUIRED, Configured

__all__ = ["Flatten", "Unflatten"]


class Flatten(Configured, fn=torch.Tensor.flatten, options=[("start_dim", 1), ("end_dim", -1)]):
    """Merges dims start_dim..end_dim into one."""


class Unflatten(Configured, options=[("dim", REQUIRED), ("unflattened_size", REQUIRED)], passed=()):
    """Splits `dim` into the shape `unflattened_size`."""

    def _prepare(self, values):
        dim, sizes = values["dim"], values["unflattened_size"]
        if isinstance(dim, str):
            raise NotImplementedError("rtorch: named-dimension Unflatten is not supported")
        if not isinstance(dim, int):
            raise TypeError("invalid argument type for dim parameter")
        if not isinstance(sizes, (tuple, list)):
            raise TypeError(
                f"unflattened_size must be a tuple of ints, but found type {type(sizes).__name__}"
            )
        for pos, item in enumerate(sizes):
            if not isinstance(item, int):
                raise TypeError(
                    "unflattened_size must be tuple of ints, but found element of type "
                    f"{type(item).__name__} at pos {pos}"
                )
        return values

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)
