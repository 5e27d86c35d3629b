"""The one door to PETSc: the loader, communicators, CSR <-> AIJ, null spaces, the KSP driver.

Every module that needs PETSc (the plug-ins of :mod:`solvers.petsc`, :mod:`pde.dmda`,
:mod:`solvers.krylov`, the CLI) reaches it through :func:`petsc_module`, and every KSP solve
goes through :func:`ksp_solve` (or, for a KSP kept across many right-hand sides,
:class:`KSPSolver`, which :func:`ksp_solve` uses once). This module imports nothing of PETSc at
import time, and nothing of :mod:`solvers` but :mod:`solvers.info`.
"""

from __future__ import annotations

import functools
import itertools
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from sciconv.validation import check_positive_int, describe

from ..info import SolveInfo, check_rhs, check_tolerances

__all__ = [
    "petsc_build_config",
    "REASONS",
    "KSPSolver",
    "aij_from_csr",
    "as_comm",
    "attach_null_space",
    "ksp_solve",
    "max_over_ranks",
    "ownership",
    "petsc_module",
    "petsc_to_scipy",
    "reason_name",
    "solve_reason",
]

#: PETSc converged-reason names -> :attr:`SolveInfo.reason`; any other name maps to itself in
#: lower case (e.g. ``'converged_its'`` of a ``preonly`` KSP, ``'diverged_dtol'``).
REASONS = {
    "CONVERGED_RTOL": "rtol",
    "CONVERGED_RTOL_NORMAL": "rtol",
    "CONVERGED_ATOL": "atol",
    "CONVERGED_ATOL_NORMAL": "atol",
    "DIVERGED_MAX_IT": "maxiter",
    "DIVERGED_INDEFINITE_MAT": "indefinite",
    "DIVERGED_INDEFINITE_PC": "indefinite",
    "DIVERGED_NANORINF": "nan",
    "DIVERGED_BREAKDOWN": "breakdown",
    "DIVERGED_BREAKDOWN_BICG": "breakdown",
}

_prefixes = itertools.count()


def petsc_module(argv: Sequence[str] | None = None) -> Any:
    """Import and return ``petsc4py.PETSc`` (initialised), with a clear error if absent.

    Parameters
    ----------
    argv : sequence of str, optional
        PETSc's command line (``argv[0]`` the program name), handed to ``PetscInitialize``
        when this call loads PETSc; when PETSc is already loaded, ``argv[1:]`` are inserted
        into its options database instead.

    Returns
    -------
    module
        ``petsc4py.PETSc``.

    Notes
    -----
    The only place in the project that loads PETSc; importing :mod:`solvers` or :mod:`pde`
    does not, only calling this does. Options that act at initialisation (``-log_view``,
    ``-help``, ``-malloc_debug``) work only in the ``argv`` of the call that loads PETSc.

    Examples
    --------
    >>> PETSc = petsc_module()
    >>> np.dtype(PETSc.ScalarType), PETSc.COMM_SELF.getSize()  # real double scalars
    (dtype('float64'), 1)
    >>> v = PETSc.Vec().createSeq(3, comm=PETSc.COMM_SELF)
    >>> _ = v.set(2.0)
    >>> float(v.sum()), type(v).__name__
    (6.0, 'Vec')
    >>> _ = v.destroy()
    """
    loaded = "petsc4py.PETSc" in sys.modules
    try:
        import petsc4py

        petsc4py.init(None if argv is None or loaded else [str(a) for a in argv])
        from petsc4py import PETSc
    except ImportError as exc:  # pragma: no cover - petsc4py is installed by the bootstrap
        raise ImportError(
            "petsc4py is required for solvers.petsc; run `make setup` (scripts/bootstrap.sh) "
            "to build PETSc and petsc4py"
        ) from exc
    if loaded and argv is not None and len(argv) > 1:
        PETSc.Options().insertString(shlex.join([str(a) for a in argv[1:]]))
    return PETSc


def petsc_build_config() -> dict[str, Any]:
    """petsc4py's record of the PETSc it was built against (``PETSC_DIR``, ``PETSC_ARCH``).

    Examples
    --------
    >>> sorted(petsc_build_config())[:2]
    ['PETSC_ARCH', 'PETSC_DIR']
    """
    petsc_module()
    import petsc4py

    return dict(petsc4py.get_config())


# ---------------------------------------------------------------------- communicators
def as_comm(comm: Any = None) -> Any:
    """``comm`` as a ``PETSc.Comm``: None gives ``PETSC_COMM_WORLD``; mpi4py communicators wrap.

    Notes
    -----
    A ``PETSc.Comm`` is returned as is; anything else is handed to ``PETSc.Comm(comm)``,
    which accepts mpi4py communicators.

    Examples
    --------
    >>> from mpi4py import MPI
    >>> PETSc = petsc_module()
    >>> as_comm() == PETSc.COMM_WORLD, as_comm(PETSc.COMM_SELF) is PETSc.COMM_SELF
    (True, True)
    >>> comm = as_comm(MPI.COMM_SELF)
    >>> type(comm).__name__, comm.getSize()
    ('Comm', 1)
    """
    PETSc = petsc_module()
    if comm is None:
        return PETSc.COMM_WORLD
    return comm if isinstance(comm, PETSc.Comm) else PETSc.Comm(comm)


def ownership(n: int, comm: Any = None) -> tuple[int, int]:
    """``(lo, hi)``: this rank's rows of ``n`` under PETSc's default split.

    Notes
    -----
    ``PETSC_DECIDE`` gives the first ``n % size`` ranks one row more than the others, in
    rank order; this is that split, computed without creating a vector.

    Examples
    --------
    On one rank every row is owned; PETSc's own split of a vector agrees:

    >>> PETSc = petsc_module()
    >>> ownership(10, PETSc.COMM_SELF)
    (0, 10)
    >>> v = PETSc.Vec().createMPI(10, comm=PETSc.COMM_SELF)
    >>> v.getOwnershipRange() == ownership(10, PETSc.COMM_SELF)
    True
    >>> _ = v.destroy()
    """
    n = check_positive_int("n", n, 0)
    comm = as_comm(comm)
    size, rank = comm.getSize(), comm.getRank()
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


def max_over_ranks(comm: Any, value: float) -> float:
    """The largest ``value`` over the ranks of ``comm`` (collective; ``value`` on one rank).

    Notes
    -----
    Used for wall times, which are reported as the slowest rank's.

    Examples
    --------
    >>> max_over_ranks(petsc_module().COMM_SELF, 2.5)
    2.5
    """
    comm = as_comm(comm)
    if comm.getSize() == 1:
        return float(value)
    return float(max(comm.tompi4py().allgather(float(value))))


# ---------------------------------------------------------------------- matrices
def aij_from_csr(csr: Any, comm: Any = None) -> Any:
    """A distributed AIJ ``Mat`` of a scipy sparse matrix every rank holds whole.

    Parameters
    ----------
    csr : scipy sparse matrix, shape (m, n)
        Converted to CSR; each rank inserts its own rows (PETSc's default split of ``m``).
    comm : PETSc or mpi4py communicator, optional
        Default ``PETSC_COMM_WORLD``.

    Returns
    -------
    petsc4py.PETSc.Mat
        Assembled.

    Notes
    -----
    The column layout is PETSc's default split of ``n``; a complex matrix is refused with a
    ``TypeError`` when PETSc has real scalars (its imaginary part would be dropped).

    Examples
    --------
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(5, 5), format="csr")
    >>> mat = aij_from_csr(A, petsc_module().COMM_SELF)
    >>> mat.getType(), mat.getSize(), mat.getValue(1, 0), mat.getValue(1, 1)
    ('seqaij', (5, 5), -1.0, 2.0)
    >>> x, y = mat.createVecs()
    >>> _ = x.setArray(np.arange(5.0))
    >>> mat.mult(x, y)
    >>> bool(np.allclose(y.getArray(), A @ np.arange(5.0)))
    True
    >>> for obj in (mat, x, y):
    ...     _ = obj.destroy()
    >>> aij_from_csr(A.astype(complex))
    Traceback (most recent call last):
    ...
    TypeError: csr has complex dtype complex128 but this PETSc build has real scalars (float64)
    """
    if not sp.issparse(csr):
        raise TypeError(f"csr must be a scipy sparse matrix, got {describe(csr)}")
    PETSc = petsc_module()
    comm = as_comm(comm)
    _check_scalar("csr", csr.dtype)
    csr = sp.csr_matrix(csr)
    m, n = csr.shape
    lo, hi = ownership(m, comm)
    c_lo, c_hi = ownership(n, comm)
    local = csr[lo:hi]
    mat = PETSc.Mat().createAIJ(
        ((hi - lo, m), (c_hi - c_lo, n)),
        csr=(
            local.indptr.astype(PETSc.IntType),
            local.indices.astype(PETSc.IntType),
            local.data.astype(PETSc.ScalarType),
        ),
        comm=comm,
    )
    mat.assemble()
    return mat


def petsc_to_scipy(mat: Any) -> sp.csr_matrix:
    """A serial PETSc Mat (AIJ, or a shell whose operator has ``to_sparse``) as scipy CSR.

    Notes
    -----
    An AIJ matrix is read with ``MatGetRowIJ``-style ``getValuesCSR`` (this rank's rows: call
    it on a sequential matrix, e.g. one from ``createSubMatrices``); a MATPYTHON shell is
    materialised by its operator's ``to_sparse()``.

    Examples
    --------
    A round trip scipy -> PETSc -> scipy:

    >>> A = sp.random(6, 6, density=0.5, format="csr", random_state=0) + sp.eye(6)
    >>> mat = aij_from_csr(A, petsc_module().COMM_SELF)
    >>> B = petsc_to_scipy(mat)
    >>> type(B).__name__, (B != A).nnz
    ('csr_matrix', 0)
    >>> _ = mat.destroy()
    """
    if mat.getType() == "python":
        ctx = mat.getPythonContext()
        op = getattr(ctx, "op", None)
        if op is None or not hasattr(op, "to_sparse"):
            raise TypeError("the shell matrix's operator has no to_sparse(); give a map instead")
        return sp.csr_matrix(op.to_sparse())
    indptr, indices, data = mat.getValuesCSR()
    return sp.csr_matrix((data, indices, indptr), shape=mat.getSize())


def attach_null_space(mat: Any, vectors: Any) -> Any:
    """Attach the null space spanned by ``vectors`` to ``mat``; return it (None if empty).

    Parameters
    ----------
    mat : petsc4py.PETSc.Mat
    vectors : array_like of shape (k, n), sequence of PETSc Vec, or PETSc NullSpace
        Orthonormal basis vectors: numpy rows are whole vectors (every rank holds them; each
        rank copies its rows), Vecs have ``mat``'s layout.

    Returns
    -------
    petsc4py.PETSc.NullSpace or None
        None when ``vectors`` is empty (nothing is attached).

    Examples
    --------
    The 1D pure-Neumann Laplacian is singular, with the constants as null space:

    >>> L = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(6, 6)).tolil()
    >>> L[0, 0] = L[-1, -1] = 1.0
    >>> mat = aij_from_csr(L.tocsr(), petsc_module().COMM_SELF)
    >>> nsp = attach_null_space(mat, np.ones((1, 6)) / np.sqrt(6))
    >>> nsp.test(mat), mat.getNullSpace().handle == nsp.handle
    (True, True)
    >>> attach_null_space(mat, np.zeros((0, 6))) is None
    True

    A Krylov solve of a consistent system then converges:

    >>> b = L @ np.arange(6.0)
    >>> x, info = ksp_solve(mat, b, rtol=1e-10)
    >>> info.converged, bool(np.allclose(L @ x, b))
    (True, True)
    >>> for obj in (mat, nsp):
    ...     _ = obj.destroy()
    """
    PETSc = petsc_module()
    if isinstance(vectors, PETSc.NullSpace):
        mat.setNullSpace(vectors)
        return vectors
    if isinstance(vectors, (list, tuple)) and all(isinstance(v, PETSc.Vec) for v in vectors):
        vecs = list(vectors)
    else:
        rows = np.asarray(vectors, dtype=float)
        n = mat.getSize()[0]
        if rows.size and rows.ndim == 1:
            rows = rows[None, :]
        if rows.size and (rows.ndim != 2 or rows.shape[1] != n):
            raise ValueError(f"vectors must have rows of {n} entries, got {describe(vectors)}")
        vecs = []
        for row in rows.reshape(-1, n) if rows.size else ():
            v = mat.createVecLeft()
            lo, hi = v.getOwnershipRange()
            v.setArray(row[lo:hi])
            vecs.append(v)
    if not vecs:
        return None
    nsp = PETSc.NullSpace().create(vectors=vecs, comm=mat.getComm())
    mat.setNullSpace(nsp)
    return nsp


def _check_scalar(name: str, dtype: Any) -> None:
    PETSc = petsc_module()
    dtype = np.dtype(dtype)
    if dtype.kind == "c" and np.dtype(PETSc.ScalarType).kind != "c":
        raise TypeError(
            f"{name} has complex dtype {dtype} but this PETSc build has real scalars "
            f"({np.dtype(PETSc.ScalarType)})"
        )


# ---------------------------------------------------------------------- reasons
def reason_name(code: int) -> str:
    """PETSc's name of a KSP converged reason (``2`` -> ``'CONVERGED_RTOL'``).

    Examples
    --------
    >>> reason_name(2), reason_name(-9)
    ('CONVERGED_RTOL', 'DIVERGED_NANORINF')
    >>> reason_name(12345)  # not a reason: the number as text
    '12345'
    """
    return _reason_names().get(int(code), str(int(code)))


@functools.cache
def _reason_names() -> dict[int, str]:
    reasons = petsc_module().KSP.ConvergedReason
    return {int(v): k for k, v in vars(reasons).items() if k.isupper()}


def solve_reason(name: str) -> str:
    """The :attr:`SolveInfo.reason` of a PETSc reason name (:data:`REASONS`, else lower case).

    Examples
    --------
    >>> solve_reason("CONVERGED_ATOL"), solve_reason(reason_name(-9)), REASONS["DIVERGED_MAX_IT"]
    ('atol', 'nan', 'maxiter')
    >>> solve_reason("DIVERGED_DTOL")
    'diverged_dtol'
    """
    return REASONS.get(name, name.lower())


# ---------------------------------------------------------------------- the KSP driver
class KSPSolver:
    r"""A KSP configured once, for one or many solves: the engine of :func:`ksp_solve`.

    Parameters
    ----------
    mat : petsc4py.PETSc.Mat
        The operator (also the preconditioning matrix).
    ksp_type : str or KSP python context
        A PETSc KSP type (``'cg'``, ``'fcg'``, ``'preonly'``, ``'python'`` with
        ``ksp_python_type`` in ``options``, ...) or a python context such as
        :class:`solvers.petsc.DCDM` (type ``python`` with that context).
    pc_type : str, PC python context or None
        A PETSc PC type, a python context such as :class:`solvers.petsc.MapPC`, or None to
        leave PETSc's default (or the options') choice.
    prefix : str, optional
        Options prefix of the KSP: a documented one (e.g. ``'gamg_'``,
        :data:`solvers.petsc.options.SOLVER_PREFIXES`) lets the user's options database
        address this solve (``-gamg_ksp_monitor``); default a fresh private ``sciconvN_``,
        which no user option reaches.
    options : mapping, optional
        Defaults set under ``prefix`` before ``KSPSetFromOptions`` (e.g.
        ``{"ksp_dcdm_directions": 3, "sub_pc_type": "icc"}``), each only where the database
        holds no value of its own under ``prefix`` (so the user's options win); the ones set
        are removed again by :meth:`destroy`.
    rtol, atol : float
        Tolerances of PETSc's default convergence test.
    maxiter : int, optional
        Iteration limit; default ten times the number of rows.
    norm_type : str or None
        ``'unpreconditioned'`` (the default, so ``rtol`` means
        :math:`\|b - Ax\| \le \mathrm{rtol}\,\|b\|` as in :func:`solvers.krylov.cg`),
        ``'preconditioned'``, ``'natural'``, ``'none'``, or None for PETSc's default.
    monitor : bool
        Record the residual norm of every iteration (:attr:`SolveInfo.residuals`).
    callback : callable, optional
        Called after every iteration :math:`k \ge 1` with this rank's part of the iterate
        (a numpy copy).

    Notes
    -----
    Set-up order: type, PC, norm type, tolerances, monitor, options, ``KSPSetFromOptions``
    (so the options, the user's under a documented ``prefix`` first, override the
    arguments), ``KSPSetUp`` and ``PCSetUpOnBlocks`` (block Jacobi and ASM factor their blocks
    there, so the factorisation counts as set-up time, :attr:`setup_s`). The options stay in
    PETSc's database until :meth:`destroy` (sub-solvers made at set-up read them).

    Examples
    --------
    One set-up (an ICC factorisation, exact on a tridiagonal matrix), two right-hand sides:

    >>> from scipy.sparse.linalg import spsolve
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(20, 20), format="csc")
    >>> mat = aij_from_csr(A, petsc_module().COMM_SELF)
    >>> solver = KSPSolver(mat, ksp_type="cg", pc_type="icc", rtol=1e-10)
    >>> b, x = mat.createVecs()
    >>> for seed in (0, 1):
    ...     rhs = np.random.default_rng(seed).standard_normal(20)
    ...     _ = b.setArray(rhs)
    ...     info = solver.solve(b, x)
    ...     print(info.reason, info.iterations, np.allclose(x.getArray(), spsolve(A, rhs)))
    rtol 1 True
    rtol 1 True
    >>> solver.destroy()
    >>> for obj in (mat, b, x):
    ...     _ = obj.destroy()
    """

    def __init__(
        self,
        mat: Any,
        *,
        ksp_type: Any = "cg",
        pc_type: Any = "none",
        prefix: str | None = None,
        options: Mapping[str, Any] | None = None,
        rtol: float = 1e-5,
        atol: float = 0.0,
        maxiter: int | None = None,
        norm_type: str | None = "unpreconditioned",
        monitor: bool = True,
        callback: Callable[[np.ndarray], Any] | None = None,
    ) -> None:
        PETSc = petsc_module()
        if not isinstance(mat, PETSc.Mat):
            raise TypeError(f"mat must be a PETSc Mat, got {describe(mat)}")
        rtol, atol, maxiter = check_tolerances(rtol, atol, maxiter)
        n = mat.getSize()[0]
        maxiter = 10 * max(n, 1) if maxiter is None else maxiter
        if prefix is not None and not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {describe(prefix)}")
        if options is not None and not isinstance(options, Mapping):
            raise TypeError(f"options must be a mapping of option names, got {describe(options)}")
        self.prefix = prefix if prefix is not None else f"sciconv{next(_prefixes)}_"
        self.history: list[float] = []
        self.mat = mat
        db = PETSc.Options()
        present = db.getAll()  # unlike hasName, does not mark the user's options used
        self.options = {
            key: val for key, val in (options or {}).items() if self.prefix + key not in present
        }
        for key, val in self.options.items():
            db[self.prefix + key] = val
        ksp = self.ksp = PETSc.KSP().create(comm=mat.getComm())
        try:
            ksp.setOptionsPrefix(self.prefix)
            ksp.setOperators(mat)
            _set_type(ksp, ksp_type, "ksp_type", "solve")
            if pc_type is not None:
                _set_type(ksp.getPC(), pc_type, "pc_type", "apply")
            if norm_type is not None:
                if not isinstance(norm_type, str) or not hasattr(
                    PETSc.KSP.NormType, norm_type.upper()
                ):
                    raise ValueError(
                        "norm_type must be 'unpreconditioned', 'preconditioned', 'natural', "
                        f"'none' or None, got {norm_type!r}"
                    )
                ksp.setNormType(getattr(PETSc.KSP.NormType, norm_type.upper()))
            ksp.setTolerances(rtol=rtol, atol=atol, max_it=maxiter)
            if monitor or callback is not None:
                ksp.setMonitor(self._monitor(monitor, callback))
            ksp.setFromOptions()
            t0 = time.perf_counter()
            ksp.setUp()
            ksp.getPC().setUpOnBlocks()
            self.setup_s = time.perf_counter() - t0
        except BaseException:
            self.destroy()
            raise

    def _monitor(self, record: bool, callback: Callable[[np.ndarray], Any] | None) -> Callable:
        def monitor(ksp: Any, its: int, rnorm: float) -> None:
            if record:
                self.history.append(float(rnorm))
            if callback is not None and its > 0:
                callback(ksp.buildSolution().getArray().copy())

        return monitor

    def solve(self, b: Any, x: Any, *, nonzero_guess: bool = False) -> SolveInfo:
        """Solve ``mat x = b`` in place (``x`` holds the guess when ``nonzero_guess``).

        Parameters
        ----------
        b, x : petsc4py.PETSc.Vec
            Right-hand side and solution, with ``mat``'s layout.
        nonzero_guess : bool
            Start from ``x`` instead of zero.

        Returns
        -------
        SolveInfo
            ``extra`` holds ``setup_s`` (this solver's set-up), ``solve_s``, ``ksp_reason``
            (PETSc's name) and ``ksp_reason_code``.
        """
        self.history = []
        self.ksp.setInitialGuessNonzero(bool(nonzero_guess))
        t0 = time.perf_counter()
        self.ksp.solve(b, x)
        solve_s = time.perf_counter() - t0
        code = int(self.ksp.getConvergedReason())
        name = reason_name(code)
        ctx_msg = getattr(_python_context(self.ksp), "message", "")
        info = SolveInfo(
            solve_reason(name),
            int(self.ksp.getIterationNumber()),
            self.history,
            "" if code > 0 else (ctx_msg or name),
        )
        info.extra.update(
            setup_s=self.setup_s, solve_s=solve_s, ksp_reason=name, ksp_reason_code=code
        )
        return info

    def destroy(self) -> None:
        """Free the KSP and remove this solver's options from PETSc's database."""
        db = petsc_module().Options()
        for key in self.options:
            db.delValue(self.prefix + key)
        self.options = {}
        if self.ksp is not None:
            self.ksp.destroy()
            self.ksp = None


def ksp_solve(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    ksp_type: Any = "cg",
    pc_type: Any = "none",
    prefix: str | None = None,
    options: Mapping[str, Any] | None = None,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    norm_type: str | None = "unpreconditioned",
    nullspace: Any = None,
    monitor: bool = True,
    callback: Callable[[np.ndarray], Any] | None = None,
    comm: Any = None,
) -> tuple[Any, SolveInfo]:
    r"""Solve :math:`Ax = b` with a PETSc KSP: the one KSP driver of the project.

    Parameters
    ----------
    A : petsc4py.PETSc.Mat, scipy sparse matrix or 2-D numpy array
        The operator. A matrix is made an AIJ ``Mat`` on ``comm`` (every rank passes it
        whole) and freed afterwards; a ``Mat`` is used as is. For a matrix-free operator pass
        :func:`solvers.petsc.as_petsc_mat` of it.
    b : numpy array or petsc4py.PETSc.Vec
        Right-hand side: a whole vector (every rank holds it), or a Vec with ``A``'s layout.
    x0 : numpy array or petsc4py.PETSc.Vec, optional
        Initial guess (default zero), of the same kind as ``b``.
    ksp_type, pc_type, prefix, options, rtol, atol, maxiter, norm_type, monitor, callback
        As :class:`KSPSolver`.
    nullspace : array_like of shape (k, n), sequence of Vec, or PETSc NullSpace, optional
        Orthonormal null-space basis, attached to ``A`` unless it carries one already.
    comm : PETSc or mpi4py communicator, optional
        Where a matrix ``A`` is distributed; default ``PETSC_COMM_WORLD``.

    Returns
    -------
    x : numpy array or petsc4py.PETSc.Vec
        A numpy ``b`` gives the whole solution on every rank; a Vec ``b`` a new Vec (the
        caller destroys it).
    info : SolveInfo
        ``reason`` from :data:`REASONS`, ``iterations``, ``residuals`` (the monitored norms,
        iterations ``0..its``), ``message`` (the python context's, e.g. DCDM's, or PETSc's
        reason name, when not converged), and ``extra``: ``setup_s`` and ``solve_s`` (the
        slowest rank's), ``ksp_reason``, ``ksp_reason_code``, ``true_residual``
        (:math:`\|b - Ax\|_2`, recomputed) and ``ranks``.

    Notes
    -----
    With the default unpreconditioned norm, ``rtol`` means what it means for
    :func:`solvers.krylov.cg`. PETSc's options override the arguments (they are read last),
    so ``options={"ksp_type": "python", "ksp_python_type": "solvers.petsc.DCDM"}`` and
    ``ksp_type=DCDM()`` run the same solver.

    Examples
    --------
    Jacobi-preconditioned CG on a 10 x 10 Dirichlet box, from scipy matrix to numpy solution:

    >>> from scipy.sparse.linalg import spsolve
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(10, 10))
    >>> A = (sp.kron(sp.eye(10), T) + sp.kron(T, sp.eye(10))).tocsc()
    >>> b = np.random.default_rng(0).standard_normal(100)
    >>> x, info = ksp_solve(A, b, ksp_type="cg", pc_type="jacobi", rtol=1e-10)
    >>> info.reason, info.extra["ksp_reason"], bool(np.allclose(x, spsolve(A, b)))
    ('rtol', 'CONVERGED_RTOL', True)
    >>> bool(info.extra["true_residual"] <= 1e-9 * np.linalg.norm(b)), info.extra["ranks"]
    (True, 1)

    The DCDM KSP by its dotted path, with PETSc's incomplete Cholesky as its map:

    >>> opts = {"ksp_type": "python", "ksp_python_type": "solvers.petsc.DCDM",
    ...         "ksp_dcdm_directions": 3}
    >>> x, info = ksp_solve(A, b, pc_type="icc", options=opts, rtol=1e-10)
    >>> info.converged, bool(np.allclose(x, spsolve(A, b)))
    (True, True)

    With PETSc vectors in and out (the caller destroys the solution):

    >>> mat = aij_from_csr(A)
    >>> bv = mat.createVecLeft()
    >>> _ = bv.setArray(b)
    >>> xv, info = ksp_solve(mat, bv, rtol=1e-10)
    >>> type(xv).__name__, bool(np.allclose(xv.getArray(), spsolve(A, b)))
    ('Vec', True)
    >>> for obj in (mat, bv, xv):
    ...     _ = obj.destroy()
    """
    # PETSc's setTolerances reads a negative value as "use the default": refuse it here, before
    # any PETSc object is made (every rank raises the same error, with no collective call).
    check_tolerances(rtol, atol, maxiter)
    PETSc = petsc_module()
    vec_mode = isinstance(b, PETSc.Vec)
    if x0 is not None and isinstance(x0, PETSc.Vec) != vec_mode:
        raise TypeError(
            f"x0 must be of the same kind as b ({'a Vec' if vec_mode else 'an array'}), "
            f"got {describe(x0)}"
        )
    owned = not isinstance(A, PETSc.Mat)
    if owned:
        if isinstance(A, np.ndarray) and A.ndim == 2:
            A = sp.csr_matrix(A)
        if not sp.issparse(A):
            raise TypeError(
                "A must be a PETSc Mat, a scipy sparse matrix or a 2-D array (wrap a "
                f"matrix-free operator with solvers.petsc.as_petsc_mat), got {describe(A)}"
            )
        if A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be square, got shape {A.shape}")
    mat = aij_from_csr(A, comm) if owned else A
    vecs: list[Any] = []
    solver = None
    x = None
    try:
        if nullspace is not None and not mat.getNullSpace().handle:
            attach_null_space(mat, nullspace)
        bv, x = _vectors(mat, b, x0, vec_mode, vecs)
        solver = KSPSolver(
            mat,
            ksp_type=ksp_type,
            pc_type=pc_type,
            prefix=prefix,
            options=options,
            rtol=rtol,
            atol=atol,
            maxiter=maxiter,
            norm_type=norm_type,
            monitor=monitor,
            callback=callback,
        )
        info = solver.solve(bv, x, nonzero_guess=x0 is not None)
        r = bv.duplicate()
        vecs.append(r)
        mat.mult(x, r)
        r.aypx(-1.0, bv)
        mcomm = mat.getComm()
        info.extra.update(
            setup_s=max_over_ranks(mcomm, info.extra["setup_s"]),
            solve_s=max_over_ranks(mcomm, info.extra["solve_s"]),
            true_residual=float(r.norm()),
            ranks=mcomm.getSize(),
        )
        out = x if vec_mode else _whole(x)
    except BaseException:
        if vec_mode and x is not None:
            x.destroy()
        raise
    finally:
        if solver is not None:
            solver.destroy()
        for v in vecs:
            if not (vec_mode and v is x):
                v.destroy()
        if owned:
            mat.destroy()
    return out, info


def _vectors(mat: Any, b: Any, x0: Any, vec_mode: bool, made: list[Any]) -> tuple[Any, Any]:
    """``(b, x)`` Vecs for ``mat``: copies of numpy inputs, or ``b`` and a copy of ``x0``."""
    m = mat.getSize()[0]
    if vec_mode:
        if b.getSize() != m:
            raise ValueError(f"b must have {m} entries to match A, got a Vec of {b.getSize()}")
        x = mat.createVecRight()
        made.append(x)
        if x0 is not None:
            if x0.getSize() != m:
                raise ValueError(f"x0 must have {m} entries, got a Vec of {x0.getSize()}")
            x0.copy(x)
        return b, x

    class _Shape:
        shape = mat.getSize()

    b_arr, x_arr = check_rhs(_Shape(), b, x0)
    bv, x = mat.createVecs()
    made.extend([bv, x])
    lo, hi = bv.getOwnershipRange()
    bv.setArray(b_arr[lo:hi])
    x.setArray(x_arr[lo:hi])
    return bv, x


def _whole(x: Any) -> np.ndarray:
    """The whole of a distributed Vec on every rank, as a numpy copy."""
    if x.getComm().getSize() == 1:
        return x.getArray().copy()
    PETSc = petsc_module()
    scatter, xall = PETSc.Scatter.toAll(x)
    scatter.scatter(x, xall, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
    out = xall.getArray().copy()
    scatter.destroy()
    xall.destroy()
    return out


def _set_type(obj: Any, kind: Any, name: str, method: str) -> None:
    """``obj.setType(kind)``, or type ``python`` with ``kind`` as its context."""
    if isinstance(kind, str):
        obj.setType(kind)
    elif callable(getattr(kind, method, None)):
        obj.setType("python")
        obj.setPythonContext(kind)
    else:
        raise TypeError(
            f"{name} must be a PETSc type name or a python context with {method}(), "
            f"got {describe(kind)}"
        )


def _python_context(ksp: Any) -> Any:
    try:
        return ksp.getPythonContext() if ksp.getType() == "python" else None
    except Exception:  # noqa: BLE001 - no python context
        return None
