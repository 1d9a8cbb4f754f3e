"""Named tuples returned by ``max(dim)``, ``min(dim)``, ``sort``, ``topk`` and friends.

Like PyTorch's structseqs they are built from one sequence: ``max((values, indices))``."""

from collections import namedtuple


def _structseq(name):
    base = namedtuple(name, ["values", "indices"])

    def __new__(cls, seq):
        values, indices = seq
        return base.__new__(cls, values, indices)

    def __repr__(self):
        return f"torch.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    cls = type(name, (base,), {"__new__": __new__, "__repr__": __repr__, "__slots__": ()})
    cls.__module__ = "torch.return_types"
    return cls


max = _structseq("max")
min = _structseq("min")
sort = _structseq("sort")
topk = _structseq("topk")
kthvalue = _structseq("kthvalue")
median = _structseq("median")
mode = _structseq("mode")
cummax = _structseq("cummax")
cummin = _structseq("cummin")
