"""LSSL: a linear state-space layer with a fixed dense HiPPO matrix [1]_.

References
----------
.. [1] A. Gu, I. Johnson, K. Goel, K. Saab, T. Dao, A. Rudra and C. Ré, "Combining
   Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers",
   Advances in Neural Information Processing Systems (NeurIPS), 2021. arXiv:2110.13985.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..validation import (
    check_choice,
    check_float_dtype,
    check_input_dtype,
    check_positive_int,
    describe,
)
from .apply import SSMState, causal_conv, ssm_step
from .discretize import DISCRETIZATIONS, discretize
from .hippo import hippo
from .kernels import ssm_kernel
from .s4d import log_dt_init

__all__ = ["LSSL"]


class LSSL(nn.Module):
    """Depthwise LSSL layer ``(batch, channels, L) -> (batch, channels, L)``.

    Parameters
    ----------
    channels : int
        Number of channels ``H``.
    state_size : int
        State size ``N`` of the HiPPO matrix shared by every channel.
    measure : {'legt', 'legs', 'lagt', 'fout', 'lmu'}
        HiPPO measure of the fixed ``A``, ``B`` (:func:`sciconv.ssm.hippo`).
    dt_min, dt_max : float
        Range of the log-uniform initial step per channel (learned).
    discretization : {'bilinear', 'zoh', ...}
    kernel_method : {'krylov_doubling', 'krylov'}
    bias : bool
        Skip term ``D u``.
    device, dtype

    Notes
    -----
    Per channel ``h``: :math:`\\bar A_h, \\bar B_h` discretise :math:`(A, B)` with
    :math:`\\Delta_h`; :math:`y_h = K_h * u_h + D_h u_h` with :math:`K_{h,l} = C_h \\bar A_h^l
    \\bar B_h` (dense Krylov by doubling), or, equivalently, the recurrence of :meth:`step`.

    References
    ----------
    .. [1] A. Gu, I. Johnson, K. Goel, K. Saab, T. Dao, A. Rudra and C. Ré, "Combining
       Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers",
       Advances in Neural Information Processing Systems (NeurIPS), 2021. arXiv:2110.13985.

    Examples
    --------
    >>> import torch
    >>> from sciconv.ssm import LSSL
    >>> _ = torch.manual_seed(0)
    >>> layer = LSSL(2, state_size=8, measure="legs", dtype=torch.float64)
    >>> u = torch.randn(1, 2, 40, dtype=torch.float64)
    >>> y = layer(u)
    >>> tuple(y.shape), bool(torch.allclose(layer(u, mode="step"), y))
    ((1, 2, 40), True)
    >>> Abar, Bbar = layer.discrete()  # one discretisation per channel
    >>> tuple(Abar.shape), tuple(Bbar.shape)
    ((2, 8, 8), (2, 8))
    """

    def __init__(
        self,
        channels: int,
        state_size: int = 64,
        *,
        measure: str = "legt",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        discretization: str = "bilinear",
        kernel_method: str = "krylov_doubling",
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        if dtype in (torch.float16, torch.bfloat16):
            raise ValueError(
                f"dtype must be float32 or float64 for LSSL (its kernel is not computed in half "
                f"precision), got {dtype}"
            )
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.state_size = check_positive_int("state_size", state_size)
        self.discretization = check_choice("discretization", discretization, DISCRETIZATIONS)
        if discretization == "gbt":
            raise ValueError("discretization must name a fixed scheme for LSSL, got 'gbt'")
        self.kernel_method = check_choice(
            "kernel_method", kernel_method, ("krylov", "krylov_doubling")
        )
        fk = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        A, B = hippo(measure, state_size)
        self.register_buffer("A", torch.as_tensor(A, **fk))
        self.register_buffer("B", torch.as_tensor(B, **fk))
        self.log_dt = nn.Parameter(log_dt_init(channels, dt_min, dt_max, **fk))
        self.C = nn.Parameter(torch.randn(channels, state_size, **fk) / math.sqrt(state_size))
        self.D = nn.Parameter(torch.randn(channels, **fk)) if bias else None

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``Abar`` (H, N, N) and ``Bbar`` (H, N)."""
        return discretize(self.A, self.B, torch.exp(self.log_dt), self.discretization)

    def kernel(self, L: int) -> torch.Tensor:
        """Kernel (H, L)."""
        return ssm_kernel(
            self.A,
            self.B,
            self.C,
            torch.exp(self.log_dt),
            L,
            self.kernel_method,
            self.discretization,
        )

    def forward(self, u: torch.Tensor, mode: str = "conv") -> torch.Tensor:
        """Output (B, H, L) for ``u`` (B, H, L) by 'conv' (kernel + FFT) or 'step' (a loop)."""
        check_choice("mode", mode, ("conv", "step"))
        if u.ndim != 3 or u.shape[1] != self.channels:
            raise ValueError(f"u must have shape (batch, {self.channels}, L), got {describe(u)}")
        check_input_dtype("u", u, self.log_dt.dtype, "LSSL")
        if mode == "conv":
            return causal_conv(u, self.kernel(u.shape[-1]), self.D)
        state, ys = self.initial_state(u.shape[0], device=u.device), []
        for t in range(u.shape[-1]):
            y, state = self.step(u[..., t], state)
            ys.append(y)
        return torch.stack(ys, dim=-1)

    def initial_state(self, batch: int, *, device: Any = None) -> SSMState:
        """Zero state (batch, H, N)."""
        shape = (batch, self.channels, self.state_size)
        return SSMState.zeros(shape, dtype=self.A.dtype, device=device)

    def step(self, u_t: torch.Tensor, state: SSMState) -> tuple[torch.Tensor, SSMState]:
        """One sample ``u_t`` (B, H) -> ``(y_t, new state)`` by :func:`sciconv.ssm.ssm_step`."""
        Ab, Bb = self.discrete()
        return ssm_step(Ab, Bb, self.C, u_t, state, self.D)
