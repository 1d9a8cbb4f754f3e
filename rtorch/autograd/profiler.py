"""``torch.autograd.profiler``: the older spelling of the profiler (``profile`` with
``enabled``/``use_cuda`` arguments, ``record_function``); both record through
``rtorch.profiler``."""

from rtorch.profiler import EventList, FunctionEvent, FunctionEventAvg, record_function
from rtorch.profiler import profile as _profile

__all__ = ["profile", "record_function", "EventList", "FunctionEvent", "FunctionEventAvg"]


class profile(_profile):
    """``with profile(record_shapes=True) as prof: ...``; ``enabled=False`` records nothing
    (and ``prof`` then has no events)."""

    def __init__(
        self,
        enabled=True,
        *,
        use_cuda=False,
        use_device=None,
        record_shapes=False,
        with_flops=False,
        profile_memory=False,
        with_stack=False,
        with_modules=False,
        use_kineto=False,
        use_cpu=True,
        experimental_config=None,
        acc_events=False,
    ):
        super().__init__(
            record_shapes=record_shapes,
            profile_memory=profile_memory,
            with_stack=with_stack,
            with_flops=with_flops,
            with_modules=with_modules,
            acc_events=acc_events,
            use_cuda=use_cuda or use_device == "cuda",
        )
        self.enabled = enabled

    def start(self):
        return super().start() if self.enabled else self

    @property
    def function_events(self):
        return self.events()
