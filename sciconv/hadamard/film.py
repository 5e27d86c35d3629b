"""Feature-wise linear modulation (FiLM).

References
----------
Perez, Strub, de Vries, Dumoulin and Courville, "FiLM: Visual Reasoning with a General Conditioning
Layer", AAAI 2018. arXiv:1709.07871.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..validation import check_float_dtype, check_positive_int, describe

__all__ = ["FiLM", "film"]


def film(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    r"""Per-channel affine map :math:`y_{n,c} = \gamma_{n,c} x_{n,c} + \beta_{n,c}` (broadcast).

    Parameters
    ----------
    x : torch.Tensor
        Features ``(N, C, *spatial)``.
    gamma, beta : torch.Tensor
        Scales and shifts of shape ``(N, C)``.

    Returns
    -------
    torch.Tensor
        Same shape as ``x``.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hadamard import film
    >>> x = torch.ones(2, 3, 4, 4)
    >>> gamma = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    >>> beta = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    >>> y = film(x, gamma, beta)
    >>> y.shape
    torch.Size([2, 3, 4, 4])
    >>> y[:, :, 0, 0]  # sample 0 scaled, sample 1 replaced by its shifts
    tensor([[1., 2., 3.],
            [1., 2., 3.]])
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise ValueError(f"x must be a tensor of shape (N, C, ...), got {describe(x)}")
    for name, t in (("gamma", gamma), ("beta", beta)):
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != tuple(x.shape[:2]):
            raise ValueError(
                f"{name} must have shape (N, C) = {tuple(x.shape[:2])}, got {describe(t)}"
            )
    extra = (1,) * (x.dim() - 2)
    return gamma.view(*gamma.shape, *extra) * x + beta.view(*beta.shape, *extra)


class FiLM(nn.Module):
    r"""FiLM layer: :math:`(\gamma, \beta) = \text{Linear}(z)`, then :func:`film`.

    Parameters
    ----------
    num_features : int
        Channels ``C`` of the modulated features.
    cond_features : int
        Size of the conditioning vector ``z``.
    device, dtype
        Factory arguments.

    Notes
    -----
    The linear map is initialised to zero weight and bias :math:`(\gamma, \beta) = (1, 0)`, so a
    fresh layer is the identity whatever the conditioning; training moves it away. Every sample
    is modulated by its own :math:`z_n` only.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hadamard import FiLM
    >>> _ = torch.manual_seed(0)
    >>> layer = FiLM(num_features=8, cond_features=5)
    >>> x, cond = torch.randn(2, 8, 6, 6), torch.randn(2, 5)
    >>> torch.equal(layer(x, cond), x)  # identity at initialisation
    True
    >>> _ = torch.nn.init.normal_(layer.to_params.weight)  # as if trained
    >>> layer(x, cond).shape
    torch.Size([2, 8, 6, 6])
    >>> torch.allclose(layer(x, cond)[:1], layer(x[:1], cond[:1]), atol=1e-5)  # per-sample
    True
    """

    def __init__(
        self,
        num_features: int,
        cond_features: int,
        *,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        self.cond_features = check_positive_int("cond_features", cond_features)
        self.to_params = nn.Linear(cond_features, 2 * num_features, device=device, dtype=dtype)
        with torch.no_grad():
            self.to_params.weight.zero_()
            self.to_params.bias.copy_(
                torch.cat([torch.ones(num_features), torch.zeros(num_features)])
            )

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Modulate ``x`` ``(N, C, ...)`` by the conditioning ``cond`` ``(N, cond_features)``."""
        if (
            not isinstance(cond, torch.Tensor)
            or cond.dim() != 2
            or (cond.shape[1] != self.cond_features)
        ):
            raise ValueError(
                f"cond must have shape (N, {self.cond_features}), got {describe(cond)}"
            )
        gamma, beta = self.to_params(cond).split(self.num_features, dim=1)
        return film(x, gamma, beta)
