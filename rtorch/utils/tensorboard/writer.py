"""``SummaryWriter``: TensorBoard event files from rtorch (``torch.utils.tensorboard``'s API).

Events are ``tensorboard`` protocol buffers written by the ``tensorboard`` package's own
event-file writer (TFRecord framing with masked CRC32C, a background thread that flushes
every ``flush_secs`` or when ``max_queue`` events are pending).
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime

from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from . import summary as S
from ._images import to_numpy

__all__ = ["SummaryWriter", "FileWriter"]


class FileWriter:
    """One event file in one directory: wraps summaries and graphs in ``Event`` records."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self._writer = EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)

    def get_logdir(self):
        return self._writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else float(walltime)
        if step is not None:
            event.step = int(step)
        self._writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        self.add_event(Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_def, walltime=None):
        self.add_event(Event(graph_def=graph_def.SerializeToString()), None, walltime)

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()


def _default_logdir(comment):
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


def _step(global_step):
    if global_step is None:
        return None
    if hasattr(global_step, "item"):
        global_step = global_step.item()
    return int(global_step)


class SummaryWriter:
    """Writes scalars, histograms, images, figures, text, hyperparameters, model graphs and
    embeddings to ``log_dir`` for TensorBoard (default ``runs/<date>_<host><comment>``).

    ``purge_step``: on resuming a crashed run, events at and after this step that an earlier
    writer left in ``log_dir`` are hidden by TensorBoard.
    """

    def __init__(
        self,
        log_dir=None,
        comment="",
        purge_step=None,
        max_queue=10,
        flush_secs=120,
        filename_suffix="",
    ):
        self.log_dir = str(log_dir) if log_dir is not None else _default_logdir(comment)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = None
        self.all_writers = {}
        self._projector_config = None
        self._get_file_writer()

    def _get_file_writer(self):
        if self.file_writer is None:
            self.file_writer = FileWriter(
                self.log_dir,
                max_queue=self.max_queue,
                flush_secs=self.flush_secs,
                filename_suffix=self.filename_suffix,
            )
            self.all_writers[self.file_writer.get_logdir()] = self.file_writer
            if self.purge_step is not None:
                step = int(self.purge_step)
                self.file_writer.add_event(Event(file_version="brain.Event:2"), step)
                self.file_writer.add_event(Event(session_log=SessionLog(status=SessionLog.START)), step)
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        return self.log_dir

    def _add(self, summary, global_step, walltime):
        self._get_file_writer().add_summary(summary, _step(global_step), walltime)

    def add_scalar(
        self,
        tag,
        scalar_value,
        global_step=None,
        walltime=None,
        new_style=False,
        double_precision=False,
    ):
        self._add(S.scalar(tag, scalar_value, new_style, double_precision), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves in one chart: each goes to its own run ``<log_dir>/<main_tag>_<tag>``
        under the tag ``main_tag``."""
        stamp = walltime if walltime is not None else time.time()
        base = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            path = os.path.join(base, main_tag.replace("/", "_") + "_" + tag)
            fw = self.all_writers.get(path)
            if fw is None:
                fw = FileWriter(path, self.max_queue, self.flush_secs, self.filename_suffix)
                self.all_writers[path] = fw
            fw.add_summary(S.scalar(main_tag, value), _step(global_step), stamp)

    def add_tensor(self, tag, tensor, global_step=None, walltime=None):
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.util import tensor_util

        proto = tensor_util.make_tensor_proto(to_numpy(tensor))
        self._add(Summary(value=[Summary.Value(tag=tag, tensor=proto)]), global_step, walltime)

    def add_histogram(
        self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None
    ):
        self._add(S.histogram(tag, values, bins, max_bins), global_step, walltime)

    def add_histogram_raw(
        self,
        tag,
        min,
        max,
        num,
        sum,
        sum_squares,
        bucket_limits,
        bucket_counts,
        global_step=None,
        walltime=None,
    ):
        s = S.histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts)
        self._add(s, global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        self._add(S.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        if "N" not in dataformats.upper():
            raise ValueError(f"add_images: dataformats {dataformats!r} has no batch axis N")
        self._add(S.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        self._add(S.figure(tag, figure, close), global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._add(S.text(tag, text_string), global_step, walltime)

    def add_hparams(
        self,
        hparam_dict,
        metric_dict,
        hparam_domain_discrete=None,
        run_name=None,
        global_step=None,
    ):
        """One hyperparameter run: the hparams and metrics go to a run named ``run_name``
        (default: the current time) inside ``log_dir``."""
        exp, start, end = S.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        if run_name is None:
            run_name = str(time.time())
        path = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=path) as w:
            for s in (exp, start, end):
                w._get_file_writer().add_summary(s, None)
            for k, v in metric_dict.items():
                w.add_scalar(k, v, global_step)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The autograd graph of ``model(*input_to_model)``, grouped by module."""
        from ._graph import graph_def

        gd = graph_def(model, input_to_model)
        if verbose:
            print(gd)
        self._get_file_writer().add_graph(gd)

    def add_embedding(
        self,
        mat,
        metadata=None,
        label_img=None,
        global_step=None,
        tag="default",
        metadata_header=None,
    ):
        from ._embedding import write_embedding

        self._projector_config = write_embedding(
            self._get_file_writer().get_logdir(),
            self._projector_config,
            mat,
            metadata,
            label_img,
            global_step,
            tag,
            metadata_header,
        )

    def flush(self):
        for w in self.all_writers.values():
            w.flush()

    def close(self):
        for w in self.all_writers.values():
            w.flush()
            w.close()
        self.all_writers = {}
        self.file_writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
