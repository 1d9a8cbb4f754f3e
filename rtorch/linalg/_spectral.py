"""QR, symmetric eigendecomposition and SVD, with their gradients (real case)."""

from rtorch import _C
from rtorch._autocast_ops import autocast_op
from rtorch.autograd.function import Function

from . import _core as c
from ._decomp import _out, solve_triangular

_QR_MODES = ("reduced", "complete", "r")


class _Qr(Function):
    @staticmethod
    def forward(ctx, a, mode):
        q, r, _ = _C._linalg_factor(a, "qr", mode == "complete", mode == "r", name="linalg.qr")
        ctx.mode = mode
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        q, r = ctx.saved_tensors
        n = r.shape[-1]
        if ctx.mode == "r":
            raise RuntimeError(
                "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                "through linalg.qr."
            )
        m = q.shape[-2]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        gq = q.new_zeros(q.shape) if gq is None else gq
        gr = r.new_zeros(r.shape) if gr is None else gr
        if m >= n:
            return _qr_tall_grad(q, r, gq, gr), None
        # Wide: A = Q [R1 R2] with R2 = Qᵀ A2, so A2's gradient is Q gR2, and R2 feeds Q's.
        r1, gr1, gr2 = r[..., :, :m], gr[..., :, :m], gr[..., :, m:]
        a2 = q.matmul(r[..., :, m:])
        ga1 = _qr_tall_grad(q, r1, gq + a2.matmul(gr2.mT), gr1)
        return _C.cat([ga1, q.matmul(gr2)], -1), None


def _qr_tall_grad(q, r, gq, gr):
    """A = Q R with Q [m, n] orthonormal columns, R [n, n] upper:
    gA = [gQ + Q (gR Rᵀ + tril(K - Kᵀ, -1) - Qᵀ gQ)] R⁻ᵀ with K = Qᵀ gQ - gR Rᵀ."""
    qtg = q.mT.matmul(gq)
    grr = gr.matmul(r.mT)
    k = qtg - grr
    inner = grr + (k - k.mT).tril(-1) - qtg
    b = gq + q.matmul(inner)
    # b R⁻ᵀ: solve X Rᵀ = b, Rᵀ lower.
    return solve_triangular(r.mT, b, upper=False, left=False)


@autocast_op("linalg_qr")
def qr(A, mode="reduced", *, out=None):
    op = "linalg.qr"
    c.check_float(A, op)
    c.check_matrix(A, op)
    if mode not in _QR_MODES:
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'"
        )
    q, r = _Qr.apply(A, mode)
    return _out(c.QR(q, r), out)


# ---------------------------------------------------------------- symmetric eigen


def _uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO == "U"


def _no_converge(what):
    def message(code):
        return (
            "The algorithm failed to converge because the input matrix is ill-conditioned or "
            f"has too many repeated {what} (error code: {code})."
        )

    return message


class _Eigh(Function):
    @staticmethod
    def forward(ctx, a, upper, vectors, op):
        w, v, info = _C._linalg_factor(a, "eigh", upper, vectors, name=op)
        c.raise_info(info, op, _no_converge("eigenvalues"))
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(w, v)
        return (w, v) if vectors else w

    @staticmethod
    def backward(ctx, gw, gv=None):
        w, v = ctx.saved_tensors
        # gA = V (diag(gw) + F ∘ (Vᵀ gV)) Vᵀ with F_ij = 1 / (w_j - w_i) off the diagonal.
        inner = v.new_zeros(v.shape) if gw is None else gw.diag_embed()
        if gv is not None:
            e = w.unsqueeze(-2) - w.unsqueeze(-1)
            e = e + c.eye_like(v)  # the diagonal is masked below; avoid 1/0 there
            f = (1.0 / e) * (1.0 - c.eye_like(v))
            inner = inner + f * v.mT.matmul(gv)
        return v.matmul(inner).matmul(v.mT), None, None, None


@autocast_op("linalg_eigh")
def eigh(A, UPLO="L", *, out=None):
    op = "linalg.eigh"
    c.square_float(A, op)
    w, v = _Eigh.apply(A, _uplo(UPLO), True, op)
    return _out(c.Eigh(w, v), out)


@autocast_op("linalg_eigvalsh")
def eigvalsh(A, UPLO="L", *, out=None):
    op = "linalg.eigvalsh"
    c.square_float(A, op)
    upper = _uplo(UPLO)
    if _C.is_grad_enabled() and A.requires_grad:
        # The gradient needs the eigenvectors.
        return _out(_Eigh.apply(A, upper, True, op)[0], out)
    return _out(_Eigh.apply(A, upper, False, op), out)


# ---------------------------------------------------------------- SVD


class _Svd(Function):
    @staticmethod
    def forward(ctx, a, full, vectors, op):
        u, s, vh, info = _C._linalg_factor(a, "svd", full, vectors, name=op)
        c.raise_info(info, op, _no_converge("singular values"))
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(u, s, vh)
        return (u, s, vh) if vectors else s

    @staticmethod
    def backward(ctx, *grads):
        u, s, vh = ctx.saved_tensors
        k = s.shape[-1]
        gu, gs, gvh = grads if len(grads) == 3 else (None, grads[0], None)
        # Columns past min(m, n) (full_matrices) span an arbitrary basis: only the first k
        # carry a defined derivative.
        u, vh = u[..., :, :k], vh[..., :k, :]
        v = vh.mT
        inner = s.new_zeros(s.shape).diag_embed() if gs is None else gs.diag_embed()
        if gu is not None or gvh is not None:
            gu = u.new_zeros(u.shape) if gu is None else gu[..., :, :k]
            gv = v.new_zeros(v.shape) if gvh is None else gvh[..., :k, :].mT
            s2 = s * s
            e = s2.unsqueeze(-2) - s2.unsqueeze(-1)
            eye = c.eye_like(s, k)
            f = (1.0 / (e + eye)) * (1.0 - eye)
            utgu, vtgv = u.mT.matmul(gu), v.mT.matmul(gv)
            sd = s.diag_embed()
            inner = inner + (f * (utgu - utgu.mT)).matmul(sd) + sd.matmul(f * (vtgv - vtgv.mT))
            sinv = (1.0 / s).diag_embed()
            m, n = u.shape[-2], v.shape[-2]
            extra = 0
            if m > k:
                extra = (gu - u.matmul(utgu)).matmul(sinv).matmul(vh)
            if n > k:
                extra = extra + u.matmul(sinv).matmul(gv.mT - vtgv.mT.matmul(vh))
            return u.matmul(inner).matmul(vh) + extra, None, None, None
        return u.matmul(inner).matmul(vh), None, None, None


@autocast_op("linalg_svd")
def svd(A, full_matrices=True, *, driver=None, out=None):
    op = "linalg.svd"
    c.check_float(A, op)
    c.check_matrix(A, op)
    if driver is not None:
        raise RuntimeError(
            "torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with "
            "cuSOLVER backend."
        )
    u, s, vh = _Svd.apply(A, bool(full_matrices), True, op)
    return _out(c.Svd(u, s, vh), out)


@autocast_op("linalg_svdvals")
def svdvals(A, *, driver=None, out=None):
    op = "linalg.svdvals"
    c.check_float(A, op)
    c.check_matrix(A, op)
    if _C.is_grad_enabled() and A.requires_grad:
        return _out(_Svd.apply(A, False, True, op)[1], out)
    return _out(_Svd.apply(A, False, False, op), out)


# ---------------------------------------------------------------- general eigen


def _no_complex(op):
    raise NotImplementedError(
        f"{op}: the eigenvalues of a general real matrix are complex in general and rtorch has "
        "no complex dtypes; for symmetric matrices use torch.linalg.eigh / eigvalsh"
    )


@autocast_op("linalg_eig")
def eig(A, *, out=None):
    c.square_float(A, "linalg.eig")
    _no_complex("linalg.eig")


@autocast_op("linalg_eigvals")
def eigvals(A, *, out=None):
    c.square_float(A, "linalg.eigvals")
    _no_complex("linalg.eigvals")


# ---------------------------------------------------------------- functions of the spectrum

Polar = c._result("linalg_polar", ["U", "H"])


@autocast_op("linalg_matrix_sqrth")
def matrix_sqrth(A):
    """The symmetric positive-(semi)definite square root from eigh (lower triangle read);
    negative eigenvalues are clamped to zero."""
    op = "linalg.matrix_sqrth"
    c.square_float(A, op)
    w, v = _Eigh.apply(A, False, True, op)
    return (v * w.clamp(min=0).sqrt().unsqueeze(-2)).matmul(v.mT)


def polar(A, *, out=None):
    """A = U H with U orthonormal columns and H symmetric PSD, from the reduced SVD."""
    op = "linalg.polar"
    c.check_float(A, op)
    c.check_matrix(A, op)
    m, n = A.shape[-2], A.shape[-1]
    if m < n:
        raise RuntimeError(
            f"{op}: input must have at least as many rows as columns, but got {m} by {n} matrices"
        )
    w, s, vh = _Svd.apply(A, False, True, "linalg.svd")
    return _out(Polar(w.matmul(vh), (vh.mT * s.unsqueeze(-2)).matmul(vh)), out)
