"""The walkthroughs' layer names for the zoo networks, as tables over torchvision's node names.

Each table maps a walkthrough name to ``(native point, default stage, group)``. MATLAB's conv
layers output the value before their ReLU, so their default stage is ``"pre"``; a Keras conv
has its ReLU fused, so its default stage is ``"post"`` and the separate ReLU is hidden.
"""

from __future__ import annotations

from .layers import NameTable

__all__ = ["SQUEEZENET_MATLAB", "GOOGLENET_MATLAB", "VGG16_KERAS"]


def _squeezenet() -> NameTable:
    names: dict[str, tuple[str, str, str]] = {
        "conv1": ("features.0", "pre", "conv1"),
        "relu_conv1": ("features.1", "post", "conv1"),
        "pool1": ("features.2", "post", "conv1"),
    }
    fires = {2: 3, 3: 4, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11, 9: 12}  # fireN -> features index
    pools = {3: 5, 5: 8}  # poolN -> features index; it follows fireN
    for fire, idx in fires.items():
        block = f"fire{fire}"
        base = f"features.{idx}"
        for part in ("squeeze1x1", "expand1x1", "expand3x3"):
            module = part.replace("1x1", "").replace("3x3", "") if part == "squeeze1x1" else part
            names[f"{block}-{part}"] = (f"{base}.{module}", "pre", block)
            names[f"{block}-relu_{part}"] = (f"{base}.{module}_activation", "post", block)
        names[f"{block}-concat"] = (base, "post", block)  # the Fire block's output
        if fire in pools:
            names[f"pool{fire}"] = (f"features.{pools[fire]}", "post", block)
    names["conv10"] = ("classifier.1", "pre", "conv10")
    names["relu_conv10"] = ("classifier.2", "post", "conv10")
    names["pool10"] = ("classifier.3", "post", "conv10")
    return NameTable(names, source="MATLAB's squeezenet")


class _GoogLeNetTable:
    """Collects GoogLeNet's names, hidden points and kinds while the table is built."""

    def __init__(self) -> None:
        self.names: dict[str, tuple[str, str, str]] = {}
        self.hide: set[str] = set()
        self.kinds: dict[str, str] = {}
        self.filters: dict[str, str] = {}

    def basic(self, alias_conv: str, alias_relu: str, module: str, group: str) -> None:
        # torchvision's BasicConv2d is conv -> batch norm -> F.relu: the Caffe conv's value
        # is the batch norm's output, the value right before the ReLU. The raw conv is hidden.
        self.names[alias_conv] = (f"{module}.bn", "pre", group)
        self.names[alias_relu] = (f"{module}.relu", "post", group)
        self.hide.add(f"{module}.conv")
        self.kinds[alias_conv] = "conv"
        self.filters[alias_conv] = f"{module}.conv"


def _googlenet() -> NameTable:
    t = _GoogLeNetTable()
    t.basic("conv1-7x7_s2", "conv1-relu_7x7", "conv1", "conv1")
    t.names["pool1-3x3_s2"] = ("maxpool1", "post", "conv1")
    t.basic("conv2-3x3_reduce", "conv2-relu_3x3_reduce", "conv2", "conv2")
    t.basic("conv2-3x3", "conv2-relu_3x3", "conv3", "conv2")
    t.names["pool2-3x3_s2"] = ("maxpool2", "post", "conv2")
    for b in ["3a", "3b", "pool3", "4a", "4b", "4c", "4d", "4e", "pool4", "5a", "5b"]:
        if b.startswith("pool"):
            after = {"pool3": "inception_3b", "pool4": "inception_4e"}[b]
            t.names[f"{b}-3x3_s2"] = (f"maxpool{b[-1]}", "post", after)
            continue
        group, mod = f"inception_{b}", f"inception{b}"
        t.basic(f"{group}-1x1", f"{group}-relu_1x1", f"{mod}.branch1", group)
        t.basic(f"{group}-3x3_reduce", f"{group}-relu_3x3_reduce", f"{mod}.branch2.0", group)
        t.basic(f"{group}-3x3", f"{group}-relu_3x3", f"{mod}.branch2.1", group)
        # torchvision's "5x5" branch uses a 3x3 kernel (a known quirk kept for its weights).
        t.basic(f"{group}-5x5_reduce", f"{group}-relu_5x5_reduce", f"{mod}.branch3.0", group)
        t.basic(f"{group}-5x5", f"{group}-relu_5x5", f"{mod}.branch3.1", group)
        t.names[f"{group}-pool"] = (f"{mod}.branch4.0", "post", group)
        t.basic(f"{group}-pool_proj", f"{group}-relu_pool_proj", f"{mod}.branch4.1", group)
        t.names[f"{group}-output"] = (mod, "post", group)  # the block's output
    t.names["pool5-7x7_s1"] = ("avgpool", "post", "inception_5b")
    t.names["loss3-classifier"] = ("fc", "post", "classifier")
    # torchvision's pretrained GoogLeNet first re-normalises its input (transform_input):
    # three channel-wise affine maps and a concat, not layers of the Caffe network.
    t.hide.update({"add", "add_1", "add_2", "cat"})
    return NameTable(t.names, frozenset(t.hide), "MATLAB's googlenet", t.kinds, t.filters)


def _vgg16() -> NameTable:
    names: dict[str, tuple[str, str, str]] = {}
    hide: set[str] = set()
    idx = 0
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1):
        group = f"block{block}"
        for k in range(1, convs + 1):
            names[f"{group}_conv{k}"] = (f"features.{idx}", "post", group)
            hide.add(f"features.{idx + 1}")
            idx += 2
        names[f"{group}_pool"] = (f"features.{idx}", "post", group)
        idx += 1
    names["fc1"] = ("classifier.0", "post", "classifier")
    names["fc2"] = ("classifier.3", "post", "classifier")
    names["predictions"] = ("classifier.6", "post", "classifier")
    hide.update({"classifier.1", "classifier.4"})
    return NameTable(names, frozenset(hide), source="Keras' VGG16")


SQUEEZENET_MATLAB = _squeezenet()
GOOGLENET_MATLAB = _googlenet()
VGG16_KERAS = _vgg16()
