"""Streaming inference (sciconv.streaming) against windowed inference computed here, in float64:
a full forward pass of the torch model on the last W samples, sliced to the newest outputs."""

from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sciconv.streaming import (
    StreamingInexactWarning,
    pooling_shift_bound,
    stream,
    streaming_deviation,
    windowed_inference,
    without_padding,
)

F64 = torch.float64
TOL = 1e-12


def _eval64(model: nn.Module) -> nn.Module:
    return model.to(F64).eval()


def _bn(channels: int, gen: torch.Generator) -> nn.BatchNorm1d:
    """An eval-mode batch norm with non-trivial running statistics and affine parameters."""
    bn = nn.BatchNorm1d(channels)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(channels, generator=gen))
        bn.running_var.copy_(torch.rand(channels, generator=gen) + 0.5)
        bn.weight.copy_(torch.randn(channels, generator=gen))
        bn.bias.copy_(torch.randn(channels, generator=gen))
    return bn


def _span_stride(model: nn.Sequential) -> tuple[int, int]:
    """Receptive field and cumulative stride, from the layer attributes (independent of
    sciconv.streaming)."""
    rf, stride = 1, 1
    for m in model:
        if isinstance(m, (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d)):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            d = getattr(m, "dilation", 1)
            d = d if isinstance(d, int) else d[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            rf += d * (k - 1) * stride
            stride *= s
    return rf, stride


def _compare(model, online, x, hop, window, reference=None):
    """Max |streamed - windowed| over every hop whose window fits, and the number of hops."""
    reference = model if reference is None else reference
    n = hop // online.stride
    worst, steps = 0.0, 0
    with torch.no_grad():
        for t in range(hop, x.shape[-1] + 1, hop):
            got = online(x[..., t - hop : t])
            if t < window:
                continue
            ref = reference(x[..., t - window : t])[..., -n:]
            assert got.shape == ref.shape, (t, got.shape, ref.shape)
            scale = max(1.0, ref.abs().max().item())
            worst = max(worst, (got - ref).abs().max().item() / scale)
            steps += 1
    return worst, steps


@st.composite
def sequential_models(draw):
    """Random valid sequential 1D CNNs: 1-3 blocks of Conv1d (kernel, dilation, stride,
    groups), a pointwise layer (ReLU, LeakyReLU, Tanh, GELU, PReLU, eval BatchNorm, eval
    Dropout) and optionally max or average pooling."""
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    channels = draw(st.integers(1, 3))
    layers: list[nn.Module] = []
    c = channels
    for _ in range(draw(st.integers(1, 3))):
        groups = draw(st.sampled_from([1, c]))
        out = groups * draw(st.integers(1, 2))
        layers.append(
            nn.Conv1d(
                c,
                out,
                draw(st.integers(1, 4)),
                stride=draw(st.integers(1, 2)),
                dilation=draw(st.integers(1, 3)),
                groups=groups,
            )
        )
        c = out
        kind = draw(st.sampled_from(["relu", "leaky", "tanh", "gelu", "prelu", "bn", "drop"]))
        layers.append(
            {
                "relu": nn.ReLU(),
                "leaky": nn.LeakyReLU(0.1),
                "tanh": nn.Tanh(),
                "gelu": nn.GELU(),
                "prelu": nn.PReLU(c),
                "bn": _bn(c, gen),
                "drop": nn.Dropout(0.5),
            }[kind]
        )
        pool = draw(st.sampled_from([None, "max", "avg"]))
        if pool == "max":
            layers.append(
                nn.MaxPool1d(
                    draw(st.integers(1, 3)),
                    stride=draw(st.integers(1, 2)),
                    dilation=draw(st.integers(1, 2)),
                )
            )
        elif pool == "avg":
            layers.append(nn.AvgPool1d(draw(st.integers(1, 3)), stride=draw(st.integers(1, 2))))
    with torch.no_grad():
        for m in layers:
            if isinstance(m, nn.Conv1d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen))
    return _eval64(nn.Sequential(*layers)), channels, draw(st.integers(1, 3))


@settings(deadline=None, max_examples=25, derandomize=True)
@given(sequential_models())
def test_streaming_equals_windowed_inference_random_models(case):
    """Valid convolutions (dilation, stride, groups), pointwise layers, eval BatchNorm and
    Dropout, max and average pooling, hop a multiple of the cumulative stride: every streamed
    hop equals windowed inference's newest outputs to 1e-12 (float64) over many hops."""
    model, channels, mult = case
    rf, stride = _span_stride(model)
    hop = stride * mult
    window = hop * math.ceil((rf + hop) / hop)  # a multiple of hop (so of S), long enough
    gen = torch.Generator().manual_seed(rf * 1000 + hop)
    x = torch.randn(2, channels, window + 12 * hop, dtype=F64, generator=gen)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StreamingInexactWarning)
        online = stream(model, hop)
    assert online.exact and online.stride == stride and online.receptive_field == rf
    worst, steps = _compare(model, online, x, hop, window)
    assert steps == 13 and worst <= TOL, worst


@settings(deadline=None, max_examples=15, derandomize=True)
@given(sequential_models(), st.integers(1, 7))
def test_streamed_outputs_concatenate_to_the_model_on_the_whole_signal(case, hop):
    """For any hop, aligned or not, the outputs of all steps put end to end are the valid model
    run once on the whole signal (the stream's own grid; steps may return 0 outputs)."""
    model, channels, _ = case
    x = torch.randn(1, channels, 40 * hop, dtype=F64, generator=torch.Generator().manual_seed(hop))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StreamingInexactWarning)
        online = stream(model, hop)
    with torch.no_grad():
        ref = model(x) if x.shape[-1] >= online.receptive_field else None
        got = torch.cat([online(x[..., t : t + hop]) for t in range(0, x.shape[-1], hop)], -1)
    if ref is None:
        assert got.shape[-1] == 0
    else:
        assert got.shape == ref.shape
        assert (got - ref).abs().max().item() <= TOL * max(1.0, ref.abs().max().item())


def test_streaming_longer_window_and_many_steps():
    """A deeper model, window 256, 60 hops: still equal to 1e-12; the cached tails stay
    O(hop + span) (no growth with the number of steps)."""
    torch.manual_seed(3)
    model = _eval64(
        nn.Sequential(
            nn.Conv1d(2, 8, 7, dilation=2),
            nn.BatchNorm1d(8),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(8, 8, 5, dilation=4),
            nn.LeakyReLU(0.2),
            nn.AvgPool1d(2),
            nn.Conv1d(8, 3, 3, stride=2),
        )
    )
    hop, window = 16, 256
    x = torch.randn(1, 2, window + 60 * hop, dtype=F64)
    online = stream(model, hop)
    worst, steps = _compare(model, online, x, hop, window)
    assert steps == 61 and worst <= TOL
    for state in online._states:
        if state is not None:
            assert state.buf.shape[-1] <= state.spec.span + hop


def test_reset_restarts_the_stream():
    torch.manual_seed(4)
    model = _eval64(nn.Sequential(nn.Conv1d(1, 3, 5), nn.ReLU(), nn.Conv1d(3, 1, 3)))
    online = stream(model, 4)
    x = torch.randn(1, 1, 64, dtype=F64)
    first = [online(x[..., t : t + 4]) for t in range(0, 64, 4)]
    online.reset()
    online(torch.randn(3, 1, 4, dtype=F64))  # another batch size is fine after a reset
    online.reset()
    again = [online(x[..., t : t + 4]) for t in range(0, 64, 4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_signal_padding_equals_valid_model_on_longer_window(pool):
    """padding='signal' streams the padded model as its valid counterpart: no warning, and
    equal to without_padding(model) run on W + L_a samples, which gives as many outputs as the
    padded model on W."""
    torch.manual_seed(5)
    pool_layer = nn.MaxPool1d(3, 2, padding=1) if pool == "max" else nn.AvgPool1d(2, 2, 1)
    model = _eval64(
        nn.Sequential(
            nn.Conv1d(1, 4, 5, padding=2),
            nn.ReLU(),
            pool_layer,
            nn.Conv1d(4, 4, 3, padding=2, dilation=2),
            nn.Tanh(),
            nn.Conv1d(4, 2, 3, padding="valid"),
        )
    )
    hop, window = 8, 128
    with warnings.catch_warnings():
        warnings.simplefilter("error", StreamingInexactWarning)
        online = stream(model, hop, padding="signal")
    pad = 1 if pool == "max" else 1
    assert online.signal_padding == 4 + 2 * pad + 2 * 4  # layer paddings in input samples
    valid = without_padding(model)
    la = online.signal_padding
    x = torch.randn(2, 1, 1024, dtype=F64)
    assert valid(x[..., : window + la]).shape == model(x[..., :window]).shape
    worst, steps = _compare(model, online, x, hop, window + la, reference=valid)
    assert steps > 100 and worst <= TOL
    assert model[0].padding == (2,)  # the model itself is untouched


def test_zero_padding_warns_naming_the_layer_and_deviation_is_measured():
    torch.manual_seed(6)
    model = _eval64(
        nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.ReLU(), nn.Conv1d(4, 1, 5, padding=2))
    )
    with pytest.warns(StreamingInexactWarning) as record:
        online = stream(model, 16)
    assert len(record) == 1  # the last layer's zeros are the ones windowed inference sees
    msg = str(record[0].message)
    assert "layer [0] Conv1d(1, 4, kernel_size=(5,), stride=(1,), padding=(2,))" in msg
    assert "set padding=0 and use signal padding" in msg
    assert not online.exact
    with pytest.raises(ValueError, match=r"layer \[0\] Conv1d\(1, 4.*set padding=0"):
        stream(model, 16, strict=True)
    x = torch.randn(1, 1, 2048, dtype=F64)
    dev = streaming_deviation(model, x, hop=16, window=256)
    assert math.isfinite(dev.nrmse) and dev.nrmse > 1e-3 and dev.max_abs > 0
    exact = streaming_deviation(model, x, hop=16, window=256, padding="signal")
    assert exact.nrmse <= TOL and exact.exact


@pytest.mark.parametrize(
    "last",
    [nn.Conv1d(3, 2, 5, padding=2), nn.MaxPool1d(3, 1, padding=1), nn.AvgPool1d(3, 2, padding=1)],
    ids=["conv", "maxpool", "avgpool"],
)
def test_padded_last_layer_is_exact_in_keep_mode(last):
    """The padding (zeros, or -inf for max pooling) at the newest edge of the last windowed
    layer is exactly what windowed inference sees at the window's end: no warning, equal to
    1e-12."""
    torch.manual_seed(7)
    model = _eval64(nn.Sequential(nn.Conv1d(1, 3, 3), nn.ReLU(), last, nn.Tanh()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", StreamingInexactWarning)
        online = stream(model, 8)
    worst, steps = _compare(model, online, torch.randn(1, 1, 512, dtype=F64), 8, 64)
    assert steps > 50 and worst <= TOL


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_misaligned_pooling_warns_and_stays_within_the_shift_bound(mode):
    """hop 6 through a stride-4 pool: warned by name with the hop that restores exactness;
    each streamed pool output differs from windowed inference's by at most the shift bound of
    pooling_shift_bound (computed on the exact conv output u), and the deviation is > 0."""
    torch.manual_seed(8)
    conv = nn.Sequential(nn.Conv1d(1, 3, 5), nn.ReLU())
    pool = nn.MaxPool1d(4) if mode == "max" else nn.AvgPool1d(4)
    model = _eval64(nn.Sequential(*conv, pool))
    hop, window = 6, 64
    with pytest.warns(StreamingInexactWarning, match=r"layer \[2\] (Max|Avg)Pool1d.*multiple of 4"):
        online = stream(model, hop)
    x = torch.randn(1, 1, 600, dtype=F64)
    u = conv.to(F64)(x)  # the pool's input on the whole stream, exact in both schemes
    history, worst_excess, worst_dev = [], -math.inf, 0.0
    with torch.no_grad():
        for t in range(hop, x.shape[-1] + 1, hop):
            history.append(online(x[..., t - hop : t]))
            if t < window:
                continue
            streamed = torch.cat(history, dim=-1)[..., -1]
            windowed = model(x[..., t - window : t])[..., -1]
            j = torch.cat(history, dim=-1).shape[-1] - 1  # streamed: pool window u[4j:4j+4]
            i = model(x[..., t - window : t]).shape[-1] - 1
            a = t - window + 4 * i  # windowed: u[a:a+4] on the stream's index
            bound = pooling_shift_bound(u, [a], [4 * j], 4, mode)[..., 0]
            diff = (streamed - windowed).abs()
            worst_excess = max(worst_excess, (diff - bound).max().item())
            worst_dev = max(worst_dev, diff.max().item())
    assert worst_excess <= 1e-12 and worst_dev > 0
    dev = streaming_deviation(model, x, hop=hop, window=window)
    assert 0 < dev.nrmse < math.inf and not dev.exact


def test_padded_pooling_inside_the_network_warns_naming_it():
    torch.manual_seed(10)
    model = _eval64(
        nn.Sequential(nn.Conv1d(1, 2, 3), nn.MaxPool1d(3, 1, padding=1), nn.Conv1d(2, 1, 3))
    )
    with pytest.warns(StreamingInexactWarning, match=r"layer \[1\] MaxPool1d.*pads with -inf"):
        stream(model, 4)
    dev = streaming_deviation(model, torch.randn(1, 1, 512, dtype=F64), hop=4, window=64)
    assert 0 < dev.nrmse < math.inf
    exact = streaming_deviation(
        model, torch.randn(1, 1, 512, dtype=F64), hop=4, window=64, padding="signal"
    )
    assert exact.max_abs <= TOL


@settings(deadline=None, max_examples=40, derandomize=True)
@given(st.integers(1, 6), st.data())
def test_pooling_shift_bound_holds_against_direct_pooling(k, data):
    """|pool(u[a:a+k]) - pool(u[b:b+k])| <= bound for random signals and shifts |a-b| < k,
    with max_pool1d / avg_pool1d of torch as the reference; the max bound is attained when the
    maximum of the union lies outside the overlap."""
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 10**6)))
    u = torch.randn(2, 3, 40, dtype=F64, generator=gen)
    a = data.draw(st.lists(st.integers(k, 40 - 2 * k), min_size=1, max_size=5))
    b = [x + data.draw(st.integers(-(k - 1), k - 1)) for x in a]
    for mode, pool in (
        ("max", torch.nn.functional.max_pool1d),
        ("avg", torch.nn.functional.avg_pool1d),
    ):
        bound = pooling_shift_bound(u, a, b, k, mode)
        for i, (p, q) in enumerate(zip(a, b)):
            diff = (pool(u[..., p : p + k], k) - pool(u[..., q : q + k], k))[..., 0].abs()
            assert (diff <= bound[..., i] + 1e-12).all()
    u = torch.tensor([[[0.0, 9.0, 1.0, 2.0, 0.0]]], dtype=F64)
    assert pooling_shift_bound(u, [1], [2], 3, "max").item() == 9.0 - 2.0  # |9 - 2| attained


def test_misaligned_strided_conv_names_the_layer():
    model = _eval64(
        nn.Sequential(nn.Conv1d(1, 2, 3), nn.Conv1d(2, 2, 3, stride=2), nn.MaxPool1d(2))
    )
    with pytest.raises(ValueError, match=r"layer \[1\] Conv1d\(2, 2.*multiple of 4"):
        stream(model, 3, strict=True)
    with pytest.raises(ValueError, match=r"layer \[2\] MaxPool1d.*multiple of 4"):
        stream(model, 6, strict=True)
    stream(model, 8, strict=True)


def test_channel_count_is_named_after_a_leading_pool():
    online = stream(_eval64(nn.Sequential(nn.MaxPool1d(2), nn.Conv1d(3, 1, 2))), 4)
    with pytest.raises(ValueError, match=r"3 channels \(as layer \[1\] Conv1d\(3, 1.*got 1"):
        online(torch.zeros(1, 1, 4, dtype=F64))


def test_float32_dilated_strided_grouped_conv_matches_windowed():
    """float32 dilated convs are streamed through oneDNN on CPU: same outputs as windowed
    inference to float32 rounding."""
    torch.manual_seed(11)
    model = nn.Sequential(
        nn.Conv1d(4, 8, 5, dilation=3, groups=2),
        nn.ReLU(),
        nn.Conv1d(8, 4, 3, dilation=2, stride=2),
    ).eval()
    online = stream(model, 8)
    worst, steps = _compare(model, online, torch.randn(2, 4, 512), 8, 64)
    assert steps > 50 and worst <= 1e-5


def test_float32_and_nested_sequential():
    torch.manual_seed(9)
    model = nn.Sequential(nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU()), nn.Conv1d(4, 1, 3)).eval()
    online = stream(model, 4)
    worst, steps = _compare(model, online, torch.randn(1, 2, 256), 4, 32)
    assert steps > 50 and worst <= 1e-5


# -- bad input, refused by name -----------------------------------------------------------------


def _small():
    return _eval64(nn.Sequential(nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3), nn.ReLU()))


@pytest.mark.parametrize(
    ("hop", "error", "match"),
    [
        (0, ValueError, "hop must be an integer >= 1, got 0"),
        (-4, ValueError, "hop must be an integer >= 1, got -4"),
        (2.5, TypeError, "hop must be an integer >= 1, got 2.5"),
    ],
)
def test_bad_hop(hop, error, match):
    with pytest.raises(error, match=match):
        stream(_small(), hop)


def test_bad_chunks():
    online = stream(_small(), 4)
    with pytest.raises(ValueError, match=r"chunk must have 2 channels .*\[0\] Conv1d.*got 3"):
        online(torch.zeros(1, 3, 4, dtype=F64))
    with pytest.raises(ValueError, match=r"shape \(B, C, hop=4\), got shape \(1, 2, 5\)"):
        online(torch.zeros(1, 2, 5, dtype=F64))
    with pytest.raises(ValueError, match=r"shape \(B, C, hop=4\), got shape \(2, 4\)"):
        online(torch.zeros(2, 4, dtype=F64))
    with pytest.raises(TypeError, match="chunk must be a torch.Tensor"):
        online([[0.0] * 4] * 2)
    with pytest.raises(TypeError, match="floating tensor, got dtype torch.int64"):
        online(torch.zeros(1, 2, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match="model's dtype torch.float64 on cpu, got torch.float32"):
        online(torch.zeros(1, 2, 4))
    online(torch.zeros(1, 2, 4, dtype=F64))
    with pytest.raises(ValueError, match="batch size must stay 1 .*got 2"):
        online(torch.zeros(2, 2, 4, dtype=F64))


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (
            nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2)),  # train mode
            r"layer \[1\] BatchNorm1d\(2.*training mode.*model.eval\(\)",
        ),
        (nn.Sequential(nn.Conv1d(1, 2, 3), nn.Dropout(0.1)), r"\[1\] Dropout.*training mode"),
        (nn.Sequential(nn.Conv2d(1, 2, 3)).eval(), r"\[0\] Conv2d\(1, 2.*unsupported layer"),
        (nn.Sequential(nn.LSTM(2, 2)).eval(), r"\[0\] LSTM.*unsupported"),
        (
            nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Linear(8, 1)).eval(),
            r"\[1\] Flatten.*not shift invariant",
        ),
        (nn.Sequential(nn.MaxPool1d(2, ceil_mode=True)).eval(), r"\[0\] MaxPool1d.*ceil_mode"),
        (nn.Sequential().eval(), "at least one layer"),
    ],
)
def test_unstreamable_models_are_refused_by_name(model, match):
    with pytest.raises(ValueError, match=match):
        stream(model, 4)


def test_other_refusals():
    with pytest.raises(TypeError, match="model must be a torch.nn.Sequential .*got Conv1d"):
        stream(nn.Conv1d(1, 1, 3), 4)
    with pytest.raises(ValueError, match="padding must be one of .*got 'same'"):
        stream(_small(), 4, padding="same")
    reflect = nn.Sequential(
        nn.Conv1d(1, 1, 3, padding=1, padding_mode="reflect"), nn.Conv1d(1, 1, 3)
    )
    with pytest.raises(ValueError, match=r"\[0\] Conv1d.*mode 'reflect'.*padding='signal'"):
        stream(reflect.eval(), 4)
    stream(reflect.eval(), 4, padding="signal")  # signal padding replaces it by past samples
    with pytest.raises(ValueError, match="fewer than one window"):
        streaming_deviation(_small(), torch.zeros(1, 2, 8, dtype=F64), hop=4, window=16)
    with pytest.raises(ValueError, match="must overlap"):
        pooling_shift_bound(torch.zeros(1, 1, 9), [0], [4], 4, "max")


def _bn_dropout_model(gen: torch.Generator) -> nn.Sequential:
    conv_a, conv_b = nn.Conv1d(2, 4, 3), nn.Conv1d(4, 1, 3, dilation=2)
    with torch.no_grad():
        for p in (*conv_a.parameters(), *conv_b.parameters()):
            p.copy_(torch.randn(p.shape, generator=gen))
    return _eval64(nn.Sequential(conv_a, _bn(4, gen), nn.ReLU(), nn.Dropout(0.5), conv_b))


def _stream_all(online, x, hop):
    with torch.no_grad():
        return torch.cat([online(x[..., t : t + hop]) for t in range(0, x.shape[-1], hop)], -1)


def test_model_train_after_stream_does_not_reach_the_stream():
    """The stream holds a frozen copy: putting the model back in training mode and training it
    (BatchNorm statistics, weights) changes neither the streamed outputs, which stay those of
    an eval-mode copy of the model taken before (run once on the whole signal), nor, through
    streaming, the model's running statistics."""
    gen = torch.Generator().manual_seed(11)
    model = _bn_dropout_model(gen)
    reference = copy.deepcopy(model).eval()
    online = stream(model, 8)
    model.train()
    x = torch.randn(2, 2, 96, dtype=F64, generator=gen)
    model(torch.randn(4, 2, 32, dtype=F64, generator=gen)).sum().backward()  # a training step
    with torch.no_grad():
        model[0].weight.add_(1.0)
    mean_before = model[1].running_mean.clone()
    got = _stream_all(online, x, 8)
    with torch.no_grad():
        ref = reference(x)
    assert got.shape == ref.shape
    assert (got - ref).abs().max().item() <= TOL * max(1.0, ref.abs().max().item())
    assert torch.equal(model[1].running_mean, mean_before)  # streaming left the model alone
    assert model.training and model[3].training  # and did not switch it back either
    assert all(not p.requires_grad for p in online.parameters())


def test_online_train_is_a_no_op_and_hand_switched_layers_are_refused():
    gen = torch.Generator().manual_seed(12)
    model = _bn_dropout_model(gen)
    online = stream(model, 8)
    assert online.train() is online
    assert not online.training and not any(m.training for m in online.modules())
    x = torch.randn(1, 2, 64, dtype=F64, generator=gen)
    got = _stream_all(online, x, 8)
    with torch.no_grad():
        ref = model(x)
    assert (got - ref).abs().max().item() <= TOL * max(1.0, ref.abs().max().item())
    online.reset()
    online.layers[1].train()
    with pytest.raises(RuntimeError, match=r"layer \[1\] BatchNorm1d\(4.*training mode"):
        online(x[..., :8])
    with pytest.raises(TypeError, match=r"mode must be a bool \(True or False\), got 'yes'"):
        online.train("yes")
    online.eval()
    online(x[..., :8])


def test_model_built_in_train_mode_without_bn_or_dropout_streams_in_eval():
    """Conv/pool layers left in training mode are streamed (their mode does not change their
    output); the copy is switched to eval, so the next call is not refused."""
    model = nn.Sequential(nn.Conv1d(1, 2, 3), nn.MaxPool1d(2)).to(F64)
    online = stream(model, 4)
    x = torch.randn(1, 1, 32, dtype=F64, generator=torch.Generator().manual_seed(13))
    got = _stream_all(online, x, 4)
    with torch.no_grad():
        ref = model(x)
    assert (got - ref).abs().max().item() <= TOL * max(1.0, ref.abs().max().item())


@pytest.mark.parametrize("strict", ["yes", 1, None])
def test_strict_must_be_a_bool(strict):
    with pytest.raises(TypeError, match=f"strict must be a bool .*got {strict!r}"):
        stream(_small(), 4, strict=strict)


def test_streaming_deviation_refuses_x_of_another_dtype():
    x32 = torch.zeros(1, 2, 64)
    with pytest.raises(TypeError, match="x must have the model's dtype torch.float64.*float32"):
        streaming_deviation(_small(), x32, hop=4, window=16)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        streaming_deviation(_small(), x32.numpy(), hop=4, window=16)
    with pytest.raises(ValueError, match=r"x must have shape \(B, C, L\), got shape \(2, 64\)"):
        streaming_deviation(_small(), x32[0].double(), hop=4, window=16)


@pytest.mark.parametrize(
    ("a", "b", "u_shape", "error", "match"),
    [
        ([18], [19], (1, 2, 20), ValueError, r"starts_a\[0\] must lie in .*\[0, 17\].*got 18"),
        ([0], [-1], (1, 2, 20), ValueError, r"starts_b\[0\] must lie in .*got -1"),
        ([1.0], [2], (1, 2, 20), TypeError, r"starts_a\[0\] must be an integer, got 1.0"),
        ([0], [1], (2, 20), ValueError, r"u must have shape \(B, C, L\), got shape \(2, 20\)"),
    ],
)
def test_pooling_shift_bound_refuses_bad_windows(a, b, u_shape, error, match):
    with pytest.raises(error, match=match):
        pooling_shift_bound(torch.zeros(u_shape), a, b, 3, "max")


def test_pooling_shift_bound_accepts_the_last_window():
    """The window ending at the last sample is inside u; checked against direct max pooling."""
    u = torch.randn(1, 2, 20, dtype=F64, generator=torch.Generator().manual_seed(14))
    bound = pooling_shift_bound(u, [16], [17], 3, "max")
    diff = (u[..., 16:19].amax(-1) - u[..., 17:20].amax(-1)).abs()
    assert bound.shape == (1, 2, 1) and bool((diff <= bound[..., 0] + TOL).all())


@pytest.mark.parametrize(
    ("ends", "n", "error", "match"),
    [
        ([6], 0, ValueError, "n must be an integer >= 1, got 0"),
        ([6], -1, ValueError, "n must be an integer >= 1, got -1"),
        ([6], 2.5, TypeError, "n must be an integer >= 1, got 2.5"),
        ([6, 6.5], 2, TypeError, r"ends\[1\] must be an integer, got 6.5"),
    ],
)
def test_windowed_inference_refuses_bad_n_and_ends(ends, n, error, match):
    with pytest.raises(error, match=match):
        windowed_inference(nn.Identity(), torch.arange(10.0).view(1, 1, 10), 4, ends, n)
