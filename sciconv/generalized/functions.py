"""Kernel responses of a patch and a filter, and the monotone links applied after them.

Everything here works on the *padded* input of a 2-D convolution (1-D convolutions are 2-D
convolutions of height one) and never unfolds it, except :mod:`sciconv.generalized.l1`.

References
----------
Wang, Yang, Xie and Yuan, "Kervolutional Neural Networks", CVPR 2019. arXiv:1904.03955 (the
polynomial and Gaussian kernels).

Ghiasi-Shirazi, "Generalizing the Convolution Operator in Convolutional Neural Networks", Neural
Processing Letters, 2019. arXiv:1707.09864 (weighted L2 / L1 distances, monotone links, the sine
link).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..validation import check_choice

__all__ = ["KERNELS", "LINKS", "apply_link", "kernel_response", "squared_distance"]

#: Kernel names understood by :class:`sciconv.generalized.KernelConv2d`.
KERNELS = ("linear", "polynomial", "gaussian", "l2", "l1", "cauchy")

#: Link names (applied after the kernel and the bias).
LINKS = ("identity", "negate", "sigmoid", "tanh", "softsign", "atan", "sine")

_LINK_FN: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda t: t,
    "negate": torch.neg,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softsign": F.softsign,
    "atan": torch.atan,
    "sine": torch.sin,
}


def apply_link(link: str | Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor) -> torch.Tensor:
    """Apply a link by name (one of :data:`LINKS`) or a callable to ``t``.

    Notes
    -----
    'sigmoid', 'tanh', 'softsign' and 'atan' are strictly increasing; 'negate' (:math:`-t`) is
    decreasing and turns the distances 'l2' and 'l1' into similarities; 'sine' is the periodic
    option of the generalized-convolution literature (increasing on :math:`[-\\pi/2, \\pi/2]`).

    Examples
    --------
    >>> import torch
    >>> from sciconv.generalized import LINKS, apply_link
    >>> LINKS
    ('identity', 'negate', 'sigmoid', 'tanh', 'softsign', 'atan', 'sine')
    >>> apply_link("sigmoid", torch.zeros(3))
    tensor([0.5000, 0.5000, 0.5000])
    >>> apply_link(torch.relu, torch.tensor([-1.0, 2.0]))  # any callable
    tensor([0., 2.])
    """
    if callable(link):
        return link(t)
    return _LINK_FN[check_choice("link", link, LINKS)](t)


def _conv(x: torch.Tensor, w: torch.Tensor, stride, dilation, groups: int) -> torch.Tensor:
    return F.conv2d(x, w, None, stride, 0, dilation, groups)


def squared_distance(
    xp: torch.Tensor,
    weight: torch.Tensor,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Weighted squared distances between every patch of ``xp`` and every filter, by convolutions.

    Parameters
    ----------
    xp : torch.Tensor
        Padded input ``(N, C, H, W)``.
    weight : torch.Tensor
        Filters ``(O, C // groups, kh, kw)``.
    stride, dilation : tuple of int
        As in ``torch.nn.functional.conv2d``.
    groups : int
        Channel groups.
    scale : torch.Tensor, optional
        Non-negative weights :math:`a` of the shape of ``weight`` (default all ones).

    Returns
    -------
    torch.Tensor
        ``(N, O, H', W')`` with entries :math:`\sum_t a_t (x_t - w_t)^2`, clamped at 0.

    Notes
    -----
    Expanding the square,

    .. math:: \sum_t a_t (x_t - w_t)^2 = (x^2 \star a) - 2\,(x \star (a \odot w))
              + \sum_t a_t w_t^2,

    three correlations that cost as much as one ordinary convolution each and never form the
    patches. With :math:`a = 1` the first term is a box sum of the channel-summed squares, one
    single-channel convolution per group. Rounding can make the difference slightly negative for
    a patch equal to its filter, hence the clamp. The expansion cancels: its absolute error is
    about :math:`\epsilon\,(\|x\|_a^2 + \|w\|_a^2)` (machine epsilon :math:`\epsilon`), so
    in float32 distances much smaller than the norms lose relative accuracy (float64 is exact to
    1e-10 in the tests).

    Examples
    --------
    The three convolutions agree with the distances of the explicitly unfolded patches:

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sciconv.generalized import squared_distance
    >>> _ = torch.manual_seed(0)
    >>> xp = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    >>> w = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    >>> d2 = squared_distance(xp, w, (1, 1), (1, 1), groups=1)
    >>> d2.shape
    torch.Size([1, 3, 3, 3])
    >>> patches = F.unfold(xp, 3)  # (1, 18, 9): one column per output position
    >>> brute = ((patches.unsqueeze(1) - w.reshape(1, 3, 18, 1)) ** 2).sum(2)
    >>> torch.allclose(d2.reshape(1, 3, 9), brute)
    True
    """
    out_ch, cg, kh, kw = weight.shape
    n, c, h, w = xp.shape
    sq = xp * xp
    if scale is None:
        box = xp.new_ones((groups, 1, kh, kw))
        patch = _conv(sq.reshape(n, groups, cg, h, w).sum(2), box, stride, dilation, groups)
        patch = patch.repeat_interleave(out_ch // groups, dim=1)
        cross = _conv(xp, weight, stride, dilation, groups)
        wnorm = (weight * weight).sum((1, 2, 3))
    else:
        patch = _conv(sq, scale, stride, dilation, groups)
        cross = _conv(xp, scale * weight, stride, dilation, groups)
        wnorm = (scale * weight * weight).sum((1, 2, 3))
    return (patch - 2.0 * cross + wnorm.view(1, -1, 1, 1)).clamp_min(0.0)


def kernel_response(
    kernel: str,
    xp: torch.Tensor,
    weight: torch.Tensor,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    *,
    scale: torch.Tensor | None = None,
    degree: int = 2,
    c: torch.Tensor | float = 1.0,
    gamma: torch.Tensor | float = 1.0,
    sigma: torch.Tensor | float = 1.0,
    max_chunk_bytes: int = 2**25,
    smooth: float = 0.0,
) -> torch.Tensor:
    r"""Kernel value :math:`\kappa(x_{\text{patch}}, w_o)` for every patch and filter (no bias).

    Parameters
    ----------
    kernel : str
        One of :data:`KERNELS`.
    xp, weight, stride, dilation, groups, scale
        As in :func:`squared_distance` (``scale`` is used by 'gaussian', 'l2', 'cauchy', 'l1').
    degree : int
        Polynomial degree :math:`p`.
    c, gamma, sigma : float or torch.Tensor
        Polynomial offset, Gaussian width :math:`\gamma > 0`, Cauchy scale :math:`\sigma > 0`.
    max_chunk_bytes : int
        Memory cap of the chunked unfold used by 'l1'.
    smooth : float
        Smoothing width :math:`\varepsilon \ge 0` of 'l1' (ignored by the other kernels).

    Returns
    -------
    torch.Tensor
        ``(N, O, H', W')``.

    Notes
    -----
    With :math:`\ell = \langle x, w\rangle` (the ordinary convolution) and
    :math:`d^2 = \sum_t a_t (x_t - w_t)^2` (:func:`squared_distance`):

    * linear :math:`\ell`; polynomial :math:`(\ell + c)^p`;
    * gaussian :math:`\exp(-\gamma d^2)`; l2 :math:`d^2`; cauchy :math:`1/(1 + d^2/\sigma^2)`;
    * l1 :math:`\sum_t a_t |x_t - w_t|` (no expansion exists: chunked unfold,
      :func:`sciconv.generalized.l1.l1_distance`); with ``smooth`` :math:`= \varepsilon > 0`,
      :math:`\sum_t a_t (\sqrt{(x_t - w_t)^2 + \varepsilon^2} - \varepsilon)`.

    Examples
    --------
    A patch equal to its filter has distance 0, so Gaussian response 1 and Cauchy response 1;
    the polynomial kernel is :math:`(\langle x, w\rangle + c)^p`:

    >>> import torch
    >>> from sciconv.generalized import KERNELS, kernel_response
    >>> KERNELS
    ('linear', 'polynomial', 'gaussian', 'l2', 'l1', 'cauchy')
    >>> _ = torch.manual_seed(0)
    >>> w = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    >>> args = (w, w, (1, 1), (1, 1), 1)  # input, filters, stride, dilation, groups
    >>> [round(kernel_response(k, *args).item(), 8) for k in ("gaussian", "cauchy", "l1")]
    [1.0, 1.0, 0.0]
    >>> poly = kernel_response("polynomial", *args, degree=2, c=1.0)
    >>> torch.allclose(poly, (w.pow(2).sum() + 1.0) ** 2)
    True
    """
    check_choice("kernel", kernel, KERNELS)
    if kernel == "linear":
        return _conv(xp, weight, stride, dilation, groups)
    if kernel == "polynomial":
        return (_conv(xp, weight, stride, dilation, groups) + c) ** degree
    if kernel == "l1":
        from .l1 import l1_distance

        return l1_distance(xp, weight, stride, dilation, groups, scale, max_chunk_bytes, smooth)
    d2 = squared_distance(xp, weight, stride, dilation, groups, scale)
    if kernel == "gaussian":
        return torch.exp(-gamma * d2)
    if kernel == "l2":
        return d2
    return 1.0 / (1.0 + d2 / (sigma * sigma))
