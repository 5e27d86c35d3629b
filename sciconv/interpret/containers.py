"""Two containers that express residual additions and concatenations in an ``nn.Sequential``.

:func:`~sciconv.interpret.linear_interpreter` traces any model with ``torch.fx``, so a forward
that writes ``x + self.body(x)`` or ``torch.cat`` works as is; these containers only save
writing a module class for it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..validation import describe

__all__ = ["Concat", "Residual"]


def _check_module(name: str, value: object) -> None:
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {describe(value)}")


class Residual(nn.Module):
    """``shortcut(x) + body(x)`` (``shortcut`` defaults to the identity).

    Parameters
    ----------
    body : torch.nn.Module
        The residual branch.
    shortcut : torch.nn.Module, optional
        The skip branch; ``None`` (default) is ``nn.Identity()``.

    Raises
    ------
    TypeError
        ``body`` or ``shortcut`` not a module.

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
        _check_module("body", body)
        if shortcut is not None:
            _check_module("shortcut", shortcut)
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.body(x)


class Concat(nn.Module):
    """``torch.cat([branch(x) for branch in branches], dim)`` (channels by default).

    Parameters
    ----------
    *branches : torch.nn.Module
        The branches, at least one, each applied to the same input.
    dim : int, default 1
        The axis along which their outputs are concatenated (channels).

    Raises
    ------
    TypeError
        A branch not a module, or ``dim`` not an int.
    ValueError
        No branch.

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
        for i, branch in enumerate(branches):
            _check_module(f"branches[{i}]", branch)
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"dim must be an int, got {dim!r}")
        self.branches = nn.ModuleList(branches)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], self.dim)
