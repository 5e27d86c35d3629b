"""``DCDM``: the deep conjugate-direction method as a PETSc KSP python type.

Use it with ``-ksp_type python -ksp_python_type solvers.petsc.DCDM`` (PETSc imports the
class by its dotted path) or ``ksp.setType('python'); ksp.setPythonContext(DCDM())``.
The preconditioning map is the KSP's PC: e.g. ``-pc_type python -pc_python_type
solvers.petsc.NetworkPC -pc_network_map pyamg`` (:class:`~solvers.petsc.pc.MapPC`), or any
PETSc PC. :func:`solvers.petsc.ksp_solve` runs it with ``ksp_type=DCDM()``.

References
----------
Kaneda, Akar, Chen, Kala, Hyde and Teran, "A Deep Conjugate Direction Method for Iteratively
Solving Linear Systems", ICML 2023, PMLR 202, 15720-15736. arXiv:2205.10763.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ._core import petsc_module
from .options import print_options_help

__all__ = ["DCDM"]


class DCDM:
    r"""KSP python context running DCDM (see :func:`solvers.dcdm.dcdm` for the maths).

    Parameters
    ----------
    directions : int
        :math:`k`, previous directions each new one is A-orthogonalised against
        (option ``-ksp_dcdm_directions``).
    recompute_every : int
        Recompute :math:`r = b - Ax` every this many iterations, 0 never
        (option ``-ksp_dcdm_recompute``).

    Notes
    -----
    Each iteration applies the PC to :math:`r/\|r\|`, A-orthogonalises the result against the
    last :math:`k` directions, and steps with :math:`\alpha = p^Tr/p^TAp`. The residual norm
    passed to the monitors and to the convergence test is the unpreconditioned
    :math:`\|r\|_2`: a normalising map returns vectors whose norm does not follow
    :math:`\|r\|`, so a preconditioned norm would never fall. Convergence is declared only
    after the true residual passes the test. Failures set the KSP's converged reason:
    ``DIVERGED_INDEFINITE_MAT`` (:math:`p^TAp \le 0`), ``DIVERGED_NANORINF`` (non-finite PC
    output or residual), ``DIVERGED_BREAKDOWN`` (a direction in the span of the previous
    ones), ``DIVERGED_MAX_IT``; :attr:`message` says what happened. If the operator carries a
    MatNullSpace, directions are projected onto its complement.

    ``-help`` lists the two options with their values (:meth:`help_rows`).

    Work vectors (:math:`r`, a scratch vector and :math:`k+1` slots of :math:`p, Ap`) are made
    in ``setUp`` and destroyed in ``reset``; :attr:`calls` counts the protocol calls.

    References
    ----------
    Kaneda, Akar, Chen, Kala, Hyde and Teran, "A Deep Conjugate Direction Method for
    Iteratively Solving Linear Systems", ICML 2023. arXiv:2205.10763.

    Examples
    --------
    With petsc4py on one rank: a 10 x 10 Dirichlet box, DCDM as the KSP and Jacobi as its
    map, against scipy's direct solve.

    >>> import scipy.sparse as sp
    >>> from scipy.sparse.linalg import spsolve
    >>> from solvers.petsc import aij_from_csr, petsc_module
    >>> PETSc = petsc_module()
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(10, 10))
    >>> A = (sp.kron(sp.eye(10), T) + sp.kron(T, sp.eye(10))).tocsc()
    >>> mat = aij_from_csr(A, PETSc.COMM_SELF)
    >>> ksp = PETSc.KSP().create(comm=PETSc.COMM_SELF)
    >>> ksp.setOperators(mat)
    >>> ksp.setType("python")
    >>> ksp.setPythonContext(DCDM(directions=3))
    >>> ksp.getPC().setType("jacobi")
    >>> ksp.setTolerances(rtol=1e-10, max_it=500)
    >>> b, x = mat.createVecs()
    >>> rhs = np.random.default_rng(0).standard_normal(100)
    >>> _ = b.setArray(rhs)
    >>> ksp.solve(b, x)
    >>> ksp.getConvergedReason() > 0, bool(np.allclose(x.getArray(), spsolve(A, rhs)))
    (True, True)
    >>> ctx = ksp.getPythonContext()
    >>> ctx.directions, ctx.calls["solve"], ctx.message
    (3, 1, '')
    >>> for obj in (ksp, mat, b, x):
    ...     _ = obj.destroy()

    The same through :func:`solvers.petsc.ksp_solve` (DCDM's iterates do not depend on the
    scale of the map's output, so the exact solve ``PCLU`` takes one iteration):

    >>> from solvers.petsc import ksp_solve
    >>> x, info = ksp_solve(A, rhs, ksp_type=DCDM(), pc_type="lu", rtol=1e-10)
    >>> info.iterations, info.reason, bool(np.allclose(x, spsolve(A, rhs)))
    (1, 'rtol', True)
    """

    def __init__(self, directions: int = 2, recompute_every: int = 0) -> None:
        self.directions = int(directions)
        self.recompute_every = int(recompute_every)
        self.calls: Counter[str] = Counter()
        self.work: dict[str, Any] | None = None
        self.message = ""

    # ------------------------------------------------------------------ protocol
    def create(self, ksp: Any) -> None:
        self.calls["create"] += 1
        PETSc = petsc_module()
        ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)

    def setFromOptions(self, ksp: Any) -> None:  # noqa: N802 - PETSc protocol
        self.calls["setFromOptions"] += 1
        opts = petsc_module().Options(ksp.getOptionsPrefix())
        k = opts.getInt("ksp_dcdm_directions", self.directions)
        if k < 1:
            raise ValueError(f"-ksp_dcdm_directions must be >= 1, got {k}")
        if k != self.directions and self.work is not None:
            self.reset(ksp)
        self.directions = k
        self.recompute_every = opts.getInt("ksp_dcdm_recompute", self.recompute_every)
        # create() ran after PETSc read -ksp_norm_type and set the default; honour the option
        norm = opts.getString("ksp_norm_type", "")
        if norm:
            ksp.setNormType(getattr(petsc_module().KSP.NormType, norm.upper()))
        print_options_help(ksp, "KSP DCDM options", self.help_rows(), "solvers.petsc.DCDM")

    def help_rows(self) -> list[tuple[str, Any, str]]:
        """``(option, current value, description)`` of each option, as ``-help`` lists them."""
        return [
            ("ksp_dcdm_directions", self.directions,
             "previous directions k each new one is A-orthogonalised against (>= 1)"),
            ("ksp_dcdm_recompute", self.recompute_every,
             "recompute r = b - Ax every this many iterations, 0 never"),
        ]  # fmt: skip

    def setUp(self, ksp: Any) -> None:  # noqa: N802 - PETSc protocol
        self.calls["setUp"] += 1
        norm = petsc_module().KSP.NormType
        if ksp.getNormType() != norm.UNPRECONDITIONED:
            raise ValueError(
                "DCDM monitors the unpreconditioned residual norm (a normalising map's output "
                "norm does not follow |r|); use -ksp_norm_type unpreconditioned"
            )
        A, _ = ksp.getOperators()
        slots = self.directions + 1
        self.work = {
            "r": A.createVecLeft(),
            "s": A.createVecLeft(),
            "q": A.createVecLeft(),
            "p": [A.createVecLeft() for _ in range(slots)],
            "Ap": [A.createVecLeft() for _ in range(slots)],
        }

    def reset(self, ksp: Any) -> None:
        self.calls["reset"] += 1
        if self.work is not None:
            for v in self.work.values():
                for vec in v if isinstance(v, list) else [v]:
                    vec.destroy()
        self.work = None

    def destroy(self, ksp: Any) -> None:
        self.calls["destroy"] += 1
        self.reset(ksp)

    def view(self, ksp: Any, viewer: Any) -> None:
        every = self.recompute_every
        recompute = f"every {every} iterations" if every else "never (updated recursively)"
        viewer.printfASCII(
            f"  DCDM: {self.directions} A-orthogonalised directions, true residual recomputed "
            f"{recompute}\n"
        )
        if self.message:
            viewer.printfASCII(f"  DCDM: {self.message}\n")

    # ------------------------------------------------------------------ iteration
    def _stop(self, ksp: Any, reason: Any, message: str = "") -> None:
        self.message = message
        ksp.setConvergedReason(reason)

    def _record(self, ksp: Any, its: int, rnorm: float) -> int:
        ksp.setIterationNumber(its)
        ksp.setResidualNorm(rnorm)
        ksp.logConvergenceHistory(rnorm)
        ksp.monitor(its, rnorm)
        return int(ksp.callConvergenceTest(its, rnorm))

    def solve(self, ksp: Any, b: Any, x: Any) -> None:
        self.calls["solve"] += 1
        PETSc = petsc_module()
        R = PETSc.KSP.ConvergedReason
        if self.work is None:
            self.setUp(ksp)
        w = self.work
        A, _ = ksp.getOperators()
        pc = ksp.getPC()
        nsp = A.getNullSpace()
        nsp = nsp if nsp.handle else None
        r, s, q, P, AP = w["r"], w["s"], w["q"], w["p"], w["Ap"]
        self.message = ""
        if not ksp.getInitialGuessNonzero():
            x.set(0.0)
        A.mult(x, r)
        r.aypx(-1.0, b)
        rnorm = r.norm()
        if not np.isfinite(rnorm):  # a NaN/inf in b or x0: PETSc refuses a NaN residual norm
            ksp.setIterationNumber(0)
            return self._stop(
                ksp,
                R.DIVERGED_NANORINF,
                f"the initial residual norm |b - A x0| is {rnorm} (NaN or infinity in b or x0)",
            )
        reason = self._record(ksp, 0, rnorm)
        if reason:
            return self._stop(ksp, reason)
        slots, dAp = len(P), [0.0] * len(P)
        max_it = ksp.getTolerances()[3]
        for it in range(1, max_it + 1):
            r.copy(s)
            s.scale(1.0 / rnorm)
            pc.apply(s, q)
            if nsp is not None:
                nsp.remove(q)
            qn = q.norm()
            if not np.isfinite(qn):
                return self._stop(ksp, R.DIVERGED_NANORINF, f"iteration {it}: PC output not finite")
            cur = it % slots
            p, Ap = P[cur], AP[cur]
            q.copy(p)
            for j in range(1, min(it, slots)):
                old = (it - j) % slots
                p.axpy(-q.dot(AP[old]) / dAp[old], P[old])
            if qn == 0.0 or p.norm() <= 1e-14 * qn:
                return self._stop(
                    ksp,
                    R.DIVERGED_BREAKDOWN,
                    f"iteration {it}: the PC's direction lies in the span of the "
                    f"previous {min(it - 1, self.directions)} directions",
                )
            A.mult(p, Ap)
            pAp = p.dot(Ap)
            if not np.isfinite(pAp):
                return self._stop(ksp, R.DIVERGED_NANORINF, f"iteration {it}: p^T A p not finite")
            if pAp <= 0.0:
                return self._stop(
                    ksp,
                    R.DIVERGED_INDEFINITE_MAT,
                    f"iteration {it}: p^T A p = {pAp:.3g} <= 0 (A not positive definite)",
                )
            dAp[cur] = pAp
            alpha = p.dot(r) / pAp
            x.axpy(alpha, p)
            r.axpy(-alpha, Ap)
            if self.recompute_every and it % self.recompute_every == 0:
                A.mult(x, r)
                r.aypx(-1.0, b)
            rnorm = r.norm()
            if not np.isfinite(rnorm):
                return self._stop(ksp, R.DIVERGED_NANORINF, f"iteration {it}: residual not finite")
            reason = self._record(ksp, it, rnorm)
            if reason > 0:
                A.mult(x, r)
                r.aypx(-1.0, b)
                rnorm = r.norm()
                ksp.setResidualNorm(rnorm)
                reason = int(ksp.callConvergenceTest(it, rnorm))
            if reason:
                return self._stop(ksp, reason)
        return self._stop(ksp, R.DIVERGED_MAX_IT, f"not converged in {max_it} iterations")
