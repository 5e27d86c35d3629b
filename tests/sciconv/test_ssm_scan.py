"""Parallel linear-recurrence scans against the sequential float64 loop, values and gradients.

Reference: ``sequential_scan`` (the loop ``h_t = a_t h_{t-1} + b_t``), itself checked against an
explicit numpy loop. Tolerance 1e-12 relative (float64), gradients included.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.ssm import linear_scan, sequential_scan


def test_sequential_reference_matches_numpy_loop():
    """sequential_scan equals a plain numpy loop with h0 (1e-15)."""
    rng = np.random.default_rng(0)
    a, b, h0 = rng.uniform(-1, 1, (9, 3)), rng.standard_normal((9, 3)), rng.standard_normal(3)
    h, ref = h0.copy(), []
    for t in range(9):
        h = a[t] * h + b[t]
        ref.append(h)
    out = sequential_scan(torch.as_tensor(a), torch.as_tensor(b), torch.as_tensor(h0))
    np.testing.assert_allclose(out.numpy(), np.array(ref), rtol=1e-15, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(
    L=st.integers(1, 130),
    width=st.integers(1, 4),
    method=st.sampled_from(["blelloch", "chunked"]),
    chunk=st.integers(1, 40),
    with_h0=st.booleans(),
    is_complex=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_parallel_scan_equals_loop(L, width, method, chunk, with_h0, is_complex, seed):
    """Random lengths (odd, even, 1), complex or real, with and without h0: 1e-12 relative."""
    g = torch.Generator().manual_seed(seed)
    dtype = torch.complex128 if is_complex else torch.float64
    a = torch.rand(L, width, 2, generator=g, dtype=torch.float64) * 1.4 - 0.7
    if is_complex:
        a = a * torch.exp(1j * torch.rand(L, width, 2, generator=g, dtype=torch.float64))
    b = torch.randn(L, width, 2, generator=g, dtype=torch.float64).to(dtype)
    h0 = torch.randn(width, 2, generator=g, dtype=torch.float64).to(dtype) if with_h0 else None
    ref = sequential_scan(a, b, h0)
    out = linear_scan(a, b, h0, method=method, chunk=chunk)
    assert torch.linalg.norm(out - ref) <= 1e-12 * torch.linalg.norm(ref) + 1e-300


@pytest.mark.parametrize("method", ["blelloch", "chunked"])
def test_gradients_equal_loop_gradients(method, device):
    """d/d(a, b, h0) of a random functional: parallel scan vs loop (1e-12 relative), on each
    device; plus torch.autograd.gradcheck of the scan itself (float64, small)."""
    g = torch.Generator().manual_seed(1)
    L = 37
    a0 = (torch.rand(L, 5, generator=g, dtype=torch.float64) - 0.5).to(device)
    b0 = torch.randn(L, 5, generator=g, dtype=torch.float64).to(device)
    h00 = torch.randn(5, generator=g, dtype=torch.float64).to(device)
    w = torch.randn(L, 5, generator=g, dtype=torch.float64).to(device)
    grads = []
    for fn in (sequential_scan, lambda a, b, h: linear_scan(a, b, h, method=method, chunk=8)):
        a, b, h0 = (x.clone().requires_grad_() for x in (a0, b0, h00))
        (fn(a, b, h0) * w).sum().backward()
        grads.append([x.grad for x in (a, b, h0)])
    for gs, gp in zip(*grads):
        assert torch.linalg.norm(gs - gp) <= 1e-12 * torch.linalg.norm(gs)
    args = tuple(x[:6, :2].clone().requires_grad_() for x in (a0, b0))
    assert torch.autograd.gradcheck(
        lambda a, b: linear_scan(a, b, method=method, chunk=4), args, eps=1e-6, atol=1e-8
    )


def test_dim_and_broadcast_multiplier():
    """Time along dim=-1 with a time-invariant multiplier a (N, 1) broadcast to b (B, N, L)."""
    g = torch.Generator().manual_seed(2)
    a = torch.rand(4, 1, generator=g, dtype=torch.float64)
    b = torch.randn(2, 4, 50, generator=g, dtype=torch.float64)
    out = linear_scan(a, b, dim=-1)
    ref = sequential_scan(a.expand(2, 4, 50), b, dim=-1)
    torch.testing.assert_close(out, ref, rtol=1e-13, atol=1e-13)
    assert out.shape == b.shape


def test_bad_input_names_the_argument():
    b = torch.zeros(5, 3)
    with pytest.raises(ValueError, match="a must broadcast"):
        linear_scan(torch.zeros(4, 3), b)
    with pytest.raises(ValueError, match="h0 must broadcast"):
        linear_scan(torch.zeros(5, 3), b, torch.zeros(4))
    with pytest.raises(ValueError, match="dim must lie"):
        linear_scan(1.0, b, dim=2)
    with pytest.raises(ValueError, match="method"):
        linear_scan(1.0, b, method="hillis")
    with pytest.raises(ValueError, match="chunk must be an integer >= 1"):
        linear_scan(1.0, b, method="chunked", chunk=0)
    with pytest.raises(TypeError, match="b must be a torch.Tensor"):
        linear_scan(1.0, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="length >= 1"):
        linear_scan(1.0, torch.zeros(0, 3))
