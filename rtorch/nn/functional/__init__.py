"""rtorch.nn.functional: PyTorch's functional neural-network API."""

from .activation import *  # noqa: F403
from .activation import __all__ as _act_all
from .attention import *  # noqa: F403
from .attention import __all__ as _attn_all
from .attention import _canonical_mask, _mha_shape_check, _none_or_dtype  # noqa: F401
from .conv import *  # noqa: F403
from .conv import __all__ as _conv_all
from .conv3d import *  # noqa: F403
from .conv3d import __all__ as _conv3d_all
from .extra import *  # noqa: F403
from .extra import __all__ as _extra_all
from .linear import *  # noqa: F403
from .linear import __all__ as _lin_all
from .loss import *  # noqa: F403
from .loss import __all__ as _loss_all
from .loss_more import *  # noqa: F403
from .loss_more import __all__ as _loss_more_all
from .norm import *  # noqa: F403
from .norm import __all__ as _norm_all
from .pooling import *  # noqa: F403
from .pooling import __all__ as _pool_all
from .pool3d import *  # noqa: F403
from .pool3d import __all__ as _pool3d_all
from .vision import *  # noqa: F403
from .vision import __all__ as _vision_all

__all__ = (
    _act_all
    + _attn_all
    + _conv_all
    + _conv3d_all
    + _lin_all
    + _loss_all
    + _norm_all
    + _pool_all
    + _pool3d_all
    + _vision_all
    + _loss_more_all
    + _extra_all
)
