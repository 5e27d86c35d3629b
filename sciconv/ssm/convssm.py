"""ConvSSM in the style of ConvS5 [1]_: pointwise state, convolutional B and C.

References
----------
.. [1] J. T. H. Smith, S. De Mello, J. Kautz, S. W. Linderman and W. Byeon, "Convolutional
   State Space Models for Long-Range Spatiotemporal Modeling", Advances in Neural Information
   Processing Systems (NeurIPS), 2023. arXiv:2310.19694.
"""

from __future__ import annotations

import math
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
from ..vandermonde import vandermonde_apply
from .apply import LAYOUTS, SSMState, causal_conv
from .discretize import discretize
from .hippo import S4D_INITS, s4d_init
from .s4d import log_dt_init
from .scan import linear_scan

__all__ = ["ConvSSM"]


class ConvSSM(nn.Module):
    """Convolutional state-space layer on video ``(batch, in_channels, L, H, W)`` (``'BCL'``).

    Parameters
    ----------
    in_channels, out_channels : int
    state_channels : int
        Number ``P`` of complex state channels (each a diagonal mode with its own ``dt``).
    kernel_size : int
        Odd spatial size of the ``B`` and ``C`` convolutions ('same' zero padding).
    init : {'lin', 'inv', 'real', 'legs'}
        Initial eigenvalues of the pointwise state matrix (:func:`sciconv.ssm.s4d_init`).
    dt_min, dt_max : float
    bias : bool
        Pointwise skip ``D`` (a 1x1 convolution ``in -> out``).
    layout : {'BCL', 'BLC'}
        Layout of ``forward``: ``'BCL'`` (batch, channels, L, H, W), the layout of every SSM
        layer of :mod:`sciconv.ssm` and of ``torch.nn.Conv3d`` (the default); ``'BLC'``
        (batch, L, channels, H, W), frames first as in ConvS5 and this layer before the
        layouts were unified (pass it to keep such code).
    device, dtype
        Factory arguments; ``forward`` refuses an input of another dtype (``TypeError``).

    Notes
    -----
    With :math:`\\bar\\Lambda = e^{\\Delta\\Lambda}`, :math:`g = (e^{\\Delta\\Lambda}-1)/\\Lambda`
    (ZOH, per state channel ``p``):

    .. math:: X_t = \\bar\\Lambda \\odot X_{t-1} + g \\odot (\\mathcal B * U_t), \\qquad
              Y_t = \\mathrm{Re}(\\mathcal C * X_t) + \\mathcal D * U_t,

    where ``*`` is a 2-d convolution over space. The recurrence is pointwise over space and
    state channels, so all :math:`X_t` come from :func:`sciconv.ssm.linear_scan` ('scan'), or
    as causal convolutions in time with :math:`\\bar\\Lambda_p^l` (from
    :func:`sciconv.vandermonde_apply`, 'conv'), or by :meth:`step`.

    Deployment: every mode runs on the ``meta`` device and passes ``torch.export`` and
    ``torch.compile(fullgraph=True)``.

    References
    ----------
    .. [1] J. T. H. Smith, S. De Mello, J. Kautz, S. W. Linderman and W. Byeon, "Convolutional
       State Space Models for Long-Range Spatiotemporal Modeling", Advances in Neural Information
       Processing Systems (NeurIPS), 2023. arXiv:2310.19694.

    Examples
    --------
    A short clip of 6 frames, 2 channels in and 3 out, 4 complex state channels; the
    three modes agree:

    >>> import torch
    >>> from sciconv.ssm import ConvSSM
    >>> _ = torch.manual_seed(0)
    >>> layer = ConvSSM(2, 3, 4, kernel_size=3, dtype=torch.float64)
    >>> U = torch.randn(1, 2, 6, 8, 8, dtype=torch.float64)  # (batch, C_in, L, H, W)
    >>> Y = layer(U)  # parallel scan over time
    >>> tuple(Y.shape)
    (1, 3, 6, 8, 8)
    >>> Yc, Ys = layer(U, mode="conv"), layer(U, mode="step")
    >>> bool(torch.allclose(Yc, Y)), bool(torch.allclose(Ys, Y))
    (True, True)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        state_channels: int,
        kernel_size: int = 3,
        *,
        init: str = "lin",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        bias: bool = True,
        layout: str = "BCL",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        if dtype in (torch.float16, torch.bfloat16):
            raise ValueError(
                f"dtype must be float32 or float64 for ConvSSM (its kernel is not computed in half "
                f"precision), got {dtype}"
            )
        super().__init__()
        self.layout = check_choice("layout", layout, LAYOUTS)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.state_channels = P = check_positive_int("state_channels", state_channels)
        k = self.kernel_size = check_positive_int("kernel_size", kernel_size)
        if k % 2 == 0:
            raise ValueError(f"kernel_size must be odd ('same' padding), got {kernel_size}")
        check_choice("init", init, S4D_INITS)
        fk = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        lam = torch.as_tensor(s4d_init(init, P)).to(torch.complex128)
        self.log_A_real = nn.Parameter(torch.log(-lam.real).to(**fk))
        self.A_imag = nn.Parameter(lam.imag.to(**fk))
        self.log_dt = nn.Parameter(log_dt_init(P, dt_min, dt_max, **fk))
        sb, sc = 1 / math.sqrt(in_channels * k * k), 1 / math.sqrt(P * k * k)
        self.B = nn.Parameter(torch.randn(P, in_channels, k, k, 2, **fk) * sb)
        self.C = nn.Parameter(torch.randn(out_channels, P, k, k, 2, **fk) * sc)
        self.D = (
            nn.Parameter(torch.randn(out_channels, in_channels, 1, 1, **fk) * 0.1) if bias else None
        )

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``Lambdabar`` (P,) and the ZOH input gains ``g`` (P,), complex."""
        lam = torch.complex(-torch.exp(self.log_A_real), self.A_imag)
        return discretize(lam, torch.ones_like(lam), torch.exp(self.log_dt), "zoh", diagonal=True)

    def _inputs(self, U: torch.Tensor) -> torch.Tensor:
        """``g * (B * U_t)`` for every t: (batch, L, P, H, W) complex."""
        Bn, L = U.shape[:2]
        w = torch.view_as_complex(self.B)
        x = U.reshape((Bn * L,) + tuple(U.shape[2:])).to(w.dtype)
        bu = F.conv2d(x, w, padding=self.kernel_size // 2)
        g = self.discrete()[1]
        return (g[:, None, None] * bu).reshape((Bn, L) + tuple(bu.shape[1:]))

    def _outputs(self, X: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
        """``Re(C * X_t) + D * U_t`` for states (N, P, H, W) and inputs (N, C_in, H, W)."""
        y = F.conv2d(X, torch.view_as_complex(self.C), padding=self.kernel_size // 2).real
        return y if self.D is None else y + F.conv2d(U, self.D)

    def _check(self, U: torch.Tensor) -> None:
        axis = 1 if self.layout == "BCL" else 2
        if U.ndim != 5 or U.shape[axis] != self.in_channels:
            shape = "(batch, {}, L, H, W)" if axis == 1 else "(batch, L, {}, H, W)"
            other = (
                "'BLC' for (batch, L, C, H, W)" if axis == 1 else "'BCL' for (batch, C, L, H, W)"
            )
            raise ValueError(
                f"U must have shape {shape.format(self.in_channels)} (layout={self.layout!r}; "
                f"layout={other}), got {describe(U)}"
            )
        check_input_dtype("U", U, self.B.dtype, "ConvSSM")

    def forward(self, U: torch.Tensor, mode: str = "scan") -> torch.Tensor:
        """Output (batch, out_channels, L, H, W) by 'scan', 'conv' or 'step' (a loop)
        (``layout='BCL'``; frames first, (batch, L, C, H, W), for 'BLC')."""
        check_choice("mode", mode, ("scan", "conv", "step"))
        self._check(U)
        if self.layout == "BCL":
            return self._forward(U.transpose(1, 2), mode).transpose(1, 2)
        return self._forward(U, mode)

    def _forward(self, U: torch.Tensor, mode: str) -> torch.Tensor:
        """(batch, L, in, H, W) -> (batch, L, out, H, W)."""
        Bn, L = U.shape[:2]
        if mode == "step":
            state, ys = self.initial_state(Bn, U.shape[3:], device=U.device), []
            for t in range(L):
                y, state = self.step(U[:, t], state)
                ys.append(y)
            return torch.stack(ys, dim=1)
        b = self._inputs(U)
        lam_bar = self.discrete()[0]
        if mode == "scan":
            X = linear_scan(lam_bar[:, None, None], b, dim=1)
        else:
            log_nodes = torch.complex(-torch.exp(self.log_A_real), self.A_imag) * torch.exp(
                self.log_dt
            )
            eye = torch.eye(self.state_channels, dtype=log_nodes.dtype, device=log_nodes.device)
            K = vandermonde_apply(log_nodes, eye, L, log_nodes=True)  # (P, L): Lambdabar_p^l
            X = causal_conv(b.movedim(1, -1), K[:, None, None, :]).movedim(-1, 1)
        flat = (Bn * L,) + tuple(X.shape[2:])
        y = self._outputs(X.reshape(flat), U.reshape((Bn * L,) + tuple(U.shape[2:])))
        return y.reshape((Bn, L) + tuple(y.shape[1:]))

    def initial_state(self, batch: int, spatial: tuple, *, device: Any = None) -> SSMState:
        """Zero state (batch, P, H, W)."""
        dtype = torch.view_as_complex(self.B).dtype
        shape = (batch, self.state_channels) + tuple(spatial)
        return SSMState.zeros(shape, dtype=dtype, device=device)

    def step(self, U_t: torch.Tensor, state: SSMState) -> tuple[torch.Tensor, SSMState]:
        """One frame ``U_t`` (batch, in, H, W) -> ``(Y_t, new state)``."""
        lam_bar = self.discrete()[0]
        X = lam_bar[:, None, None] * state.x + self._inputs(U_t[:, None])[:, 0]
        return self._outputs(X, U_t), SSMState(X, state.t + 1)
