"""``rtorch.distributions``: PyTorch's probability distributions over rtorch tensors.

Parameters and samples are ordinary tensors, so log-densities, entropies and reparameterised
samples (``rsample``) are differentiable with rtorch's autograd. Sampling draws from rtorch's
generator: ``rtorch.manual_seed`` reproduces it.
"""

from rtorch.distributions import constraints, half_cauchy, transforms  # noqa: F401
from rtorch.distributions.bernoulli import Bernoulli
from rtorch.distributions.cauchy import Cauchy
from rtorch.distributions.continuous_bernoulli import ContinuousBernoulli
from rtorch.distributions.fishersnedecor import FisherSnedecor
from rtorch.distributions.generalized_pareto import GeneralizedPareto
from rtorch.distributions.gumbel import Gumbel
from rtorch.distributions.half_normal import HalfCauchy, HalfNormal
from rtorch.distributions.inverse_gamma import InverseGamma
from rtorch.distributions.kumaraswamy import Kumaraswamy
from rtorch.distributions.lkj_cholesky import LKJCholesky
from rtorch.distributions.logistic_normal import LogisticNormal
from rtorch.distributions.lowrank_multivariate_normal import LowRankMultivariateNormal
from rtorch.distributions.negative_binomial import NegativeBinomial
from rtorch.distributions.pareto import Pareto
from rtorch.distributions.studentT import StudentT
from rtorch.distributions.von_mises import VonMises
from rtorch.distributions.weibull import Weibull
from rtorch.distributions.wishart import Wishart
from rtorch.distributions.beta import Beta
from rtorch.distributions.binomial import Binomial
from rtorch.distributions.categorical import Categorical
from rtorch.distributions.chi2 import Chi2
from rtorch.distributions.constraint_registry import biject_to, transform_to
from rtorch.distributions.dirichlet import Dirichlet
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.exp_family import ExponentialFamily
from rtorch.distributions.exponential import Exponential
from rtorch.distributions.gamma import Gamma
from rtorch.distributions.geometric import Geometric
from rtorch.distributions.independent import Independent
from rtorch.distributions.kl import kl_divergence, register_kl
from rtorch.distributions.laplace import Laplace
from rtorch.distributions.log_normal import LogNormal
from rtorch.distributions.mixture_same_family import MixtureSameFamily
from rtorch.distributions.multinomial import Multinomial
from rtorch.distributions.multivariate_normal import MultivariateNormal
from rtorch.distributions.normal import Normal
from rtorch.distributions.one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from rtorch.distributions.poisson import Poisson
from rtorch.distributions.relaxed_bernoulli import RelaxedBernoulli
from rtorch.distributions.relaxed_categorical import RelaxedOneHotCategorical
from rtorch.distributions.transformed_distribution import TransformedDistribution
from rtorch.distributions.transforms import (
    AbsTransform,
    AffineTransform,
    CatTransform,
    ComposeTransform,
    CorrCholeskyTransform,
    CumulativeDistributionTransform,
    ExpTransform,
    IndependentTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
    PowerTransform,
    ReshapeTransform,
    SigmoidTransform,
    SoftmaxTransform,
    SoftplusTransform,
    StackTransform,
    StickBreakingTransform,
    TanhTransform,
    Transform,
    identity_transform,
)
from rtorch.distributions.uniform import Uniform

__all__ = [
    "AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Binomial", "CatTransform",
    "Categorical", "Chi2", "ComposeTransform", "CorrCholeskyTransform",
    "CumulativeDistributionTransform", "Dirichlet", "Distribution", "ExpTransform",
    "Exponential", "ExponentialFamily", "Gamma", "Geometric", "Independent",
    "IndependentTransform", "Laplace", "LogNormal", "LowerCholeskyTransform",
    "MixtureSameFamily", "Multinomial", "MultivariateNormal", "Normal", "OneHotCategorical",
    "OneHotCategoricalStraightThrough", "Poisson", "PositiveDefiniteTransform",
    "PowerTransform", "RelaxedBernoulli", "RelaxedOneHotCategorical", "ReshapeTransform",
    "SigmoidTransform", "SoftmaxTransform", "SoftplusTransform", "StackTransform",
    "StickBreakingTransform", "TanhTransform", "Transform", "TransformedDistribution",
    "Uniform", "biject_to", "Cauchy", "ContinuousBernoulli", "FisherSnedecor", "GeneralizedPareto", "Gumbel",
    "HalfCauchy", "HalfNormal", "InverseGamma", "Kumaraswamy", "LKJCholesky", "LogisticNormal",
    "LowRankMultivariateNormal", "NegativeBinomial", "Pareto", "StudentT", "VonMises", "Weibull", "Wishart", "constraints", "identity_transform", "kl_divergence",
    "register_kl", "transform_to", "transforms",
]
