"""``linear_interpreter``: a network at one input as a linear operator plus an offset."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla
import torch
from torch import nn

from ..validation import check_finite, check_positive_int, describe
from .graph import FrozenNetwork, freeze
from .layers import UnbatchedInputError

__all__ = ["FrozenOperator", "LinearInterpretation", "linear_interpreter"]

#: largest number of entries :meth:`LinearInterpretation.vote_maps` returns
_VOTE_LIMIT = 2**26
#: largest relative mismatch :math:`\|Ax + c - f\| / \max(\|f\|, \|Ax\|, \|c\|)` accepted
#: as rounding: :math:`\sqrt{\epsilon}` of float64 (about 1.5e-8); exact freezes give 1e-16
_REPLAY_TOL = float(np.sqrt(np.finfo(np.float64).eps))


class FrozenOperator(spla.LinearOperator):
    r""":math:`A(x)` as a :class:`scipy.sparse.linalg.LinearOperator` (float64).

    Vectors are flat per sample, in C order of the network's input (``in_shape``) and output
    (``out_shape``); :meth:`matmat` applies the frozen network to all columns as one batch.
    Complex vectors are applied as real and imaginary parts.

    Parameters
    ----------
    network : FrozenNetwork
        The frozen steps (from :func:`linear_interpreter`).
    device : torch.device
        Where the products run (that of the frozen network's tensors).

    Notes
    -----
    With the frozen steps :math:`L_1, \dots, L_K` of the network's graph in order (each linear:
    a convolution, a mask, a gather, ...), :math:`A = L_K \cdots L_1` along every path of the
    graph, summed where paths join (residual additions); :math:`A^T = L_1^T \cdots L_K^T` is
    replayed in reverse order with each step's transpose (transposed convolution,
    scatter-add, split), summing the cotangents of a node read by several steps. Nothing is
    materialised: a product costs about one forward pass of the network.

    References
    ----------
    .. [1] P. Navarrete Michelini, H. Liu, Y. Lu and X. Jiang, "A Tour of Convolutional
       Networks Guided by Linear Interpreters", ICCV 2019, arXiv:1908.05168.

    Examples
    --------
    Three vectors through :math:`A` as one batch equal three products:

    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from sciconv.interpret import linear_interpreter
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> A = linear_interpreter(nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU()), torch.randn(1, 2, 9)).A
    >>> A.shape
    (21, 18)
    >>> V = np.random.default_rng(0).standard_normal((18, 3))
    >>> bool(np.allclose(A @ V, np.stack([A @ v for v in V.T], axis=1), rtol=0, atol=1e-15))
    True
    """

    def __init__(self, network: FrozenNetwork, device: torch.device) -> None:
        self.network, self.device = network, device
        n = int(np.prod(network.in_shape))
        m = int(np.prod(network.out_shape))
        super().__init__(dtype=np.dtype(np.float64), shape=(m, n))

    def _run(self, X: np.ndarray, adjoint: bool) -> np.ndarray:
        if np.iscomplexobj(X):
            return self._run(X.real, adjoint) + 1j * self._run(X.imag, adjoint)
        net = self.network
        shape = net.out_shape if adjoint else net.in_shape
        v = torch.from_numpy(np.ascontiguousarray(X.T, dtype=np.float64)).to(self.device)
        with torch.no_grad():
            v = v.reshape(X.shape[1], *shape)
            y = net.adjoint(v) if adjoint else net.linear(v)
        return y.reshape(X.shape[1], -1).T.cpu().numpy()

    def _matmat(self, X: np.ndarray) -> np.ndarray:
        return self._run(np.asarray(X), adjoint=False)

    def _rmatmat(self, X: np.ndarray) -> np.ndarray:
        return self._run(np.asarray(X), adjoint=True)

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(x).reshape(-1, 1)).reshape(-1)

    def _rmatvec(self, y: np.ndarray) -> np.ndarray:
        return self._rmatmat(np.asarray(y).reshape(-1, 1)).reshape(-1)


class LinearInterpretation:
    r"""A network frozen at one input: :math:`f(x) = A(x)\,x + c(x)`.

    Built by :func:`linear_interpreter`.

    Parameters
    ----------
    network : FrozenNetwork
        The frozen steps of the network at ``x``.
    device : torch.device
        Where the products run.
    x, f : numpy.ndarray
        The input and the network's own output at it (float64, flat).

    Attributes
    ----------
    A : FrozenOperator
        The linear part, ``(m, n)`` with ``m = prod(out_shape)``, ``n = prod(in_shape)``.
    x, f, c : numpy.ndarray
        The input, the network's output :math:`f(x)` (its own forward, float64) and the offset
        :math:`c(x)` (the frozen network replayed with its biases at input 0), flat.
    in_shape, out_shape : tuple of int
        One sample's input and output shapes (no batch axis).
    network : FrozenNetwork
        The frozen steps, for torch-level products on batches.

    Notes
    -----
    The bias share is :math:`\|c(x)\|_2/\|f(x)\|_2` and the reconstruction error
    :math:`\|Ax + c - f\|_2/\|f\|_2`; where :math:`f(x) = 0` both take the convention
    :math:`0/0 = 0`, :math:`t/0 = \infty` for the share and the absolute error
    :math:`\|Ax + c\|_2` for the reconstruction. The vote map of output :math:`k` is
    :math:`V_k = A_{k,:} \odot x` reshaped as the input: pixel :math:`p`'s contribution to
    :math:`f_k`, with :math:`\sum_p V_{k,p} = f_k - c_k`. Rows of :math:`A` are adjoint
    products :math:`A^T e_k`, columns forward products :math:`A e_j`; singular triplets come from
    ARPACK through ``scipy.sparse.linalg.svds`` on the matrix-free operator.

    References
    ----------
    .. [1] P. Navarrete Michelini, H. Liu, Y. Lu and X. Jiang, "A Tour of Convolutional
       Networks Guided by Linear Interpreters", ICCV 2019, arXiv:1908.05168 (rows and columns
       as images, pixel-wise votes of classifiers, the weight of bias terms).

    Examples
    --------
    A column of a 1D convolution network is its response to one impulse:

    >>> import torch
    >>> from torch import nn
    >>> from sciconv.interpret import linear_interpreter
    >>> conv = nn.Conv1d(1, 1, 3, padding=1, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.copy_(torch.tensor([[[1.0, 2.0, 3.0]]]))
    >>> li = linear_interpreter(conv, torch.ones(1, 1, 6))
    >>> li.column_image((0, 2)).tolist()  # impulse at position 2: the kernel, flipped
    [[0.0, 3.0, 2.0, 1.0, 0.0, 0.0]]
    >>> li.row_image(0).tolist(), li.bias_share
    ([[2.0, 3.0, 0.0, 0.0, 0.0, 0.0]], 0.0)
    """

    def __init__(
        self, network: FrozenNetwork, device: torch.device, x: np.ndarray, f: np.ndarray
    ) -> None:
        self.network = network
        self.in_shape, self.out_shape = network.in_shape, network.out_shape
        self.A = FrozenOperator(network, device)
        self.x, self.f = x, f
        with torch.no_grad():
            zero = torch.zeros(1, *network.in_shape, dtype=torch.float64, device=device)
            self.c = network.affine(zero).reshape(-1).cpu().numpy()

    def __repr__(self) -> str:
        return (
            f"LinearInterpretation(A: {self.A.shape[0]}x{self.A.shape[1]}, in_shape="
            f"{self.in_shape}, out_shape={self.out_shape}, {len(self.network.steps)} frozen "
            f"steps, bias_share={self.bias_share:.3g})"
        )

    @property
    def is_jacobian(self) -> bool:
        """True when no unit was frozen as a gate: the network is piecewise linear around
        ``x`` and :math:`A(x)` is its Jacobian there (else it is the gated linear part)."""
        return not any(step.gate for _, step, _ in self.network.steps)

    @property
    def bias_share(self) -> float:
        r""":math:`\|c(x)\| / \|f(x)\|`: how much of the output the biases carry (0 when
        both vanish, ``inf`` when only :math:`f` does)."""
        c, f = float(np.linalg.norm(self.c)), float(np.linalg.norm(self.f))
        if f == 0.0:
            return 0.0 if c == 0.0 else float("inf")
        return c / f

    @property
    def reconstruction_error(self) -> float:
        r""":math:`\|A x + c - f\| / \|f\|` (rounding level when the freeze is exact); the
        absolute error :math:`\|A x + c\|` where :math:`f = 0`."""
        err = float(np.linalg.norm(self.A @ self.x + self.c - self.f))
        f = float(np.linalg.norm(self.f))
        return err / f if f > 0.0 else err

    def _check_replay(self) -> None:
        """Raise when the frozen network does not reproduce the model's own output at ``x``
        (an operation whose eager effect the replay cannot see)."""
        ax = self.A @ self.x
        err = float(np.linalg.norm(ax + self.c - self.f))
        scale = max(float(np.linalg.norm(v)) for v in (self.f, ax, self.c))
        if err > _REPLAY_TOL * scale:
            raise ValueError(
                f"the frozen network does not reproduce the model at x: |A x + c - f| = "
                f"{err:.3g} against a scale of {scale:.3g} (tolerance {_REPLAY_TOL:.2g} "
                f"relative); the model's forward does something the fx graph does not record "
                f"(in-place mutation, global state, randomness)"
            )

    def row_image(self, i: int | tuple[int, ...]) -> np.ndarray:
        """Row ``i`` of :math:`A` (flat index or index into ``out_shape``) as an input-shaped
        array: the weights output ``i`` gives to each input entry."""
        e = np.zeros(self.A.shape[0])
        e[self._flat("i", i, self.out_shape)] = 1.0
        return self.A.rmatvec(e).reshape(self.in_shape)

    def column_image(self, j: int | tuple[int, ...]) -> np.ndarray:
        """Column ``j`` of :math:`A` (flat index or index into ``in_shape``) as an
        output-shaped array: the response to a unit impulse at input entry ``j``."""
        e = np.zeros(self.A.shape[1])
        e[self._flat("j", j, self.in_shape)] = 1.0
        return self.A.matvec(e).reshape(self.out_shape)

    @staticmethod
    def _flat(name: str, index: Any, shape: tuple[int, ...]) -> int:
        size = int(np.prod(shape))
        if isinstance(index, tuple):
            try:
                return int(np.ravel_multi_index(index, shape))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{name} must index shape {shape}, got {index!r}") from exc
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"{name} must be an int or a tuple of ints, got {describe(index)}")
        if not 0 <= index < size:
            raise ValueError(f"{name} must be in [0, {size}), got {index}")
        return int(index)

    def vote_maps(self) -> np.ndarray:
        r"""Per-input-entry votes for every output: ``V[k] = A[k, :] * x`` as input-shaped
        arrays, shape ``(m, *in_shape)``.

        Entry ``V[k, p]`` is the contribution of input pixel ``p`` to output (class logit)
        ``k``; the votes of output ``k`` sum to :math:`(A x)_k = f_k - c_k`. The rows are ``m``
        adjoint products in one batch.
        """
        m, n = self.A.shape
        if m * n > _VOTE_LIMIT:
            raise ValueError(
                f"vote_maps would hold {m} x {n} = {m * n} entries (more than {_VOTE_LIMIT}): "
                f"it is meant for classifiers; use row_image(i) * x for the outputs you need"
            )
        rows = self.A.rmatmat(np.eye(m))  # (n, m)
        return (rows.T * self.x).reshape(self.A.shape[0], *self.in_shape)

    def singular_vectors(
        self, k: int = 6, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``k`` largest singular triplets of :math:`A` by ``scipy.sparse.linalg.svds``
        (matrix-free), largest first: ``(s, U, V)`` with ``U`` of shape ``(k, *out_shape)``
        and ``V`` of shape ``(k, *in_shape)`` (right singular vectors: input images)."""
        k = check_positive_int("k", k)
        if k >= min(self.A.shape):
            raise ValueError(f"k must be < min(A.shape) = {min(self.A.shape)}, got {k}")
        v0 = np.random.default_rng(seed).standard_normal(min(self.A.shape))
        u, s, vt = spla.svds(self.A, k=k, v0=v0)
        order = np.argsort(s)[::-1]
        return (
            s[order],
            u[:, order].T.reshape(k, *self.out_shape),
            vt[order].reshape(k, *self.in_shape),
        )


def linear_interpreter(model: nn.Module, x: Any) -> LinearInterpretation:
    r"""Freeze ``model``'s non-linear units at ``x``: :math:`f(x) = A(x)\,x + c(x)`.

    Parameters
    ----------
    model : torch.nn.Module
        A ``torch.fx``-traceable model (``nn.Sequential``, the containers
        :class:`~sciconv.interpret.Residual`/:class:`~sciconv.interpret.Concat`, or a
        forward without data-dependent control flow) in eval mode, built of the layer
        modules and the functions listed in Notes and nothing else: anything else raises
        :class:`~sciconv.interpret.UnsupportedLayerError`. It is not modified: a float64
        copy is frozen.
    x : torch.Tensor or numpy.ndarray
        One sample with its batch axis, shape ``(1, *in_shape)`` (for a batch, call it once per
        sample: each sample has its own :math:`A(x)`).

    Returns
    -------
    LinearInterpretation
        ``A`` (a matrix-free ``LinearOperator``, float64, on flat per-sample vectors), ``c``,
        ``f``, ``bias_share``, ``is_jacobian``, ``row_image``, ``column_image``, ``vote_maps``,
        ``singular_vectors``.

    Raises
    ------
    UnsupportedLayerError
        A layer, function or method it cannot freeze, named by type and module path.
    ValueError
        ``x`` not of shape ``(1, ...)`` (or missing the batch axis of a convolution or
        pooling layer), not finite or on the 'meta' device, ``x`` the model cannot take, a
        BatchNorm or Dropout in training mode, or a frozen network that does not reproduce
        the model at ``x``: :math:`\|Ax + c - f\| > \sqrt{\epsilon}\,
        \max(\|f\|, \|Ax\|, \|c\|)` with :math:`\epsilon` the float64 machine epsilon.
    TypeError
        ``model`` not a module, not traceable, or of several inputs or outputs.

    Notes
    -----
    Each non-linear unit :math:`\phi` applied to a pre-activation :math:`z` is replaced by a
    diagonal map frozen at the sample, :math:`\phi(z) = D(z)\,z + d`:

    * ReLU, LeakyReLU, PReLU: :math:`D = \mathrm{diag}(1_{z>0} + a\,1_{z\le 0})`; ReLU6 and
      Hardtanh: :math:`D = \mathrm{diag}(1_{lo<z<hi})`, :math:`d` the clipped values; max
      pooling gathers the argmax of each window, nearest upsampling, PixelShuffle, reshapes and
      permutations copy entries. These units are piecewise linear, so :math:`A(x)` is the
      Jacobian :math:`\partial f/\partial x` (what ``torch.func.jvp`` computes).
    * Gated units are frozen as gates :math:`g(z)\odot z`: SiLU :math:`g=\sigma(z)`, GELU
      :math:`g=\Phi(z)` (or its tanh form), tanh :math:`g=\tanh(z)/z`, and sigmoid as
      :math:`\tfrac12 + g z` with :math:`g = \tanh(z/2)/(2z)` (the :math:`\tfrac12` goes to
      :math:`c`). The decomposition is still exact at the sample, but :math:`A(x)` is then
      *not* the Jacobian: the gate's own derivative is dropped, as in LinearScope.

    Affine layers stay as they are: convolutions (any stride, dilation, groups, zero,
    circular or reflect padding; as :class:`sciconv.ConvOperator`, whose adjoint is the
    transposed convolution) and transposed convolutions, Linear, BatchNorm in eval mode
    (:math:`\gamma (z-\mu)/\sqrt{\sigma^2+\epsilon} + \beta`), average pooling (plain and
    adaptive) and linear/bilinear/bicubic/trilinear upsampling (one matrix per axis),
    additions, subtractions and products by constants, concatenation. :math:`A(x)` is the
    composition of the steps without their offsets, applied matrix-free forwards and, in
    reverse order with each step's transpose, backwards. :math:`c(x)` is the same frozen
    network replayed *with* its offsets at input 0, computed on its own path; the identity
    :math:`A x + c = f` (checked by ``reconstruction_error``) is then a test, not a
    definition, and it is checked before returning (see Raises).

    What is supported, exactly. Layer modules: the ``torch.nn`` layers above (Conv,
    ConvTranspose, Linear, BatchNorm, Dropout and Identity in eval mode, Flatten, Unflatten,
    ReLU, LeakyReLU, PReLU, ReLU6, Hardtanh, SiLU, GELU, Sigmoid, Tanh, max/average/adaptive
    pooling, Upsample, PixelShuffle, PixelUnshuffle, ChannelShuffle). Functions and tensor
    methods in a forward: ``+``, ``-`` and ``*``, ``/`` by a constant, ``torch.cat``, indexing,
    ``chunk``/``split``/``unbind``/``tensor_split`` read with ``[i]``, ``view``, ``reshape``,
    ``flatten``, ``unflatten``, ``squeeze``, ``unsqueeze``, ``permute``, ``transpose``,
    ``contiguous``, ``clone``, ``detach``, ``.to()`` keeping dtype and device,
    ``F.pixel_shuffle``/``F.pixel_unshuffle`` and the units ``F.relu``, ``F.leaky_relu``,
    ``F.relu6``, ``F.hardtanh``, ``torch.sigmoid``, ``torch.tanh``, ``F.silu``, ``F.gelu``.
    Not supported (they raise): the functional forms of layers (``F.conv*``, ``F.max_pool*``,
    ``F.avg_pool*``, ``F.interpolate``, ``F.pad``, ``F.batch_norm``, ``F.dropout``), ``@``,
    ``torch.stack``, ``.expand``, ``.repeat``, ``.flip``, ELU and other units, in-place methods
    (``add_``) and ``inplace=True`` on a tensor that another node also reads.

    References
    ----------
    .. [1] P. Navarrete Michelini, H. Liu, Y. Lu and X. Jiang, "A Tour of Convolutional
       Networks Guided by Linear Interpreters" (LinearScope), ICCV 2019, arXiv:1908.05168.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from sciconv import dottest
    >>> from sciconv.interpret import linear_interpreter
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    ...                     nn.Flatten(), nn.Linear(64, 3)).eval()
    >>> li = linear_interpreter(net, torch.randn(1, 1, 8, 8))
    >>> li.A.shape, li.in_shape, li.out_shape
    ((3, 64), (1, 8, 8), (3,))
    >>> bool(li.reconstruction_error < 1e-12), bool(dottest(li.A, rng=0) < 1e-12)
    (True, True)
    >>> li.row_image(2).shape, li.vote_maps().shape
    ((1, 8, 8), (3, 1, 8, 8))
    >>> bool(np.allclose(li.vote_maps().sum(axis=(1, 2, 3)), li.f - li.c))
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {describe(model)}")
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch tensor or numpy array, got {describe(x)}")
    if x.ndim < 2 or x.shape[0] != 1:
        raise ValueError(
            f"x must be one sample with a leading batch axis of 1, shape (1, *in_shape), "
            f"got {describe(x)}"
        )
    if x.device.type == "meta" or any(p.is_meta for p in model.parameters()):
        raise ValueError(
            f"x and model must hold data, not be on the 'meta' device, got x of {describe(x)}"
        )
    if x.is_complex() or not (x.dtype.is_floating_point or x.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"x must hold real numbers, got {describe(x)}")
    check_finite("x", x)
    for name, module in model.named_modules():
        if module.training and isinstance(
            module, nn.modules.batchnorm._BatchNorm | nn.modules.dropout._DropoutNd
        ):
            cls = type(module)
            raise ValueError(
                f"layer '{name}' ({cls.__module__}.{cls.__qualname__}) is in training mode, "
                f"which is not a fixed map of one sample; call model.eval() first"
            )
    model64 = copy.deepcopy(model).to(torch.float64)
    param = next(iter(model64.parameters()), None)
    device = param.device if param is not None else x.device
    x = x.detach().to(device=device, dtype=torch.float64).clone()  # never the caller's x
    with torch.no_grad():
        try:
            f = model64(x.clone())
        except (RuntimeError, ValueError, IndexError) as exc:
            raise ValueError(f"model cannot be evaluated at x of {describe(x)}: {exc}") from exc
        try:
            network, _ = freeze(model64, x)
        except UnbatchedInputError as exc:
            spatial = {1: "L", 2: "H, W", 3: "D, H, W"}[exc.d]
            raise ValueError(
                f"x must be one sample with its batch axis, shape (1, C, {spatial}), got "
                f"{describe(x)} ({exc}); add the batch axis with x[None]"
            ) from exc
    if not isinstance(f, torch.Tensor) or tuple(f.shape[1:]) != network.out_shape:
        raise TypeError(f"model must return one tensor of shape (1, ...), got {describe(f)}")
    result = LinearInterpretation(
        network, device, x.reshape(-1).cpu().numpy(), f.reshape(-1).cpu().numpy()
    )
    result._check_replay()
    return result
