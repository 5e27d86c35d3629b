"""Two containers that express residual additions and concatenations in an ``nn.Sequential``.

:func:`~sciconv.interpret.linear_interpreter` traces any model with ``torch.fx``, so a forward
that writes ``x + self.body(x)`` or ``torch.cat`` works as is; these containers only save
writing a module class for it.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Concat", "Residual"]


class Residual(nn.Module):
    """``shortcut(x) + body(x)`` (``shortcut`` defaults to the identity).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sciconv.interpret import Residual
    >>> block = Residual(nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU()))
    >>> x = torch.randn(1, 2, 5, 5)
    >>> bool(torch.equal(block(x), x + block.body(x)))
    True
    """

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.body(x)


class Concat(nn.Module):
    """``torch.cat([branch(x) for branch in branches], dim)`` (channels by default).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sciconv.interpret import Concat
    >>> both = Concat(nn.Identity(), nn.Conv1d(3, 2, 1))
    >>> tuple(both(torch.randn(1, 3, 8)).shape)
    (1, 5, 8)
    """

    def __init__(self, *branches: nn.Module, dim: int = 1) -> None:
        super().__init__()
        if not branches:
            raise ValueError("Concat needs at least one branch, got none")
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"dim must be an int, got {dim!r}")
        self.branches = nn.ModuleList(branches)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], self.dim)
