"""Grad-mode context managers: ``no_grad``, ``enable_grad``, ``set_grad_enabled``,
``inference_mode``. Each works as a context manager and as a decorator."""

import functools
import inspect

from rtorch import _C


class _GradModeBase:
    def __call__(self, fn):
        if inspect.isclass(fn):
            raise TypeError("grad-mode decorators apply to functions, not classes")

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                gen = fn(*args, **kwargs)
                with self.clone():
                    value = next(gen)
                while True:
                    try:
                        with self.clone():
                            sent = yield value
                            value = gen.send(sent)
                    except StopIteration as e:
                        return e.value

            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_GradModeBase):
    """Disables gradient recording inside the block."""

    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)
        return False


class enable_grad(_GradModeBase):
    """Enables gradient recording inside the block."""

    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(True)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)
        return False


class set_grad_enabled(_GradModeBase):
    """Sets grad mode; takes effect immediately when called, and restores on exit."""

    def __init__(self, mode):
        self.prev = _C.is_grad_enabled()
        self.mode = bool(mode)
        _C._set_grad_enabled(self.mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)
        return False

    def clone(self):
        return self.__class__(self.mode)

    def __call__(self, fn):
        _C._set_grad_enabled(self.prev)
        return super().__call__(fn)


class inference_mode(_GradModeBase):
    """Like ``no_grad`` (tensors created inside never record history)."""

    def __init__(self, mode=True):
        self.mode = mode

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):
            return cls()(mode)
        return super().__new__(cls)

    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        self.prev_inf = _C.is_inference_mode_enabled()
        if self.mode:
            _C._set_grad_enabled(False)
            _C._set_inference_mode(True)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)
        _C._set_inference_mode(self.prev_inf)
        return False

    def clone(self):
        return self.__class__(self.mode)


def is_grad_enabled():
    return _C.is_grad_enabled()


def is_inference_mode_enabled():
    return _C.is_inference_mode_enabled()
