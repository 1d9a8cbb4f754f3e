"""Image helpers for the TensorBoard writer: layout conversion, grids, PNG encoding and
matplotlib figure capture."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def to_numpy(x):
    """A NumPy array from an rtorch tensor, a NumPy array or a Python number/sequence."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def to_uint8(img):
    """Float images are taken as [0, 1] (scaled to 0..255, clipped); uint8 stays as it is."""
    if img.dtype == np.uint8:
        return img
    if np.issubdtype(img.dtype, np.floating):
        return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.clip(img, 0, 255).astype(np.uint8)


def _grid(imgs, ncols=8):
    """N×C×H×W → C×(rows·H)×(cols·W), images placed row by row."""
    n, c, h, w = imgs.shape
    cols = max(1, min(n, ncols))
    rows = -(-n // cols)
    canvas = np.zeros((c, rows * h, cols * w), dtype=imgs.dtype)
    for i in range(n):
        r, q = divmod(i, cols)
        canvas[:, r * h : (r + 1) * h, q * w : (q + 1) * w] = imgs[i]
    return canvas


def to_hwc(img, dataformats):
    """An image (or a batch, laid out as a grid) in H×W×C with 3 or 4 channels.

    ``dataformats`` names the axes of ``img``: e.g. ``"CHW"``, ``"HWC"``, ``"HW"``, ``"NCHW"``,
    ``"NHWC"``; gray images get three equal channels, as TensorBoard shows them.
    """
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt) or not set(fmt) <= set("NCHW") or not {"H", "W"} <= set(fmt):
        raise ValueError(f"add_image: unsupported dataformats {dataformats!r}")
    if img.ndim != len(fmt):
        raise ValueError(
            f"add_image: dataformats {dataformats!r} needs a {len(fmt)}-D image, "
            f"got shape {tuple(img.shape)}"
        )
    if "C" not in fmt:
        img, fmt = img[..., None], fmt + "C"
    if "N" not in fmt:
        img, fmt = img[None], "N" + fmt
    img = img.transpose([fmt.index(a) for a in "NCHW"])
    if img.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"add_image: an image needs 1, 3 or 4 channels, got {img.shape[1]} "
            f"(shape {tuple(img.shape)}, dataformats {dataformats!r})"
        )
    if img.shape[1] == 1:
        img = np.repeat(img, 3, axis=1)
    grid = img[0] if img.shape[0] == 1 else _grid(img)
    return grid.transpose(1, 2, 0)


def encode_png(hwc):
    """PNG bytes of an H×W×C uint8 image (C = 1, 2, 3 or 4)."""
    h, w, c = hwc.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = np.ascontiguousarray(hwc, dtype=np.uint8).reshape(h, w * c)
    # Each scanline starts with its filter type; 0 = none.
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def figure_to_hwc(figure, close=True):
    """The pixels of a matplotlib figure as H×W×4 uint8 (RGBA)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as e:  # pragma: no cover - exercised only without matplotlib
        raise ImportError("add_figure needs matplotlib: pip install matplotlib") from e
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba()).copy()
    if close:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return rgba
