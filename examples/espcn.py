r"""ESPCN x3 super-resolution on scikit-image's bundled images, against bicubic upsampling.

The network is Shi et al.'s ESPCN [1]_ with ``(f1, n1) = (5, 64)``, ``(f2, n2) = (3, 32)``,
``f3 = 3``: conv 5x5 to 64 channels, activation, conv 3x3 to 32, activation, and a
:class:`sciconv.subpixel.SubPixelConv2d` 3x3 to ``3**2`` channels shuffled into the x3 image,
on grayscale (luminance) images. All three layers work at low resolution. The default departs
from the paper in two ways, both needed to beat bicubic by 1 dB within minutes on one core:
ReLU instead of tanh, and a global skip (the network predicts the correction to bicubic
upsampling). ``--activation tanh --no-residual`` is the paper's network.

Data (only images stored inside the scikit-image wheel, no download): training on
``camera, astronaut, coffee, chelsea, rocket, brick, grass, gravel, hubble_deep_field``,
evaluation on the held-out ``coins, moon, page, text``. Colour images are converted to
luminance by ``skimage.color.rgb2gray``, values in [0, 1], cropped to a multiple of 3. The
low-resolution image is the antialiased bicubic downsampling by 3
(``interpolate(mode='bicubic', antialias=True)``; ``--downsampling area`` for 3x3 block
means); bicubic is ``interpolate(mode='bicubic', align_corners=False)`` of that LR image.
Training: random 51x51 HR / 17x17 LR crops (the paper's sub-image size), random flips and
quarter turns, batch 32, Adam, learning rate 1e-3 with cosine decay to 0, MSE. PSNR is
measured on [0, 1] after clipping, on the whole image less a border of 3 HR pixels.

Results (dB; bicubic 25.24 / 39.70 / 19.53 / 29.10 on coins / moon / page / text; each run is
deterministic; times on one thread of the shared 2-core machine at load average about 2):

======================================  =====  =====  =====  =====  ======  ==========
setting                                 coins  moon   page   text   mean    training
======================================  =====  =====  =====  =====  ======  ==========
ReLU, residual, 12000 steps             +1.63  +0.46  +0.43  +2.43  +1.24   699 s
default: ReLU, residual, 8000 steps     +1.56  +0.46  +0.42  +2.24  +1.17   425 s
ReLU, residual, 3000 steps              +1.04  +0.52  +0.31  +1.44  +0.83   224 s
tanh (paper), 2000 steps, lr 3e-3       +0.54  +0.55  +0.26  +0.94  +0.57   229 s
no activation (linear), same            +0.53  +0.55  +0.25  +0.95  +0.57   172 s
======================================  =====  =====  =====  =====  ======  ==========

So the issue's goal (at least 1 dB over bicubic, mean over held-out images) is met by the
default, +1.17 dB, though not on every image (moon and page gain under 0.5 dB). The paper's
tanh network stalls at +0.57 dB, exactly what the same network without activations (a linear
filter) reaches: at this budget it learns nothing non-linear. Other tanh runs (4000 steps of 16
crops with the skip, the skip at 2000 x 32, learning rate 1e-3) stayed at +0.53 to +0.58, and
box-filter downsampling gave +0.24 to +0.30.

The script prints the table and the mean gain, says whether the 1 dB goal is met, and saves LR
(nearest), bicubic, ESPCN and the HR crop of the first held-out image side by side to
``out/espcn.png``.

Run: ``PYTHONPATH=. python3 examples/espcn.py`` (about 7 minutes on one core);
``--steps 3000`` for +0.8 dB in under 4 minutes.

References
----------
.. [1] W. Shi, J. Caballero, F. Huszár, J. Totz, A. P. Aitken, R. Bishop, D. Rueckert and
   Z. Wang, "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
   Convolutional Neural Network", CVPR 2016. arXiv:1609.05158.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from sciconv.subpixel import SubPixelConv2d

SCALE = 3
TRAIN = "camera astronaut coffee chelsea rocket brick grass gravel hubble_deep_field".split()
TEST = ("coins", "moon", "page", "text")


def load_gray(name: str) -> torch.Tensor:
    """A bundled scikit-image picture as a (1, 1, H, W) float32 luminance tensor in [0, 1],
    cropped to a multiple of the scale."""
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.util import img_as_float

    img = img_as_float(getattr(skimage.data, name)())
    if img.ndim == 3:
        img = rgb2gray(img[..., :3])
    h, w = (s - s % SCALE for s in img.shape)
    return torch.from_numpy(np.ascontiguousarray(img[:h, :w])).float()[None, None]


#: how the LR image is made: 'bicubic' (antialiased, the default) or 'area' (3x3 block means)
DOWNSAMPLING = {"mode": "bicubic"}


def downsample(hr: torch.Tensor) -> torch.Tensor:
    """Downsampling by the scale: antialiased bicubic (``interpolate(mode='bicubic',
    antialias=True)``, a cubic kernel stretched 3x) or box filter (area)."""
    if DOWNSAMPLING["mode"] == "area":
        return F.avg_pool2d(hr, SCALE)
    return F.interpolate(hr, scale_factor=1 / SCALE, mode="bicubic", antialias=True)


def bicubic(lr: torch.Tensor) -> torch.Tensor:
    return F.interpolate(lr, scale_factor=SCALE, mode="bicubic", align_corners=False)


class ESPCN(nn.Module):
    """conv 5x5 (64) - act - conv 3x3 (32) - act - sub-pixel conv 3x3 (r**2), 'same' sizes;
    ``residual``: plus bicubic upsampling of the input."""

    def __init__(self, scale: int = SCALE, residual: bool = False, act: str = "tanh") -> None:
        super().__init__()
        self.residual = residual
        unit = {"tanh": nn.Tanh, "relu": nn.ReLU}[act]
        self.body = nn.Sequential(
            nn.Conv2d(1, 64, 5, padding=2, padding_mode="replicate"),
            unit(),
            nn.Conv2d(64, 32, 3, padding=1, padding_mode="replicate"),
            unit(),
            SubPixelConv2d(32, 1, 3, scale, padding=1, padding_mode="replicate"),
        )

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        base = bicubic(lr) if self.residual else 0.5
        return self.body(lr - 0.5) + base


def psnr(pred: torch.Tensor, hr: torch.Tensor, shave: int = SCALE) -> float:
    """PSNR in dB of ``pred`` clipped to [0, 1] against ``hr``, a border of ``shave`` removed."""
    s = (..., slice(shave, -shave), slice(shave, -shave))
    mse = float(((pred.clamp(0, 1) - hr)[s] ** 2).mean())
    return 10 * math.log10(1.0 / mse)


def crops(images: list[torch.Tensor], batch: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """``batch`` random HR crops of ``size`` (a multiple of the scale, aligned to the LR grid),
    randomly flipped and turned."""
    out = []
    for _ in range(batch):
        img = images[int(torch.randint(len(images), (1,), generator=gen))]
        h, w = img.shape[-2] // SCALE, img.shape[-1] // SCALE
        n = size // SCALE
        i = int(torch.randint(h - n + 1, (1,), generator=gen)) * SCALE
        j = int(torch.randint(w - n + 1, (1,), generator=gen)) * SCALE
        c = img[..., i : i + size, j : j + size]
        if int(torch.randint(2, (1,), generator=gen)):
            c = c.flip(-1)
        out.append(torch.rot90(c, int(torch.randint(4, (1,), generator=gen)), (-2, -1)))
    return torch.cat(out)


def train(
    model: nn.Module, images: list[torch.Tensor], steps: int, batch: int, seed: int, lr: float
) -> None:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    bar = tqdm(range(steps), desc="ESPCN training", disable=None)
    for step in bar:
        hr = crops(images, batch, 17 * SCALE, gen)
        loss = F.mse_loss(model(downsample(hr)), hr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0:
            bar.set_postfix(loss=f"{loss.item():.2e}")


def figure(name: str, hr: torch.Tensor, sr: torch.Tensor, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = hr.shape[-2:]
    i, j, n = (h // 2 - 48) // SCALE * SCALE, (w // 2 - 48) // SCALE * SCALE, 96
    lr = downsample(hr)
    panels = {
        "LR (nearest x3)": F.interpolate(lr, scale_factor=SCALE, mode="nearest"),
        f"bicubic {psnr(bicubic(lr), hr):.2f} dB": bicubic(lr),
        f"ESPCN {psnr(sr, hr):.2f} dB": sr,
        "HR": hr,
    }
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
    for ax, (title, img) in zip(axes, panels.items()):
        ax.imshow(img[0, 0, i : i + n, j : j + n].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    fig.suptitle(f"x3 super-resolution, held-out '{name}' (96x96 HR crop)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8000, help="training steps (default 8000)")
    parser.add_argument("--batch", type=int, default=32, help="crops per step (default 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    parser.add_argument(
        "--residual", action=argparse.BooleanOptionalAction, default=True,
        help="add bicubic to the output (default; --no-residual predicts the image, as the paper)",
    )  # fmt: skip
    parser.add_argument("--downsampling", choices=("bicubic", "area"), default="bicubic")
    parser.add_argument("--activation", choices=("tanh", "relu"), default="relu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", type=Path, default=Path("out/espcn.png"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    DOWNSAMPLING["mode"] = args.downsampling
    torch.manual_seed(args.seed)
    train_images = [load_gray(n) for n in TRAIN]
    model = ESPCN(residual=args.residual, act=args.activation)
    t0 = time.perf_counter()
    train(model, train_images, args.steps, args.batch, args.seed, args.lr)
    seconds = time.perf_counter() - t0
    print(f"trained {args.steps} steps of {args.batch} crops in {seconds:.0f} s "
          f"({args.threads} thread(s))")  # fmt: skip
    print(f"{'held-out image':<16}{'size':>10}{'bicubic dB':>12}{'ESPCN dB':>10}{'gain dB':>9}")
    gains, rows = [], []
    model.eval()
    with torch.no_grad():
        for name in TEST:
            hr = load_gray(name)
            lr = downsample(hr)
            sr = model(lr)
            pb, pe = psnr(bicubic(lr), hr), psnr(sr, hr)
            gains.append(pe - pb)
            rows.append((pb, pe))
            size = f"{hr.shape[-2]}x{hr.shape[-1]}"
            print(f"{name:<16}{size:>10}{pb:>12.2f}{pe:>10.2f}{pe - pb:>+9.2f}")
            if name == TEST[0]:
                figure(name, hr, sr, args.out)
    mb, me = (float(np.mean(c)) for c in zip(*rows))
    gain = float(np.mean(gains))
    print(f"{'mean':<16}{'':>10}{mb:>12.2f}{me:>10.2f}{gain:>+9.2f}")
    verdict = "met" if gain >= 1.0 else "NOT met"
    print(f"issue 17 goal (ESPCN >= bicubic + 1 dB, mean over held-out images): {verdict}")
    print(f"side-by-side picture: {args.out}")


if __name__ == "__main__":
    main()
