"""Pretrained networks shipped inside the package: checksummed, loaded without pickle code."""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import re
from pathlib import Path
from typing import Any

import torch

from .learned import StencilNet
from .model import MultigridNet, count_parameters

__all__ = ["WEIGHTS_DIR", "WeightsError", "available", "load_pretrained", "save_pretrained"]

#: Folder of the shipped ``NAME.pt`` (state dict) + ``NAME.json`` (metadata) pairs.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class WeightsError(ValueError):
    """A weight file is missing, corrupted, does not match its checksum or its model.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     load_pretrained("poisson2d", folder=folder)
    Traceback (most recent call last):
    ...
    solvers.network.registry.WeightsError: no pretrained model 'poisson2d' in ... (available: [])
    >>> issubclass(WeightsError, ValueError)
    True
    """


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _paths(name: str, folder: str | Path | None) -> tuple[Path, Path]:
    if not isinstance(name, str) or not _NAME.match(name):
        raise WeightsError(f"name must be a plain file stem like 'poisson2d', got {name!r}")
    root = WEIGHTS_DIR if folder is None else Path(folder)
    return root / f"{name}.pt", root / f"{name}.json"


def available(folder: str | Path | None = None) -> list[str]:
    """Names of the pretrained models in ``folder`` (default: the package's).

    Examples
    --------
    >>> {"poisson2d", "poisson3d", "stencil2d"} <= set(available())
    True
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     available(folder)
    []
    """
    root = WEIGHTS_DIR if folder is None else Path(folder)
    return sorted(p.stem for p in root.glob("*.json") if p.with_suffix(".pt").exists())


def save_pretrained(
    model: MultigridNet | StencilNet,
    name: str,
    metadata: dict[str, Any],
    folder: str | Path,
) -> dict[str, Any]:
    """Write ``NAME.pt`` (the state dict) and ``NAME.json`` (config, sha256, ``metadata``).

    ``folder`` is required: nothing is written into the installed package unless its weights
    folder (:data:`WEIGHTS_DIR`) is passed explicitly.

    Examples
    --------
    >>> import tempfile
    >>> _ = torch.manual_seed(0)
    >>> net = MultigridNet(2, width=4, depth=1)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     meta = save_pretrained(net, "tiny", {"command": "doctest"}, folder=folder)
    ...     back = load_pretrained("tiny", folder=folder)
    ...     names = available(folder)
    >>> names, meta["parameters"], meta["config"]["width"], len(meta["sha256"])
    (['tiny'], 1148, 4, 64)
    >>> saved, loaded = net.state_dict(), back.state_dict()
    >>> all(torch.equal(saved[k], loaded[k]) for k in saved)
    True
    """
    if folder is None:
        raise ValueError(
            "folder is required (got None): save_pretrained never writes into the installed "
            f"package unless you pass its weights folder, {WEIGHTS_DIR}, explicitly"
        )
    pt, js = _paths(name, folder)
    pt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, pt)
    meta = {"name": name, "config": model.config(), "parameters": count_parameters(model),
            "sha256": _sha256(pt), "bytes": pt.stat().st_size, **metadata}  # fmt: skip
    js.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


#: Model classes by the ``kind`` recorded in a config (absent: ``multigrid``).
_KINDS: dict[str, type[torch.nn.Module]] = {"multigrid": MultigridNet, "stencil": StencilNet}


def load_pretrained(
    name: str, *, folder: str | Path | None = None, device: Any = None, dtype: Any = None
) -> MultigridNet | StencilNet:
    """Load the pretrained model ``name`` after checking its file against the stored sha256.

    Raises
    ------
    WeightsError
        When a file is missing, the checksum differs (a corrupted or replaced file), the file
        is not a plain tensor state dict (it is read with ``torch.load(weights_only=True)``,
        which refuses to run pickled code), or its tensors do not fit the recorded config.

    Notes
    -----
    The checksum is verified *before* anything is unpickled, and the restricted unpickler
    only rebuilds tensors and plain containers: a file carrying arbitrary code is rejected.

    Examples
    --------
    The shipped 2D network of the DCDM map, in evaluation mode:

    >>> net = load_pretrained("poisson2d")
    >>> type(net).__name__, net.training, count_parameters(net)
    ('MultigridNet', False, 24080)
    >>> x = torch.zeros(1, 4, 8, 8)
    >>> x[:, 0], x[:, 1] = torch.randn(8, 8), 1.0  # a residual on an all-fluid grid
    >>> tuple(net(x).shape)
    (1, 1, 8, 8)

    A modified file no longer matches its recorded checksum:

    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for ext in (".pt", ".json"):
    ...         _ = shutil.copy(WEIGHTS_DIR / f"poisson2d{ext}", folder)
    ...     with open(Path(folder) / "poisson2d.pt", "ab") as fh:
    ...         _ = fh.write(b"tampered")
    ...     load_pretrained("poisson2d", folder=folder)
    Traceback (most recent call last):
    ...
    solvers.network.registry.WeightsError: checksum mismatch for ...
    """
    pt, js = _paths(name, folder)
    if not js.exists() or not pt.exists():
        raise WeightsError(
            f"no pretrained model {name!r} in {pt.parent} (available: {available(folder)})"
        )
    try:
        meta = json.loads(js.read_text())
        config, expected = dict(meta["config"]), str(meta["sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WeightsError(f"{js} is not valid metadata (config, sha256): {exc}") from exc
    actual = _sha256(pt)
    if actual != expected:
        raise WeightsError(
            f"checksum mismatch for {pt}: sha256 {actual} but {js.name} records {expected}; "
            "the file is corrupted or was replaced (regenerate it with the recorded command: "
            f"{meta.get('command', '?')})"
        )
    try:
        state = torch.load(pt, map_location="cpu", weights_only=True)
    except Exception as exc:  # the restricted unpickler raises UnpicklingError/RuntimeError
        raise WeightsError(f"{pt} is not a plain tensor state dict: {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{pt} does not hold a dict of tensors")
    kind = config.pop("kind", "multigrid")
    if kind not in _KINDS:
        raise WeightsError(f"{js} names an unknown model kind {kind!r} (known: {sorted(_KINDS)})")
    _check_config(js, pt, kind, config, state)
    model = _KINDS[kind](**config, device=device, dtype=dtype)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsError(f"{pt} does not fit the model config {config}: {exc}") from exc
    model.eval()
    return model


def _check_config(js: Path, pt: Path, kind: str, config: dict[str, Any], state: dict) -> None:
    """Refuse a config (not covered by the checksum) that the tensors of ``pt`` do not fit.

    Known keys only, plain numbers, and every tensor shape checked on torch's ``meta`` device
    (no memory) before the model is built: an edited ``width = 10**6`` is a ``WeightsError``
    naming the file, never a huge allocation.
    """
    cls = _KINDS[kind]
    known = set(inspect.signature(cls.__init__).parameters) - {"self", "device", "dtype"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise WeightsError(
            f"{js}: config has unknown key(s) {unknown} for a {kind} model (known: {sorted(known)})"
        )
    flags = {k for k, v in inspect.signature(cls.__init__).parameters.items()
             if isinstance(v.default, bool)}  # fmt: skip
    for key, value in config.items():
        if key == "omega":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and math.isfinite(value)
        elif key in flags:
            ok = isinstance(value, bool)
        else:
            ok = (value is None and key == "max_levels") or (
                isinstance(value, int) and not isinstance(value, bool) and value >= 1
            )
        if not ok:
            what = "a bool" if key in flags else "a positive integer"
            what = "a finite number" if key == "omega" else what
            raise WeightsError(f"{js}: config {key} must be {what}, got {value!r}")
    # each residual unit holds its own tensors: a depth beyond the tensor count cannot fit
    if config.get("depth", 1) > len(state):
        raise WeightsError(
            f"{js}: config depth={config['depth']} does not fit {pt.name} ({len(state)} tensors)"
        )
    try:
        meta = cls(**config, device="meta")
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{js}: invalid model config {config}: {exc}") from exc
    want = {k: tuple(v.shape) for k, v in meta.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in state.items()}
    if want != have:
        diff = sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))
        raise WeightsError(
            f"{pt} does not fit the model config of {js.name} {config}: tensors {diff[:4]} "
            f"(config: {[want.get(k) for k in diff[:4]]}, file: {[have.get(k) for k in diff[:4]]})"
        )
