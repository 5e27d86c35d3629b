"""WinogradConv2d against torch.nn.functional.conv2d (float64, 1e-10) on every device."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.winograd import WinogradConv2d, conv2d_elementwise, transforms

CASES = [
    {"kernel_size": 3, "padding": 1},
    {"kernel_size": 3, "padding": 0, "m": 6, "points": "0,3/5,-3/5,1,-1,7/6,-7/6"},
    {"kernel_size": (3, 5), "padding": "same", "groups": 2, "m": (6, 2)},
    {"kernel_size": 2, "padding": "same", "m": 3},
    {"kernel_size": 5, "padding": 2, "padding_mode": "reflect", "m": 2},
    {"kernel_size": 3, "padding": (2, 1), "padding_mode": "circular", "bias": False},
    {"kernel_size": 1, "padding": 0, "m": 3},
]


def _pair(device: str, **kw: object) -> tuple[WinogradConv2d, torch.nn.Conv2d]:
    lay = WinogradConv2d(4, 6, device=device, dtype=torch.float64, **kw)
    ref_kw = {k: v for k, v in kw.items() if k not in ("m", "points", "arithmetic")}
    ref = torch.nn.Conv2d(4, 6, device=device, dtype=torch.float64, **ref_kw)
    ref.load_state_dict(lay.state_dict())
    return lay, ref


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("arithmetic", ["native", "elementwise"])
@pytest.mark.parametrize("kw", CASES)
def test_equals_conv2d_float64(device: str, kw: dict, arithmetic: str) -> None:
    """Max abs. difference to nn.Conv2d (same parameters) below 1e-10 in float64."""
    lay, ref = _pair(device, arithmetic=arithmetic, **kw)
    x = torch.randn(2, 4, 11, 13, dtype=torch.float64, device=device)
    y = lay(x)
    assert y.shape == ref(x).shape
    assert (y - ref(x)).abs().max().item() < 1e-10


@settings(max_examples=20, deadline=None)
@given(
    r=st.integers(1, 5),
    m=st.integers(1, 6),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    pad=st.integers(0, 2),
    cin=st.integers(1, 3),
    cout=st.integers(1, 3),
)
def test_random_shapes_equal_conv2d(
    r: int, m: int, h: int, w: int, pad: int, cin: int, cout: int
) -> None:
    """Random sizes: equal to F.conv2d(x, weight, bias, padding) to 1e-10 (float64, CPU)."""
    if h + 2 * pad < r or w + 2 * pad < r:
        return
    lay = WinogradConv2d(cin, cout, r, padding=pad, m=m, dtype=torch.float64)
    x = torch.randn(1, cin, h, w, dtype=torch.float64)
    ref = F.conv2d(x, lay.weight, lay.bias, padding=pad)
    assert (lay(x) - ref).abs().max().item() < 1e-10


def test_gradients_match_conv2d() -> None:
    """Backward through the transforms: input and weight gradients equal F.conv2d's (1e-10)."""
    lay, ref = _pair("cpu", kernel_size=3, padding=1, m=4)
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    lay(x).square().sum().backward()
    ref(x2).square().sum().backward()
    assert (x.grad - x2.grad).abs().max() < 1e-10
    assert (lay.weight.grad - ref.weight.grad).abs().max() < 1e-10


def test_fp16_elementwise_close_to_direct(device: str) -> None:
    """fp16 Winograd F(4,3) (every op rounded) stays within 10x the error of fp16 direct
    convolution (also every op rounded), both measured against float64."""
    torch.manual_seed(0)
    lay = WinogradConv2d(3, 4, 3, padding=1, m=4, arithmetic="elementwise", device=device)
    x = torch.randn(2, 3, 12, 12, device=device)
    ref = F.conv2d(
        x.half().double(), lay.weight.half().double(), lay.bias.half().double(), padding=1
    )
    lay16 = lay.half()
    y_w = lay16(x.half()).double()
    y_d = conv2d_elementwise(x.half(), lay16.weight, lay16.bias, padding=1).double()
    e_w = ((y_w - ref).norm() / ref.norm()).item()
    e_d = ((y_d - ref).norm() / ref.norm()).item()
    assert y_w.dtype == torch.float64 and lay16(x.half()).dtype == torch.float16
    assert 0 < e_d < 1e-2 and e_w < 10 * e_d


def test_conv2d_elementwise_float64_reference() -> None:
    x, w, b = (
        torch.randn(2, 3, 7, 6).double(),
        torch.randn(5, 3, 3, 2).double(),
        torch.randn(5).double(),
    )
    assert (
        conv2d_elementwise(x, w, b, padding=1) - F.conv2d(x, w, b, padding=1)
    ).abs().max() < 1e-12


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="stride"):
        WinogradConv2d(2, 2, 3, stride=2)
    with pytest.raises(ValueError, match="dilation"):
        WinogradConv2d(2, 2, 3, dilation=2)
    with pytest.raises(ValueError, match="transform"):
        WinogradConv2d(2, 2, 3, transform=transforms(2, 5))
    with pytest.raises(ValueError, match="arithmetic"):
        WinogradConv2d(2, 2, 3, arithmetic="fast")
    with pytest.raises(ValueError, match="x"):
        WinogradConv2d(2, 2, 3)(torch.randn(1, 3, 5, 5))
