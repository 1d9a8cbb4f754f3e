"""Dropout layers (identity in eval mode)."""

from ._configured import INPLACE, Configured

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"]


class _DropoutNd(Configured, options=[("p", 0.5), INPLACE], flags=(), training=True):
    """Shared by every dropout layer: the probability check and the repr."""

    def _prepare(self, values):
        p = values["p"]
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        return values


class Dropout(_DropoutNd, fn="dropout"):
    """Zeroes each element with probability p and scales the rest by 1 / (1 - p)."""


class Dropout1d(_DropoutNd, fn="dropout1d"):
    """Zeroes whole channels of (N, C, L) or (C, L) input."""


class Dropout2d(_DropoutNd, fn="dropout2d"):
    """Zeroes whole channels of (N, C, H, W) or (C, H, W) input."""


class Dropout3d(_DropoutNd, fn="dropout3d"):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) input."""


# Accepts `inplace` for a uniform signature but always works out of place.
class AlphaDropout(_DropoutNd, fn="alpha_dropout", passed=["p"]):
    """Dropout that keeps zero mean and unit variance of SELU activations."""
