"""Loss modules, declared as option tables over nn.functional.

Every loss keeps `reduction`; the deprecated size_average/reduce flags are folded into it
(with a warning) and not stored. Tensor options (weight, pos_weight) become buffers, so
they follow .to() and appear in state_dict only when given.
"""

from ..functional._core import legacy_get_string
from ._configured import KEYWORD_ONLY, Configured

__all__ = [
    "L1Loss",
    "MSELoss",
    "SmoothL1Loss",
    "HuberLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "KLDivLoss",
    "CosineEmbeddingLoss",
    "MarginRankingLoss",
    "HingeEmbeddingLoss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "PoissonNLLLoss",
    "GaussianNLLLoss",
    "MultiMarginLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "TripletMarginWithDistanceLoss",
    "CTCLoss",
]

# The usual tail of a loss constructor.
_REDUCTION = [("size_average", None), ("reduce", None), ("reduction", "mean")]
_LEGACY = ("size_average", "reduce")
_WEIGHT = ("weight", None)


def _stored(options):
    """Option names a loss keeps (and passes on): all but the legacy flags."""
    return [name for name, _ in options if name not in _LEGACY]


class _Loss(Configured, options=_REDUCTION, shown=(), tensors=("weight", "pos_weight")):
    """Base of the losses; subclass with `options=` (and `fn=`) to declare one."""

    def __init_subclass__(cls, options=None, **kwargs):
        if options is not None:
            named = [o for o in options if o != KEYWORD_ONLY]
            kwargs.setdefault("shown", ())
            kwargs.setdefault("passed", _stored(named))
        super().__init_subclass__(options=options, **kwargs)

    def _prepare(self, values):
        legacy = [values.pop(name, None) for name in _LEGACY]
        if any(flag is not None for flag in legacy):
            values["reduction"] = legacy_get_string(*legacy)
        return values


class _WeightedLoss(_Loss, options=[_WEIGHT, *_REDUCTION]):
    """A loss with an optional per-class `weight` buffer."""


class L1Loss(_Loss, fn="l1_loss", options=_REDUCTION):
    """Mean absolute error."""


class MSELoss(_Loss, fn="mse_loss", options=_REDUCTION):
    """Mean squared error."""


class SoftMarginLoss(_Loss, fn="soft_margin_loss", options=_REDUCTION):
    """log(1 + exp(-y * x)) for targets y in {1, -1}."""


class SmoothL1Loss(_Loss, fn="smooth_l1_loss", options=[*_REDUCTION, ("beta", 1.0)]):
    """Squared error below `beta`, absolute error (shifted) above it."""


class HuberLoss(_Loss, fn="huber_loss", options=[("reduction", "mean"), ("delta", 1.0)]):
    """Squared error below `delta`, delta-scaled absolute error above it."""


class KLDivLoss(_Loss, fn="kl_div", options=[*_REDUCTION, ("log_target", False)]):
    """Kullback-Leibler divergence of the target from log-probability input."""


class NLLLoss(
    _WeightedLoss,
    fn="nll_loss",
    options=[_WEIGHT, ("size_average", None), ("ignore_index", -100), *_REDUCTION[1:]],
):
    """Negative log-likelihood of log-probability input at the target classes."""


class CrossEntropyLoss(
    _WeightedLoss,
    fn="cross_entropy",
    options=[
        _WEIGHT,
        ("size_average", None),
        ("ignore_index", -100),
        *_REDUCTION[1:],
        ("label_smoothing", 0.0),
    ],
):
    """log_softmax followed by NLL; targets may be class indices or probabilities."""


class BCELoss(_WeightedLoss, fn="binary_cross_entropy", options=[_WEIGHT, *_REDUCTION]):
    """Binary cross entropy of probabilities."""


class BCEWithLogitsLoss(
    _Loss,
    fn="binary_cross_entropy_with_logits",
    options=[_WEIGHT, *_REDUCTION, ("pos_weight", None)],
):
    """Binary cross entropy of logits (sigmoid folded in for stability)."""


class CosineEmbeddingLoss(
    _Loss, fn="cosine_embedding_loss", options=[("margin", 0.0), *_REDUCTION]
):
    """1 - cos(x1, x2) for y = 1, max(0, cos(x1, x2) - margin) for y = -1."""


class MarginRankingLoss(_Loss, fn="margin_ranking_loss", options=[("margin", 0.0), *_REDUCTION]):
    """max(0, -y * (x1 - x2) + margin)."""


class HingeEmbeddingLoss(_Loss, fn="hinge_embedding_loss", options=[("margin", 1.0), *_REDUCTION]):
    """x for y = 1, max(0, margin - x) for y = -1."""


class TripletMarginLoss(
    _Loss,
    fn="triplet_margin_loss",
    options=[("margin", 1.0), ("p", 2.0), ("eps", 1e-6), ("swap", False), *_REDUCTION],
):
    """max(d(a, p) - d(a, n) + margin, 0) with p-norm distances."""

    def _prepare(self, values):
        margin = values["margin"]
        if margin <= 0:
            raise ValueError(
                f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead"
            )
        return super()._prepare(values)


class PoissonNLLLoss(
    _Loss,
    fn="poisson_nll_loss",
    options=[
        ("log_input", True),
        ("full", False),
        ("size_average", None),
        ("eps", 1e-8),
        *_REDUCTION[1:],
    ],
):
    """Poisson negative log-likelihood (input is the log-rate when log_input)."""


class GaussianNLLLoss(
    _Loss,
    fn="gaussian_nll_loss",
    options=[KEYWORD_ONLY, ("full", False), ("eps", 1e-6), ("reduction", "mean")],
):
    """Gaussian negative log-likelihood with predicted variance `var`."""


class MultiMarginLoss(
    _Loss,
    fn="multi_margin_loss",
    options=[("p", 1), ("margin", 1.0), _WEIGHT, *_REDUCTION],
):
    """Multi-class hinge loss of class scores against one target class per sample."""

    def _prepare(self, values):
        if values["p"] not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        return super()._prepare(values)


class MultiLabelMarginLoss(_Loss, fn="multilabel_margin_loss", options=_REDUCTION):
    """Hinge loss between each listed target class and every non-target class."""


class MultiLabelSoftMarginLoss(
    _WeightedLoss, fn="multilabel_soft_margin_loss", options=[_WEIGHT, *_REDUCTION]
):
    """Per-class logistic loss for multi-label targets, averaged over classes."""


class TripletMarginWithDistanceLoss(
    _Loss,
    fn="triplet_margin_with_distance_loss",
    options=[
        KEYWORD_ONLY,
        ("distance_function", None),
        ("margin", 1.0),
        ("swap", False),
        ("reduction", "mean"),
    ],
):
    """Triplet loss with a caller-chosen distance (PairwiseDistance by default)."""

    def _prepare(self, values):
        margin = values["margin"]
        if margin <= 0:
            raise ValueError(
                "TripletMarginWithDistanceLoss: expected margin to be greater than 0, "
                f"got {margin} instead"
            )
        if values["distance_function"] is None:
            from .distance import PairwiseDistance

            values["distance_function"] = PairwiseDistance()
        return super()._prepare(values)


class CTCLoss(
    _Loss, fn="ctc_loss", options=[("blank", 0), ("reduction", "mean"), ("zero_infinity", False)]
):
    """Connectionist temporal classification loss over (T, N, C) log-probabilities."""
