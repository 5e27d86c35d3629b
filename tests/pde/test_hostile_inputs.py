"""Hostile inputs of issue 20 at pde's entry points (PoissonProblem, poisson_problem): each
refused by name with the value and what was expected (ids from the issue's appendix)."""

import re
import time

import numpy as np
import pytest

from pde import PoissonProblem, poisson_problem
from pde.geometry import MAX_CELLS, box, make_geometry
from pde.stencil import COEFF_RANGE, check_grid

LAB = np.zeros((8, 8), dtype=int)


def half(value):
    c = np.ones((8, 8))
    c[:, :4] = value
    return c


def test_coeff_shape_mismatch_is_named():
    """P09: a (3, 3) coeff on an (8, 8) grid names coeff, both shapes."""
    pattern = (
        r"^coeff must be a number or an array broadcastable to the grid shape \(8, 8\), "
        r"got ndarray of shape \(3, 3\)"
    )
    with pytest.raises(ValueError, match=pattern):
        PoissonProblem(LAB, exterior="air", coeff=np.ones((3, 3)))


@pytest.mark.parametrize(
    ("coeff", "shown"),
    [
        (1e200, r"got min 1e\+200 and max 1e\+200"),  # P10: every entry inf
        (half(1e-300), r"got min 1e-300 and max 1$"),  # P12: zero diagonals
        (half(1e-200), r"got min 1e-200 and max 1$"),  # P22: zero rows, wrong rank
    ],
)
def test_coeff_out_of_range_is_refused(coeff, shown):
    """P10 P12 P22: coefficients whose face weights overflow or underflow are refused."""
    with pytest.raises(ValueError, match=r"^coeff must lie in \[1e-150, 1e\+150\] .*" + shown):
        PoissonProblem(LAB, exterior="air", coeff=coeff)


@pytest.mark.parametrize(
    ("spacing", "weights"),
    [(1e-200, r"\[inf, inf\]"), (1e200, r"\[0, 0\]")],  # P11 and its underflow twin
)
def test_spacing_out_of_range_is_refused(spacing, weights):
    """P11: spacing=1e-200 gave a matrix of inf; now refused, naming spacing and the weights."""
    with pytest.raises(
        ValueError,
        match=rf"^spacing {re.escape(repr(spacing))} with coeff .* k / h\^2 in {weights}",
    ):
        PoissonProblem(LAB, exterior="air", spacing=spacing)


def test_spacing_of_wrong_length_is_named():
    with pytest.raises(ValueError, match=r"^spacing must be a positive number or 2 of them"):
        PoissonProblem(LAB, exterior="air", spacing=(1.0, 2.0, 3.0))


def test_valid_extremes_still_accepted():
    """No behaviour change inside the range: the edges give finite, non-zero rows."""
    lo, hi = COEFF_RANGE
    for c in (half(lo), half(hi), np.full((8, 8), 1e100)):
        p = PoissonProblem(LAB, exterior="air", coeff=c)
        assert np.isfinite(p.matrix.data).all() and (p.matrix.diagonal() > 0).all()
    p = PoissonProblem(LAB, exterior="air", spacing=1e-100)
    assert np.isfinite(p.matrix.data).all()
    assert check_grid(LAB, "air", coeff=2.0, spacing=(1, 0.5)).spacing == (1.0, 0.5)


@pytest.mark.parametrize(
    ("args", "cells"),
    [(("box", 10**5, 3), r"1e\+15"), (("obstacles", 10**5, 2), r"1e\+10")],  # P17, Q12
)
def test_grid_too_large_is_refused_quickly(args, cells):
    """P17: a grid out of reach is refused by name before anything is allocated."""
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=rf"^shape \(100000, .*\) has {cells} cells, more than"):
        poisson_problem(*args)
    assert time.perf_counter() - t0 < 1.0
    with pytest.raises(ValueError, match=r"MAX_CELLS = 2\*\*30"):
        make_geometry("plume", (2**16, 2**16), seed=0)


def test_max_cells_edge():
    assert MAX_CELLS == 2**30
    with pytest.raises(ValueError, match=r"^shape \(1025, 1024, 1024\) has"):
        box((1025, 1024, 1024))
