"""Convolution kernels as tensors (out, in, *kernel_size) and their CP, Tucker and TT forms.

One function, :func:`decompose`, runs tensorly (pytorch or numpy backend) on a kernel and
returns its factors in the layout the factorized layers of :mod:`tensors.layers` use; the
``*_to_kernel`` functions rebuild the dense kernel from factors (pure torch, autograd works).

References
----------
Kolda and Bader, "Tensor Decompositions and Applications", SIAM Review 51(3), 455-500, 2009.

Oseledets, "Tensor-Train Decomposition", SIAM Journal on Scientific Computing 33(5), 2295-2317,
2011.

Lebedev, Ganin, Rakhuba, Oseledets and Lempitsky, "Speeding-up Convolutional Neural Networks Using
Fine-tuned CP-Decomposition", ICLR 2015. arXiv:1412.6553 (CP of a 4-way kernel).

Kim, Park, Yoo, Choi, Yang and Shin, "Compression of Deep Convolutional Neural Networks for Fast
and Low Power Mobile Applications", ICLR 2016. arXiv:1511.06530 (Tucker-2: partial Tucker on the
two channel modes).

Kossaifi, Panagakis, Anandkumar and Pantic, "TensorLy: Tensor Learning in Python", Journal of
Machine Learning Research 20(26), 1-6, 2019.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorly as tl
import torch
from tensorly.decomposition import parafac, partial_tucker, tensor_train

from sciconv.validation import check_choice, check_finite, check_positive_int, describe

__all__ = [
    "KINDS",
    "Decomposition",
    "cp_to_kernel",
    "decompose",
    "max_rank",
    "resolve_rank",
    "tt_to_kernel",
    "tucker_to_kernel",
]

#: Decomposition kinds understood by :func:`decompose` and the layers.
KINDS = ("cp", "tucker", "tt")


def max_rank(kind: str, shape: Sequence[int]) -> tuple[int, ...]:
    """Largest useful rank of each bond for a kernel of ``shape = (out, in, *kernel_size)``.

    Parameters
    ----------
    kind : {'cp', 'tucker', 'tt'}
    shape : sequence of int
        Kernel shape with 1, 2 or 3 spatial axes.

    Returns
    -------
    tuple of int
        CP: ``(prod(shape) // max(shape),)``; Tucker: ``(out, in)``; TT: one bound per bond of
        the train ``in - k_1 - ... - k_d - out``.

    Notes
    -----
    Every tensor :math:`W` of shape :math:`n_1\\times\\dots\\times n_p` is the sum of
    :math:`\\prod_j n_j / \\max_j n_j` rank-one terms (one per fibre along the longest mode), so
    this is an upper bound of the CP rank and the rank at which :func:`decompose` is exact.
    A Tucker rank cannot exceed the mode sizes; the TT rank of bond :math:`a` cannot exceed
    :math:`\\min(\\prod_{j\\le a} n_j, \\prod_{j>a} n_j)` in the order ``(in, *k, out)``.

    Examples
    --------
    >>> from tensors import max_rank
    >>> shape = (8, 4, 3, 3)  # (out, in, kh, kw)
    >>> max_rank("cp", shape), max_rank("tucker", shape), max_rank("tt", shape)
    ((36,), (8, 4), (4, 12, 8))
    """
    kind = check_choice("kind", kind, KINDS)
    shape = tuple(int(s) for s in shape)
    if kind == "cp":
        return (math.prod(shape) // max(shape),)
    if kind == "tucker":
        return (shape[0], shape[1])
    dims = (shape[1], *shape[2:], shape[0])
    return tuple(
        min(math.prod(dims[: a + 1]), math.prod(dims[a + 1 :])) for a in range(len(dims) - 1)
    )


def resolve_rank(kind: str, shape: Sequence[int], rank: Any) -> tuple[int, ...]:
    """Check ``rank`` against :func:`max_rank` and return one int per bond.

    ``rank`` is an int (the same on every bond), a sequence with one int per bond, or
    ``'full'`` (the bounds). A rank ``<= 0`` or above its bound raises ``ValueError``.

    Examples
    --------
    >>> from tensors import resolve_rank
    >>> shape = (8, 4, 3, 3)
    >>> resolve_rank("tucker", shape, 2), resolve_rank("tt", shape, [2, 3, 2])
    ((2, 2), (2, 3, 2))
    >>> resolve_rank("tt", shape, "full")
    (4, 12, 8)
    >>> resolve_rank("tucker", shape, 5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: rank 5 is too large for kind='tucker' and kernel shape (8, 4, 3, 3): ...
    """
    bounds = max_rank(kind, shape)
    if isinstance(rank, str):
        if rank != "full":
            raise ValueError(f"rank must be an int, a sequence of ints or 'full', got {rank!r}")
        return bounds
    if isinstance(rank, Sequence):
        if len(rank) != len(bounds):
            raise ValueError(
                f"rank must have {len(bounds)} entries for kind={kind!r} and kernel shape "
                f"{tuple(shape)}, got {describe(rank)}"
            )
        ranks = tuple(check_positive_int("rank", r) for r in rank)
    else:
        ranks = (check_positive_int("rank", rank),) * len(bounds)
    if any(r > b for r, b in zip(ranks, bounds)):
        raise ValueError(
            f"rank {rank!r} is too large for kind={kind!r} and kernel shape {tuple(shape)}: "
            f"expected at most {bounds} per bond"
        )
    return ranks


def _check_kernel(weight: Any) -> torch.Tensor:
    if isinstance(weight, np.ndarray):
        weight = torch.from_numpy(np.asarray(weight, dtype=np.float64))
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch tensor or numpy array, got {describe(weight)}")
    if weight.ndim not in (3, 4, 5):
        raise ValueError(
            "weight must be a conv kernel (out, in, *kernel_size) with 1-3 spatial axes "
            f"(4-way for 2D), got {describe(weight)}"
        )
    if not weight.dtype.is_floating_point:
        raise TypeError(f"weight must be a real floating tensor, got {describe(weight)}")
    check_finite("weight", weight)
    return weight.detach()


def cp_to_kernel(
    out_factor: torch.Tensor, in_factor: torch.Tensor, spatial: Sequence[torch.Tensor]
) -> torch.Tensor:
    r"""Dense kernel from CP factors.

    :math:`W_{oi t_1\dots t_d} = \sum_r U^{out}_{or} U^{in}_{ir}\prod_a S^{(a)}_{t_a r}`.

    Factors: ``out_factor (O, R)`` (CP weights absorbed), ``in_factor (I, R)``, ``spatial[a]
    (k_a, R)``.

    Examples
    --------
    A rank-one kernel is the outer product of its four factors:

    >>> import torch
    >>> from tensors import cp_to_kernel
    >>> _ = torch.manual_seed(0)
    >>> out, inp = torch.randn(2, 1), torch.randn(3, 1)
    >>> kh, kw = torch.randn(3, 1), torch.randn(5, 1)
    >>> k = cp_to_kernel(out, inp, [kh, kw])
    >>> k.shape
    torch.Size([2, 3, 3, 5])
    >>> outer = torch.einsum("o,i,h,w->oihw", out[:, 0], inp[:, 0], kh[:, 0], kw[:, 0])
    >>> torch.allclose(k, outer)
    True
    """
    # Khatri-Rao product of the small factors first, then one (O, R) x (R, I*K) matmul: the
    # largest intermediate is I*K*R, never O*I*R.
    kr = in_factor  # (I, R) -> (I, k_1, ..., k_d, R)
    for s in spatial:
        kr = kr.unsqueeze(-2) * s
    sizes = [in_factor.shape[0], *(s.shape[0] for s in spatial)]
    return (out_factor @ kr.reshape(-1, kr.shape[-1]).T).reshape(-1, *sizes)


def tucker_to_kernel(
    out_factor: torch.Tensor, in_factor: torch.Tensor, core: torch.Tensor
) -> torch.Tensor:
    r"""Dense kernel :math:`W = G \times_1 U^{out} \times_2 U^{in}` (partial Tucker).

    Factors: ``out_factor (O, R_o)``, ``in_factor (I, R_i)``, ``core (R_o, R_i, *k)``.

    Examples
    --------
    >>> import torch
    >>> from tensors import tucker_to_kernel
    >>> _ = torch.manual_seed(0)
    >>> core = torch.randn(2, 3, 3, 3)
    >>> torch.allclose(tucker_to_kernel(torch.eye(2), torch.eye(3), core), core)
    True
    >>> tucker_to_kernel(torch.randn(8, 2), torch.randn(4, 3), core).shape
    torch.Size([8, 4, 3, 3])
    """
    return torch.einsum("pq...,op,iq->oi...", core, out_factor, in_factor)


def tt_to_kernel(
    in_core: torch.Tensor, spatial: Sequence[torch.Tensor], out_core: torch.Tensor
) -> torch.Tensor:
    r"""Dense kernel from a tensor train in the order ``(in, k_1, ..., k_d, out)``.

    :math:`W_{o i t_1 \dots t_d} = \sum G^{in}_{i r_0} G^{(1)}_{r_0 t_1 r_1}\cdots
    G^{(d)}_{r_{d-1} t_d r_d} G^{out}_{r_d o}`, with ``in_core (I, r_0)``, ``spatial[a]
    (r_{a-1}, k_a, r_a)`` and ``out_core (r_d, O)``.

    Examples
    --------
    >>> import torch
    >>> from tensors import tt_to_kernel
    >>> _ = torch.manual_seed(0)
    >>> g_in, g_out = torch.randn(3, 2), torch.randn(2, 5)  # (I, r_0), (r_2, O)
    >>> g_h, g_w = torch.randn(2, 3, 4), torch.randn(4, 3, 2)  # (r_0, kh, r_1), (r_1, kw, r_2)
    >>> k = tt_to_kernel(g_in, [g_h, g_w], g_out)
    >>> k.shape
    torch.Size([5, 3, 3, 3])
    >>> torch.allclose(k, torch.einsum("ia,ahb,bwc,co->oihw", g_in, g_h, g_w, g_out), atol=1e-6)
    True
    """
    t = in_core  # (I, r)
    for core in spatial:  # t: (I, k_1..k_{a-1}, r) -> (I, k_1..k_a, r')
        t = torch.tensordot(t, core, dims=([t.ndim - 1], [0]))
    t = torch.tensordot(t, out_core, dims=([t.ndim - 1], [0]))  # (I, *k, O)
    return t.movedim(-1, 0)


@dataclass
class Decomposition:
    """Factors of a conv kernel in the layout of :mod:`tensors.layers`.

    Attributes
    ----------
    kind : str
        'cp', 'tucker' or 'tt'.
    rank : tuple of int
        The rank of each bond (see :func:`max_rank`).
    factors : tuple of torch.Tensor
        CP: ``(out_factor, in_factor, *spatial)``; Tucker: ``(out_factor, in_factor, core)``;
        TT: ``(in_core, *spatial, out_core)`` (shapes in the ``*_to_kernel`` functions).
    error : float
        Relative Frobenius reconstruction error :math:`\\|W-\\hat W\\|_F/\\|W\\|_F`.

    Examples
    --------
    >>> import torch
    >>> from tensors import decompose
    >>> _ = torch.manual_seed(0)
    >>> w = torch.randn(8, 4, 3, 3, dtype=torch.float64)
    >>> dec = decompose(w, "cp", rank=6)
    >>> dec.kind, dec.rank, [tuple(f.shape) for f in dec.factors]
    ('cp', (6,), [(8, 6), (4, 6), (3, 6), (3, 6)])
    >>> rel = torch.linalg.vector_norm(dec.reconstruct() - w) / torch.linalg.vector_norm(w)
    >>> round(dec.error, 10) == round(rel.item(), 10)
    True
    """

    kind: str
    rank: tuple[int, ...]
    factors: tuple[torch.Tensor, ...]
    error: float

    def reconstruct(self) -> torch.Tensor:
        """The dense kernel ``(out, in, *kernel_size)`` the factors represent."""
        f = self.factors
        if self.kind == "cp":
            return cp_to_kernel(f[0], f[1], f[2:])
        if self.kind == "tucker":
            return tucker_to_kernel(f[0], f[1], f[2])
        return tt_to_kernel(f[0], f[1:-1], f[-1])


def _exact_cp(w: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """CP at the slice bound: one rank-one term per fibre along the longest mode."""
    m = int(np.argmax(w.shape))
    others = [j for j in range(w.ndim) if j != m]
    fibres = w.movedim(m, -1).reshape(-1, w.shape[m])  # (R, n_m), rows in C order of others
    idx = np.unravel_index(np.arange(fibres.shape[0]), [w.shape[j] for j in others])
    factors: list[torch.Tensor] = [None] * w.ndim  # type: ignore[list-item]
    factors[m] = fibres.T.contiguous()
    for j, ij in zip(others, idx):
        eye = torch.zeros(w.shape[j], fibres.shape[0], dtype=w.dtype, device=w.device)
        eye[torch.as_tensor(ij, device=w.device), torch.arange(fibres.shape[0])] = 1
        factors[j] = eye
    return tuple(factors)


def _zero_factors(kind: str, w: torch.Tensor, ranks: tuple[int, ...]) -> list[torch.Tensor]:
    """Exact factors of an all-zero kernel: identity-like factors, zero output factor/core.

    Only the factor nearest the output (CP, TT) or the core (Tucker) is zero, so a layer
    built from them still gets nonzero gradients for it.
    """
    kw = {"dtype": w.dtype, "device": w.device}
    out_ch, in_ch, *ks = (int(v) for v in w.shape)
    if kind == "cp":
        r = ranks[0]
        return [torch.zeros(out_ch, r, **kw), *(torch.eye(n, r, **kw) for n in (in_ch, *ks))]
    if kind == "tucker":
        ro, ri = ranks
        return [
            torch.eye(out_ch, ro, **kw),
            torch.eye(in_ch, ri, **kw),
            torch.zeros(ro, ri, *ks, **kw),
        ]
    cores = [torch.eye(in_ch, ranks[0], **kw)]
    for a, k in enumerate(ks):
        core = torch.zeros(ranks[a], k, ranks[a + 1], **kw)
        diag = torch.arange(min(ranks[a], ranks[a + 1]), device=w.device)
        core[diag, 0, diag] = 1
        cores.append(core)
    return [*cores, torch.zeros(ranks[-1], out_ch, **kw)]


def _run_tensorly(kind, w, ranks, backend, n_iter_max, tol, random_state):
    """Run tensorly on ``w`` and return factors as tensors of ``w``'s dtype and device."""
    dims = w.ndim
    x = w if backend == "pytorch" else w.cpu().numpy()
    with tl.backend_context(backend):
        if kind == "cp":
            with warnings.catch_warnings():  # SVD start pads modes shorter than R randomly
                warnings.filterwarnings("ignore", message="Trying to compute SVD")
                cp = parafac(
                    x,
                    ranks[0],
                    n_iter_max=n_iter_max,
                    init="svd",
                    random_state=random_state,
                    **({} if tol is None else {"tol": tol}),
                )
            weights, factors = cp.weights, list(cp.factors)
            factors[0] = factors[0] * weights[None, :]
            out = factors
        elif kind == "tucker":
            (core, (u_out, u_in)), _ = partial_tucker(
                x,
                rank=ranks,
                modes=(0, 1),
                n_iter_max=n_iter_max,
                **({} if tol is None else {"tol": tol}),
            )
            out = [u_out, u_in, core]
        else:
            perm = (1, *range(2, dims), 0)
            y = x.permute(*perm).contiguous() if backend == "pytorch" else x.transpose(perm)
            cores = tensor_train(y, rank=(1, *ranks, 1)).factors
            out = [cores[0][0], *cores[1:-1], cores[-1][..., 0]]
    return [torch.as_tensor(f).to(dtype=w.dtype, device=w.device) for f in out]


def decompose(
    weight: torch.Tensor | np.ndarray,
    kind: str = "cp",
    rank: int | Sequence[int] | str = "full",
    *,
    backend: str = "auto",
    n_iter_max: int = 200,
    tol: float | None = None,
    random_state: int | None = 0,
) -> Decomposition:
    r"""Decompose a conv kernel ``(out, in, *kernel_size)`` with tensorly.

    Parameters
    ----------
    weight : torch.Tensor or numpy.ndarray
        The kernel, with 1, 2 or 3 spatial axes (a 4-way tensor for 2D convolutions).
    kind : {'cp', 'tucker', 'tt'}
        CP (``parafac``), partial Tucker on the two channel modes (``partial_tucker``) or
        tensor train (``tensor_train``) in the mode order ``(in, *kernel_size, out)``.
    rank : int, sequence of int or 'full'
        See :func:`resolve_rank`; at the bounds of :func:`max_rank` the decomposition is exact.
    backend : {'auto', 'pytorch', 'numpy'}
        tensorly backend; the factors are returned as torch tensors on ``weight``'s device
        either way. 'auto' uses numpy for CPU tensors (tensorly's iterations on kernel-sized
        tensors run ~10-20x faster there) and pytorch otherwise.
    n_iter_max : int
        Iteration limit of ALS (CP) and HOOI (Tucker).
    tol : float or None
        Their tolerance; None keeps tensorly's defaults (1e-8 for CP, 1e-4 for Tucker).
    random_state : int or None
        Seed of the CP initialisation where the SVD start needs random columns.

    Returns
    -------
    Decomposition
        Factors, ranks and the relative reconstruction error.

    Raises
    ------
    ValueError
        ``weight`` not 3-, 4- or 5-way, ``rank <= 0`` or above its bound, unknown ``kind``.

    Notes
    -----
    An all-zero ``weight`` gives exact factors (error 0) without running tensorly: the output
    factor (CP, TT) or the core (Tucker) is zero and the others are identity-like.

    CP writes :math:`W_{oihw} \approx \sum_{r=1}^R a_{or} b_{ir} c_{hr} d_{wr}` — the product of a
    1x1, a kx1 (depthwise), a 1xk (depthwise) and a 1x1 convolution. Partial Tucker writes
    :math:`W \approx G \times_1 U \times_2 V` with a core :math:`G` of shape
    :math:`(R_o, R_i, k_h, k_w)`: 1x1, core conv, 1x1. The tensor train
    :math:`W_{oihw} = G^{in}_{i}G^{h}_{h}G^{w}_{w}G^{out}_{o}` (matrix products over the bonds)
    is 1x1, kx1, 1xk, 1x1 with full (not depthwise) channel mixing. At the CP bound the
    decomposition is built directly from the fibres (ALS would only approach it); Tucker and
    TT at full rank are exact SVD-based decompositions.

    Examples
    --------
    >>> import torch
    >>> from tensors import KINDS, decompose
    >>> KINDS
    ('cp', 'tucker', 'tt')
    >>> _ = torch.manual_seed(0)
    >>> w = torch.randn(8, 4, 3, 3, dtype=torch.float64)
    >>> [decompose(w, kind, "full").error < 1e-10 for kind in KINDS]  # exact at the bounds
    [True, True, True]
    >>> dec = decompose(w, "tucker", rank=(4, 2))
    >>> dec.rank, [tuple(f.shape) for f in dec.factors]
    ((4, 2), [(8, 4), (4, 2), (4, 2, 3, 3)])
    >>> 0 < dec.error < 1  # truncated: an approximation
    True
    """
    w = _check_kernel(weight)
    kind = check_choice("kind", kind, KINDS)
    backend = check_choice("backend", backend, ("auto", "pytorch", "numpy"))
    if backend == "auto":
        backend = "numpy" if w.device.type == "cpu" else "pytorch"
    ranks = resolve_rank(kind, tuple(w.shape), rank)
    if not bool(w.any()):  # tensorly's CP-ALS hits a singular system on zeros (LinAlgError)
        factors = _zero_factors(kind, w, ranks)
    elif kind == "cp" and ranks == max_rank("cp", tuple(w.shape)):
        factors = list(_exact_cp(w))
    else:
        factors = _run_tensorly(kind, w, ranks, backend, n_iter_max, tol, random_state)
    dec = Decomposition(kind=kind, rank=ranks, factors=tuple(factors), error=0.0)
    norm = torch.linalg.vector_norm(w)
    diff = torch.linalg.vector_norm(dec.reconstruct() - w)
    dec.error = float(diff / norm) if norm > 0 else float(diff)
    return dec
