"""HiPPO matrices (LegS, LegT, LagT, FouT, LMU), their normal-plus-low-rank form, S4D inits.

All matrices are float64 numpy arrays for a continuous-time system ``x' = A x + B u``: the
HiPPO operators of [1]_ (LegS, LegT, LagT), the Fourier variant FouT of [3]_, the Legendre
Memory Unit of [4]_, the normal-plus-low-rank form of S4 [2]_ and the diagonal
initialisations of S4D [5]_.

References
----------
.. [1] A. Gu, T. Dao, S. Ermon, A. Rudra and C. Ré, "HiPPO: Recurrent Memory with Optimal
   Polynomial Projections", Advances in Neural Information Processing Systems (NeurIPS),
   2020. arXiv:2008.07669.
.. [2] A. Gu, K. Goel and C. Ré, "Efficiently Modeling Long Sequences with Structured State
   Spaces", International Conference on Learning Representations (ICLR), 2022.
   arXiv:2111.00396.
.. [3] A. Gu, I. Johnson, A. Timalsina, A. Rudra and C. Ré, "How to Train Your HiPPO: State
   Space Models with Generalized Orthogonal Basis Projections", International Conference on
   Learning Representations (ICLR), 2023. arXiv:2206.12037.
.. [4] A. R. Voelker, I. Kajić and C. Eliasmith, "Legendre Memory Units: Continuous-Time
   Representation in Recurrent Neural Networks", Advances in Neural Information Processing
   Systems (NeurIPS), 2019.
.. [5] A. Gu, A. Gupta, K. Goel and C. Ré, "On the Parameterization and Initialization of
   Diagonal State Space Models", Advances in Neural Information Processing Systems
   (NeurIPS), 2022. arXiv:2206.11893.
"""

from __future__ import annotations

import numpy as np

from ..validation import check_choice, check_positive_int

__all__ = ["MEASURES", "S4D_INITS", "hippo", "hippo_rank_correction", "nplr", "s4d_init"]

MEASURES = ("legs", "legt", "lagt", "fout", "lmu")
S4D_INITS = ("lin", "inv", "real", "legs")


def hippo(measure: str, N: int, *, theta: float = 1.0, beta: float = 1.0) -> tuple:
    """State matrix ``A`` (N, N) and input vector ``B`` (N,) of a HiPPO measure.

    Parameters
    ----------
    measure : {'legs', 'legt', 'lagt', 'fout', 'lmu'}
    N : int
        State size (even for 'fout').
    theta : float
        Window length of 'lmu' (the matrices are divided by ``theta``).
    beta : float
        Input scale of 'lagt'.

    Returns
    -------
    A : numpy.ndarray, shape (N, N)
    B : numpy.ndarray, shape (N,)

    Notes
    -----
    With :math:`r_n = \\sqrt{2n+1}` ([1]_, [2]_, [3]_, [4]_):

    * LegS (scaled Legendre): :math:`A_{nk} = -r_n r_k` (n > k), :math:`-(n+1)` (n = k), 0
      (n < k); :math:`B_n = r_n`. Lower triangular, eigenvalues :math:`-1, \\dots, -N`.
    * LegT (translated Legendre, S4's halved convention): :math:`A_{nk} = -\\tfrac12 r_n r_k` for
      :math:`n \\ge k`, :math:`-\\tfrac12 (-1)^{n-k} r_n r_k` for :math:`n < k`;
      :math:`B_n = \\tfrac12 r_n`.
    * LMU (Legendre memory unit, window :math:`\\theta`): :math:`A_{nk} = (2n+1)/\\theta \\cdot
      (-1 \\text{ if } n < k \\text{ else } (-1)^{n-k+1})`, :math:`B_n = (-1)^n (2n+1)/\\theta`.
      Its transfer function :math:`C(sI-A)^{-1}B` with :math:`C_n = 1` is the
      :math:`[N-1/N]` Padé approximant of the delay :math:`e^{-\\theta s}`.
      With :math:`D = \\mathrm{diag}((-1)^n r_n)` and :math:`\\theta = 1`:
      :math:`A_{LegT} = \\tfrac12 D^{-1} A_{LMU} D`, :math:`B_{LegT} = \\tfrac12 D^{-1} B_{LMU}`;
      so LegT is the LMU of window :math:`\\theta = 2` in the basis :math:`D^{-1} x`.
    * LagT (translated Laguerre): :math:`A = \\tfrac12 I - \\mathrm{tril}(\\mathbf 1)`,
      :math:`B = \\beta \\mathbf 1`; eigenvalues all :math:`-\\tfrac12`.
    * FouT (translated Fourier, unit window, state ``[c_0, s_0, c_1, s_1, ...]`` with the
      unused :math:`s_0`): :math:`A = G - e e^T`, :math:`B = e`, where :math:`G` is skew with
      blocks :math:`2\\pi k \\begin{pmatrix}0 & -1\\\\ 1 & 0\\end{pmatrix}` on
      :math:`(c_k, s_k)` and :math:`e = \\phi(0) = (1, 0, \\sqrt2, 0, \\sqrt2, 0, \\dots)`:
      the derivative of the windowed coefficients, with :math:`u(t-1)` reconstructed as
      :math:`e^T x`.

    References
    ----------
    .. [1] A. Gu, T. Dao, S. Ermon, A. Rudra and C. Ré, "HiPPO: Recurrent Memory with Optimal
       Polynomial Projections", Advances in Neural Information Processing Systems (NeurIPS),
       2020. arXiv:2008.07669.
    .. [2] A. Gu, K. Goel and C. Ré, "Efficiently Modeling Long Sequences with Structured State
       Spaces", International Conference on Learning Representations (ICLR), 2022.
       arXiv:2111.00396.
    .. [3] A. Gu, I. Johnson, A. Timalsina, A. Rudra and C. Ré, "How to Train Your HiPPO: State
       Space Models with Generalized Orthogonal Basis Projections", International Conference on
       Learning Representations (ICLR), 2023. arXiv:2206.12037.
    .. [4] A. R. Voelker, I. Kajić and C. Eliasmith, "Legendre Memory Units: Continuous-Time
       Representation in Recurrent Neural Networks", Advances in Neural Information Processing
       Systems (NeurIPS), 2019.

    Examples
    --------
    LegS is lower triangular with eigenvalues ``-1, ..., -N``; the LMU's transfer function
    with ``C = 1`` is a Padé approximant of the delay :math:`e^{-\\theta s}`, exact at
    :math:`s = 0` and close at :math:`s = 1`:

    >>> import numpy as np
    >>> from sciconv.ssm import hippo
    >>> A, B = hippo("legs", 4)
    >>> np.diag(A), bool(np.allclose(np.triu(A, 1), 0))
    (array([-1., -2., -3., -4.]), True)
    >>> B.round(4)
    array([1.    , 1.7321, 2.2361, 2.6458])
    >>> A, B = hippo("lmu", 6, theta=1.0)
    >>> round(float(np.ones(6) @ np.linalg.solve(-A, B)), 12)
    1.0
    >>> h1 = np.ones(6) @ np.linalg.solve(np.eye(6) - A, B)
    >>> bool(abs(h1 - np.exp(-1.0)) < 1e-6)
    True
    """
    check_choice("measure", measure, MEASURES)
    N = check_positive_int("N", N)
    if not (isinstance(theta, (int, float)) and theta > 0):
        raise ValueError(f"theta must be a number > 0, got {theta!r}")
    q = np.arange(N, dtype=np.float64)
    r = np.sqrt(2 * q + 1)
    row, col = np.meshgrid(q, q, indexing="ij")
    if measure == "legs":
        A = -np.where(row > col, np.outer(r, r), 0.0) - np.diag(q + 1)
        B = r.copy()
    elif measure == "legt":
        sign = np.where(row < col, (-1.0) ** (row - col), 1.0)
        A = -0.5 * np.outer(r, r) * sign
        B = 0.5 * r
    elif measure == "lmu":
        A = (2 * q + 1)[:, None] * np.where(row < col, -1.0, (-1.0) ** (row - col + 1)) / theta
        B = (-1.0) ** q * (2 * q + 1) / theta
    elif measure == "lagt":
        A = 0.5 * np.eye(N) - np.tril(np.ones((N, N)))
        B = beta * np.ones(N)
    else:  # fout
        if N % 2:
            raise ValueError(f"N must be even for measure='fout', got {N}")
        A = np.zeros((N, N))
        for k in range(1, N // 2):
            A[2 * k + 1, 2 * k] = 2 * np.pi * k
            A[2 * k, 2 * k + 1] = -2 * np.pi * k
        B = _fout_e(N)
        A = A - np.outer(B, B)
    return A, B


def _fout_e(N: int) -> np.ndarray:
    e = np.zeros(N)
    e[0::2] = np.sqrt(2.0)
    e[0] = 1.0
    return e


def hippo_rank_correction(measure: str, N: int) -> np.ndarray:
    """Low-rank ``P`` (r, N) such that ``A + P^T P`` is normal (``A = hippo(measure, N)[0]``).

    Notes
    -----
    LegS: :math:`P_n = \\sqrt{n + 1/2}` (then :math:`A + PP^T = -\\tfrac12 I + S`, S skew).
    LegT: rank 2, :math:`P = \\tfrac{1}{\\sqrt2}(r \\odot [n \\text{ odd}], r \\odot
    [n \\text{ even}])`. LagT: :math:`P_n = 1/\\sqrt2`. FouT: :math:`P = e`. LMU has no
    orthogonal NPLR form (it is LegT under a non-orthogonal similarity) and raises ValueError.

    Examples
    --------
    >>> import numpy as np
    >>> from sciconv.ssm import hippo, hippo_rank_correction
    >>> for measure in ("legs", "legt", "lagt", "fout"):
    ...     A = hippo(measure, 6)[0]
    ...     P = hippo_rank_correction(measure, 6)
    ...     S = A + P.T @ P
    ...     print(measure, P.shape, bool(np.allclose(S @ S.T, S.T @ S)))
    legs (1, 6) True
    legt (2, 6) True
    lagt (1, 6) True
    fout (1, 6) True
    """
    check_choice("measure", measure, MEASURES)
    N = check_positive_int("N", N)
    q = np.arange(N, dtype=np.float64)
    if measure == "legs":
        return np.sqrt(q + 0.5)[None, :]
    if measure == "legt":
        r = np.sqrt(2 * q + 1)
        return np.stack([np.where(q % 2 == 1, r, 0.0), np.where(q % 2 == 0, r, 0.0)]) / np.sqrt(2)
    if measure == "lagt":
        return np.full((1, N), np.sqrt(0.5))
    if measure == "fout":
        if N % 2:
            raise ValueError(f"N must be even for measure='fout', got {N}")
        return _fout_e(N)[None, :]
    raise ValueError("measure must be one of ['fout', 'lagt', 'legs', 'legt'] for nplr, got 'lmu'")


def nplr(measure: str, N: int) -> tuple:
    """Normal-plus-low-rank form ``A = V diag(Lambda) V^* - P^T P`` of a HiPPO matrix.

    Returns
    -------
    Lambda : numpy.ndarray, shape (N,), complex
        Eigenvalues of the normal part ``A + P^T P``.
    P : numpy.ndarray, shape (r, N), complex
        Low-rank factor in the eigenbasis, ``V^* P^T`` transposed.
    B : numpy.ndarray, shape (N,), complex
        ``V^* B``.
    V : numpy.ndarray, shape (N, N), complex
        Unitary eigenvectors.

    Notes
    -----
    In the eigenbasis the system is DPLR: :math:`V^* A V = \\Lambda - \\tilde P \\tilde P^*`
    with :math:`\\tilde P = V^* P^T` (the convention of :func:`sciconv.ssm.dplr_to_dense` with
    ``Q = P``). The normal part is :math:`cI + S` with ``S`` skew-symmetric, so ``V`` comes
    from the Hermitian eigenproblem of :math:`-iS` and is unitary to rounding.

    Examples
    --------
    LegS: the normal part is :math:`-\\tfrac12 I` plus a skew matrix, and the DPLR form
    rebuilds ``A`` in the eigenbasis:

    >>> import numpy as np
    >>> from sciconv.ssm import dplr_to_dense, hippo, nplr
    >>> Lambda, P, B, V = nplr("legs", 8)
    >>> bool(np.allclose(Lambda.real, -0.5))
    True
    >>> A = hippo("legs", 8)[0]
    >>> bool(np.allclose(V @ dplr_to_dense(Lambda, P) @ V.conj().T, A))
    True
    """
    A, B = hippo(measure, N)
    P = hippo_rank_correction(measure, N)
    S = A + P.T @ P
    c = float(np.mean(np.diag(S)))
    skew = S - c * np.eye(N)
    lam_im, V = np.linalg.eigh(-1j * skew)
    Lambda = c + 1j * lam_im
    Vh = V.conj().T
    return Lambda, (Vh @ P.T.astype(complex)).T, Vh @ B.astype(complex), V


def s4d_init(kind: str, N: int) -> np.ndarray:
    """Diagonal state matrix ``A`` (N,) of S4D [5]_.

    Notes
    -----
    * 'lin' (S4D-Lin): :math:`A_n = -\\tfrac12 + i\\pi n`.
    * 'inv' (S4D-Inv): :math:`A_n = -\\tfrac12 + i \\frac{N}{\\pi}(\\frac{N}{2n+1} - 1)`.
    * 'real' (S4D-Real): :math:`A_n = -(n+1)`.
    * 'legs' (S4D-LegS): the eigenvalues of the normal part of LegS with size ``2N`` and
      positive imaginary part (one of each conjugate pair).

    The complex inits are half of a conjugate-symmetric spectrum; kernels use ``2 Re``.

    References
    ----------
    .. [5] A. Gu, A. Gupta, K. Goel and C. Ré, "On the Parameterization and Initialization of
       Diagonal State Space Models", Advances in Neural Information Processing Systems
       (NeurIPS), 2022. arXiv:2206.11893.

    Examples
    --------
    >>> import numpy as np
    >>> from sciconv.ssm import s4d_init
    >>> s4d_init("real", 3)
    array([-1., -2., -3.])
    >>> A = s4d_init("lin", 4)
    >>> A.real, (A.imag / np.pi).round(12)
    (array([-0.5, -0.5, -0.5, -0.5]), array([0., 1., 2., 3.]))
    >>> bool(np.allclose(s4d_init("legs", 4).real, -0.5))
    True
    """
    check_choice("kind", kind, S4D_INITS)
    N = check_positive_int("N", N)
    n = np.arange(N, dtype=np.float64)
    if kind == "lin":
        return -0.5 + 1j * np.pi * n
    if kind == "inv":
        return -0.5 + 1j * N / np.pi * (N / (2 * n + 1) - 1)
    if kind == "real":
        return -(n + 1)
    lam = nplr("legs", 2 * N)[0]
    lam = lam[lam.imag > 0]
    return lam[np.argsort(lam.imag)][:N]
