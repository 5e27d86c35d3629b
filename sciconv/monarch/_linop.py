"""Plumbing shared by the sparse convolutions: LinearOperator through torch, kernel checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse.linalg as spla
import torch

from ..fft import _prepare_kernel, fft_size
from ..validation import check_finite, describe

SPARSE_MODES = ("causal", "circular")


def _prepare(k: torch.Tensor, n: int, mode: str) -> tuple[torch.Tensor, int]:
    """Kernel folded (circular) or truncated (causal) to <= n taps, and the transform length."""
    kp = _prepare_kernel(k, (k.ndim - 1,), (n,), mode)
    return kp, (n if mode == "circular" else fft_size(n + kp.shape[-1] - 1))


class _SparseOp(spla.LinearOperator):
    """Shared LinearOperator plumbing: float64/complex128 matvec through torch."""

    def _torch(self, v: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(v).reshape(-1).copy())

    def to_dense(self) -> np.ndarray:
        """The ``n x n`` matrix (columns are images of unit vectors; small ``n`` only)."""
        eye = torch.eye(self.shape[1], dtype=torch.float64)
        return self._apply(eye, adjoint=False).numpy().T.copy()

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return self._apply(self._torch(v)[None], adjoint=False)[0].numpy()

    def _rmatvec(self, v: np.ndarray) -> np.ndarray:
        return self._apply(self._torch(v)[None], adjoint=True)[0].numpy()

    def _matmat(self, V: np.ndarray) -> np.ndarray:
        return self._apply(self._torch(np.asarray(V).T).reshape(V.shape[1], -1), False).numpy().T

    def _rmatmat(self, V: np.ndarray) -> np.ndarray:
        return self._apply(self._torch(np.asarray(V).T).reshape(V.shape[1], -1), True).numpy().T


def _kernel_1d(k: Any) -> torch.Tensor:
    kt = torch.as_tensor(np.asarray(k) if not isinstance(k, torch.Tensor) else k)
    if kt.ndim != 1 or kt.shape[0] < 1 or not (kt.dtype.is_floating_point or kt.is_complex()):
        raise ValueError(f"k must be a non-empty 1-d float or complex kernel, got {describe(k)}")
    check_finite("k", kt)
    return kt.to(torch.complex128 if kt.is_complex() else torch.float64).detach()
