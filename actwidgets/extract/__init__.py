"""Capture intermediate values of any ``nn.Module``: the only package that touches hooks or torch.fx.

The contract, one class for both backends:

.. code-block:: python

    ext = Extractor(model, example_input, backend="auto")   # "fx", "hooks" or "auto"
    ext.points                     # every Point in forward order: name, kind, stages, layout
    ext.run(x, names, grad=False, maps=False)   # name -> value for batch x, one forward pass

- ``"fx"`` (:mod:`._fx`): traced once; each request runs a cut-down copy of the graph. Sees
  every op: module calls, functions and methods (``torch.cat``, ``x + y``, ``F.relu``).
- ``"hooks"`` (:mod:`._eager`): for models fx cannot trace (data-dependent control flow).
  Sees module calls, and activation functions and methods through a ``TorchFunctionMode``;
  other functional ops (``torch.cat``, ``+``) are no points of their own there, but their
  results are seen as the input of the next module or activation, or the output of the
  module they are called in.

``"auto"`` uses fx where the model traces. Both name points by one rule (:mod:`._naming`),
and a value is always the one the original forward pass had at that point: in-place ops
after it, through any alias, cannot change it. ``run`` puts the model in eval mode, restores
every flag afterwards, leaves no hook behind (also when the forward pass raises), and runs
under ``torch.no_grad()`` unless ``grad=True``. With ``maps=True`` every value comes back as
(N, C, H, W) (see :mod:`._layout`). Runs of one extractor from several threads take turns.

An extractor reflects the model as it was built: :meth:`Extractor.stale` says, in words, what
changed since that the build depends on (a hook added or removed, an attribute the forward
pass reads, a replaced submodule); ``Network.extractor`` asks it and builds a new one, with
the reason in ``rebuilt_because``. Every pass of the package (the build's, each run) leaves
the model's Python attributes and buffers as they were (:mod:`._staleness`).

>>> import torch
>>> from torch import nn
>>> model = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.ReLU(inplace=True))
>>> _ = model[0].weight.data.fill_(-1.0)
>>> ext = Extractor(model, torch.ones(1, 1, 2, 2))
>>> out = ext.run(torch.ones(1, 1, 2, 2), ["0", "1"])
>>> out["0"].flatten().tolist(), out["1"].flatten().tolist()   # pre-ReLU survives the in-place ReLU
([-1.0, -1.0, -1.0, -1.0], [0.0, 0.0, 0.0, 0.0])
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence

import torch
from torch import nn

from .._torch_compat import compiled_original
from ._base import INVISIBLE_KINDS, ExtractionError, Point, Record, preserve_model_state
from ._eager import EagerBackend
from ._fx import FxBackend
from ._kinds import module_kind
from ._layout import Layout, infer_layouts, layout_hints
from ._staleness import Fingerprint, StateGuard

__all__ = ["Extractor", "Point", "Layout", "ExtractionError", "preserve_model_state",
           "module_kind", "BACKENDS"]

#: The backends ``Extractor`` takes.
BACKENDS = ("auto", "fx", "hooks")


class Extractor:
    """Captures named intermediate values of ``model``.

    ``example_input`` (a batch, e.g. ``torch.zeros(1, 3, 224, 224)``; one image is run as a
    batch of two) is run once to learn every point, its shape and layout. Values that do not
    follow the batch (a model's constant tables) are no points.
    """

    def __init__(self, model: nn.Module, example_input: torch.Tensor, backend: str = "auto") -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if backend not in BACKENDS:
            raise ValueError(f'backend must be "auto", "fx" or "hooks", got {backend!r}')
        _check_compiled(model)
        self.model = model
        self.input_size = (int(example_input.shape[-2]), int(example_input.shape[-1]))
        if example_input.shape[0] == 1:  # two images tell the batch axis from a leading 1
            example_input = torch.cat([example_input, example_input])
        #: Why fx was not used where ``backend="auto"`` asked for it (None: it was, or hooks
        #: were asked for); why this extractor replaced an earlier one (``Network`` sets it).
        self.trace_error: str | None = None
        self.rebuilt_because: str | None = None
        self._guard = StateGuard(model)
        with self._guard.learn():  # the build's passes leave attributes and buffers as they were
            self._impl = self._build(model, example_input, backend)
        # fx bakes what forward read of a module's attributes into its graph: a change there
        # rebuilds. The hooks backend runs the real forward: an attribute change only makes
        # earlier values stale (``refreshed`` counts them; the cache key holds it).
        hooks = self._impl.name == "hooks"
        self._fingerprint = Fingerprint(model, self._guard.attributes, attributes=not hooks)
        self._attributes = Fingerprint(model, self._guard.attributes) if hooks else None
        self.refreshed = 0
        self._versions = self.versions() if getattr(self._impl, "constants", False) else None
        self._example = (tuple(example_input.shape[1:]), example_input.dtype, example_input.device)
        self._mixing: dict[str, bool] = {}  # point -> whether it mixes the batch
        self.backend: str = self._impl.name
        self.aliases: dict[str, str] = self._impl.aliases
        self.skipped: dict[str, str] = self._impl.skipped
        self.points: list[Point] = self._make_points(self._impl.records)
        self._by_name = {p.name: p for p in self.points}
        # One forward pass at a time: a run changes the model's flags (eval mode) for a while,
        # and a widget may run in a background thread while the person calls activations().
        self._lock = threading.RLock()

    def _build(self, model: nn.Module, example: torch.Tensor,
               backend: str) -> FxBackend | EagerBackend:
        if backend in ("auto", "fx"):
            try:
                return FxBackend(model, example)
            except Exception as exc:  # fx raises many kinds of errors on untraceable code
                if backend == "fx":
                    raise ExtractionError(
                        f"torch.fx cannot trace {type(model).__name__}: {exc}. "
                        'Use backend="hooks", which works with any nn.Module.'
                    ) from exc
                self.trace_error = f"{type(exc).__name__}: {exc}"
        return EagerBackend(model, example)

    def stale(self) -> str | None:
        """What changed in the model since this extractor was built, in words (None: nothing
        it depends on): a forward hook or pre-hook added or removed, a submodule, parameter or
        buffer replaced, an attribute that ``forward`` may read set to another value."""
        with self._lock:  # a run under way may be changing what its forward pass sets
            why = self._fingerprint.changed(self.model)
            if why is None and self._attributes is not None and not self._attributes.same():
                self._attributes.adopt(self.model)
                self.refreshed += 1
        if why is None and self._versions is not None and self.versions() != self._versions:
            why = "a parameter or buffer changed, and the traced graph holds values made from them"
        return why

    def versions(self) -> tuple[int, ...]:
        """Each parameter's and buffer's version counter, less the steps this package's own
        passes caused (a buffer a forward pass writes into, put back afterwards)."""
        return self._fingerprint.versions()

    def batch_dependent(self, names: Sequence[str] | None = None) -> frozenset[str]:
        """Which of the points ``names`` (all when None) have a value for one image that depends
        on the other images of its batch (a BatchNorm without running statistics,
        ``x - x.mean(0)``).

        Found once per point, on first use: two random batches that share their first image
        are run (cut after the deepest point asked), and a point is batch-dependent where
        that image's values differ at all.
        """
        asked = [self.point(n).name for n in (names if names is not None else self._by_name)]
        todo = tuple(dict.fromkeys(n for n in asked if n not in self._mixing))
        if todo:
            shape, dtype, device = self._example
            g = torch.Generator().manual_seed(1)
            a, b, c = (torch.randn(shape, generator=g).to(device, dtype) for _ in range(3))
            try:
                with self._lock, self._guard.learn():  # an internal pass: none of it stays
                    one = self._run(torch.stack([a, b]), todo, False)
                    two = self._run(torch.stack([a, c]), todo, False)
                self._mixing.update({n: not torch.equal(one[n][0], two[n][0]) for n in todo})
            except Exception:  # noqa: BLE001 - whatever fails, caching per image is not safe
                self._mixing.update(dict.fromkeys(todo, True))
        return frozenset(n for n in asked if self._mixing[n])

    def _run(self, x: torch.Tensor, unique: tuple[str, ...], grad: bool) -> dict[str, torch.Tensor]:
        ctx = contextlib.nullcontext() if grad else torch.no_grad()
        guard, state = self._guard.run(), preserve_model_state(self.model, eval_mode=True)
        with self._lock:
            fresh = self._fingerprint.same() and (  # checked before: what changes now is
                self._attributes is None or self._attributes.same())  # the pass's own
            with guard, state, ctx:
                out = self._impl.run(x, unique)
            if fresh:
                for fp in (self._fingerprint, self._attributes):
                    if fp is not None:
                        fp.adopt(self.model)
            return out

    def _make_points(self, records: list[Record]) -> list[Point]:
        layouts = infer_layouts({r.name: r.shape for r in records}, self.input_size,
                                layout_hints(self.model, records))
        points = []
        for i, r in enumerate(records):
            layout = layouts[r.name]
            points.append(Point(
                r.name, r.kind, r.shape, i, r.module, r.op, r.call, r.pre, r.post,
                r.kind not in INVISIBLE_KINDS, layout, layout.map_shape(r.shape, self.input_size),
            ))
        return points

    @property
    def traced(self) -> tuple[torch.fx.Graph, dict[str, torch.fx.Node]] | None:
        """The traced graph and each point's node in it (the fx backend), else None."""
        impl = self._impl
        return (impl._graph, dict(impl._by_name)) if isinstance(impl, FxBackend) else None

    def __repr__(self) -> str:
        return f"Extractor({type(self.model).__name__}, backend={self.backend!r}, {len(self.points)} points)"

    # ------------------------------------------------------------------ lookup
    def point(self, name: str) -> Point:
        """The point called ``name`` (container module names resolve to their output)."""
        name = self.aliases.get(name, name)
        point = self._by_name.get(name)
        if point is not None:
            return point
        if name in self.skipped:
            raise ExtractionError(f"{name!r} cannot be captured: {self.skipped[name]}")
        raise ExtractionError(f"no point named {name!r} in {type(self.model).__name__}")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.aliases.get(name, name) in self._by_name

    # ------------------------------------------------------------------ running
    def run(
        self, x: torch.Tensor, names: str | Sequence[str], *, grad: bool = False,
        maps: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Run the model on batch ``x`` and return the values of the points ``names``.

        Only what the deepest requested point needs is computed. The values keep their batch
        axis; ``maps=True`` gives each as (N, C, H, W). With ``grad=True`` the autograd
        graph is kept (the caller decides which tensors require grad).
        """
        if isinstance(names, str):
            names = [names]
        if not names:
            raise ValueError("names is empty: ask for at least one point")
        points = {n: self.point(n) for n in names}
        unique = tuple(dict.fromkeys(p.name for p in points.values()))
        out = self._run(x, unique, grad)
        if maps:
            hw = (int(x.shape[-2]), int(x.shape[-1]))
            out = {n: v if v.dim() == 4 and self._by_name[n].layout.kind == "chw"
                   else self._by_name[n].layout.to_map(v, hw) for n, v in out.items()}
        return {n: out[p.name] for n, p in points.items()}


def _check_compiled(model: nn.Module) -> None:
    """A clear error for a ``torch.compile``d module: neither backend can look inside one."""
    for name, m in model.named_modules():
        if compiled_original(m) is not None:
            where = f"its submodule {name!r}" if name else "it"
            raise ExtractionError(
                f"{type(model).__name__} cannot be looked into: {where} is compiled by "
                "torch.compile, whose code is generated where no hook or trace sees it. Pass "
                f"the original module instead: {'model' if not name else name}._orig_mod "
                "(torch.compile returns a wrapper; the module you compiled is unchanged)."
            )
