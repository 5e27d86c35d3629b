"""The network preconditioner domain-decomposed over a DMDA: each rank on its box plus a halo.

The PETSc half of the learned map (:mod:`solvers.network` itself has no PETSc).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sciconv.validation import check_positive_int, describe

from ..grid import FLUID, exterior_label
from ..network.precond import NetworkMap
from ._core import petsc_module
from .coarse import PetscCoarse
from .dmda import dmda_layout, global_index, owned_box, window, window_bounds

__all__ = ["HaloNetwork"]


class HaloNetwork:
    r"""SGS, line-searched network step, SGS on a DMDA system, the network applied rank by rank.

    Parameters
    ----------
    model : torch.nn.Module
        The network (:class:`~solvers.network.model.MultigridNet`), held by every rank.
    mat : PETSc.Mat
        The whole-grid AIJ matrix of ``da`` (non-fluid cells identity rows).
    da : PETSc.DMDA
        Sizes ``reversed(labels.shape)``; its ownership ranges decide the boxes.
    labels : numpy int array
        The whole grid's labels (every rank holds them); :data:`FLUID` cells are unknowns.
    exterior : {'air', 'solid'} or int, optional
        What lies outside the grid, as a name or label code (one border layer, as in the
        serial map); None: no border.
    halo : int
        Cells :math:`H` added to each side of the owned box.
    sweeps : int
        Symmetric sweeps of each smoothing stage (as :class:`NetworkMap`).
    coarse : int or tuple of int, optional
        Add the distributed two-level coarse correction
        (:class:`~solvers.petsc.coarse.PetscCoarse`, aggregates of this block side) after
        the network step, as :class:`NetworkMap` with ``coarse=``; None or 0: none.
    device, dtype
        Where and in which precision the network runs.

    Notes
    -----
    The map is :class:`NetworkMap`'s,

    .. math:: x_1 = S r,\quad s = r - Ax_1,\quad e = N_H(s),\quad
              x_2 = x_1 + \frac{e^Ts}{e^TAe}\,e,\quad x_3 = x_2 + S(r - Ax_2),

    with two parallel substitutes. :math:`S` is PETSc's ``MatSOR`` with local symmetric
    sweeps from zero: Gauss-Seidel inside each rank's rows and block Jacobi between ranks (on
    one rank, the serial symmetric sweep); it stays symmetric positive definite, so the map
    keeps its A-norm guarantee. :math:`N_H` is the network applied by each rank to the
    window :math:`W = (\mathrm{box} \pm H) \cap \bar\Omega` (:math:`\bar\Omega` the grid
    with its one exterior layer; values gathered by a PETSc scatter from the owners, zero in
    the exterior), keeping the outputs of its own cells, scaled by
    :math:`\mathrm{rms}_W(s)/\mathrm{rms}_\Omega(s)`: the network normalises its input by the
    root mean square over the fluid cells it sees, and the factor restores a common scale
    across ranks (exact if the network were homogeneous of degree one). The dot products
    are global (``VecDot``), so the line search is exact.

    With ``coarse`` the map is the serial two-level one: with :math:`\Pi = PA_c^{-1}P^TA`,
    :math:`e = (I - \Pi)N_H(s)` (the network step A-orthogonal to the coarse space), then
    after the line search :math:`x_3 = x_2 + PA_c^{-1}P^T(r - Ax_2)` and the final sweep from
    :math:`x_3`. :math:`P` (aggregates: block pieces intersected with each rank's box),
    :math:`A_c = P^TAP` and its redundant LU are PETSc objects; every stage stays an A-norm
    contraction, so the map is at least the classical two-level cycle with block-Jacobi
    Gauss-Seidel smoothing, whatever :math:`N_H` returns.

    The :class:`~solvers.network.model.MultigridNet` coarsens down to a few cells (unless
    its levels are capped): its receptive field is the whole grid, larger than any halo
    short of the grid, and its input normalisation is a global mean. :math:`N_H` is thus an
    approximation, whose coarse levels see only the window (and the exterior label past
    it); it equals the serial network when every window is all of :math:`\bar\Omega`
    (:math:`H \ge` the grid size), the only case in which it is exact. Its effect on DCDM
    iterations is measured by ``examples/mpi_dcdm.py``.

    Examples
    --------
    On one rank with a halo as wide as the grid, it is the serial
    :class:`~solvers.network.precond.NetworkMap` (an untrained, seeded network on an 8 x 8
    all-fluid grid with open air around, with and without the coarse correction):

    >>> import scipy.sparse as sp
    >>> from solvers.network import MultigridNet
    >>> from solvers.petsc import aij_from_csr
    >>> PETSc = petsc_module()
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    >>> A = (sp.kron(sp.eye(8), T) + sp.kron(T, sp.eye(8))).tocsr()
    >>> labels = np.zeros((8, 8), dtype=int)
    >>> da = PETSc.DMDA().create(sizes=(8, 8), stencil_width=1, comm=PETSc.COMM_SELF)
    >>> mat = aij_from_csr(A, PETSc.COMM_SELF)  # one rank: global order = C order
    >>> _ = torch.manual_seed(0)
    >>> net = MultigridNet(2, width=4, depth=1)
    >>> r, y = mat.createVecs()
    >>> v = np.random.default_rng(0).standard_normal(64)
    >>> _ = r.setArray(v)
    >>> for coarse in (None, 4):
    ...     halo = HaloNetwork(net, mat, da, labels, exterior="air", halo=8, coarse=coarse)
    ...     halo.apply(r, y)
    ...     serial = NetworkMap(net, labels, exterior="air", A=A, coarse=coarse)
    ...     print(coarse, np.allclose(y.getArray(), serial(v)), halo.calls)
    ...     halo.destroy()
    None True 1
    4 True 1
    >>> for obj in (mat, da, r, y):
    ...     _ = obj.destroy()
    """

    def __init__(
        self,
        model: torch.nn.Module,
        mat: Any,
        da: Any,
        labels: Any,
        *,
        exterior: str | int | None = None,
        halo: int = 32,
        sweeps: int = 1,
        coarse: int | tuple[int, ...] | None = None,
        device: Any = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        PETSc = petsc_module()
        exterior = exterior_label(exterior)
        self.halo = check_positive_int("halo", halo, 0)
        self.sweeps = check_positive_int("sweeps", sweeps, 0)
        shape, blocks = dmda_layout(da)
        labels = np.asarray(labels)
        if labels.shape != shape:
            raise ValueError(f"labels must have the DMDA's shape {shape}, got {describe(labels)}")
        if mat.getSize()[0] != labels.size:
            raise ValueError(f"mat has {mat.getSize()[0]} rows, the grid {labels.size} cells")
        self.mat, self.da = mat, da
        self.box = owned_box(da)
        bounds = window_bounds(self.box, self.halo, shape, border=0 if exterior is None else 1)
        fill = FLUID + 1 if exterior is None else int(exterior)  # unused when border is 0
        self.labels_w = window(labels, bounds, fill)
        self.fluid_w = self.labels_w == FLUID
        self.own = tuple(slice(s.start - lo, s.stop - lo) for s, (lo, _) in zip(self.box, bounds))
        inside = tuple(slice(max(lo, 0), min(hi, n)) for (lo, hi), n in zip(bounds, shape))
        self.inside = tuple(slice(s.start - lo, s.stop - lo) for s, (lo, _) in zip(inside, bounds))
        self.inside_shape = tuple(s.stop - s.start for s in inside)
        coords = np.meshgrid(*(np.arange(s.start, s.stop) for s in inside), indexing="ij")
        idx = global_index(blocks, tuple(c.ravel() for c in coords)).astype(PETSc.IntType)
        src = PETSc.IS().createGeneral(idx, comm=PETSc.COMM_SELF)
        self.wvec = PETSc.Vec().createSeq(idx.size, comm=PETSc.COMM_SELF)
        self.gvec = mat.createVecLeft()
        self.scatter = PETSc.Scatter().create(self.gvec, src, self.wvec, None)
        src.destroy()
        self.n_fluid = int((labels == FLUID).sum())
        self.own_fluid = bool(self.fluid_w[self.own].any())
        self.net = NetworkMap(model, self.labels_w, mode="network", device=device, dtype=dtype)
        self.mask = mat.createVecLeft()
        self.mask.getArray()[:] = (labels[self.box] == FLUID).ravel()
        names = ("t", "e", "Ae", "w")
        self.work = dict(zip(names, (mat.createVecLeft() for _ in names)))
        sor = PETSc.Mat.SORType
        self.sortype = sor.LOCAL_SYMMETRIC_SWEEP | sor.ZERO_INITIAL_GUESS
        self.coarse = None
        if coarse is not None and np.any(np.asarray(coarse) != 0):
            self.coarse = PetscCoarse(mat, da, labels, coarse)
        self.calls = 0

    def network(self, s: Any, e: Any) -> None:
        r"""``e = N_H(s)`` (collective): the windowed network on each rank, own cells kept."""
        PETSc = petsc_module()
        rms_global = s.norm() / np.sqrt(max(self.n_fluid, 1))
        self.scatter.scatter(s, self.wvec, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
        out = e.getArray()
        out[:] = 0.0
        if not self.own_fluid or not rms_global > 0.0:
            return
        g = np.zeros(self.labels_w.shape)
        g[self.inside] = self.wvec.getArray(readonly=True).reshape(self.inside_shape)
        r = g[self.fluid_w]
        rms_window = float(np.sqrt(r @ r / r.size))
        if rms_window == 0.0:
            return
        q = np.zeros(self.labels_w.shape)
        q[self.fluid_w] = self.net.network(r)
        out[:] = (q[self.own] * (rms_window / rms_global)).ravel()

    def smooth(self, b: Any, x: Any) -> None:
        """``x = S b``: ``sweeps`` local symmetric Gauss-Seidel sweeps from zero (collective)."""
        if self.sweeps:
            self.mat.SOR(b, x, omega=1.0, sortype=self.sortype, its=self.sweeps)
        else:
            x.set(0.0)

    def apply(self, r: Any, y: Any) -> None:
        """``y = f(r)`` (collective); see the class Notes."""
        self.calls += 1
        A, w = self.mat, self.work
        t, e, Ae, corr = w["t"], w["e"], w["Ae"], w["w"]
        self.smooth(r, y)
        A.mult(y, t)
        t.aypx(-1.0, r)
        t.pointwiseMult(t, self.mask)
        self.network(t, e)
        A.mult(e, Ae)
        if self.coarse is not None:  # e -= P A_c^{-1} P^T A e
            self.coarse(Ae, corr)
            e.axpy(-1.0, corr)
            A.mult(e, Ae)
        eAe, es = e.dot(Ae), e.dot(t)
        if np.isfinite(eAe) and eAe > 0.0:
            y.axpy(es / eAe, e)
        if self.coarse is not None:
            self.coarse.correct(y, r)
        if self.sweeps:
            A.mult(y, t)
            t.aypx(-1.0, r)
            self.smooth(t, corr)
            y.axpy(1.0, corr)

    def destroy(self) -> None:
        """Free the PETSc objects."""
        if self.coarse is not None:
            self.coarse.destroy()
        for obj in (self.scatter, self.wvec, self.gvec, self.mask, *self.work.values()):
            obj.destroy()
