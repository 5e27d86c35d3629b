r"""Existence oracle for orthogonal convolutions, after the theorems of [1]_.

A convolution with ``C`` input channels, ``M`` output channels, kernel ``k`` and stride ``S``
in ``d`` dimensions is row-orthogonal (RO, :math:`KK^T = I`) or column-orthogonal (CO,
:math:`K^TK = I`); which one applies is decided by :math:`M` against :math:`C S^d`, the ratio
of output to input sizes. :func:`exists` says whether such a convolution exists, and why.

References
----------
.. [1] E. M. Achour, F. Malgouyres and F. Mamalet, "Existence, Stability and Scalability of
   Orthogonal Convolutional Neural Networks", Journal of Machine Learning Research 23(347),
   2022. arXiv:2108.05623.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..validation import as_int_tuple, check_choice, check_positive_int

__all__ = ["BOUNDARIES", "Verdict", "effective_size", "exists"]

#: Boundaries the oracle knows ('same' and 'valid' are zero padding, as in ConvOperator).
BOUNDARIES = ("circular", "valid", "same")

_SUP = {1: "", 2: "²", 3: "³"}


@dataclass(frozen=True)
class Verdict:
    """Answer of :func:`exists`.

    Attributes
    ----------
    kind : {'RO', 'CO'}
        Row-orthogonal when ``M <= C prod(S)``, column-orthogonal otherwise.
    exists : bool
        Whether an orthogonal convolution of this configuration exists (on every grid
        ``n = S N`` large enough, see :func:`exists`).
    reason : str
        The deciding condition in words and symbols; for impossible configurations it
        starts with ``"no orthogonal convolution: "``.
    hard : bool
        ``M == C prod(S)``: RO and CO coincide (a square operator for circular and 'same'),
        known to be hard to reach by gradient descent ([1]_, Sec. 4).
    note : str
        Extra remark (e.g. that only a single-tap kernel is orthogonal), or ``""``.
    effective : tuple of int
        Per axis, the number of kernel taps an orthogonal kernel may use within one
        stride block (see :func:`effective_size`).

    References
    ----------
    .. [1] E. M. Achour, F. Malgouyres and F. Mamalet, "Existence, Stability and Scalability of
       Orthogonal Convolutional Neural Networks", Journal of Machine Learning Research 23(347),
       2022. arXiv:2108.05623.

    Examples
    --------
    Six output channels from four with stride 2 and a 1-tap kernel: row-orthogonal is the
    candidate (``M = 6 <= C S = 8``), but one tap per stride block leaves only ``C = 4``
    usable columns, so two rows per frequency cannot be made orthonormal:

    >>> from sciconv.orthogonal import exists
    >>> v = exists(4, 6, 1, stride=2, dim=1)
    >>> v.kind, bool(v), v.effective, v.floor_per_frequency()
    ('RO', False, (1,), 2)
    >>> sorted(v.to_dict())[:4]
    ['effective', 'exists', 'hard', 'in_channels']
    """

    kind: str
    exists: bool
    reason: str
    hard: bool
    padding: str
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    note: str = ""
    effective: tuple[int, ...] = field(default=())

    def __bool__(self) -> bool:
        return self.exists

    def floor_per_frequency(self) -> int:
        r"""Minimum of :math:`\|KK^T-I\|_F^2` (RO) or :math:`\|K^TK-I\|_F^2` (CO) per coarse
        grid point, for circular padding: ``max(0, M - C prod(e))`` (RO) and
        ``C (prod(S) - prod(e))`` (CO), with ``e`` the effective sizes.
        """
        if self.padding != "circular":
            raise ValueError(
                f"floor_per_frequency is known for padding='circular' only, got {self.padding!r}"
            )
        ce = self.in_channels * math.prod(self.effective)
        if self.kind == "RO":
            return max(0, self.out_channels - ce)
        return self.in_channels * math.prod(self.stride) - ce

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary (for JSON)."""
        return asdict(self)


def effective_size(
    kernel_size: Sequence[int], stride: Sequence[int], padding: str
) -> tuple[int, ...]:
    r"""Taps per axis and stride block that an orthogonal kernel can use.

    Notes
    -----
    * circular and 'valid': :math:`e_a = \min(k_a, S_a)`: polyphase components
      :math:`r_a \ge k_a` of the kernel are empty, so the symbol :math:`K(f)\in
      \mathbb{C}^{M\times CS^d}` has only :math:`C\prod_a e_a` non-zero columns.
    * 'same' (left pad :math:`L_a = \lfloor (k_a-1)/2\rfloor`): the first and last rows (RO)
      or columns (CO) of the operator see only part of the kernel, and having the norm of
      an interior one forces the missing taps to vanish; what survives lies in
      :math:`[L_a, L_a + S_a)`, so :math:`e_a = \min(S_a, k_a - L_a)`.

    Examples
    --------
    >>> from sciconv.orthogonal import effective_size
    >>> effective_size((3, 3), (2, 2), "circular"), effective_size((1, 5), (2, 2), "valid")
    ((2, 2), (1, 2))
    >>> effective_size((3,), (1,), "same"), effective_size((4,), (4,), "same")
    ((1,), (3,))
    """
    if padding == "same":
        return tuple(min(s, k - (k - 1) // 2) for k, s in zip(kernel_size, stride))
    return tuple(min(k, s) for k, s in zip(kernel_size, stride))


def _sym(name: str, values: tuple[int, ...]) -> str:
    """'k²' for a square kernel in 2D, 'k₁k₂' style otherwise ('(3x1)')."""
    d = len(values)
    if len(set(values)) == 1:
        return f"{name}{_SUP[d]}" if d > 1 else name
    return "∏" + name + "_a"


def exists(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    dim: int = 2,
    padding: str = "circular",
) -> Verdict:
    r"""Does an orthogonal convolution with this configuration exist?

    Parameters
    ----------
    in_channels, out_channels : int
        :math:`C` and :math:`M`.
    kernel_size, stride : int or sequence of int
        Per axis (rectangular kernels and strides allowed).
    dim : int
        Number of spatial axes :math:`d \in \{1, 2, 3\}`.
    padding : {'circular', 'valid', 'same'}
        Boundary, as in :class:`sciconv.ConvOperator` ('same' pads
        :math:`\lfloor (k-1)/2\rfloor` zeros on the left).

    Returns
    -------
    Verdict
        ``kind`` ('RO' if :math:`M \le C\prod S_a`, else 'CO'), ``exists``, ``reason``.

    Notes
    -----
    With :math:`e_a` of :func:`effective_size` and :math:`P = C\prod_a e_a`:

    * **circular** ([1]_, Thm. 1; any grid :math:`n_a = S_a N_a`): RO exists iff
      :math:`M \le P` (for square kernels: :math:`M \le C k^d`, binding only when
      :math:`k < S`); CO exists iff :math:`S_a \le k_a` for every axis. Necessity: the
      symbol has only :math:`P` non-zero columns. Sufficiency: compose an orthogonal
      stride-1 convolution with a stride-:math:`S` block convolution of kernel :math:`e`
      whose :math:`M\times Ce^d` matrix has orthonormal rows or columns.
    * **valid** (large grids): RO as circular (a valid convolution is a subset of the rows
      of the circular one, and filters at one position must be orthonormal). CO iff
      :math:`k_a = S_a` for all axes: an input in the first stride block is seen by one
      tap only, an interior one by all taps of its residue class, so equal column norms
      kill every tap :math:`t \ge S`; with :math:`k > S` the last inputs are then never
      seen, and with :math:`k < S` inputs between blocks never are.
    * **same** (large grids): boundary rows (RO) or columns (CO) force the taps outside
      :math:`[L, L+S)` to vanish (see :func:`effective_size`), leaving a non-overlapping
      block convolution: RO iff :math:`M \le P`, CO iff :math:`e_a = S_a` for all axes. With
      stride 1 only single-tap (1×1) kernels are orthogonal.

    The statements are confirmed numerically by :func:`sciconv.orthogonal.certify`.

    References
    ----------
    .. [1] E. M. Achour, F. Malgouyres and F. Mamalet, "Existence, Stability and Scalability of
       Orthogonal Convolutional Neural Networks", Journal of Machine Learning Research 23(347),
       2022. arXiv:2108.05623.

    Examples
    --------
    A common strided layer exists; more output channels than a 3 x 3 kernel can feed with
    stride 4 do not; zero padding with stride 1 leaves only single-tap kernels:

    >>> from sciconv.orthogonal import exists
    >>> v = exists(64, 128, 3, stride=2)
    >>> v.kind, v.exists
    ('RO', True)
    >>> v = exists(32, 289, 3, stride=4)
    >>> v.exists
    False
    >>> print(v.reason)  # doctest: +ELLIPSIS
    no orthogonal convolution: M = 289 > C·k² = 288 (row-orthogonal case) [M = 289, ...]
    >>> v = exists(16, 32, 3, padding="same")
    >>> v.kind, v.exists, v.note
    ('CO', True, 'only kernels with a single non-zero tap (at ⌊(k-1)/2⌋) are orthogonal')
    """
    c = check_positive_int("in_channels", in_channels)
    m = check_positive_int("out_channels", out_channels)
    d = check_positive_int("dim", dim)
    if d not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {d}")
    k = as_int_tuple("kernel_size", kernel_size, d)
    s = as_int_tuple("stride", stride, d)
    padding = check_choice("padding", padding, BOUNDARIES)
    e = effective_size(k, s, padding)
    cs = c * math.prod(s)
    ce = c * math.prod(e)
    kind = "RO" if m <= cs else "CO"
    hard = m == cs
    cs_txt = f"C·{_sym('S', s)} = {cs}"
    if padding == "same":
        ce_txt = f"C·∏min(S_a, k_a - ⌊(k_a-1)/2⌋) = {ce}"
    elif all(a <= b for a, b in zip(k, s)):
        ce_txt = f"C·{_sym('k', k)} = {ce}"
    elif all(a >= b for a, b in zip(k, s)):
        ce_txt = cs_txt
    else:
        ce_txt = f"C·∏min(k_a, S_a) = {ce}"
    where = f"M = {m}, C = {c}, k = {k if len(set(k)) > 1 else k[0]}, "
    where += f"S = {s if len(set(s)) > 1 else s[0]}, d = {d}, padding = {padding!r}"
    note = ""
    if kind == "RO":
        ok = m <= ce
        case = "row-orthogonal case"
        if ok:
            reason = f"{case} (M = {m} ≤ {cs_txt}): exists since M = {m} ≤ {ce_txt}"
        else:
            reason = f"no orthogonal convolution: M = {m} > {ce_txt} ({case})"
    else:
        case = "column-orthogonal case"
        head = f"{case} (M = {m} > {cs_txt})"
        if padding == "circular":
            ok = all(a <= b for a, b in zip(s, k))
            cond = "S ≤ k" if d == 1 else "S_a ≤ k_a on every axis"
        elif padding == "valid":
            ok = k == s
            cond = "k = S" if d == 1 else "k_a = S_a on every axis"
        else:
            ok = e == s
            cond = "S ≤ k - ⌊(k-1)/2⌋" if d == 1 else "S_a ≤ k_a - ⌊(k_a-1)/2⌋ on every axis"
        if ok:
            reason = f"{head}: exists since {cond} (k = {k}, S = {s})"
        else:
            reason = f"no orthogonal convolution: {cond} fails with k = {k}, S = {s} ({head})"
    if hard and ok:
        reason += "; M = C·S^d: RO and CO coincide, hard to reach by optimisation"
    if ok and padding == "same" and math.prod(e) == 1 and math.prod(k) > 1:
        note = "only kernels with a single non-zero tap (at ⌊(k-1)/2⌋) are orthogonal"
    elif ok and padding != "circular":
        note = "holds on grids n = S·N with N large enough (see sciconv.orthogonal.certify)"
    return Verdict(
        kind=kind,
        exists=ok,
        reason=f"{reason} [{where}]",
        hard=hard,
        padding=padding,
        in_channels=c,
        out_channels=m,
        kernel_size=k,
        stride=s,
        note=note,
        effective=e,
    )
