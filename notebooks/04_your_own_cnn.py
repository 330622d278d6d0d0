# %% [markdown]
# # Train your own CNN, then look inside it
#
# The other notebooks look inside networks that someone else trained. Here we train a small
# one ourselves, in about ten seconds on a laptop CPU (the training cell prints the time it
# took), and look at it with the same tools. The data is generated right here, so nothing needs to be
# downloaded.
#
# At the end we test a claim from a Keras blog post on visualising activations: *the deeper
# the layer, the sparser its activations* (the more zeros after the ReLU).

# %%
import copy
import time
from collections import OrderedDict

import numpy as np
import matplotlib.pyplot as plt
import torch
from torch import nn
from PIL import Image, ImageDraw

import actwidgets as aw

# %% [markdown]
# ## A dataset of shapes
#
# 64×64 pictures of four kinds: a **circle**, a **square**, a **triangle**, or **stripes**,
# in random colours, positions, sizes and (for stripes) directions. The shape's brightness
# always differs clearly from the background's, so the task is fair. The generator is seeded:
# the same data every run.

# %%
CLASSES = ["circle", "square", "triangle", "stripes"]
SIZE = 64
N_TRAIN, N_TEST = 3000, 600
EPOCHS = 3


def luminance(colour):
    r, g, b = colour
    return 0.299 * r + 0.587 * g + 0.114 * b


def two_colours(rng):
    """A background and a foreground colour whose brightness differs clearly."""
    while True:
        bg, fg = (tuple(int(v) for v in c) for c in rng.integers(0, 256, (2, 3)))
        if abs(luminance(fg) - luminance(bg)) > 80:
            return bg, fg


def draw(kind, rng):
    bg, fg = two_colours(rng)
    img = Image.new("RGB", (SIZE, SIZE), bg)
    pen = ImageDraw.Draw(img)
    r = rng.uniform(10, 24)
    cx, cy = rng.uniform(r + 2, SIZE - r - 2, size=2)
    if kind == "circle":
        pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
    elif kind == "square":
        h = 0.85 * r
        pen.rectangle([cx - h, cy - h, cx + h, cy + h], fill=fg)
    elif kind == "triangle":
        corners = [-np.pi / 2, np.pi / 6, 5 * np.pi / 6]
        pen.polygon([(cx + r * np.cos(a), cy + r * np.sin(a)) for a in corners], fill=fg)
    else:  # stripes
        period, angle = rng.uniform(6, 14), rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        phase = (xx * np.cos(angle) + yy * np.sin(angle)) / period + rng.uniform()
        pixels = np.array(img)
        pixels[phase % 1.0 < 0.5] = fg
        return pixels
    return np.array(img)


def make_dataset(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), n)
    return np.stack([draw(CLASSES[k], rng) for k in labels]), labels


train_images, train_labels = make_dataset(N_TRAIN, seed=1)
test_images, test_labels = make_dataset(N_TEST, seed=2)
print("train:", train_images.shape, " test:", test_images.shape)

# %%
fig, axes = plt.subplots(2, 8, figsize=(12, 3.4))
for ax, img, label in zip(axes.ravel(), train_images, train_labels):
    ax.imshow(img)
    ax.set_title(CLASSES[label], fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## The network
#
# Four 3×3 convolutions, each followed by a ReLU; max-pooling halves the size after the first
# three. A global max-pool keeps each of the last 64 channels' strongest response, and a
# linear layer turns those 64 numbers into four class scores. Naming the layers
# (`conv1`, `relu1`, ...) makes them easy to find later.

# %%
torch.manual_seed(0)
model = nn.Sequential(OrderedDict([
    ("conv1", nn.Conv2d(3, 8, 3, padding=1)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
    ("conv2", nn.Conv2d(8, 16, 3, padding=1)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
    ("conv3", nn.Conv2d(16, 32, 3, padding=1)), ("relu3", nn.ReLU()), ("pool3", nn.MaxPool2d(2)),
    ("conv4", nn.Conv2d(32, 64, 3, padding=1)), ("relu4", nn.ReLU()),
    ("global_max", nn.AdaptiveMaxPool2d(1)), ("flatten", nn.Flatten()),
    ("fc", nn.Linear(64, len(CLASSES))),
]))
print(model)
print(sum(p.numel() for p in model.parameters()), "parameters")


# %% [markdown]
# ## Training
#
# Pixels become numbers in [0, 1]. We train with Adam on mini-batches of 32 pictures for a few
# passes over the data (*epochs*) and measure the accuracy on the test pictures, which the
# network never trains on.

# %%
def to_tensor(images):
    """uint8 pictures (N, H, W, 3) -> float tensor (N, 3, H, W) in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


def predict(images, batch=100):
    """The predicted class of each picture (a few at a time, to save memory)."""
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(to_tensor(images[i:i + batch])).argmax(dim=1).numpy()
                               for i in range(0, len(images), batch)])


def test_accuracy():
    return float(np.mean(predict(test_images) == test_labels))


labels = torch.from_numpy(train_labels)
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
order = torch.Generator().manual_seed(0)
start = time.time()
for epoch in range(EPOCHS):
    model.train()
    total = 0.0
    for batch in torch.randperm(N_TRAIN, generator=order).split(32):
        loss = nn.functional.cross_entropy(model(to_tensor(train_images[batch.numpy()])),
                                           labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    print(f"epoch {epoch + 1}: loss {total / N_TRAIN:.3f}, "
          f"test accuracy {test_accuracy():.1%}  ({time.time() - start:.0f} s)")

accuracy = test_accuracy()
model.eval()
print(f"test accuracy {accuracy:.1%} (guessing would give {1 / len(CLASSES):.0%})")
assert accuracy > 0.85

# %% [markdown]
# ## Wrap it for actwidgets
#
# `aw.Network.wrap` turns any PyTorch model into a network the tools understand. With
# `preprocess=None` the pictures are resized to `input_size` and scaled to [0, 1], exactly as
# we trained. The layer catalogue finds each conv and its ReLU.

# %%
net = aw.Network.wrap(model, preprocess=None, categories=CLASSES, input_size=SIZE,
                      name="shapes-cnn")
print(net.summary())

example = test_images[0]
print("true class:", CLASSES[test_labels[0]], "| the network says:", aw.classify(net, example, top=2))
assert aw.classify(net, example, top=1)[0][0] == CLASSES[predict(test_images[:1])[0]]

# %% [markdown]
# ## Every layer, before and after its ReLU
#
# For one test picture, every channel of each conv layer: on the left before the ReLU (black is
# negative), on the right after it (black is zero). Each side is scaled on its own.

# %%
picture = test_images[np.flatnonzero(test_labels == CLASSES.index("triangle"))[0]]
plt.figure(figsize=(2, 2))
plt.imshow(picture)
plt.axis("off")
plt.show()

CONVS = ["conv1", "conv2", "conv3", "conv4"]
fig, axes = plt.subplots(len(CONVS), 2, figsize=(8, 14))
for row, layer in enumerate(CONVS):
    pre = aw.activations(net, picture, layer, stage="pre")
    post = aw.activations(net, picture, layer, stage="post")
    assert np.array_equal(post, np.maximum(pre, 0))
    for col, (acts, stage) in enumerate([(pre, "before ReLU"), (post, "after ReLU")]):
        axes[row, col].imshow(aw.imtile(aw.mat2gray(acts)), cmap="gray")
        axes[row, col].set_title(f"{layer} {stage}: {acts.shape[0]} ch, "
                                 f"{acts.shape[1]}×{acts.shape[2]}", fontsize=9)
        axes[row, col].axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# The first layer's channels still look like the picture: each reacts to some colour or edge.
# Deeper layers are smaller and harder to read. `aw.overlay` puts the strongest channel of
# `conv4` over the picture, to show *where* it fires:

# %%
acts4 = aw.activations(net, picture, "relu4")
c = aw.strongest_channel(acts4)
plt.figure(figsize=(3, 3))
plt.imshow(aw.overlay(picture, acts4[c]))
plt.title(f"relu4, channel {c}")
plt.axis("off")
plt.show()

# %% [markdown]
# ## Does sparsity grow with depth?
#
# The Keras blog says that activations get *sparser* deeper in the network. After a ReLU,
# sparsity is the fraction of exact zeros. `aw.channel_stats(acts)["frac_zero"]` gives it per
# channel; we average over all channels and over 300 test pictures, for the trained network and,
# for comparison, for the same network before training.

# %%
RELUS = ["relu1", "relu2", "relu3", "relu4"]
sample = list(test_images[:300])


def sparsity(network):
    acts = aw.activations(network, sample, RELUS)      # (pictures, C, H, W) per layer
    return {layer: float(np.mean([aw.channel_stats(a)["frac_zero"].mean() for a in acts[layer]]))
            for layer in RELUS}


trained = sparsity(net)

# The same architecture with fresh random weights (as before training).
torch.manual_seed(0)
untrained_model = copy.deepcopy(model)
for m in untrained_model.modules():
    if hasattr(m, "reset_parameters"):
        m.reset_parameters()
untrained = sparsity(aw.Network.wrap(untrained_model, categories=CLASSES, input_size=SIZE))

print("layer   trained  untrained   (fraction of zeros after the ReLU)")
for layer in RELUS:
    print(f"{layer:<7} {trained[layer]:7.0%} {untrained[layer]:9.0%}")

x = np.arange(len(RELUS))
plt.figure(figsize=(5, 3))
plt.bar(x - 0.2, [trained[l] for l in RELUS], 0.4, label="trained")
plt.bar(x + 0.2, [untrained[l] for l in RELUS], 0.4, label="untrained")
plt.xticks(x, RELUS)
plt.ylabel("fraction of zeros")
plt.legend()
plt.show()

# %% [markdown]
# **Verdict: partly.** In our trained network the second ReLU is the *least* sparse; from
# there on, sparsity grows with depth, and the last ReLU is clearly the sparsest (about two
# thirds zeros). So the blog's rule holds from layer 2 on, and for the deepest layer against the
# first, but not from layer 1 to layer 2.
#
# The untrained network does not show the trend at all: its last ReLU is *less* sparse than
# its first. The sparsity of the deep layers is something the network learned: each deep
# channel fires only where its pattern is, and stays silent elsewhere. (One small network on
# toy data: other networks may differ.)

# %%
s = [trained[l] for l in RELUS]
assert s[1] == min(s)                          # the second ReLU is the least sparse
assert s[1] < s[2] < s[3]                      # from relu2 on, sparsity grows with depth
assert s[3] > s[0] + 0.1                       # the deepest ReLU is clearly the sparsest
assert 0.55 < s[3] < 0.8                       # about two thirds zeros
assert untrained["relu4"] < untrained["relu1"]  # untrained: the last less sparse than the first
assert trained["relu4"] > untrained["relu4"]   # and training made it so

# %% [markdown]
# ## Explore it
#
# The activation explorer works on our network like on any other. Our test pictures are in
# the image list (with the sample photos after them); try every layer, both stages, and the
# *strongest channel* button.

# %%
examples = {f"{CLASSES[test_labels[i]]} {i}": test_images[i] for i in range(8)}
aw.ActivationExplorer(net, images=examples, layer="relu2")
