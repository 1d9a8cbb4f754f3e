"""``SummaryWriter.add_embedding``: files for TensorBoard's projector.

Each call writes ``<log_dir>/<step>/<tag>/tensors.tsv`` (one row per point), optionally
``metadata.tsv`` (labels, with a header row for several columns) and ``sprite.png`` (the
label images in a square grid), and adds the embedding to ``projector_config.pbtxt``.
"""

from __future__ import annotations

import math
import os

import numpy as np
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import (
    EmbeddingInfo,
    ProjectorConfig,
)

from ._images import encode_png, to_numpy, to_uint8


def _sprite(imgs):
    """N×C×H×W images → one square grid image (H×W×3 uint8) and the single image size."""
    n, c, h, w = imgs.shape
    if c == 1:
        imgs = np.repeat(imgs, 3, axis=1)
    side = math.ceil(math.sqrt(n))
    grid = np.zeros((side * h, side * w, imgs.shape[1]), dtype=np.uint8)
    u8 = to_uint8(imgs)
    for i in range(n):
        r, q = divmod(i, side)
        grid[r * h : (r + 1) * h, q * w : (q + 1) * w] = u8[i].transpose(1, 2, 0)
    return grid, (h, w)


def _metadata_lines(metadata, header, n):
    rows = list(metadata)
    if len(rows) != n:
        raise ValueError(f"add_embedding: {len(rows)} metadata rows for {n} points")
    multi = rows and isinstance(rows[0], (list, tuple))
    if multi:
        if header is None:
            raise ValueError("add_embedding: metadata with several columns needs metadata_header")
        lines = ["\t".join(str(h) for h in header)]
        lines += ["\t".join(str(x) for x in r) for r in rows]
        return lines
    return [str(r) for r in rows]


def write_embedding(logdir, config, mat, metadata, label_img, global_step, tag, header):
    m = to_numpy(mat)
    if m.ndim != 2:
        raise ValueError(f"add_embedding: mat must be 2-D (N×D), got shape {tuple(m.shape)}")
    step = f"{0 if global_step is None else int(global_step):05d}"
    sub = os.path.join(step, tag)
    folder = os.path.join(logdir, sub)
    os.makedirs(folder, exist_ok=True)
    np.savetxt(os.path.join(folder, "tensors.tsv"), m, delimiter="\t", fmt="%.8g")
    info = EmbeddingInfo(tensor_name=f"{tag}:{step}")
    info.tensor_path = os.path.join(sub, "tensors.tsv")
    if metadata is not None:
        lines = _metadata_lines(metadata, header, m.shape[0])
        with open(os.path.join(folder, "metadata.tsv"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        info.metadata_path = os.path.join(sub, "metadata.tsv")
    if label_img is not None:
        imgs = to_numpy(label_img)
        if imgs.ndim != 4 or imgs.shape[0] != m.shape[0]:
            raise ValueError(
                f"add_embedding: label_img must be N×C×H×W with N={m.shape[0]}, "
                f"got shape {tuple(imgs.shape)}"
            )
        grid, (h, w) = _sprite(imgs)
        with open(os.path.join(folder, "sprite.png"), "wb") as f:
            f.write(encode_png(grid))
        info.sprite.image_path = os.path.join(sub, "sprite.png")
        info.sprite.single_image_dim.extend([w, h])
    config = config if config is not None else ProjectorConfig()
    config.embeddings.append(info)
    with open(os.path.join(logdir, "projector_config.pbtxt"), "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(config))
    return config
