"""Tracing a torch model with ``torch.fx`` and freezing its graph at one sample.

:func:`freeze` evaluates the traced graph node by node at ``x``, turns each node that depends
on ``x`` into a frozen :class:`~sciconv.interpret.steps.Step` (a node that does not is a
constant, passed to its consumers as a fixed argument); :class:`FrozenNetwork` replays the
steps forwards (linear part or affine) and backwards (adjoint, in reverse order, summing the
cotangents of a node used several times).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .layers import UnsupportedLayerError, freeze_module, probe
from .steps import Cat, Elementwise, LinComb, Reshape, Step
from .units import freeze_activation

__all__ = ["FrozenNetwork", "freeze"]

_ADD = {operator.add, operator.iadd, torch.add}
_SUB = {operator.sub, operator.isub, torch.sub}
_MUL = {operator.mul, operator.imul, torch.mul}
_DIV = {operator.truediv, operator.itruediv, torch.div}
_CAT = {torch.cat, torch.concat}
_FN_ACT: dict[Any, str] = {
    F.relu: "relu",
    torch.relu: "relu",
    F.leaky_relu: "leaky_relu",
    torch.sigmoid: "sigmoid",
    F.sigmoid: "sigmoid",
    torch.tanh: "tanh",
    F.tanh: "tanh",
    F.silu: "silu",
    F.gelu: "gelu",
    F.relu6: "hardtanh",
    F.hardtanh: "hardtanh",
}
_RESHAPE_FN = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze}
_RESHAPE_METHODS = {"view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze"}
_IDENTITY_METHODS = {"contiguous", "clone", "detach"}
_MOVE_FN = {operator.getitem, torch.permute, torch.transpose, F.pixel_shuffle, F.pixel_unshuffle}
_MOVE_METHODS = {"permute", "transpose"}
_METHOD_ACT = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
#: functions and methods that split a tensor into a tuple of views (read with ``[i]``)
_SPLIT_FN = {torch.chunk, torch.split, torch.unbind, torch.tensor_split}
_SPLIT_METHODS = {"chunk", "split", "unbind", "tensor_split"}


class FrozenNetwork:
    """The frozen affine network: ``steps`` in graph order, each with its input node names.

    Tensors carry a leading batch axis (one vector per row). :meth:`linear` applies
    :math:`A`, :meth:`affine` the frozen network with its offsets, :meth:`adjoint`
    :math:`A^T`; ``in_shape``/``out_shape`` are per sample.
    """

    def __init__(
        self,
        steps: list[tuple[str, Step, list[str]]],
        input_name: str,
        output_name: str,
        in_shape: tuple[int, ...],
        out_shape: tuple[int, ...],
    ) -> None:
        self.steps, self.input_name, self.output_name = steps, input_name, output_name
        self.in_shape, self.out_shape = in_shape, out_shape

    def _replay(self, v: torch.Tensor, bias: bool) -> torch.Tensor:
        env = {self.input_name: v}
        for name, step, inputs in self.steps:
            env[name] = step.forward([env[i] for i in inputs], bias)
        return env[self.output_name]

    def linear(self, v: torch.Tensor) -> torch.Tensor:
        """:math:`A v` for ``v`` of shape ``(batch, *in_shape)``."""
        return self._replay(v, bias=False)

    def affine(self, v: torch.Tensor) -> torch.Tensor:
        """:math:`A v + c` (the frozen network with its biases)."""
        return self._replay(v, bias=True)

    def adjoint(self, u: torch.Tensor) -> torch.Tensor:
        """:math:`A^T u` for ``u`` of shape ``(batch, *out_shape)``."""
        cot: dict[str, torch.Tensor] = {self.output_name: u}
        for name, step, inputs in reversed(self.steps):
            g = cot.pop(name, None)
            if g is None:
                continue
            for inp, gi in zip(inputs, step.adjoint(g)):
                cot[inp] = cot[inp] + gi if inp in cot else gi
        out = cot.get(self.input_name)
        return u.new_zeros(u.shape[0], *self.in_shape) if out is None else out


def _fn_name(fn: Any) -> str:
    name = getattr(fn, "__name__", None) or repr(fn)
    mod = str(getattr(fn, "__module__", None) or "").replace("_operator", "operator")
    return f"{mod}.{name}" if mod and mod != "builtins" else name


def _describe(node: fx.Node, root: nn.Module) -> str:
    if node.op == "call_module":
        cls = type(root.get_submodule(node.target))
        return f"layer '{node.target}' ({cls.__module__}.{cls.__qualname__})"
    what = f"method .{node.target}()" if node.op == "call_method" else _fn_name(node.target)
    if node.op == "call_function":
        what = f"function {what}"
    stack = node.meta.get("nn_module_stack") or {}
    if stack:  # the innermost module whose forward calls it
        path, cls = list(stack.values())[-1]
        cls = cls if isinstance(cls, type) else type(cls)
        return f"{what} in module '{path}' ({cls.__module__}.{cls.__qualname__})"
    return f"{what} at node '{node.name}'"


def _freeze_function(
    where: str,
    target: Any,
    method: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    vals: Callable[[Any], Any],
    var: Callable[[Any], bool],
    z: list[torch.Tensor],
    y: torch.Tensor,
) -> tuple[Step, list[fx.Node]]:
    """The step of a function or method node; ``z`` are the values of its variable args."""
    nodes = [a for a in args if var(a)]
    shapes = [tuple(t.shape) for t in z]
    out = tuple(y.shape)
    if not method and target in _CAT:
        seq = args[0]
        dim = kwargs.get("dim", args[1] if len(args) > 1 else 0) % y.ndim
        if dim == 0:
            raise UnsupportedLayerError(f"{where} concatenates along the batch axis")
        pieces: list[int | torch.Tensor] = []
        nodes = []
        for a in seq:
            if var(a):
                pieces.append(len(nodes))
                nodes.append(a)
            else:
                pieces.append(torch.as_tensor(vals(a), dtype=y.dtype, device=y.device))
        return Cat(pieces, dim, [tuple(vals(n).shape) for n in nodes]), nodes
    name = target if method else None
    arithmetic = _ADD | _SUB | _MUL | _DIV | {operator.neg}
    if ((not method and target in arithmetic) or name in ("add", "sub", "mul", "div")) and (
        len(args) != 2 - (target is operator.neg) or set(kwargs) - {"alpha"}
    ):
        raise UnsupportedLayerError(
            f"{where} is called with arguments {sorted(kwargs)} or {len(args)} positional ones; "
            f"write it as an operator (a + b, a * 2.0)"
        )
    if (not method and target in _ADD | _SUB) or name in ("add", "sub"):
        sign = -1.0 if (target in _SUB or name == "sub") else 1.0
        alpha = float(kwargs.get("alpha", 1.0))
        coefs = [c for a, c in zip(args[:2], (1.0, sign * alpha)) if var(a)]
        const = 0.0 if var(args[0]) else vals(args[0])
        if not var(args[1]):
            const = const + sign * alpha * vals(args[1])
        return LinComb(coefs, const, shapes, out), nodes
    if not method and target is operator.neg or name == "neg":
        return LinComb([-1.0], None, shapes, out), nodes
    if (not method and target in _MUL | _DIV) or name in ("mul", "div"):
        if len(nodes) != 1:
            raise UnsupportedLayerError(
                f"{where} multiplies two signals that depend on the input, which is not "
                f"linear; freeze one factor as a gate module (e.g. nn.SiLU) instead"
            )
        other = vals(args[1] if var(args[0]) else args[0])
        if target in _DIV or name == "div":
            if not var(args[0]):
                raise UnsupportedLayerError(f"{where} divides by the input (not linear)")
            other = 1.0 / other
        return Elementwise(other, None, shapes[0], out), nodes
    kind = _METHOD_ACT.get(target) if method else _FN_ACT.get(target)
    if kind is not None and len(nodes) == 1 and nodes[0] is args[0]:
        slope = kwargs.get("negative_slope", args[1] if len(args) > 1 else 0.01)
        approx = kwargs.get("approximate", "none")
        bounds = (0.0, 6.0)
        if target is F.hardtanh:
            bounds = (
                float(kwargs.get("min_val", args[1] if len(args) > 1 else -1.0)),
                float(kwargs.get("max_val", args[2] if len(args) > 2 else 1.0)),
            )
        step = freeze_activation(kind, z[0], slope=slope, approximate=approx, bounds=bounds)
        return step, nodes
    reshape = target in _RESHAPE_METHODS | _IDENTITY_METHODS if method else target in _RESHAPE_FN
    if reshape and len(nodes) == 1 and nodes[0] is args[0]:
        return Reshape(shapes[0], out), nodes
    if method and target == "to" and len(nodes) == 1 and nodes[0] is args[0]:
        if y.dtype == z[0].dtype and y.device == z[0].device:
            return Reshape(shapes[0], out), nodes
        raise UnsupportedLayerError(
            f"{where} changes the dtype or device ({z[0].dtype}, {z[0].device} to {y.dtype}, "
            f"{y.device}); linear_interpreter freezes a float64 copy on one device"
        )
    move = target in _MOVE_METHODS if method else target in _MOVE_FN
    if move and len(nodes) == 1 and nodes[0] is args[0]:
        rest = [vals(a) for a in args[1:]]
        if method:
            return probe(lambda t: getattr(t, target)(*rest, **kwargs), z[0]), nodes
        return probe(lambda t: target(t, *rest, **kwargs), z[0]), nodes
    raise UnsupportedLayerError(
        f"{where} is not supported by linear_interpreter; supported functions: "
        f"{SUPPORTED_FUNCTIONS}"
    )


#: the functions and methods :func:`freeze` understands (for error messages and docs)
SUPPORTED_FUNCTIONS = (
    "+, -, * and / by a constant, unary -, torch.cat, indexing, chunk/split/unbind/tensor_split "
    "read by [i], view/reshape/flatten/unflatten/squeeze/unsqueeze, permute/transpose, "
    "contiguous/clone/detach, .to() keeping dtype and device, pixel_shuffle/pixel_unshuffle, "
    "and the units relu, leaky_relu, relu6, hardtanh, sigmoid, tanh, silu, gelu"
)


def _check_batch_axis(where: str, y: torch.Tensor) -> None:
    if y.ndim == 0 or y.shape[0] != 1:
        raise UnsupportedLayerError(
            f"{where} returns shape {tuple(y.shape)}: every tensor that depends on the "
            f"input must keep the batch axis first, of size 1"
        )


def _is_split(node: fx.Node) -> bool:
    if node.op == "call_method":
        return node.target in _SPLIT_METHODS
    return node.op == "call_function" and node.target in _SPLIT_FN


def _split_step(
    node: fx.Node, index: Any, vals: Callable[[Any], Any], env: dict[str, Any]
) -> tuple[Step, fx.Node]:
    """Piece ``index`` of a split (chunk, split, unbind, tensor_split) of a variable tensor:
    a gather read off by applying the split and the indexing to the flat indices."""
    parent = node.args[0]
    assert isinstance(parent, fx.Node)
    rest, kwargs = vals(node.args[1:]), vals(node.kwargs)
    if node.op == "call_method":
        method = str(node.target)

        def fn(t: torch.Tensor) -> torch.Tensor:
            return getattr(t, method)(*rest, **kwargs)[index]
    else:
        target = node.target

        def fn(t: torch.Tensor) -> torch.Tensor:
            return target(t, *rest, **kwargs)[index]  # type: ignore[operator]

    return probe(fn, env[parent.name]), parent


def _refuse_in_place(node: fx.Node, root: nn.Module) -> None:
    """Refuse an in-place operation whose mutation the frozen replay would not see.

    The replay evaluates every node on its own copy, so an operation that overwrites its
    input gives the same result only when no other node reads that input (and the input is
    not the model's own input). Methods with a trailing underscore (``add_``, ``relu_``)
    and item assignment are always refused.
    """
    if node.op == "call_method" and str(node.target).endswith("_"):
        raise UnsupportedLayerError(
            f"{_describe(node, root)} is an in-place method, which linear_interpreter does not "
            f"support; use its out-of-place form (.{str(node.target)[:-1]}())"
        )
    if node.op == "call_function" and node.target is operator.setitem:
        raise UnsupportedLayerError(
            f"{_describe(node, root)} assigns into a tensor in place, which linear_interpreter "
            f"does not support"
        )
    if node.op == "call_function" and node.target in _IN_PLACE_OPERATORS:
        in_place = True
    elif node.op == "call_module":
        in_place = bool(getattr(root.get_submodule(str(node.target)), "inplace", False))
    else:
        in_place = bool(node.kwargs.get("inplace", False))
    if not in_place or not node.args or not isinstance(node.args[0], fx.Node):
        return
    arg = node.args[0]
    if len(arg.users) > 1 or arg.op == "placeholder":
        raise UnsupportedLayerError(
            f"{_describe(node, root)} works in place (inplace=True) on a tensor that "
            f"{'is the model input' if arg.op == 'placeholder' else 'other nodes also read'}"
            f", so the eager model and its frozen replay differ; use inplace=False"
        )


_IN_PLACE_OPERATORS = {operator.iadd, operator.isub, operator.imul, operator.itruediv}


def trace(model: nn.Module) -> fx.GraphModule:
    """``torch.fx.symbolic_trace`` of ``model``, with a message naming the model on failure.

    A bare ``torch.nn`` layer (a leaf for fx) is traced as a one-layer ``nn.Sequential``, so it
    is frozen as a layer (its path is then ``'0'``) rather than through its forward's code.
    """
    if fx.Tracer().is_leaf_module(model, ""):
        model = nn.Sequential(model)
    try:
        return fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - fx raises many types; re-raised with context
        raise TypeError(
            f"model ({type(model).__qualname__}) cannot be traced by torch.fx ({exc}); "
            f"linear_interpreter needs a forward without data-dependent control flow"
        ) from exc


def freeze(model: nn.Module, x: torch.Tensor) -> tuple[FrozenNetwork, torch.Tensor]:
    """Trace ``model``, evaluate it at ``x`` (a batch of one) and freeze every node.

    Returns the frozen network and the graph's own output at ``x``.
    """
    gm = trace(model)
    env: dict[str, Any] = {}
    variable: set[str] = set()
    steps: list[tuple[str, Step, list[str]]] = []
    split: dict[str, fx.Node] = {}  # tuple-valued nodes that split a variable tensor
    input_name = output = None

    def vals(a: Any) -> Any:
        return fx.node.map_arg(a, lambda n: env[n.name])

    def var(a: Any) -> bool:
        return isinstance(a, fx.Node) and a.name in variable

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if input_name is not None:
                raise TypeError(
                    f"model takes a second input '{node.target}'; linear_interpreter "
                    f"needs a model of one tensor input"
                )
            input_name = node.name
            env[node.name] = x
            variable.add(node.name)
            continue
        if node.op == "get_attr":
            env[node.name] = fx.graph_module._get_attr(gm, node.target)
            continue
        if node.op == "output":
            output = node.args[0]
            if not var(output):
                raise TypeError(
                    "model must return one tensor that depends on its input, got "
                    f"{type(vals(output)).__name__}"
                )
            break
        _refuse_in_place(node, gm)
        args, kwargs = vals(node.args), vals(node.kwargs)
        if kwargs.get("inplace") or node.op == "call_module":
            args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
        if node.op == "call_module":
            y = gm.get_submodule(node.target)(*args, **kwargs)
        elif node.op == "call_method":
            y = getattr(args[0], node.target)(*args[1:], **kwargs)
        else:
            y = node.target(*args, **kwargs)
        env[node.name] = y
        flat: list[fx.Node] = []
        fx.node.map_arg((node.args, node.kwargs), flat.append)
        holds_tensor = isinstance(y, torch.Tensor) or (
            isinstance(y, tuple | list) and any(isinstance(t, torch.Tensor) for t in y)
        )
        if not holds_tensor or not any(var(n) for n in flat):
            # a constant (or metadata such as x.shape, x.dtype): its consumers take its value
            continue
        where = _describe(node, gm)
        if not isinstance(y, torch.Tensor):
            if not _is_split(node) or not (var(node.args[0]) and len(flat) == 1):
                raise UnsupportedLayerError(
                    f"{where} returns a {type(y).__name__}, not a tensor, from the input; "
                    f"linear_interpreter supports tuples only from chunk, split, unbind and "
                    f"tensor_split of the input (read with [i])"
                )
            split[node.name] = node
            variable.add(node.name)
            continue
        if node.op == "call_function" and node.target is operator.getitem:
            source = node.args[0]
            if isinstance(source, fx.Node) and source.name in split:
                _check_batch_axis(where, y)
                step, parent = _split_step(split[source.name], node.args[1], vals, env)
                variable.add(node.name)
                steps.append((node.name, step, [parent.name]))
                continue
        if any(n.name in split for n in flat):
            raise UnsupportedLayerError(
                f"{where} takes the whole tuple of a chunk/split/unbind of the input; "
                f"linear_interpreter supports reading its pieces with [i] only"
            )
        if node.op != "call_module":  # a layer first checks its own input's batch axis
            _check_batch_axis(where, y)
        if node.op == "call_module":
            if len(node.args) != 1 or node.kwargs:
                raise UnsupportedLayerError(f"{where} is called with several arguments")
            step = freeze_module(where, gm.get_submodule(node.target), env[node.args[0].name], y)
            nodes = [node.args[0]]
        else:
            z = [env[a.name] for a in node.args if var(a)]
            step, nodes = _freeze_function(
                where,
                node.target,
                node.op == "call_method",
                node.args,
                node.kwargs,
                vals,
                var,
                z,
                y,
            )
        _check_batch_axis(where, y)
        if any(var(n) for n in flat if n not in nodes):
            raise UnsupportedLayerError(f"{where} uses the input in an unsupported argument")
        variable.add(node.name)
        steps.append((node.name, step, [n.name for n in nodes]))
    assert input_name is not None and isinstance(output, fx.Node)
    y = env[output.name]
    net = FrozenNetwork(steps, input_name, output.name, tuple(x.shape[1:]), tuple(y.shape[1:]))
    return net, y
