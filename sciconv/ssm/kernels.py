"""State-space convolution kernels ``K_l = C Abar^l Bbar``: Krylov, Vandermonde and Cauchy.

One entry point, :func:`ssm_kernel`; every method computes the same kernel (tested against the
dense Krylov loop in float64): the Krylov kernel of LSSL [1]_, the Cauchy kernel of a
diagonal-plus-low-rank matrix through its generating function (S4 [2]_) and the Vandermonde
kernel of a diagonal matrix (S4D [3]_).

References
----------
.. [1] A. Gu, I. Johnson, K. Goel, K. Saab, T. Dao, A. Rudra and C. Ré, "Combining
   Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers",
   Advances in Neural Information Processing Systems (NeurIPS), 2021. arXiv:2110.13985.
.. [2] A. Gu, K. Goel and C. Ré, "Efficiently Modeling Long Sequences with Structured State
   Spaces", International Conference on Learning Representations (ICLR), 2022.
   arXiv:2111.00396.
.. [3] A. Gu, A. Gupta, K. Goel and C. Ré, "On the Parameterization and Initialization of
   Diagonal State Space Models", Advances in Neural Information Processing Systems
   (NeurIPS), 2022. arXiv:2206.11893.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from ..validation import (
    check_choice,
    check_finite,
    check_positive_int,
    checking_values,
    describe,
    require,
    traced,
)
from ..vandermonde import APPLY_LIMIT, vandermonde_apply
from .discretize import DISCRETIZATIONS, check_dt, discretize

__all__ = [
    "KERNEL_METHODS",
    "cauchy_kernel",
    "dplr_to_dense",
    "krylov",
    "krylov_doubling",
    "ssm_kernel",
]

KERNEL_METHODS = ("krylov", "krylov_doubling", "vandermonde", "vandermonde_chunked", "cauchy")
DEFAULT_CHUNK = 128


def _t(x: Any, device: Any = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if device is None else x.to(device)
    arr = np.asarray(x)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"expected a numeric array, got {describe(x)}")
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    return torch.as_tensor(arr, device=device)


def _common(*xs: torch.Tensor) -> list[torch.Tensor]:
    dtype = torch.get_default_dtype()
    for x in xs:
        dtype = torch.promote_types(dtype, x.dtype)
    return [x.to(dtype) for x in xs]


def dplr_to_dense(Lambda: Any, P: Any, Q: Any = None) -> Any:
    """Dense ``A = diag(Lambda) - P^T conj(Q)`` of a diagonal-plus-low-rank matrix.

    ``Lambda`` (N,), ``P`` and ``Q`` (r, N) (``Q`` defaults to ``P``); numpy or torch.

    Examples
    --------
    >>> import numpy as np
    >>> from sciconv.ssm import dplr_to_dense
    >>> dplr_to_dense(np.array([-1.0, -2.0]), np.array([[1.0, 1.0]]))
    array([[-2., -1.],
           [-1., -3.]])
    """
    is_t = any(isinstance(v, torch.Tensor) for v in (Lambda, P, Q))
    lam, p = _t(Lambda), _t(P)
    q = p if Q is None else _t(Q, p.device)
    lam, p, q = _common(lam, p, q)
    _check_dplr(lam, p, q)
    A = torch.diag(lam) - p.transpose(0, 1) @ q.conj()
    return A if is_t else A.numpy()


def _check_dplr(lam: torch.Tensor, p: torch.Tensor, q: torch.Tensor) -> None:
    N = lam.shape[-1]
    if lam.ndim != 1:
        raise ValueError(f"A must be the 1-d diagonal Lambda of a DPLR matrix, got {describe(lam)}")
    if p.ndim != 2 or p.shape[1] != N:
        raise ValueError(f"P must have shape (r, {N}), got {describe(p)}")
    if q.shape != p.shape:
        raise ValueError(f"Q must have the shape of P {tuple(p.shape)}, got {describe(q)}")


def _states(*xs: Any) -> int:
    """Entries of one broadcast state vector ``x_l`` (Python int)."""
    shapes = [tuple(getattr(x, "shape", ())) for x in xs]
    try:
        shape = torch.broadcast_shapes(shapes[0][:-1], shapes[1], shapes[2])
    except RuntimeError:
        shape = max(shapes, key=math.prod)
    return max(1, math.prod(shape))


def _check_work(name: str, L: int, entries: int) -> None:
    """Refuse, before allocating, a kernel computation of more than ``APPLY_LIMIT`` entries."""
    if entries > APPLY_LIMIT:
        raise ValueError(
            f"{name}={L} needs {entries} state entries, more than APPLY_LIMIT={APPLY_LIMIT} "
            f"(sciconv.vandermonde); use a smaller L (or, for a diagonal A, "
            f"method='vandermonde_chunked')"
        )


def krylov(Abar: Any, Bbar: Any, C: Any, L: int) -> torch.Tensor:
    """Naive Krylov kernel: ``x_0 = Bbar``, ``x_{l+1} = Abar x_l``, ``K_l = C x_l``.

    ``Abar`` (..., N, N), ``Bbar`` (..., N), ``C`` (..., N) broadcast together; returns
    (..., L). Torch tensors in and out; ``L`` matrix-vector products.

    Examples
    --------
    Two modes ``1/2`` and ``-1/2``: :math:`K_l = (1/2)^l + (-1/2)^l`:

    >>> import torch
    >>> from sciconv.ssm import krylov
    >>> Abar = torch.diag(torch.tensor([0.5, -0.5], dtype=torch.float64))
    >>> one = torch.ones(2, dtype=torch.float64)
    >>> krylov(Abar, one, one, 5).tolist()
    [2.0, 0.0, 0.5, 0.0, 0.125]
    """
    L = check_positive_int("L", L)
    _check_work("L", L, _states(Abar, Bbar, C) * L)
    x, out = Bbar, []
    for _ in range(L):
        out.append((C * x).sum(-1))
        x = (Abar @ x[..., None])[..., 0]
    return torch.stack(out, dim=-1)


def krylov_doubling(Abar: Any, Bbar: Any, C: Any, L: int) -> torch.Tensor:
    """Krylov kernel by doubling: ``[X, Abar^m X]`` with ``Abar^{2m}`` by squaring.

    Notes
    -----
    With :math:`X_m = [\\bar B, \\bar A \\bar B, \\dots, \\bar A^{m-1}\\bar B]`,
    :math:`X_{2m} = [X_m, \\bar A^m X_m]`; ``ceil(log2 L)`` matrix products and squarings
    instead of ``L`` matrix-vector products.

    Examples
    --------
    >>> import torch
    >>> from sciconv.ssm import hippo, discretize, krylov, krylov_doubling
    >>> A, B = (torch.as_tensor(v) for v in hippo("legt", 8))
    >>> Abar, Bbar = discretize(A, B, 0.05)
    >>> C = torch.linspace(-1.0, 1.0, 8, dtype=torch.float64)
    >>> K = krylov_doubling(Abar, Bbar, C, 100)
    >>> tuple(K.shape), bool(torch.allclose(K, krylov(Abar, Bbar, C, 100)))
    ((100,), True)
    """
    L = check_positive_int("L", L)
    _check_work("L", L, _states(Abar, Bbar, C) * 2 * L)  # X doubles up to 2L columns
    X = Bbar[..., :, None]
    power = Abar
    while X.shape[-1] < L:
        X = torch.cat([X, power @ X], dim=-1)
        if X.shape[-1] < L:
            power = power @ power
    return (C[..., None, :] @ X[..., :L])[..., 0, :]


def cauchy_kernel(v: Any, z: Any, w: Any, scale: Any = None) -> torch.Tensor:
    """Cauchy kernel ``k[..., j] = sum_n v[..., n] / (z[j] - scale[j] * w[n])``.

    ``v`` (..., N), ``z`` and ``scale`` (J,) (``scale`` defaults to ones), ``w`` (N,).
    Materialises (..., J, N). The homogeneous form with ``scale`` evaluates the bilinear
    generating function at ``z = -1`` without a division by zero.

    Examples
    --------
    :math:`k_0 = 1/2 + 1/1` and :math:`k_1 = 1/3 + 1/2`:

    >>> import torch
    >>> from sciconv.ssm import cauchy_kernel
    >>> v, w = torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0])
    >>> [round(k, 4) for k in cauchy_kernel(v, torch.tensor([2.0, 3.0]), w).tolist()]
    [1.5, 0.8333]
    """
    den = z[:, None] - (w[None, :] if scale is None else scale[:, None] * w[None, :])
    return (v[..., None, :] / den).sum(-1)


def _cauchy_dplr(lam, p, q, B, C, dt, L):
    """Kernel of the DPLR system through its generating function at the roots of unity."""
    A = torch.diag(lam) - p.transpose(0, 1) @ q.conj()
    Ab, _ = discretize(A, B, dt, "bilinear")
    k = torch.arange(L, device=lam.device, dtype=lam.real.dtype)
    # Bilinear images of the normal part's eigenvalues; one on the unit circle would make the
    # Cauchy kernels singular at a root of unity: then use the circle of radius rho = 2^(-1/L).
    ev = (1 + dt * lam / 2) / (1 - dt * lam / 2)
    rho = 2 ** (-1 / L) if bool((ev.abs() > 1 - 1e-8).any()) else 1.0
    Ct = C - rho**L * (C @ torch.linalg.matrix_power(Ab, L))  # C (I - rho^L Abar^L)
    z = rho * torch.exp(-2j * math.pi * k / L)
    z = z.to(lam.dtype if lam.is_complex() else torch.complex128)
    a, b = (1 - z) / dt, (1 + z) / 2
    lam_c = lam.to(z.dtype)
    qs = q.conj().to(z.dtype)
    pc, Bc, Cc = p.to(z.dtype), B.to(z.dtype), Ct.to(z.dtype)
    k_cb = cauchy_kernel(Cc * Bc, a, lam_c, b)  # (..., L)
    k_cp = cauchy_kernel(Cc[..., None, :] * pc, a, lam_c, b)  # (..., r, L)
    k_qp = cauchy_kernel(qs[:, None, :] * pc[None, :, :], a, lam_c, b)  # (r, r, L)
    k_qb = cauchy_kernel(qs * Bc, a, lam_c, b)  # (r, L)
    r = p.shape[0]
    if r:
        eye = torch.eye(r, dtype=z.dtype, device=z.device)
        M = eye + b[:, None, None] * k_qp.permute(2, 0, 1)  # (L, r, r)
        X = torch.linalg.solve(M, (b[None, :] * k_qb).T[..., None])[..., 0]  # (L, r)
        k_cb = k_cb - (k_cp * X.T).sum(-2)
    K = torch.fft.ifft(k_cb, dim=-1)
    if rho != 1.0:
        K = K * rho ** (-k)
    real = not any(t.is_complex() for t in (lam, p, q, B, C))
    return K.real if real else K


def ssm_kernel(
    A: Any,
    B: Any,
    C: Any,
    dt: Any,
    L: int,
    method: str = "auto",
    discretization: str = "bilinear",
    *,
    P: Any = None,
    Q: Any = None,
    chunk: int | None = None,
    alpha: float | None = None,
    diagonal: bool | None = None,
) -> Any:
    """Convolution kernel ``K_l = C Abar^l Bbar`` (``l < L``) of a discretised state-space model.

    Parameters
    ----------
    A : array or tensor
        Dense (N, N); or diagonal (N,) or a batch of diagonals (H, N); or, with ``P``, the
        diagonal ``Lambda`` of ``A = diag(Lambda) - P^T conj(Q)`` (DPLR).
    B : array or tensor
        (N,) (dense, DPLR), or broadcastable against a diagonal ``A``.
    C : array or tensor, shape (..., N)
        Output vectors; batch dimensions are kept (with a batch of diagonals (H, N) or a
        vector ``dt`` of shape (H,), ``C`` must broadcast against (H, N)).
    dt : float or array
        Step ``> 0``: a scalar, or (H,) per channel (dense and diagonal ``A``).
    L : int
        Kernel length ``>= 1``.
    method : {'auto', 'krylov', 'krylov_doubling', 'vandermonde', 'vandermonde_chunked', 'cauchy'}
        'auto': 'cauchy' with ``P``, 'vandermonde' for a diagonal ``A``, else 'krylov_doubling'.
        'vandermonde*' need a diagonal ``A``; 'cauchy' needs ``P`` and bilinear discretisation.
    discretization : {'zoh', 'bilinear', 'forward_euler', 'backward_euler', 'gbt'}
    P, Q : array or tensor, shape (r, N), optional
        Low-rank factors of a DPLR ``A`` (``Q`` defaults to ``P``).
    chunk : int, optional
        Powers per block for 'vandermonde_chunked' (default 128): memory ``O(N chunk + L)``.
    alpha : float, optional
        GBT parameter for ``discretization='gbt'``.
    diagonal : bool, optional
        Force reading a 2-d ``A`` as a batch of diagonals (needed when ``H == N``).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., L)
        Torch if any input is a tensor (differentiable); real unless an input is complex.

    Raises
    ------
    ValueError
        If ``A`` has no state (``N = 0``, as :func:`hippo` and S4D refuse), if ``A``, ``B``,
        ``C``, ``P`` or ``Q`` hold NaN or infinity, if the discretisation is singular
        (``1 - dt A / 2 = 0`` for 'bilinear', see :func:`discretize`), if ``L`` would need more
        than :data:`sciconv.vandermonde.APPLY_LIMIT` entries, or if the kernel overflows: an
        unstable system (a discrete eigenvalue of modulus > 1) whose powers leave the float
        range within ``L`` raises rather than return ``inf`` or ``NaN`` (a kernel that grows
        but stays finite is returned as is).

    Notes
    -----
    * Krylov: :math:`K = (C\\bar B, C\\bar A\\bar B, \\dots)`, by ``L`` products or by doubling
      (:func:`krylov_doubling`).
    * Vandermonde (diagonal :math:`\\bar A = \\mathrm{diag}(z)`):
      :math:`K_l = \\sum_n (C_n \\bar B_n) z_n^l`, computed by
      :func:`sciconv.vandermonde_apply`; for ZOH the nodes are passed as logarithms
      :math:`\\Delta a_n` (``log_nodes``), exact powers :math:`e^{l \\Delta a_n}`.
    * Cauchy (DPLR, bilinear; [2]_): the truncated generating function
      :math:`\\hat K(z) = \\sum_{l<L} K_l z^l = \\tilde C (I - \\bar A z)^{-1} \\bar B` with
      :math:`\\tilde C = C (I - \\bar A^L)`, at :math:`z_j = e^{-2\\pi i j/L}`, equals
      :math:`\\tilde C \\big(\\tfrac{1-z}{\\Delta} I - \\tfrac{1+z}{2} A\\big)^{-1} B`; with
      :math:`A = \\Lambda - P^T \\bar Q` and :math:`k_{xy} = \\sum_n x_n y_n /
      (\\frac{1-z}{\\Delta} - \\frac{1+z}{2}\\lambda_n)` (Cauchy kernels), Woodbury gives
      :math:`\\hat K = k_{\\tilde C B} - k_{\\tilde C P}(I + \\tfrac{1+z}{2} k_{\\bar Q P})^{-1}
      \\tfrac{1+z}{2} k_{\\bar Q B}`, and :math:`K = \\mathrm{ifft}(\\hat K)`. Here
      :math:`\\bar A^L` is formed densely (``O(N^3 log L)``, as S4 does once per setup).
      If an eigenvalue of the normal part maps onto the unit circle (FouT has
      :math:`\\lambda = 0`), the sum is evaluated on the circle :math:`|z| = \\rho = 2^{-1/L}`
      instead, with :math:`\\tilde C = C(I - \\rho^L \\bar A^L)` and :math:`K_l` rescaled by
      :math:`\\rho^{-l}` (an error growth of at most 2).

    References
    ----------
    .. [1] A. Gu, I. Johnson, K. Goel, K. Saab, T. Dao, A. Rudra and C. Ré, "Combining
       Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers",
       Advances in Neural Information Processing Systems (NeurIPS), 2021. arXiv:2110.13985.
    .. [2] A. Gu, K. Goel and C. Ré, "Efficiently Modeling Long Sequences with Structured State
       Spaces", International Conference on Learning Representations (ICLR), 2022.
       arXiv:2111.00396.
    .. [3] A. Gu, A. Gupta, K. Goel and C. Ré, "On the Parameterization and Initialization of
       Diagonal State Space Models", Advances in Neural Information Processing Systems
       (NeurIPS), 2022. arXiv:2206.11893.

    Examples
    --------
    The HiPPO-LegS kernel, densely by Krylov doubling and through the DPLR form by Cauchy
    kernels (S4's algorithm), agree:

    >>> import numpy as np
    >>> from sciconv.ssm import hippo, nplr, ssm_kernel
    >>> A, B = hippo("legs", 8)
    >>> C = np.random.default_rng(0).standard_normal(8)
    >>> K = ssm_kernel(A, B, C, dt=0.05, L=64)  # dense A: 'krylov_doubling'
    >>> K.shape
    (64,)
    >>> Lambda, P, Bt, V = nplr("legs", 8)
    >>> Kc = ssm_kernel(Lambda, Bt, C @ V, dt=0.05, L=64, P=P)  # 'cauchy'
    >>> bool(np.allclose(Kc, K))
    True

    A batch of diagonal systems (one per channel and step) by Vandermonde products:

    >>> Ad = np.array([[-0.5 + 1j, -0.5 + 2j, -0.1 + 0j], [-1 + 0.5j, -0.2 + 0j, -2 + 3j]])
    >>> C, dt = np.ones((2, 3)), np.array([0.1, 0.2])
    >>> Kd = ssm_kernel(Ad, 1.0, C, dt, 16, discretization="zoh")  # 'vandermonde'
    >>> Kk = ssm_kernel(Ad, 1.0, C, dt, 16, "krylov", "zoh")
    >>> Kd.shape, bool(np.allclose(Kd, Kk))
    ((2, 16), True)
    """
    check_choice("method", method, ("auto",) + KERNEL_METHODS)
    check_choice("discretization", discretization, DISCRETIZATIONS)
    L = check_positive_int("L", L)
    check_dt(dt)
    is_t = any(isinstance(v, torch.Tensor) for v in (A, B, C, dt, P, Q))
    ref = next((v for v in (A, B, C, P, Q) if isinstance(v, torch.Tensor)), None)
    dev = None if ref is None else ref.device
    A, B, C = (_t(v, dev) for v in (A, B, C))
    if A.ndim == 0 or A.shape[-1] == 0 or A.numel() == 0:
        raise ValueError(f"A must hold N >= 1 states (as hippo and S4D require), got {describe(A)}")
    for name, v in (("P", P), ("Q", Q)):  # A and B are checked by discretize
        if v is not None:
            check_finite(name, _t(v, dev))
    K = _kernel(A, B, C, dt, L, method, discretization, P, Q, chunk, alpha, diagonal, dev)
    _check_kernel_finite(K, A, C, dt, discretization)
    return K if is_t else K.detach().numpy()


def _check_kernel_finite(
    K: torch.Tensor, A: torch.Tensor, C: torch.Tensor, dt: Any, discretization: str
) -> None:
    """Raise when the kernel is not finite: a non-finite ``C``, or an overflow (unstable
    system). One host sync on the normal path; the diagnosis runs only on failure."""
    if traced(K) or not checking_values():  # in-graph assertion (or none): no diagnosis
        require(torch.isfinite(K.detach()), "the SSM kernel must be finite (a stable A)")
        return
    bad = ~torch.isfinite(K.detach())
    if not bool(bad.any()):
        return
    check_finite("C", C)
    first = int(bad.reshape(-1, K.shape[-1]).any(0).nonzero()[0])
    raise ValueError(
        f"the kernel overflows from K[{first}] on: A ({describe(A)}) with dt="
        f"{dt if isinstance(dt, numbers.Real) else describe(dt)} and "
        f"discretization {discretization!r} is unstable (a discrete eigenvalue |Abar| > 1 "
        f"grows like |Abar|**l past the float range within L={K.shape[-1]}); use a stable A "
        f"(eigenvalues with negative real part), a smaller dt or a shorter L"
    )


def _kernel(A, B, C, dt, L, method, discretization, P, Q, chunk, alpha, diagonal, dev):
    """:func:`ssm_kernel` after validation: the kernel as a torch tensor."""
    dt_t = _t(dt, dev) if isinstance(dt, torch.Tensor) or np.ndim(dt) else None
    dt = dt_t if dt_t is not None else float(dt)
    if P is not None:
        p = _t(P, dev)
        q = p if Q is None else _t(Q, dev)
        A, B, C, p, q = _common(A, B, C, p, q)
        _check_dplr(A, p, q)
        if method == "auto":
            method = "cauchy"
        if method.startswith("vandermonde"):
            raise ValueError(f"method={method!r} needs a diagonal A; got a DPLR A (P given)")
        if method == "cauchy":
            if discretization != "bilinear":
                raise ValueError(
                    f"discretization must be 'bilinear' for method='cauchy', got {discretization!r}"
                )
            if isinstance(dt, torch.Tensor) and dt.ndim != 0:
                raise ValueError(f"dt must be a scalar for method='cauchy', got {describe(dt)}")
            _check_bc(B, C, A.shape[0], dense=True)
            _check_work("L", L, _states(A, B, C) * (p.shape[0] + 1) ** 2 * L)
            return _cauchy_dplr(A, p, q, B, C, dt, L)
        A, diagonal = torch.diag(A) - p.transpose(0, 1) @ q.conj(), False
    else:
        A, B, C = _common(A, B, C)
    if diagonal is None:
        diagonal = not (A.ndim == 2 and A.shape[0] == A.shape[1])
    if method == "auto":
        method = "vandermonde" if diagonal else "krylov_doubling"
    if method == "cauchy":
        raise ValueError("method='cauchy' needs the low-rank factor P of a DPLR A, got P=None")
    if diagonal and A.ndim not in (1, 2):
        raise ValueError(f"A must be (N,) or (H, N) when diagonal, got {describe(A)}")
    if not diagonal:
        if method.startswith("vandermonde"):
            raise ValueError(f"method={method!r} needs a diagonal A, got a dense {describe(A)}")
        _check_bc(B, C, A.shape[0], dense=True)
        Ab, Bb = discretize(A, B, dt, discretization, alpha=alpha, diagonal=False)
        return (krylov if method == "krylov" else krylov_doubling)(Ab, Bb, C, L)
    _check_bc(B, C, A.shape[-1], dense=False)
    d = dt[:, None] if isinstance(dt, torch.Tensor) and dt.ndim == 1 else dt
    Ab, Bb = discretize(A, B, d, discretization, alpha=alpha, diagonal=True)
    if method.startswith("krylov"):
        fn = krylov if method == "krylov" else krylov_doubling
        Ab, Bb = torch.broadcast_tensors(Ab, Bb)
        return fn(torch.diag_embed(Ab), Bb, C, L)
    if method == "vandermonde_chunked":
        chunk = DEFAULT_CHUNK if chunk is None else check_positive_int("chunk", chunk)
    log = discretization == "zoh"
    nodes = torch.broadcast_to(A * d if log else Ab, torch.broadcast_shapes(Ab.shape, Bb.shape))
    coef = C * Bb
    return vandermonde_apply(nodes, coef, L, chunk=chunk, log_nodes=log)  # per-channel nodes


def _check_bc(B: torch.Tensor, C: torch.Tensor, N: int, dense: bool) -> None:
    if dense and (B.ndim != 1 or B.shape[0] != N):
        raise ValueError(f"B must have shape ({N},) to match A, got {describe(B)}")
    if not dense and B.ndim and B.shape[-1] not in (1, N):
        raise ValueError(f"B must broadcast against (..., {N}) to match A, got {describe(B)}")
    if C.ndim < 1 or C.shape[-1] != N:
        raise ValueError(f"C must have shape (..., {N}) to match A, got {describe(C)}")
