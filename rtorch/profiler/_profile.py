"""``rtorch.profiler.profile``, ``record_function``, schedules and trace handlers.

The recording happens in the Rust core: every op opens a scope at its entry (one relaxed
atomic load when no profiler is active), the backward engine opens one per autograd node
(named as its ``grad_fn``), and ``record_function`` opens user ranges. This module starts
and stops that recorder and turns what it collected into events.
"""

from __future__ import annotations

import enum
import gzip
import os
import socket
import threading
import time
import warnings
from contextlib import ContextDecorator

from .. import _C
from ._events import EventList, build_events

__all__ = [
    "ProfilerActivity",
    "ProfilerAction",
    "profile",
    "record_function",
    "schedule",
    "supported_activities",
    "tensorboard_trace_handler",
]


class ProfilerActivity(enum.Enum):
    CPU = "CPU"
    CUDA = "CUDA"


def supported_activities():
    """The activities recorded: CPU (ops on CUDA tensors are recorded with the host time of
    their launch; device kernel times are not measured)."""
    return {ProfilerActivity.CPU}


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """A step → action function: skip ``skip_first`` steps, then cycles of ``wait`` idle,
    ``warmup`` recorded-and-dropped and ``active`` recorded steps (the last one saves),
    ``repeat`` times (0: forever)."""
    if min(wait, warmup, repeat, skip_first) < 0 or active <= 0:
        raise ValueError(
            "schedule: wait, warmup, repeat and skip_first must be >= 0 and active > 0"
        )
    cycle = wait + warmup + active

    def action(step):
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait and step < wait:
            return ProfilerAction.NONE
        n, pos = divmod(step, cycle)
        if repeat and n >= repeat:
            return ProfilerAction.NONE
        if pos < wait:
            return ProfilerAction.NONE
        if pos < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD_AND_SAVE if pos == cycle - 1 else ProfilerAction.RECORD

    return action


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """An ``on_trace_ready`` that writes ``<dir_name>/<worker>.<ms>.pt.trace.json[.gz]``,
    the files TensorBoard's profiler plugin lists."""

    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        path = os.path.join(dir_name, f"{worker}.{int(time.time() * 1000)}.pt.trace.json")
        if use_gzip:
            prof.export_chrome_trace(path)
            with open(path, "rb") as src, gzip.open(path + ".gz", "wb") as dst:
                dst.write(src.read())
            os.remove(path)
        else:
            prof.export_chrome_trace(path)

    return handler


_active_lock = threading.Lock()
_active = [None]


class profile:
    """Records every op run (on any thread) while active, forward and backward.

    ``record_shapes`` keeps input shapes; ``profile_memory`` counts the bytes of tensor
    memory each op allocates. ``with_stack``, ``with_flops`` and ``with_modules`` are
    accepted for compatibility and ignored: rtorch records no Python stacks, FLOPs or module
    hierarchy per op. With a ``schedule``, call ``step()`` once per training step; each
    finished active span is passed to ``on_trace_ready``.
    """

    def __init__(
        self,
        activities=None,
        schedule=None,
        on_trace_ready=None,
        record_shapes=False,
        profile_memory=False,
        with_stack=False,
        with_flops=False,
        with_modules=False,
        experimental_config=None,
        execution_trace_observer=None,
        acc_events=False,
        use_cuda=None,
    ):
        acts = set(activities) if activities is not None else supported_activities()
        for a in acts:
            if not isinstance(a, ProfilerActivity):
                raise TypeError(f"profile: activities must be ProfilerActivity values, got {a!r}")
        if ProfilerActivity.CUDA in acts or use_cuda:
            warnings.warn(
                "profile: CUDA kernel times are not recorded; ops on CUDA tensors appear with "
                "their host-side time",
                stacklevel=2,
            )
        self.activities = acts
        self.schedule = schedule
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.acc_events = acc_events
        self.step_num = 0
        self._recording = False
        self._events = None
        self._step_range = False
        self._action = ProfilerAction.RECORD

    # -- recorder control ------------------------------------------------------------
    def _begin(self):
        with _active_lock:
            if _active[0] is not None and _active[0] is not self:
                raise RuntimeError("profile: another profiler is already active")
            _active[0] = self
        _C._profiler_start(bool(self.record_shapes), bool(self.profile_memory))
        self._recording = True

    def _end(self):
        if self._step_range:
            _C._profiler_pop_range()
            self._step_range = False
        raw = _C._profiler_stop()
        self._recording = False
        with _active_lock:
            _active[0] = None
        events = build_events(raw)
        if self.acc_events and self._events is not None:
            events = EventList(list(self._events) + list(events), profile_memory=events._profile_memory)
        self._events = events

    def _open_step_range(self):
        if self.schedule is not None and self._recording:
            self._step_range = _C._profiler_push_range(f"ProfilerStep#{self.step_num}")

    def start(self):
        if self.schedule is None:
            self._begin()
            return self
        self._action = self.schedule(self.step_num)
        if self._action != ProfilerAction.NONE:
            self._begin()
            self._open_step_range()
        return self

    def stop(self):
        if self._recording:
            self._end()
            if self.on_trace_ready is not None and (
                self.schedule is None or self._action != ProfilerAction.WARMUP
            ):
                self.on_trace_ready(self)

    def step(self):
        """Marks the end of a training step (drives the ``schedule``)."""
        prev = self._action
        if self._step_range:
            _C._profiler_pop_range()
            self._step_range = False
        self.step_num += 1
        if self.schedule is None:
            return
        self._action = self.schedule(self.step_num)
        recording_now = self._action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)
        if prev == ProfilerAction.RECORD_AND_SAVE or (
            self._recording and self._action == ProfilerAction.NONE
        ):
            self._end()
            if prev == ProfilerAction.RECORD_AND_SAVE and self.on_trace_ready is not None:
                self.on_trace_ready(self)
        if prev == ProfilerAction.WARMUP and recording_now and self._recording:
            # Warm-up steps pay the recording cost; their events are dropped.
            self._end()
            self._events = None
        if self._action != ProfilerAction.NONE and not self._recording:
            self._begin()
        self._open_step_range()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- results ---------------------------------------------------------------------
    def _results(self):
        if self._recording:
            raise RuntimeError("profile: results are available after the profiler stops")
        if self._events is None:
            raise RuntimeError("profile: no events were recorded (the profiler never ran)")
        return self._events

    def events(self):
        """Every recorded range as a ``FunctionEvent``, ordered by start time."""
        return self._results()

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        ev = self._results()
        if group_by_input_shape and not self.record_shapes:
            raise RuntimeError(
                "key_averages(group_by_input_shape=True) needs profile(record_shapes=True)"
            )
        return ev.key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path):
        return self._results().export_chrome_trace(path)

    def table(self, *args, **kwargs):
        return self.key_averages().table(*args, **kwargs)

    @property
    def self_cpu_time_total(self):
        return self._results().self_cpu_time_total


class record_function(ContextDecorator):
    """A named range in the profile (``with record_function("forward"): ...`` or as a
    decorator); free when no profiler is active."""

    def __init__(self, name, args=None):
        self.name = str(name)
        self.args = args
        self._open = threading.local()

    def _stack(self):
        s = getattr(self._open, "stack", None)
        if s is None:
            s = self._open.stack = []
        return s

    def __enter__(self):
        self._stack().append(_C._profiler_push_range(self.name))
        return self

    def __exit__(self, *exc):
        if self._stack().pop():
            _C._profiler_pop_range()
        return False
