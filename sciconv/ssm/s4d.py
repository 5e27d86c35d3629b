"""S4D: a diagonal state-space layer [1]_, in convolution, scan and step mode.

The step size is initialised log-uniformly as in S4 [2]_.

References
----------
.. [1] A. Gu, A. Gupta, K. Goel and C. Ré, "On the Parameterization and Initialization of
   Diagonal State Space Models", Advances in Neural Information Processing Systems
   (NeurIPS), 2022. arXiv:2206.11893.
.. [2] A. Gu, K. Goel and C. Ré, "Efficiently Modeling Long Sequences with Structured State
   Spaces", International Conference on Learning Representations (ICLR), 2022.
   arXiv:2111.00396.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..fft import METHODS, FFTConvolver
from ..validation import (
    check_choice,
    check_float_dtype,
    check_input_dtype,
    check_positive_int,
    describe,
)
from .apply import SSMState, causal_conv
from .discretize import discretize
from .hippo import S4D_INITS, s4d_init
from .kernels import ssm_kernel
from .scan import linear_scan

__all__ = ["S4D", "log_dt_init"]

MODES = ("conv", "scan", "step")


def log_dt_init(
    channels: int, dt_min: float, dt_max: float, *, device: Any = None, dtype: Any = None
) -> torch.Tensor:
    """``log dt`` per channel, log-uniform in ``[dt_min, dt_max]`` (the S4 initialisation).

    Examples
    --------
    >>> import math
    >>> import torch
    >>> from sciconv.ssm.s4d import log_dt_init
    >>> _ = torch.manual_seed(0)
    >>> dt = log_dt_init(1000, 1e-3, 1e-1).exp()
    >>> bool(dt.min() >= 1e-3 and dt.max() <= 1e-1), round(float(dt.log().mean()), 1)
    (True, -4.6)
    >>> round(math.log(1e-2), 1)  # the log-uniform mean is log(sqrt(dt_min dt_max))
    -4.6
    """
    if not 0 < dt_min <= dt_max:
        raise ValueError(
            f"dt_min and dt_max must satisfy 0 < dt_min <= dt_max, got "
            f"dt_min={dt_min!r}, dt_max={dt_max!r}"
        )
    r = torch.rand(channels, device=device, dtype=dtype)
    return r * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)


class S4D(nn.Module):
    """Depthwise diagonal SSM layer: ``(batch, channels, L) -> (batch, channels, L)``.

    Parameters
    ----------
    channels : int
        Number of channels ``H`` (each has its own SSM; ``in_channels = out_channels``).
    state_size : int
        Number of complex modes ``N`` per channel (a real state of size ``2N``).
    init : {'lin', 'inv', 'real', 'legs'}
        Diagonal initialisation (:func:`sciconv.ssm.s4d_init`).
    dt_min, dt_max : float
        Range of the log-uniform initial step.
    kernel_method : {'vandermonde', 'vandermonde_chunked', 'krylov', 'krylov_doubling'}
        How :func:`sciconv.ssm.ssm_kernel` builds the kernel in 'conv' mode.
    chunk : int, optional
        Block size for 'vandermonde_chunked'.
    bias : bool
        Whether the layer has the skip term ``D u``.
    method : {'fft', 'monarch', 'direct', 'auto'}
        How the causal convolution of 'conv' mode is computed (:class:`sciconv.FFTConvolver`;
        'monarch' is the DFT as matmuls of FlashFFTConv); all give the same output.
    order : int
        Monarch order for ``method='monarch'`` (and 'auto').
    device, dtype
        Real dtype of the parameters (complex ones use the matching complex dtype).

    Notes
    -----
    With :math:`\\bar A = e^{\\Delta A}`, :math:`\\bar B = (e^{\\Delta A} - 1) A^{-1} B` (ZOH),
    the output is :math:`y = K * u + D u` with :math:`K_l = 2\\,\\mathrm{Re}\\sum_n C_n \\bar
    B_n \\bar A_n^l` (the modes and their conjugates). Three equal ways to compute it
    (``forward(u, mode=...)``): the kernel and a causal FFT convolution ('conv'); all states
    by :func:`sciconv.ssm.linear_scan` ('scan'); and :meth:`step` one sample at a time with an
    explicit :class:`SSMState` ('step').

    Deployment: the layer runs on the ``meta`` device, passes ``torch.export`` and
    ``torch.compile(fullgraph=True)`` with every kernel method. ``forward`` refuses an input
    whose dtype differs from the parameters' (``TypeError``), as ``torch.nn.Conv1d`` does.

    References
    ----------
    .. [1] A. Gu, A. Gupta, K. Goel and C. Ré, "On the Parameterization and Initialization of
       Diagonal State Space Models", Advances in Neural Information Processing Systems
       (NeurIPS), 2022. arXiv:2206.11893.

    Examples
    --------
    The three modes compute the same output; ``step`` continues a sequence sample by sample:

    >>> import torch
    >>> from sciconv.ssm import S4D
    >>> _ = torch.manual_seed(0)
    >>> layer = S4D(3, state_size=8, dtype=torch.float64)
    >>> u = torch.randn(2, 3, 50, dtype=torch.float64)  # (batch, channels, L)
    >>> y = layer(u)  # kernel + causal FFT convolution
    >>> tuple(y.shape), tuple(layer.kernel(50).shape)
    ((2, 3, 50), (3, 50))
    >>> ys, yt = layer(u, mode="scan"), layer(u, mode="step")
    >>> bool(torch.allclose(ys, y)), bool(torch.allclose(yt, y))
    (True, True)
    >>> state = layer.initial_state(2)
    >>> y0, state = layer.step(u[..., 0], state)
    >>> bool(torch.allclose(y0, y[..., 0])), state.t
    (True, 1)
    >>> mono = S4D(3, state_size=8, method="monarch", dtype=torch.float64)
    >>> _ = mono.load_state_dict(layer.state_dict())
    >>> bool(torch.allclose(mono(u), y, atol=1e-12))  # the DFT as matmuls, same output
    True
    """

    def __init__(
        self,
        channels: int,
        state_size: int = 64,
        *,
        init: str = "lin",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        kernel_method: str = "vandermonde",
        chunk: int | None = None,
        bias: bool = True,
        method: str = "fft",
        order: int = 2,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        if method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {describe(method)}")
        self.method, self.order = method, check_positive_int("order", order)
        if dtype in (torch.float16, torch.bfloat16):
            raise ValueError(
                f"dtype must be float32 or float64 for S4D (its kernel is not computed in half "
                f"precision), got {dtype}"
            )
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.state_size = check_positive_int("state_size", state_size)
        check_choice("init", init, S4D_INITS)
        self.kernel_method = check_choice(
            "kernel_method",
            kernel_method,
            ("vandermonde", "vandermonde_chunked", "krylov", "krylov_doubling"),
        )
        self.chunk = chunk
        fk = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        A = torch.as_tensor(s4d_init(init, state_size)).to(fk["device"])
        A = A.to(torch.complex128).expand(channels, state_size)
        self.log_dt = nn.Parameter(log_dt_init(channels, dt_min, dt_max, **fk))
        self.log_A_real = nn.Parameter(torch.log(-A.real).to(**fk).clone())
        self.A_imag = nn.Parameter(A.imag.to(**fk).clone())
        self.C = nn.Parameter(torch.randn(channels, state_size, 2, **fk) * math.sqrt(0.5))
        self.D = nn.Parameter(torch.randn(channels, **fk)) if bias else None

    def ssm(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Continuous ``A`` (H, N), ``B`` (H, N), ``C`` (H, N) (complex) and ``dt`` (H,)."""
        A = torch.complex(-torch.exp(self.log_A_real), self.A_imag)
        C = torch.view_as_complex(self.C)
        return A, torch.ones_like(A), C, torch.exp(self.log_dt)

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ZOH ``Abar``, ``Bbar`` and ``C`` (H, N), complex."""
        A, B, C, dt = self.ssm()
        Ab, Bb = discretize(A, B, dt[:, None], "zoh", diagonal=True)
        return Ab, Bb, C

    def kernel(self, L: int) -> torch.Tensor:
        """Real kernel (H, L): ``2 Re`` of the diagonal SSM kernel."""
        A, B, C, dt = self.ssm()
        K = ssm_kernel(A, B, C, dt, L, self.kernel_method, "zoh", chunk=self.chunk, diagonal=True)
        return 2 * K.real

    def _check(self, u: torch.Tensor) -> None:
        if u.ndim != 3 or u.shape[1] != self.channels:
            raise ValueError(f"u must have shape (batch, {self.channels}, L), got {describe(u)}")
        check_input_dtype("u", u, self.log_dt.dtype, "S4D")

    def forward(self, u: torch.Tensor, mode: str = "conv") -> torch.Tensor:
        """Output (B, H, L) for input ``u`` (B, H, L), by 'conv', 'scan' or 'step' (a loop)."""
        check_choice("mode", mode, MODES)
        self._check(u)
        if mode == "conv":
            K = self.kernel(u.shape[-1])
            if self.method == "fft":
                return causal_conv(u, K, self.D)
            conv = FFTConvolver(K, u.shape[-1], "causal", method=self.method, order=self.order)
            return causal_conv(u, K, self.D, convolver=conv)
        if mode == "step":
            state, ys = self.initial_state(u.shape[0], device=u.device), []
            for t in range(u.shape[-1]):
                y, state = self.step(u[..., t], state)
                ys.append(y)
            return torch.stack(ys, dim=-1)
        Ab, Bb, C = self.discrete()
        b = Bb[..., None] * u[:, :, None, :]  # (B, H, N, L)
        h = linear_scan(Ab[..., None], b, dim=-1)
        y = 2 * (C[..., None] * h).sum(-2).real
        return y if self.D is None else y + self.D[:, None] * u

    def initial_state(self, batch: int, *, device: Any = None) -> SSMState:
        """Zero state (batch, H, N) at ``t = 0``."""
        dtype = torch.view_as_complex(self.C).dtype
        return SSMState.zeros((batch, self.channels, self.state_size), dtype=dtype, device=device)

    def step(self, u_t: torch.Tensor, state: SSMState) -> tuple[torch.Tensor, SSMState]:
        """One sample ``u_t`` (B, H) -> ``(y_t (B, H), new state)``; ``state`` is not modified."""
        Ab, Bb, C = self.discrete()
        x = Ab * state.x + Bb * u_t[..., None]
        y = 2 * (C * x).sum(-1).real
        if self.D is not None:
            y = y + self.D * u_t
        return y, SSMState(x, state.t + 1)

    def extra_repr(self) -> str:
        return f"{self.channels}, state_size={self.state_size}, kernel={self.kernel_method}"
