"""A trained network as a DCDM map: grid input, and a smoother sandwich that keeps it robust."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sciconv._validation import check_choice, check_positive_int, describe

__all__ = ["AIR", "FLUID", "SOLID", "NetworkMap", "network_input", "pad_labels"]

#: Label codes, the convention of :mod:`pde.geometry` (repeated here: solvers never imports pde).
FLUID, SOLID, AIR = 0, 1, 2


def pad_labels(labels: Any, exterior: int | None) -> np.ndarray:
    """Surround the grid with one layer of ``exterior`` (a label code), or return it as is."""
    lab = np.asarray(labels)
    if lab.ndim not in (2, 3) or lab.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 2D or 3D integer array, got {describe(lab)}")
    return lab.copy() if exterior is None else np.pad(lab, 1, constant_values=int(exterior))


def network_input(r_grid: torch.Tensor, labels: np.ndarray) -> torch.Tensor:
    """Stack a batch of residual grids ``(B, *grid)`` with the label masks: ``(B, 4, *grid)``.

    ``labels`` (the padded grid) gives fluid / solid / air indicator channels.
    """
    lab = torch.as_tensor(np.asarray(labels), device=r_grid.device)
    masks = torch.stack([(lab == c) for c in (FLUID, SOLID, AIR)]).to(r_grid.dtype)
    masks = masks.unsqueeze(0).expand(r_grid.shape[0], *masks.shape)
    return torch.cat([r_grid.unsqueeze(1), masks], 1)


class NetworkMap:
    r"""``f(r)``: the network (optionally between symmetric Gauss-Seidel sweeps), numpy in/out.

    Parameters
    ----------
    model : torch.nn.Module
        A :class:`~solvers.network.model.MultigridNet` (or any ``(B,4,*g) -> (B,1,*g)`` net).
    labels : array_like of int
        Cell labels of the grid (:data:`FLUID` cells are the unknowns, in C order).
    exterior : int, optional
        Label code of what lies outside the grid (shown to the network as a one-cell border).
    A : scipy sparse matrix, optional
        The matrix; needed for ``mode`` other than ``'network'``.
    mode : {'network+smoother', 'network', 'smoother'}
        What the map applies (the pieces are kept selectable to measure what each buys).
    sweeps : int
        Symmetric Gauss-Seidel sweeps before and after the network.
    device, dtype
        Where and in which precision the network runs.

    Notes
    -----
    With :math:`S` one symmetric Gauss-Seidel sweep from zero and :math:`N` the network, the
    default map is

    .. math:: x_1 = S r, \quad s = r - Ax_1, \quad e = N(s), \quad
              x_2 = x_1 + \frac{e^Ts}{e^TAe}\, e, \quad x_3 = x_2 + S(r - Ax_2),

    and returns :math:`x_3`. Each stage can only decrease the A-norm error
    :math:`\|A^{-1}r - x\|_A`: Gauss-Seidel is an A-norm contraction and the network step is
    an exact line search, so a useless (even adversarial) network output leaves the map at
    least as good as one symmetric sweep, and the network's output scale does not matter.
    The smoother removes the high-frequency error the network leaves; the network (a learned
    multilevel cycle) removes the smooth error the smoother cannot. Cost: three products with
    :math:`A`, two sweeps and one network evaluation.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        labels: Any,
        *,
        exterior: int | None = None,
        A: Any = None,
        mode: str = "network+smoother",
        sweeps: int = 1,
        device: Any = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.mode = check_choice("mode", mode, ("network+smoother", "network", "smoother"))
        self.sweeps = check_positive_int("sweeps", sweeps, 0)
        self.labels = pad_labels(labels, exterior)
        inner = tuple(slice(1, -1) for _ in range(self.labels.ndim))
        core = self.labels if exterior is None else self.labels[inner]
        self.grid_shape = core.shape
        self.fluid = core == FLUID
        self.inner = inner if exterior is not None else None
        self.n = int(self.fluid.sum())
        self.model = model
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.dtype = dtype
        self.A = None if A is None else sp.csr_matrix(A, dtype=float)
        if self.mode != "network" and self.A is None:
            raise ValueError(f"mode={self.mode!r} needs the matrix A")
        if self.A is not None and self.A.shape != (self.n, self.n):
            raise ValueError(f"A has shape {self.A.shape}, the labels have {self.n} fluid cells")
        self.calls = 0

    def network(self, r: np.ndarray) -> np.ndarray:
        """The bare network output for the vector ``r`` (fluid cells), as float64."""
        g = np.zeros(self.labels.shape)
        (g if self.inner is None else g[self.inner])[self.fluid] = r
        x = torch.as_tensor(g, dtype=self.dtype, device=self.device).unsqueeze(0)
        was = self.model.training
        self.model.eval()
        with torch.no_grad():
            q = self.model(network_input(x, self.labels))[0, 0].double().cpu().numpy()
        self.model.train(was)
        return (q if self.inner is None else q[self.inner])[self.fluid]

    def smooth(self, x: np.ndarray, r: np.ndarray) -> None:
        """``sweeps`` symmetric Gauss-Seidel sweeps on ``A x = r``, updating ``x`` in place."""
        from pyamg.relaxation.relaxation import gauss_seidel

        gauss_seidel(self.A, x, r, iterations=self.sweeps, sweep="symmetric")

    def __call__(self, r: np.ndarray) -> np.ndarray:
        self.calls += 1
        r = np.asarray(r, dtype=float).reshape(-1)
        if r.size != self.n:
            raise ValueError(f"r must have {self.n} entries (fluid cells), got {r.size}")
        if self.mode == "network":
            return self.network(r)
        x = np.zeros(self.n)
        if self.sweeps:
            self.smooth(x, r)
        if self.mode == "network+smoother":
            s = r - self.A @ x
            e = self.network(s)
            eAe = float(e @ (self.A @ e))
            if np.isfinite(eAe) and eAe > 0.0:
                x += float(e @ s) / eAe * e
        if self.sweeps:
            self.smooth(x, r)
        return x
