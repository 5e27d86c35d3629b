"""Discretisation of ``x' = A x + B u``: generalised bilinear transform and zero-order hold.

Works for a dense ``A`` (N, N) and for a diagonal ``A`` given as its diagonal (..., N), on numpy
arrays and torch tensors (differentiable). The generalised bilinear transform is that of [1]_,
as used for state-space layers in [2]_.

References
----------
.. [1] G. Zhang, T. Chen and X. Chen, "Performance Recovery in Digital Implementation of
   Analogue Systems", SIAM Journal on Control and Optimization 45(6), 2007.
.. [2] A. Gu, I. Johnson, K. Goel, K. Saab, T. Dao, A. Rudra and C. Ré, "Combining
   Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers",
   Advances in Neural Information Processing Systems (NeurIPS), 2021. arXiv:2110.13985.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import scipy.linalg
import torch

from ..dtypes import result_dtype
from ..validation import (
    check_choice,
    check_finite,
    checking_values,
    describe,
    require,
    traced,
)

__all__ = ["DISCRETIZATIONS", "check_dt", "discretize"]

DISCRETIZATIONS = ("zoh", "bilinear", "forward_euler", "backward_euler", "gbt")
_ALPHA = {"bilinear": 0.5, "forward_euler": 0.0, "backward_euler": 1.0}


def check_dt(dt: Any) -> Any:
    """Check that the step ``dt`` (scalar, array or tensor) is finite and ``> 0``; return it.

    Examples
    --------
    >>> import numpy as np
    >>> from sciconv.ssm.discretize import check_dt
    >>> check_dt(0.1), check_dt(np.array([0.1, 0.2])).shape
    (0.1, (2,))
    >>> check_dt(0.0)
    Traceback (most recent call last):
        ...
    ValueError: dt must be finite and > 0, got 0.0
    """
    if isinstance(dt, bool):
        raise TypeError(f"dt must be a positive number or array, got {dt!r}")
    if isinstance(dt, torch.Tensor):
        vals = dt.detach()
        ok = vals.numel() > 0 and not vals.is_complex()
        if ok:  # an in-graph assertion while traced (sciconv.validation.require)
            require(
                torch.isfinite(vals) & (vals > 0),
                "dt must be finite and > 0",
                lambda: f"got {describe(dt)}",
            )
    elif isinstance(dt, float):  # a Python float: no numpy (torch.compile traces it)
        ok = math.isfinite(dt) and dt > 0
    else:
        arr = np.asarray(dt)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"dt must be a positive real number or array, got {describe(dt)}")
        ok = arr.size > 0 and bool(np.all(np.isfinite(arr) & (arr > 0)))
    if not ok:
        shown = dt if isinstance(dt, numbers.Number) else describe(dt)
        raise ValueError(f"dt must be finite and > 0, got {shown}")
    return dt


def discretize(
    A: Any,
    B: Any,
    dt: Any,
    method: str = "bilinear",
    *,
    alpha: float | None = None,
    diagonal: bool | None = None,
) -> tuple[Any, Any]:
    """Discrete ``(Abar, Bbar)`` of the continuous system ``x' = A x + B u`` with step ``dt``.

    Parameters
    ----------
    A : array or tensor, shape (N, N) (dense) or (..., N) (the diagonal of a diagonal ``A``)
    B : array or tensor
        Dense: shape (N,) or (N, M). Diagonal: broadcastable against ``A`` (..., N).
    dt : float or array/tensor
        Step, ``> 0``. Dense: a scalar, or (H,) for a batch (H, N, N) of results.
        Diagonal: broadcastable against ``A`` (e.g. (H, 1)).
    method : {'zoh', 'bilinear', 'forward_euler', 'backward_euler', 'gbt'}
    alpha : float, optional
        The GBT parameter for ``method='gbt'`` (0 forward Euler, 1/2 bilinear, 1 backward).
    diagonal : bool, optional
        Whether ``A`` holds diagonals. Default: dense iff ``A`` is 2-d and square (pass
        ``diagonal=True`` for a batch of diagonals of shape (H, N) with ``H == N``).

    Returns
    -------
    Abar, Bbar
        Same backend and layout as ``A`` and ``B``.

    Raises
    ------
    ValueError
        If ``A`` or ``B`` holds NaN or infinity, or if ``I - alpha dt A`` is singular (an
        eigenvalue of ``A`` at ``1 / (alpha dt)``, e.g. ``A = 2``, ``dt = 1`` for 'bilinear'),
        where the transform is undefined.

    Notes
    -----
    Generalised bilinear transform ([1]_, [2]_):

    .. math:: \\bar A = (I - \\alpha\\,\\Delta A)^{-1}(I + (1-\\alpha)\\Delta A), \\quad
              \\bar B = (I - \\alpha\\,\\Delta A)^{-1} \\Delta B.

    Zero-order hold: :math:`\\bar A = e^{\\Delta A}`, :math:`\\bar B = A^{-1}(e^{\\Delta A} -
    I) B = \\int_0^\\Delta e^{sA} ds\\, B`, computed for a dense ``A`` as the top-right block of
    :math:`\\exp\\big(\\Delta \\begin{pmatrix} A & B \\\\ 0 & 0 \\end{pmatrix}\\big)` (valid for a
    singular ``A``; in torch :math:`\\bar B = \\Delta\\,\\varphi_1(\\Delta A) B` by scaling and
    squaring, accurate relative to :math:`\\bar B`) and for a diagonal one as
    :math:`\\mathrm{expm1}(\\Delta a)/a` (``Δ`` where ``a = 0``). These match
    ``scipy.signal.cont2discrete`` ('zoh', 'gbt', 'bilinear', 'euler', 'backward_diff') in
    ``Abar`` and ``Bbar``; scipy's GBT also rescales ``C`` and ``D``, which the state-space
    kernels here keep unchanged (:math:`\\bar C = C`).

    References
    ----------
    .. [1] G. Zhang, T. Chen and X. Chen, "Performance Recovery in Digital Implementation of
       Analogue Systems", SIAM Journal on Control and Optimization 45(6), 2007.
    .. [2] A. Gu, I. Johnson, K. Goel, K. Saab, T. Dao, A. Rudra and C. Ré, "Combining
       Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers",
       Advances in Neural Information Processing Systems (NeurIPS), 2021. arXiv:2110.13985.

    Examples
    --------
    A scalar decay :math:`x' = -x + u` with step 0.1: ZOH gives :math:`e^{-0.1}` and
    :math:`1 - e^{-0.1}`, the bilinear transform :math:`0.95 / 1.05` and :math:`0.1 / 1.05`:

    >>> import numpy as np
    >>> from sciconv.ssm import discretize, hippo
    >>> [np.round(v, 6) for v in discretize(np.array([-1.0]), np.array([1.0]), 0.1, "zoh")]
    [array([0.904837]), array([0.095163])]
    >>> [np.round(v, 6) for v in discretize(np.array([-1.0]), np.array([1.0]), 0.1)]
    [array([0.904762]), array([0.095238])]

    For a dense HiPPO matrix, ZOH gives :math:`\\bar A = e^{\\Delta A}` and
    :math:`A \\bar B = (\\bar A - I) B`:

    >>> from scipy.linalg import expm
    >>> A, B = hippo("legt", 4)
    >>> Ab, Bb = discretize(A, B, 0.1, "zoh")
    >>> bool(np.allclose(Ab, expm(0.1 * A))), bool(np.allclose(A @ Bb, (Ab - np.eye(4)) @ B))
    (True, True)
    """
    check_choice("method", method, DISCRETIZATIONS)
    if method == "gbt":
        if alpha is None or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be a number in [0, 1] for method='gbt', got {alpha!r}")
    elif alpha is not None:
        raise ValueError(f"alpha is only for method='gbt', got alpha={alpha!r} with {method!r}")
    else:
        alpha = _ALPHA.get(method)
    check_dt(dt)
    is_t = isinstance(A, torch.Tensor) or isinstance(B, torch.Tensor)
    if is_t:
        ref = A if isinstance(A, torch.Tensor) else B
        A, B = torch.as_tensor(A, device=ref.device), torch.as_tensor(B, device=ref.device)
        dtype = torch.promote_types(result_dtype(A, B), torch.get_default_dtype())
        A, B = A.to(dtype), B.to(dtype)
        if not isinstance(dt, torch.Tensor):
            dt = torch.as_tensor(dt, device=A.device, dtype=A.real.dtype)
    else:
        A, B = np.asarray(A), np.asarray(B)
        dtype = np.result_type(A.dtype, B.dtype, np.float64)
        A, B = A.astype(dtype, copy=False), B.astype(dtype, copy=False)
        dt = np.asarray(dt, dtype=np.float64)
    check_finite("A", A)
    check_finite("B", B)
    if diagonal is None:
        diagonal = not (A.ndim == 2 and A.shape[0] == A.shape[1])
    if not diagonal:
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square matrix when diagonal=False, got {describe(A)}")
        try:
            return _dense(A, B, dt, method, alpha, is_t)
        except (np.linalg.LinAlgError, torch.linalg.LinAlgError):
            raise _singular(A, dt, method, alpha) from None
    return _diagonal(A, B, dt, method, alpha, is_t)


def _singular(A: Any, dt: Any, method: str, alpha: Any) -> ValueError:
    """The error for a generalised bilinear transform whose ``I - alpha dt A`` is singular."""
    return ValueError(
        f"A ({describe(A)}) with dt={_show(dt)} makes I - {alpha} dt A singular: "
        f"discretization {method!r} is undefined when A has an eigenvalue 1 / ({alpha} dt); "
        f"use another dt or another discretization (e.g. 'zoh')"
    )


def _show(v: Any) -> str:
    if isinstance(v, torch.Tensor | np.ndarray) and v.ndim == 0:
        return repr(float(v.real))
    return describe(v)


def _dense(A, B, dt, method, alpha, is_t):
    N = A.shape[0]
    if B.ndim not in (1, 2) or B.shape[0] != N:
        raise ValueError(f"B must have shape ({N},) or ({N}, M) to match A, got {describe(B)}")
    if dt.ndim > 1:
        raise ValueError(f"dt must be a scalar or 1-d (H,) for a dense A, got {describe(dt)}")
    d = dt[..., None, None]  # (H, 1, 1) batches the result over the steps
    Bm = B[:, None] if B.ndim == 1 else B
    M = Bm.shape[1]
    if is_t:
        eye = torch.eye(N, dtype=A.dtype, device=A.device)
        if method == "zoh":
            Ab, F = _expm_phi1(d * A)
            Bb = F @ (d * Bm)
        else:
            left = eye - alpha * d * A
            Ab = torch.linalg.solve(left, eye + (1 - alpha) * d * A)
            Bb = torch.linalg.solve(left, d * Bm)
    else:
        eye = np.eye(N)
        if method == "zoh":
            blk = np.zeros((N + M, N + M), dtype=A.dtype)
            blk[:N, :N], blk[:N, N:] = A, Bm
            E = scipy.linalg.expm(blk * d)
        else:
            left = eye - alpha * d * A
            Ab = np.linalg.solve(left, eye + (1 - alpha) * d * A)
            Bb = np.linalg.solve(left, d * Bm)
        if method == "zoh":
            Ab, Bb = E[..., :N, :N], E[..., :N, N:]
    return Ab, (Bb[..., 0] if B.ndim == 1 else Bb)


def _expm_phi1(X: torch.Tensor, degree: int = 18) -> tuple[torch.Tensor, torch.Tensor]:
    """``exp(X)`` and ``phi1(X) = sum_k X^k / (k+1)!`` by scaling and squaring (batched).

    Taylor series of degree 18 at ``X / 2^s`` with ``||X / 2^s||_1 <= 1/4``, then ``s`` times
    :math:`\\varphi_1(2Y) = \\tfrac12 (e^Y + I)\\varphi_1(Y)`, :math:`e^{2Y} = (e^Y)^2`. Unlike
    the top-right block of ``matrix_exp`` of the augmented matrix, ``phi1`` is accurate
    relative to itself (``torch.linalg.matrix_exp`` loses ~1e-10 there for complex input).
    """
    norm = float(torch.linalg.matrix_norm(X.detach(), 1).max()) if X.numel() else 0.0
    s = max(0, math.ceil(math.log2(norm / 0.25))) if norm > 0.25 else 0
    Y = X / 2**s
    eye = torch.eye(X.shape[-1], dtype=X.dtype, device=X.device).expand_as(X)
    term, E, F = eye, eye, eye
    for k in range(1, degree + 1):
        term = term @ Y / k  # Y^k / k!
        E = E + term
        F = F + term / (k + 1)
    for _ in range(s):
        F = 0.5 * (E + eye) @ F
        E = E @ E
    return E, F


def _diagonal(A, B, dt, method, alpha, is_t):
    try:
        shape = torch.broadcast_shapes(A.shape, B.shape, dt.shape)
    except RuntimeError:
        shape = None
    if shape is None or A.ndim < 1 or (B.ndim and B.shape[-1] not in (1, A.shape[-1])):
        raise ValueError(
            f"B and dt must broadcast against the diagonal A of shape {tuple(A.shape)}, got B "
            f"{describe(B)} and dt {describe(dt)}"
        )
    dA = dt * A
    if method == "zoh":
        if is_t:
            Ab = torch.exp(dA)
            safe = torch.where(A == 0, torch.ones_like(A), A)
            Bb = torch.where(A == 0, dt * torch.ones_like(A), torch.expm1(dA) / safe) * B
        else:
            Ab = np.exp(dA)
            with np.errstate(divide="ignore", invalid="ignore"):
                Bb = np.where(A == 0, dt, np.expm1(dA) / np.where(A == 0, 1, A)) * B
        return Ab, Bb
    left = 1 - alpha * dA
    zero = left == 0
    if is_t and (traced(zero) or not checking_values()):  # an in-graph assertion (or none)
        require(~zero, f"1 - {alpha} dt A must be nonzero for discretization {method!r}")
    elif bool(zero.any()):
        idx = tuple(int(i) for i in (zero.nonzero()[0] if is_t else np.argwhere(zero)[0]))
        bcast = torch.broadcast_to if is_t else np.broadcast_to
        a, d = (complex(bcast(v, zero.shape)[idx]) for v in (A, dt))
        raise ValueError(
            f"A holds {a.real if not a.imag else a} where 1 - {alpha} dt A = 0 (dt={d.real}): "
            f"discretization {method!r} divides by zero there (an eigenvalue at "
            f"1 / ({alpha} dt)); use another dt or another discretization (e.g. 'zoh')"
        )
    return (1 + (1 - alpha) * dA) / left, dt * B / left
