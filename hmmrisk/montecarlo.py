"""The Monte Carlo routes of :func:`hmmrisk.simulate_risk` and the one function that chooses them.

:func:`route` picks, from the sizes alone (and whether the spectrum is
isotropic), how the training sets of one simulation are drawn:

* ``"fit"``: draw ``(X, Y)`` from the HMM and fit the head (``method="fit"``);
* ``"ridge"``: draw ``X`` and evaluate Lemma 1 at it (``ridge > 0``);
* ``"wishart"``: ``p <= n``, ``B_X = 0`` and ``V_X`` from a bidiagonal Wishart;
* ``"isotropic"``: ``r < n < p`` with ``Lam = lam I`` and ``b b^T = beta I``
  (:func:`_isotropic_draw`, :func:`_over_terms_isotropic`);
* ``"woodbury"``: ``p - r >= n + MARGIN`` and ``n > r`` (:func:`_over_terms`);
* ``"schur"``: other ``r < n < p`` (:func:`_schur_draw`, :func:`_over_terms_schur`);
* ``"dense"``: ``r >= n`` (:func:`_over_terms_dense`).

:func:`_conditional_draws` runs the last five; :mod:`hmmrisk._resources`
prices each route from the same function and constants.
"""

from __future__ import annotations

import numpy as np

from ._blas import blas_single_thread

BLOCK = 2**18      # floats per (n, block, r) array: training sets are drawn in cache-sized blocks
ISO_BLOCK = 2**20 # floats per (block, r, r) or (n - r, block, r) array of the isotropic route, whose r x r work
ISO_SUBBLOCK = 16  # goes in cache-sized sub-blocks of this many training sets
MARGIN = 10        # Woodbury needs K ~ W_n(p - r) well conditioned: p - r >= n + MARGIN

ROUTES = ("fit", "ridge", "wishart", "isotropic", "woodbury", "schur", "dense")


def route(n: int, p: int, r: int, method: str = "conditional", ridge: float = 0.0,
          isotropic: bool = False) -> str:
    """The Monte Carlo route (one of :data:`ROUTES`) for ``n`` pairs, ``p`` features, ``r`` signal directions."""
    if method == "fit":
        return "fit"
    if ridge > 0:
        return "ridge"
    if p <= n:
        return "wishart"
    if r < n and isotropic:
        return "isotropic"
    if p - r >= n + MARGIN and n > r:
        return "woodbury"
    return "schur" if n > r else "dense"


def route_of(pop, n: int, method: str = "conditional", ridge: float = 0.0) -> str:
    """:func:`route` for the population ``pop`` (isotropic: :func:`_isotropic_beta` is not ``None``)."""
    r = pop.eigvals.size
    iso = r < n < pop.p and _isotropic_beta(pop.eigvals, pop.eigvecs.T @ pop.B_star) is not None
    return route(n, pop.p, r, method, ridge, iso)


def _wishart_bidiagonal(rng, dim: int, dof: int, reps: int):
    """Bidiagonal model of ``reps`` Wishart matrices ``K ~ W_dim(dof, I)``, ``dof >= dim``.

    Returns ``(a, c)``, each ``(dim, reps)``: the lower-bidiagonal ``L`` with
    diagonal ``a_i ~ chi_{dof - i}`` and sub-diagonal ``c_i ~ chi_{dim - i}``
    (``c_0 = 0``), all independent.  ``L L^T`` has the eigenvalues of ``K``
    (Dumitriu & Edelman 2002, J. Math. Phys. 43: Householder bidiagonalisation
    of a Gaussian matrix), so ``Q L L^T Q^T`` with ``Q`` Haar has the law of
    ``K``: ``O(dim)`` draws and ``O(dim)`` solves instead of ``O(dim^3)``.
    """
    a = np.sqrt(rng.chisquare((dof - np.arange(dim))[:, None], size=(dim, reps)))
    c = np.zeros((dim, reps))
    c[1:] = np.sqrt(rng.chisquare(np.arange(dim - 1, 0, -1)[:, None], size=(dim - 1, reps)))
    return a, c


def _trace_inv_bidiagonal(a, c):
    """``tr (L L^T)^{-1} = ||L^{-1}||_F^2``, row by row.

    Row ``i`` of ``L^{-1}`` is ``(e_i - c_i row_{i-1}) / a_i``, whose squared
    norm is ``t_i = (1 + c_i^2 t_{i-1}) / a_i^2``.
    """
    t = np.zeros(a.shape[1])
    total = np.zeros(a.shape[1])
    for a_i, c_i in zip(a, c):
        t = (1.0 + c_i**2 * t) / a_i**2
        total += t
    return total


def _solve_bidiagonal(a, c, B):
    """``Y = L^{-1} B`` and ``Z = L^{-T} Y`` for ``B`` of shape ``(dim, reps, k)``.

    Forward and back substitution, one row of all ``reps`` systems at a time.
    """
    a3, c3 = a[..., None], c[..., None]
    Y = np.empty_like(B)
    np.divide(B[0], a3[0], out=Y[0])
    for i in range(1, len(B)):
        np.multiply(c3[i], Y[i - 1], out=Y[i])
        np.subtract(B[i], Y[i], out=Y[i])
        Y[i] /= a3[i]
    return Y, _solve_upper_bidiagonal_T(a, c, Y)


def _unit_gram(rng, n: int, dof: int, reps: int) -> np.ndarray:
    """``reps`` draws of ``K ~ Wishart_n(dof, I)`` up to a rotation, as dense ``n x n`` arrays.

    ``dof >= n``: the tridiagonal ``L L^T`` of :func:`_wishart_bidiagonal`
    (``(L L^T)_ii = a_i^2 + c_i^2``, ``(L L^T)_{i,i-1} = c_i a_{i-1}``);
    otherwise ``X2 X2^T`` with ``X2`` an ``n x dof`` Gaussian matrix.
    """
    if dof < n:
        X2 = rng.standard_normal((reps, n, dof))
        return X2 @ np.swapaxes(X2, -1, -2)
    a, c = _wishart_bidiagonal(rng, n, dof, reps)
    K = np.zeros((reps, n, n))
    i = np.arange(n)
    K[:, i, i] = (a**2 + c**2).T
    K[:, i[1:], i[:-1]] = K[:, i[:-1], i[1:]] = (c[1:] * a[:-1]).T
    return K


def _over_terms(lam, b, X1, a, c):
    """``(B_X, V_X / tr Sigma_r)`` for ``G = X1 X1^T + L L^T`` (``p > n``), by Woodbury.

    ``X1`` has shape ``(n, reps, r)``.  With ``D = L L^T``,
    ``C = I_r + X1^T D^{-1} X1`` and ``P = X1^T D^{-2} X1``:
    ``G^{-1} = D^{-1} - D^{-1} X1 C^{-1} X1^T D^{-1}`` and
    ``G^{-1} X1 = D^{-1} X1 C^{-1}``, so with ``E = C^{-1} b`` the formulas
    of :func:`_over_terms_dense` reduce to

    * ``B_X = tr(E^T (Lam - I) E) + tr(b^T E)``;
    * ``V_X / tr Sigma_r = tr D^{-1} - tr(C^{-1} P) + tr(C^{-1} P C^{-1} (Lam - I))``;

    all ``r x r``: ``O(n r^2)`` work per training set instead of ``O(n^3)``.
    """
    Y, Z = _solve_bidiagonal(a, c, X1)                   # L^{-1} X1, D^{-1} X1
    Y, Z = np.moveaxis(Y, 0, 1), np.moveaxis(Z, 0, 1)    # (reps, n, r)
    C = np.swapaxes(Y, -1, -2) @ Y + np.eye(lam.size)
    P = np.swapaxes(Z, -1, -2) @ Z
    Cinv = _spd_inverse(C)                               # C >= I: well conditioned
    CinvP = Cinv @ P
    E = Cinv @ b
    bias = np.sum(E**2 * (lam - 1.0)[:, None], axis=(-2, -1)) + np.sum(b * E, axis=(-2, -1))
    variance = (_trace_inv_bidiagonal(a, c) - np.trace(CinvP, axis1=-2, axis2=-1)
                + np.sum(CinvP * Cinv * (lam - 1.0)[:, None], axis=(-2, -1)))
    return bias, variance


def _solve_upper_bidiagonal_T(a, c, B):
    """``Z = L^{-T} B`` for the lower-bidiagonal ``L`` of ``(a, c)``, ``B`` of shape ``(dim, reps, k)``."""
    a, c = a[..., None], c[..., None]
    Z = np.empty_like(B)
    np.divide(B[-1], a[-1], out=Z[-1])
    for i in range(len(B) - 2, -1, -1):
        np.multiply(c[i + 1], Z[i + 1], out=Z[i])
        np.subtract(B[i], Z[i], out=Z[i])
        Z[i] /= a[i]
    return Z


def _upper_normals(rng, reps: int, r: int) -> np.ndarray:
    """``(reps, r, r)`` strictly upper-triangular matrices of independent ``N(0, 1)`` entries.

    ``r (r - 1) / 2`` draws per matrix, row by row, in one call.
    """
    above = rng.standard_normal((reps, r * (r - 1) // 2))
    out = np.zeros((reps, r, r))
    for i in range(r - 1):                          # row i: r - 1 - i entries right of the diagonal
        o = i * (2 * r - i - 1) // 2
        out[:, i, i + 1:] = above[:, o:o + r - 1 - i]
    return out


def _spd_inverse(S):
    """Inverse of a batch of symmetric positive definite matrices, LAPACK ``potrf``/``potri`` per matrix.

    NumPy's batched ``inv`` (LU) does about three times the work and is
    several times slower on small matrices.
    """
    out = np.array(S, dtype=float, order="C")
    _lapack()                   # SciPy's BLAS loaded before the limit looks at the libraries
    with blas_single_thread():
        return _spd_inverse_into(out)


def _spd_inverse_into(out):
    """``out[k] <- out[k]^{-1}`` in place for C-ordered SPD matrices, full (both triangles) on return.

    LAPACK ``potrf``/``potri`` per matrix on one triangle, then the other
    triangle mirrored.  Call inside :func:`hmmrisk.blas_single_thread`.
    """
    dpotrf, dpotri = _lapack()[1:3]
    k, r, _ = out.shape
    for i in range(k):
        c, info = dpotrf(out[i].T, lower=1, clean=0, overwrite_a=1)
        if info == 0:
            c, info = dpotri(c, lower=1, overwrite_c=1)
        if info != 0 or (i == 0 and not np.shares_memory(c, out[0])):
            raise np.linalg.LinAlgError(f"Cholesky inverse failed (info = {info}) on matrix {i} of the batch")
    np.copyto(out, np.swapaxes(out, -1, -2), where=np.tril(np.ones((r, r), bool), -1))
    return out


def _cholesky_tri_inv(S):
    """``L^{-1}`` for the Cholesky factor ``L`` of each matrix of a batch (LAPACK ``potrf``/``trtri``).

    ``S = L L^T`` so ``S^{-1} = L^{-T} L^{-1}``; the strictly upper triangle of the result is zero.
    """
    dpotrf, dtrtri = _lapack()[1], _lapack()[3]
    out = np.array(S, dtype=float, order="C")
    k, r, _ = out.shape
    with blas_single_thread():
        for i in range(k):                          # Fortran view: its upper triangle is L^T
            c, info = dpotrf(out[i].T, lower=0, clean=0, overwrite_a=1)
            if info == 0:
                c, info = dtrtri(c, lower=0, overwrite_c=1)
            if info != 0 or (i == 0 and not np.shares_memory(c, out[0])):
                raise np.linalg.LinAlgError(f"Cholesky inverse failed (info = {info}) on matrix {i}")
    out[:, np.triu_indices(r, 1)[0], np.triu_indices(r, 1)[1]] = 0.0
    return out


def _schur_draw(rng, lam, n: int, dof: int, reps: int):
    """One canonical form of ``(X1, X2)`` per training set, for ``r < n < r + dof``.

    Householder QR of ``X1 = Z Lam^{1/2}`` (``n x r``) gives ``X1 = Q [T; 0]``,
    ``T = R_Z Lam^{1/2}`` with ``R_Z`` upper triangular, ``(R_Z)_jj ~ chi_{n-j}``
    and ``N(0, 1)`` above the diagonal (all independent).  ``Q^T X2`` is again
    Gaussian; its last ``n - r`` rows are bidiagonalised (Dumitriu & Edelman,
    rotating only those rows and the ``dof`` unit columns), which leaves, in an
    orthonormal basis of sample space,

        X1 = [T; 0],    X2 = [[N1, N2], [B, 0]],

    with ``B`` the ``(n - r) x (n - r)`` lower bidiagonal of
    :func:`_wishart_bidiagonal` (``B B^T ~ Wishart_{n-r}(dof)`` up to rotation)
    and ``N1`` (``r x (n - r)``), ``N2`` (``r x (dof - n + r)``) standard Gaussian.
    Returns ``T`` (reps, r, r), ``N1^T`` (n - r, reps, r), ``N2`` (reps, r, dof - n + r), ``(a, c)``.
    """
    r = lam.size
    j = np.arange(r)
    T = _upper_normals(rng, reps, r)
    T.reshape(reps, r * r)[:, ::r + 1] = np.sqrt(rng.chisquare(n - j, size=(reps, r)))
    T *= np.sqrt(lam)
    N1t = rng.standard_normal((n - r, reps, r))
    N2 = rng.standard_normal((reps, r, dof - n + r))
    return T, N1t, N2, _wishart_bidiagonal(rng, n - r, dof, reps)


def _over_terms_schur(lam, b, T, N1t, N2, a, c):
    """``(B_X, V_X / tr Sigma_r)`` from the canonical form of :func:`_schur_draw`.

    ``G = X X^T`` has the blocks ``G_11 = T T^T + N1 N1^T + N2 N2^T``,
    ``G_12 = N1 B^T``, ``G_22 = B B^T``.  ``B`` is square, so the Schur
    complement of ``G_22`` is ``S = G_11 - N1 B^T (B B^T)^{-1} B N1^T
    = T T^T + N2 N2^T``: formed as a sum of positive terms, without the
    subtraction.  With ``V = B^{-T} N1^T``, ``S = L L^T`` (Cholesky),
    ``W = L^{-1} T`` and ``U = S^{-1} T = L^{-T} W``:

    * ``G^{-1} X1 = [U; -V U]``, ``H = X1^T G^{-1} X1 = W^T W``;
    * ``tr G^{-1} = tr (B B^T)^{-1} + ||L^{-1}||^2 + ||L^{-1} V^T||^2``;
    * ``V_X / tr Sigma_r = tr G^{-1} + ||U (Lam - I)^{1/2}||^2 + ||V U (Lam - I)^{1/2}||^2``;
    * ``B_X = tr((b - H b)^T Lam (b - H b)) + tr(b^T H b) - ||H b||^2``

    (the formulas of :func:`_over_terms_dense` with ``M = G^{-1} X1 b``).
    Every term is a sum of squares except ``B_X``'s last two, which are
    bounded by ``||b||^2`` (``0 <= H <= I``).  The matrices inverted are
    ``B`` (bidiagonal, ``B B^T ~ Wishart_{n-r}(p - r)``: ``p - n`` spare
    degrees of freedom) and the ``r x r`` ``S``, both well conditioned unless
    ``p`` is within a few of ``n``, where the problem itself is.  Work per
    training set: ``O(n r^2 + r^3)``, no ``n x n`` matrix.
    """
    V = np.moveaxis(_solve_upper_bidiagonal_T(a, c, N1t), 0, 1)          # (reps, n - r, r)
    S = T @ np.swapaxes(T, -1, -2) + N2 @ np.swapaxes(N2, -1, -2)
    Linv = _cholesky_tri_inv(S)                                           # S^{-1} = Linv^T Linv
    W = Linv @ T                                                          # H = W^T W
    LVt = Linv @ np.swapaxes(V, -1, -2)                                   # (reps, r, n - r)
    WL = W * np.sqrt(np.maximum(lam - 1.0, 0.0))                       # lam >= 1: Sigma_x = W W^T + I
    UL = np.swapaxes(Linv, -1, -2) @ WL                                   # U (Lam - I)^{1/2}
    variance = (_trace_inv_bidiagonal(a, c) + np.sum(Linv**2, axis=(-2, -1))
                + np.sum(LVt**2, axis=(-2, -1)) + np.sum(UL**2, axis=(-2, -1))
                + np.sum((V @ UL) ** 2, axis=(-2, -1)))
    Hb = np.swapaxes(W, -1, -2) @ (W @ b)
    resid = b - Hb
    bias = (np.sum(resid**2 * lam[:, None], axis=(-2, -1)) + np.sum(b * Hb, axis=(-2, -1))
            - np.sum(Hb**2, axis=(-2, -1)))
    return bias, variance


def _isotropic_beta(lam, b):
    """``beta`` if ``Lam = lam I`` and ``b b^T = beta I_r`` (else ``None``), to 1e-12 relative.

    The orthogonal embedding (:func:`hmmrisk.hmm.make_model`) has both: ``W``'s
    non-zero singular values are equal and ``B* = Sigma_x^{-1} W A^T`` with
    ``A`` orthogonal.
    """
    r = lam.size
    if r == 0 or np.ptp(lam) > 1e-12 * lam.max():
        return None
    bbt = b @ b.T
    beta = np.trace(bbt) / r
    if not beta > 0 or np.max(np.abs(bbt - beta * np.eye(r))) > 1e-12 * beta:
        return None
    return float(beta)


def _isotropic_draw(rng, r: int, n: int, dof: int, reps: int):
    """Canonical form of a training set when ``Lam = lam I`` and ``b b^T = beta I``, ``r < n < r + dof``.

    ``dof = p - r`` is the number of unit-variance features.

    Start from :func:`_schur_draw`'s ``X1 = [T; 0]``, ``X2 = [[N1, N2], [B, 0]]``.
    With ``Lam = lam I`` every quantity of :func:`_over_terms_isotropic` is a
    trace, invariant under a rotation ``O`` of the first ``r`` rows of sample
    space, and depends on ``T`` only through ``P = T T^T``.  Rotating by an
    independent Haar ``O`` first makes ``P ~ lam Wishart_r(n)`` with a law
    invariant under conjugation and independent of ``(N1, N2)``; then ``O``
    may be taken to bidiagonalise ``N2`` (Dumitriu & Edelman), which leaves
    ``P``'s law and ``N1``'s law unchanged.  So, all independent:

    * ``P = lam R R^T``, ``R`` upper triangular with ``R_jj ~ chi_{n-r+1+j}`` and
      ``N(0, 1)`` above the diagonal (Bartlett's decomposition with the
      coordinates reversed: ``J R J`` is the lower-triangular Bartlett factor
      of ``Wishart_r(n)``, ``J`` the reversal, and the law is invariant under ``J``);
    * ``N2 N2^T ~ Wishart_r(p - n)`` as ``C C^T``, ``C`` lower bidiagonal
      (:func:`_wishart_bidiagonal` of dimension ``min(r, p - n)``, zero-padded);
    * ``B`` and ``N1`` as in :func:`_schur_draw`.

    ``r (r - 1) / 2 + r (n - r)`` normal and ``O(n)`` chi draws per training
    set, whatever ``p`` (the general canonical form needs ``r p``).
    Returns ``R`` (reps, r, r), ``(a_C, c_C)`` (r, reps), ``N1^T`` (n - r, reps, r), ``(a, c)``.
    """
    R = _upper_normals(rng, reps, r)
    j = np.arange(r)
    R.reshape(reps, r * r)[:, ::r + 1] = np.sqrt(rng.chisquare(n - r + 1 + j, size=(reps, r)))
    k = dof - n + r                                 # = p - n columns of N2
    aC, cC = _wishart_bidiagonal(rng, min(r, k), max(r, k), reps)
    if k < r:                                   # rank k: the k x k bidiagonal of W_k(r), padded
        aC, cC = (np.concatenate([x, np.zeros((r - k, reps))]) for x in (aC, cC))
    N1t = rng.standard_normal((n - r, reps, r))
    return R, (aC, cC), N1t, _wishart_bidiagonal(rng, n - r, dof, reps)


_LAPACK = None


def _lapack():
    """SciPy's ``(dlauum, dpotrf, dpotri, dtrtri)``, imported on first use.

    SciPy links its own OpenBLAS, loaded only then: a
    :func:`hmmrisk.blas_single_thread` context entered before that
    does not know it, so the routes that call LAPACK enter one more around
    the calls (their bits must not depend on ``OPENBLAS_NUM_THREADS``).
    """
    global _LAPACK
    if _LAPACK is None:
        from scipy.linalg.lapack import dlauum, dpotrf, dpotri, dtrtri

        _LAPACK = (dlauum, dpotrf, dpotri, dtrtri)
    return _LAPACK


def _cholesky_inverse_into(out, diag, upper):
    """``out[k] <- (R_k R_k^T + D_k)^{-1}`` in place, for upper-triangular ``R_k`` given in ``out[k]``.

    ``D_k`` is symmetric tridiagonal (``diag`` ``(k, r)``, ``upper`` ``(k, r - 1)``).
    LAPACK per matrix (``lauum``: ``R R^T``; ``potrf``/``potri``: the inverse
    from the Cholesky factor), each on one triangle: NumPy has no batched
    Cholesky inverse, and its batched ``inv`` (LU) and products do several
    times the work on small matrices.  ``out`` is ``(k, r, r)`` with C-ordered
    matrices (it may be a view of a larger array along its second axis).
    """
    dlauum = _lapack()[0]
    k, r, _ = out.shape
    for i in range(k):                              # Fortran view R^T: lauum gives R R^T
        dlauum(out[i].T, lower=1, overwrite_c=1)
    j = np.arange(r)
    out[:, j, j] += diag
    out[:, j[:-1], j[1:]] += upper                  # C-ordered upper = Fortran lower triangle
    return _spd_inverse_into(out)


def _over_terms_isotropic(lam: float, beta: float, R, C, N1t, a, c):
    """``(B_X, V_X / tr Sigma_r)`` for ``Lam = lam I``, ``b b^T = beta I``, from :func:`_isotropic_draw`.

    The Schur complement of :func:`_over_terms_schur` is ``S = P + D``,
    ``D = C C^T``; with ``F = S^{-1}``, ``V = B^{-T} N1^T``, ``Q = F C`` and
    ``Z = V F``, the terms of :func:`_over_terms_schur` become traces
    (``H = W^T W`` has the eigenvalues of ``F P = I - F D``, and ``Lam - I = (lam - 1) I``):

    * ``B_X = beta [(lam - 1) ||C^T F C||^2 + tr(C^T F C)]`` (``sum_i (lam - 1) mu_i^2 + mu_i``
      over the eigenvalues ``mu = 1 - h`` of ``F D``: the bias formula with ``b b^T = beta I``);
    * ``V_X / tr Sigma_r = tr (B B^T)^{-1} + tr F + tr(V F V^T)
      + (lam - 1) [tr F + tr(V F V^T) - ||Q||^2 - ||Z C||^2]``,

    the bracket being ``||U||^2 + ||V U||^2`` with ``U = F T``
    (``tr(F P F) = tr F - tr(F D F)``).  Every term but the bracket is a sum
    of squares; the bracket's subtractions lose at most ``lam`` ulps relative
    to ``V_X``.  Work per training set: one ``r x r`` product for ``P``, one
    Cholesky inverse, one ``(n - r) x r x r`` product for ``Z``; everything
    else ``O(n r)``.  ``N1t`` has shape ``(n - r, reps, r)``.
    """
    aC, cC = C
    reps = R.shape[0]
    V = np.moveaxis(_solve_upper_bidiagonal_T(a, c, N1t), 0, 1)           # (reps, n - r, r)
    variance = _trace_inv_bidiagonal(a, c)
    bias = np.empty(reps)
    _lapack()                   # SciPy's BLAS loaded before the limit looks at the libraries
    with blas_single_thread():
        _isotropic_blocks(lam, beta, R, aC, cC, V, bias, variance)
    return bias, variance


def _isotropic_blocks(lam, beta, R, aC, cC, V, bias, variance):
    """The dense ``r x r`` part of :func:`_over_terms_isotropic`; fills ``bias``, adds to ``variance``."""
    reps, r, _ = R.shape
    m = V.shape[1]
    step = r + 1
    for start in range(0, reps, ISO_SUBBLOCK):         # dense r x r work in cache-sized blocks
        k = slice(start, min(start + ISO_SUBBLOCK, reps))
        ak, ck = aC[:, k], cC[:, k]
        d0, d1 = (ak**2 + ck**2).T, (ck[1:] * ak[:-1]).T   # D = C C^T: diagonal, off-diagonal
        FZ = np.empty((d0.shape[0], r + m, r))          # [F; Z]
        F = FZ[:, :r]
        np.multiply(R[k], np.sqrt(lam), out=F)
        _cholesky_inverse_into(F, d0, d1)               # F = (lam R R^T + D)^{-1}
        np.matmul(V[k], F, out=FZ[:, r:])
        D = np.zeros((d0.shape[0], r, r))               # F D by BLAS
        flat = D.reshape(-1, r * r)
        flat[:, ::step] = d0
        flat[:, r::step] = d1
        flat[:, 1::step] = d1
        FD = F @ D
        tr_fd = np.einsum("kii->k", FD)                 # tr(C^T F C)
        bias[k] = beta * ((lam - 1.0) * np.einsum("kij,kji->k", FD, FD) + tr_fd)
        # ||Q||^2 + ||Z C||^2 = tr(D [F; Z]^T [F; Z]): D is tridiagonal
        fzd = (np.einsum("kji,kji->ki", FZ, FZ) * d0).sum(-1) + \
            2.0 * (np.einsum("kji,kji->ki", FZ[..., :-1], FZ[..., 1:]) * d1).sum(-1)
        tr_fv = np.einsum("kii->k", F) + np.einsum("kij,kij->k", FZ[:, r:], V[k])
        variance[k] += tr_fv + (lam - 1.0) * (tr_fv - fzd)


def _over_terms_dense(lam, b, X1, K):
    """``(B_X, V_X / tr Sigma_r)`` for ``G = X1 X1^T + K`` (``p > n``), by inverting ``G``.

    With ``M = G^{-1} X1 b``:
    ``V_X / tr Sigma_r = tr G^{-1} + ||G^{-1} X1 (Lam - I)^{1/2}||^2`` and
    ``B_X = tr((b - X1^T M)^T Lam (b - X1^T M)) + tr(M^T G M) - ||X1^T M||^2``.
    """
    G = X1 @ np.swapaxes(X1, -1, -2) + K
    Ginv = np.linalg.inv(G)
    GX1 = Ginv @ X1
    variance = np.trace(Ginv, axis1=-2, axis2=-1) + np.sum(GX1**2 * (lam - 1.0), axis=(-2, -1))
    M = GX1 @ b
    X1tM = np.swapaxes(X1, -1, -2) @ M
    resid = b - X1tM
    bias = (np.sum(resid**2 * lam[:, None], axis=(-2, -1))
            + np.sum(M * (G @ M), axis=(-2, -1)) - np.sum(X1tM**2, axis=(-2, -1)))
    return bias, variance


def _conditional_draws(pop, n: int, reps: int, rng, how: str | None = None):
    """``(B_X, V_X)`` for ``reps`` training sets, drawn in the eigenbasis of ``Sigma_x``.

    The risk is invariant under rotations of feature space, so write
    ``x = (x1, x2)`` with ``x1 ~ N(0, diag(lam))`` on the ``r`` top
    eigenvectors and ``x2 ~ N(0, I_{p-r})``; ``B*`` and ``W`` live on the
    first block (``b = V_1^T B*``).  Then

    * ``p <= n``: ``B_X = 0`` and ``V_X = tr(Sigma_r) tr((X^T X)^{-1} Sigma_x)``,
      whose law is that of ``tr(Sigma_r) tr(K^{-1})``, ``K ~ Wishart_p(n, I)``;
    * ``p > n``: everything depends on ``X1`` and ``G = X X^T = X1 X1^T + K``,
      ``K = X2 X2^T ~ Wishart_n(p - r, I)``.  ``X1`` is invariant in law under
      rotations ``X1 -> O X1``, so ``K`` may be replaced by the bidiagonal
      ``L L^T`` of :func:`_wishart_bidiagonal` (then :func:`_over_terms`).
      Woodbury subtracts terms of size ``||K^{-1}||``, so this is done only
      when ``K`` is well conditioned with overwhelming probability:
      ``p - r >= n + MARGIN`` (``P(lambda_min(K) < eps)`` then scales as
      ``eps^{(MARGIN + 1)/2}``; at ``p - r = n`` it is ``~ sqrt(eps)``, and
      one draw in a thousand loses every digit).  Otherwise, if ``r < n``,
      a second canonical form (:func:`_schur_draw`) reduces everything to a
      bidiagonal ``(n - r)``-system with ``p - n`` spare degrees of freedom
      and an ``r x r`` Schur complement formed without subtraction
      (:func:`_over_terms_schur`); only for ``r >= n`` is ``G`` formed and
      inverted (:func:`_over_terms_dense`).

    For ``r < n < p`` with ``Lam = lam I`` and ``b b^T = beta I`` (the
    orthogonal embedding, :func:`_isotropic_beta`) the risk is a function of
    traces only, and a smaller canonical form of the Schur route is used for
    every such ``p`` (:func:`_isotropic_draw`, :func:`_over_terms_isotropic`):
    its cost per training set does not grow with ``p``.  ``how`` is the
    route (:func:`route_of` when not given).
    """
    how = route_of(pop, n) if how is None else how
    if how == "wishart":
        K = _wishart_bidiagonal(rng, pop.p, n, reps)
        return np.zeros(reps), pop.irreducible * _trace_inv_bidiagonal(*K)
    lam = pop.eigvals
    b = pop.eigvecs.T @ pop.B_star                                   # r x d
    bias, variance = np.empty(reps), np.empty(reps)
    if how == "isotropic":
        beta = _isotropic_beta(lam, b)
        block = max(1, ISO_BLOCK // (lam.size * max(lam.size, n - lam.size)))
        for start in range(0, reps, block):
            k = slice(start, min(start + block, reps))
            draw = _isotropic_draw(rng, lam.size, n, pop.n_unit, k.stop - k.start)
            bias[k], variance[k] = _over_terms_isotropic(float(lam[0]), beta, *draw[:3], *draw[3])
        return bias, pop.irreducible * variance
    block = max(1, BLOCK // (n * lam.size))
    for start in range(0, reps, block):
        k = slice(start, min(start + block, reps))
        size = k.stop - k.start
        if how == "woodbury":
            X1 = rng.standard_normal((n, size, lam.size)) * np.sqrt(lam)
            L = _wishart_bidiagonal(rng, n, pop.n_unit, size)
            bias[k], variance[k] = _over_terms(lam, b, X1, *L)
        elif how == "schur":
            draw = _schur_draw(rng, lam, n, pop.n_unit, size)
            bias[k], variance[k] = _over_terms_schur(lam, b, *draw[:3], *draw[3])
        else:
            X1 = rng.standard_normal((size, n, lam.size)) * np.sqrt(lam)
            bias[k], variance[k] = _over_terms_dense(lam, b, X1, _unit_gram(rng, n, pop.n_unit, size))
    return bias, pop.irreducible * variance
