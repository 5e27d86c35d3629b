"""``MapPC``: any preconditioning map (a network, a multigrid cycle) as a PETSc PC python type.

``-pc_type python -pc_python_type solvers.petsc.NetworkPC`` (``NetworkPC`` is ``MapPC`` under
its first name) with ``-pc_network_map NAME`` (a map of :mod:`solvers.maps`, e.g. ``jacobi:4``
or ``pyamg``), ``-pc_network MODEL`` (a pretrained network, e.g. ``poisson2d``), or
``pc.getPythonContext().set_map(f)`` for any learned one. The grid maps (networks,
``coarse``, ``learned``, ``network+coarse``) need the cell labels: ``set_grid(labels,
exterior)`` from Python, or ``-pc_network_labels FILE.npy -pc_network_exterior air|solid``
from the command line. On several ranks ``-pc_network_strategy gather|halo`` chooses how the
map meets the distributed vector. ``-help`` lists every option.

References
----------
Kaneda, Akar, Chen, Kala, Hyde and Teran, "A Deep Conjugate Direction Method for Iteratively
Solving Linear Systems", ICML 2023. arXiv:2205.10763 (the network as a map applied to the
normalised residual).

Notay, "Flexible Conjugate Gradients", SIAM Journal on Scientific Computing 22(4), 1444-1460,
2000 (PETSc's ``KSPFCG``, which a nonlinear map needs when the KSP is not DCDM).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sciconv.validation import check_choice

from ..grid import EXTERIORS, FLUID, GRID_MAPS, check_labels, exterior_label
from ..maps import check_spec, grid_spec, make_map
from ..network.registry import load_pretrained
from ._core import petsc_module
from .dmda import local_threads
from .gather import GatherMap
from .halo import HaloNetwork
from .options import print_options_help

__all__ = ["STRATEGIES", "MapPC", "NetworkPC"]

#: Values of ``-pc_network_strategy``.
STRATEGIES = ("gather", "halo")


class MapPC:
    r"""PC python context applying :math:`y = f(x/\|x\|)` (or :math:`f(x)`), on any rank count.

    Parameters
    ----------
    map : callable, optional
        numpy vector to numpy vector, approximating :math:`A^{-1}` on the unknowns.
    spec : str, optional
        Name of a classical map built from the operator in ``setUp``
        (option ``-pc_network_map``); used when ``map`` is None.
    normalize : bool or None
        Feed the map unit vectors, as a network is trained (option ``-pc_network_normalize``).
        None (default): only when the map is nonlinear -- a network map
        (``network[...]``, ``network+coarse[...]``), or a user map not marked ``linear =
        True`` -- so a classical map gives a linear PC that PETSc's CG can use.
    strategy : {'gather', 'halo'}
        How the map meets a distributed vector (option ``-pc_network_strategy``).
    halo : int
        Halo width of the ``halo`` strategy, in cells (option ``-pc_network_halo``).
    threads : int
        Torch threads per rank, 0 for ``cores on the node // ranks on the node`` (option
        ``-pc_network_threads``; set only when given or on more than one rank).
    coarse : int
        Block side :math:`B` of a two-level coarse correction added to a network map, 0 for
        none (option ``-pc_network_coarse``, default 0): ``-pc_network MODEL`` becomes the
        map ``network+coarse:MODEL:B``.

    Notes
    -----
    **Grid.** ``set_grid(labels, exterior, da=None)``, or the options
    ``-pc_network_labels FILE.npy`` (a 2D/3D integer array saved by :func:`numpy.save`:
    :data:`~solvers.grid.FLUID` = 0 cells are the unknowns, in C order) and
    ``-pc_network_exterior air|solid`` (default ``air``; given alone, it replaces the
    exterior of ``set_grid``'s grid). A ``set_grid`` after ``KSPSetFromOptions`` replaces the
    file's grid.

    **Unknowns.** With ``set_grid(labels, exterior, da=None)`` and an operator over every
    cell of the grid (a DMDA system: non-fluid rows identity), the map acts on the fluid
    entries in natural (C) order and the others pass through (the inverse of their identity
    rows); with an operator over the fluid cells only, on all entries. The DMDA is ``da``, or
    the operator's DM (``da.createMat()`` attaches it).

    **Strategies.** ``gather`` (default): :class:`~solvers.petsc.gather.GatherMap` gathers
    the vector to rank 0 in natural order, applies the serial map there (built once, from
    the matrix gathered at ``setUp``), scatters back: the serial result on any number of
    ranks. ``halo`` (a DMDA system and ``-pc_network MODEL`` only):
    :class:`~solvers.petsc.halo.HaloNetwork` runs the network on each rank's box
    grown by ``-pc_network_halo`` cells and the smoothing sweeps as processor-local
    Gauss-Seidel (block Jacobi between ranks); an approximation of the serial map, exact
    when the halo spans the grid. With ``-pc_network_map network+coarse[:MODEL[:B]]`` (or
    ``-pc_network_coarse B``) it adds the distributed two-level correction of
    :class:`~solvers.petsc.coarse.PetscCoarse` (block aggregates cut at rank boundaries,
    :math:`A_c = P^TAP` by ``MatPtAP``, redundant LU), with MODEL defaulting to the coarse
    partner network ``poisson{2,3}d-coarse``.

    **Norms.** With ``normalize`` the output norm no longer tracks :math:`\|r\|`, so a KSP
    monitoring the *preconditioned* residual norm :math:`\|f(r/\|r\|)\|` sees a quantity
    that does not go to zero and never stops. Use it with the unpreconditioned norm:
    ``-ksp_norm_type unpreconditioned`` (the :class:`~solvers.petsc.DCDM` KSP does this by
    default). Flexible CG (``-ksp_type fcg -ksp_fcg_mmax 2 -ksp_fcg_truncation_type
    standard -ksp_norm_type unpreconditioned``) is invariant to the scale of the
    preconditioned vector, so it runs DCDM with :math:`k = 2` up to residual recomputation.
    PETSc's CG assumes a fixed preconditioner: :math:`f(r/\|r\|)` rescales its
    preconditioned norm every iteration, so CG takes many times the iterations or stalls
    (the issue saw ``DIVERGED_INDEFINITE_PC``). A classical map is therefore not normalised
    by default; give CG a network map with ``-pc_network_normalize false``.

    ``setUp`` builds the map (once per operator change) and ``reset`` drops it;
    :attr:`calls` counts the protocol calls.

    Examples
    --------
    With petsc4py on one rank: any numpy map as the PC of the DCDM KSP. The exact inverse
    (applied to :math:`r/\|r\|`) gives the error direction, so DCDM takes one iteration.

    >>> from scipy.sparse.linalg import spsolve
    >>> from solvers.petsc import DCDM, aij_from_csr, ksp_solve, petsc_module
    >>> PETSc = petsc_module()
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(16, 16))
    >>> A = (sp.kron(sp.eye(16), T) + sp.kron(T, sp.eye(16))).tocsc()
    >>> rhs = np.random.default_rng(0).standard_normal(256)
    >>> mat = aij_from_csr(A, PETSc.COMM_SELF)
    >>> ksp = PETSc.KSP().create(comm=PETSc.COMM_SELF)
    >>> ksp.setOperators(mat)
    >>> ksp.setType("python")
    >>> ksp.setPythonContext(DCDM())
    >>> pc = ksp.getPC()
    >>> pc.setType("python")
    >>> pc.setPythonContext(MapPC(map=lambda r: spsolve(A, r)))
    >>> ksp.setTolerances(rtol=1e-10)
    >>> b, x = mat.createVecs()
    >>> _ = b.setArray(rhs)
    >>> ksp.solve(b, x)
    >>> ksp.getIterationNumber(), bool(np.allclose(x.getArray(), spsolve(A, rhs)))
    (1, True)
    >>> for obj in (ksp, mat, b, x):
    ...     _ = obj.destroy()

    A classical map by name, through PETSc's options (the plug-in's dotted path):

    >>> opts = {"pc_type": "python", "pc_python_type": "solvers.petsc.NetworkPC",
    ...         "pc_network_map": "pyamg"}
    >>> x, info = ksp_solve(A, rhs, ksp_type=DCDM(), pc_type=None, options=opts, rtol=1e-10)
    >>> info.converged, info.iterations < 20, bool(np.allclose(x, spsolve(A, rhs)))
    (True, True, True)

    The shipped network on the grid (all fluid, open air around), with its coarse partner:

    >>> pc = MapPC(spec="network+coarse")
    >>> pc.set_grid(np.zeros((16, 16), dtype=int), exterior="air")
    >>> x, info = ksp_solve(A, rhs, ksp_type=DCDM(), pc_type=pc, rtol=1e-10)
    >>> info.converged, info.iterations < 20, bool(np.allclose(x, spsolve(A, rhs)))
    (True, True, True)
    """

    def __init__(
        self,
        map: Callable[[np.ndarray], np.ndarray] | None = None,  # noqa: A002 - the natural name
        spec: str | None = None,
        normalize: bool | None = None,
        strategy: str = "gather",
        halo: int = 32,
        threads: int = 0,
        coarse: int = 0,
    ) -> None:
        self.user_map = map
        self.spec = spec
        self.normalize_given = None if normalize is None else bool(normalize)
        self.strategy = check_choice("strategy", strategy, STRATEGIES)
        self.halo = self._check_int("halo", halo)
        self.threads = self._check_int("threads", threads)
        self.threads_given = threads > 0
        self.coarse = self._check_int("coarse", coarse)
        self.calls: Counter[str] = Counter()
        self.grid: tuple[Any, int | None] | None = None
        self.exterior_option: str | None = None  # -pc_network_exterior
        self.grid_from: str = ""  # '-pc_network_labels FILE' when the grid came from options
        self.origin = f"MapPC(spec={spec!r})" if spec else ""  # how the map was asked for
        self.da: Any = None
        self.impl: Any = None
        self.xin: Any = None

    @staticmethod
    def _check_int(name: str, value: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"-pc_network_{name} must be an integer >= 0, got {value!r}")
        return int(value)

    def set_grid(self, labels: Any, exterior: str | int | None = None, da: Any = None) -> None:
        """The grid a grid map needs: labels, what lies outside and, optionally, the DMDA.

        Parameters
        ----------
        labels : array_like of int
            The whole grid's cell labels (:data:`~solvers.grid.FLUID` cells are unknowns).
        exterior : {'air', 'solid'}, int or None
            What lies outside the grid, as a name or a label code
            (:func:`solvers.grid.exterior_label`).
        da : PETSc.DMDA, optional
            The DMDA of a whole-grid system (default: the operator's DM).
        """
        self.grid = (np.asarray(labels), exterior_label(exterior))
        self.grid_from = ""
        self.da = da

    @property
    def normalize(self) -> bool:
        """Whether the map gets :math:`x/\\|x\\|`: as set, else only for a nonlinear map."""
        if self.normalize_given is not None:
            return self.normalize_given
        if self.user_map is not None:
            return getattr(self.user_map, "linear", None) is not True
        return bool(self.spec) and self.spec.partition(":")[0].startswith("network")

    @normalize.setter
    def normalize(self, value: bool | None) -> None:
        self.normalize_given = None if value is None else bool(value)

    def set_map(self, fmap: Callable[[np.ndarray], np.ndarray]) -> None:
        """Use ``fmap`` from now on (e.g. a trained network wrapped to numpy)."""
        self.user_map = fmap
        self.impl = None

    # ------------------------------------------------------------------ protocol
    def create(self, pc: Any) -> None:
        self.calls["create"] += 1

    def setFromOptions(self, pc: Any) -> None:  # noqa: N802 - PETSc protocol
        self.calls["setFromOptions"] += 1
        opts = petsc_module().Options(pc.getOptionsPrefix())
        given = opts.getString("pc_network_map", "")
        spec = given or self.spec or ""
        model = opts.getString("pc_network", "")
        origin = f"-pc_network_map {given}" if given else self.origin
        if model:
            head, _, rest = spec.partition(":")
            if given and not head.startswith("network"):
                raise ValueError(
                    f"-pc_network {model} names a network but -pc_network_map {given} is not "
                    "a network map (network or network+coarse[:MODEL[:B]])"
                )
            block = rest.partition(":")[2] if head == "network+coarse" else ""
            spec = f"network+coarse:{model}:{block}".rstrip(":") if head == "network+coarse" \
                else f"network:{model}"  # fmt: skip
            origin = f"{origin + ' ' if given else ''}-pc_network {model}"
        if spec:
            check_spec(spec, origin.split(" ")[0] if origin.startswith("-") else "-pc_network_map")
        strategy = opts.getString("pc_network_strategy", self.strategy)
        strategy = check_choice("-pc_network_strategy", strategy, STRATEGIES)
        halo = self._check_int("halo", opts.getInt("pc_network_halo", self.halo))
        threads = self._check_int("threads", opts.getInt("pc_network_threads", self.threads))
        coarse = self._check_int("coarse", opts.getInt("pc_network_coarse", self.coarse))
        if coarse and spec.partition(":")[0] == "network":
            spec = f"network+coarse:{spec.partition(':')[2]}:{coarse}"
            origin = f"{origin} -pc_network_coarse {coarse}"
        if (spec, strategy, halo) != (self.spec, self.strategy, self.halo):
            self._drop()
        self.spec, self.strategy, self.halo = spec or None, strategy, halo
        self.origin = origin
        self.coarse = coarse
        self.threads_given = self.threads_given or opts.hasName("pc_network_threads")
        self.threads = threads
        if opts.hasName("pc_network_normalize"):
            self.normalize_given = opts.getBool("pc_network_normalize")
        self._grid_from_options(opts)
        print_options_help(pc, "PC NetworkPC (MapPC) options", self.help_rows(),
                           "solvers.petsc.MapPC")  # fmt: skip

    def _grid_from_options(self, opts: Any) -> None:
        """``-pc_network_labels FILE.npy`` and ``-pc_network_exterior``: the grid, checked."""
        path = opts.getString("pc_network_labels", "")
        ext = opts.getString("pc_network_exterior", "")
        if ext:
            ext = check_choice("-pc_network_exterior", ext, tuple(EXTERIORS))
        self.exterior_option = ext or None
        if not path:
            return
        what = f"-pc_network_labels {path!r}"
        try:
            raw = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise ValueError(f"{what}: no such file") from None
        except (OSError, ValueError) as err:
            raise ValueError(
                f"{what}: not a .npy integer array saved by numpy.save ({err})"
            ) from None
        if not isinstance(raw, np.ndarray):
            raise ValueError(f"{what}: holds several arrays (an .npz); save one with numpy.save")
        labels = check_labels(raw, what)
        self.grid = (labels, exterior_label(ext or "air"))
        self.grid_from = what

    def help_rows(self) -> list[tuple[str, Any, str]]:
        """``(option, current value, description)`` of each option, as ``-help`` lists them."""
        grid = self.grid_from.partition(" ")[2].strip("'") if self.grid_from else "none"
        if self.grid is not None and not self.grid_from:
            grid = "set by set_grid"
        codes = {code: name for name, code in EXTERIORS.items()}
        exterior = codes.get(self.grid[1], "none") if self.grid is not None else "air"
        exterior = self.exterior_option or exterior
        return [
            ("pc_network_map", self.spec or "none",
             "the map: identity, jacobi[:K], pyamg[:K], exact, coarse[:B], smoothed[:B], "
             "learned[:MODEL], network[:MODEL], network+coarse[:MODEL[:B]] (solvers.maps)"),
            ("pc_network", "none", "a pretrained network MODEL (e.g. poisson2d): the map "
             "network:MODEL, or network+coarse:MODEL with -pc_network_map network+coarse"),
            ("pc_network_coarse", self.coarse,
             "block side B of a coarse correction added to -pc_network MODEL, 0 none"),
            ("pc_network_labels", grid, "cell labels of the grid, a .npy integer array "
             "(0 fluid = the unknowns in C order, 1 solid, 2 air); needed by the grid maps"),
            ("pc_network_exterior", exterior, "what lies outside the grid: air (Dirichlet) or "
             "solid (Neumann)"),
            ("pc_network_normalize", self.normalize, "apply the map to x/|x| (default: only "
             "for a network map; PETSc's CG needs false)"),
            ("pc_network_strategy", self.strategy,
             "on several ranks: gather (serial map on rank 0) or halo (network per rank)"),
            ("pc_network_halo", self.halo, "halo width in cells of the halo strategy"),
            ("pc_network_threads", self.threads,
             "torch threads per rank, 0 for cores on the node // ranks on the node"),
        ]  # fmt: skip

    def setUp(self, pc: Any) -> None:  # noqa: N802 - PETSc protocol
        self.calls["setUp"] += 1
        self._drop()
        _, P = pc.getOperators()
        comm = P.getComm()
        if self.user_map is None and not self.spec:
            raise ValueError(
                "MapPC has no map: call set_map(f) or give -pc_network_map NAME "
                "(identity, jacobi:K, pyamg:K, exact) or -pc_network MODEL"
            )
        labels, exterior = self.grid if self.grid is not None else (None, None)
        if self.exterior_option is not None:  # -pc_network_exterior beats set_grid's
            exterior = exterior_label(self.exterior_option)
        name = self.spec.partition(":")[0] if self.user_map is None else ""
        network = name.startswith("network")
        if name in GRID_MAPS and labels is None:
            asked = self.origin or f"-pc_network_map {self.spec}"
            named = self.spec in re.split(r"[\s'\"=()]+", asked)
            what = asked if named else f"{asked}: the map {self.spec}"
            raise ValueError(
                f"{what} needs the grid: give -pc_network_labels FILE.npy "
                "[-pc_network_exterior air|solid], or call "
                "pc.getPythonContext().set_grid(labels, exterior) before KSPSetUp"
            )
        da = self._dmda(P)
        whole_grid = labels is not None and P.getSize()[0] == labels.size
        if labels is not None and not whole_grid and P.getSize()[0] != (labels == FLUID).sum():
            raise ValueError(
                f"{self.grid_from or 'the labels'}: the operator has {P.getSize()[0]} rows but "
                f"the labels have {labels.size} cells (shape {labels.shape}) and "
                f"{(labels == FLUID).sum()} fluid cells; one of the two must equal the rows"
            )
        if network and (comm.getSize() > 1 or self.threads_given):
            torch.set_num_threads(local_threads(comm, self.threads))
        if self.strategy == "halo":
            self.impl = self._halo(P, da, labels, exterior, whole_grid, network)
        else:
            self.impl = self._gather(P, da, labels, exterior, whole_grid)
        self.xin = P.createVecLeft()

    def _dmda(self, P: Any) -> Any:
        if self.da is not None:
            return self.da
        dm = P.getDM()
        return dm if dm.handle and dm.getType() == "da" else None

    def _gather(self, P: Any, da: Any, labels: Any, exterior: Any, whole_grid: bool) -> Any:
        user, spec = self.user_map, self.spec

        def build(A: sp.csr_matrix | None) -> Callable[[np.ndarray], np.ndarray]:
            return user if user is not None else make_map(spec, A, labels=labels, exterior=exterior)

        select = (labels == FLUID).ravel() if whole_grid else None
        return GatherMap(P, build, da=da if whole_grid or labels is None else None,
                         select=select, need_matrix=user is None)  # fmt: skip

    def _halo(
        self, P: Any, da: Any, labels: Any, exterior: Any, whole_grid: bool, network: bool
    ) -> Any:
        if not network:
            raise ValueError(
                "-pc_network_strategy halo applies a pretrained network (-pc_network MODEL), "
                f"got {'a user map' if self.user_map is not None else repr(self.spec)}"
            )
        if da is None or not whole_grid:
            raise ValueError(
                "-pc_network_strategy halo needs a DMDA system over the whole grid (rows = "
                "cells): set_grid(labels, exterior, da=da) with the operator of da.createMat()"
            )
        _, model, block = grid_spec(self.spec, labels.ndim)
        net = load_pretrained(model)
        return HaloNetwork(net, P, da, labels, exterior=exterior, halo=self.halo, coarse=block)

    def _drop(self) -> None:
        for obj in (self.impl, self.xin):
            if obj is not None:
                obj.destroy()
        self.impl = self.xin = None

    def reset(self, pc: Any) -> None:
        self.calls["reset"] += 1
        self._drop()

    def apply(self, pc: Any, x: Any, y: Any) -> None:
        self.calls["apply"] += 1
        if self.impl is None:
            self.setUp(pc)
        x.copy(self.xin)
        if self.normalize:
            nrm = self.xin.norm()
            if nrm > 0:
                self.xin.scale(1.0 / nrm)
        self.impl.apply(self.xin, y)

    def view(self, pc: Any, viewer: Any) -> None:
        what = self.spec if self.user_map is None else getattr(self.user_map, "__name__", "map")
        halo = f" (halo {self.halo})" if self.strategy == "halo" else ""
        viewer.printfASCII(
            f"  MapPC: map {what}, normalize={self.normalize}, strategy {self.strategy}{halo}\n"
        )


#: The first name of :class:`MapPC` (``-pc_python_type solvers.petsc.NetworkPC``).
NetworkPC = MapPC
