"""The tour's section on linear interpreters (:mod:`sciconv.interpret`)."""

from __future__ import annotations

from ._common import Check

__all__ = ["interpret_section"]


def interpret_section() -> list[str | Check]:
    """A random CNN (conv, batch norm, ReLU, residual, max pooling, bilinear upsampling,
    linear head) frozen at a random input: :math:`Ax + c` against the model's own forward,
    :math:`Av` and :math:`A^T u` against autograd's jvp and vjp (double backward), the dot
    test, and svds against the SVD of the dense Jacobian."""
    import numpy as np
    import torch
    from torch import nn

    from sciconv import dottest
    from sciconv.interpret import Residual, linear_interpreter

    torch.manual_seed(0)
    bn = nn.BatchNorm2d(8)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    model = nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1),
        bn,
        nn.ReLU(),
        Residual(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.LeakyReLU(0.1))),
        nn.MaxPool2d(2),
        nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.Conv2d(8, 4, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 5 * 5, 10),
    ).eval()
    ref = model.double()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 12, 12, generator=gen, dtype=torch.float64)
    v = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    u = torch.randn(1, 10, generator=gen, dtype=torch.float64)
    li = linear_interpreter(model, x)
    _, jv = torch.autograd.functional.jvp(ref, x, v)
    _, ju = torch.autograd.functional.vjp(ref, x, u)
    av, atu = li.A @ v.reshape(-1).numpy(), li.A.rmatvec(u.reshape(-1).numpy())
    jv, ju = jv.detach().reshape(-1).numpy(), ju.detach().reshape(-1).numpy()
    e_jvp = np.linalg.norm(av - jv) / np.linalg.norm(jv)
    e_vjp = np.linalg.norm(atu - ju) / np.linalg.norm(ju)
    gap = dottest(li.A, rng=0)
    jac = torch.autograd.functional.jacobian(ref, x).reshape(10, -1).numpy()
    s = li.singular_vectors(k=3)[0]
    s_ref = np.linalg.svd(jac, compute_uv=False)[:3]
    e_svd = float(np.max(np.abs(s - s_ref) / s_ref))
    return [
        f"CNN 2x12x12 -> 10 logits, {len(li.network.steps)} frozen steps, A(x): "
        f"{li.A.shape[0]}x{li.A.shape[1]} LinearOperator (matrix-free)",
        f"|A x + c - f| / |f| = {li.reconstruction_error:.1e}; bias share |c|/|f| = "
        f"{li.bias_share:.3f}",
        f"|A v - jvp| / |jvp| = {e_jvp:.1e}, |A^T u - vjp| / |vjp| = {e_vjp:.1e}, "
        f"dot test gap {gap:.1e}",
        f"svds top 3 singular values {np.round(s, 4)}, max rel. gap to the dense Jacobian's "
        f"SVD {e_svd:.1e}",
        Check.at_most("A x + c vs the model's forward, relative", li.reconstruction_error, 1e-12),
        Check.at_most("A v vs autograd jvp, relative", e_jvp, 1e-12),
        Check.at_most("A^T u vs autograd vjp, relative", e_vjp, 1e-12),
        Check.at_most("dot test gap of A(x)", gap, 1e-12),
        Check.at_most("svds vs dense SVD, top 3, relative", e_svd, 1e-10),
    ]
