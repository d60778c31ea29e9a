"""Training-free hashing baselines: LSH (random hyperplanes), PCA-sign and ITQ, plus the exact float KNN ceiling.

Every hasher has the same small interface: ``fit(X)`` on a float matrix (N, D) (pixels or cached embeddings),
then ``encode(X) -> np.int8`` ±1 codes (N, bits) with ``sign(0) = +1`` (:func:`hashlab.codes.to_codes`). All of
them are seeded: the same seed and data give the same codes.

- :class:`LSHHasher`: ``b = sign(R^T (x - mu))``, R Gaussian (Charikar 2002, random-hyperplane LSH); the
  "random hashing" ablation of the convolutional-autoencoder study (:mod:`hashlab.autoencoder`).
- :class:`PCASignHasher`: ``b = sign(W_pca^T (x - mu))`` with the top-``bits`` principal directions.
- :class:`ITQHasher`: iterative quantization (Gong & Lazebnik, CVPR 2011): ``b = sign(R^T W_pca^T (x - mu))`` with
  the rotation R minimising the quantization loss ``Q(B, R) = ||B - V R||_F^2`` (V = PCA-projected data).
- :func:`float_knn_report`: exact Euclidean ranking on the float features, the ceiling every code is compared to.
- :func:`hashing_report`: the same protocol (mAP, P@k, ms per query through ``hashlab.index.HammingIndex``) for codes.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from hashlab.checks import check_codes, check_features, check_positive_int
from hashlab.codes import to_codes

__all__ = [
    "BASELINES",
    "Hasher",
    "ITQHasher",
    "LSHHasher",
    "PCASignHasher",
    "float_knn_report",
    "get_baseline",
    "hashing_report",
]


def _check_features(X: Any, name: str = "X", dim: int | None = None) -> np.ndarray:
    """``X`` as a finite float64 matrix (N, D) (:func:`hashlab.checks.check_features`) of ``dim`` columns if given."""
    arr = check_features(X, name).astype(np.float64, copy=False)
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has {arr.shape[1]} features, the hasher was fitted on {dim}")
    return arr


class Hasher:
    """Base class: ``fit(X)`` learns the projection, ``encode(X)`` returns ±1 ``np.int8`` codes (N, bits)."""

    name: ClassVar[str] = "hasher"

    def __init__(self, bits: int, seed: int = 0) -> None:
        self.bits = check_positive_int(bits, "bits")
        self.seed = int(seed)
        self.mean_: np.ndarray | None = None
        self.projection_: np.ndarray | None = None  # (D, bits)

    def fit(self, X: Any) -> Hasher:
        raise NotImplementedError

    def project(self, X: Any) -> np.ndarray:
        """Real-valued projections ``(X - mu) @ projection`` (N, bits) whose signs are the codes."""
        if self.projection_ is None or self.mean_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(X) first")
        arr = _check_features(X, dim=self.projection_.shape[0])
        return (arr - self.mean_) @ self.projection_

    def encode(self, X: Any) -> np.ndarray:
        """±1 ``np.int8`` codes (N, bits), ``sign(0) = +1``."""
        return to_codes(self.project(X))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bits={self.bits}, seed={self.seed})"


class LSHHasher(Hasher):
    """Random-hyperplane LSH (Charikar, STOC 2002): ``b_j = sign(r_j^T (x - mu))``, ``r_j ~ N(0, I)``.

    Training-free apart from the mean ``mu`` (``center=True``; with ``center=False``, ``mu = 0``). For two
    vectors at angle theta, ``P[b_j(x) != b_j(y)] = theta / pi``, so the expected Hamming distance is
    ``bits * theta / pi``. R is drawn from ``np.random.default_rng(seed)``.
    """

    name = "lsh"

    def __init__(self, bits: int, seed: int = 0, center: bool = True) -> None:
        super().__init__(bits, seed)
        self.center = bool(center)

    def fit(self, X: Any) -> LSHHasher:
        arr = _check_features(X)
        rng = np.random.default_rng(self.seed)
        self.mean_ = arr.mean(axis=0) if self.center else np.zeros(arr.shape[1])
        self.projection_ = rng.standard_normal((arr.shape[1], self.bits))
        return self


def _pca(arr: np.ndarray, bits: int, who: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and top-``bits`` principal directions (D, bits) of ``arr`` (sign fixed so each column sums >= 0)."""
    n, d = arr.shape
    if bits > min(n, d):
        raise ValueError(
            f"{who} needs bits <= min(n_samples, n_features) = {min(n, d)} (got bits={bits}, X of shape {(n, d)}); "
            "use LSHHasher for more bits than dimensions"
        )
    from sklearn.decomposition import PCA

    pca = PCA(n_components=bits, svd_solver="full").fit(arr)
    comps = pca.components_.T.copy()  # (D, bits)
    comps *= np.where(comps.sum(axis=0) >= 0, 1.0, -1.0)  # deterministic sign of each direction
    return pca.mean_.copy(), comps


class PCASignHasher(Hasher):
    """PCA hashing: ``b = sign(W^T (x - mu))`` with W the top-``bits`` principal directions (PCAH, as in Gong &
    Lazebnik 2011's baselines). Bit j splits the data at the mean along the j-th direction of largest variance.
    Deterministic (``seed`` is kept for the common interface)."""

    name = "pca_sign"

    def fit(self, X: Any) -> PCASignHasher:
        arr = _check_features(X)
        self.mean_, self.projection_ = _pca(arr, self.bits, "PCASignHasher")
        return self


class ITQHasher(Hasher):
    """Iterative quantization (Gong & Lazebnik, "Iterative quantization: a Procrustean approach to learning binary
    codes", CVPR 2011).

    With V = (X - mu) W_pca (N, bits), ITQ minimises the quantization loss
    ``Q(B, R) = ||B - V R||_F^2`` over B in {-1, +1}^{N x bits} and orthogonal R, alternating
    ``B = sign(V R)`` and ``R = S Ŝ^T`` from the SVD ``V^T B = S Ω Ŝ^T`` (orthogonal Procrustes). Each half-step
    is optimal given the other variable, so Q never increases; ``loss_history_`` holds ``Q(sign(V R_t), R_t)``
    for t = 0 (random orthogonal R_0, seeded) .. ``n_iter``. Codes are ``sign(R^T W_pca^T (x - mu))``.
    """

    name = "itq"

    def __init__(self, bits: int, seed: int = 0, n_iter: int = 50) -> None:
        super().__init__(bits, seed)
        self.n_iter = check_positive_int(n_iter, "n_iter", minimum=0)
        self.rotation_: np.ndarray | None = None
        self.loss_history_: list[float] = []

    @staticmethod
    def quantization_loss(V: np.ndarray, R: np.ndarray) -> float:
        """``||sign(V R) - V R||_F^2`` (sign(0) = +1)."""
        VR = V @ R
        return float(np.sum((np.where(VR >= 0, 1.0, -1.0) - VR) ** 2))

    def fit(self, X: Any) -> ITQHasher:
        arr = _check_features(X)
        mean, pca = _pca(arr, self.bits, "ITQHasher")
        V = (arr - mean) @ pca
        rng = np.random.default_rng(self.seed)
        R, _ = np.linalg.qr(rng.standard_normal((self.bits, self.bits)))
        history = [self.quantization_loss(V, R)]
        for _ in range(self.n_iter):
            B = np.where(V @ R >= 0, 1.0, -1.0)
            S, _, Sh_t = np.linalg.svd(V.T @ B)
            R = S @ Sh_t
            history.append(self.quantization_loss(V, R))
        self.mean_ = mean
        self.rotation_ = R
        self.projection_ = pca @ R
        self.loss_history_ = history
        return self


BASELINES: dict[str, type[Hasher]] = {cls.name: cls for cls in (LSHHasher, PCASignHasher, ITQHasher)}


def get_baseline(name: str, bits: int, seed: int = 0, **kwargs: Any) -> Hasher:
    """Build a baseline hasher by name (``lsh``, ``pca_sign``, ``itq``); unknown names raise ``KeyError``."""
    try:
        cls = BASELINES[name]
    except KeyError:
        raise KeyError(f"unknown baseline {name!r}; available: {sorted(BASELINES)}") from None
    return cls(bits, seed=seed, **kwargs)


def _time_per_query_ms(search: Any, queries: np.ndarray, repeats: int = 10) -> float:
    """Best-of-``repeats`` wall time of ``search(queries)`` per query, in ms, with faiss on one OpenMP thread.

    One thread: on a shared, loaded CPU, spinning OpenMP threads made these sub-millisecond searches up to 10x
    slower and noisy. The minimum over repeats is the least disturbed run.
    """
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            search(queries)
            best = min(best, time.perf_counter() - t0)
    finally:
        faiss.omp_set_num_threads(previous)
    return 1000.0 * best / len(queries)


def hashing_report(
    query_codes: Any, db_codes: Any, query_labels: Any, db_labels: Any, k: int = 100
) -> dict[str, float]:
    """mAP (full Hamming ranking), P@k and search time in ms per query (top-k, ``HammingIndex``, faiss, 1 thread).

    mAP and P@k come from :func:`hashlab.metrics.retrieval_report` (ties by database index).
    """
    from hashlab.index import HammingIndex
    from hashlab.metrics import retrieval_report

    q, db = check_codes(query_codes, "query_codes"), check_codes(db_codes, "db_codes")
    kk = min(k, len(db))
    rep = retrieval_report(q, db, query_labels, db_labels, p_k=kk)
    index = HammingIndex(q.shape[1])
    index.add(db)
    return {
        "map": float(rep["map"]),
        f"p@{k}": float(rep["p@k"]),
        "ms_per_query": _time_per_query_ms(lambda x: index.search(x, kk), q),
    }


def float_knn_report(
    query_features: Any, db_features: Any, query_labels: Any, db_labels: Any, k: int = 100
) -> dict[str, float]:
    """Exact Euclidean-ranking ceiling on float features: mAP (full ranking), P@k, ms per query.

    mAP and P@k come from :func:`hashlab.metrics.mean_average_precision_float` and
    :func:`hashlab.metrics.precision_at_k_float` (float64 distances, ties by database index, a query without
    relevant items scores 0, as for the codes in :func:`hashing_report`); the time is a top-k exact search with
    faiss ``IndexFlatL2`` (one thread). Single-label (N,) or multi-hot (N, C) labels.
    """
    import faiss

    from hashlab.metrics import mean_average_precision_float, precision_at_k_float

    q = _check_features(query_features, "query_features").astype(np.float32)
    db = _check_features(db_features, "db_features", dim=q.shape[1]).astype(np.float32)
    kk = min(k, len(db))
    index = faiss.IndexFlatL2(q.shape[1])
    index.add(db)
    return {
        "map": float(mean_average_precision_float(q, db, query_labels, db_labels)),
        f"p@{k}": precision_at_k_float(q, db, query_labels, db_labels, k=kk),
        "ms_per_query": _time_per_query_ms(lambda x: index.search(x, kk), q),
    }
