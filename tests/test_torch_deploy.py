"""Deployment matrix of the torch layers (issue 19 item 4): ``meta``, ``torch.export``,
``torch.compile(fullgraph=True)``, and dtype mismatches refused as ``torch.nn`` refuses them.

Every ``torch.nn.Module`` subclass in the ``__all__`` of :mod:`sciconv`, its family
subpackages and :mod:`tensors` has a case in ``CASES`` (a small constructor and input factory);
``test_every_exported_layer_has_a_case`` finds them by import, so a new layer without a case
fails. For each case:

* ``meta``: the layer built with ``device="meta"`` maps a ``meta`` input to an output of the
  shape that the eager CPU layer gives;
* ``export``: ``torch.export.export(layer, inputs)`` succeeds and the exported program's
  output equals the eager one to 1e-12 (float64, relative to the output's largest entry);
* ``compile``: ``torch.compile(layer, fullgraph=True, backend="eager")`` equals eager to
  1e-12. The ``"eager"`` backend runs Dynamo's full-graph capture (where data-dependent
  Python control flow, ``.item()`` and untraceable calls fail) but no code generation, so the
  test stays fast; Inductor would compile the same graph.

A layer that legitimately cannot pass a check is listed in ``LIMITS`` with the reason (the
same reason is in its docstring), and the test asserts that it *fails*, with an error
matching the recorded pattern, so the table cannot rot: a limit that is lifted fails here
until its entry is removed. ``scripts/deploy_matrix.py`` prints the README's table from
these tables and checks.

The traces of ``PoincareResNet`` (export 35-45 s, compile 27-35 s: seven Poincaré
convolutions with custom autograd Functions) and ``PoincareBasicBlock`` are marked slow;
the rest of the module (228 tests) took 62 s of CPU, 66 s wall at load 2 on the shared 2-core
machine (198 tests before the streaming, subpixel, interpret and SSM-method cases: 58 s CPU,
1 min 41 s wall at load 4); the slow four take 47 s CPU more.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

F64 = torch.float64
TOL = 1e-12

#: Packages whose ``__all__`` the matrix covers.
PACKAGES = (
    "sciconv",
    "sciconv.generalized",
    "sciconv.hadamard",
    "sciconv.hyperbolic",
    "sciconv.hyperzzw",
    "sciconv.interpret",
    "sciconv.orthogonal",
    "sciconv.ssm",
    "sciconv.streaming",
    "sciconv.subpixel",
    "sciconv.winograd",
    "tensors",
)

#: Family subpackages of :mod:`sciconv` left out of ``PACKAGES``, with the reason.
NO_LAYERS = {
    "sciconv.cli": "the command line, not a family",
    "sciconv.monarch": "transforms, linear operators and a tuning table; no nn.Module",
}

#: Exported modules that are not layers (no ``forward``), with the reason.
NOT_LAYERS = {
    "PoincareBall": "holds the (learnable) curvature shared by the hyperbolic layers; no forward",
}

#: Parameter-free layers: their output follows the input's dtype, as ``torch.nn.ReLU``'s.
DTYPE_FOLLOWS_INPUT = {
    "MobiusResidual": "no parameters of its own (the curvature is cast to the input's dtype)",
    "PoincareReLU": "no parameters (the curvature is cast to the input's dtype)",
    "CoordinateMLP": "its input is a grid size, not a tensor",
}

#: Stateful layers (``reset()`` starts a new stream): export and compile are checked on a
#: stream of three calls from a fresh state, each output against the eager layer's.
STATEFUL = {"StreamingCNN": "caches the tail of each layer's input between calls"}

#: Checks too slow for ``make test`` (run with ``-m slow``).
SLOW = {("PoincareResNet", "export"), ("PoincareResNet", "compile")}
SLOW |= {("PoincareBasicBlock", "export"), ("PoincareBasicBlock", "compile")}

Factory = Callable[..., nn.Module]
Inputs = Callable[[torch.dtype, Any], tuple]


def _randn(*shape: int, scale: float = 1.0) -> Inputs:
    def make(dtype: torch.dtype, device: Any = "cpu") -> tuple:
        g = torch.Generator().manual_seed(0)
        return (scale * torch.randn(*shape, generator=g, dtype=dtype).to(device),)

    return make


def _pair(a: tuple[int, ...], b: tuple[int, ...]) -> Inputs:
    def make(dtype: torch.dtype, device: Any = "cpu") -> tuple:
        g = torch.Generator().manual_seed(0)
        return tuple(torch.randn(*s, generator=g, dtype=dtype).to(device) for s in (a, b))

    return make


def _cases() -> dict[str, tuple[Factory, Inputs]]:
    import sciconv.generalized as gen
    import sciconv.hadamard as had
    import sciconv.hyperbolic as hyp
    import sciconv.hyperzzw as hzw
    import sciconv.interpret as itp
    import sciconv.orthogonal as ort
    import sciconv.ssm as ssm
    import sciconv.streaming as stm
    import sciconv.subpixel as sub
    import sciconv.winograd as win
    import tensors

    def block(**k: Any) -> nn.Module:
        ball = hyp.PoincareBall(1.0, **k)
        return hyp.PoincareBasicBlock(3, 3, 1, ball, **k)

    cases: dict[str, tuple[Factory, Inputs]] = {
        "KernelConv1d": (lambda **k: gen.KernelConv1d(2, 3, 3, **k), _randn(2, 2, 8)),
        "KernelConv2d": (lambda **k: gen.KernelConv2d(2, 3, 3, **k), _randn(2, 2, 6, 6)),
        "FiLM": (lambda **k: had.FiLM(3, 4, **k), _pair((2, 3, 5, 5), (2, 4))),
        "GatedConv": (lambda **k: had.GatedConv(2, 3, 3, **k), _randn(2, 2, 6, 6)),
        "GlobalFilter": (lambda **k: had.GlobalFilter(3, (6, 6), **k), _randn(2, 3, 6, 6)),
        "LowRankBilinear": (
            lambda **k: had.LowRankBilinear(3, 4, 5, 2, **k),
            _pair((2, 3), (2, 4)),
        ),
        "RecursiveGatedConv": (
            lambda **k: had.RecursiveGatedConv(8, order=2, **k),
            _randn(2, 8, 6, 6),
        ),
        "SqueezeExcite": (lambda **k: had.SqueezeExcite(8, **k), _randn(2, 8, 5, 5)),
        "MobiusResidual": (
            lambda **k: hyp.MobiusResidual(nn.Identity(), c=hyp.PoincareBall(1.0, **k), dim=-1),
            _randn(2, 3, scale=0.1),
        ),
        "PoincareBasicBlock": (block, _randn(2, 3, 6, 6, scale=0.1)),
        "PoincareConv2d": (
            lambda **k: hyp.PoincareConv2d(3, 4, 3, **k),
            _randn(2, 3, 6, 6, scale=0.1),
        ),
        "PoincareLinear": (lambda **k: hyp.PoincareLinear(3, 4, **k), _randn(2, 3, scale=0.1)),
        "PoincareMLR": (lambda **k: hyp.PoincareMLR(3, 4, **k), _randn(2, 3, scale=0.1)),
        "PoincareMidpointBatchNorm": (
            lambda **k: hyp.PoincareMidpointBatchNorm(3, **k).eval(),
            _randn(4, 3, 2, 2, scale=0.1),
        ),
        "PoincareReLU": (
            lambda **k: hyp.PoincareReLU(hyp.PoincareBall(1.0, **k)),
            _randn(2, 3, 4, scale=0.1),
        ),
        "PoincareResNet": (
            lambda **k: hyp.PoincareResNet(8, 3, 4, (4, 4, 4), **k).eval(),
            _randn(2, 3, 8, 8),
        ),
        "CoordinateMLP": (
            lambda **k: hzw.CoordinateMLP(3, **k),
            lambda dtype, device="cpu": ((4, 5),),
        ),
        "HyperZZW": (lambda **k: hzw.HyperZZW(3, **k), _randn(2, 3, 6, 6)),
        "LocalHyperConv2d": (lambda **k: hzw.LocalHyperConv2d(3, **k), _randn(2, 3, 6, 6)),
        "TerminatorBlock": (lambda **k: hzw.TerminatorBlock(3, 4, **k), _randn(2, 3, 6, 6)),
        "LMU": (lambda **k: ssm.LMU(2, 3, order=4, **k), _randn(2, 2, 5)),
        "LSSL": (lambda **k: ssm.LSSL(2, 4, **k), _randn(2, 2, 8)),
        "S4D": (lambda **k: ssm.S4D(2, 4, **k), _randn(2, 2, 8)),
        "ConvSSM": (lambda **k: ssm.ConvSSM(2, 3, 4, **k), _randn(2, 2, 5, 6, 6)),
        "LongConv": (lambda **k: ssm.LongConv(2, 8, **k), _randn(2, 2, 8)),
        "WinogradConv2d": (lambda **k: win.WinogradConv2d(2, 3, 3, **k), _randn(2, 2, 8, 8)),
        "SubPixelConv2d": (
            lambda **k: sub.SubPixelConv2d(2, 3, 3, 2, padding=1, **k),
            _randn(2, 2, 5, 5),
        ),
        "StreamingCNN": (
            lambda **k: stm.stream(
                nn.Sequential(nn.Conv1d(2, 3, 3, **k), nn.ReLU(), nn.AvgPool1d(2)), hop=4
            ),
            _randn(2, 2, 4),
        ),
        "Residual": (
            lambda **k: itp.Residual(nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, **k), nn.ReLU())),
            _randn(2, 2, 5, 5),
        ),
        "Concat": (
            lambda **k: itp.Concat(nn.Identity(), nn.Conv1d(3, 2, 1, **k)),
            _randn(2, 3, 8),
        ),
        "FactorizedConv": (
            lambda **k: tensors.FactorizedConv(4, 4, 3, rank=2, **k),
            _randn(2, 4, 6, 6),
        ),
    }
    spatial = {1: (2, 4, 8), 2: (2, 4, 6, 6), 3: (1, 4, 4, 4, 4)}
    for d, shape in spatial.items():
        for kind in ("CP", "Tucker", "TT"):
            cls = getattr(tensors, f"{kind}Conv{d}d")
            cases[f"{kind}Conv{d}d"] = (
                lambda cls=cls, **k: cls(4, 4, 3, rank=2, **k),
                _randn(*shape),
            )
        for name in (f"LOrthConv{d}d",):
            cls = getattr(ort, name)
            cases[name] = (
                lambda cls=cls, **k: cls(2, 2, 3, padding=1, **k),
                _randn(*shape[:1], 2, *shape[2:]),
            )
        for name in (f"OrthogonalConv{d}d", f"OrthogonalConvTranspose{d}d"):
            cls = getattr(ort, name)
            cases[name] = (
                lambda cls=cls, **k: cls(2, 2, 3, **k),
                _randn(*shape[:1], 2, *shape[2:]),
            )
    return cases


CASES = _cases()


def _mode_cases() -> dict[str, tuple[Factory, Inputs, dict[str, Any]]]:
    """The other ``forward`` modes of the SSM layers (the matrix above runs the default)."""
    import sciconv.ssm as ssm

    seq, video = _randn(2, 2, 4), _randn(1, 2, 3, 4, 4)
    return {
        "S4D(mode='scan')": (lambda **k: ssm.S4D(2, 4, **k), seq, {"mode": "scan"}),
        "S4D(mode='step')": (lambda **k: ssm.S4D(2, 4, **k), seq, {"mode": "step"}),
        "LSSL(mode='step')": (lambda **k: ssm.LSSL(2, 4, **k), seq, {"mode": "step"}),
        "ConvSSM(mode='conv')": (lambda **k: ssm.ConvSSM(2, 3, 4, **k), video, {"mode": "conv"}),
        "ConvSSM(mode='step')": (lambda **k: ssm.ConvSSM(2, 3, 4, **k), video, {"mode": "step"}),
        "LongConv(method='monarch')": (
            lambda **k: ssm.LongConv(2, 8, method="monarch", **k),
            _randn(2, 2, 8),
            {},
        ),
        "LongConv(method='auto')": (
            lambda **k: ssm.LongConv(2, 8, method="auto", **k),
            _randn(2, 2, 8),
            {},
        ),
        "LongConv(freq_sparsity=0.5)": (
            lambda **k: ssm.LongConv(2, 8, freq_sparsity=0.5, **k),
            _randn(2, 2, 8),
            {},
        ),
        "S4D(method='monarch')": (lambda **k: ssm.S4D(2, 4, method="monarch", **k), seq, {}),
        "LMU(parallel=True, mode='conv')": (
            lambda **k: ssm.LMU(2, 3, order=4, parallel=True, **k),
            seq,
            {"mode": "conv"},
        ),
    }


MODE_CASES = _mode_cases()

#: (layer, check) -> (reason, regex the error must match). The reason is also in the layer's
#: docstring. Empty when every layer passes every check.
LIMITS: dict[tuple[str, str], tuple[str, str]] = {
    ("StreamingCNN", "export"): (
        "torch.export captures a single call, with the cached input tails as constants, so an "
        "exported StreamingCNN does not stream; torch.compile does (Dynamo keeps the cache "
        "updates).",
        r"StreamingCNN export: call 2 of the stream gives shape \(2, 3, 1\), eager \(2, 3, 2\)",
    ),
}

#: Entries of ``LIMITS`` whose docstring does not state the reason yet (none: every limit's
#: reason is in its layer's docstring).
DOC_PENDING: set[tuple[str, str]] = set()


def exported_layers() -> dict[str, type]:
    """Every ``nn.Module`` subclass named in the ``__all__`` of ``PACKAGES``."""
    found = {}
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if inspect.isclass(obj) and issubclass(obj, nn.Module):
                found[name] = obj
    return found


def build(name: str, dtype: torch.dtype = F64, device: Any = "cpu") -> tuple[nn.Module, tuple]:
    """The case's layer (seeded, eval mode) and inputs."""
    make, inputs = CASES[name] if name in CASES else MODE_CASES[name][:2]
    torch.manual_seed(0)
    layer = make(dtype=dtype, device=device)
    layer.eval()
    return layer, inputs(dtype, device)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def run_check(name: str, check: str) -> None:
    """Run one check of the matrix; raise (AssertionError or the tracer's error) on failure."""
    layer, x = build(name)
    kw = MODE_CASES[name][2] if name in MODE_CASES else {}
    with torch.no_grad():
        want = layer(*x, **kw)
    if check == "meta":
        meta_layer, xm = build(name, device="meta")
        got = meta_layer(*xm, **kw)
        assert got.device.type == "meta", f"{name}: output on {got.device}"
        assert got.shape == want.shape, f"{name}: meta shape {got.shape} != {want.shape}"
        return
    if name in STATEFUL:
        layer.reset()  # trace from a fresh stream
    if check == "export":
        program = torch.export.export(layer, x, kwargs=kw)
        run = program.module()
    elif check == "compile":
        torch._dynamo.reset()
        run = torch.compile(layer, fullgraph=True, backend="eager")
    else:
        raise ValueError(f"check must be 'meta', 'export' or 'compile', got {check!r}")
    if name in STATEFUL:  # a stream of calls from a fresh state, eager against traced
        chunks = [x, tuple(2 * t for t in x), tuple(t.flip(-1) for t in x)]
        layer.reset()
        with torch.no_grad():
            wants = [layer(*c) for c in chunks]
            layer.reset()
            gots = [run(*c) for c in chunks]
        for i, (got, want) in enumerate(zip(gots, wants), 1):
            assert got.shape == want.shape and _rel(got, want) <= TOL, (
                f"{name} {check}: call {i} of the stream gives shape {tuple(got.shape)}, "
                f"eager {tuple(want.shape)}"
                + (f", relative error {_rel(got, want):.3g}" if got.shape == want.shape else "")
            )
        return
    with torch.no_grad():
        got = run(*x, **kw)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert _rel(got, want) <= TOL, f"{name} {check}: relative error {_rel(got, want):.3g}"


def test_every_exported_layer_has_a_case() -> None:
    layers = exported_layers()
    assert set(layers) == set(CASES) | set(NOT_LAYERS), (
        f"without a case: {sorted(set(layers) - set(CASES) - set(NOT_LAYERS))}; "
        f"stale: {sorted(set(CASES) | set(NOT_LAYERS) - set(layers))}"
    )
    for name in NOT_LAYERS:  # a module without forward: nn.Module's raises NotImplementedError
        assert layers[name].forward is nn.Module.forward


def test_every_family_is_covered() -> None:
    """Each subpackage of :mod:`sciconv` is in ``PACKAGES`` or in ``NO_LAYERS`` (a new family
    cannot be left out of the matrix silently), and those in ``NO_LAYERS`` export no layer."""
    import pkgutil

    import sciconv

    subpackages = {f"sciconv.{m.name}" for m in pkgutil.iter_modules(sciconv.__path__) if m.ispkg}
    assert subpackages - set(PACKAGES) == set(NO_LAYERS), sorted(subpackages - set(PACKAGES))
    for pkg in set(NO_LAYERS) - {"sciconv.cli"}:
        mod = importlib.import_module(pkg)
        objs = [getattr(mod, n) for n in getattr(mod, "__all__", ())]
        assert not [o for o in objs if inspect.isclass(o) and issubclass(o, nn.Module)], pkg


def _params(checks: tuple[str, ...]) -> list[Any]:
    out = []
    for name in [*CASES, *MODE_CASES]:
        for check in checks:
            marks = [pytest.mark.slow] if (name, check) in SLOW else []
            out.append(pytest.param(name, check, marks=marks, id=f"{name}-{check}"))
    return out


@pytest.mark.parametrize(("name", "check"), _params(("meta", "export", "compile")))
def test_deploy_matrix(name: str, check: str) -> None:
    """Each layer passes each check, or fails it as ``LIMITS`` documents."""
    limit = LIMITS.get((name, check))
    if limit is None:
        run_check(name, check)
        return
    reason, pattern = limit
    with pytest.raises(Exception) as info:
        run_check(name, check)
    assert re.search(pattern, str(info.value)), f"{name} {check} failed otherwise: {info.value}"
    if (name, check) in DOC_PENDING:
        return
    doc = inspect.getdoc(exported_layers()[name.split("(")[0]]) or ""
    assert reason in " ".join(doc.split()), f"{name}'s docstring must state: {reason}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_dtype_mismatch_is_refused_as_in_torch_nn(name: str) -> None:
    """A float32 input to a float64 layer (and the reverse) raises, as ``F.conv2d`` does
    ("Input type (float) and bias type (double) should be the same"), instead of silently
    answering in the promoted dtype; parameter-free layers follow the input's dtype."""
    for layer_dtype, input_dtype in ((F64, torch.float32), (torch.float32, F64)):
        layer, _ = build(name, layer_dtype)
        x = CASES[name][1](input_dtype, "cpu")
        if name in DTYPE_FOLLOWS_INPUT:
            out = layer(*x)
            if isinstance(x[0], torch.Tensor):
                assert out.dtype == input_dtype
            continue
        with pytest.raises((TypeError, RuntimeError)) as info:
            layer(*x)
        if isinstance(info.value, TypeError):  # sciconv's own check names x and both dtypes
            assert str(layer_dtype) in str(info.value) and str(input_dtype) in str(info.value)


def test_value_checks_survive_export_and_compile() -> None:
    """A value check in ``forward`` is an in-graph assertion when traced: the exported and the
    compiled PoincareLinear refuse a point outside the ball (RuntimeError, naming it), as the
    eager layer does (ValueError, with the value found)."""
    import sciconv.hyperbolic as hyp

    layer = hyp.PoincareLinear(3, 3, dtype=F64).eval()
    inside = torch.full((2, 3), 0.1, dtype=F64)
    outside = torch.full((2, 3), 0.9, dtype=F64)  # c ||x||^2 = 2.43
    with pytest.raises(ValueError, match=r"x must lie inside the Poincaré ball.*2\.43"):
        layer(outside)
    program = torch.export.export(layer, (inside,)).module()
    assert torch.equal(program(inside), layer(inside))
    with pytest.raises(RuntimeError, match="x must lie inside the Poincaré ball"):
        program(outside)
    torch._dynamo.reset()
    compiled = torch.compile(layer, fullgraph=True, backend="eager")
    assert torch.equal(compiled(inside), layer(inside))
    with pytest.raises(RuntimeError, match="x must lie inside the Poincaré ball"):
        compiled(outside)
    unchecked = hyp.PoincareLinear(3, 3, check_input=False, dtype=F64)
    assert torch.isfinite(unchecked(outside)).all()  # check_input=False: no check at all


def test_meta_layer_reads_no_values() -> None:
    """On ``meta`` nothing is read: a layer built there has no data, and ``forward`` does not
    synchronise (the value checks are skipped as assertions on nothing)."""
    import sciconv.ssm as ssm

    layer = ssm.S4D(3, 4, dtype=F64, device="meta")
    y = layer(torch.empty(2, 3, 16, dtype=F64, device="meta"))
    assert y.shape == (2, 3, 16) and y.is_meta


def test_value_checks_can_be_switched_off() -> None:
    """``with value_checks(False):`` skips the value checks (no host sync on a GPU, no
    assertion in a traced graph) while shape and dtype checks still run."""
    import sciconv.hyperbolic as hyp
    import sciconv.ssm as ssm
    from sciconv.validation import value_checks

    layer = ssm.S4D(2, 4, dtype=F64)
    with torch.no_grad():
        layer.log_dt[0] = float("nan")  # a diverged step
    u = torch.randn(1, 2, 8, dtype=F64)
    with pytest.raises(ValueError, match="dt must be finite and > 0"):
        layer(u)
    with value_checks(False):
        y = layer(u)
        with pytest.raises(ValueError, match="u must have shape"):
            layer(u[:, :1])  # shapes are still checked
        with pytest.raises(TypeError, match="dtype"):
            layer(u.float())  # and dtypes
    assert torch.isnan(y[:, 0]).all() and torch.isfinite(y[:, 1]).all()

    lin = hyp.PoincareLinear(3, 3, dtype=F64).eval()
    x = torch.full((2, 3), 0.1, dtype=F64)
    checked = torch.export.export(lin, (x,)).graph_module.code
    with value_checks(False):
        unchecked = torch.export.export(lin, (x,)).graph_module.code
        lin(torch.full((2, 3), 0.9, dtype=F64))  # outside the ball: not checked
    assert "_assert_async" in checked and "_assert_async" not in unchecked


def test_value_checks_refuses_a_non_bool_and_restores_the_setting() -> None:
    from sciconv.validation import checking_values, value_checks

    with pytest.raises(TypeError, match=r"enabled must be a bool \(True or False\), got 'no'"):
        with value_checks("no"):  # type: ignore[arg-type]
            pass
    with pytest.raises(RuntimeError, match="inside"):
        with value_checks(False):
            assert not checking_values()
            raise RuntimeError("inside")
    assert checking_values()  # restored after an exception
