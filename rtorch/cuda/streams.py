"""``torch.cuda.Stream`` and ``torch.cuda.Event``.

The backend queues all work of a device on one stream, in order. A :class:`Stream` stands for
that stream: ``synchronize`` waits for the device, ``wait_stream``/``wait_event`` on the same
device are already satisfied, and across devices they wait on the host. Events mark points in
that stream for waiting and timing.
"""

from rtorch import _C

__all__ = ["Event", "Stream", "current_stream", "default_stream"]


def _cuda():
    import rtorch.cuda

    return rtorch.cuda


class Stream:
    """The (single) stream of a CUDA device."""

    def __init__(self, device=None, priority=0, **kwargs):
        cuda = _cuda()
        cuda._lazy_init()
        self.device_index = cuda._get_device_index(device, optional=True)
        self.priority = priority

    @property
    def device(self):
        return _C.device("cuda", self.device_index)

    @property
    def cuda_stream(self):
        """The raw stream handle; the device's one stream reports 0 (the default stream)."""
        return 0

    def synchronize(self):
        """Waits until all work queued on this stream (the device's work) has finished."""
        _C._cuda_synchronize(self.device_index)

    def query(self):
        """Whether all queued work has finished."""
        e = Event()
        e.record(self)
        return e.query()

    def record_event(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def wait_event(self, event):
        """Makes later work on this stream wait for ``event``."""
        if event._device is not None and event._device != self.device_index:
            event.synchronize()

    def wait_stream(self, stream):
        """Makes later work on this stream wait for the work queued on ``stream``."""
        if stream.device_index != self.device_index:
            stream.synchronize()

    def __eq__(self, other):
        return isinstance(other, Stream) and other.device_index == self.device_index

    def __hash__(self):
        return hash(("cuda-stream", self.device_index))

    def __repr__(self):
        return f"<torch.cuda.Stream device={self.device} cuda_stream=0x0>"


def current_stream(device=None):
    """The stream work on ``device`` is queued on."""
    return Stream(device)


def default_stream(device=None):
    """The default stream of ``device`` (the same, single stream)."""
    return Stream(device)


class Event:
    """A marker in a device's stream: wait for it, ask whether it has passed, or time the
    work between two events (``enable_timing=True``)."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        _cuda()._lazy_init()
        self.enable_timing = bool(enable_timing)
        self.blocking = blocking
        self.interprocess = interprocess
        self._event = None
        self._device = None

    def record(self, stream=None):
        """Marks the current point of ``stream`` (the current device's stream by default)."""
        if stream is None:
            stream = current_stream()
        if self._event is None:
            self._event = _C._CudaEvent(stream.device_index, self.enable_timing)
            self._device = stream.device_index
        elif self._device != stream.device_index:
            raise RuntimeError(
                f"Event device {self._device} does not match recording stream's device "
                f"{stream.device_index}."
            )
        self._event.record()

    def wait(self, stream=None):
        """Makes later work on ``stream`` wait for this event."""
        (current_stream() if stream is None else stream).wait_event(self)

    def query(self):
        """Whether the work before the event has finished (True if never recorded)."""
        return True if self._event is None else self._event.query()

    def synchronize(self):
        """Waits until the work before the event has finished."""
        if self._event is not None:
            self._event.synchronize()

    def elapsed_time(self, end_event):
        """Milliseconds between this event and ``end_event``."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        if self._event is None or end_event._event is None:
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        return self._event.elapsed_time(end_event._event)

    def __repr__(self):
        return f"<torch.cuda.Event {'recorded' if self._event is not None else 'uninitialized'}>"
