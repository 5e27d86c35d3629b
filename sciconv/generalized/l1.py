"""L1 (Manhattan) distance convolution by a chunked unfold under a memory cap.

References
----------
Ghiasi-Shirazi, "Generalizing the Convolution Operator in Convolutional Neural Networks", Neural
Processing Letters, 2019. arXiv:1707.09864 (weighted L1 distance).

Chen, Wang, Xu, Shi, Xu, Tian and Xu, "AdderNet: Do We Really Need Multiplications in Deep
Learning?", CVPR 2020. arXiv:1912.13200 (the unweighted L1 distance as a layer response).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from ..validation import check_positive_int, describe

__all__ = ["check_smooth", "l1_chunks", "l1_distance"]


def check_smooth(smooth: float) -> float:
    r"""Validate the smoothing width of the L1 kernel: a finite number :math:`\ge 0`."""
    if (
        not isinstance(smooth, (int, float))
        or isinstance(smooth, bool)
        or not 0.0 <= smooth < float("inf")
    ):
        raise ValueError(f"smooth must be a finite number >= 0, got {describe(smooth)}")
    return float(smooth)


def l1_chunks(
    batch: int,
    patch_len: int,
    out_width: int,
    out_height: int,
    out_per_group: int,
    itemsize: int,
    max_chunk_bytes: int,
) -> tuple[int, int]:
    """Choose ``(channels_per_chunk, rows_per_chunk)`` so a chunk's difference tensor fits the cap.

    The difference tensor of a chunk (formed by the weighted path; the unweighted path's
    ``cdist`` needs less) has ``batch * channels * patch_len * rows * out_width`` entries. The
    smallest chunk (one output row of one output channel of the whole batch) is used even when
    it exceeds the cap.

    Examples
    --------
    A batch of 8, 3x3 patches of 3 channels (27 taps), a 32x32 output with 16 channels per
    group, float32, under a 1 MiB cap: all 16 channels, 2 output rows per chunk.

    >>> from sciconv.generalized import l1_chunks
    >>> channels, rows = l1_chunks(8, 27, 32, 32, 16, itemsize=4, max_chunk_bytes=2**20)
    >>> channels, rows
    (16, 2)
    >>> 8 * channels * 27 * rows * 32 * 4 <= 2**20  # the chunk's difference tensor fits
    True
    >>> l1_chunks(8, 27, 32, 32, 16, itemsize=4, max_chunk_bytes=1)  # never below one row
    (1, 1)
    """
    cap = max(1, max_chunk_bytes // itemsize)
    row = batch * patch_len * out_width  # entries of one output row of one channel
    channels = max(1, min(out_per_group, cap // max(row, 1)))
    rows = max(1, min(out_height, cap // max(row * channels, 1)))
    return channels, rows


def _block(
    patches: torch.Tensor, w: torch.Tensor, a: torch.Tensor | None, smooth: float = 0.0
) -> torch.Tensor:
    """Distances ``(N, ob, L)`` between patches ``(N, K, L)`` and filters ``(ob, K)``."""
    if a is None and smooth == 0.0:  # torch.cdist never forms the (N, ob, K, L) differences
        rows = patches.transpose(1, 2)
        return torch.cdist(rows, w.unsqueeze(0).expand(rows.shape[0], -1, -1), p=1).transpose(1, 2)
    diff = patches.unsqueeze(1) - w.unsqueeze(0).unsqueeze(-1)  # (N, ob, K, L)
    if smooth > 0.0:  # sqrt(d^2 + eps^2) - eps, written to stay accurate for |d| << eps
        dist = diff * diff / (torch.sqrt(diff * diff + smooth * smooth) + smooth)
    else:
        dist = diff.abs()
    return dist.sum(2) if a is None else (dist * a.unsqueeze(0).unsqueeze(-1)).sum(2)


def l1_distance(
    xp: torch.Tensor,
    weight: torch.Tensor,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    scale: torch.Tensor | None = None,
    max_chunk_bytes: int = 2**25,
    smooth: float = 0.0,
) -> torch.Tensor:
    r"""Weighted L1 distances :math:`\sum_t a_t |x_t - w_t|` between every patch and filter.

    Parameters
    ----------
    xp : torch.Tensor
        Padded input ``(N, C, H, W)``.
    weight : torch.Tensor
        Filters ``(O, C // groups, kh, kw)``.
    stride, dilation : tuple of int
        As in ``torch.nn.functional.conv2d``.
    groups : int
        Channel groups.
    scale : torch.Tensor, optional
        Non-negative weights of the shape of ``weight`` (default ones).
    max_chunk_bytes : int
        Upper bound on the bytes of the per-chunk difference tensor (see :func:`l1_chunks`).
    smooth : float
        :math:`\varepsilon \ge 0`; if positive, each :math:`|d|` is replaced by the smoothed
        absolute value :math:`\sqrt{d^2 + \varepsilon^2} - \varepsilon` (default 0: exact L1).

    Returns
    -------
    torch.Tensor
        ``(N, O, H', W')``.

    Notes
    -----
    The absolute value does not factor into correlations, so the patches are formed
    (``torch.nn.functional.unfold``), but only for a band of output rows and a block of output
    channels at a time: the band of rows ``r0 .. r1-1`` needs padded input rows
    ``s r0 .. s (r1-1) + d (k_h-1)``. Unweighted distances of a chunk are computed by
    ``torch.cdist(p=1)``, which holds only the patches and the output; weighted ones form the
    differences, and under autograd such a chunk is checkpointed, so that the backward pass also
    holds one chunk at a time (it is recomputed).

    The smoothed absolute value :math:`\sqrt{d^2 + \varepsilon^2} - \varepsilon` (a
    pseudo-Huber function) is evaluated as :math:`d^2 / (\sqrt{d^2 + \varepsilon^2} +
    \varepsilon)`, which does not cancel. It lies within :math:`\varepsilon` of
    :math:`|d|`, is quadratic (:math:`\approx d^2 / 2\varepsilon`) for
    :math:`|d| \ll \varepsilon` and has the bounded, Lipschitz gradient
    :math:`d / \sqrt{d^2 + \varepsilon^2}` instead of :math:`\operatorname{sign}(d)`;
    it always forms the differences (no ``cdist``).

    Examples
    --------
    A tiny memory cap splits the work into many chunks without changing the result:

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sciconv.generalized import l1_distance
    >>> _ = torch.manual_seed(0)
    >>> xp = torch.randn(2, 2, 6, 6, dtype=torch.float64)
    >>> w = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    >>> d = l1_distance(xp, w, (1, 1), (1, 1), 1, max_chunk_bytes=64)
    >>> d.shape
    torch.Size([2, 3, 4, 4])
    >>> patches = F.unfold(xp, 3)  # (2, 18, 16)
    >>> brute = (patches.unsqueeze(1) - w.reshape(1, 3, 18, 1)).abs().sum(2)
    >>> torch.allclose(d.reshape(2, 3, 16), brute)
    True

    The smoothed distance lies within ``smooth`` of the exact one per tap:

    >>> ds = l1_distance(xp, w, (1, 1), (1, 1), 1, smooth=1e-3)
    >>> bool(((d - ds) >= 0).all() and ((d - ds) <= 18 * 1e-3).all())
    True
    """
    check_positive_int("max_chunk_bytes", max_chunk_bytes)
    smooth = check_smooth(smooth)
    n, _, h, w_in = xp.shape
    out_ch, cg, kh, kw = weight.shape
    (sh, sw), (dh, dw) = stride, dilation
    out_h = (h - dh * (kh - 1) - 1) // sh + 1
    out_w = (w_in - dw * (kw - 1) - 1) // sw + 1
    og = out_ch // groups
    k_len = cg * kh * kw
    ob, rb = l1_chunks(n, k_len, out_w, out_h, og, xp.element_size(), max_chunk_bytes)
    grad = (
        torch.is_grad_enabled()
        and (scale is not None or smooth > 0.0)
        and (
            xp.requires_grad or weight.requires_grad or (scale is not None and scale.requires_grad)
        )
    )
    wf = weight.reshape(out_ch, k_len)
    af = None if scale is None else scale.reshape(out_ch, k_len)
    channel_blocks = []
    for g in range(groups):
        xg = xp[:, g * cg : (g + 1) * cg]
        for o0 in range(g * og, (g + 1) * og, ob):
            o1 = min(o0 + ob, (g + 1) * og)
            rows = []
            for r0 in range(0, out_h, rb):
                r1 = min(r0 + rb, out_h)
                band = xg[:, :, r0 * sh : (r1 - 1) * sh + dh * (kh - 1) + 1]
                a_blk = None if af is None else af[o0:o1]

                def chunk(band=band, w_blk=wf[o0:o1], a_blk=a_blk):
                    p = F.unfold(band, (kh, kw), dilation=(dh, dw), stride=(sh, sw))
                    return _block(p, w_blk, a_blk, smooth)

                out = checkpoint(chunk, use_reentrant=False) if grad else chunk()
                rows.append(out.reshape(n, o1 - o0, r1 - r0, out_w))
            channel_blocks.append(torch.cat(rows, dim=2))
    return torch.cat(channel_blocks, dim=1)
