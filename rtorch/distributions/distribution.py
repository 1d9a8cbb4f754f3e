"""``Distribution``: the interface every family implements (PyTorch's API and errors)."""

import warnings

import rtorch
from rtorch import _C
from rtorch.distributions import constraints
from rtorch.distributions.utils import lazy_property

__all__ = ["Distribution"]


def _size(shape):
    return rtorch.Size(shape)


class Distribution:
    """Base class. Subclasses set ``arg_constraints``, ``support``, ``has_rsample`` and
    implement the methods they can; a method a family lacks raises NotImplementedError."""

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value):
        """Turns argument/sample validation on or off for instances created afterwards."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = _size(batch_shape)
        self._event_shape = _size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()
        super().__init__()

    def _check_parameters(self):
        try:
            arg_constraints = self.arg_constraints
        except NotImplementedError:
            arg_constraints = {}
            warnings.warn(
                f"{type(self)} does not define `arg_constraints`. Please set `arg_constraints = {{}}` "
                "or initialize the distribution with `validate_args=False` to turn off validation.",
                stacklevel=3,
            )
        for param, constraint in arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            # A parameter derived lazily (probs from logits …) is not checked unless computed.
            if param not in self.__dict__ and isinstance(getattr(type(self), param, None), lazy_property):
                continue
            value = getattr(self, param)
            valid = constraint.check(value)
            if not bool(valid.all()):
                raise ValueError(
                    f"Expected parameter {param} ({type(value).__name__} of shape {tuple(value.shape)}) "
                    f"of distribution {self!r} to satisfy the constraint {constraint!r}, "
                    f"but found invalid values:\n{value}"
                )

    def expand(self, batch_shape, _instance=None):
        """A view of this distribution with a larger batch shape (parameters expanded, not copied)."""
        raise NotImplementedError(f"{type(self).__name__}.expand is not implemented")

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    @property
    def arg_constraints(self):
        raise NotImplementedError

    @property
    def support(self):
        raise NotImplementedError

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self)} does not implement mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self)} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self)} does not implement variance")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=()):
        """Draws without recording a graph (through ``rsample`` where there is one)."""
        with rtorch.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self)} does not implement rsample")

    def sample_n(self, n):
        warnings.warn("sample_n will be deprecated. Use .sample((n,)) instead", UserWarning, stacklevel=2)
        return self.sample((n,))

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self)} does not implement log_prob")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self)} does not implement cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self)} does not implement icdf")

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self)} does not implement enumerate_support")

    def entropy(self):
        raise NotImplementedError(f"{type(self)} does not implement entropy")

    def perplexity(self):
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=()):
        if not isinstance(sample_shape, rtorch.Size):
            sample_shape = _size(sample_shape)
        return _size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value):
        """Checks a value passed to log_prob/cdf: a Tensor, event shape and batch shape
        compatible, and inside the support."""
        if not isinstance(value, _C.Tensor):
            raise ValueError(
                "The value argument to log_prob must be a Tensor"
            )
        event_dim_start = len(value.shape) - len(self._event_shape)
        if tuple(value.shape[event_dim_start:]) != tuple(self._event_shape):
            raise ValueError(
                f"The right-most size of value must match event_shape: {value.size()} vs {self._event_shape}."
            )
        actual = value.size()
        expected = tuple(self._batch_shape) + tuple(self._event_shape)
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(
                    f"Value is not broadcastable with batch_shape+event_shape: {actual} vs {_size(expected)}."
                )
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(
                f"{type(self)} does not define `support` to enable sample validation. Please "
                "initialize the distribution with `validate_args=False` to turn off validation.",
                stacklevel=3,
            )
            return
        if support is None:
            return
        valid = support.check(value)
        if not bool(valid.all()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) "
                f"to be within the support ({support!r}) of the distribution {self!r}, "
                f"but found invalid values:\n{value}"
            )

    def _expand_to(self, cls, batch_shape, _instance=None):
        """Shared ``expand``: every tensor attribute whose leading dims are the batch shape is
        expanded to the new batch shape (its trailing, event-like dims kept); other attributes
        are shared with the new instance."""
        new = self._fresh_instance(cls, _instance)
        batch_shape = _size(batch_shape)
        old = tuple(self._batch_shape)
        nb = len(old)
        for key, value in self.__dict__.items():
            if key in ("_batch_shape", "_event_shape", "_validate_args"):
                continue
            if isinstance(value, _C.Tensor) and value.dim() >= nb and tuple(value.shape[:nb]) == old:
                value = value.expand(tuple(batch_shape) + tuple(value.shape[nb:]))
            new.__dict__[key] = value
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _fresh_instance(self, cls, _instance=None):
        """The instance ``expand`` fills in: ``_instance`` when a subclass passes one, else a
        bare object of this type (refused for subclasses whose __init__ differs)."""
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(
                f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                "__init__ method must also define a custom .expand() method."
            )
        if _instance is not None:
            return _instance
        return type(self).__new__(type(self))

    # PyTorch's name for the same helper, used by user subclasses.
    _get_checked_instance = _fresh_instance

    def __repr__(self):
        names = [k for k in self.arg_constraints if k in self.__dict__]
        parts = []
        for name in names:
            value = self.__dict__[name]
            parts.append(f"{name}: {value if value.numel() == 1 else value.size()}")
        return f"{type(self).__name__}({', '.join(parts)})"
