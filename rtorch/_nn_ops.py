"""Top-level fused nn functions (``torch.conv2d``, ``torch.layer_norm`` …) from the core."""

from rtorch import _C

_NAMES = [
    "conv1d", "conv2d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool2d", "layer_norm",
    "batch_norm", "group_norm", "embedding", "dropout", "rms_norm",
]


def install(namespace):
    for name in _NAMES:
        if hasattr(_C, name):
            namespace[name] = getattr(_C, name)
