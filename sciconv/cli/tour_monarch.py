"""Tour section: the DFT as matmuls (Monarch), partial and frequency-sparse convolutions."""

from __future__ import annotations

import numpy as np

from ._common import Check

Lines = list


def tour_lines() -> Lines:
    """monarch_fft vs torch.fft, the Monarch convolver vs the FFT one, and the sparse
    convolutions vs their modified-kernel references, as checks (about a second)."""
    import scipy.linalg
    import torch

    from sciconv import FFTConvolver, dottest
    from sciconv.monarch import monarch_factors, monarch_fft, monarch_rfft
    from sciconv.monarch.sparse import FreqSparseConv, PartialConv, freq_sparse_mask

    gen = torch.Generator().manual_seed(0)
    lines: Lines = []
    n = 2**12
    x = torch.randn(4, n, dtype=torch.complex128, generator=gen)
    X = torch.fft.fft(x)
    for order in (2, 3):
        err = float((monarch_fft(x, order=order) - X).norm() / X.norm())
        lines.append(
            Check.at_most(
                f"monarch_fft N={n} factors {monarch_factors(n, order)} vs torch.fft.fft "
                f"(relative)",
                err,
                1e-12,
            )
        )
    xr = x.real.contiguous()
    err = float((monarch_rfft(xr) - torch.fft.rfft(xr)).norm() / torch.fft.rfft(xr).norm())
    lines.append(Check.at_most("monarch_rfft (half-length complex transform) vs rfft", err, 1e-12))

    rng = np.random.default_rng(0)
    L = 1000
    u, k = rng.standard_normal((3, L)), rng.standard_normal(L)
    ref = FFTConvolver(k, L, "causal")(u)
    mono = FFTConvolver(k, L, "causal", method="monarch")(u)
    err = np.linalg.norm(mono - ref) / np.linalg.norm(ref)
    lines.append(Check.at_most(f"Monarch causal convolver vs FFT convolver, L={L}", err, 1e-12))

    P = PartialConv(k, L, 100)
    err = np.linalg.norm(P @ u[0] - np.convolve(u[0], k[:100])[:L]) / np.linalg.norm(P @ u[0])
    lines.append(Check.at_most("partial convolution (K=100) vs np.convolve of k[:100]", err, 1e-12))

    n_s = 200
    for s in (0.5, 0.9):
        A = FreqSparseConv(k[:n_s], n_s, s)
        mask, _ = freq_sparse_mask(A.N, s)
        kt = np.fft.ifft(mask.numpy() * np.fft.fft(k[:n_s], A.N)).real  # masked kernel
        dense = scipy.linalg.circulant(kt)[:n_s, :n_s]
        err = np.linalg.norm(A @ u[0, :n_s] - dense @ u[0, :n_s]) / np.linalg.norm(
            dense @ u[0, :n_s]
        )
        lines.append(
            f"frequency-sparse {s:.0%}: {A.sparsity:.1%} of the spectrum zeroed, "
            f"{A.kept_blocks} of {A.factors[1]} grid blocks computed"
        )
        lines.append(
            Check.at_most(f"frequency-sparse {s:.0%} vs circulant of the masked kernel", err, 1e-12)
        )
        lines.append(
            Check.at_most(f"frequency-sparse {s:.0%} dot-test gap", dottest(A, rng=0), 1e-12)
        )
    return lines
