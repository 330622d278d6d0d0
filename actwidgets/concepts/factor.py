"""Non-negative matrix factorisation of activations (scikit-learn): the fit; projection onto fixed loadings.

A layer's activations at P positions (map cells of one or many images) form a (P, C) matrix
``X`` ≥ 0. :func:`fit` factorises it with scikit-learn's :class:`~sklearn.decomposition.NMF`
(coordinate descent, Frobenius loss, ``init="nndsvda"``, seeded) as ``X ≈ W @ H``: ``H``
(n, C) are the concepts' *loadings* on the channels, ``W`` (P, n) each position's amount
of each concept. :func:`project` finds ``W`` for new positions with ``H`` held fixed: one
non-negative least-squares problem per position, by scikit-learn's coordinate descent (what
``NMF.transform`` runs; faster on the CPU than a torch version, ``benchmarks/concepts.py``).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> H = np.array([[1.0, 1, 0, 0], [0, 0, 1, 1]])            # two parts, two channels each
>>> X = rng.random((50, 2)) @ H                                # 50 positions mixing them
>>> f = fit(X, 2, seed=0)
>>> f.explained > 0.999, f.loadings.shape
(True, (2, 4))
>>> W = project(X, f.loadings)                                # the best non-negative mix
>>> bool(np.linalg.norm(W @ f.loadings - X) <= f.error + 1e-6)
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Fit", "fit", "project", "check_counts", "NegativeValuesError"]

#: The solver's limits: iterations (fit and projection) and the projection's tolerance.
MAX_ITER = 500
TOL = 1e-4


class NegativeValuesError(ValueError):
    """Activations below zero, which a non-negative factorisation cannot take."""


@dataclass(frozen=True)
class Fit:
    """A factorisation ``X ≈ weights @ loadings`` of a (P, C) sample.

    ``error`` is ‖X − weights @ loadings‖ (Frobenius), ``norm`` ‖X‖; ``explained`` is
    1 − error / norm. ``iterations`` and ``converged`` are scikit-learn's.
    """

    loadings: np.ndarray
    weights: np.ndarray
    error: float
    norm: float
    iterations: int
    converged: bool

    @property
    def explained(self) -> float:
        return 1.0 - self.error / self.norm if self.norm > 0 else 0.0


def check_counts(n: object, channels: int, layer: str) -> int:
    """``n`` checked: an int from 1 to the layer's channel count."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n (the number of concepts) must be an int, got {n!r}")
    if not 1 <= int(n) <= channels:
        raise ValueError(f"n must be between 1 and {channels} ({layer!r} has {channels} channels), "
                         f"got {n}: a concept is a mix of channels, so there are at most as many")
    return int(n)


def check_values(x: np.ndarray | torch.Tensor, layer: str) -> None:
    """A :class:`NegativeValuesError` when ``x`` has a negative value (or NaN)."""
    size = x.size if isinstance(x, np.ndarray) else x.numel()
    low = float(x.min()) if size else 0.0
    if not low >= 0:
        raise NegativeValuesError(
            f"{layer!r} has negative values (down to {low:.3g}) on these images: concepts are a "
            "non-negative factorisation; take a layer after a ReLU at its 'post' stage "
            "(net.layers lists the stages)")


def fit(x: np.ndarray, n: int, *, seed: int = 0, max_iter: int = MAX_ITER,
        tol: float = 1e-4) -> Fit:
    """Factorise ``x`` (P, C) ≥ 0 into ``n`` concepts with scikit-learn's NMF (see above).

    Deterministic for a given ``seed``. Raises a ValueError when ``x`` has fewer rows than
    ``n`` or is all zeros.
    """
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.shape[0] < n:
        raise ValueError(f"the sample has {x.shape[0]} positions, fewer than n={n} concepts: use "
                         "more images or fewer concepts")
    norm = float(np.linalg.norm(x.astype(np.float64)))
    if norm == 0:
        raise ValueError("the layer's values are all zero on these images: there is nothing to "
                         "factorise (is the network trained? is the layer after a dead ReLU?)")
    model = NMF(n_components=n, init="nndsvda", solver="cd", beta_loss="frobenius",
                max_iter=max_iter, tol=tol, random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        weights = model.fit_transform(x)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    loadings = model.components_.astype(np.float32)
    return Fit(loadings, weights.astype(np.float32), float(model.reconstruction_err_), norm,
               int(model.n_iter_), converged)


def project(x: np.ndarray | torch.Tensor, loadings: np.ndarray | torch.Tensor, *,
            max_iter: int = MAX_ITER, tol: float = TOL) -> np.ndarray | torch.Tensor:
    """The non-negative ``w`` (P, n) minimising ‖x − w @ loadings‖ row by row.

    scikit-learn's coordinate descent with the loadings held fixed (what ``NMF.transform``
    runs: ``non_negative_factorization(..., update_H=False)``). Gives back the type it was
    given (numpy, or torch on ``x``'s device).
    """
    from sklearn.decomposition import non_negative_factorization

    as_numpy = not isinstance(x, torch.Tensor)
    xn = np.ascontiguousarray(x if as_numpy else x.detach().cpu().numpy(), dtype=np.float32)
    h = np.ascontiguousarray(loadings.detach().cpu().numpy() if isinstance(loadings, torch.Tensor)
                             else loadings, dtype=np.float32)
    if len(xn) == 0:
        w = np.zeros((0, h.shape[0]), np.float32)
    else:
        w, _, _ = non_negative_factorization(xn, H=h, n_components=h.shape[0], init="custom",
                                             update_H=False, solver="cd", max_iter=max_iter,
                                             tol=tol)
    w = w.astype(np.float32, copy=False)
    return w if as_numpy else torch.from_numpy(w).to(x.device)


def residual(x: torch.Tensor, w: torch.Tensor, loadings: torch.Tensor) -> tuple[float, float]:
    """(‖x − w @ loadings‖², ‖x‖²) in float64."""
    r = (x - w @ loadings).double()
    return float(r.square().sum()), float(x.double().square().sum())


def relative_error(squared_error: float, squared_norm: float) -> float:
    """‖A − WH‖ / ‖A‖ from the squares (0 for an all-zero A)."""
    return math.sqrt(squared_error / squared_norm) if squared_norm > 0 else 0.0
