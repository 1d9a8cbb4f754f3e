"""Recurrent layers (RNN, LSTM, GRU) and their cells, with PyTorch's gate order.

Each recurrence is one row of `_KINDS`: how many gate blocks its weights stack and the
step that turns (input projection, h, c) into the next (h, c). Layers and cells share
those steps. The input projection of a whole sequence is one matmul; only the hidden
projection runs per time step.
"""

import math
import numbers
import warnings
from typing import Callable, NamedTuple

import rtorch as torch
from rtorch._autocast_ops import autocast_op

from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


@autocast_op("lstm")
def _lstm_layer(gi, h, c, w_hh, b_hh, reverse):
    return torch._C._lstm_layer(gi, h, c, w_hh, b_hh, reverse)


def _tanh_step(gi, h, c, w_hh, b_hh):
    return torch.tanh(gi + F.linear(h, w_hh, b_hh)), c


def _relu_step(gi, h, c, w_hh, b_hh):
    return torch.relu(gi + F.linear(h, w_hh, b_hh)), c


def _lstm_step(gi, h, c, w_hh, b_hh):
    # Gate blocks in order: input, forget, cell candidate, output.
    i, f, g, o = (gi + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _gru_step(gi, h, c, w_hh, b_hh):
    # Gate blocks in order: reset, update, new; the reset gate scales only h's share of "new".
    x_r, x_z, x_n = gi.chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    reset = torch.sigmoid(x_r + h_r)
    update = torch.sigmoid(x_z + h_z)
    candidate = torch.tanh(x_n + reset * h_n)
    return (1 - update) * candidate + update * h, c


class _Kind(NamedTuple):
    label: str  # name used in error messages
    gates: int  # gate blocks stacked in weight_ih / weight_hh
    step: Callable
    has_cell: bool  # LSTM carries (h, c); the others carry h alone


_KINDS = {
    "RNN_TANH": _Kind("RNN", 1, _tanh_step, False),
    "RNN_RELU": _Kind("RNN", 1, _relu_step, False),
    "LSTM": _Kind("LSTM", 4, _lstm_step, True),
    "GRU": _Kind("GRU", 3, _gru_step, False),
}

_NONLINEARITY_MODE = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}


def _uniform_reset(module):
    """Every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
    bound = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


def _layer_specs(gate_rows, in_features, hidden_size, proj_size, bias):
    """(base name, shape) of one layer/direction's parameters, in registration order."""
    carried = proj_size or hidden_size
    specs = [("weight_ih", (gate_rows, in_features)), ("weight_hh", (gate_rows, carried))]
    if bias:
        specs += [("bias_ih", (gate_rows,)), ("bias_hh", (gate_rows,))]
    if proj_size:
        specs.append(("weight_hr", (proj_size, hidden_size)))
    return specs


def _type_name(value):
    return type(value).__name__


def _check_config(input_size, hidden_size, num_layers, bias, batch_first, proj_size):
    # (name, value, required type or None, must be positive), checked in this order.
    rules = [
        ("bias", bias, bool, False),
        ("batch_first", batch_first, bool, False),
        ("input_size", input_size, int, True),
        ("hidden_size", hidden_size, int, True),
        ("num_layers", num_layers, None, True),
    ]
    for name, value, kind, positive in rules:
        if kind is not None and not isinstance(value, kind):
            raise TypeError(f"{name} should be of type {kind.__name__}, got: {_type_name(value)}")
        if positive and value <= 0:
            raise ValueError(f"{name} must be greater than zero")
    projection_rules = [
        (proj_size < 0, "proj_size should be a positive integer or zero to disable projections"),
        (proj_size >= hidden_size, "proj_size has to be smaller than hidden_size"),
    ]
    for failed, message in projection_rules:
        if failed:
            raise ValueError(message)


class RNNBase(Module):
    def __init__(
        self,
        mode,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        valid_p = isinstance(dropout, numbers.Number) and not isinstance(dropout, bool)
        if not (valid_p and 0 <= dropout <= 1):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of "
                "an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                "dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        _check_config(input_size, hidden_size, num_layers, bias, batch_first, proj_size)
        if mode not in _KINDS:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size

        # Names of each (layer, direction)'s parameters, layer-major, forward before reverse.
        self._all_weights = []
        gate_rows = _KINDS[mode].gates * hidden_size
        for layer in range(num_layers):
            fan_in = input_size if layer == 0 else self._output_size() * self._directions()
            for suffix in self._direction_suffixes():
                names = []
                for base, shape in _layer_specs(gate_rows, fan_in, hidden_size, proj_size, bias):
                    name = f"{base}_l{layer}{suffix}"
                    weight = torch.empty(shape, device=device, dtype=dtype)
                    self.register_parameter(name, Parameter(weight))
                    names.append(name)
                self._all_weights.append(names)
        self.reset_parameters()

    def _directions(self):
        return 2 if self.bidirectional else 1

    def _direction_suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def _output_size(self):
        """Size of h: the projection size when projecting, else the hidden size."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def reset_parameters(self):
        _uniform_reset(self)

    def flatten_parameters(self):
        """Weights already live in one place per layer; nothing to compact."""

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        # Options printed only when they differ from their defaults, in this order.
        defaults = [
            ("proj_size", 0),
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0),
            ("bidirectional", False),
        ]
        for name, default in defaults:
            value = getattr(self, name)
            if value != default:
                text += f", {name}={value}"
        return text

    # ------------------------------------------------------------------ forward
    def forward(self, input, hx=None):
        kind = _KINDS[self.mode]
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if not isinstance(input, torch.Tensor):
            raise TypeError(
                f"{kind.label}: expected input to be a Tensor or a PackedSequence, got "
                f"{type(input).__name__}"
            )
        if input.dim() not in (2, 3):
            # PyTorch's RNN alone words this message with "tensor".
            got = f"{input.dim()}D tensor" if kind.label == "RNN" else f"{input.dim()}D"
            raise ValueError(f"{kind.label}: Expected input to be 2D or 3D, got {got} instead")
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = input.unsqueeze(batch_dim)
        batch = input.size(batch_dim)

        sizes = [self._output_size()] + ([self.hidden_size] if kind.has_cell else [])
        if hx is None:
            layers = self.num_layers * self._directions()
            states = [input.new_zeros((layers, batch, n)) for n in sizes]
        else:
            states = list(hx) if kind.has_cell else [hx]
            self._check_state_ranks(states, batched)
            if not batched:
                states = [s.unsqueeze(1) for s in states]
        if input.size(-1) != self.input_size:
            raise RuntimeError(
                "input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {input.size(-1)}"
            )
        for slot, (state, n) in enumerate(zip(states, sizes)):
            self._check_state_shape(state, batch, n, f"hidden[{slot}]" if kind.has_cell else "hidden")

        seq = input.transpose(0, 1) if self.batch_first else input
        out, finals = self._run_layers(seq, states)
        if self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(batch_dim)
            finals = [f.squeeze(1) for f in finals]
        return out, (tuple(finals) if kind.has_cell else finals[0])

    @staticmethod
    def _check_state_ranks(states, batched):
        rank = 3 if batched else 2
        if all(s.dim() == rank for s in states):
            return
        kind = "batched 3-D" if batched else "unbatched 2-D"
        if len(states) == 1:
            got = f"{states[0].dim()}-D tensor"
            raise RuntimeError(f"For {kind} input, hx should also be {rank}-D but got {got}")
        got = ", ".join(f"{s.dim()}-D" for s in states)
        raise RuntimeError(
            f"For {kind} input, hx and cx should also be {rank}-D but got ({got}) tensors"
        )

    def _check_state_shape(self, state, batch, size, label):
        want = (self.num_layers * self._directions(), batch, size)
        if tuple(state.shape) != want:
            raise RuntimeError(f"Expected {label} size {want}, got {list(state.shape)}")

    def _run_layers(self, seq, states):
        """seq: (L, N, H_in), time-major; states: [h0] or [h0, c0]. Returns out, finals."""
        if seq.size(0) == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        h0 = states[0]
        c0 = states[1] if len(states) > 1 else None
        last_h, last_c = [], []
        slot = 0
        for layer in range(self.num_layers):
            outs = []
            for reverse in range(self._directions()):
                params = {
                    name.rsplit("_l", 1)[0]: getattr(self, name)
                    for name in self._all_weights[slot]
                }
                c = None if c0 is None else c0[slot]
                out, h, c = self._sweep(seq, h0[slot], c, params, bool(reverse))
                outs.append(out)
                last_h.append(h)
                last_c.append(c)
                slot += 1
            seq = torch.cat(outs, -1) if len(outs) > 1 else outs[0]
            if self.training and self.dropout > 0 and layer + 1 < self.num_layers:
                seq = F.dropout(seq, self.dropout, True)
        finals = [torch.stack(last_h, 0)]
        if c0 is not None:
            finals.append(torch.stack(last_c, 0))
        return seq, finals

    def _sweep(self, seq, h, c, params, reverse):
        """One direction of one layer over the whole sequence."""
        steps = seq.size(0)
        w_ih, b_ih = params["weight_ih"], params.get("bias_ih")
        w_hh, b_hh = params["weight_hh"], params.get("bias_hh")
        w_hr = params.get("weight_hr")
        if self.mode == "LSTM" and w_hr is None:
            # Fused LSTM recurrence with its own backward: rows 0..L-1 hold h_t, row L holds c_L.
            # Both biases go into the input projection once (the recurrence then adds none,
            # and their common gradient is one reduction instead of two).
            if b_ih is not None and b_hh is not None:
                gi = F.linear(seq, w_ih, b_ih + b_hh)
                rows = _lstm_layer(gi, h, c, w_hh, None, reverse)
            else:
                gi = F.linear(seq, w_ih, b_ih)
                rows = _lstm_layer(gi, h, c, w_hh, b_hh, reverse)
            return rows[:steps], rows[0 if reverse else steps - 1], rows[steps]
        gi = F.linear(seq, w_ih, b_ih)
        step = _KINDS[self.mode].step
        outs = [None] * steps
        for t in reversed(range(steps)) if reverse else range(steps):
            h, c = step(gi[t], h, c, w_hh, b_hh)
            if w_hr is not None:
                h = F.linear(h, w_hr)
            outs[t] = h
        return torch.stack(outs, 0), h, c

    # ------------------------------------------------------------------ packed input
    def _forward_packed(self, packed, hx):
        """Runs a PackedSequence: at step t only the first batch_sizes[t] (longest) sequences
        advance; the rest keep their state, so each sequence's final state is its own."""
        kind = _KINDS[self.mode]
        data, sizes_per_step = packed.data, packed.batch_sizes.tolist()
        if data.dim() != 2:
            raise ValueError(
                f"{kind.label}: Expected packed input data to be 2D, got {data.dim()}D instead"
            )
        if data.size(-1) != self.input_size:
            raise RuntimeError(
                "input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {data.size(-1)}"
            )
        batch = sizes_per_step[0]
        sizes = [self._output_size()] + ([self.hidden_size] if kind.has_cell else [])
        if hx is None:
            layers = self.num_layers * self._directions()
            states = [data.new_zeros((layers, batch, n)) for n in sizes]
        else:
            states = list(hx) if kind.has_cell else [hx]
            self._check_state_ranks(states, True)
            if packed.sorted_indices is not None:
                # hx is in the caller's batch order; the packed rows are sorted by length.
                states = [s.index_select(1, packed.sorted_indices) for s in states]
        for slot, (state, n) in enumerate(zip(states, sizes)):
            label = f"hidden[{slot}]" if kind.has_cell else "hidden"
            self._check_state_shape(state, batch, n, label)

        h0 = states[0]
        c0 = states[1] if kind.has_cell else None
        last_h, last_c = [], []
        slot = 0
        seq = data
        for layer in range(self.num_layers):
            outs = []
            for reverse in range(self._directions()):
                params = {
                    name.rsplit("_l", 1)[0]: getattr(self, name)
                    for name in self._all_weights[slot]
                }
                c = None if c0 is None else c0[slot]
                out, h, c = self._sweep_packed(seq, sizes_per_step, h0[slot], c, params, reverse)
                outs.append(out)
                last_h.append(h)
                last_c.append(c)
                slot += 1
            seq = torch.cat(outs, -1) if len(outs) > 1 else outs[0]
            if self.training and self.dropout > 0 and layer + 1 < self.num_layers:
                seq = F.dropout(seq, self.dropout, True)
        finals = [torch.stack(last_h, 0)]
        if kind.has_cell:
            finals.append(torch.stack(last_c, 0))
        if packed.unsorted_indices is not None:
            finals = [f.index_select(1, packed.unsorted_indices) for f in finals]
        out = PackedSequence(
            seq, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
        )
        return out, (tuple(finals) if kind.has_cell else finals[0])

    def _sweep_packed(self, data, sizes_per_step, h, c, params, reverse):
        """One direction of one layer over packed rows; returns packed outputs, h, c."""
        gi = F.linear(data, params["weight_ih"], params.get("bias_ih"))
        w_hh, b_hh = params["weight_hh"], params.get("bias_hh")
        w_hr = params.get("weight_hr")
        step = _KINDS[self.mode].step
        starts = [0]
        for n in sizes_per_step[:-1]:
            starts.append(starts[-1] + n)
        steps = len(sizes_per_step)
        outs = [None] * steps
        for t in reversed(range(steps)) if reverse else range(steps):
            n = sizes_per_step[t]
            h_new, c_new = step(
                gi.narrow(0, starts[t], n), h[:n], None if c is None else c[:n], w_hh, b_hh
            )
            if w_hr is not None:
                h_new = F.linear(h_new, w_hr)
            outs[t] = h_new
            # Sequences shorter than t + 1 are finished (or, reversed, not yet started).
            h = torch.cat([h_new, h[n:]], 0) if n < h.size(0) else h_new
            if c is not None:
                c = torch.cat([c_new, c[n:]], 0) if n < c.size(0) else c_new
        return torch.cat(outs, 0), h, c


def _no_projection(kwargs):
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNN(RNNBase):
    """Elman RNN; `nonlinearity` ("tanh" or "relu") may come 4th positionally."""

    def __init__(self, *args, **kwargs):
        _no_projection(kwargs)
        args = list(args)
        nonlinearity = args.pop(3) if len(args) > 3 else kwargs.pop("nonlinearity", "tanh")
        if nonlinearity not in _NONLINEARITY_MODE:
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(_NONLINEARITY_MODE[nonlinearity], *args, **kwargs)
        self.nonlinearity = nonlinearity


class GRU(RNNBase):
    def __init__(self, *args, **kwargs):
        _no_projection(kwargs)
        super().__init__("GRU", *args, **kwargs)


class LSTM(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class RNNCellBase(Module):
    """One time step; subclasses choose the gate count and the step."""

    _label = "RNNCell"
    _has_cell = False

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        rows = num_chunks * hidden_size
        for name, shape in _layer_specs(rows, input_size, hidden_size, 0, bias):
            self.register_parameter(name, Parameter(torch.empty(shape, device=device, dtype=dtype)))
        if not bias:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            text += f", nonlinearity={nonlinearity}"
        return text

    def reset_parameters(self):
        _uniform_reset(self)

    def _step_fn(self):
        raise NotImplementedError

    def forward(self, input, hx=None):
        label = self._label
        if hx is not None:
            given = list(hx) if self._has_cell else [hx]
            for slot, state in enumerate(given):
                if state.dim() not in (1, 2):
                    which = f"hx[{slot}]" if self._has_cell else "hidden"
                    raise ValueError(
                        f"{label}: Expected {which} to be 1D or 2D, got {state.dim()}D instead"
                    )
        if input.dim() not in (1, 2):
            raise ValueError(f"{label}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        step = self._step_fn()
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            zeros = x.new_zeros((x.size(0), self.hidden_size))
            h, c = zeros, zeros
        else:
            h, c = given[0], (given[1] if self._has_cell else None)
            if not batched:
                h = h.unsqueeze(0)
                c = None if c is None else c.unsqueeze(0)
        if x.size(1) != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {x.size(1)} expected {self.input_size}"
            )
        for slot, state in enumerate(s for s in (h, c) if s is not None):
            if state.size(0) != x.size(0):
                raise RuntimeError(
                    f"Input batch size {x.size(0)} doesn't match hidden{slot} batch size "
                    f"{state.size(0)}"
                )
        h, c = step(F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)
        if not batched:
            h, c = h.squeeze(0), (None if c is None else c.squeeze(0))
        return (h, c) if self._has_cell else h


class RNNCell(RNNCellBase):
    def __init__(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None
    ):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def _step_fn(self):
        # Looked up per call: the attribute may be changed after construction.
        mode = _NONLINEARITY_MODE.get(self.nonlinearity)
        if mode is None:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return _KINDS[mode].step


class LSTMCell(RNNCellBase):
    _label = "LSTMCell"
    _has_cell = True

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def _step_fn(self):
        return _lstm_step


class GRUCell(RNNCellBase):
    _label = "GRUCell"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def _step_fn(self):
        return _gru_step
