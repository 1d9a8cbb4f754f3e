"""Builders of TensorBoard ``Summary`` protocol buffers (scalars, histograms, images, text,
hyperparameters), from rtorch tensors, NumPy arrays or Python numbers."""

from __future__ import annotations

import time

import numpy as np
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
from tensorboard.plugins.hparams import metadata as hp_metadata
from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData

from ._images import encode_png, figure_to_hwc, to_hwc, to_numpy, to_uint8

__all__ = ["scalar", "histogram", "histogram_raw", "image", "text", "hparams"]


def _scalar_value(value, op):
    a = to_numpy(value)
    if a.size != 1:
        raise ValueError(f"{op}: expected a scalar value, got shape {tuple(a.shape)}")
    return a.reshape(()).item()


def scalar(tag, value, new_style=False, double_precision=False):
    """A scalar: ``simple_value`` (classic), or a 0-d tensor for the scalars plugin."""
    v = float(_scalar_value(value, "add_scalar"))
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=v)])
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    if double_precision:
        t = TensorProto(dtype="DT_DOUBLE", double_val=[v], tensor_shape=TensorShapeProto())
    else:
        t = TensorProto(dtype="DT_FLOAT", float_val=[v], tensor_shape=TensorShapeProto())
    return Summary(value=[Summary.Value(tag=tag, tensor=t, metadata=meta)])


def _tensorflow_edges():
    # TensorFlow's default buckets: ±1e-12·1.1^k up to 1e20, and 0 between the signs.
    k = int(np.ceil(np.log(1e20 / 1e-12) / np.log(1.1)))
    pos = 1e-12 * np.power(1.1, np.arange(k))
    return np.concatenate([-pos[::-1], [0.0], pos])


def histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):
    if len(bucket_counts) != len(bucket_limits):
        raise ValueError(
            f"add_histogram_raw: {len(bucket_limits)} bucket limits for "
            f"{len(bucket_counts)} bucket counts"
        )
    hist = HistogramProto(
        min=float(min),
        max=float(max),
        num=float(num),
        sum=float(sum),
        sum_squares=float(sum_squares),
        bucket_limit=[float(x) for x in bucket_limits],
        bucket=[float(x) for x in bucket_counts],
    )
    return Summary(value=[Summary.Value(tag=tag, histo=hist)])


def histogram(tag, values, bins="tensorflow", max_bins=None):
    """A histogram of ``values``; ``bins`` as NumPy's (an int, edges or a rule name) or
    ``"tensorflow"`` for TensorFlow's exponential buckets."""
    v = to_numpy(values).astype(np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("add_histogram: the histogram of an empty tensor is undefined")
    if not np.all(np.isfinite(v)):
        raise ValueError("add_histogram: values contain NaN or infinity")
    edges = _tensorflow_edges() if isinstance(bins, str) and bins == "tensorflow" else bins
    counts, limits = np.histogram(v, bins=edges)
    if max_bins is not None and len(counts) > max_bins:
        # Merge neighbouring buckets so that at most max_bins remain.
        group = -(-len(counts) // max_bins)
        pad = (-len(counts)) % group
        counts = np.concatenate([counts, np.zeros(pad, counts.dtype)]).reshape(-1, group).sum(1)
        limits = limits[np.minimum(np.arange(len(counts) + 1) * group, len(limits) - 1)]
    nonzero = np.nonzero(counts)[0]
    lo, hi = (nonzero[0], nonzero[-1]) if nonzero.size else (0, len(counts) - 1)
    # Keep an empty bucket before the first filled one: its limit is the left edge of the data.
    lo = max(lo - 1, 0)
    return histogram_raw(
        tag,
        v.min(),
        v.max(),
        v.size,
        v.sum(),
        np.dot(v, v),
        limits[lo + 1 : hi + 2],
        counts[lo : hi + 1],
    )


def image(tag, img, dataformats="CHW"):
    """An image summary (PNG) from a CHW/HWC/HW image or a batch (drawn as a grid)."""
    hwc = to_uint8(to_hwc(to_numpy(img), dataformats))
    return _image_summary(tag, hwc)


def figure(tag, fig, close=True):
    figs = fig if isinstance(fig, (list, tuple)) else [fig]
    pixels = [figure_to_hwc(f, close) for f in figs]
    if len(pixels) == 1:
        return _image_summary(tag, pixels[0])
    h = max(p.shape[0] for p in pixels)
    w = max(p.shape[1] for p in pixels)
    batch = np.zeros((len(pixels), h, w, 4), np.uint8)
    for i, p in enumerate(pixels):
        batch[i, : p.shape[0], : p.shape[1]] = p
    return _image_summary(tag, to_hwc(batch, "NHWC"))


def _image_summary(tag, hwc):
    h, w, c = hwc.shape
    img = Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=encode_png(hwc))
    return Summary(value=[Summary.Value(tag=tag, image=img)])


def text(tag, text_string):
    meta = SummaryMetadata(
        plugin_data=SummaryMetadata.PluginData(
            plugin_name="text", content=TextPluginData(version=0).SerializeToString()
        )
    )
    t = TensorProto(
        dtype="DT_STRING",
        string_val=[str(text_string).encode("utf-8")],
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
    )
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=meta, tensor=t)])


def _hparam_value(name, v):
    if isinstance(v, bool):
        return api_pb2.DATA_TYPE_BOOL, {"bool_value": v}
    if isinstance(v, (int, float)):
        return api_pb2.DATA_TYPE_FLOAT64, {"number_value": float(v)}
    if isinstance(v, str):
        return api_pb2.DATA_TYPE_STRING, {"string_value": v}
    if hasattr(v, "numel") and v.numel() == 1:
        return api_pb2.DATA_TYPE_FLOAT64, {"number_value": float(v.item())}
    raise ValueError(
        f"add_hparams: value of hyperparameter {name!r} must be bool, int, float, str or a "
        f"one-element tensor, got {type(v).__name__}"
    )


def _hp_summary(tag, **data):
    content = plugin_data_pb2.HParamsPluginData(version=0, **data)
    meta = hp_metadata.create_summary_metadata(content)
    return Summary(value=[Summary.Value(tag=tag, metadata=meta)])


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The three summaries of the hparams plugin: experiment, session start and session end."""
    from google.protobuf import struct_pb2

    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError("add_hparams: hparam_dict and metric_dict must be dicts")
    domains = hparam_domain_discrete or {}
    for k, vals in domains.items():
        if k not in hparam_dict:
            raise ValueError(f"add_hparams: hparam_domain_discrete names unknown hparam {k!r}")
        if not isinstance(vals, (list, tuple)) or not all(
            type(x) is type(hparam_dict[k]) for x in vals
        ):
            raise TypeError(
                f"add_hparams: hparam_domain_discrete[{k!r}] must be a list of values of the "
                f"hparam's type ({type(hparam_dict[k]).__name__})"
            )
    infos = []
    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    for name, v in hparam_dict.items():
        if v is None:
            continue
        dtype, field = _hparam_value(name, v)
        for key, val in field.items():
            setattr(start.hparams[name], key, val)
        info = api_pb2.HParamInfo(name=name, type=dtype)
        if name in domains:
            lv = struct_pb2.ListValue()
            for x in domains[name]:
                if isinstance(x, bool):
                    lv.values.add(bool_value=x)
                elif isinstance(x, (int, float)):
                    lv.values.add(number_value=float(x))
                else:
                    lv.values.add(string_value=str(x))
            info.domain_discrete.CopyFrom(lv)
        infos.append(info)
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict]
    exp = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS)
    return (
        _hp_summary(hp_metadata.EXPERIMENT_TAG, experiment=exp),
        _hp_summary(hp_metadata.SESSION_START_INFO_TAG, session_start_info=start),
        _hp_summary(hp_metadata.SESSION_END_INFO_TAG, session_end_info=end),
    )
