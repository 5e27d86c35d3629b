"""Applying a state-space model: causal FFT convolution and an explicit-state recurrent step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..fft import FFTConvolver, fftconv
from ..validation import describe

__all__ = ["LAYOUTS", "SSMState", "causal_conv", "ssm_recurrence", "ssm_step"]

#: Sequence layouts of the SSM layers: ``'BCL'`` (batch, channels, L[, H, W]), the family's
#: (``torch.nn.Conv1d``/``Conv3d``'s), and ``'BLC'`` (batch, L, channels[, H, W]), time first
#: as ``torch.nn.RNN(batch_first=True)``; :class:`~sciconv.ssm.LMU` and
#: :class:`~sciconv.ssm.ConvSSM` take either through ``layout=``.
LAYOUTS = ("BCL", "BLC")


def causal_conv(u: Any, K: Any, D: Any = None, *, convolver: FFTConvolver | None = None) -> Any:
    """Causal convolution ``y_t = sum_{j<=t} K_j u_{t-j} + D u_t`` along the last axis.

    Parameters
    ----------
    u : array or tensor, shape (..., L)
    K : array or tensor, shape (..., L_k)
        Kernel, broadcast against ``u`` outside the last axis (e.g. (H, L) with ``u`` (B, H, L)).
    D : array or tensor, optional
        Skip term broadcast against ``u[..., 0]`` (e.g. (H,)).
    convolver : FFTConvolver, optional
        A ``FFTConvolver(K, L, mode='causal')`` to reuse its cached kernel spectrum (``K`` is
        then ignored).

    Notes
    -----
    :func:`sciconv.fftconv` with ``mode='causal'`` zero-pads to ``fft_size(2L - 1)``, so the
    circular convolution of that length has no wrap-around.

    Examples
    --------
    An impulse returns the kernel (plus the skip term at ``t = 0``); a batch of channels
    shares nothing but the time axis:

    >>> import numpy as np
    >>> from sciconv.ssm import causal_conv
    >>> K = np.array([0.5, 0.25, 0.125, 0.0625])
    >>> causal_conv(np.array([1.0, 0.0, 0.0, 0.0]), K, D=np.array(1.0))
    array([1.5   , 0.25  , 0.125 , 0.0625])
    >>> u = np.random.default_rng(0).standard_normal((8, 3, 32))  # (batch, H, L)
    >>> Kh = np.random.default_rng(1).standard_normal((3, 32))  # one kernel per channel
    >>> y = causal_conv(u, Kh, D=np.ones(3))
    >>> ref = np.convolve(u[2, 1], Kh[1])[:32] + u[2, 1]
    >>> y.shape, bool(np.allclose(y[2, 1], ref))
    ((8, 3, 32), True)
    """
    if u.ndim < 1:
        raise ValueError(f"u must have a time axis (..., L), got {describe(u)}")
    y = convolver(u) if convolver is not None else fftconv(u, K, mode="causal", axes=-1)
    if D is not None:
        y = y + D[..., None] * u
    return y


@dataclass(frozen=True)
class SSMState:
    """State of a recurrence: ``x`` (..., N) after ``t`` steps. Immutable: a step returns a new one.

    Attributes
    ----------
    x : torch.Tensor
        The state vector(s).
    t : int
        Number of steps taken since the zero state.

    Examples
    --------
    >>> import torch
    >>> from sciconv.ssm import SSMState
    >>> s = SSMState.zeros((2, 4), dtype=torch.float64)
    >>> tuple(s.x.shape), s.t, float(s.x.abs().sum())
    ((2, 4), 0, 0.0)
    """

    x: torch.Tensor
    t: int = 0

    @classmethod
    def zeros(cls, shape: tuple[int, ...], *, dtype: Any = None, device: Any = None) -> SSMState:
        """The zero state of the given shape at ``t = 0``."""
        return cls(torch.zeros(shape, dtype=dtype, device=device), 0)


def ssm_step(
    Abar: torch.Tensor,
    Bbar: torch.Tensor,
    C: torch.Tensor,
    u: torch.Tensor,
    state: SSMState,
    D: torch.Tensor | None = None,
) -> tuple[torch.Tensor, SSMState]:
    """One step ``x' = Abar x + Bbar u``, ``y = C x' + D u``; returns ``(y, new_state)``.

    ``Abar`` is dense (..., N, N) when it has one more dimension than ``Bbar``, else diagonal
    (..., N); ``u`` (...) is one sample per channel; ``C`` (..., N). The state is not modified.

    Notes
    -----
    Unrolled from :math:`x_{-1} = 0`, the outputs are :math:`y_t = \\sum_{j \\le t} C \\bar
    A^j \\bar B u_{t-j} + D u_t`, the causal convolution with :math:`K_j = C \\bar A^j \\bar B`.

    Examples
    --------
    A one-mode system ``x' = x / 2 + u``, ``y = x'`` fed an impulse:

    >>> import torch
    >>> from sciconv.ssm import SSMState, ssm_step
    >>> Abar, Bbar, C = (torch.tensor([v], dtype=torch.float64) for v in (0.5, 1.0, 1.0))
    >>> state = SSMState.zeros((1,), dtype=torch.float64)
    >>> y, state = ssm_step(Abar, Bbar, C, torch.tensor(1.0, dtype=torch.float64), state)
    >>> float(y), state.t
    (1.0, 1)
    >>> y, state = ssm_step(Abar, Bbar, C, torch.tensor(0.0, dtype=torch.float64), state)
    >>> float(y), state.t
    (0.5, 2)
    """
    x = state.x
    if Abar.ndim == Bbar.ndim + 1:
        ax = (Abar @ x[..., None])[..., 0]
    else:
        ax = Abar * x
    x_new = ax + Bbar * u[..., None]
    y = (C * x_new).sum(-1)
    if D is not None:
        y = y + D * u
    return y, SSMState(x_new, state.t + 1)


def ssm_recurrence(
    Abar: torch.Tensor,
    Bbar: torch.Tensor,
    C: torch.Tensor,
    u: torch.Tensor,
    D: torch.Tensor | None = None,
    state: SSMState | None = None,
) -> tuple[torch.Tensor, SSMState]:
    """Run :func:`ssm_step` over the last axis of ``u`` (..., L); returns ``(y, final state)``.

    Examples
    --------
    The recurrence and the causal convolution with the kernel :math:`K_l = C \\bar A^l
    \\bar B` give the same outputs; the final state continues the sequence:

    >>> import torch
    >>> from sciconv.ssm import causal_conv, krylov, ssm_recurrence
    >>> gen = torch.Generator().manual_seed(0)
    >>> Abar = 0.3 * torch.randn(3, 3, generator=gen, dtype=torch.float64)  # dense (N, N)
    >>> Bbar, C = torch.randn(2, 3, generator=gen, dtype=torch.float64)
    >>> u = torch.randn(5, 20, generator=gen, dtype=torch.float64)  # (batch, L)
    >>> y, final = ssm_recurrence(Abar, Bbar, C, u)
    >>> bool(torch.allclose(y, causal_conv(u, krylov(Abar, Bbar, C, 20)))), final.t
    (True, 20)
    >>> _, mid = ssm_recurrence(Abar, Bbar, C, u[:, :10])
    >>> y2, _ = ssm_recurrence(Abar, Bbar, C, u[:, 10:], state=mid)
    >>> bool(torch.allclose(y2, y[:, 10:]))
    True
    """
    if state is None:
        dtype = torch.promote_types(torch.promote_types(Abar.dtype, Bbar.dtype), u.dtype)
        shape = torch.broadcast_shapes(u.shape[:-1] + (1,), Bbar.shape)
        state = SSMState.zeros(shape, dtype=dtype, device=u.device)
    ys = []
    for t in range(u.shape[-1]):
        y, state = ssm_step(Abar, Bbar, C, u[..., t], state, D)
        ys.append(y)
    return torch.stack(ys, dim=-1), state
