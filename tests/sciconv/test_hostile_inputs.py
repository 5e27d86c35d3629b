"""Hostile inputs of issue 20 (appendix table) for the ``sciconv`` core and ``tensors``.

Each input once crashed, hung, answered with a raw numpy/torch/scipy message or returned a
silent wrong result. Each must now end CLEAR: an exception of the stated type whose message
names the argument (and the value and what was expected), quickly and without allocating
the impossible. Grouped by entry point; the ids are those of the issue's appendix.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciconv import (
    ConvOperator,
    condition_number,
    conv_singular_values,
    conv_symbol,
    dottest,
    fftconv,
    operator_norm,
    vandermonde,
    vandermonde_apply,
)
from sciconv.hyperbolic import PoincareBall, ball
from sciconv.ssm import discretize, ssm_kernel
from sciconv.winograd import WinogradConv2d, search, transforms
from tensors import decompose


# ------------------------------------------------------------------------------ dottest
class _ConstOp:
    """An operator whose products are constant: NaN or inf (D01, D06)."""

    def __init__(self, value: float) -> None:
        self.shape = (5, 5)
        self.value = value

    def matvec(self, x):
        return np.full(5, self.value)

    def rmatvec(self, y):
        return np.full(5, self.value)


@pytest.mark.parametrize(
    ("op", "kwargs", "exc", "match"),
    [
        pytest.param(_ConstOp(np.nan), {"rtol": 1e-10}, ValueError, "op.matvec", id="D01"),
        pytest.param(_ConstOp(np.inf), {"rtol": 1e-10}, ValueError, "op.matvec", id="D06"),
        pytest.param(_ConstOp(np.nan), {}, ValueError, "NaN or infinity", id="D01-no-rtol"),
        pytest.param(_ConstOp(0.0), {"rtol": float("nan")}, ValueError, "rtol", id="rtol-nan"),
    ],
)
def test_dottest(op, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        dottest(op, rng=0, **kwargs)


# ------------------------------------------------------------------------- ConvOperator
_W3 = np.ones((1, 1, 3, 3))


@pytest.mark.parametrize(
    ("weight", "input_shape", "kwargs", "exc", "match"),
    [
        pytest.param(  # np.prod wrapped to shape (0, 0)
            np.ones((1, 1, 3, 3, 3)), (1, 2**22, 2**22, 2**22), {}, ValueError,
            r"input_shape \(1, 4194304, 4194304, 4194304\) has 73786976294838206464 entries",
            id="C23",
        ),
        pytest.param(  # index maps of 2**32 entries were built in __init__
            _W3, (1, 2**32, 2**32), {}, ValueError, "input_shape .* int64", id="C26"
        ),
        pytest.param(  # 0.126 -> 0 silently
            np.random.default_rng(0).standard_normal((1, 1, 3, 3)), (1, 8, 8),
            {"dtype": torch.int64}, ValueError, r"dtype=torch.int64 would change the weight",
            id="C39",
        ),
        pytest.param(
            _W3 * 300, (1, 8, 8), {"dtype": torch.int8}, ValueError,
            r"dtype=torch.int8 would change the weight's values \(e.g. 300.0 -> 44\)",
            id="C39-int8-wraps",
        ),
        pytest.param(_W3, (1, 8, 8), {"dtype": "float32"}, TypeError, "dtype", id="dtype-str"),
    ],
)  # fmt: skip
def test_conv_operator_init(weight, input_shape, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ConvOperator(weight, input_shape, **kwargs)


def test_conv_operator_sizes_are_python_ints():
    # the 2**40 x 2**40 operator constructs (nothing is materialised) with its true shape
    op = ConvOperator(_W3, (1, 2**20, 2**20))
    assert op.shape == (2**40, 2**40)
    assert op.n_taps == 9 * 2**40


@pytest.mark.parametrize(
    ("method", "exc", "match"),
    [
        pytest.param("to_dense", ValueError, r"to_dense .* max_entries=16777216", id="C24"),
        pytest.param("to_sparse", ValueError, r"to_sparse .* max_entries=67108864", id="C25"),
        pytest.param("H.to_sparse", ValueError, r"to_sparse .* max_entries", id="C25-adjoint"),
    ],
)
def test_conv_operator_materialise_too_large(method, exc, match):
    op = ConvOperator(_W3, (1, 2**20, 2**20))
    target = op.H if method.startswith("H.") else op
    with pytest.raises(exc, match=match):
        getattr(target, method.split(".")[-1])()


@pytest.mark.parametrize(
    "dtype", [torch.float16, torch.bfloat16], ids=["C40-float16", "C41-bfloat16"]
)
@pytest.mark.parametrize("method", ["to_dense", "to_sparse"])
def test_conv_operator_half_materialises_as_float32(dtype, method):
    # documented: scipy.sparse has no half types, the matrix is float32 with the same values
    w = torch.randn(2, 1, 3, 3, generator=torch.Generator().manual_seed(0)).to(dtype)
    op = ConvOperator(w, (1, 6, 6))
    m = getattr(op, method)()
    assert m.dtype == np.float32
    ref = ConvOperator(w.to(torch.float32), (1, 6, 6)).to_dense()
    dense = m if method == "to_dense" else m.toarray()
    np.testing.assert_array_equal(dense, ref)


# ----------------------------------------------------------------------------- spectrum
_BIG_ZEROS = ConvOperator(_W3, (1, 2**20, 2**20))  # 2**40 x 2**40, nothing materialised
_BIG_CIRC = ConvOperator(_W3, (1, 2**20, 2**20), padding="circular")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(  # 20.7 s, then MemoryError 8 TiB
            lambda: conv_singular_values(np.ones((64, 64, 3, 3)), (64, 2**14, 2**14)),
            r"input_shape \(64, 16384, 16384\) .* max_entries=268435456",
            id="S06",
        ),
        pytest.param(
            lambda: conv_symbol(np.ones((64, 64, 3, 3)), (64, 2**14, 2**14)),
            r"input_shape .* symbol",
            id="S06-symbol",
        ),
        pytest.param(  # ARPACK start vector of 2**40 entries
            lambda: operator_norm(_BIG_ZEROS), r"op is a 1099511627776 x 1099511627776", id="S11"
        ),
        pytest.param(lambda: condition_number(_BIG_ZEROS), r"op is a", id="S11-cond"),
        pytest.param(lambda: operator_norm(_BIG_CIRC), r"input_shape", id="S11-circular"),
    ],
)
def test_spectrum_size_guards(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------ fftconv
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["F10", "F10-bfloat16"])
def test_fftconv_half_computes_in_float32(dtype):
    # documented upcast (was RuntimeError "Unsupported dtype Half"); same values as float32
    g = torch.Generator().manual_seed(0)
    x, k = torch.randn(64, generator=g).to(dtype), torch.randn(5, generator=g).to(dtype)
    y = fftconv(x, k)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, fftconv(x.float(), k.float()), rtol=0, atol=0)
    ref = np.convolve(x.float().numpy().astype(np.float64), k.float().numpy().astype(np.float64))
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-5)


# -------------------------------------------------------------------------- vandermonde
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(  # OverflowError "integer division result too large for a float"
            {"points": [0, 1e200, 2], "kind": "float"},
            r"points: entry \(1, 2\) = 1e\+200\*\*2 overflows float64",
            id="V09",
        ),
        pytest.param(  # hung past 60 s
            {"points": list(range(5000)), "kind": "float"},
            r"points \(5000 of them\) with ncols=5000 .* VANDERMONDE_LIMIT",
            id="V15",
        ),
        pytest.param(
            {"points": [0, 1e20, 2], "kind": "torch", "dtype": torch.float32},
            r"points: entry \(1, 2\) .* overflows dtype=torch.float32",
            id="V09-float32",
        ),
    ],
)
def test_vandermonde(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vandermonde(**kwargs)


_Z2 = torch.tensor([0.5, 0.25], dtype=torch.float64)


@pytest.mark.parametrize(
    ("z", "c", "L", "kwargs", "match"),
    [
        pytest.param(_Z2, torch.ones_like(_Z2), 10**12, {}, r"L=1000000000000", id="A01"),
        pytest.param(
            torch.ones(1000, 2), torch.ones(1000, 2), 10**6, {"chunk": 10**6},
            r"L=1000000 with chunk=1000000 needs an output of 1000000000 entries",
            id="A01-batch",
        ),
    ],
)  # fmt: skip
def test_vandermonde_apply(z, c, L, kwargs, match):
    with pytest.raises(ValueError, match=match):
        vandermonde_apply(z, c, L, **kwargs)


# --------------------------------------------------------------------------- ssm_kernel
_ONE4 = np.ones(4)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        pytest.param(  # returned zeros; hippo and S4D refuse N = 0
            (np.zeros(0), np.zeros(0), np.zeros(0), 0.1, 4), {}, r"A must hold N >= 1 states",
            id="M03",
        ),
        pytest.param(  # K[-1] = inf, no warning
            (np.ones(2), np.ones(2), np.ones(2), 1.0, 1000), {"discretization": "zoh"},
            r"the kernel overflows from K\[709\] on: A .* unstable", id="M06",
        ),
        pytest.param(
            (np.eye(2), np.ones(2), np.ones(2), 1.0, 1000), {"discretization": "zoh"},
            r"the kernel overflows .* unstable", id="M06-dense",
        ),
        pytest.param(  # K = [inf] * 4
            (np.array([2.0]), np.ones(1), np.ones(1), 1.0, 4), {},
            r"A holds 2.0 where 1 - 0.5 dt A = 0 \(dt=1.0\): discretization 'bilinear'",
            id="M07",
        ),
        pytest.param(  # torch LinAlgError "input matrix is singular"
            (2 * np.eye(4), _ONE4, _ONE4, 1.0, 4), {},
            r"A \(.*\) with dt=1.0 makes I - 0.5 dt A singular", id="M08",
        ),
        pytest.param(  # K = [nan] * 4
            (np.array([-1.0, np.nan]), np.ones(2), np.ones(2), 0.1, 4), {},
            r"A must be finite", id="M09",
        ),
        pytest.param(
            (-_ONE4, _ONE4, _ONE4, 0.1, 4), {"P": np.full((1, 4), np.inf)}, r"P must be finite",
            id="M09-P",
        ),
        pytest.param(
            (-np.ones(2), np.ones(2), np.array([1.0, np.nan]), 0.1, 4), {}, r"C must be finite",
            id="M09-C",
        ),
        pytest.param(
            (-np.eye(2), np.array([np.inf, 1.0]), np.ones(2), 0.1, 4), {}, r"B must be finite",
            id="M09-B-dense",
        ),
        pytest.param(  # 41 s of doubling allocations up to the memory cap
            (-np.eye(4), _ONE4, _ONE4, 0.1, 10**11), {}, r"L=100000000000 needs", id="A02",
        ),
        pytest.param(
            (-np.eye(4), _ONE4, _ONE4, 0.1, 10**11), {"method": "krylov"}, r"L=100000000000",
            id="A02-krylov",
        ),
        pytest.param(
            (-_ONE4, _ONE4, _ONE4, 0.1, 10**11), {"method": "vandermonde_chunked"},
            r"L=100000000000", id="A02-vandermonde",
        ),
        pytest.param(
            (-_ONE4, _ONE4, _ONE4, 0.1, 10**11), {"P": np.ones((1, 4))}, r"L=100000000000",
            id="A02-cauchy",
        ),
    ],
)  # fmt: skip
def test_ssm_kernel(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ssm_kernel(*args, **kwargs)


def test_ssm_kernel_growing_but_finite_is_returned():
    # the documented line: an unstable kernel is returned while it stays finite
    K = ssm_kernel(np.ones(1), np.ones(1), np.ones(1), 1.0, 100, discretization="zoh")
    np.testing.assert_allclose(K, np.e ** np.arange(100) * (np.e - 1), rtol=1e-12)


@pytest.mark.parametrize(
    ("A", "dt", "method", "match"),
    [
        pytest.param(np.array([2.0]), 1.0, "bilinear", r"A holds 2.0", id="M07-discretize"),
        pytest.param(2 * np.eye(2), 1.0, "bilinear", r"A \(.*\) with dt=1.0", id="M08-discretize"),
        pytest.param(
            torch.tensor([[-1.0, 4.0]], dtype=torch.float64), torch.tensor([[0.1], [0.5]]),
            "bilinear", r"A holds 4.0 where .* \(dt=0.5", id="M07-batch",
        ),
        pytest.param(np.array([1.0, 0.5]), 2.0, "backward_euler", r"A holds 0.5", id="M07-euler"),
        pytest.param(np.array([np.inf]), 1.0, "zoh", r"A must be finite", id="M09-discretize"),
    ],
)  # fmt: skip
def test_discretize_singular_or_non_finite(A, dt, method, match):
    with pytest.raises(ValueError, match=match):
        discretize(A, np.ones(A.shape[-1]), dt, method)


# ----------------------------------------------------------------------------- winograd
@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: transforms(10**6, 3), r"m must be .* \[1, 16\] .* 1000000", id="W04"),
        pytest.param(lambda: transforms(17, 3), r"m must be .* got 17", id="W04-m17"),
        pytest.param(lambda: transforms(4, 8), r"r must be .* \[1, 7\] .* got 8", id="W04-r8"),
        pytest.param(lambda: search(40, 3, budget=5), r"m must be .* got 40", id="W04-search"),
        pytest.param(lambda: WinogradConv2d(2, 2, 9), r"r must be .* got 9", id="W04-layer"),
    ],
)
def test_winograd_transforms_bounds(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_winograd_largest_transform_still_builds():
    assert transforms(16, 7).n == 22


@pytest.mark.parametrize(
    ("padding", "size"), [pytest.param(0, (2, 2), id="W11"), pytest.param(0, (5, 2), id="W11-w")]
)
def test_winograd_conv2d_input_smaller_than_kernel(padding, size):
    layer = WinogradConv2d(3, 8, 3, padding=padding).double()
    x = torch.randn(1, 3, *size, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"x of spatial size .* smaller than kernel_size \(3, 3\)"):
        layer(x)


# ----------------------------------------------------------------------------- hyperbolic
_NAN2 = torch.tensor([float("nan"), 0.0], dtype=torch.float64)
_ORIGIN2 = torch.zeros(2, dtype=torch.float64)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        pytest.param(lambda: ball.expmap0(_NAN2, 1.0), ValueError, r"u must be finite", id="H04"),
        pytest.param(
            lambda: ball.expmap0(torch.tensor([float("inf"), 0.0]), 1.0), ValueError,
            r"u must be finite", id="H04-inf",
        ),
        pytest.param(
            lambda: ball.expmap(_ORIGIN2, _NAN2, 1.0), ValueError, r"u must be finite",
            id="H04-expmap",
        ),
        pytest.param(
            lambda: PoincareBall(1.0, dtype=torch.float64).expmap0(_NAN2), ValueError,
            r"u must be finite", id="H04-module",
        ),
        pytest.param(
            lambda: ball.expmap0([0.1, 0.2], 1.0), TypeError, r"u must be a torch.Tensor",
            id="H04-list",
        ),
    ],
)  # fmt: skip
def test_hyperbolic_expmap(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_poincare_ball_keeps_c_in_its_dtype():
    # issue 20 item 7: c was stored in float32 and widened (0.69999998807907...)
    b = PoincareBall(c=0.7)
    assert b.c.dtype == torch.float32 and b.c.item() == float(np.float32(0.7))
    d = b.double()
    assert d.c.dtype == torch.float64 and d.c.item() == 0.7
    assert PoincareBall(c=0.7).float().double().c.item() == 0.7
    learned = PoincareBall(c=0.7, learnable=True).double()
    assert isinstance(learned.raw_c, torch.nn.Parameter) and learned.raw_c.dtype == torch.float64
    assert learned.c.item() == pytest.approx(0.7, rel=1e-15)
    # the float64 map uses c = 0.7 exactly: tanh(sqrt(0.7) |u|) / sqrt(0.7) along u
    u = torch.tensor([0.3, 0.0], dtype=torch.float64)
    ref = np.tanh(np.sqrt(0.7) * 0.3) / np.sqrt(0.7)
    assert d.expmap0(u, project=False)[0].item() == pytest.approx(ref, rel=1e-15)
    # a loaded (non-initial) value converts like any tensor
    loaded = PoincareBall(c=0.7)
    loaded.load_state_dict({"raw_c": torch.tensor(0.5)})
    assert loaded.double().c.item() == 0.5


# ------------------------------------------------------------------- tensors.decompose
@pytest.mark.parametrize(
    ("kind", "rank"),
    [
        pytest.param("cp", 2, id="T09"),  # numpy LinAlgError "Singular matrix" from tensorly
        pytest.param("tucker", (2, 2), id="T09-tucker"),
        pytest.param("tt", 2, id="T09-tt"),
        pytest.param("cp", "full", id="T09-cp-full"),
    ],
)
def test_decompose_all_zero_weight_gives_exact_zero(kind, rank):
    # documented: exact factors, the output factor (or core) zero, the others identity-like
    w = torch.zeros(4, 4, 3, 3, dtype=torch.float64)
    dec = decompose(w, kind=kind, rank=rank)
    ref = decompose(torch.randn(4, 4, 3, 3, dtype=torch.float64), kind=kind, rank=rank)
    assert dec.rank == ref.rank
    assert [f.shape for f in dec.factors] == [f.shape for f in ref.factors]
    assert dec.error == 0.0
    assert torch.equal(dec.reconstruct(), w)
    assert all(bool(torch.isfinite(f).all()) for f in dec.factors)
