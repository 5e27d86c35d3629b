"""Applying a state-space model: causal FFT convolution and an explicit-state recurrent step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..validation import describe
from ..fft import FFTConvolver, fftconv

__all__ = ["SSMState", "causal_conv", "ssm_recurrence", "ssm_step"]


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
    """Run :func:`ssm_step` over the last axis of ``u`` (..., L); returns ``(y, final state)``."""
    if state is None:
        dtype = torch.promote_types(torch.promote_types(Abar.dtype, Bbar.dtype), u.dtype)
        shape = torch.broadcast_shapes(u.shape[:-1] + (1,), Bbar.shape)
        state = SSMState.zeros(shape, dtype=dtype, device=u.device)
    ys = []
    for t in range(u.shape[-1]):
        y, state = ssm_step(Abar, Bbar, C, u[..., t], state, D)
        ys.append(y)
    return torch.stack(ys, dim=-1), state
