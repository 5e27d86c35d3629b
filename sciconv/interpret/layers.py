"""Freezing one ``torch.nn`` layer at its input: which :mod:`~sciconv.interpret.steps` it becomes.

:func:`freeze_module` is given the layer's actual input ``z`` at the sample (and its output);
the non-linear units go through :func:`~sciconv.interpret.units.freeze_activation`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..operator import ConvOperator
from .steps import (
    Conv,
    ConvTranspose,
    Dense,
    Elementwise,
    Gather,
    Reshape,
    Separable,
    Step,
)
from .units import freeze_activation

__all__ = [
    "SUPPORTED_MODULES",
    "UnbatchedInputError",
    "UnsupportedLayerError",
    "freeze_module",
    "probe",
]


class UnsupportedLayerError(TypeError):
    """A layer, function or method of the model that :func:`linear_interpreter` cannot
    freeze; the message names it (type and module path) and says what is supported.

    A subclass of ``TypeError``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sciconv.interpret import UnsupportedLayerError, linear_interpreter
    >>> net = nn.Sequential(nn.Conv1d(1, 2, 3), nn.Sequential(nn.ReLU(), nn.ELU()))
    >>> try:
    ...     linear_interpreter(net, torch.ones(1, 1, 8))
    ... except UnsupportedLayerError as err:
    ...     print(str(err)[:70])
    layer '1.1' (torch.nn.modules.activation.ELU) is not supported by line
    """


def probe(fn: Any, z: torch.Tensor) -> Gather:
    """A layer that only moves or copies entries, as a :class:`Gather`: its index map is
    read off by applying it to the flat indices (exact in float64 below :math:`2^{53}`)."""
    index = torch.arange(z.numel(), dtype=torch.float64, device=z.device).reshape(z.shape)
    out = fn(index)
    return Gather(out.round().long(), tuple(z.shape), tuple(out.shape))


def _tuple(value: Any, d: int) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,) * d


def _spatial_dims(module: nn.Module) -> int:
    name = type(module).__name__
    for d in (1, 2, 3):
        if name.endswith(f"{d}d"):
            return d
    raise ValueError(f"no spatial dimension in {name}")  # pragma: no cover


class UnbatchedInputError(ValueError):
    """A layer of ``d`` spatial dimensions got an input of ``d + 1`` dimensions: torch took it
    as one unbatched sample, so the model's input most likely lacks its batch axis."""

    def __init__(self, message: str, d: int) -> None:
        super().__init__(message)
        self.d = d


def _check_rank(where: str, z: torch.Tensor, d: int) -> None:
    if z.ndim == d + 1:
        raise UnbatchedInputError(
            f"{where} got an unbatched input of shape {tuple(z.shape)} (torch accepts it as one "
            f"sample without batch axis)",
            d,
        )
    if z.ndim != d + 2:
        raise ValueError(
            f"{where} expects a batched input of {d + 2} dimensions (batch, channels, "
            f"{d} spatial), got shape {tuple(z.shape)}"
        )


def _conv(where: str, module: Any, z: torch.Tensor) -> Step:
    d = _spatial_dims(module)
    _check_rank(where, z, d)
    w = module.weight.detach()
    b = None if module.bias is None else module.bias.detach()
    if module.padding_mode not in ("zeros", "circular", "reflect"):
        raise UnsupportedLayerError(
            f"{where} has padding_mode={module.padding_mode!r}; linear_interpreter supports "
            f"'zeros', 'circular' and 'reflect'"
        )
    common = dict(stride=module.stride, dilation=module.dilation, groups=module.groups)
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        if module.padding_mode != "zeros":  # torch itself allows only zeros
            raise UnsupportedLayerError(f"{where} has padding_mode={module.padding_mode!r}")
        # the transposed convolution crops its full output by p on the left and p - op on the
        # right (op = output_padding), and appends op - p zeros where p < op: the adjoint of a
        # zero-padded convolution of the output's first n - (op - p)_+ samples
        extra = tuple(max(o - p, 0) for p, o in zip(module.padding, module.output_padding))
        width = tuple((p, max(p - o, 0)) for p, o in zip(module.padding, module.output_padding))
        core = tuple(n - e for n, e in zip(out_spatial(module, z), extra))
        op = ConvOperator(w, (int(w.shape[1]) * module.groups, *core), **common,
                          padding="zeros", pad_width=width)  # fmt: skip
        if op.out_shape != tuple(z.shape[1:]):  # pragma: no cover - torch's own geometry
            raise UnsupportedLayerError(f"{where}: transposed geometry does not round-trip")
        return ConvTranspose(op, b, extra)
    if isinstance(module.padding, str):
        padding, width = ("valid" if module.padding == "valid" else "same"), None
        if padding == "same" and module.padding_mode != "zeros":
            padding = module.padding_mode
    else:
        padding, width = module.padding_mode, tuple(module.padding)
    op = ConvOperator(w, tuple(z.shape[1:]), **common, padding=padding, pad_width=width)
    return Conv(op, b)


def out_spatial(module: Any, z: torch.Tensor) -> tuple[int, ...]:
    """Spatial output size of a transposed convolution layer at input ``z``."""
    return tuple(
        (n - 1) * s - 2 * p + dl * (k - 1) + op + 1
        for n, s, p, dl, k, op in zip(
            z.shape[2:],
            module.stride,
            module.padding,
            module.dilation,
            module.kernel_size,
            module.output_padding,
        )
    )


def _batch_norm(where: str, module: Any, z: torch.Tensor) -> Step:
    if module.training:
        raise ValueError(
            f"{where} is in training mode (batch statistics: not a fixed map of one sample); "
            f"call model.eval() first"
        )
    if module.running_mean is None:
        raise ValueError(
            f"{where} has track_running_stats=False, so it normalises by batch statistics "
            f"even in eval mode; only running statistics give a fixed affine map"
        )
    scale = torch.rsqrt(module.running_var.detach() + module.eps)
    if module.weight is not None:
        scale = scale * module.weight.detach()
    shift = -module.running_mean.detach() * scale
    if module.bias is not None:
        shift = shift + module.bias.detach()
    view = (1, -1, *([1] * (z.ndim - 2)))
    shape = tuple(z.shape)
    return Elementwise(scale.reshape(view), shift.reshape(view), shape, shape)


def _avg_pool(where: str, module: Any, z: torch.Tensor, y: torch.Tensor) -> Step:
    d = _spatial_dims(module)
    _check_rank(where, z, d)
    mats = []
    for a in range(d):
        n = int(z.shape[2 + a])
        eye = torch.eye(n, dtype=z.dtype, device=z.device).unsqueeze(0)
        if isinstance(module, nn.modules.pooling._AdaptiveAvgPoolNd):
            m = F.adaptive_avg_pool1d(eye, int(y.shape[2 + a]))
        else:
            k, s, p = (_tuple(v, d)[a] for v in (module.kernel_size, module.stride, module.padding))
            m = F.avg_pool1d(eye, k, s, p, module.ceil_mode, module.count_include_pad)
            if getattr(module, "divisor_override", None):
                m = (m != 0).to(z.dtype) / (module.divisor_override if a == 0 else 1)
        mats.append(m[0].T.contiguous())
    return Separable(mats, tuple(z.shape), tuple(y.shape))


def _interpolate(module: Any, z: torch.Tensor, y: torch.Tensor) -> Step:
    d = z.ndim - 2
    mats = []
    for a in range(d):
        n = int(z.shape[2 + a])
        unit = [1] * d
        unit[a] = n
        eye = torch.eye(n, dtype=z.dtype, device=z.device).reshape(1, n, *unit)
        if module.size is not None:
            size = [1] * d
            size[a] = int(y.shape[2 + a])
            kw: dict[str, Any] = {"size": tuple(size)}
        else:
            scale = [1.0] * d
            scale[a] = float(_tuple(module.scale_factor, d)[a])
            kw = {"scale_factor": tuple(scale)}
        m = F.interpolate(
            eye,
            mode=module.mode,
            align_corners=module.align_corners,
            recompute_scale_factor=module.recompute_scale_factor,
            **kw,
        )
        mats.append(m.reshape(n, -1).T.contiguous())
    return Separable(mats, tuple(z.shape), tuple(y.shape))


def _max_pool(where: str, module: Any, z: torch.Tensor) -> Step:
    d = _spatial_dims(module)
    _check_rank(where, z, d)
    if isinstance(module, nn.modules.pooling._AdaptiveMaxPoolNd):
        fn = getattr(F, f"adaptive_max_pool{d}d")
        y, idx = fn(z, module.output_size, return_indices=True)
    else:
        fn = getattr(F, f"max_pool{d}d")
        args = (module.kernel_size, module.stride, module.padding, module.dilation)
        y, idx = fn(z, *args, ceil_mode=module.ceil_mode, return_indices=True)
    per_channel = math.prod(z.shape[2:])
    chan = torch.arange(z.shape[1], device=z.device).reshape(1, -1, *([1] * d))
    return Gather(idx + chan * per_channel, tuple(z.shape), tuple(y.shape))


_POOL_MAX = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)
_POOL_AVG = (nn.modules.pooling._AvgPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd)
_MODULE_ACTIVATIONS = {
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.PReLU: "prelu",
    nn.SiLU: "silu",
    nn.GELU: "gelu",
    nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh",
    nn.Hardtanh: "hardtanh",
    nn.ReLU6: "hardtanh",
}

#: the ``torch.nn`` layers :func:`freeze_module` understands (for error messages)
SUPPORTED_MODULES = (
    "Conv1d/2d/3d, ConvTranspose1d/2d/3d, Linear, BatchNorm1d/2d/3d (eval), Flatten, "
    "Unflatten, Identity, Dropout (eval), ReLU, LeakyReLU, PReLU, ReLU6, Hardtanh, SiLU, GELU, "
    "Sigmoid, Tanh, "
    "MaxPool1d/2d/3d, AdaptiveMaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d, "
    "Upsample (nearest, linear, bilinear, bicubic, trilinear), PixelShuffle, PixelUnshuffle, "
    "ChannelShuffle"
)


def freeze_module(where: str, module: nn.Module, z: torch.Tensor, y: torch.Tensor) -> Step:
    """The frozen step of ``module`` at its input ``z`` (its output at ``z`` is ``y``).

    Raises :class:`UnsupportedLayerError` naming ``where`` for a layer not in
    :data:`SUPPORTED_MODULES`, and ``ValueError`` for one in a state that is not a fixed map
    (BatchNorm or Dropout in training mode).
    """
    shape_in, shape_out = tuple(z.shape), tuple(y.shape)
    if isinstance(module, nn.modules.conv._ConvNd):
        return _conv(where, module, z)
    if isinstance(module, nn.Linear):
        w = module.weight.detach()
        b = None if module.bias is None else module.bias.detach()
        return Dense(w, b, shape_in, shape_out)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return _batch_norm(where, module, z)
    if isinstance(module, nn.modules.dropout._DropoutNd):
        if module.training and module.p > 0:
            raise ValueError(f"{where} is in training mode (random); call model.eval() first")
        return Reshape(shape_in, shape_out)
    if isinstance(module, nn.Flatten | nn.Unflatten | nn.Identity):
        return Reshape(shape_in, shape_out)
    kind = _MODULE_ACTIVATIONS.get(type(module))
    if kind is not None:
        slope = getattr(module, "negative_slope", None)
        if isinstance(module, nn.PReLU):
            slope = module.weight.detach()
        bounds = (float(getattr(module, "min_val", 0.0)), float(getattr(module, "max_val", 6.0)))
        return freeze_activation(
            kind, z, slope=slope, approximate=getattr(module, "approximate", "none"), bounds=bounds
        )
    if isinstance(module, _POOL_MAX):
        return _max_pool(where, module, z)
    if isinstance(module, _POOL_AVG):
        return _avg_pool(where, module, z, y)
    if isinstance(module, nn.Upsample):
        if module.mode in ("nearest", "nearest-exact"):
            return probe(module, z)
        if module.mode in ("linear", "bilinear", "bicubic", "trilinear"):
            return _interpolate(module, z, y)
    if isinstance(module, nn.PixelShuffle | nn.PixelUnshuffle | nn.ChannelShuffle):
        return probe(module, z)
    raise UnsupportedLayerError(
        f"{where} is not supported by linear_interpreter; supported layers: {SUPPORTED_MODULES}"
    )
