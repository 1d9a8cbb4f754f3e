"""Similarity and distance between paired inputs."""

from ._configured import Configured

__all__ = ["PairwiseDistance", "CosineSimilarity"]


class PairwiseDistance(
    Configured,
    fn="pairwise_distance",
    options=[("p", 2.0), ("eps", 1e-6), ("keepdim", False)],
    shown=(),
):
    """p-norm of x1 - x2 (+ eps) over the last dim."""

    def _prepare(self, values):
        values["norm"] = values.pop("p")
        return values

    def _call_options(self):
        return {"p": self.norm, "eps": self.eps, "keepdim": self.keepdim}


class CosineSimilarity(Configured, fn="cosine_similarity", options=[("dim", 1), ("eps", 1e-8)]):
    """Cosine of the angle between x1 and x2 along `dim`."""

    def extra_repr(self):
        return ""
