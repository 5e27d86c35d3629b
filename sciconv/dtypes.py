"""Type promotion of two tensors that ``torch.compile(fullgraph=True)`` can trace.

``torch.result_type`` is not traceable by Dynamo; :func:`result_dtype` gives the same answer
from the operands' dtypes and dimensions alone, so the layers that promote their inputs
compile and export.
"""

from __future__ import annotations

import torch

__all__ = ["result_dtype"]

_COMPLEX_OF = {
    torch.float16: torch.complex32,
    torch.float32: torch.complex64,
    torch.float64: torch.complex128,
}


def _kind(dtype: torch.dtype) -> int:
    """bool 0 < integer 1 < floating 2 < complex 3."""
    return 3 if dtype.is_complex else 2 if dtype.is_floating_point else int(dtype != torch.bool)


def result_dtype(a: torch.Tensor, b: torch.Tensor) -> torch.dtype:
    """``torch.result_type(a, b)`` for two tensors, without the call Dynamo cannot trace.

    Parameters
    ----------
    a, b : torch.Tensor
        The operands.

    Returns
    -------
    torch.dtype
        The dtype ``torch.result_type(a, b)`` returns.

    Notes
    -----
    PyTorch's rule: a 0-dim operand does not widen a dimensioned one of the same or a higher
    kind (bool < integer < floating < complex); a 0-dim complex operand makes a dimensioned
    floating one complex at the floating one's own width. Otherwise the dtypes promote as
    :func:`torch.promote_types`. The test suite checks every pair of dtypes and dimensions
    against ``torch.result_type``.

    Examples
    --------
    >>> import torch
    >>> result_dtype(torch.ones(3, dtype=torch.float32), torch.tensor(1.0, dtype=torch.float64))
    torch.float32
    >>> result_dtype(torch.ones(3), torch.tensor(1j))
    torch.complex64
    """
    if (a.ndim == 0) != (b.ndim == 0):
        dim, zero = (b, a) if a.ndim == 0 else (a, b)
        if _kind(zero.dtype) <= _kind(dim.dtype):
            return dim.dtype
        if zero.dtype.is_complex and dim.dtype.is_floating_point:
            return _COMPLEX_OF.get(dim.dtype, torch.complex64)
    return torch.promote_types(a.dtype, b.dtype)
