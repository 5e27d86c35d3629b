"""Legendre Memory Unit [1]_ with an explicit state; parallel variant [2]_ by FFT.

References
----------
.. [1] A. R. Voelker, I. Kajić and C. Eliasmith, "Legendre Memory Units: Continuous-Time
   Representation in Recurrent Neural Networks", Advances in Neural Information Processing
   Systems (NeurIPS), 2019.
.. [2] N. R. Chilkuri and C. Eliasmith, "Parallelizing Legendre Memory Unit Training",
   International Conference on Machine Learning (ICML), 2021. arXiv:2102.11417.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from .apply import LAYOUTS, causal_conv
from .discretize import discretize
from .hippo import hippo
from .kernels import krylov_doubling

__all__ = ["LMU", "LMUState"]


@dataclass(frozen=True)
class LMUState:
    """Hidden state ``h`` (B, hidden), memory ``m`` (B, order), steps taken ``t``.

    Examples
    --------
    >>> import torch
    >>> from sciconv.ssm import LMU
    >>> _ = torch.manual_seed(0)
    >>> lmu = LMU(3, 5, order=4, theta=8.0)
    >>> state = lmu.initial_state(2)
    >>> tuple(state.h.shape), tuple(state.m.shape), state.t
    ((2, 5), (2, 4), 0)
    >>> h, state = lmu.step(torch.randn(2, 3), state)
    >>> bool(torch.equal(h, state.h)), state.t
    (True, 1)
    """

    h: torch.Tensor
    m: torch.Tensor
    t: int = 0


class LMU(nn.Module):
    """LMU layer ``(batch, input_size, L) -> (batch, hidden_size, L)`` (``layout='BCL'``).

    Parameters
    ----------
    input_size, hidden_size : int
    order : int
        Memory size ``N`` (Legendre polynomials up to degree ``N - 1``).
    theta : float
        Window length in steps (the memory approximates the last ``theta`` inputs).
    parallel : bool
        Drop the recurrent encoders and the hidden-to-hidden weight ([2]_):
        the memory is then a linear time-invariant system of the input, computed in 'conv' mode
        by a causal FFT convolution.
    layout : {'BCL', 'BLC'}
        Sequence layout of ``forward``: ``'BCL'`` (batch, channels, L), the layout of every
        SSM layer of :mod:`sciconv.ssm` and of ``torch.nn.Conv1d`` (the default); ``'BLC'``
        (batch, L, channels), as ``torch.nn.RNN(batch_first=True)`` and this layer before
        the layouts were unified (pass it to keep such code).
    device, dtype
        Factory arguments; ``forward`` refuses an input of another dtype (``TypeError``).

    Notes
    -----
    With :math:`(\\bar A, \\bar B)` the zero-order hold (step 1) of the LMU pair
    :math:`(A, B)` of :func:`sciconv.ssm.hippo` (``'lmu'``, window :math:`\\theta`):

    .. math:: u_t = e_x^T x_t + e_h^T h_{t-1} + e_m^T m_{t-1},\\quad
              m_t = \\bar A m_{t-1} + \\bar B u_t,\\quad
              h_t = \\tanh(W_x x_t + W_h h_{t-1} + W_m m_t).

    In parallel mode :math:`e_h = e_m = 0`, :math:`W_h = 0` and
    :math:`m_t = \\sum_{j \\le t} \\bar A^j \\bar B u_{t-j}` (kernel by
    :func:`sciconv.ssm.krylov_doubling` with ``C = I``).

    References
    ----------
    .. [1] A. R. Voelker, I. Kajić and C. Eliasmith, "Legendre Memory Units: Continuous-Time
       Representation in Recurrent Neural Networks", Advances in Neural Information Processing
       Systems (NeurIPS), 2019.
    .. [2] N. R. Chilkuri and C. Eliasmith, "Parallelizing Legendre Memory Unit Training",
       International Conference on Machine Learning (ICML), 2021. arXiv:2102.11417.

    Examples
    --------
    The parallel LMU computes the same hidden states step by step or by one causal FFT
    convolution of the input with the memory's impulse responses:

    >>> import torch
    >>> from sciconv.ssm import LMU
    >>> _ = torch.manual_seed(0)
    >>> lmu = LMU(3, 5, order=4, theta=8.0, parallel=True, dtype=torch.float64)
    >>> x = torch.randn(2, 3, 30, dtype=torch.float64)  # (batch, input_size, L)
    >>> h = lmu(x, mode="conv")
    >>> tuple(h.shape), bool(torch.allclose(h, lmu(x, mode="step")))
    ((2, 5, 30), True)
    >>> lmu.layout = "BLC"  # (batch, L, channels), as torch.nn.RNN(batch_first=True)
    >>> bool(torch.allclose(lmu(x.transpose(1, 2)), h.transpose(1, 2)))
    True
    >>> tuple(lmu.memory_kernel(30).shape)  # (order, L)
    (4, 30)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        order: int = 16,
        theta: float = 64.0,
        *,
        parallel: bool = False,
        layout: str = "BCL",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        self.layout = check_choice("layout", layout, LAYOUTS)
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.order = check_positive_int("order", order)
        self.parallel = bool(parallel)
        fk = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        A, B = hippo("lmu", order, theta=theta)
        Ab, Bb = discretize(A, B, 1.0, "zoh")
        self.register_buffer("A", torch.as_tensor(A, **fk))
        self.register_buffer("B", torch.as_tensor(B, **fk))
        self.register_buffer("Abar", torch.as_tensor(Ab, **fk))
        self.register_buffer("Bbar", torch.as_tensor(Bb, **fk))
        self.e_x = nn.Parameter(torch.randn(input_size, **fk) / input_size**0.5)
        self.W_x = nn.Linear(input_size, hidden_size, **fk)
        self.W_m = nn.Linear(order, hidden_size, bias=False, **fk)
        if parallel:
            self.e_h = self.e_m = self.W_h = None
        else:
            self.e_h = nn.Parameter(torch.zeros(hidden_size, **fk))
            self.e_m = nn.Parameter(torch.zeros(order, **fk))
            self.W_h = nn.Linear(hidden_size, hidden_size, bias=False, **fk)

    def initial_state(self, batch: int, *, device: Any = None) -> LMUState:
        """Zero hidden state and memory."""
        kw = {"dtype": self.A.dtype, "device": device}
        return LMUState(
            torch.zeros(batch, self.hidden_size, **kw), torch.zeros(batch, self.order, **kw)
        )

    def step(self, x_t: torch.Tensor, state: LMUState) -> tuple[torch.Tensor, LMUState]:
        """One input ``x_t`` (B, input_size) -> ``(h_t, new state)``."""
        u = x_t @ self.e_x
        if not self.parallel:
            u = u + state.h @ self.e_h + state.m @ self.e_m
        m = state.m @ self.Abar.T + u[:, None] * self.Bbar
        pre = self.W_x(x_t) + self.W_m(m)
        if not self.parallel:
            pre = pre + self.W_h(state.h)
        h = torch.tanh(pre)
        return h, LMUState(h, m, state.t + 1)

    def memory_kernel(self, L: int) -> torch.Tensor:
        """Impulse responses of the memory, (order, L): ``Abar^l Bbar``.

        By :func:`sciconv.ssm.krylov_doubling` from the stored ZOH pair (the one the step mode
        uses), so no discretisation (whose scaling and squaring reads a norm) runs per call and
        the 'conv' mode traces under ``torch.export`` and ``torch.compile(fullgraph=True)``.
        """
        L = check_positive_int("L", L)
        eye = torch.eye(self.order, dtype=self.A.dtype, device=self.A.device)
        return krylov_doubling(self.Abar, self.Bbar, eye, L)

    def forward(self, x: torch.Tensor, mode: str = "step") -> torch.Tensor:
        """Hidden states (B, hidden, L) for ``x`` (B, input, L) (``layout='BCL'``; (B, L, .)
        for 'BLC'); 'conv' needs ``parallel``."""
        check_choice("mode", mode, ("step", "conv"))
        axis = 1 if self.layout == "BCL" else 2
        if x.ndim != 3 or x.shape[axis] != self.input_size:
            shape = "(batch, {}, L)" if axis == 1 else "(batch, L, {})"
            other = "'BLC' for (batch, L, channels)" if axis == 1 else "'BCL' for (batch, C, L)"
            raise ValueError(
                f"x must have shape {shape.format(self.input_size)} (layout={self.layout!r}; "
                f"layout={other}), got {describe(x)}"
            )
        check_input_dtype("x", x, self.e_x.dtype, "LMU")
        if axis == 1:
            return self._forward(x.transpose(1, 2), mode).transpose(1, 2)
        return self._forward(x, mode)

    def _forward(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        """(B, L, input) -> (B, L, hidden)."""
        if mode == "conv":
            if not self.parallel:
                raise ValueError("mode='conv' needs parallel=True (a linear memory), got False")
            u = x @ self.e_x  # (B, L)
            m = causal_conv(u[:, None, :], self.memory_kernel(x.shape[1]))  # (B, order, L)
            return torch.tanh(self.W_x(x) + self.W_m(m.transpose(1, 2)))
        state, hs = self.initial_state(x.shape[0], device=x.device), []
        for t in range(x.shape[1]):
            h, state = self.step(x[:, t], state)
            hs.append(h)
        return torch.stack(hs, dim=1)
