"""A fully convolutional, multigrid-like approximate inverse for 2D/3D pressure grids.

References
----------
Kaneda, Akar, Chen, Kala, Hyde and Teran, "A Deep Conjugate Direction Method for Iteratively
Solving Linear Systems", ICML 2023. arXiv:2205.10763 (the convolutional approximate inverse of
the DCDM map, applied to the residual with the cell labels as extra channels).

Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015. arXiv:1505.04597 (the encoder-decoder with skip connections that
:class:`MultigridNet` makes recursive, with weights shared across levels).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sciconv.validation import check_positive_int

__all__ = ["MultigridNet", "count_parameters", "forward_flops"]


def _conv(dim: int) -> type[nn.Module]:
    return nn.Conv2d if dim == 2 else nn.Conv3d


class _Block(nn.Module):
    """``depth`` residual units ``y + conv(relu(conv([y, masks])))`` (3×3 / 3×3×3, no bias)."""

    def __init__(self, dim: int, width: int, depth: int, device: Any, dtype: Any) -> None:
        super().__init__()
        conv = _conv(dim)
        kw = dict(kernel_size=3, padding=1, bias=False, device=device, dtype=dtype)
        self.a = nn.ModuleList(conv(width + 3, width, **kw) for _ in range(depth))
        self.b = nn.ModuleList(conv(width, width, **kw) for _ in range(depth))

    def forward(self, y: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        for a, b in zip(self.a, self.b):
            y = y + b(F.relu(a(torch.cat([y, masks], 1))))
        return y


class MultigridNet(nn.Module):
    r"""A recursive U-Net with weights shared across levels: a learned, nonlinear V-cycle.

    Parameters
    ----------
    dim : {2, 3}
        Spatial dimension.
    width : int
        Feature channels :math:`c` (16 in the paper).
    depth : int
        Residual units per smoothing block.
    min_size : int
        Coarsen while every side of the next level is at least this.
    max_levels : int, optional
        Cap on the number of levels (None: as many as ``min_size`` allows). A capped network
        sees the same neighbourhood at every grid size: the partner of a coarse correction,
        which supplies the global coupling (see :class:`~solvers.network.precond.NetworkMap`).
    device, dtype
        As for ``torch.nn`` layers.

    Notes
    -----
    Input: a batch ``(B, 4, *grid)`` of the residual and the fluid / solid / air masks (see
    :func:`solvers.network.precond.network_input`). The residual is divided by its root mean
    square over fluid cells (so unit-norm vectors of any grid size look alike), then

    .. math:: y_0 = E[r, m],\quad V_\ell(y) = S^{post}\big(z + U\,V_{\ell+1}(D z)\big),\
              z = S^{pre}(y),\quad q = \mathbb 1_{\rm fluid}\, H(V_0(y_0))

    where :math:`E` is a 3×3 convolution to :math:`c` channels, :math:`S^{pre}, S^{post}` are
    residual blocks that see the level's masks (average-pooled fluid / solid / air fractions),
    :math:`D` a stride-2 convolution, :math:`U` a nearest upsampling followed by a 3×3
    convolution, and :math:`H` a linear 1×1 head. :math:`S, D, U` are *shared by every level*,
    and the number of levels grows with the grid (coarsening down to ``min_size``), as in
    geometric multigrid: the receptive field always covers the grid and the same learned
    smoothing acts at every scale. No convolution has a bias. Parameters (2D, width
    :math:`c`): :math:`36c + 2\,\mathrm{depth}\,(18c^2 + 27c) + 13c^2 + c`, i.e. 24 080 at the
    defaults (c = 16, depth 2; 3D: 71 184); c = 32 gives 91 680, the paper's size.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = MultigridNet(2, width=4, depth=1)
    >>> c, depth = 4, 1
    >>> count_parameters(net) == 36 * c + 2 * depth * (18 * c**2 + 27 * c) + 13 * c**2 + c
    True
    >>> count_parameters(MultigridNet(2)), count_parameters(MultigridNet(3))
    (24080, 71184)

    Input: residual and fluid / solid / air masks; output: one channel, zero off the fluid.

    >>> x = torch.zeros(1, 4, 8, 8, dtype=torch.float64)
    >>> x[0, 0] = torch.randn(8, 8, dtype=torch.float64)
    >>> x[0, 1, :, :6] = 1.0  # fluid
    >>> x[0, 2, :, 6:] = 1.0  # solid
    >>> y = net.double()(x)
    >>> tuple(y.shape), bool((y[0, 0, :, 6:] == 0).all())
    ((1, 1, 8, 8), True)

    The residual is normalised first, so the output does not depend on its scale:

    >>> x2 = x.clone()
    >>> x2[0, 0] *= 1000.0
    >>> bool(torch.allclose(net(x2), y))
    True
    """

    def __init__(
        self,
        dim: int = 2,
        width: int = 16,
        depth: int = 2,
        min_size: int = 4,
        max_levels: int | None = None,
        *,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim!r}")
        self.dim = dim
        self.width = check_positive_int("width", width)
        self.depth = check_positive_int("depth", depth)
        self.min_size = check_positive_int("min_size", min_size, 2)
        self.max_levels = (None if max_levels is None
                           else check_positive_int("max_levels", max_levels))  # fmt: skip
        conv = _conv(dim)
        kw = dict(bias=False, device=device, dtype=dtype)
        self.encode = conv(4, width, 3, padding=1, **kw)
        self.pre = _Block(dim, width, depth, device, dtype)
        self.post = _Block(dim, width, depth, device, dtype)
        self.down = conv(width, width, 2, stride=2, **kw)
        self.up = conv(width, width, 3, padding=1, **kw)
        self.head = conv(width, 1, 1, **kw)

    def config(self) -> dict[str, int]:
        """Constructor arguments (stored next to pretrained weights)."""
        cfg = {"dim": self.dim, "width": self.width, "depth": self.depth,
               "min_size": self.min_size}  # fmt: skip
        if self.max_levels is not None:
            cfg["max_levels"] = self.max_levels
        return cfg

    def _vcycle(self, y: torch.Tensor, masks: torch.Tensor, levels: int | None) -> torch.Tensor:
        z = self.pre(y, masks)
        size = z.shape[2:]
        if min(size) // 2 >= self.min_size and (levels is None or levels > 1):
            pool = F.avg_pool2d if self.dim == 2 else F.avg_pool3d
            pad = [p for s in reversed(size) for p in (0, s % 2)]
            zc = self.down(F.pad(z, pad))
            mc = pool(F.pad(masks, pad), 2)
            zc = self._vcycle(zc, mc, None if levels is None else levels - 1)
            up = F.interpolate(zc, scale_factor=2, mode="nearest")
            z = z + self.up(up[(..., *(slice(0, s) for s in size))])
        return self.post(z, masks)

    def forward(self, x: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """Map ``(B, 4, *grid)`` (residual, fluid, solid, air) to ``(B, 1, *grid)``.

        ``levels`` caps the number of grid levels (default ``max_levels``; ``None``: coarsen
        down to ``min_size``).
        """
        if x.dim() != self.dim + 2 or x.shape[1] != 4:
            raise ValueError(f"expected input (B, 4, *grid) with {self.dim} grid axes, got "
                             f"{tuple(x.shape)}")  # fmt: skip
        r, masks = x[:, :1], x[:, 1:]
        fluid = masks[:, :1]
        axes = tuple(range(1, x.dim()))
        rms = ((r**2).sum(axes, keepdim=True) / fluid.sum(axes, keepdim=True).clamp_min(1)).sqrt()
        r = r / rms.clamp_min(torch.finfo(r.dtype).tiny)
        y = self.encode(torch.cat([r, masks], 1))
        levels = self.max_levels if levels is None else check_positive_int("levels", levels)
        return self.head(self._vcycle(y, masks, levels)) * fluid


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters.

    Examples
    --------
    >>> count_parameters(nn.Linear(3, 2))  # 3 * 2 weights + 2 biases
    8
    >>> layer = nn.Linear(3, 2)
    >>> _ = layer.bias.requires_grad_(False)  # frozen parameters are not counted
    >>> count_parameters(layer)
    6
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def forward_flops(model: nn.Module, *inputs: torch.Tensor) -> int:
    """Floating-point operations of ``model(*inputs)`` in its convolutions and linear layers.

    Each convolution (transposed or not) counts :math:`2\\times` its multiply-adds,
    :math:`2\\,|\\mathrm{out}|\\cdot c_{in}/\\mathrm{groups}\\cdot|\\mathrm{kernel}|`
    (output size for a convolution, input size for a transposed one), and a linear layer
    :math:`2\\,|\\mathrm{out}|\\cdot\\mathrm{in\\_features}`; activations, pooling and
    additions are not counted (they are a few FLOP per value).

    Examples
    --------
    >>> conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
    >>> forward_flops(conv, torch.zeros(1, 2, 4, 4)) == 2 * (3 * 16) * 2 * 9
    True
    """
    total = [0]

    def hook(mod: nn.Module, args: tuple, out: torch.Tensor) -> None:
        if isinstance(mod, nn.modules.conv._ConvNd):
            kernel = int(np.prod(mod.kernel_size))
            if mod.transposed:  # each input value meets out_channels/groups kernels
                total[0] += 2 * args[0].numel() * mod.out_channels // mod.groups * kernel
            else:  # each output value sums in_channels/groups kernels
                total[0] += 2 * out.numel() * mod.in_channels // mod.groups * kernel
        elif isinstance(mod, nn.Linear):
            total[0] += 2 * out.numel() * mod.in_features

    kinds = (nn.modules.conv._ConvNd, nn.Linear)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total[0]
