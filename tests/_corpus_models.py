"""The corpus test's hand-written models: each holds one mechanism a real model has (an
in-place activation whose result is not assigned, a data-dependent branch, a write through
``.data``, a square channels-last value...). ``test_corpus.py`` checks every one of them,
both backends, against ``_reference.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DigitNames(nn.Module):
    """``conv_1``/``conv_2`` (names must not shift), ``act`` called twice next to a module
    ``act_1`` (its second call is ``act#1``), ``F.relu`` next to a module ``relu`` (``relu_fn``)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_1, self.conv_2 = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
        self.act, self.act_1, self.relu = nn.ReLU(), nn.ReLU(), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv_1(x))
        x = self.act(self.conv_2(x) - 0.1)
        return self.relu(F.relu(self.act_1(x) - 0.05) + 0.1)


class Unassigned(nn.Module):
    """An in-place activation whose result is not assigned: ``self.relu(y); c2(y)``; then
    an activation whose input is ``y`` after that ReLU, not the conv's output."""

    def __init__(self, functional: bool) -> None:
        super().__init__()
        self.functional = functional
        self.conv, self.c2 = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3, padding=1)
        self.relu, self.act = nn.ReLU(inplace=True), nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.functional:
            F.relu(y, inplace=True)
        else:
            self.relu(y)
        return self.c2(y) + self.act(y)


class Functional(nn.Module):
    """ResNet's ``out += identity``; ``F.relu``, ``torch.relu_``, ``clamp``/``clamp_``,
    ``F.gelu``, ``F.silu``; values changed through views; the module ``relu`` used twice."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.conv = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
        self.bn, self.relu = nn.BatchNorm2d(4), nn.ReLU(inplace=True)
        self.c = nn.ModuleList(nn.Conv2d(4, 4, 3, padding=1) for _ in range(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        out = self.bn(self.conv(s))
        out += s
        out = self.relu(out)
        a = F.relu(self.c[0](out))
        b = torch.relu_(self.c[1](a))
        c = self.c[2](b).clamp(min=-1.0, max=1.0).clamp(min=0)  # only the 2nd clamp is one
        c = self.c[3](c).clamp_(min=0)
        d = F.silu(F.gelu(self.c[4](c)))
        y = self.c[5](d)
        y.view(y.shape[0], -1).relu_()  # changes y through a view, result not assigned
        z = self.c[6](y)
        z.view(-1).relu_()  # the same through a flat view (no batch axis: no point)
        return self.relu(self.c[7](z))


class Reused(nn.Module):
    """One ReLU module called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.relu = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.b(self.relu(self.a(x))))


class Untraceable(nn.Module):
    """A data-dependent ``if``: torch.fx cannot trace it. The package's example input (randn)
    takes the out-of-place branch, the test's images the in-place one, so the discovery
    pass never saw the write into the conv's value. ``F.relu`` in a block too."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.block = nn.Conv2d(3, 4, 3), Unassigned(functional=True)
        self.head = nn.Sequential(nn.Conv2d(4, 4, 1), nn.Hardswish())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        y = F.relu(y, inplace=True) if x.mean() > 0.25 else F.relu(y)
        return self.head(F.relu(self.block(torch.cat([y[:, :1], y[:, 1:]], 1)[:, :3])))


class AttentionRelu(nn.Module):
    """``nn.MultiheadAttention`` (a fused fast path in eval mode without grad), then
    ``F.relu``. Any ``TorchFunctionMode`` turns the fast path off, changing the values in
    the last bits: a value must not depend on which other points a request asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.embed, self.proj = nn.Linear(3, 16), nn.Linear(16, 16)
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.embed(x.flatten(2).transpose(1, 2))
        return F.relu(self.proj(self.attn(t, t, t, need_weights=False)[0]))


class BatchFree(nn.Module):
    """A value that does not depend on the input (like swin v2's position-bias MLP): with a
    batch of one it has a leading 1 that looks like a batch axis, but it is none."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(1, 4, 8, 8))
        self.conv, self.relu = nn.Conv2d(3, 4, 1), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.relu(self.table)


def sequential(middle: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), middle, nn.ReLU(inplace=True), nn.Conv2d(4, 4, 3))


def pre_hooked() -> nn.Module:
    """A forward pre-hook that changes a ReLU's input: its "pre" is conv - 0.5, not the conv's
    output (fx's graph cannot see it, so fx refuses and "auto" takes hooks)."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU())
    model[1].register_forward_pre_hook(lambda _m, args: (args[0] - 0.5,))
    return model




# ---------------------------------------------------------------------- what the example decides
class GainBetween(nn.Module):
    """A gain between the conv and its ReLU only for bright inputs (``x.mean() > 0.25``): the
    random example takes the other branch, so conv → ReLU is no pair for the corpus images."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.relu, self.c2 = nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if x.mean() > 0.25:
            y = y * 2
        return self.c2(self.relu(y))


class _Gate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor, bright: torch.Tensor) -> torch.Tensor:
        return self.conv(x) if bright else x


class SkippedBlock(nn.Module):
    """A block that hands on its input for the random example and runs its conv for bright
    images: its name must give its own output, not the stem's."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.gate, self.relu = nn.Conv2d(3, 4, 3), _Gate(), nn.ReLU()
        self.head = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.relu(self.gate(self.stem(x), x.mean() > 0.25)))


class DataWrite(nn.Module):
    """A write through ``.data`` after the conv's point: no version counter sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        r = F.relu(y)
        y.data.mul_(0.5)
        return self.b(r) + y


class ScriptedPart(nn.Module):
    """A ``torch.jit.script`` submodule: it takes no hooks; its output is the next conv's input."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))
        self.b, self.relu = nn.Conv2d(4, 4, 3), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.b(self.a(x)))


class FrozenPart(nn.Module):
    """A frozen stem run under ``torch.inference_mode()``: its values have no version counter."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.relu, self.b = nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            y = self.relu(self.a(x))
        return self.b(y.clone())


class EarlyFlag(nn.Module):
    """The branch is decided before the conv runs: no value is read between the conv and its
    ReLU, so the example pairs them; a bright image puts a gain between them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.relu = nn.Conv2d(3, 2, 1), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bright = bool(x.mean() > 0.25)
        y = self.conv(x)
        return self.relu(y * 2 if bright else y)


# ---------------------------------------------------------------------- layouts
class PooledTokens(nn.Module):
    """PiT's tokens: a patch conv without padding (11×11 at 96 pixels: stride 8, no divisor
    of 96), a class token before the grid, LayerNorm and an MLP over the tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 16, stride=8)
        self.cls = nn.Parameter(torch.randn(1, 1, 8))
        self.norm, self.fc, self.act = nn.LayerNorm(8), nn.Linear(8, 16), nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(x.shape[0], -1, -1), t], dim=1)
        return self.act(self.fc(self.norm(t)))


class TalkingHeads(nn.Module):
    """CaiT's talking-heads attention: query × key products of the patch tokens with the
    head axis last, mixed across heads by a Linear: (N, N, heads) is no map, though N×N
    looks like one."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 4, stride=4)
        self.proj_l, self.out, self.act = nn.Linear(4, 4), nn.Linear(8, 8), nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch(x).flatten(2).transpose(1, 2)  # (B, N, 8)
        heads = torch.stack([t[..., 2 * i:2 * i + 2] @ t[..., 2 * i:2 * i + 2].transpose(1, 2)
                             for i in range(4)], dim=-1)  # (B, N, N, 4)
        attn = self.proj_l(heads).softmax(dim=2)
        return self.act(self.out(attn[..., 0] @ t))


class SquareChannelsLast(nn.Module):
    """ConvNeXt's block where H == W == C (8 channels of 8×8 at 32 pixels): a permute, Swin's
    pad on (N, H, W, C), then LayerNorm, Linear, GELU, Linear and Dropout, and a permute back."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 4, stride=4)
        self.norm, self.fc1, self.act = nn.LayerNorm(8), nn.Linear(8, 8), nn.GELU()
        self.fc2, self.drop, self.out = nn.Linear(8, 8), nn.Dropout(0.1), nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.pad(self.stem(x).permute(0, 2, 3, 1), (0, 0, 0, 0, 0, 0))  # nothing to pad
        y = self.drop(self.fc2(self.act(self.fc1(self.norm(y)))))
        return self.out(y.permute(0, 3, 1, 2))
