r"""The polyphase identity between sub-pixel and stride-``r`` transposed convolutions.

A sub-pixel convolution [1]_ computes ``r**2`` output phases per channel with an ordinary
(low-resolution) convolution and interleaves them with a periodic shuffle. A transposed
convolution of stride ``r`` [2]_ writes each input pixel, times the kernel, at ``r`` times its
position. Both are the same linear map; the two functions here move the weights from one to
the other, exactly (a reindexing: no arithmetic on the values), one spatial axis at a time.

References
----------
.. [1] W. Shi, J. Caballero, F. Huszár, J. Totz, A. P. Aitken, R. Bishop, D. Rueckert and
   Z. Wang, "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
   Convolutional Neural Network", CVPR 2016. arXiv:1609.05158.
.. [2] V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
   2016. arXiv:1603.07285.
"""

from __future__ import annotations

from typing import Any

import torch

from ..validation import as_int_tuple, check_positive_int, check_tensor, describe

__all__ = ["subpixel_to_transpose", "transpose_to_subpixel"]


def _check_weight(name: str, weight: Any) -> torch.Tensor:
    check_tensor(name, weight)
    if weight.ndim != 4 or weight.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 4-D tensor, got {describe(weight)}")
    return weight


def subpixel_to_transpose(
    weight: torch.Tensor, upscale_factor: int, padding: int | tuple[int, int] = 0
) -> tuple[torch.Tensor, tuple[int, int]]:
    r"""Weight and padding of the stride-``r`` transposed convolution of a sub-pixel one.

    Parameters
    ----------
    weight : torch.Tensor
        Sub-pixel kernel, shape ``(C_out * r**2, C_in, k_h, k_w)``: output channel
        ``o * r**2 + a * r + b`` computes phase ``(a, b)`` of channel ``o``, as
        ``torch.nn.functional.pixel_shuffle`` reads it.
    upscale_factor : int
        ``r``.
    padding : int or (int, int)
        Zero padding ``p`` of the stride-1 low-resolution convolution.

    Returns
    -------
    weight_t : torch.Tensor
        ``(C_in, C_out, r K_h, r K_w)`` kernel of ``torch.nn.ConvTranspose2d`` (same dtype and
        device), with ``K = 2p - k + 2 + 2 pi`` and ``pi = max(0, k - 1 - p)`` per axis
        (``K = k`` when ``p <= k - 1``).
    padding_t : (int, int)
        Its padding ``r pi``; its stride is ``r`` and its output padding 0.

    Notes
    -----
    Per axis, the sub-pixel layer is :math:`y_{ri+a} = \sum_u w^{(a)}_u x_{i+u-p}` and the
    transposed convolution is :math:`y_Y = \sum_{m, t:\ rm + t - P = Y} v_t x_m`. Writing
    :math:`t = rq + a` and :math:`P = r\pi` gives :math:`Y = r(m + q - \pi) + a`, so phase
    :math:`a` of the output is fed by tap :math:`q` at :math:`m = i - q + \pi`; matching
    :math:`m = i + u - p` gives :math:`q = p + \pi - u`:

    .. math:: v_{r(p + \pi - u) + a} = w^{(a)}_u,

    the ``r`` phases interleaved and the taps flipped (the low-resolution convolution is a
    correlation). The output lengths :math:`r(n + 2p - k + 1)` and
    :math:`r(n - 1) + rK - 2r\pi` agree for :math:`K = 2p - k + 2 + 2\pi`, and
    :math:`\pi \ge k - 1 - p` keeps every :math:`q \ge 0` (zero taps fill the rest).

    References
    ----------
    .. [1] W. Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
       Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016. arXiv:1609.05158.

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sciconv.subpixel import subpixel_to_transpose
    >>> g = torch.Generator().manual_seed(0)
    >>> w = torch.randn(2 * 9, 3, 3, 3, generator=g, dtype=torch.float64)
    >>> x = torch.randn(1, 3, 7, 7, generator=g, dtype=torch.float64)
    >>> v, pad = subpixel_to_transpose(w, 3, padding=1)
    >>> tuple(v.shape), pad
    ((3, 2, 9, 9), (3, 3))
    >>> y = F.pixel_shuffle(F.conv2d(x, w, padding=1), 3)
    >>> bool(torch.allclose(y, F.conv_transpose2d(x, v, stride=3, padding=pad)))
    True
    """
    w = _check_weight("weight", weight)
    r = check_positive_int("upscale_factor", upscale_factor)
    p = as_int_tuple("padding", padding, 2, minimum=0)
    if w.shape[0] % (r * r):
        raise ValueError(
            f"weight must have a multiple of upscale_factor**2 = {r * r} output channels, "
            f"got {describe(w)}"
        )
    c_out, c_in, k = w.shape[0] // (r * r), w.shape[1], tuple(w.shape[2:])
    pi = [max(0, kk - 1 - pp) for kk, pp in zip(k, p)]
    kt = [2 * pp - kk + 2 + 2 * ii for kk, pp, ii in zip(k, p, pi)]
    q0 = [pp + ii - kk + 1 for kk, pp, ii in zip(k, p, pi)]  # q of the last tap u = k - 1
    w6 = w.reshape(c_out, r, r, c_in, *k).flip(4, 5).permute(3, 0, 4, 1, 5, 2)
    v6 = w.new_zeros(c_in, c_out, kt[0], r, kt[1], r)
    v6[:, :, q0[0] : q0[0] + k[0], :, q0[1] : q0[1] + k[1], :] = w6
    return v6.reshape(c_in, c_out, kt[0] * r, kt[1] * r), (r * pi[0], r * pi[1])


def transpose_to_subpixel(
    weight_t: torch.Tensor,
    stride: int,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> tuple[torch.Tensor, tuple[int, int]]:
    r"""Weight and padding of the sub-pixel convolution of a stride-``r`` transposed one.

    Parameters
    ----------
    weight_t : torch.Tensor
        ``torch.nn.ConvTranspose2d`` kernel, shape ``(C_in, C_out / groups, K_h, K_w)``.
    stride : int
        ``r``, the same on both axes (it becomes the upscale factor).
    padding, output_padding, dilation : int or (int, int)
        As in ``torch.nn.ConvTranspose2d``.
    groups : int
        Channel groups; the sub-pixel kernel is the block-diagonal full one.

    Returns
    -------
    weight : torch.Tensor
        ``(C_out * r**2, C_in, k_h, k_w)`` sub-pixel kernel (same dtype and device).
    padding : (int, int)
        Zero padding ``p`` of its stride-1 low-resolution convolution.

    Raises
    ------
    ValueError
        If ``K - 2P + output_padding`` (dilated ``K``) is not a multiple of ``r`` on an axis:
        the output length ``r(n - 1) + K - 2P + output_padding`` is then never a multiple of
        ``r``, which a periodic shuffle's output always is.

    Notes
    -----
    The inverse of :func:`subpixel_to_transpose`, for any kernel size and padding. Per axis:
    dilate the kernel (zeros between taps), prepend :math:`e = (-P) \bmod r` zero taps so
    that the padding :math:`P + e = r\pi` is a multiple of ``r`` (the output is unchanged:
    it reads :math:`Y = rm + t - P`), and append zeros up to :math:`rK'`. With
    :math:`D = (K - 2P + \mathrm{output\_padding}) / r - 1` the sub-pixel output length
    :math:`r(n + 2p - k + 1)` matches for :math:`k = 2p + 1 - D`, and every tap
    :math:`q \in [0, K')` lands on :math:`u = p + \pi - q \in [0, k)` for
    :math:`p = \max(K' - 1 - \pi,\ \pi + D,\ 0)`, the smallest such padding. Round trip:
    ``subpixel_to_transpose`` then this returns the same kernel when ``p <= k - 1``, else a
    zero-padded kernel of the same map.

    References
    ----------
    .. [1] V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
       2016. arXiv:1603.07285.

    Examples
    --------
    A 4x4 transposed convolution of stride 2 and padding 1 (the DCGAN upsampler) is a 3x3
    sub-pixel convolution with padding 1:

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sciconv.subpixel import transpose_to_subpixel
    >>> g = torch.Generator().manual_seed(0)
    >>> v = torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64)
    >>> x = torch.randn(1, 3, 6, 6, generator=g, dtype=torch.float64)
    >>> w, pad = transpose_to_subpixel(v, 2, padding=1)
    >>> tuple(w.shape), pad
    ((8, 3, 3, 3), (1, 1))
    >>> y = F.conv_transpose2d(x, v, stride=2, padding=1)
    >>> bool(torch.allclose(y, F.pixel_shuffle(F.conv2d(x, w, padding=pad), 2)))
    True
    """
    v = _check_weight("weight_t", weight_t)
    r = check_positive_int("stride", stride)
    big_p = as_int_tuple("padding", padding, 2, minimum=0)
    op = as_int_tuple("output_padding", output_padding, 2, minimum=0)
    d = as_int_tuple("dilation", dilation, 2)
    g = check_positive_int("groups", groups)
    if v.shape[0] % g:
        raise ValueError(f"groups={g} must divide the {v.shape[0]} input channels of weight_t")
    c_in, c_out = v.shape[0], v.shape[1] * g
    if g > 1:  # block-diagonal full kernel
        full = v.new_zeros(c_in, c_out, *v.shape[2:])
        ci, co = c_in // g, v.shape[1]
        for j in range(g):
            full[j * ci : (j + 1) * ci, j * co : (j + 1) * co] = v[j * ci : (j + 1) * ci]
        v = full
    if d != (1, 1):  # dilated kernel: zeros between the taps
        dk = [dd * (kk - 1) + 1 for dd, kk in zip(d, v.shape[2:])]
        dense = v.new_zeros(c_in, c_out, *dk)
        dense[:, :, :: d[0], :: d[1]] = v
        v = dense
    k_t = tuple(v.shape[2:])
    for axis in range(2):
        if (k_t[axis] - 2 * big_p[axis] + op[axis]) % r:
            raise ValueError(
                f"a ConvTranspose2d with stride {r}, (dilated) kernel size {k_t}, padding "
                f"{big_p} and output_padding {op} is no sub-pixel convolution: on axis {axis} "
                f"its output length r(n - 1) + K - 2P + output_padding is never a multiple of "
                f"r = {r} (need K - 2P + output_padding = {k_t[axis] - 2 * big_p[axis] + op[axis]}"
                f" to be a multiple of {r})"
            )
    e = [(-pp) % r for pp in big_p]
    pi = [(pp + ee) // r for pp, ee in zip(big_p, e)]
    kq = [-(-(kk + ee) // r) for kk, ee in zip(k_t, e)]
    dd = [(kk - 2 * pp + oo) // r - 1 for kk, pp, oo in zip(k_t, big_p, op)]
    p = [max(q - 1 - ii, ii + di, 0) for q, ii, di in zip(kq, pi, dd)]
    k = [2 * pp + 1 - di for pp, di in zip(p, dd)]
    vq = v.new_zeros(c_in, c_out, r * kq[0], r * kq[1])
    vq[:, :, e[0] : e[0] + k_t[0], e[1] : e[1] + k_t[1]] = v
    v6 = vq.reshape(c_in, c_out, kq[0], r, kq[1], r).flip(2, 4).permute(1, 3, 5, 0, 2, 4)
    u0 = [pp + ii - (q - 1) for pp, ii, q in zip(p, pi, kq)]  # u of the last tap q = K' - 1
    w6 = v.new_zeros(c_out, r, r, c_in, k[0], k[1])
    w6[..., u0[0] : u0[0] + kq[0], u0[1] : u0[1] + kq[1]] = v6
    return w6.reshape(c_out * r * r, c_in, k[0], k[1]), (p[0], p[1])
