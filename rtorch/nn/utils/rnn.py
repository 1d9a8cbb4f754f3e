"""Variable-length sequence batches: padding, packing and PackedSequence.

A packed batch stores the sequences sorted by decreasing length and interleaved time-major:
step t contributes the first `batch_sizes[t]` sequences (those longer than t). Packing and
unpacking are single index_select gathers, so gradients flow through both.
"""

from collections import namedtuple

import rtorch as torch

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


def invert_permutation(permutation):
    """The permutation `q` with q[p[i]] = i, or None for None."""
    if permutation is None:
        return None
    inverse = [0] * permutation.numel()
    for position, target in enumerate(permutation.tolist()):
        inverse[target] = position
    return torch.tensor(inverse, dtype=torch.int64, device=permutation.device)


_PackedFields = namedtuple(
    "_PackedFields", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"]
)


class PackedSequence(_PackedFields):
    """(data, batch_sizes, sorted_indices, unsorted_indices) of a packed batch.

    Build one with pack_padded_sequence or pack_sequence; constructing it directly is
    allowed but the fields are not checked.
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            # Derived from the sort order, so unpacking restores the caller's batch order.
            unsorted_indices = invert_permutation(permutation=sorted_indices)
        if batch_sizes is None:
            # The older two-field form: PackedSequence((data, batch_sizes)).
            data, batch_sizes = data
        elif isinstance(batch_sizes, torch.Tensor) and batch_sizes.device.type != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should never "
                "be created manually. They should be instantiated by functions like "
                "pack_sequence and pack_padded_sequences in nn.utils.rnn. "
                "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence"
            )
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _with_data(self, data):
        """Same packing, new data; the index tensors follow the data's device."""

        def moved(t):
            return None if t is None else t.to(device=data.device)

        return type(self)(
            data, self.batch_sizes, moved(self.sorted_indices), moved(self.unsorted_indices)
        )

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._with_data(data)

    def cuda(self, *args, **kwargs):
        return self._with_data(self.data.cuda(*args, **kwargs))

    def cpu(self, *args, **kwargs):
        return self._with_data(self.data.cpu(*args, **kwargs))

    def pin_memory(self):
        return self._with_data(self.data.pin_memory())

    def double(self):
        return self.to(dtype=torch.float64)

    def float(self):
        return self.to(dtype=torch.float32)

    def half(self):
        return self.to(dtype=torch.float16)

    def long(self):
        return self.to(dtype=torch.int64)

    def int(self):
        return self.to(dtype=torch.int32)

    def short(self):
        return self.to(dtype=torch.int16)

    def char(self):
        return self.to(dtype=torch.int8)

    def byte(self):
        return self.to(dtype=torch.uint8)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return self.data.is_pinned()


def _lengths_list(lengths):
    if isinstance(lengths, torch.Tensor):
        if lengths.dim() != 1:
            raise RuntimeError(
                "'lengths' argument should be a 1D CPU int64 tensor, but got "
                f"{lengths.dim()}D {lengths.device.type} tensor"
            )
        lengths = lengths.tolist()
    return [int(n) for n in lengths]


def _packed_positions(batch_sizes, batch):
    """Flat (t * batch + b) positions of the packed elements, in packed order."""
    return [t * batch + b for t, size in enumerate(batch_sizes) for b in range(size)]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    lengths = _lengths_list(lengths)
    batch_dim = 0 if batch_first else 1
    batch = input.size(batch_dim)
    if len(lengths) != batch:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} "
            f"(batch_size={batch})"
        )
    if enforce_sorted:
        if any(a < b for a, b in zip(lengths, lengths[1:])):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability."
            )
        sorted_indices = None
    else:
        order = sorted(range(batch), key=lambda i: -lengths[i])
        lengths = [lengths[i] for i in order]
        sorted_indices = torch.tensor(order, dtype=torch.int64, device=input.device)
        input = input.index_select(batch_dim, index=sorted_indices)
    if batch and lengths[-1] <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in "
            "'lengths' that is <= 0"
        )
    steps = input.size(1 - batch_dim)
    if batch and lengths[0] > steps:
        raise RuntimeError(
            f"pack_padded_sequence: a length of {lengths[0]} exceeds the padded sequence "
            f"length {steps}"
        )
    if batch_first:
        input = input.transpose(0, 1)
    longest = lengths[0] if batch else 0
    batch_sizes = [sum(1 for n in lengths if n > t) for t in range(longest)]
    flat = input.reshape(steps * batch, *input.shape[2:])
    where = torch.tensor(
        _packed_positions(batch_sizes, batch), dtype=torch.int64, device=input.device
    )
    data = flat.index_select(0, where)
    return PackedSequence(data, torch.tensor(batch_sizes, dtype=torch.int64), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    data, batch_sizes = sequence.data, sequence.batch_sizes.tolist()
    longest = len(batch_sizes)
    if total_length is not None:
        if total_length < longest:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{longest}"
            )
    else:
        total_length = longest
    batch = batch_sizes[0] if batch_sizes else 0
    # Every padded slot gathers either its packed element or the appended padding row.
    filler = len(data)
    source = [filler] * (total_length * batch)
    for packed_at, slot in enumerate(_packed_positions(batch_sizes, batch)):
        source[slot] = packed_at
    pad_row = torch.full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    where = torch.tensor(source, dtype=torch.int64, device=data.device)
    padded = torch.cat([data, pad_row], 0).index_select(0, where)
    padded = padded.reshape(total_length, batch, *data.shape[1:])
    lengths = [sum(1 for size in batch_sizes if size > b) for b in range(batch)]
    lengths = torch.tensor(lengths, dtype=torch.int64)
    if batch_first:
        padded = padded.transpose(0, 1)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = lengths.index_select(0, sequence.unsorted_indices.to(device=lengths.device))
    return padded, lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    if padding_side not in ("left", "right"):
        raise RuntimeError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    if isinstance(sequences, torch.Tensor):
        sequences = list(sequences.unbind(0))
    else:
        sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.size(0) for s in sequences)
    trailing = tuple(sequences[0].shape[1:])
    rows = []
    for s in sequences:
        if tuple(s.shape[1:]) != trailing:
            raise RuntimeError(
                f"pad_sequence: every sequence must have trailing shape {list(trailing)}, "
                f"but got a sequence of shape {list(s.shape)}"
            )
        missing = longest - s.size(0)
        if missing:
            fill = torch.full((missing, *trailing), padding_value, dtype=s.dtype, device=s.device)
            s = torch.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        rows.append(s)
    return torch.stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[: int(n)] for seq, n in zip(padded_sequences, _lengths_list(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [s.size(0) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
