"""Run under ``mpiexec -n N``: NetworkPC (gather and halo) with the DCDM KSP on a DMDA.

Every rank builds the same held-out Poisson problem and its DMDA system; rank 0 prints
``key=value`` lines that tests/solvers/petsc/test_distributed.py checks:

* ``index``: :func:`solvers.petsc.dmda.global_index` against the DMDA's own AO (2D and 3D);
* ``window``: the halo exchange (a scatter from the owners) and the window labels against
  NumPy slicing of the whole grid with the exterior border (largest deviation, all ranks);
* ``gather``: DCDM + gather strategy against the serial numpy ``dcdm`` with the same map
  (iterations and solution);
* ``aij``: ``-pc_network_map jacobi:2`` on the fluid-only AIJ (no DMDA) against numpy;
* ``halonet``: the halo network stage with a halo wider than the grid against the serial
  network on the gathered vector (largest relative deviation);
* ``halo``: DCDM iterations with the halo strategy (halo 64 and halo 4) and the gather's;
* ``coarse``: the distributed coarse correction (:class:`solvers.petsc.coarse.PetscCoarse`,
  5x5 blocks, some cut at the rank boundary) against scipy with the same aggregates on rank 0, its
  Galerkin orthogonality :math:`P^T(r - Ax) = 0`, and DCDM iterations with halo + coarse
  (halo 64 and halo 4) and with gather + ``network+coarse``.
"""

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from pde import AIR, dmda_poisson, poisson_problem
from solvers.coarse import CoarseCorrection
from solvers.dcdm import dcdm
from solvers.maps import make_map
from solvers.network import NetworkMap, load_pretrained
from solvers.petsc import petsc_module
from solvers.petsc.coarse import PetscCoarse
from solvers.petsc.dmda import dmda_layout, global_index, window, window_bounds
from solvers.petsc.halo import HaloNetwork

torch.set_num_threads(1)
PETSc = petsc_module()
comm = PETSc.COMM_WORLD
mpi = comm.tompi4py()
rank, size = comm.getRank(), comm.getSize()


def out(line: str) -> None:
    if rank == 0:
        print(f"{line} size={size}", flush=True)


# ---- global_index against the AO, 2D and 3D
ok = True
for sizes in ((13, 7), (5, 6, 7)):
    da = PETSc.DMDA().create(dim=len(sizes), sizes=sizes, stencil_width=1, comm=comm)
    shape, blocks = dmda_layout(da)
    n = int(np.prod(shape))
    mine = global_index(blocks, np.unravel_index(np.arange(n), shape))
    ao = np.asarray(da.getAO().app2petsc(np.arange(n, dtype=PETSc.IntType)))
    ok &= bool(np.array_equal(mine, ao))
out(f"index ok={int(mpi.allreduce(ok, op=min))}")

# ---- the problem
prob = poisson_problem("obstacles", 32, 2, seed=10_005)
b = prob.rhs_divergence(0)
system = dmda_poisson(prob.labels, exterior=prob.exterior)
bv = system.from_natural(prob.to_grid(b))
model = load_pretrained("poisson2d")

# ---- the halo exchange and window labels
v = np.random.default_rng(3).standard_normal(prob.shape)
vg = system.from_natural(v)
dev = 0.0
for halo in (0, 3, 17, 40):
    hn = HaloNetwork(model, system.mat, system.da, prob.labels, exterior=AIR, halo=halo)
    hn.scatter.scatter(vg, hn.wvec, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
    got = np.zeros(hn.labels_w.shape)
    got[hn.inside] = hn.wvec.getArray(readonly=True).reshape(hn.inside_shape)
    bounds = window_bounds(system.box, halo, prob.shape)
    dev = max(dev, np.abs(got - window(v, bounds, 0.0)).max())
    dev = max(dev, float(np.any(hn.labels_w != window(prob.labels, bounds, AIR))))
    hn.destroy()
out(f"window maxerr={mpi.allreduce(dev, op=max):.3e}")

# ---- DCDM + gather against the serial numpy dcdm
f = make_map("network:poisson2d", prob.matrix, labels=prob.labels, exterior=AIR)
xr, info = dcdm(prob.matrix, b, rtol=1e-6, M=f, directions=10)


def dcdm_ksp(tag: str, **options: object) -> tuple[int, int, np.ndarray]:
    opts = PETSc.Options()
    base = {"ksp_type": "python", "ksp_python_type": "solvers.petsc.DCDM",
            "ksp_dcdm_directions": 10, "pc_type": "python",
            "pc_python_type": "solvers.petsc.NetworkPC", "pc_network": "poisson2d",
            "pc_network_threads": 1, **options}  # fmt: skip
    if "pc_network_map" in options:
        del base["pc_network"]
    for key, val in base.items():
        opts[f"{tag}_{key}"] = val
    ksp = PETSc.KSP().create(comm=comm)
    ksp.setOptionsPrefix(f"{tag}_")
    ksp.setOperators(system.mat)
    ksp.setTolerances(rtol=1e-6, atol=0.0, max_it=200)
    ksp.setFromOptions()
    ksp.getPC().getPythonContext().set_grid(prob.labels, AIR)  # the DMDA: from the matrix
    x = system.da.createGlobalVec()
    ksp.solve(bv, x)
    xg = system.gather_natural(x)
    return ksp.getIterationNumber(), ksp.getConvergedReason(), xg


its, reason, xg = dcdm_ksp("g")
if rank == 0:
    err = np.linalg.norm(prob.from_grid(xg) - xr) / np.linalg.norm(xr)
    out(f"gather its={its} ref_its={info.iterations} reason={reason} relerr={err:.3e}")

# ---- a classical map on the fluid-only AIJ (PETSc's row split, no DMDA): gathered too
aij = prob.petsc_aij()
ksp = PETSc.KSP().create(comm=comm)
ksp.setOptionsPrefix("aij_")
opts = PETSc.Options()
for key, val in {"ksp_type": "python", "ksp_python_type": "solvers.petsc.DCDM",
                 "pc_type": "python", "pc_python_type": "solvers.petsc.NetworkPC",
                 "pc_network_map": "jacobi:2"}.items():  # fmt: skip
    opts[f"aij_{key}"] = val
ksp.setOperators(aij)
ksp.setTolerances(rtol=1e-8, atol=0.0, max_it=2000)
ksp.setFromOptions()
ba, xa = aij.createVecs()
lo, hi = ba.getOwnershipRange()
ba.setArray(b[lo:hi])
ksp.solve(ba, xa)
scatter, x0 = PETSc.Scatter.toZero(xa)
scatter.scatter(xa, x0, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
if rank == 0:
    xj, infoj = dcdm(prob.matrix, b, rtol=1e-8, M=make_map("jacobi:2", prob.matrix))
    err = np.linalg.norm(x0.getArray() - xj) / np.linalg.norm(xj)
    out(f"aij its={ksp.getIterationNumber()} ref_its={infoj.iterations} relerr={err:.3e}")

# ---- the halo network stage with a halo wider than the grid = the serial network
s = system.from_natural(prob.to_grid(prob.rhs_random(7)))
hn = HaloNetwork(model, system.mat, system.da, prob.labels, exterior=AIR, halo=64)
e = system.da.createGlobalVec()
hn.network(s, e)
eg, sg = system.gather_natural(e), system.gather_natural(s)
if rank == 0:
    serial = NetworkMap(model, prob.labels, exterior=AIR, mode="network")
    ref = serial.network(prob.from_grid(sg))
    dev = np.abs(prob.from_grid(eg) - ref).max() / np.abs(ref).max()
    out(f"halonet relerr={dev:.3e}")

# ---- DCDM + halo
its_wide, reason_wide, _ = dcdm_ksp("h64", pc_network_strategy="halo", pc_network_halo=64)
its_4, reason_4, _ = dcdm_ksp("h4", pc_network_strategy="halo", pc_network_halo=4)
out(f"halo its64={its_wide} reason64={reason_wide} its4={its_4} reason4={reason_4} "
    f"gather_its={its}")  # fmt: skip

# ---- the distributed coarse correction against scipy with the same aggregates
pcc = PetscCoarse(system.mat, system.da, prob.labels, 5)  # blocks cut at the split
cidx, _ = pcc.Ac.createVecs()
c_lo, c_hi = cidx.getOwnershipRange()
cidx.getArray()[:] = np.arange(c_lo, c_hi) + 1.0
aggv = system.da.createGlobalVec()
pcc.P.mult(cidx, aggv)  # aggregate + 1 per cell, 0 off the fluid
x = system.da.createGlobalVec()
pcc.correct(x, s)
res = system.da.createGlobalVec()
system.mat.mult(x, res)
res.aypx(-1.0, s)
pr, ps = cidx.duplicate(), cidx.duplicate()
pcc.P.multTranspose(res, pr)
pcc.P.multTranspose(s, ps)
aggg, xg, sg = (system.gather_natural(v) for v in (aggv, x, s))
galerkin = pr.norm() / ps.norm()
if rank == 0:
    agg = prob.from_grid(aggg).astype(np.int64) - 1
    Pm = sp.csr_matrix((np.ones(agg.size), (np.arange(agg.size), agg)))
    Ac = (Pm.T @ prob.matrix @ Pm).tocsc()
    ref = Pm @ spla.spsolve(Ac, Pm.T @ prob.from_grid(sg))
    dev = np.abs(prob.from_grid(xg) - ref).max() / np.abs(ref).max()
    serial = CoarseCorrection(prob.matrix, prob.labels == 0, block=5).size
    out(f"coarse relerr={dev:.3e} galerkin={galerkin:.3e} m={pcc.size} "
        f"serial_m={serial}")  # fmt: skip
pcc.destroy()
its_g, reason_g, _ = dcdm_ksp("gc", pc_network_map="network+coarse::4")
its_c64, reason_c64, _ = dcdm_ksp(
    "hc64", pc_network_map="network+coarse::4", pc_network_strategy="halo", pc_network_halo=64
)
its_c4, reason_c4, _ = dcdm_ksp(
    "hc4", pc_network_map="network+coarse::4", pc_network_strategy="halo", pc_network_halo=4
)
out(f"halocoarse its64={its_c64} reason64={reason_c64} its4={its_c4} reason4={reason_c4} "
    f"gather_its={its_g} gather_reason={reason_g}")  # fmt: skip
