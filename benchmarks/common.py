"""Shared pieces of the benchmark scripts: the machine header and the Hyena FFT reference.

The scripts run as ``python benchmarks/NAME.py`` (this folder is then first on ``sys.path``),
so they import it as ``from common import ...``.
"""

from __future__ import annotations

import datetime
import os
import platform

import numpy as np
import torch


def machine_info(threads: int | None = None) -> str:
    """Date, platform, CPU count, load average, numpy/torch versions and torch threads."""
    threads = torch.get_num_threads() if threads is None else threads
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')}\n"
        f"platform: {platform.platform()}, python {platform.python_version()}, "
        f"cpus: {os.cpu_count()}, load average: {load:.1f}\n"
        f"numpy {np.__version__}, torch {torch.__version__}, torch threads: {threads}"
    )


def hyena_fftconv(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The Hyena reference causal convolution: rfft of both at n = 2L, multiply, irfft, slice
    to L (written as Hyena's ``fftconv``: the kernel scaled by 1/n, ``norm='forward'``)."""
    L = u.shape[-1]
    n = 2 * L
    k_f = torch.fft.rfft(k, n=n) / n
    u_f = torch.fft.rfft(u, n=n)
    return torch.fft.irfft(u_f * k_f, n=n, norm="forward")[..., :L]
