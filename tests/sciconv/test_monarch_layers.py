"""LongConv and S4D with method= and LongConv's freq_sparsity (float64, 1e-12 relative).

References: the layers' default FFT path for every method; for the frequency-sparse LongConv,
one FreqSparseConv operator per channel (itself tested against a dense circulant in
test_monarch_conv.py) plus the skip term written out.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciconv.monarch.sparse import FreqSparseConv
from sciconv.ssm import S4D, LongConv

TOL = 1e-12


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().norm() / b.detach().norm())


@pytest.mark.parametrize("method", ["monarch", "direct", "auto"])
def test_longconv_methods_equal_fft_with_gradients(method):
    torch.manual_seed(0)
    ref = LongConv(3, 50, squash_lambda=1e-3, smooth_width=3, dtype=torch.float64)
    layer = LongConv(3, 50, squash_lambda=1e-3, smooth_width=3, method=method, order=3)
    layer = layer.to(torch.float64)
    layer.load_state_dict(ref.state_dict())
    u = torch.randn(2, 3, 64, dtype=torch.float64)
    y_ref, y = ref(u), layer(u)
    assert rel(y, y_ref) < TOL
    y_ref.square().sum().backward()
    y.square().sum().backward()
    assert rel(layer.weight.grad, ref.weight.grad) < TOL
    assert rel(layer.D.grad, ref.D.grad) < TOL


@pytest.mark.parametrize("sparsity", [0.5, 0.9])
def test_freq_sparse_longconv_is_masked_kernel_convolution(sparsity):
    torch.manual_seed(1)
    layer = LongConv(4, 100, freq_sparsity=sparsity, dtype=torch.float64)
    u = torch.randn(3, 4, 80, dtype=torch.float64)
    y = layer(u)
    k = layer.kernel().detach().numpy()
    ops = [FreqSparseConv(k[h], 80, sparsity) for h in range(4)]
    ref = np.stack([[ops[h] @ u[b, h].numpy() for h in range(4)] for b in range(3)])
    ref = ref + layer.D.detach().numpy()[:, None] * u.numpy()
    assert rel(y.detach(), torch.as_tensor(ref)) < TOL
    y.sum().backward()  # differentiable through the skipped-block matmuls
    assert torch.isfinite(layer.weight.grad).all() and layer.weight.grad.abs().sum() > 0
    assert min(op.sparsity for op in ops) > 0.5 * sparsity


def test_freq_sparse_longconv_differs_from_dense():
    """The sparse layer is another model: its output moves away from the dense one."""
    torch.manual_seed(2)
    dense = LongConv(2, 128, dtype=torch.float64)
    sparse = LongConv(2, 128, freq_sparsity=0.9, dtype=torch.float64)
    sparse.load_state_dict(dense.state_dict())
    u = torch.randn(2, 2, 128, dtype=torch.float64)
    assert rel(sparse(u), dense(u)) > 1e-3


def test_s4d_monarch_equals_fft():
    torch.manual_seed(3)
    ref = S4D(3, state_size=8, dtype=torch.float64)
    for method in ("monarch", "direct"):
        layer = S4D(3, state_size=8, method=method, dtype=torch.float64)
        layer.load_state_dict(ref.state_dict())
        u = torch.randn(2, 3, 90, dtype=torch.float64)
        assert rel(layer(u), ref(u)) < TOL


def test_layer_bad_arguments():
    with pytest.raises(ValueError, match=r"method must be one of .*got 'fast'"):
        LongConv(2, 8, method="fast")
    with pytest.raises(ValueError, match=r"method must be one of .*got 'fast'"):
        S4D(2, 4, method="fast")
    with pytest.raises(ValueError, match=r"sparsity must lie in \[0, 1\), got 1.0"):
        LongConv(2, 8, freq_sparsity=1.0)
    with pytest.raises(ValueError, match="order must be an integer >= 1"):
        LongConv(2, 8, method="monarch", order=0)
