r"""How far a convolution is from orthogonal: err_F, err_s, L_orth and singular values.

For a kernel :math:`K` of shape ``(M, C, *k)`` with stride :math:`S` on an input grid
:math:`n = S N` (per axis), the Gram defect is :math:`G = KK^T - I` in the row-orthogonal case
(:math:`M \le C\prod S_a`) and :math:`G = K^TK - I` otherwise; :math:`\mathrm{err}_F =
\|G\|_F` and :math:`\mathrm{err}_s = \|G\|_2` [1]_; :math:`L_{orth}` is the regulariser of
[2]_.

References
----------
.. [1] E. M. Achour, F. Malgouyres and F. Mamalet, "Existence, Stability and Scalability of
   Orthogonal Convolutional Neural Networks", Journal of Machine Learning Research 23(347),
   2022. arXiv:2108.05623.
.. [2] J. Wang, Y. Chen, R. Chakraborty and S. X. Yu, "Orthogonal Convolutional Neural
   Networks", IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR), 2020.
   arXiv:1911.12207.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..operator import ConvOperator
from ..spectrum import (
    DENSE_SVD_LIMIT,
    condition_number,
    conv_singular_values,
    conv_symbol,
    operator_norm,
)
from ..validation import as_int_tuple, check_choice, describe

__all__ = [
    "OrthoMeasures",
    "err_F",
    "err_s",
    "gram_errors",
    "l_orth",
    "l_orth_alpha",
    "orthogonality",
]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _as_array(weight: Any) -> np.ndarray:
    if isinstance(weight, torch.Tensor):
        weight = weight.detach().cpu().numpy()
    w = np.asarray(weight)
    if w.dtype.kind not in "iuf" or w.ndim not in (3, 4, 5):
        raise ValueError(
            f"weight must be a real array of shape (M, C, *kernel_size) with 1-3 spatial axes, "
            f"got {describe(w)}"
        )
    return w.astype(np.float64)


def _kind(w: np.ndarray, stride: tuple[int, ...], kind: str | None) -> str:
    if kind is not None:
        return check_choice("kind", kind, ("RO", "CO"))
    return "RO" if w.shape[0] <= w.shape[1] * math.prod(stride) else "CO"


def gram_errors(
    weight: Any,
    input_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: str = "circular",
    kind: str | None = None,
) -> tuple[float, float, str]:
    r"""``(err_F, err_s, kind)`` of the convolution on the input grid ``input_size``.

    Parameters
    ----------
    weight : array_like or torch.Tensor
        Real kernel ``(M, C, *kernel_size)`` (groups = 1, dilation = 1).
    input_size : int or sequence of int
        Spatial input size :math:`n` (per axis); circular needs ``n % stride == 0``.
    stride : int or sequence of int
        Stride :math:`S`.
    padding : {'circular', 'same', 'zeros', 'valid', 'reflect'}
        Boundary, as in :class:`sciconv.ConvOperator`.
    kind : {'RO', 'CO'}, optional
        Which Gram; default RO iff :math:`M \le C\prod S_a`.

    Notes
    -----
    Circular: exact through the symbol :func:`sciconv.conv_symbol`, the operator being
    unitarily equivalent to :math:`\mathrm{diag}_f K(f)`, so :math:`\mathrm{err}_F^2 =
    \sum_f \|K(f)K(f)^H - I\|_F^2` (or with :math:`K^HK`) and :math:`\mathrm{err}_s = \max_f
    \max_i |\lambda_i(K(f)K(f)^H) - 1|`. Other boundaries: the dense matrix of
    :class:`sciconv.ConvOperator` up to ``DENSE_SVD_LIMIT`` entries; beyond, the sparse Gram
    for :math:`\mathrm{err}_F` (exact) and :func:`sciconv.operator_norm` /
    :func:`sciconv.condition_number` for :math:`\mathrm{err}_s = \max(\sigma_{\max}^2 - 1,
    1 - \sigma_{\min}^2)` (1 if the Gram is larger than the rank can fill).

    Examples
    --------
    An exactly orthogonal kernel has no Gram defect on the periodic grid, but zero padding
    breaks it at the border:

    >>> import torch
    >>> from sciconv.orthogonal import OrthogonalConv2d, gram_errors
    >>> _ = torch.manual_seed(0)
    >>> w = OrthogonalConv2d(2, 2, 3, dtype=torch.float64).weight.detach()
    >>> ef, es, kind = gram_errors(w, 6)
    >>> kind, ef < 1e-12, es < 1e-12
    ('RO', True, True)
    >>> ef, es, kind = gram_errors(w, 6, padding="same")
    >>> ef > 0.1, es > 0.1
    (True, True)
    """
    w = _as_array(weight)
    d = w.ndim - 2
    n = as_int_tuple("input_size", input_size, d)
    s = as_int_tuple("stride", stride, d)
    kind = _kind(w, s, kind)
    shape = (w.shape[1], *n)
    if padding == "circular":
        k = conv_symbol(w, shape, stride=s)
        g = (
            k @ np.conj(np.swapaxes(k, -1, -2))
            if kind == "RO"
            else np.conj(np.swapaxes(k, -1, -2)) @ k
        )
        g = g - np.eye(g.shape[-1])
        ef = float(np.sqrt(np.sum(np.abs(g) ** 2)))
        es = float(np.max(np.abs(np.linalg.eigvalsh(g))))
        return ef, es, kind
    op = ConvOperator(w, shape, stride=s, padding=padding)
    rows, cols = op.shape
    if rows * cols <= DENSE_SVD_LIMIT:
        a = op.to_dense()
        g = a @ a.T if kind == "RO" else a.T @ a
        g = g - np.eye(g.shape[0])
        return float(np.linalg.norm(g)), float(np.max(np.abs(np.linalg.eigvalsh(g)))), kind
    a = op.to_sparse()
    g = (a @ a.T if kind == "RO" else a.T @ a).tocsr()
    size = g.shape[0]
    diag = g.diagonal()
    ef2 = float(g.multiply(g).sum() - 2.0 * diag.sum() + size)
    smax = operator_norm(op)
    cond = condition_number(op)
    smin = 0.0 if not np.isfinite(cond) else smax / cond
    es = max(smax**2 - 1.0, 1.0 - smin**2)
    if size > min(rows, cols):
        es = max(es, 1.0)
    return float(np.sqrt(max(ef2, 0.0))), float(es), kind


def err_F(
    weight: Any,
    input_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: str = "circular",
    kind: str | None = None,
) -> float:
    r""":math:`\|KK^T - I\|_F` (RO) or :math:`\|K^TK - I\|_F` (CO); see :func:`gram_errors`.

    Examples
    --------
    On a periodic grid :math:`N` large enough, :math:`\mathrm{err}_F^2 = N^d L_{orth}`:

    >>> import numpy as np
    >>> from sciconv.orthogonal import err_F, l_orth
    >>> w = np.random.default_rng(0).standard_normal((4, 4, 3, 3)) / 6
    >>> bool(np.isclose(err_F(w, 8) ** 2, 8**2 * l_orth(w)))
    True
    """
    return gram_errors(weight, input_size, stride, padding, kind)[0]


def err_s(
    weight: Any,
    input_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: str = "circular",
    kind: str | None = None,
) -> float:
    r""":math:`\|KK^T - I\|_2` (RO) or :math:`\|K^TK - I\|_2` (CO); see :func:`gram_errors`.

    Examples
    --------
    The spectral defect is bounded by the regulariser: :math:`\mathrm{err}_s \le
    \sqrt{\alpha L_{orth}}` (:func:`l_orth_alpha`), on every grid size:

    >>> import numpy as np
    >>> from sciconv.orthogonal import err_s, l_orth, l_orth_alpha
    >>> w = np.random.default_rng(0).standard_normal((4, 4, 3, 3)) / 6
    >>> bound = np.sqrt(l_orth_alpha(3, 1, "RO") * l_orth(w))
    >>> all(err_s(w, n) <= bound for n in (4, 8, 16))
    True
    """
    return gram_errors(weight, input_size, stride, padding, kind)[1]


def l_orth(weight: Any, stride: int | Sequence[int] = 1) -> Any:
    r"""The orthogonality loss :math:`L_{orth}` of [2]_.

    Parameters
    ----------
    weight : array_like or torch.Tensor
        Kernel ``(M, C, *kernel_size)``. A torch tensor gives a differentiable 0-d tensor
        (use it as a regulariser); an array gives a float (computed in float64).
    stride : int or sequence of int
        :math:`S`.

    Returns
    -------
    float or torch.Tensor

    Notes
    -----
    With :math:`P_a = \lfloor (k_a-1)/S_a\rfloor S_a`, the self-correlation
    :math:`R = \mathrm{conv}(K, K, \text{padding}=P, \text{stride}=S)` has shape
    ``(M, M, *(2 P / S + 1))``; its entry at coarse lag :math:`q` is
    :math:`R_{m,m'}(q) = \sum_{c,t} K_{m,c,t+Sq}K_{m',c,t}`, the block of :math:`KK^T` between
    output positions :math:`q` apart. With :math:`I_{r_0}` the identity at lag 0 and
    :math:`\delta = \max(0, M - C\prod S_a)`,

    .. math:: L_{orth}(K) = \|R - I_{r_0}\|_F^2 - \delta.

    Since :math:`\|K^TK - I\|_F^2 = \|KK^T - I\|_F^2 - N^d (M - C S^d)` and no lag aliases
    when :math:`N_a \ge 2\lfloor (k_a-1)/S_a\rfloor + 1`, then :math:`\mathrm{err}_F^2 =
    N^d L_{orth}` in both cases ([1]_, Thm. 3).

    References
    ----------
    .. [1] E. M. Achour, F. Malgouyres and F. Mamalet, "Existence, Stability and Scalability of
       Orthogonal Convolutional Neural Networks", Journal of Machine Learning Research 23(347),
       2022. arXiv:2108.05623.
    .. [2] J. Wang, Y. Chen, R. Chakraborty and S. X. Yu, "Orthogonal Convolutional Neural
       Networks", IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR), 2020.
       arXiv:1911.12207.

    Examples
    --------
    Zero for an orthogonal kernel (here the identity tap), positive otherwise; a tensor
    gives a differentiable loss:

    >>> import numpy as np
    >>> import torch
    >>> from sciconv.orthogonal import l_orth
    >>> eye = np.zeros((3, 3, 3))
    >>> eye[:, :, 1] = np.eye(3)
    >>> l_orth(eye)
    0.0
    >>> w = torch.tensor(np.random.default_rng(0).standard_normal((3, 3, 3)), requires_grad=True)
    >>> loss = l_orth(w, stride=1)
    >>> loss.backward()
    >>> bool(loss > 0), w.grad.shape
    (True, torch.Size([3, 3, 3]))
    """
    is_torch = isinstance(weight, torch.Tensor)
    w = weight if is_torch else torch.from_numpy(_as_array(weight))
    if w.ndim not in (3, 4, 5):
        raise ValueError(f"weight must have shape (M, C, *kernel_size), got {describe(w)}")
    d = w.ndim - 2
    s = as_int_tuple("stride", stride, d)
    m, c = int(w.shape[0]), int(w.shape[1])
    q = [(int(k) - 1) // sa for k, sa in zip(w.shape[2:], s)]
    r = _CONV[d](w, w, None, s, tuple(qa * sa for qa, sa in zip(q, s)))
    target = torch.zeros_like(r)
    target[(slice(None), slice(None), *q)] = torch.eye(m, dtype=w.dtype, device=w.device)
    val = ((r - target) ** 2).sum() - max(0, m - c * math.prod(s))
    return val if is_torch else float(val)


def l_orth_alpha(
    kernel_size: int | Sequence[int], stride: int | Sequence[int], kind: str, dim: int = 2
) -> int:
    r"""Constant :math:`\alpha` of :math:`\mathrm{err}_s \le \sqrt{\alpha\, L_{orth}}`.

    Notes
    -----
    The Gram defect per frequency, :math:`G(f) = K(f)K(f)^H - I` (RO) or
    :math:`K(f)^HK(f) - I` (CO), is a trigonometric polynomial with coefficients
    :math:`T_q` at :math:`L_a` coarse lags per axis: :math:`L_a = 2\lfloor (k_a-1)/S_a\rfloor
    + 1` (RO) and :math:`L_a = 2\lceil k_a/S_a\rceil - 1` (CO). Then
    :math:`\|G(f)\|_2 \le \sum_q \|T_q\|_F \le \sqrt{\prod_a L_a}\,(\sum_q\|T_q\|_F^2)^{1/2}`
    and, by Parseval on the :math:`N` grid, :math:`\sum_q \|T_q\|_F^2 = \mathrm{err}_F^2 / N^d
    = L_{orth}`; so :math:`\alpha = \prod_a L_a`. This is sharper than Thm. 4 of [1]_,
    :math:`\alpha = (2\lfloor (k-1)/S\rfloor+1)^d M` (RO), :math:`(2k-1)^d C` (CO).

    References
    ----------
    .. [1] E. M. Achour, F. Malgouyres and F. Mamalet, "Existence, Stability and Scalability of
       Orthogonal Convolutional Neural Networks", Journal of Machine Learning Research 23(347),
       2022. arXiv:2108.05623.

    Examples
    --------
    >>> from sciconv.orthogonal import l_orth_alpha
    >>> l_orth_alpha(3, 1, "RO"), l_orth_alpha(3, 2, "RO"), l_orth_alpha(3, 2, "CO")
    (25, 9, 9)
    >>> l_orth_alpha((5, 1), (2, 1), "CO", dim=2)
    5
    """
    k = as_int_tuple("kernel_size", kernel_size, dim)
    s = as_int_tuple("stride", stride, dim)
    kind = check_choice("kind", kind, ("RO", "CO"))
    if kind == "RO":
        return math.prod(2 * ((ka - 1) // sa) + 1 for ka, sa in zip(k, s))
    return math.prod(2 * (-(-ka // sa)) - 1 for ka, sa in zip(k, s))


@dataclass(frozen=True)
class OrthoMeasures:
    """Everything ``sciconv ortho measure`` prints (returned by :func:`orthogonality`).

    Examples
    --------
    >>> import numpy as np
    >>> from sciconv.orthogonal import orthogonality
    >>> m = orthogonality(np.random.default_rng(0).standard_normal((2, 4, 3)) / 3, 16)
    >>> m.kind, m.input_size, m.alpha
    ('RO', (16,), 5)
    >>> bool(m.sigma_min <= m.sigma_max), sorted(m.to_dict())[:3]
    (True, ['alpha', 'err_F', 'err_s'])
    """

    kind: str
    sigma_min: float
    sigma_max: float
    err_F: float
    err_s: float
    l_orth: float
    alpha: int
    input_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def orthogonality(
    weight: Any,
    input_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: str = "circular",
) -> OrthoMeasures:
    r"""σ_min, σ_max, err_F, err_s, L_orth and α of a kernel on a grid.

    Notes
    -----
    Circular: σ from :func:`sciconv.conv_singular_values` (exact); other boundaries:
    :func:`sciconv.operator_norm` and :func:`sciconv.condition_number`.

    Examples
    --------
    The kernel of an orthogonal layer, measured on two grids:

    >>> import torch
    >>> from sciconv.orthogonal import OrthogonalConv1d, orthogonality
    >>> _ = torch.manual_seed(0)
    >>> w = OrthogonalConv1d(3, 6, 4, stride=2, dtype=torch.float64).weight.detach()
    >>> m = orthogonality(w, 16, stride=2)
    >>> m.kind, round(m.sigma_min, 9), round(m.sigma_max, 9), m.err_F < 1e-12
    ('RO', 1.0, 1.0, True)
    >>> m = orthogonality(w, 16, stride=2, padding="same")  # not orthogonal at the border
    >>> bool(m.sigma_min < 1 - 1e-3)
    True
    """
    w = _as_array(weight)
    d = w.ndim - 2
    n = as_int_tuple("input_size", input_size, d)
    s = as_int_tuple("stride", stride, d)
    ef, es, kind = gram_errors(w, n, s, padding)
    if padding == "circular":
        sv = conv_singular_values(w, (w.shape[1], *n), stride=s, flat=True)
        smax, smin = float(sv[0]), float(sv[-1])
    else:
        op = ConvOperator(w, (w.shape[1], *n), stride=s, padding=padding)
        smax = operator_norm(op)
        cond = condition_number(op)
        smin = 0.0 if not np.isfinite(cond) else smax / cond
    return OrthoMeasures(
        kind=kind,
        sigma_min=smin,
        sigma_max=smax,
        err_F=ef,
        err_s=es,
        l_orth=float(l_orth(w, s)),
        alpha=l_orth_alpha(w.shape[2:], s, kind, d),
        input_size=n,
        stride=s,
        padding=padding,
    )
