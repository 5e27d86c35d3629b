"""Poisson problems on labelled grids, checked against a loop assembly and dense linear algebra."""

import itertools

import numpy as np
import petsc4py  # noqa: F401 - required: a missing petsc4py fails, never skips
import pyamg  # noqa: F401 - required: a missing pyamg fails, never skips
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pde import (
    AIR,
    FLUID,
    SOLID,
    PoissonProblem,
    box,
    dirichlet_box,
    obstacles,
    plume,
    poisson_problem,
)


def loop_assembly(labels, exterior, coeff, spacing):
    """Cell-by-cell reference: dict-of-entries, harmonic face means, no vectorisation."""
    shape = labels.shape
    cells = [c for c in itertools.product(*map(range, shape)) if labels[c] == FLUID]
    row = {c: i for i, c in enumerate(cells)}
    dense = np.zeros((len(cells), len(cells)))
    for c in cells:
        for ax in range(len(shape)):
            for step in (-1, 1):
                nb = list(c)
                nb[ax] += step
                nb = tuple(nb)
                inside = 0 <= nb[ax] < shape[ax]
                lab = labels[nb] if inside else (AIR if exterior == "air" else SOLID)
                k1 = coeff[c]
                k2 = coeff[nb] if inside else k1
                w = 2 * k1 * k2 / (k1 + k2) / spacing[ax] ** 2
                if lab == SOLID:
                    continue
                dense[row[c], row[c]] += w
                if lab == FLUID:
                    dense[row[c], row[nb]] -= w
    return dense


@settings(max_examples=25, deadline=None)
@given(
    dim=st.sampled_from([2, 3]),
    seed=st.integers(0, 10_000),
    exterior=st.sampled_from(["air", "solid"]),
    variable=st.booleans(),
)
def test_matrix_equals_loop_assembly(dim, seed, exterior, variable):
    """CSR equals the loop assembly exactly (1e-13) for random labels, coefficients, spacings."""
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(2, 7 if dim == 2 else 5, size=dim))
    labels = rng.choice([FLUID, FLUID, FLUID, SOLID, AIR], size=shape).astype(np.int8)
    labels.flat[0] = FLUID
    coeff = rng.uniform(0.5, 3.0, size=shape) if variable else np.ones(shape)
    spacing = tuple(rng.uniform(0.5, 2.0, size=dim))
    prob = PoissonProblem(labels, exterior=exterior, coeff=coeff, spacing=spacing)
    ref = loop_assembly(labels, exterior, coeff, spacing)
    np.testing.assert_allclose(prob.matrix.toarray(), ref, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(
    "prob",
    [
        poisson_problem("obstacles", 12, 2, seed=1),
        poisson_problem("obstacles", 12, 2, seed=1, exterior="solid"),
        poisson_problem("plume", (8, 7, 6), seed=3),
        poisson_problem("obstacles", 8, 3, seed=2, exterior="solid"),
        PoissonProblem(obstacles(10, 2, seed=4), coeff=np.linspace(1, 5, 100).reshape(10, 10)),
    ],
    ids=["obst2d-air", "obst2d-solid", "plume3d", "obst3d-solid", "varcoef"],
)
def test_symmetric_semidefinite_and_null_space(prob):
    """Symmetric; eigenvalues >= -1e-12; #zero eigenvalues (<1e-10) = null-space rank; A z = 0."""
    dense = prob.matrix.toarray()
    np.testing.assert_array_equal(dense, dense.T)
    eig = np.linalg.eigvalsh(dense)
    assert eig[0] > -1e-12
    z = prob.null_space()
    assert int((eig < 1e-10).sum()) == len(z) == int(prob.is_singular) * len(z)
    if prob.is_singular:
        np.testing.assert_allclose(z @ z.T, np.eye(len(z)), atol=1e-12)
        assert np.abs(prob.matrix @ z.T).max() < 1e-12
    else:
        assert eig[0] > 1e-6


def test_pure_neumann_components():
    """A closed box split by a solid wall has two null vectors; one air cell removes one."""
    labels = box((6, 7))
    labels[:, 3] = SOLID
    prob = PoissonProblem(labels, exterior="solid")
    assert prob.is_singular and prob.null_space().shape == (2, prob.n)
    assert np.linalg.matrix_rank(prob.matrix.toarray()) == prob.n - 2
    labels[0, 0] = AIR
    prob = PoissonProblem(labels, exterior="solid")
    assert prob.null_space().shape == (1, prob.n)
    assert not PoissonProblem(labels, exterior="air").is_singular


@pytest.mark.parametrize("shape,spacing", [((9, 7), 1.0), ((5, 6, 4), (1.0, 0.5, 2.0))])
def test_conv_operator_equals_csr_on_dirichlet_box(shape, spacing):
    """On a fluid-only Dirichlet box the 5/7-point ConvOperator equals the CSR exactly."""
    prob = PoissonProblem(box(shape), exterior="air", coeff=2.5, spacing=spacing)
    op = prob.conv_operator()
    diff = op.to_sparse() - prob.matrix
    assert abs(diff).max() < 1e-13
    x = np.random.default_rng(0).standard_normal(prob.n)
    np.testing.assert_allclose(op.matvec(x), prob.matrix @ x, rtol=1e-13, atol=1e-12)
    assert (
        abs(dirichlet_box(shape).conv_operator().to_sparse() - dirichlet_box(shape).matrix).max()
        == 0.0
    )


def test_conv_operator_refused_where_it_does_not_apply():
    with pytest.raises(ValueError, match="Dirichlet box"):
        poisson_problem("obstacles", 12, 2).conv_operator()
    with pytest.raises(ValueError, match="Dirichlet box"):
        PoissonProblem(box((4, 4)), exterior="solid").conv_operator()
    with pytest.raises(ValueError, match="constant coeff"):
        PoissonProblem(
            box((4, 4)), exterior="air", coeff=np.arange(1, 17.0).reshape(4, 4)
        ).conv_operator()


def test_geometries_are_seeded():
    """Same seed, same labels; another seed differs; the plume's top layer is air."""
    for gen in (obstacles, plume):
        np.testing.assert_array_equal(gen(16, 2, seed=5), gen(16, 2, seed=5))
        assert (gen(16, 2, seed=5) != gen(16, 2, seed=6)).any()
    lab = plume((10, 8, 8), seed=1)
    assert (lab[-1] == AIR).all() and (lab[:-1] != AIR).all()
    assert (obstacles(24, 3, seed=0) == SOLID).any()


def test_right_hand_sides_and_projection():
    """rhs_random and rhs_divergence lie in range(A); project is idempotent and kills null(A)."""
    prob = poisson_problem("obstacles", 12, 2, seed=3, exterior="solid")
    z = prob.null_space()
    assert prob.is_singular
    for b in (prob.rhs_random(1), prob.rhs_divergence(2)):
        assert np.abs(z @ b).max() < 1e-12 * np.linalg.norm(b)
    v = np.random.default_rng(0).standard_normal(prob.n)
    pv = prob.project(v)
    np.testing.assert_allclose(prob.project(pv), pv, atol=1e-13)
    assert np.abs(z @ pv).max() < 1e-12
    # the divergence sums to zero over the closed box before projection too
    raw = -prob.from_grid(prob.to_grid(prob.rhs_divergence(2)))
    assert abs(raw.sum()) < 1e-10
    g = prob.to_grid(v, fill=np.nan)
    assert np.isnan(g[prob.labels != FLUID]).all()
    np.testing.assert_array_equal(prob.from_grid(g), v)


def test_bad_inputs():
    with pytest.raises(ValueError, match="labels must"):
        PoissonProblem(np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="labels must hold"):
        PoissonProblem(np.full((3, 3), 7))
    with pytest.raises(ValueError, match="exterior"):
        PoissonProblem(box((3, 3)), exterior="wall")
    with pytest.raises(ValueError, match="coeff must be positive"):
        PoissonProblem(box((3, 3)), coeff=-1.0)
    with pytest.raises(ValueError, match="no FLUID"):
        PoissonProblem(np.full((3, 3), SOLID))
    with pytest.raises(ValueError, match="name"):
        poisson_problem("cave", 8, 2)


def _csr(mat):
    import scipy.sparse as sp

    indptr, indices, data = mat.getValuesCSR()
    return sp.csr_matrix((data, indices, indptr), shape=mat.getSize())


def test_petsc_aij_and_null_space():
    """AIJ equals the CSR; a closed box gets a MatNullSpace that passes PETSc's test."""
    prob = poisson_problem("obstacles", 10, 2, seed=0, exterior="solid")
    mat = prob.petsc_aij()
    assert abs(_csr(mat) - prob.matrix).max() == 0.0
    nsp = mat.getNullSpace()
    assert nsp.handle and nsp.test(mat)
    assert not poisson_problem("obstacles", 10, 2, seed=0).petsc_aij().getNullSpace().handle


def test_petsc_dmda_matrix():
    """DMDA matrix equals the whole-grid matrix (fluid block = CSR, identity elsewhere)."""
    prob = poisson_problem("plume", (6, 5, 4), seed=1, exterior="solid")
    da, mat = prob.petsc_dmda()
    assert da.getSizes() == (4, 5, 6)
    full = _csr(mat)
    assert abs(full - prob.grid_matrix()).max() == 0.0
    fluid = np.flatnonzero(prob.labels.ravel() == FLUID)
    assert abs(full[fluid][:, fluid] - prob.matrix).max() == 0.0
    closed = PoissonProblem(box((4, 5)), exterior="solid")
    _, m2 = closed.petsc_dmda()
    assert m2.getNullSpace().test(m2)


def test_cli_poisson_json_and_plot(tmp_path, capsys):
    """`sciconv poisson` (module entry): JSON rows for each solver, all converged, plot written."""
    import argparse
    import json

    from sciconv.cli import poisson as cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out = tmp_path / "conv.png"
    args = parser.parse_args(
        [
            "--dim",
            "2",
            "--n",
            "16",
            "--solvers",
            "cg,icc,gamg,pyamg,dcdm",
            "--json",
            "--plot",
            str(out),
            "--dcdm-map",
            "jacobi:3",
        ]
    )
    assert cli.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    names = [r["solver"] for r in data["results"]]
    assert names == ["cg", "icc-cg", "gamg-cg", "pyamg-sa", "dcdm[jacobi:3,k=2]"]
    for r in data["results"]:
        assert r["converged"] and r["true_relres"] <= 1e-6 and r["iterations"] >= 1
    assert out.stat().st_size > 1000
    args = parser.parse_args(["--dim", "3", "--n", "8", "--geometry", "plume", "--solvers", "cg"])
    assert cli.run(args) == 0
    assert "plume 3D" in capsys.readouterr().out


def test_tour_section():
    """The tour section runs; both PETSc plug-in paths converge to the lsqr solution (1e-5)."""
    from sciconv.cli._common import Check
    from sciconv.cli.poisson.serial import tour_lines

    out = tour_lines()
    checks = [c for c in out if isinstance(c, Check)]
    assert checks and all(c.ok for c in checks), [str(c) for c in checks]
    lines = [ln for ln in out if not isinstance(ln, Check)]
    ksp = [ln for ln in lines if ln.startswith("KSP")]
    assert len(ksp) == 2 and all("CONVERGED_RTOL" in ln for ln in ksp)
    assert all(float(ln.rsplit("= ", 1)[1]) < 1e-5 for ln in ksp)
    assert lines[0].endswith("0.0e+00")
