"""Linear recurrences ``h_t = a_t * h_{t-1} + b_t``: parallel scans and the sequential loop.

All functions take torch tensors (real or complex), keep autograd, and scan along ``dim``.
The parallel scan treats the step :math:`h \\mapsto a h + b` as an associative operator, as
in the prefix sums of [1]_.

References
----------
.. [1] G. E. Blelloch, "Prefix Sums and Their Applications", Technical Report
   CMU-CS-90-190, School of Computer Science, Carnegie Mellon University, 1990.
"""

from __future__ import annotations

from typing import Any

import torch

from ..validation import check_choice, check_positive_int, describe

__all__ = ["SCAN_METHODS", "linear_scan", "sequential_scan"]

SCAN_METHODS = ("blelloch", "chunked", "sequential")


def _prepare(a: Any, b: Any, h0: Any, dim: int) -> tuple:
    if not isinstance(b, torch.Tensor):
        raise TypeError(f"b must be a torch.Tensor, got {describe(b)}")
    a = torch.as_tensor(a, device=b.device)
    if not -b.ndim <= dim < b.ndim:
        raise ValueError(f"dim must lie in [-{b.ndim}, {b.ndim}) for b of ndim {b.ndim}, got {dim}")
    dim = dim % b.ndim
    a = a.reshape((1,) * (b.ndim - a.ndim) + tuple(a.shape))
    try:
        shape = torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        shape = None
    if shape is None or shape != b.shape:
        raise ValueError(f"a must broadcast to the shape of b {tuple(b.shape)}, got {describe(a)}")
    a = torch.movedim(a, dim, 0).expand(torch.movedim(b, dim, 0).shape)
    b = torch.movedim(b, dim, 0)
    if b.shape[0] < 1:
        raise ValueError(f"b must have length >= 1 along dim {dim}, got shape {tuple(b.shape)}")
    if h0 is not None:
        h0 = torch.as_tensor(h0, device=b.device)
        try:
            ok = torch.broadcast_shapes(h0.shape, b.shape[1:]) == b.shape[1:]
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"h0 must broadcast to the state shape {tuple(b.shape[1:])}, got {describe(h0)}"
            )
    dtype = torch.promote_types(a.dtype, b.dtype)
    if h0 is not None:
        dtype = torch.promote_types(dtype, h0.dtype)
    return a.to(dtype), b.to(dtype), (None if h0 is None else h0.to(dtype)), dim


def _scan_first(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Odd-even recursive scan along dim 0 (no initial state): ``O(L)`` work, depth log L."""
    L = b.shape[0]
    if L == 1:
        return b
    if L % 2:
        a = torch.cat([a, torch.ones_like(a[:1])])
        b = torch.cat([b, torch.zeros_like(b[:1])])
    a_e, a_o, b_e, b_o = a[0::2], a[1::2], b[0::2], b[1::2]
    h_odd = _scan_first(a_o * a_e, a_o * b_e + b_o)  # h at t = 1, 3, 5, ...
    h_even = torch.cat([b_e[:1], a_e[1:] * h_odd[:-1] + b_e[1:]])  # h at t = 0, 2, 4, ...
    h = torch.stack([h_even, h_odd], dim=1).reshape((-1,) + tuple(b.shape[1:]))
    return h[:L]


def _prefix_prod(a: torch.Tensor) -> torch.Tensor:
    """Prefix products along dim 0 by the same odd-even recursion (autograd-safe, complex)."""
    L = a.shape[0]
    if L == 1:
        return a
    if L % 2:
        a = torch.cat([a, torch.ones_like(a[:1])])
    a_e, a_o = a[0::2], a[1::2]
    p_odd = _prefix_prod(a_e * a_o)
    p_even = torch.cat([a_e[:1], p_odd[:-1] * a_e[1:]])
    return torch.stack([p_even, p_odd], dim=1).reshape((-1,) + tuple(a.shape[1:]))[:L]


def sequential_scan(a: Any, b: Any, h0: Any = None, dim: int = 0) -> torch.Tensor:
    """Reference loop ``h_t = a_t * h_{t-1} + b_t`` (``h_{-1} = h0`` or 0) along ``dim``.

    Examples
    --------
    The impulse response of ``h_t = h_{t-1} / 2 + b_t``:

    >>> import torch
    >>> from sciconv.ssm import sequential_scan
    >>> sequential_scan(0.5, torch.tensor([1.0, 0.0, 0.0, 0.0])).tolist()
    [1.0, 0.5, 0.25, 0.125]
    """
    a, b, h0, d = _prepare(a, b, h0, dim)
    h = torch.zeros_like(b[0]) if h0 is None else h0 + torch.zeros_like(b[0])
    out = []
    for t in range(b.shape[0]):
        h = a[t] * h + b[t]
        out.append(h)
    return torch.movedim(torch.stack(out), 0, d)


def linear_scan(
    a: Any,
    b: Any,
    h0: Any = None,
    dim: int = 0,
    method: str = "blelloch",
    chunk: int = 64,
) -> torch.Tensor:
    """All states of the linear recurrence ``h_t = a_t * h_{t-1} + b_t`` along ``dim``.

    Parameters
    ----------
    a : tensor or number
        Multipliers, broadcastable to ``b`` (e.g. a time-invariant diagonal state matrix).
    b : torch.Tensor
        Inputs; ``b.shape[dim]`` is the sequence length ``L``.
    h0 : tensor, optional
        State before the first step (broadcast to the shape of one step); default zero.
    dim : int
        Time axis.
    method : {'blelloch', 'chunked', 'sequential'}
        'blelloch': the odd-even (Blelloch-type) recursive scan, ``O(L)`` work in
        ``log2 L`` levels of batched tensor operations. 'chunked': scans of length ``chunk`` in
        parallel, then one carry per chunk (``L / chunk`` sequential steps). 'sequential': the
        reference loop.
    chunk : int
        Chunk length for 'chunked'.

    Returns
    -------
    torch.Tensor
        ``h`` with the shape of ``b`` (dtype promoted over ``a``, ``b``, ``h0``); differentiable.

    Notes
    -----
    The step :math:`h \\mapsto a h + b` composes associatively:
    :math:`(a_2, b_2) \\circ (a_1, b_1) = (a_2 a_1, a_2 b_1 + b_2)`. The odd-even scan combines
    neighbours :math:`(2i, 2i+1)`, recursively scans the ``L/2`` pairs (the states at odd
    times), then fills even times by one more step. With an initial state,
    :math:`h_t = \\tilde h_t + (\\prod_{s \\le t} a_s) h_0` where :math:`\\tilde h` starts at
    zero.

    References
    ----------
    .. [1] G. E. Blelloch, "Prefix Sums and Their Applications", Technical Report
       CMU-CS-90-190, School of Computer Science, Carnegie Mellon University, 1990.

    Examples
    --------
    With ``a = 1`` the scan is a cumulative sum, shifted by the initial state:

    >>> import torch
    >>> from sciconv.ssm import linear_scan, sequential_scan
    >>> b = torch.arange(1.0, 6.0)
    >>> linear_scan(torch.ones(5), b).tolist(), linear_scan(1.0, b, h0=10.0).tolist()
    ([1.0, 3.0, 6.0, 10.0, 15.0], [11.0, 13.0, 16.0, 20.0, 25.0])

    Complex diagonal state (4 channels, time along ``dim=-1``), every method agrees:

    >>> gen = torch.Generator().manual_seed(0)
    >>> a = 0.9 * torch.exp(1j * torch.rand(4, 1, generator=gen, dtype=torch.float64))
    >>> b = torch.randn(4, 100, generator=gen, dtype=torch.complex128)
    >>> ref = sequential_scan(a, b, dim=-1)
    >>> [bool(torch.allclose(linear_scan(a, b, dim=-1, method=m, chunk=16), ref))
    ...  for m in ("blelloch", "chunked")]
    [True, True]
    """
    check_choice("method", method, SCAN_METHODS)
    if method == "sequential":
        return sequential_scan(a, b, h0, dim)
    chunk = check_positive_int("chunk", chunk)
    a, b, h0, d = _prepare(a, b, h0, dim)
    if method == "blelloch":
        h = _scan_first(a, b)
        if h0 is not None:
            h = h + _prefix_prod(a) * h0
        return torch.movedim(h, 0, d)
    L = b.shape[0]
    n = -(-L // chunk)
    pad = n * chunk - L
    if pad:
        a = torch.cat([a, a.new_ones((pad,) + tuple(a.shape[1:]))])
        b = torch.cat([b, b.new_zeros((pad,) + tuple(b.shape[1:]))])
    rest = tuple(b.shape[1:])
    ac = a.reshape((n, chunk) + rest).transpose(0, 1)  # (chunk, n, ...)
    bc = b.reshape((n, chunk) + rest).transpose(0, 1)
    local = _scan_first(ac, bc)  # states per chunk from zero
    prods = _prefix_prod(ac)  # products within each chunk
    carry = torch.zeros_like(b[0]) if h0 is None else h0 + torch.zeros_like(b[0])
    out = []
    for j in range(n):
        hj = local[:, j] + prods[:, j] * carry
        out.append(hj)
        carry = hj[-1]
    h = torch.cat(out)[:L]
    return torch.movedim(h, 0, d)
