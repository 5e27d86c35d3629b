"""``sciconv tour`` section: sub-pixel convolution (ESPCN) as a stride-r transposed convolution.

Each figure is checked against an independent reference: torch's own ``ConvTranspose2d`` for
the converted weights (both ways), a dense SVD of the matrix built column by column from the
layer for the singular values, nearest-neighbour upsampling for the ICNR start.
"""

from __future__ import annotations

import numpy as np

from ._common import Check

__all__ = ["subpixel_section"]


def subpixel_section() -> list[str | Check]:
    """Conversion errors, singular values vs a dense SVD, ICNR vs nearest upsampling."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a second thread only waits on a loaded machine
    try:
        return _lines()
    finally:
        torch.set_num_threads(threads)


def _lines() -> list[str | Check]:
    import torch
    import torch.nn.functional as F

    from sciconv.subpixel import SubPixelConv2d

    f64 = torch.float64
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    layer = SubPixelConv2d(4, 2, 3, 3, padding=1, dtype=f64)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=g, dtype=f64))
        x = torch.randn(2, 4, 9, 8, generator=g, dtype=f64)
        convt = layer.to_conv_transpose()
        y = layer(x)
        err = float((convt(x) - y).abs().max() / y.abs().max())
        back = SubPixelConv2d.from_conv_transpose(convt)
        err_back = float((back(x) - y).abs().max() / y.abs().max())
    lines: list[str | Check] = [
        f"SubPixelConv2d 4->2 ch, 3x3, r=3 -> {convt}: max |convT(x) - layer(x)| / max|y| = "
        f"{err:.1e}; back by from_conv_transpose: {err_back:.1e} (kernel {back.kernel_size})",
    ]
    circ = SubPixelConv2d(3, 1, 3, 2, padding=1, padding_mode="circular", bias=False, dtype=f64)
    shape = (3, 6, 6)
    eye = torch.eye(int(np.prod(shape)), dtype=f64).reshape(-1, *shape)
    with torch.no_grad():
        dense = circ(eye).reshape(eye.shape[0], -1).T.numpy()
    ref = np.linalg.svd(dense, compute_uv=False)
    sv = circ.singular_values(shape)
    sv_err = float(np.max(np.abs(sv - ref[: sv.size])) / ref[0])
    lines.append(
        f"circular 3->1 ch, 3x3, r=2 on 6x6: {sv.size} singular values from the strided symbol, "
        f"sigma_max {sv[0]:.4f}, max rel. diff vs dense SVD {sv_err:.1e}"
    )
    with torch.no_grad():
        icnr = SubPixelConv2d(4, 2, 3, 3, padding=1, dtype=f64)
        z = F.conv2d(x, icnr.weight[::9], icnr.bias[::9], padding=1)
        nn_err = float((icnr(x) - F.interpolate(z, scale_factor=3, mode="nearest")).abs().max())
    lines.append(f"ICNR start vs nearest-neighbour upsampling of a conv: max diff {nn_err:.1e}")
    return lines + [
        Check.at_most("SubPixelConv2d vs its ConvTranspose2d, rel. max diff", err, 1e-12),
        Check.at_most("from_conv_transpose round trip, rel. max diff", err_back, 1e-12),
        Check.at_most("singular values vs dense SVD (/ sigma_max)", sv_err, 1e-12),
        Check.at_most("ICNR layer vs nearest upsampling, max diff", nn_err, 1e-13),
    ]
