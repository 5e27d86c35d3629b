"""The ``sciconv tour`` section of :mod:`sciconv.streaming`: streaming equals windowed inference
on a valid network, and zero padding is flagged by name and measured."""

from __future__ import annotations

import math
import warnings

from ._common import Check

TOLERANCE = 1e-12


def tour_lines() -> list[str | Check]:
    """A float64 CNN (dilated convs, eval BatchNorm, max pooling) streamed with hop 8 over 20
    hops against windowed inference (window 128), then its zero-padded twin (about 1 s)."""
    import torch
    from torch import nn

    from sciconv.streaming import StreamingInexactWarning, stream, streaming_deviation

    torch.manual_seed(0)

    def net(pad: int) -> nn.Sequential:
        return (
            nn.Sequential(
                nn.Conv1d(1, 8, 5, dilation=2, padding=4 * pad),
                nn.BatchNorm1d(8),
                nn.ReLU(),
                nn.MaxPool1d(2),
                nn.Conv1d(8, 1, 3, padding=pad),
            )
            .double()
            .eval()
        )

    hop, window = 8, 128
    x = torch.randn(1, 1, window + 20 * hop, dtype=torch.float64)
    valid = net(0)
    online = stream(valid, hop, strict=True)
    exact = streaming_deviation(valid, x, hop=hop, window=window)
    padded = net(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StreamingInexactWarning)
        stream(padded, hop)
    named = [str(w.message) for w in caught]
    zeros = streaming_deviation(padded, x, hop=hop, window=window)
    signal = streaming_deviation(padded, x, hop=hop, window=window, padding="signal")
    return [
        f"valid CNN (receptive field {online.receptive_field}, stride {online.stride}), hop "
        f"{hop}, window {window}: streamed vs windowed over {exact.steps} hops, "
        f"max abs diff {exact.max_abs:.1e}",
        Check.at_most(
            "streaming vs windowed inference, max abs diff (float64)", exact.max_abs, 1e-12
        ),
        f"zero-padded twin, streamed as is: NRMSE {100 * zeros.nrmse:.2f} % "
        "(StreamiNNC reports 2.03-3.55 % on its biomedical networks; not directly comparable)",
        f"warning: {named[0][:96]}..." if named else "no warning",
        Check(
            "zero padding is flagged by name and its deviation is > 0 and finite",
            bool(named and "layer [0] Conv1d" in named[0]) and 0 < zeros.nrmse < math.inf,
            f"{len(named)} warning(s), NRMSE {zeros.nrmse:.1e}",
        ),
        Check.at_most(
            "same twin with signal padding vs its valid network, max abs diff",
            signal.max_abs,
            TOLERANCE,
        ),
    ]
