"""Streaming against windowed inference: the reference, the measured deviation (NRMSE) and a
bound for one pooling layer whose windows are shifted."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..validation import check_choice, check_positive_int, check_tensor, describe
from .module import StreamingCNN
from .stream import StreamingInexactWarning, stream, without_padding

__all__ = ["Deviation", "pooling_shift_bound", "streaming_deviation", "windowed_inference"]


def _check_index(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    return int(value)


def windowed_inference(
    model: nn.Module, x: torch.Tensor, window: int, ends: Sequence[int], n: int
) -> list[torch.Tensor]:
    """The reference: for each ``t`` in ``ends``, ``model(x[..., t-window:t])``'s last ``n``
    outputs (one full forward pass per hop, as without streaming).

    Parameters
    ----------
    model : torch.nn.Module
        The network, applied to each window as it is (put it in eval mode first).
    x : torch.Tensor
        The signal ``(B, C, L)``.
    window : int
        Samples per window (``>= 1``).
    ends : sequence of int
        One past each window's last sample, each in ``[window, L]``.
    n : int
        Outputs kept from the end of each window's output (``>= 1``).

    Returns
    -------
    list of torch.Tensor
        One ``(B, C_out, n)`` tensor per entry of ``ends``.

    Notes
    -----
    This is the "normal inference" of the paper: every overlapping window is processed from
    scratch, ``O(window)`` work per hop.

    References
    ----------
    C. Kechris et al., "Don't Think It Twice" (StreamiNNC), arXiv:2408.03223, 2024.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> out = windowed_inference(nn.Identity(), torch.arange(10.).view(1, 1, 10), 4, [6, 8], 2)
    >>> [o.flatten().tolist() for o in out]
    [[4.0, 5.0], [6.0, 7.0]]
    """
    x = check_tensor("x", x, 3, "(B, C, L)")
    window = check_positive_int("window", window)
    n = check_positive_int("n", n)
    ends = [_check_index(f"ends[{i}]", t) for i, t in enumerate(ends)]
    out = []
    with torch.no_grad():
        for t in ends:
            if t < window or t > x.shape[-1]:
                raise ValueError(
                    f"ends must lie in [window={window}, {x.shape[-1]}] (the signal's length), "
                    f"got {t}"
                )
            y = model(x[..., t - window : t])
            if y.shape[-1] < n:
                raise ValueError(
                    f"window={window} gives only {y.shape[-1]} outputs, fewer than the {n} new "
                    "outputs per hop; use a longer window"
                )
            out.append(y[..., y.shape[-1] - n :])
    return out


@dataclass(frozen=True)
class Deviation:
    """Streaming vs windowed inference over a signal.

    ``nrmse`` is ``||s - w||_2 / ||w||_2`` over every compared output (the RMS error relative
    to the RMS of the windowed outputs), ``max_abs`` the largest ``|s - w|``, ``steps`` the
    number of hops compared and ``per_hop`` the outputs compared per hop; ``exact`` and
    ``issues`` are the streaming module's.

    Examples
    --------
    >>> Deviation(0.02, 0.1, 10, 4, False, ("layer [0] ...",)).nrmse
    0.02
    """

    nrmse: float
    max_abs: float
    steps: int
    per_hop: int
    exact: bool
    issues: tuple[str, ...]


def streaming_deviation(
    model: nn.Module, x: torch.Tensor, *, hop: int, window: int, padding: str = "keep"
) -> Deviation:
    """Stream ``x`` through ``stream(model, hop, padding=padding)`` and compare each hop's
    newest outputs with windowed inference on the last ``window`` samples.

    Parameters
    ----------
    model : torch.nn.Sequential
        The network (eval mode).
    x : torch.Tensor
        The signal ``(B, C, L)``; it is fed in chunks of ``hop`` from sample 0.
    hop, window : int
        Samples per hop and per window. For ``padding='signal'`` the reference is the valid
        network :func:`without_padding` on ``window + L_a`` samples (as many outputs as the
        model gives on ``window``).
    padding : {'keep', 'signal'}
        As in :func:`stream`. The module's :class:`StreamingInexactWarning` is not repeated
        here: ``exact`` and ``issues`` carry it.

    Returns
    -------
    Deviation

    Notes
    -----
    After ``t`` samples (``t`` a multiple of ``hop``, ``t >= window + L_a``) the last
    ``n = max(1, hop // S)`` outputs streamed so far are compared with the last ``n`` outputs of
    the windowed reference. In the exact configurations of :func:`stream` these are the same
    outputs; otherwise the comparison pairs each streamed output with the windowed output
    nearest in time (the misaligned grid is shifted by less than ``S`` input samples).

    References
    ----------
    C. Kechris et al., "Don't Think It Twice" (StreamiNNC), arXiv:2408.03223, 2024: NRMSE of
    2.03-3.55 % between streaming and normal inference on their three biomedical networks
    (with their own normalisation, networks and signals).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.ReLU(),
    ...                       nn.Conv1d(4, 1, 5, padding=2)).double().eval()
    >>> x = torch.randn(1, 1, 512, dtype=torch.float64)
    >>> exact = streaming_deviation(model, x, hop=16, window=128, padding="signal")
    >>> zeros = streaming_deviation(model, x, hop=16, window=128)
    >>> exact.nrmse < 1e-12, zeros.nrmse > 1e-3, zeros.exact
    (True, True, False)
    """
    x = check_tensor("x", x, 3, "(B, C, L)")
    check_choice("padding", padding, ("keep", "signal"))
    param = next(model.parameters(), None) if isinstance(model, nn.Module) else None
    if param is not None and (x.dtype, x.device) != (param.dtype, param.device):
        raise TypeError(
            f"x must have the model's dtype {param.dtype} on {param.device}, got {x.dtype} on "
            f"{x.device}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StreamingInexactWarning)
        online: StreamingCNN = stream(model, hop, padding=padding)
    reference = without_padding(model) if padding == "signal" else model
    span = window + online.signal_padding
    n = max(1, hop // online.stride)
    ends = [t for t in range(hop, x.shape[-1] + 1, hop) if t >= span]
    if not ends:
        raise ValueError(
            f"x holds {x.shape[-1]} samples, fewer than one window of {span}; use a longer signal"
        )
    ref = windowed_inference(reference, x, span, ends, n)
    got, history = [], []
    for t in range(hop, ends[-1] + 1, hop):
        history.append(online(x[..., t - hop : t]))
        if t >= span:
            tail = torch.cat(history, dim=-1)[..., -n:]
            history = [tail]
            got.append(tail)
    s, w = torch.cat(got, dim=-1), torch.cat(ref, dim=-1)
    if s.shape != w.shape:  # the stream has not yet produced n outputs at the first window
        raise ValueError(
            f"window={window} ends before the stream's receptive field "
            f"({online.receptive_field}) has filled; use a longer window"
        )
    err = torch.linalg.vector_norm(s - w).item()
    return Deviation(
        nrmse=err / max(torch.linalg.vector_norm(w).item(), 1e-300),
        max_abs=(s - w).abs().max().item(),
        steps=len(ends),
        per_hop=n,
        exact=online.exact,
        issues=tuple(online.issues),
    )


def pooling_shift_bound(
    u: torch.Tensor, starts_a: Sequence[int], starts_b: Sequence[int], kernel_size: int, mode: str
) -> torch.Tensor:
    """Upper bound on ``|pool(u[a:a+k]) - pool(u[b:b+k])|`` for windows shifted by
    ``|a - b| < k``, per batch, channel and window pair.

    Parameters
    ----------
    u : torch.Tensor
        The pooling layer's input ``(B, C, L)`` (the same in both schemes when every layer
        before the pool is exact).
    starts_a, starts_b : sequence of int
        Window starts of the two schemes (e.g. windowed and streamed), paired.
    kernel_size : int
        ``k``.
    mode : {'max', 'avg'}
        The pooling.

    Returns
    -------
    torch.Tensor
        ``(B, C, len(starts_a))``.

    Notes
    -----
    With ``A`` and ``B`` the two windows, ``I = A ∩ B`` (``k - δ`` samples, ``δ = |a - b|``)
    and ``U = A ∪ B``:

    * max: both maxima lie in ``[max_I u, max_U u]``, so the difference is at most
      ``max_U u - max_I u`` (zero when the maximum over ``U`` lies in the overlap);
    * average: the sums differ only on ``A \\ B`` and ``B \\ A`` (``δ`` samples each), so the
      difference is at most ``(δ / k)(max_U u - min_U u)``.

    Derived here for this package (the paper derives its own error bounds for misaligned
    pooling; their exact form is not reproduced).

    References
    ----------
    C. Kechris et al., "Don't Think It Twice" (StreamiNNC), arXiv:2408.03223, 2024, Sec. on
    pooling during streaming.

    Examples
    --------
    >>> import torch
    >>> u = torch.tensor([[[0., 5., 1., 2., 3.]]], dtype=torch.float64)
    >>> pooling_shift_bound(u, [1], [2], 3, "max").tolist()  # windows [5,1,2] and [1,2,3]
    [[[3.0]]]
    >>> pooling_shift_bound(u, [1], [2], 3, "avg").tolist()  # (1/3) (5 - 1)
    [[[1.3333333333333333]]]
    """
    u = check_tensor("u", u, 3, "(B, C, L)")
    check_choice("mode", mode, ("max", "avg"))
    k = check_positive_int("kernel_size", kernel_size)
    if len(starts_a) != len(starts_b):
        raise ValueError(
            f"starts_a and starts_b must pair up, got lengths {len(starts_a)} and {len(starts_b)}"
        )
    length = u.shape[-1]
    for name, starts in (("starts_a", starts_a), ("starts_b", starts_b)):
        for i, start in enumerate(starts):
            start = _check_index(f"{name}[{i}]", start)
            if not 0 <= start <= length - k:
                raise ValueError(
                    f"{name}[{i}] must lie in [0, L - kernel_size] = [0, {length - k}] (the "
                    f"window [start, start + {k}) inside u's {length} samples), got {start}"
                )
    out = []
    for a, b in zip(starts_a, starts_b):
        delta = abs(a - b)
        if delta >= k:
            raise ValueError(f"windows at {a} and {b} must overlap (|a - b| < k={k})")
        lo, hi = min(a, b), max(a, b)
        union, inter = u[..., lo : hi + k], u[..., hi : lo + k]
        if mode == "max":
            out.append(union.amax(-1) - inter.amax(-1))
        else:
            out.append(delta / k * (union.amax(-1) - union.amin(-1)))
    return torch.stack(out, dim=-1) if out else u.new_zeros((*u.shape[:2], 0))
