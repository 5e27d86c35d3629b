"""Feature-wise linear modulation (FiLM, Perez et al. 2018)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..validation import check_positive_int, describe

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
    """

    def __init__(
        self,
        num_features: int,
        cond_features: int,
        *,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
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
