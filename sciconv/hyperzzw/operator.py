"""The HyperZ·Z·W operator: hyper-kernels times activations, then a full-context product.

Functional forms; the layers in :mod:`sciconv.hyperzzw.layers` generate the hyper-kernels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..validation import check_choice, describe
from ..fft import fftconv

__all__ = ["FORMS", "context_weights", "hyperzzw", "local_hyper_conv"]

#: Global forms: 'fft' (full-context convolution) and 'published' (per-channel matrix product).
FORMS = ("fft", "published")


def _check_z(z: torch.Tensor, min_dim: int = 3) -> None:
    if not isinstance(z, torch.Tensor) or z.dim() < min_dim or z.dim() > 5:
        raise ValueError(f"z must be a tensor of shape (N, C, *spatial), got {describe(z)}")


def context_weights(z: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    r"""Context-dependent fast weights :math:`\hat W_n = Z_n \odot K` (Hadamard product).

    Parameters
    ----------
    z : torch.Tensor
        Activations ``(N, C, *spatial)``.
    kernel : torch.Tensor
        Hyper-kernel ``(C, *spatial)`` (the same for every sample).

    Returns
    -------
    torch.Tensor
        ``(N, C, *spatial)``; sample :math:`n` depends on :math:`Z_n` only.
    """
    _check_z(z)
    if not isinstance(kernel, torch.Tensor) or tuple(kernel.shape) != tuple(z.shape[1:]):
        raise ValueError(
            f"kernel must have shape (C, *spatial) = {tuple(z.shape[1:])}, got {describe(kernel)}"
        )
    return z * kernel.unsqueeze(0)


def hyperzzw(z: torch.Tensor, kernel: torch.Tensor, form: str = "fft") -> torch.Tensor:
    r"""Global HyperZ·Z·W: :math:`\hat W = Z \odot K`, then :math:`\hat W` acts on :math:`Z`.

    Parameters
    ----------
    z : torch.Tensor
        Activations ``(N, C, *spatial)`` (1, 2 or 3 spatial axes for 'fft'; 2 for 'published').
    kernel : torch.Tensor
        Global hyper-kernel ``(C, *spatial)``, as large as the map.
    form : {'fft', 'published'}
        See Notes.

    Returns
    -------
    torch.Tensor
        Same shape as ``z``.

    Notes
    -----
    'published' (the form of Zhang 2024 as we read its code; square maps :math:`H = W` only):
    a per-sample, per-channel matrix product of the fast weight with the features,

    .. math:: Y_{n,c} = \tfrac{1}{H}\, \hat W_{n,c}\, Z_{n,c}, \qquad
              \hat W_{n,c} = Z_{n,c} \odot K_c \in \mathbb{R}^{H \times H}.

    'fft' (a documented deviation: a true convolution with the context-dependent kernel, so the
    receptive field is the whole map and any shape is allowed), through :func:`sciconv.fftconv`
    in 'same' mode,

    .. math:: Y_{n,c}(x) = \tfrac{1}{|\Omega|} \sum_{u} \hat W_{n,c}(u)\,
              Z_{n,c}(x - u + s),

    with :math:`s = \lfloor (m-1)/2 \rfloor` per axis (centred) and :math:`|\Omega|` the number
    of positions. Both are cubic in :math:`Z` and mix positions only within one channel of one
    sample; the :math:`1/H`, :math:`1/|\Omega|` factors keep the scale independent of the size.
    Cost: 'fft' :math:`O(N C |\Omega| \log |\Omega|)`, 'published' :math:`O(N C H^3)`.
    """
    check_choice("form", form, FORMS)
    w_hat = context_weights(z, kernel)
    spatial = tuple(z.shape[2:])
    if form == "published":
        if z.dim() != 4 or spatial[0] != spatial[1]:
            raise ValueError(
                "z must have square maps (N, C, H, H) for form='published', got "
                f"{describe(z)} (use form='fft' for other shapes)"
            )
        return torch.matmul(w_hat, z) / spatial[0]
    axes = tuple(range(-len(spatial), 0))
    n_pos = 1
    for s in spatial:
        n_pos *= s
    return fftconv(z, w_hat, mode="same", axes=axes) / n_pos


def local_hyper_conv(z: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    r"""Local HyperZ·Z·W: depthwise convolution of each sample with its own conditioned kernel.

    Parameters
    ----------
    z : torch.Tensor
        Activations ``(N, C, H, W)``.
    kernel : torch.Tensor
        Local hyper-kernel ``(C, k, k)`` with odd ``k``.

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)`` ("same" zero padding).

    Notes
    -----
    The fast kernel of sample :math:`n` is :math:`\hat W_{n,c} = K_c \odot P_k(Z_{n,c})` with
    :math:`P_k` the adaptive average pooling of the map to :math:`k \times k`, and
    :math:`Y_{n,c} = \hat W_{n,c} \star Z_{n,c}` (cross-correlation, as ``conv2d``). The batch is
    folded into the channels (``groups = N C``), so sample :math:`n` sees its own kernel only.
    """
    _check_z(z, 4)
    if z.dim() != 4:
        raise ValueError(f"z must have shape (N, C, H, W), got {describe(z)}")
    n, c, h, w = z.shape
    if not isinstance(kernel, torch.Tensor) or kernel.dim() != 3 or kernel.shape[0] != c:
        raise ValueError(f"kernel must have shape ({c}, k, k), got {describe(kernel)}")
    k = kernel.shape[-1]
    if kernel.shape[1] != k or k % 2 == 0:
        raise ValueError(f"kernel must be square with odd size, got {describe(kernel)}")
    w_hat = kernel.unsqueeze(0) * F.adaptive_avg_pool2d(z, (k, k))  # (N, C, k, k)
    y = F.conv2d(
        z.reshape(1, n * c, h, w), w_hat.reshape(n * c, 1, k, k), padding=k // 2, groups=n * c
    )
    return y.reshape(n, c, h, w)
