"""``stream(model, hop)``: a sequential 1D CNN as a stateful module that computes only the new
outputs of each hop, and the checks that say when this equals windowed inference."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator

from torch import nn

from ..validation import check_bool, check_choice, check_positive_int
from .layers import LayerSpec, parse_layer
from .module import StreamingCNN

__all__ = ["StreamingInexactWarning", "stream", "without_padding"]

PADDINGS = ("keep", "signal")


class StreamingInexactWarning(UserWarning):
    """A layer makes streaming inference differ from windowed inference (zero padding, or a
    stride/pooling window that straddles hop boundaries); the message names the layer and the
    change that restores exactness.

    Examples
    --------
    >>> import warnings
    >>> from torch import nn
    >>> from sciconv.streaming import StreamingInexactWarning, stream
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = stream(nn.Sequential(nn.Conv1d(1, 1, 3), nn.MaxPool1d(4)), hop=6)
    >>> caught[0].category is StreamingInexactWarning, "multiple of 4" in str(caught[0].message)
    (True, True)
    """


def _flatten(model: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    for name, child in model.named_children():
        path = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            yield from _flatten(child, path + ".")
        else:
            yield path, child


def _layers(model: nn.Module, *, freeze: bool = False) -> list[LayerSpec]:
    """Parse ``model``'s layers; with ``freeze``, those of a deep copy without gradients (the
    streaming module's own, untouched by later changes to ``model``)."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(
            f"model must be a torch.nn.Sequential of 1D layers, got {type(model).__name__}"
        )
    if freeze:
        model = copy.deepcopy(model).requires_grad_(False)
    specs = [parse_layer(name, m) for name, m in _flatten(model)]
    if not specs:
        raise ValueError("model must hold at least one layer, got an empty nn.Sequential")
    return specs


def _check_alignment(specs: list[LayerSpec], hop: int) -> list[str]:
    issues, before = [], 1
    total = 1
    for spec in specs:
        total *= spec.stride
    for spec in specs:
        if spec.kind == "pointwise":
            continue
        if hop % (before * spec.stride):
            what = "pooling windows" if spec.kind == "pool" else "strided convolution windows"
            issues.append(
                f"layer {spec.name} has stride {spec.stride} but receives hop/{before} = "
                f"{hop / before:g} new samples per hop: its {what} straddle hop boundaries, so "
                f"the streamed outputs sit on a different phase than windowed inference's; "
                f"choose hop a multiple of {total} (the network's cumulative stride)"
            )
            break
        before *= spec.stride
    return issues


def stream(
    model: nn.Module, hop: int, *, padding: str = "keep", strict: bool = False
) -> StreamingCNN:
    """Convert a sequential 1D CNN into a stateful module computing only each hop's new outputs.

    Parameters
    ----------
    model : torch.nn.Sequential
        ``Conv1d`` (any kernel, dilation, stride, groups), ``MaxPool1d``/``AvgPool1d``
        (``ceil_mode=False``) and pointwise layers: activations, ``BatchNorm1d`` and
        ``Dropout`` in eval mode, ``Identity``. Nested ``Sequential`` are flattened. A
        ``Flatten``/``Linear`` head is not streamable (it mixes the whole window) and is
        refused: stream the convolutional part and apply the head to its outputs.
    hop : int
        New samples per call (``>= 1``).
    padding : {'keep', 'signal'}
        ``'keep'`` streams the layers' paddings as the model has them: zeros at the stream's
        newest edge, which windowed inference sees at the window's edge, so a padded layer is
        inexact. ``'signal'`` streams every layer as its padding-free (valid) counterpart: the
        padding is replaced by past samples ("signal padding"), exact against
        :func:`without_padding` of the model.
    strict : bool
        Raise ``ValueError`` instead of warning (:class:`StreamingInexactWarning`) when a layer
        breaks exactness.

    Returns
    -------
    StreamingCNN
        Holding a frozen deep copy of ``model``'s layers (eval mode, no gradients): later
        changes to ``model`` (training, ``model.train()``, ``.to()``) do not reach it.

    Notes
    -----
    Feed the stream ``x[0], x[1], ...`` in chunks of ``hop``. After ``t`` samples, *windowed
    inference* runs the model on the last ``W`` samples ``x[t-W:t]`` and keeps its last
    ``n = hop / S`` outputs, ``S`` the cumulative stride. Streaming returns the same ``n``
    outputs computing only those: a layer of span ``r = d(k-1)+1`` and stride ``s`` caches the
    inputs its next output still needs (at most ``r - 1``; ``r - s`` in steady state), so a
    call costs ``O(hop + r)`` per layer against ``O(W)``: in multiply-adds, a speed-up of
    about ``(W - R) / hop``. Measured times also carry a fixed cost per torch call
    (``benchmarks/RESULTS.md``).

    The two agree exactly (up to rounding) when

    1. every windowed layer is valid (``padding=0``), or ``padding='signal'`` is used, the
       reference then being the valid model run on ``W + L_a`` samples
       (``L_a = signal_padding``, the padding in input samples);
    2. the hop is aligned: each conv or pooling layer of stride ``s`` receives
       ``hop / S_<`` new samples (``S_<`` the stride before it) and ``s`` divides that, i.e.
       ``S`` divides ``hop``; then no pooling or strided window straddles a hop boundary;
    3. windows start on the stream's grid: ``(t - W)`` is a multiple of ``S`` (true for
       ``t`` a multiple of ``hop`` when ``W`` is a multiple of ``S``), and ``W`` is long
       enough to give ``n`` outputs, ``W >= R + hop - S`` with ``R`` the receptive field.

    Under these conditions output ``j`` of each layer is a function of the same input samples
    in both schemes (shift invariance of convolution, pooling and pointwise maps), so the
    values are computed by the same arithmetic. Zero padding breaks 1 (the cached activations
    were computed with zeros where windowed inference now sees signal); a misaligned stride
    breaks 2 (the streamed outputs sit on a grid shifted by up to ``S - 1`` samples; put end
    to end they are still exactly the valid model run once on the whole stream, whose grid is
    fixed, while windowed inference's grid moves with each window). A padded
    layer followed only by pointwise layers or kernels of span 1 stays exact in ``'keep'``
    mode: each of its outputs is read once, when emitted, with the same zeros at the newest
    edge that windowed inference has at the window's end (for ``W`` long enough that the
    window's left-edge padding does not reach the last outputs); no warning is given for it.

    References
    ----------
    C. Kechris, J. Dan, J. Miranda, D. Atienza, "Don't Think It Twice: Exploit Shift
    Invariance for Efficient Online Streaming Inference of CNNs" (StreamiNNC),
    arXiv:2408.03223, 2024.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sciconv.streaming import stream
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = nn.Sequential(nn.Conv1d(1, 4, 5, dilation=2), nn.ReLU(), nn.MaxPool1d(2),
    ...                       nn.Conv1d(4, 1, 3)).double().eval()
    >>> online = stream(model, hop=8)
    >>> x = torch.randn(1, 1, 256, dtype=torch.float64)
    >>> outs = [online(x[..., t - 8:t]) for t in range(8, 257, 8)]
    >>> W = 64  # windowed inference on the last W samples, its last 4 outputs
    >>> err = max((online_out - model(x[..., t - W:t])[..., -4:]).abs().max().item()
    ...           for t, online_out in zip(range(8, 257, 8), outs) if t >= W)
    >>> outs[-1].shape, err < 1e-12
    (torch.Size([1, 1, 4]), True)
    """
    hop = check_positive_int("hop", hop)
    check_choice("padding", padding, PADDINGS)
    check_bool("strict", strict)
    specs = _layers(model, freeze=True)
    issues = []
    for i, spec in enumerate(specs):
        if spec.kind == "pointwise" or not spec.padded or padding == "signal":
            continue
        if spec.padding_mode != "zeros":
            raise ValueError(
                f"layer {spec.name} pads in mode {spec.padding_mode!r}, which streaming cannot "
                "reproduce at the window's edge; use stream(..., padding='signal') (padding by "
                "past samples) or set padding=0"
            )
        if not any(later.kind != "pointwise" and later.span > 1 for later in specs[i + 1 :]):
            continue  # the zeros at the newest edge are the ones windowed inference sees
        issues.append(
            f"layer {spec.name} pads with "
            f"{'-inf' if spec.fill < 0 else 'zeros'} (padding={spec.pad_left}): windowed "
            "inference sees the padding at each window's edge, streaming only at the stream's; "
            "set padding=0 and use signal padding (train on windows extended by past samples, "
            "stream with padding='signal')"
        )
    issues += _check_alignment(specs, hop)
    if issues and strict:
        raise ValueError("streaming would not equal windowed inference: " + "; ".join(issues))
    for issue in issues:
        warnings.warn(StreamingInexactWarning(issue), stacklevel=2)
    return StreamingCNN(specs, hop, padding, issues)


def without_padding(model: nn.Sequential) -> nn.Sequential:
    """A copy of ``model`` with every conv and pooling padding set to 0 (the valid network).

    Under signal padding this is the windowed reference: run on ``W + L_a`` samples it gives
    as many outputs as ``model`` on ``W``, and its last ones are what ``stream(model, hop,
    padding='signal')`` returns.

    Notes
    -----
    A layer of padding ``p`` and stride ``s`` behind a cumulative stride ``S`` adds ``2 p S``
    input samples to ``L_a``: signal padding feeds the network those past samples where zero
    padding fed zeros (the paper trains with windows extended by ``L_a``).

    References
    ----------
    C. Kechris et al., "Don't Think It Twice" (StreamiNNC), arXiv:2408.03223, 2024: signal
    padding.

    Parameters
    ----------
    model : torch.nn.Sequential
        A model :func:`stream` accepts (it is not modified).

    Returns
    -------
    torch.nn.Sequential
        A deep copy of ``model`` whose ``Conv1d``, ``MaxPool1d`` and ``AvgPool1d`` layers have
        padding 0 (and ``padding_mode='zeros'``).

    Examples
    --------
    >>> from torch import nn
    >>> from sciconv.streaming import without_padding
    >>> without_padding(nn.Sequential(nn.Conv1d(1, 1, 3, padding=1)))[0].padding
    (0,)
    """
    _layers(model)  # refuse what cannot be streamed, by name
    valid = copy.deepcopy(model)
    for _, m in _flatten(valid):
        if isinstance(m, nn.Conv1d):
            m.padding = (0,)
            m.padding_mode = "zeros"
            m._reversed_padding_repeated_twice = [0, 0]
        elif isinstance(m, (nn.MaxPool1d, nn.AvgPool1d)):
            m.padding = 0 if isinstance(m.padding, int) else (0,)
    return valid
