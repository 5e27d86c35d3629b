"""The HyperZ·Z·W operator: hyper-kernels times activations, then a full-context product.

Functional forms; the layers in :mod:`sciconv.hyperzzw.layers` generate the hyper-kernels.

References
----------
Zhang, "HyperZ·Z·W Operator Connects Slow-Fast Networks for Full Context Interaction",
arXiv:2401.17948, 2024.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..fft import fftconv
from ..validation import check_choice, describe

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

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperzzw import context_weights
    >>> _ = torch.manual_seed(0)
    >>> z, k = torch.randn(2, 3, 4, 4), torch.randn(3, 4, 4)
    >>> w_hat = context_weights(z, k)
    >>> w_hat.shape
    torch.Size([2, 3, 4, 4])
    >>> torch.equal(w_hat[1], z[1] * k)
    True
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
    'published' (the form of the paper as we read its code; square maps :math:`H = W` only):
    a per-sample, per-channel matrix product of the fast weight with the features,

    .. math:: Y_{n,c} = \tfrac{1}{H}\, \hat W_{n,c}\, Z_{n,c}, \qquad
              \hat W_{n,c} = Z_{n,c} \odot K_c \in \mathbb{R}^{H \times H}.

    'fft' (a documented deviation: a true convolution with the context-dependent kernel, so the
    receptive field is the whole map and any shape is allowed), through :func:`sciconv.fftconv`
    in 'same' mode,

    .. math:: Y_{n,c}(x) = \tfrac{1}{|\Omega|} \sum_{u} \hat W_{n,c}(u)\,
              Z_{n,c}(x - u + s),

    with :math:`s = \lfloor (m-1)/2 \rfloor` per axis (centred) and :math:`|\Omega|` the number
    of positions. Both are quadratic in :math:`Z` and mix positions only within one channel of one
    sample; the :math:`1/H`, :math:`1/|\Omega|` factors keep the scale independent of the size.
    Cost: 'fft' :math:`O(N C |\Omega| \log |\Omega|)`, 'published' :math:`O(N C H^3)`.

    Examples
    --------
    Both forms are quadratic in :math:`Z` (:math:`\hat W` is linear in it) and treat every
    sample on its own:

    >>> import torch
    >>> from sciconv.hyperzzw import FORMS, hyperzzw
    >>> FORMS
    ('fft', 'published')
    >>> _ = torch.manual_seed(0)
    >>> z = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    >>> k = torch.randn(3, 8, 8, dtype=torch.float64)
    >>> for form in FORMS:
    ...     y = hyperzzw(z, k, form)
    ...     print(form, tuple(y.shape), torch.allclose(hyperzzw(2 * z, k, form), 4 * y),
    ...           torch.allclose(hyperzzw(z[1:], k, form), y[1:]))
    fft (2, 3, 8, 8) True True
    published (2, 3, 8, 8) True True
    >>> hyperzzw(torch.randn(1, 3, 50), torch.randn(3, 50)).shape  # 'fft': any shape
    torch.Size([1, 3, 50])
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
    # fftconv computes half precision in float32; answer in z's dtype like 'published' does
    return (fftconv(z, w_hat, mode="same", axes=axes) / n_pos).to(z.dtype)


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

    Examples
    --------
    The fast kernel is linear in :math:`Z`, so the map is quadratic:

    >>> import torch
    >>> from sciconv.hyperzzw import local_hyper_conv
    >>> _ = torch.manual_seed(0)
    >>> z = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    >>> k = torch.randn(3, 3, 3, dtype=torch.float64)
    >>> y = local_hyper_conv(z, k)
    >>> y.shape
    torch.Size([2, 3, 8, 8])
    >>> torch.allclose(local_hyper_conv(2 * z, k), 4 * y)
    True
    >>> torch.allclose(local_hyper_conv(z[1:], k), y[1:])  # per-sample kernels
    True
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
