"""Fuzz the public constructors: every call succeeds with a finite result, or refuses clearly.

Issue 20, item 4. Hypothesis draws shapes, strides, paddings, dtypes and values (0, negative,
huge, NaN, inf, wrong types) for

* :class:`sciconv.ConvOperator` (then ``apply`` / ``apply_adjoint`` on a finite input),
* the ``nn.Module`` layers exported by every family (``sciconv.winograd``, ``orthogonal``,
  ``generalized``, ``hadamard``, ``hyperbolic``, ``hyperzzw``, ``ssm`` and ``tensors``),
  each followed by a forward pass on a small finite input of a shape the layer accepts,
* :class:`pde.PoissonProblem` and :func:`pde.poisson_problem` (then the matrix),
* :func:`solvers.make_map` (then the map applied to a finite vector),
* the ``sciconv`` command, run in-process through :func:`sciconv.cli.main`.

The contract: a call either returns, and then a finite input gives a finite output (when the
drawn numbers are moderate: a weight of 1e300 may overflow legitimately), or it raises
``ValueError`` / ``TypeError``. Anything else (a raw torch/numpy error, ``ZeroDivisionError``,
``IndexError``, a NaN output) fails the test, and hypothesis prints the input.

Every size is capped (channels <= 4, spatial sizes <= 8, kernels <= 3) so no example allocates
more than a few kilobytes; ``huge`` only reaches strides and float hyperparameters. The tests
are derandomized and bounded (``max_examples`` per test below): about 10 s in all on two
shared cores. Below the fuzz, each defect it found is pinned by a plain regression test.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sciconv
import sciconv.cli
import tensors
from sciconv import generalized, hadamard, hyperbolic, hyperzzw, orthogonal, ssm, winograd

pytestmark = pytest.mark.filterwarnings("ignore")

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

NAN, INF = float("nan"), float("inf")
#: Values that are not a positive integer (bad sizes, strides, counts).
BAD_INTS = [0, -1, -3, 2.5, "2", None, True, NAN, (1, 2, 3, 4)]
#: Float hyperparameters: 0, negative, huge, tiny, NaN, inf, wrong types.
BAD_FLOATS = [0.0, -1.0, -1e300, 1e300, 1e-300, NAN, INF, -INF, "1.0", None]
#: Element values of weights and coefficients.
FILLS = ["normal", "zeros", "negative", "huge", "nan", "inf", "-inf"]
MODERATE = {"normal", "zeros", "negative"}


def attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; ``None`` when it refused with ValueError/TypeError (anything else raises)."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError):
        return None


def pick(good: Any, bad: Any, odds: int = 10) -> st.SearchStrategy:
    """``good`` in ``odds - 1`` draws of ``odds``, else ``bad`` (lists become ``sampled_from``).

    Most examples then carry at most one hostile argument, so the constructors that accept
    them are reached (and their forward passes checked) often. (``st.one_of`` would not do:
    it draws each distinct branch about equally often.)
    """
    good = st.sampled_from(good) if isinstance(good, list) else good
    bad = st.sampled_from(bad) if isinstance(bad, list) else bad
    return st.integers(0, odds - 1).flatmap(lambda i: bad if i == odds - 1 else good)


def sizes(lo: int, hi: int) -> st.SearchStrategy:
    """An int in [lo, hi], or a hostile value."""
    return pick(st.integers(lo, hi), BAD_INTS)


def positive(lo: float, hi: float) -> st.SearchStrategy:
    """A moderate positive float, or a hostile one."""
    return pick(st.floats(lo, hi), BAD_FLOATS)


def filled(shape: tuple[int, ...], fill: str, seed: int = 0) -> np.ndarray:
    """An array of ``shape`` holding the values ``fill`` names."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if fill == "zeros":
        return np.zeros(shape)
    if fill == "negative":
        return -np.abs(a) - 0.5
    if fill == "huge":
        return a * 1e300
    if fill in ("nan", "inf", "-inf"):
        a = a.copy()
        if a.size:
            a.flat[a.size // 2] = float(fill)
    return a


def finite(t: Any) -> bool:
    """Whether a tensor/array (or a tuple of them) holds only finite numbers."""
    if isinstance(t, tuple | list):
        return all(finite(x) for x in t)
    if isinstance(t, torch.Tensor):
        return bool(torch.isfinite(t).all())
    return bool(np.isfinite(np.asarray(t)).all())


def torch_input(shape: tuple[int, ...], dtype: torch.dtype, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return scale * torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


DTYPES = pick(
    [None, torch.float32, torch.float64], [torch.float16, torch.bfloat16, torch.int64, "float64"]
)


def layer_dtype(layer: torch.nn.Module) -> torch.dtype:
    for p in layer.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def check_forward(layer: Any, *inputs: torch.Tensor, **kwargs: Any) -> None:
    """A built layer maps finite inputs to finite outputs (or refuses the input clearly)."""
    if layer is None:
        return
    with torch.no_grad():
        out = attempt(layer, *inputs, **kwargs)
    if out is not None:
        assert finite(out), f"{type(layer).__name__} gave a non-finite output for finite input"


# --------------------------------------------------------------------------- ConvOperator
@FUZZ
@given(data=st.data())
def test_conv_operator(data: st.DataObject) -> None:
    d = data.draw(st.integers(1, 3), label="d")
    groups = data.draw(pick([1, 1, 2], BAD_INTS))
    g = groups if isinstance(groups, int) and not isinstance(groups, bool) and groups > 0 else 1
    out_ch = g * data.draw(st.integers(1, 2))
    in_per = data.draw(pick(st.integers(1, 2), [0]))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    spatial = [data.draw(st.integers(1, 6 if d < 3 else 4)) for _ in range(d)]
    if data.draw(st.integers(0, 9)) == 9:
        spatial[0] = data.draw(st.sampled_from([0, -1, 2.5]))
    in_ch = in_per * g if data.draw(st.integers(0, 9)) < 9 else in_per * g + 1
    input_shape: Any = (in_ch, *spatial)
    if data.draw(st.integers(0, 14)) == 14:
        input_shape = data.draw(st.sampled_from(["abc", 3, (2,), (1, 2, 3, 4, 5), None]))
    fill = data.draw(pick(["normal", "zeros", "negative"], ["huge", "nan", "inf", "-inf"], 3))
    weight: Any = filled((out_ch, in_per, *kernel), fill)
    kind = data.draw(pick(["numpy", "torch", "list", "complex"], ["int", "bad"]))
    if kind == "torch":
        weight = torch.from_numpy(weight)
    elif kind == "list":
        weight = weight.tolist()
    elif kind == "complex":
        weight = weight + 1j * filled(weight.shape, "normal", 1)
    elif kind == "int":
        weight = np.round(np.nan_to_num(weight, posinf=1, neginf=-1)).astype(np.int64)
    elif kind == "bad":
        weight = data.draw(st.sampled_from(["w", None, {"a": 1}, np.array(["x"]), 1.0]))
    step = pick(st.integers(1, 3), [*BAD_INTS, 10**9, (1,) * d])
    stride = data.draw(step, label="stride")
    dilation = data.draw(step, label="dilation")
    padding = data.draw(
        pick(
            [*sciconv.PADDING_MODES, 1, 0, (1,) * d, ((1, 0),) * d],
            ["bogus", "", -1, 2.5, None],
        ),
        label="padding",
    )
    pad_width = data.draw(
        pick([None, None, 0, 1, (1,) * d, ((0, 1),) * d], [-1, "x", 10**9]),
        label="pad_width",
    )
    dtype = data.draw(
        pick([None, torch.float32, torch.float64, torch.complex128], [torch.int64, "f8"])
    )
    op = attempt(
        sciconv.ConvOperator,
        weight,
        input_shape,
        stride=stride,
        dilation=dilation,
        groups=groups,
        padding=padding,
        pad_width=pad_width,
        dtype=dtype,
    )
    if op is None:
        return
    x = np.random.default_rng(1).standard_normal(op.shape[1])
    y = op.apply(x.reshape(op.in_shape))
    yt = op.apply_adjoint(np.random.default_rng(2).standard_normal(op.out_shape))
    if fill in MODERATE:
        assert finite(y) and finite(yt), f"non-finite output of {op!r}"


# --------------------------------------------------------------------------- layers
def conv_args(data: st.DataObject, d: int) -> dict[str, Any]:
    """Channel counts, kernel, stride, padding, dilation, groups of an nn.ConvNd-like layer."""
    return {
        "in_channels": data.draw(sizes(1, 4), label="in_channels"),
        "out_channels": data.draw(sizes(1, 4), label="out_channels"),
        "kernel_size": data.draw(sizes(1, 3), label="kernel_size"),
        "stride": data.draw(pick(st.integers(1, 2), [0, -1, 2.5, 10**9], 4))
        if data.draw(st.integers(0, 4)) == 4
        else 1,
        "padding": data.draw(pick([0, 1, "same", "valid"], [-1, "bogus", 2.5])),
        "dilation": data.draw(pick([1, 1, 2], [0, -1, 2.5])),
        "groups": data.draw(pick([1, 1, 2], [0, -2, 2.5])),
    }


def conv_input(args: dict[str, Any], d: int, dtype: torch.dtype, n: int = 8) -> torch.Tensor:
    """A finite input the layer accepts: ``n`` per axis, or the dilated kernel's span if larger.

    (A too-small input is refused by torch with a RuntimeError; the fuzz is about the
    constructors' arguments, not about checking every forward's input shape.)
    """
    c = args.get("in_channels")
    c = c if isinstance(c, int) and not isinstance(c, bool) and c > 0 else 1
    k, dil = args.get("kernel_size"), args.get("dilation", 1)
    if isinstance(k, int) and isinstance(dil, int):
        n = max(n, dil * (k - 1) + 1)
    return torch_input((2, c, *([n] * max(d, 1))), dtype)


@FUZZ
@given(data=st.data())
def test_winograd_layer(data: st.DataObject) -> None:
    args = conv_args(data, 2)
    args["kernel_size"] = data.draw(sizes(1, 3))
    m = data.draw(pick(st.integers(1, 3), [0, -1, 2.5, (2, 2), "4"]))
    arithmetic = data.draw(pick(["native"], ["bogus"]))
    dtype = data.draw(DTYPES)
    layer = attempt(winograd.WinogradConv2d, **args, m=m, arithmetic=arithmetic, dtype=dtype)
    if layer is not None:
        check_forward(layer, conv_input(args, 2, layer_dtype(layer)))


@FUZZ
@given(data=st.data())
def test_orthogonal_layers(data: st.DataObject) -> None:
    d = data.draw(st.integers(1, 3), label="d")
    kind = data.draw(st.sampled_from(["LOrth", "Orthogonal", "OrthogonalTranspose"]))
    cls = getattr(
        orthogonal,
        {"LOrth": "LOrthConv", "Orthogonal": "OrthogonalConv"}.get(kind, "OrthogonalConvTranspose")
        + f"{d}d",
    )
    args = conv_args(data, d)
    if kind != "LOrth":
        args["padding"] = data.draw(st.sampled_from(["circular", "valid", "same", "zeros", 1]))
        args["construction_dtype"] = data.draw(pick([torch.float64, None], ["f8"]))
    args["dtype"] = data.draw(
        pick([None, torch.float64, torch.float32], [torch.int64, torch.float16])
    )
    layer = attempt(cls, **args)
    if layer is not None:
        n = 4 if d == 3 else 8
        check_forward(layer, conv_input(args, d, layer_dtype(layer), n=n))


@FUZZ
@given(data=st.data())
def test_generalized_layers(data: st.DataObject) -> None:
    d = data.draw(st.integers(1, 2), label="d")
    args = conv_args(data, d)
    args["padding_mode"] = data.draw(pick(["zeros", "circular", "reflect"], ["bogus"]))
    kernel = data.draw(pick(list(generalized.KERNELS), ["bogus"]))
    link = data.draw(pick(list(generalized.LINKS), ["bogus", None]))
    hyper = {k: data.draw(positive(0.1, 2.0), label=k) for k in ("c", "gamma", "sigma", "smooth")}
    degree = data.draw(sizes(1, 3))
    chunk = data.draw(pick([1 << 25, 1 << 10], [0, -1, 1.5]))
    dtype = data.draw(DTYPES)
    cls = generalized.KernelConv1d if d == 1 else generalized.KernelConv2d
    layer = attempt(
        cls,
        **args,
        kernel=kernel,
        link=link,
        degree=degree,
        max_chunk_bytes=chunk,
        dtype=dtype,
        **hyper,
    )
    if layer is not None:
        check_forward(layer, conv_input(args, d, layer_dtype(layer)))


@FUZZ
@given(data=st.data())
def test_hadamard_layers(data: st.DataObject) -> None:
    which = data.draw(st.sampled_from(["film", "gated", "global", "bilinear", "gn", "se"]))
    dtype = data.draw(DTYPES)
    c = data.draw(sizes(1, 4), label="channels")
    cc = c if isinstance(c, int) and not isinstance(c, bool) and c > 0 else 1
    if which == "film":
        k = data.draw(sizes(1, 3))
        layer = attempt(hadamard.FiLM, c, k, dtype=dtype)
        if layer is not None:
            dt = layer_dtype(layer)
            check_forward(layer, torch_input((2, cc, 3, 3), dt), torch_input((2, k), dt))
    elif which == "gated":
        d = data.draw(pick([1, 2, 3], [0, 4]))
        args = conv_args(data, max(1, min(d, 3)))
        gate = data.draw(pick(list(hadamard.GATES), ["bogus"]))
        layer = attempt(hadamard.GatedConv, **args, gate=gate, dim=d, dtype=dtype)
        if layer is not None:
            check_forward(layer, conv_input(args, d, layer_dtype(layer), n=5))
    elif which == "global":
        fs = data.draw(pick(st.integers(1, 6), BAD_INTS))
        mode = data.draw(pick(["circular", "linear", "zeros"], ["bogus"]))
        layer = attempt(hadamard.GlobalFilter, c, fs, mode=mode, dtype=dtype)
        if layer is not None:
            check_forward(layer, torch_input((2, cc, fs, fs), layer_dtype(layer)))
    elif which == "bilinear":
        i1, i2, o, r = (data.draw(sizes(1, 4)) for _ in range(4))
        act = data.draw(pick(["tanh", "identity", "sigmoid", "relu"], ["bogus"]))
        layer = attempt(hadamard.LowRankBilinear, i1, i2, o, r, activation=act, dtype=dtype)
        if layer is not None:
            dt = layer_dtype(layer)
            check_forward(layer, torch_input((2, i1), dt), torch_input((2, i2), dt))
    elif which == "gn":
        order = data.draw(sizes(1, 3))
        spatial = data.draw(pick(["dw", "global"], ["bogus"]))
        kernel = data.draw(pick([1, 3, 5, 2], [0, -1]))
        fs = data.draw(pick([2, 4, 5], [0, -1]))
        scale = data.draw(positive(0.1, 2.0))
        layer = attempt(
            hadamard.RecursiveGatedConv,
            c,
            order,
            spatial=spatial,
            kernel_size=kernel,
            filter_size=fs,
            scale=scale,
            dtype=dtype,
        )
        if layer is not None:
            n = 2 * fs - 2 if spatial == "global" else 6
            check_forward(layer, torch_input((2, cc, n, n), layer_dtype(layer)))
    else:
        red = data.draw(sizes(1, 4))
        layer = attempt(hadamard.SqueezeExcite, c, red, dtype=dtype)
        if layer is not None:
            check_forward(layer, torch_input((2, cc, 4, 4), layer_dtype(layer)))


@FUZZ
@given(data=st.data())
def test_hyperbolic_layers(data: st.DataObject) -> None:
    which = data.draw(
        st.sampled_from(["ball", "conv", "linear", "mlr", "bn", "relu", "res", "block"])
    )
    c = data.draw(positive(0.1, 2.0), label="c")
    dtype = data.draw(
        pick(
            [None, torch.float64, torch.float32], [torch.int64, "f8", torch.float16, torch.bfloat16]
        )
    )
    a, b = data.draw(sizes(1, 4)), data.draw(sizes(1, 4))
    aa = a if isinstance(a, int) and not isinstance(a, bool) and a > 0 else 1
    if which == "ball":
        ball = attempt(hyperbolic.PoincareBall, c, dtype=dtype)
        if ball is not None:
            x = torch_input((3, 2), ball.c.dtype, 0.1)
            for f in (ball.expmap0, ball.logmap0):
                y = attempt(f, x)
                assert y is None or finite(y), f"PoincareBall(c={c!r}).{f.__name__} is not finite"
        return
    if which == "conv":
        args = conv_args(data, 2)
        args.pop("groups")
        layer = attempt(hyperbolic.PoincareConv2d, **args, c=c, dtype=dtype)
        if layer is not None:
            check_forward(layer, conv_input(args, 2, layer_dtype(layer)) * 0.05)
    elif which == "linear":
        layer = attempt(hyperbolic.PoincareLinear, a, b, c=c, dtype=dtype)
        if layer is not None:
            check_forward(layer, torch_input((3, aa), layer_dtype(layer), 0.05))
    elif which == "mlr":
        layer = attempt(hyperbolic.PoincareMLR, a, b, c=c, dtype=dtype)
        if layer is not None:
            check_forward(layer, torch_input((3, aa), layer_dtype(layer), 0.05))
    elif which == "bn":
        mom, eps = data.draw(positive(0.0, 1.0)), data.draw(positive(1e-8, 1e-3))
        layer = attempt(
            hyperbolic.PoincareMidpointBatchNorm, a, c=c, momentum=mom, eps=eps, dtype=dtype
        )
        if layer is not None:
            check_forward(layer, torch_input((4, aa, 3, 3), layer_dtype(layer), 0.05))
    elif which == "relu":
        dim = data.draw(pick([1, -1], [5, 1.5]))
        layer = attempt(hyperbolic.PoincareReLU, c=c, dim=dim)
        if layer is not None:
            check_forward(layer, torch_input((3, 4), torch.float64, 0.05))
    elif which == "res":
        depth = data.draw(pick([8, 14], [2, 0, -1, 3, 2.5]))
        widths = data.draw(pick([(2, 2, 2), (2, 2, 4)], [(2,), (), (0, 2, 2), (2, -1, 2), "abc"]))
        layer = attempt(
            hyperbolic.PoincareResNet,
            depth=depth,
            in_channels=a,
            num_classes=b,
            widths=widths,
            c=c,
            dtype=dtype,
        )
        if layer is not None:
            check_forward(layer, torch_input((2, aa, 8, 8), layer_dtype(layer)))
    else:
        stride = data.draw(pick([1, 2], [0, -1]))
        ball = hyperbolic.PoincareBall(1.0, dtype=torch.float64)
        layer = attempt(hyperbolic.PoincareBasicBlock, a, b, stride, ball, dtype=torch.float64)
        if layer is not None:
            check_forward(layer, torch_input((2, aa, 8, 8), torch.float64, 0.05))


@FUZZ
@given(data=st.data())
def test_hyperzzw_layers(data: st.DataObject) -> None:
    which = data.draw(st.sampled_from(["mlp", "hzzw", "local", "term"]))
    dtype = data.draw(DTYPES)
    c = data.draw(sizes(1, 3), label="channels")
    cc = c if isinstance(c, int) and not isinstance(c, bool) and c > 0 else 1
    hidden, layers = data.draw(sizes(1, 8)), data.draw(sizes(1, 3))
    omega = data.draw(positive(0.5, 20.0))
    if which == "mlp":
        coord = data.draw(sizes(1, 3))
        layer = attempt(hyperzzw.CoordinateMLP, c, coord, hidden, layers, omega, dtype=dtype)
        size = data.draw(pick([3, 4, (3, 4)], [0, -1, (2, 2, 2)]))
        check_forward(layer, size)
    elif which == "hzzw":
        form = data.draw(pick(list(hyperzzw.FORMS), ["bogus"]))
        dim = data.draw(pick([1, 2, 3], [0, 4]))
        layer = attempt(hyperzzw.HyperZZW, c, form, dim, hidden, layers, omega, dtype=dtype)
        if layer is not None:
            shape = (2, cc, *([5] * dim))
            check_forward(layer, torch_input(shape, layer_dtype(layer)))
    elif which == "local":
        k = data.draw(pick([1, 3, 5, 2], [0, -1]))
        layer = attempt(hyperzzw.LocalHyperConv2d, c, k, hidden, layers, omega, dtype=dtype)
        if layer is not None:
            check_forward(layer, torch_input((2, cc, 6, 6), layer_dtype(layer)))
    else:
        out = data.draw(sizes(1, 3))
        inner = data.draw(pick([None, 2], [0, -1]))
        local = data.draw(pick([(3,), (3, 5)], [(), (2,), (0,), "abc"]))
        form = data.draw(pick(list(hyperzzw.FORMS), ["bogus"]))
        layer = attempt(hyperzzw.TerminatorBlock, c, out, inner, local, form, hidden, dtype=dtype)
        if layer is not None:
            check_forward(layer, torch_input((2, cc, 6, 6), layer_dtype(layer)))


@FUZZ
@given(data=st.data())
def test_ssm_layers(data: st.DataObject) -> None:
    which = data.draw(st.sampled_from(["lmu", "lssl", "s4d", "convssm", "longconv"]))
    dtype = data.draw(
        pick(
            [None, torch.float64, torch.float32], [torch.int64, "f8", torch.float16, torch.bfloat16]
        )
    )
    h = data.draw(sizes(1, 3), label="channels")
    hh = h if isinstance(h, int) and not isinstance(h, bool) and h > 0 else 1
    n = data.draw(sizes(1, 8), label="state_size")
    dt_min = data.draw(positive(1e-3, 0.05))
    dt_max = data.draw(positive(0.05, 0.2))
    L = 12
    if which == "lmu":
        order, theta = data.draw(sizes(1, 6)), data.draw(positive(1.0, 64.0))
        parallel = data.draw(st.booleans())
        layout = data.draw(pick(list(ssm.LAYOUTS), ["NCL", None]))
        layer = attempt(ssm.LMU, h, n, order, theta, parallel=parallel, layout=layout, dtype=dtype)
        if layer is not None:
            mode = data.draw(pick(["step", "conv"], ["bogus"]))
            shape = (2, hh, L) if layout == "BCL" else (2, L, hh)
            check_forward(layer, torch_input(shape, layer_dtype(layer)), mode=mode)
    elif which == "lssl":
        measure = data.draw(pick(list(ssm.MEASURES), ["bogus"]))
        disc = data.draw(pick(list(ssm.DISCRETIZATIONS), ["bogus"]))
        method = data.draw(pick(list(ssm.KERNEL_METHODS), ["bogus"]))
        layer = attempt(
            ssm.LSSL,
            h,
            n,
            measure=measure,
            dt_min=dt_min,
            dt_max=dt_max,
            discretization=disc,
            kernel_method=method,
            dtype=dtype,
        )
        if layer is not None:
            mode = data.draw(pick(["conv", "step"], ["bogus"]))
            check_forward(layer, torch_input((2, hh, L), layer_dtype(layer)), mode=mode)
    elif which == "s4d":
        init = data.draw(pick(list(ssm.S4D_INITS), ["bogus"]))
        method = data.draw(pick(list(ssm.KERNEL_METHODS), ["bogus"]))
        chunk = data.draw(pick([None, 4], [0, -1, 2.5]))
        layer = attempt(
            ssm.S4D,
            h,
            n,
            init=init,
            dt_min=dt_min,
            dt_max=dt_max,
            kernel_method=method,
            chunk=chunk,
            dtype=dtype,
        )
        if layer is not None:
            mode = data.draw(pick(["conv", "step"], ["bogus"]))
            check_forward(layer, torch_input((2, hh, L), layer_dtype(layer)), mode=mode)
    elif which == "convssm":
        out, k = data.draw(sizes(1, 3)), data.draw(pick([1, 3, 2], [0, -1]))
        init = data.draw(pick(list(ssm.S4D_INITS), ["bogus"]))
        layout = data.draw(pick(list(ssm.LAYOUTS), ["NCL", None]))
        layer = attempt(
            ssm.ConvSSM,
            h,
            out,
            n,
            k,
            init=init,
            dt_min=dt_min,
            dt_max=dt_max,
            layout=layout,
            dtype=dtype,
        )
        if layer is not None:
            mode = data.draw(pick(["scan", "conv", "step"], ["bogus"]))
            shape = (1, hh, 3, 4, 4) if layout == "BCL" else (1, 3, hh, 4, 4)
            check_forward(layer, torch_input(shape, layer_dtype(layer)), mode=mode)
    else:
        k = data.draw(sizes(1, 16))
        lam = data.draw(pick(st.floats(0.0, 0.1), BAD_FLOATS))
        width = data.draw(pick([1, 3, 2], [0, -1]))
        layer = attempt(ssm.LongConv, h, k, squash_lambda=lam, smooth_width=width, dtype=dtype)
        if layer is not None:
            check_forward(layer, torch_input((2, hh, L), layer_dtype(layer)))


@FUZZ
@given(data=st.data())
def test_tensor_layers(data: st.DataObject) -> None:
    d = data.draw(st.integers(1, 3), label="d")
    kind = data.draw(st.sampled_from(["CP", "Tucker", "TT"]))
    cls = getattr(tensors, f"{kind}Conv{d}d")
    args = conv_args(data, d)
    args["padding_mode"] = data.draw(pick(["zeros", "circular", "reflect"], ["bogus"]))
    rank = data.draw(
        pick(
            [1, 2, 3, 0.5, "full"],
            [0, -1, 1.5, 2.5, "bogus", (1, 2), (1, 1, 1, 1, 1), NAN],
        ),
        label="rank",
    )
    impl = data.draw(pick(["factorized", "reconstructed"], ["bogus"]))
    dtype = data.draw(DTYPES)
    layer = attempt(cls, **args, rank=rank, implementation=impl, dtype=dtype)
    if layer is not None:
        check_forward(layer, conv_input(args, d, layer_dtype(layer), n=4 if d == 3 else 6))


# --------------------------------------------------------------------------- pde, solvers
@FUZZ
@given(data=st.data())
def test_poisson_problem(data: st.DataObject) -> None:
    import pde

    d = data.draw(pick([2, 3], [1, 4]), label="dim")
    shape = tuple(data.draw(st.integers(1, 5 if d < 3 else 3)) for _ in range(d))
    codes = data.draw(pick([(0,), (0, 1), (0, 1, 2), (0, 2)], [(0, 3), (0, -1)]))
    labels: Any = np.random.default_rng(0).choice(codes, size=shape)
    ltype = data.draw(pick(["int", "int", "list"], ["float", "nan", "bool", "str"]))
    if ltype == "float":
        labels = labels.astype(float)
    elif ltype == "nan":
        labels = labels.astype(float)
        labels.flat[0] = NAN
    elif ltype == "bool":
        labels = labels.astype(bool)
    elif ltype == "str":
        labels = data.draw(st.sampled_from(["box", None, 3]))
    elif ltype == "list":
        labels = labels.tolist()
    exterior = data.draw(pick(["solid", "air", 1, 2], ["AIR", "bogus", 0, 3, None, 1.0]))
    fill = data.draw(pick(["none", "normal"], FILLS))
    coeff: Any = None
    if fill != "none":
        cshape = shape if data.draw(st.integers(0, 5)) < 5 else (*shape, 2)
        coeff = np.abs(filled(cshape, fill)) + (0.1 if fill == "normal" else 0.0)
        if fill == "negative":
            coeff = -coeff
    spacing = data.draw(pick(st.floats(0.1, 3.0), [*BAD_FLOATS, (1.0,) * d, (1.0,) * (d + 1)]))
    prob = attempt(pde.PoissonProblem, labels, exterior=exterior, coeff=coeff, spacing=spacing)
    if prob is not None and fill in ("none", "normal"):
        assert finite(prob.matrix.data)
        if prob.n:
            assert finite(prob.matrix @ prob.rhs_random(0))
    geometry = data.draw(pick(["box", "obstacles", "plume"], ["bogus", ""]))
    gshape = data.draw(pick(st.integers(3, 6), [0, -1, 2.5, (4, 4), (3, 3, 3), (4,), "x"]))
    dim = data.draw(pick([None, 2, 3], [1, 4, 0]))
    seed = data.draw(pick([0, 1], [-1, 2.5]))
    prob = attempt(
        pde.poisson_problem, geometry, gshape, dim, seed=seed, exterior=exterior, spacing=spacing
    )
    if prob is not None:
        assert finite(prob.matrix.data)


_PROBLEMS: dict[int, Any] = {}


def small_problem(dim: int) -> Any:
    import pde

    if dim not in _PROBLEMS:
        _PROBLEMS[dim] = pde.poisson_problem("obstacles", 8 if dim == 2 else 4, dim)
    return _PROBLEMS[dim]


SPECS = [
    "identity",
    "jacobi",
    "jacobi:2",
    "jacobi:0",
    "jacobi:-1",
    "jacobi:x",
    "jacobi:1e9",
    "pyamg",
    "pyamg:1",
    "pyamg:0",
    "exact",
    "coarse",
    "coarse:2",
    "coarse:0",
    "coarse:-3",
    "coarse:2:3",
    "smoothed:2",
    "smoothed:",
    "learned",
    "learned:bogus",
    "network:bogus",
    "network+coarse:bogus",
    "",
    ":",
    "bogus",
    "JACOBI:2",
    " jacobi:2",
    "jacobi:2.5",
]


@FUZZ
@given(data=st.data())
def test_make_map(data: st.DataObject) -> None:
    from solvers import make_map

    prob = small_problem(data.draw(st.sampled_from([2, 3])))
    spec = data.draw(
        pick(SPECS, st.one_of(st.text(max_size=12), st.sampled_from([None, 3])), odds=4)
    )
    omega = data.draw(pick(st.floats(0.1, 1.0), BAD_FLOATS))
    which = data.draw(pick(["matrix", "matrix", "dense"], ["none", "string", "nonsquare"]))
    A: Any = {
        "matrix": prob.matrix,
        "dense": prob.matrix.toarray(),
        "none": None,
        "string": "A",
        "nonsquare": prob.matrix[:, :-1],
    }[which]
    labels = data.draw(pick([prob.labels], [None, prob.labels[:-1], "x"]))
    exterior = data.draw(pick([None, prob.exterior], ["bogus", 7]))
    M = attempt(make_map, spec, A, omega=omega, labels=labels, exterior=exterior)
    if M is not None and isinstance(omega, float) and 0 < omega < 2:
        r = prob.project(np.random.default_rng(0).standard_normal(prob.n))
        assert finite(M(r)), f"make_map({spec!r}) gave a non-finite output"


# --------------------------------------------------------------------------- the CLI
_TMP = Path(tempfile.mkdtemp(prefix="sciconv-fuzz-"))


def weight_file(fill: str, shape: tuple[int, ...]) -> str:
    path = _TMP / f"w_{fill}_{'x'.join(map(str, shape))}.npy"
    np.save(path, filled(shape, fill))
    return str(path)


def arg(good: list[Any], bad: list[Any] | None = None) -> st.SearchStrategy:
    """A command-line value: one of ``good``, or (one draw in eight) a hostile one."""
    bad = BAD_TEXT if bad is None else bad
    return pick([str(v) for v in good], [str(v) for v in bad], odds=8)


BAD_TEXT = ["0", "-1", "abc", "", "nan", "inf", "-inf", "1e300", "2.5", "1,2,3,4"]
PADDINGS = ["circular", "same", "zeros", "valid", "reflect"]
SOLVERS = ["cg", "cg,dcdm", "pyamg", "jacobi"]
MAPS = ["jacobi:2", "coarse:2", "identity"]


def cli_argv(data: st.DataObject) -> list[str]:
    """argv of one ``sciconv`` subcommand on tiny sizes, with hostile values now and then."""
    cmd = data.draw(
        st.sampled_from(["exists", "measure", "ssm", "winograd", "search", "poisson", "bad"])
    )
    if cmd == "exists":
        argv = ["ortho", "exists"]
        for flag, good in (
            ("--in-channels", [1, 2, 4]),
            ("--out-channels", [1, 2, 4]),
            ("--kernel", [1, 2, 3, "2,2"]),
            ("--stride", [1, 2, "1,2"]),
        ):
            argv += [flag, data.draw(arg(good))]
        argv += ["--dim", data.draw(arg([1, 2, 3], [0, 4, "x"]))]
        argv += ["--padding", data.draw(arg(["circular", "valid", "same"], ["bogus"]))]
        return argv + (["--json"] if data.draw(st.booleans()) else [])
    if cmd == "measure":
        fill = data.draw(pick(["normal", "zeros"], FILLS))
        shape = data.draw(
            pick([(2, 2, 3), (2, 2, 3, 3)], [(2, 3), (0, 2, 3), (2, 2, 3, 3, 3, 3)], odds=5)
        )
        missing = data.draw(st.integers(0, 7)) == 7
        path = str(_TMP / "missing.npy") if missing else weight_file(fill, shape)
        return [
            "ortho", "measure", "--weight", path,
            "--input-size", data.draw(arg([4, 6], [1, "4,4,4", *BAD_TEXT])),
            "--stride", data.draw(arg([1, 2], [0, -1, "x"])),
            "--padding", data.draw(st.sampled_from(PADDINGS)),
        ]  # fmt: skip
    if cmd == "ssm":
        return [
            "ssm",
            "--N", data.draw(arg([2, 4, 8])),
            "--L", data.draw(arg([4, 16, 32], BAD_TEXT[:5])),
            "--dt", data.draw(arg([1e-3, 0.1])),
            "--json",
        ]  # fmt: skip
    if cmd in ("winograd", "search"):
        argv = ["winograd"]
        if cmd == "search":
            argv += ["search", "--budget", data.draw(arg([1, 2], [0, -1, "x"]))]
        argv += [
            "--m", data.draw(arg([2, 3, 4], BAD_TEXT[:6])),
            "--r", data.draw(arg([2, 3], BAD_TEXT[:6])),
            "--trials", data.draw(arg([1, 2], [0, -1, "x"])),
            "--dtype", data.draw(st.sampled_from(["float16", "bfloat16", "float32"])),
        ]  # fmt: skip
        if data.draw(st.booleans()):
            points = ["0,1,-1", "0,1,-1,1/2", "0,1,-1,2,-2,1/2,-1/2"]
            bad = ["0,0,1", "0,1/0,2", "a,b,c", "", "0,inf,1", "0,nan,1"]
            argv += ["--points", data.draw(pick(points, bad, odds=3))]
        return argv
    if cmd == "poisson":
        return [
            "poisson",
            "--dim", data.draw(st.sampled_from(["2", "3"])),
            "--n", data.draw(arg([4, 5], [1, 0, -1, "x", 2])),
            "--geometry", data.draw(st.sampled_from(["box", "obstacles", "plume"])),
            "--solvers", data.draw(arg(SOLVERS, ["bogus", "", "cg,cg"])),
            "--rtol", data.draw(arg([1e-6, 0.1], BAD_TEXT[:9])),
            "--maxiter", data.draw(arg([20], [1, 0, -1, "x"])),
            "--dcdm-map", data.draw(arg(MAPS, ["bogus", "coarse:0", "jacobi:x"])),
            "--dcdm-directions", data.draw(arg([2], [1, 0, -1])),
            "--json",
        ]  # fmt: skip
    return data.draw(
        st.sampled_from(
            [[], ["bogus"], ["--bogus"], ["ortho"], ["winograd", "bogus"], ["ssm", "--N"]]
        )
    )


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_cli(data: st.DataObject) -> None:
    argv = cli_argv(data)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = sciconv.cli.main(argv)
        except SystemExit as exc:  # argparse's own refusal (or --help)
            rc = exc.code
    assert isinstance(rc, int) and rc in (0, 1, 2), (argv, rc, err.getvalue()[-2000:])
    assert "Traceback" not in err.getvalue(), (argv, err.getvalue()[-2000:])
    if rc == 2:  # `sciconv ortho` prints its refusal on stdout, the others on stderr
        assert (err.getvalue() + out.getvalue()).strip(), f"{argv}: status 2 without a message"


# --------------------------------------------------------------------------- regressions
# What the fuzz found (each raised a raw torch error before): kept as plain tests, so they do
# not depend on the derandomized examples reaching them again.
LAYERS_WITH_DTYPE = [
    lambda **k: winograd.WinogradConv2d(2, 2, 3, **k),
    lambda **k: orthogonal.LOrthConv2d(2, 2, 3, **k),
    lambda **k: orthogonal.OrthogonalConv2d(2, 2, 3, **k),
    lambda **k: generalized.KernelConv2d(2, 2, 3, **k),
    lambda **k: hadamard.FiLM(2, 2, **k),
    lambda **k: hadamard.GatedConv(2, 2, 3, **k),
    lambda **k: hadamard.GlobalFilter(2, 4, **k),
    lambda **k: hadamard.LowRankBilinear(2, 2, 2, 2, **k),
    lambda **k: hadamard.RecursiveGatedConv(4, 2, kernel_size=3, **k),
    lambda **k: hadamard.SqueezeExcite(4, 2, **k),
    lambda **k: hyperbolic.PoincareConv2d(2, 2, 3, **k),
    lambda **k: hyperbolic.PoincareLinear(2, 2, **k),
    lambda **k: hyperbolic.PoincareMLR(2, 2, **k),
    lambda **k: hyperbolic.PoincareMidpointBatchNorm(2, **k),
    lambda **k: hyperbolic.PoincareResNet(8, 1, 2, (2, 2, 2), **k),
    lambda **k: hyperzzw.CoordinateMLP(2, **k),
    lambda **k: hyperzzw.HyperZZW(2, hidden=4, **k),
    lambda **k: hyperzzw.LocalHyperConv2d(2, **k),
    lambda **k: hyperzzw.TerminatorBlock(2, 2, hidden=4, **k),
    lambda **k: ssm.LMU(2, 2, 4, **k),
    lambda **k: ssm.LSSL(2, 4, **k),
    lambda **k: ssm.S4D(2, 4, **k),
    lambda **k: ssm.ConvSSM(2, 2, 2, **k),
    lambda **k: ssm.LongConv(2, 8, **k),
    lambda **k: tensors.CPConv2d(2, 2, 3, rank=2, **k),
    lambda **k: tensors.TTConv2d(2, 2, 3, rank=2, **k),
    lambda **k: tensors.TuckerConv2d(2, 2, 3, rank=2, **k),
]


@pytest.mark.parametrize("make", LAYERS_WITH_DTYPE)
def test_integer_dtype_is_refused_by_name(make: Any) -> None:
    """Was RuntimeError ("Only Tensors of floating point ... can require gradients") or
    NotImplementedError ("normal_kernel_cpu" not implemented for 'Long')."""
    with pytest.raises(ValueError, match="dtype must be a floating torch.dtype"):
        make(dtype=torch.int64)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: winograd.WinogradConv2d(-1, 2, 3), "in_channels"),
        (lambda: winograd.WinogradConv2d(2, 2, -1), "kernel_size"),
        (lambda: orthogonal.LOrthConv2d(2, -1, 3), "out_channels"),
        (lambda: orthogonal.LOrthConv3d(2, 2, 3, dilation=0), "dilation"),
        (lambda: orthogonal.OrthogonalConv1d(2, 2, 3, construction_dtype="f8"), "construction"),
        (lambda: hadamard.GatedConv(-1, 2, 3), "in_channels"),
        (lambda: hadamard.GatedConv(2, 2, 3, dilation=0), "dilation"),
        (lambda: hadamard.GatedConv(2, 2, 3, padding=-1), "padding"),
        (lambda: hadamard.GlobalFilter(-1, 4), "channels"),
        (lambda: hyperbolic.PoincareMLR(0, 2), "in_features"),
        (lambda: hyperbolic.PoincareMLR(2, -1), "num_classes"),
        (lambda: hyperbolic.PoincareResNet(8, 1, 0, (2, 2, 2)), "num_classes"),
        (lambda: hyperbolic.PoincareReLU(dim=1.5), "dim"),
        # c**2 overflowed: every output NaN
        (lambda: hyperbolic.PoincareResNet(8, 1, 2, (2, 2, 2), c=1e300), "square is finite"),
        (lambda: hyperzzw.TerminatorBlock(2, -1), "out_channels"),
        (lambda: hyperzzw.CoordinateMLP(2, omega=-1.0), "omega"),
        (lambda: hyperzzw.CoordinateMLP(2, omega=1e300), "omega"),
        (lambda: hyperzzw.HyperZZW(2, omega=float("nan")), "omega"),
    ],
)
def test_bad_sizes_are_refused_by_name(make: Any, name: str) -> None:
    """Each was a raw torch error (negative dimension, uniform_ bounds, ZeroDivisionError)."""
    with pytest.raises((ValueError, TypeError), match=name):
        make()


def test_make_map_refuses_a_matrix_it_cannot_apply() -> None:
    """A non-square A was accepted and failed at the first application (a numpy broadcast
    error); a zero diagonal gave 'jacobi' an infinite D^-1 and a non-finite output."""
    import scipy.sparse as sp

    from solvers import make_map

    A = small_problem(2).matrix
    with pytest.raises(ValueError, match="A must be a square matrix"):
        make_map("identity", A[:, :-1])
    with pytest.raises(ValueError, match="nonzero diagonal"):
        make_map("jacobi:2", sp.diags([1.0, 0.0, 2.0]).tocsr())


def test_poincare_relu_refuses_an_axis_the_input_lacks() -> None:
    """Was IndexError ("Dimension out of range") from deep in logmap0."""
    with pytest.raises(ValueError, match="dim=5"):
        hyperbolic.PoincareReLU(dim=5)(torch.zeros(3, 4, dtype=torch.float64))


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda dt: hadamard.GlobalFilter(2, 4, dtype=dt), (2, 2, 4, 4)),
        (
            lambda dt: hadamard.RecursiveGatedConv(4, 2, spatial="global", filter_size=4, dtype=dt),
            (2, 4, 6, 6),
        ),
        (lambda dt: hyperzzw.HyperZZW(2, hidden=4, dtype=dt), (2, 2, 5, 5)),
        (
            lambda dt: hyperzzw.TerminatorBlock(2, 2, local_sizes=(3,), hidden=4, dtype=dt),
            (2, 2, 6, 6),
        ),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fft_layers_answer_in_half_precision(
    make: Any, shape: tuple[int, ...], dtype: torch.dtype
) -> None:
    """fftconv computes half precision in float32; these layers returned float32 (or, inside
    gnConv and the Terminator block, crashed with "Input type (float) and bias type (c10::Half)
    should be the same")."""
    with torch.no_grad():
        y = make(dtype)(torch_input(shape, dtype, 0.5))
    y = y[0] if isinstance(y, tuple) else y
    assert y.dtype == dtype and finite(y.float())


@pytest.mark.parametrize(
    "make",
    [
        lambda dt: ssm.LSSL(2, 4, dtype=dt),
        lambda dt: ssm.S4D(2, 4, dtype=dt),
        lambda dt: ssm.ConvSSM(2, 2, 2, dtype=dt),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_ssm_layers_refuse_half_precision_by_name(make: Any, dtype: torch.dtype) -> None:
    """Were RuntimeErrors in forward ("expected scalar type Float but found Half",
    "view_as_complex is only supported for half, float and double tensors", complex
    input/weight type mismatch), or a float32 answer to a half layer."""
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        make(dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_ball_maps_are_finite_at_the_origin(dtype: torch.dtype) -> None:
    """The norm floor 1e-15 underflowed to 0 in float16: expmap0(0) was 0/0 = NaN, so the
    midpoint batch norm (whose bias starts at the origin) and PoincareReLU gave NaN, and so did
    PoincareConv2d on a zero patch (its 1e-30 floor) and hence the whole PoincareResNet."""
    x = torch_input((4, 2, 3, 3), dtype, 0.05)
    with torch.no_grad():
        y = hyperbolic.PoincareMidpointBatchNorm(2, dtype=dtype)(x)
        r = hyperbolic.PoincareReLU()(torch.cat([x, torch.zeros_like(x)]))
        z = hyperbolic.PoincareConv2d(2, 2, 3, padding=1, dtype=dtype)(torch.zeros_like(x))
        net = hyperbolic.PoincareResNet(8, 1, 2, (2, 2, 2), dtype=dtype)
        logits = net(torch_input((2, 1, 8, 8), dtype))
    assert y.dtype == dtype and all(finite(t.float()) for t in (y, r, z, logits))
