"""HyperZ·Z·W layers: global and local branches, the Terminator-style block, the slow loss.

References
----------
Zhang, "HyperZ·Z·W Operator Connects Slow-Fast Networks for Full Context Interaction",
arXiv:2401.17948, 2024 (the HyperZ·Z·W operator, the Terminator architecture, the slow neural
loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import (
    check_choice,
    check_float_dtype,
    check_input_dtype,
    check_positive_int,
    describe,
)
from .implicit import CoordinateMLP
from .operator import FORMS, context_weights, hyperzzw, local_hyper_conv

__all__ = ["HyperZZW", "LocalHyperConv2d", "TerminatorBlock", "slow_neural_loss", "standardize"]


def slow_neural_loss(kernel: torch.Tensor, w_hat: torch.Tensor) -> torch.Tensor:
    r"""Local feedback loss of the slow network: :math:`\mathrm{mean}\,(K - \mathrm{sg}(\hat W))^2`.

    Parameters
    ----------
    kernel : torch.Tensor
        Hyper-kernel ``(C, *spatial)`` from the slow network.
    w_hat : torch.Tensor
        Context-dependent weights ``(N, C, *spatial)`` (detached here: "sg", stop-gradient).

    Returns
    -------
    torch.Tensor
        A scalar whose gradient reaches the slow network's parameters only.

    Notes
    -----
    This is our reading of the "slow neural loss" of the HyperZ·Z·W paper: a local error that
    pulls the hyper-kernel towards the fast weights it produced, added to the task loss with a
    small factor. It is not verified against the authors' code.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperzzw import slow_neural_loss
    >>> kernel = torch.ones(3, 4, 4, requires_grad=True)
    >>> slow_neural_loss(kernel, kernel.expand(2, 3, 4, 4)).item()  # fast weights = kernel
    0.0
    >>> w_hat = torch.zeros(2, 3, 4, 4, requires_grad=True)
    >>> loss = slow_neural_loss(kernel, w_hat)
    >>> loss.item()
    1.0
    >>> loss.backward()
    >>> kernel.grad is not None, w_hat.grad is None  # stop-gradient on the fast weights
    (True, True)
    """
    if tuple(w_hat.shape[1:]) != tuple(kernel.shape):
        raise ValueError(
            f"w_hat must have shape (N, *{tuple(kernel.shape)}), got {describe(w_hat)}"
        )
    return ((kernel.unsqueeze(0) - w_hat.detach()) ** 2).mean()


def standardize(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    r"""Per-sample standardisation over channels and space (no batch statistics, no affine).

    :math:`y_n = (x_n - \mu_n) / \sqrt{\sigma_n^2 + \epsilon}` with :math:`\mu_n, \sigma_n^2`
    the mean and (biased) variance of sample :math:`n` alone, identical in train and eval.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperzzw import standardize
    >>> _ = torch.manual_seed(0)
    >>> x = 3.0 + 2.0 * torch.randn(2, 4, 5, 5, dtype=torch.float64)
    >>> y = standardize(x)
    >>> bool(y.mean(dim=(1, 2, 3)).abs().max() < 1e-12)  # zero mean per sample
    True
    >>> [round(t, 3) for t in y.var(dim=(1, 2, 3), correction=0).tolist()]
    [1.0, 1.0]
    """
    return F.group_norm(x, 1, eps=eps)


class HyperZZW(nn.Module):
    r"""Global HyperZ·Z·W layer: a slow :class:`CoordinateMLP` makes a map-sized hyper-kernel.

    Parameters
    ----------
    channels : int
        Channels ``C`` of the activations ``(N, C, *spatial)``.
    form : {'fft', 'published'}
        See :func:`sciconv.hyperzzw.hyperzzw`.
    dim : int
        Spatial axes (1 or 2; 'published' needs 2 and square maps).
    hidden, layers, omega
        Slow-network settings (:class:`CoordinateMLP`).
    device, dtype
        Factory arguments.

    Notes
    -----
    :math:`K = \mathrm{MLP}(c)` on the input's grid, :math:`Y = \mathrm{HyperZZW}(Z, K)`; the
    slow network's parameters are registered submodule parameters.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperzzw import HyperZZW, hyperzzw
    >>> _ = torch.manual_seed(0)
    >>> layer = HyperZZW(3, hidden=16)
    >>> z = torch.randn(2, 3, 8, 8)
    >>> y, aux = layer(z, return_aux=True)
    >>> y.shape, aux["kernel"].shape  # one map-sized hyper-kernel for the whole batch
    (torch.Size([2, 3, 8, 8]), torch.Size([3, 8, 8]))
    >>> torch.allclose(y, hyperzzw(z, layer.kernel((8, 8))))
    True
    >>> HyperZZW(3, dim=1, hidden=16)(torch.randn(2, 3, 40)).shape  # sequences
    torch.Size([2, 3, 40])
    """

    def __init__(
        self,
        channels: int,
        form: str = "fft",
        dim: int = 2,
        hidden: int = 32,
        layers: int = 3,
        omega: float = 16.0,
        *,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.form = check_choice("form", form, FORMS)
        if dim not in (1, 2):
            raise ValueError(f"dim must be 1 or 2, got {dim!r}")
        self.dim = dim
        self.slow = CoordinateMLP(channels, dim, hidden, layers, omega, device=device, dtype=dtype)

    def _check(self, z: torch.Tensor) -> None:
        if (
            not isinstance(z, torch.Tensor)
            or z.dim() != self.dim + 2
            or z.shape[1] != self.channels
        ):
            raise ValueError(
                f"z must have shape (N, {self.channels}, {', '.join(['L'] * self.dim)}), "
                f"got {describe(z)}"
            )
        check_input_dtype("z", z, self.slow.out.weight.dtype, "HyperZZW")

    def kernel(self, size: tuple[int, ...]) -> torch.Tensor:
        """The hyper-kernel ``(C, *size)``; a function of the parameters only."""
        return self.slow(tuple(size))

    def forward(
        self, z: torch.Tensor, return_aux: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Apply the operator; with ``return_aux`` also return the kernel and :math:`\\hat W`."""
        self._check(z)
        k = self.kernel(tuple(z.shape[2:]))
        y = hyperzzw(z, k, self.form)
        if return_aux:
            return y, {"kernel": k, "context_weights": context_weights(z, k)}
        return y


class LocalHyperConv2d(nn.Module):
    r"""Local HyperZ·Z·W: per-sample, input-conditioned depthwise ``k x k`` convolution.

    Parameters
    ----------
    channels : int
    kernel_size : int
        Odd ``k``.
    hidden, layers, omega
        Slow-network settings.
    device, dtype
        Factory arguments.

    Notes
    -----
    :math:`K = \mathrm{MLP}(c)` on a ``k x k`` grid; :func:`sciconv.hyperzzw.local_hyper_conv`.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperzzw import LocalHyperConv2d, local_hyper_conv
    >>> _ = torch.manual_seed(0)
    >>> layer = LocalHyperConv2d(3, kernel_size=5)
    >>> z = torch.randn(2, 3, 8, 8)
    >>> layer(z).shape
    torch.Size([2, 3, 8, 8])
    >>> torch.allclose(layer(z), local_hyper_conv(z, layer.slow((5, 5))))
    True
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 3,
        hidden: int = 16,
        layers: int = 2,
        omega: float = 4.0,
        *,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.slow = CoordinateMLP(channels, 2, hidden, layers, omega, device=device, dtype=dtype)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Apply to ``z`` of shape ``(N, channels, H, W)``."""
        check_input_dtype("z", z, self.slow.out.weight.dtype, "LocalHyperConv2d")
        k = self.slow((self.kernel_size, self.kernel_size))
        return local_hyper_conv(z, k)


class TerminatorBlock(nn.Module):
    r"""Multi-branch slow-fast block in the style of Terminator (no residual connection).

    Parameters
    ----------
    in_channels, out_channels : int
    channels : int, optional
        Width of the branches (default ``out_channels``).
    local_sizes : sequence of int
        Kernel sizes of the local branches.
    form : {'fft', 'published'}
        Global branch form.
    hidden : int
        Width of the global slow network.
    device, dtype
        Factory arguments.

    Notes
    -----
    :math:`Z = \mathrm{conv}_{1\times1}(x)`; branches :math:`Z`, :math:`\mathrm{HyperZZW}(Z)`
    and :math:`\mathrm{Local}_k(Z)` for each :math:`k` are concatenated, compressed by a 1x1
    bottleneck, standardised per sample (:func:`standardize`) and passed through a GELU:
    :math:`y = \mathrm{GELU}(\mathrm{std}(B[Z, G(Z), L_{k_1}(Z), \dots]))`. No statistic is
    shared across the batch, so a sample's output never depends on the others.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperzzw import TerminatorBlock
    >>> _ = torch.manual_seed(0)
    >>> block = TerminatorBlock(3, 8, local_sizes=(3,), hidden=16)
    >>> x = torch.randn(2, 3, 8, 8)
    >>> y, slow_loss = block(x, return_slow_loss=True)
    >>> y.shape, slow_loss.shape
    (torch.Size([2, 8, 8, 8]), torch.Size([]))
    >>> torch.allclose(block(x[:1]), y[:1], atol=1e-5)  # no batch statistics
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        channels: int | None = None,
        local_sizes: Sequence[int] = (3, 5),
        form: str = "fft",
        hidden: int = 32,
        *,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        out_channels = check_positive_int("out_channels", out_channels)
        mid = out_channels if channels is None else check_positive_int("channels", channels)
        self.proj = nn.Conv2d(check_positive_int("in_channels", in_channels), mid, 1, **fk)
        self.global_branch = HyperZZW(mid, form, 2, hidden, **fk)
        self.local_branches = nn.ModuleList(LocalHyperConv2d(mid, k, **fk) for k in local_sizes)
        n_branch = 2 + len(self.local_branches)
        self.bottleneck = nn.Conv2d(
            n_branch * mid, check_positive_int("out_channels", out_channels), 1, **fk
        )

    def forward(
        self, x: torch.Tensor, return_slow_loss: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Apply the block to ``x`` ``(N, in_channels, H, W)``; optionally the slow loss too."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.proj.in_channels:
            raise ValueError(
                f"x must have shape (N, {self.proj.in_channels}, H, W), got {describe(x)}"
            )
        z = self.proj(x)
        g, aux = self.global_branch(z, return_aux=True)
        branches = [z, g, *(local(z) for local in self.local_branches)]
        y = F.gelu(standardize(self.bottleneck(torch.cat(branches, dim=1))))
        if return_slow_loss:
            return y, slow_neural_loss(aux["kernel"], aux["context_weights"])
        return y
