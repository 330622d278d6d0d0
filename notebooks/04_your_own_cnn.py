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
#
# **What you will learn**
#
# - to generate a labelled dataset, define a small CNN and train it, in plain PyTorch;
# - to look inside *your own* model with the same tools as inside SqueezeNet
#   (`aw.Network.wrap`, `aw.activations`, the explorer);
# - to test a claim about networks by measuring it, and why one training run is not enough:
#   the answer can change with the random seed.
#
# **What you need**: Python and NumPy; a first idea of training (a loss, an optimiser,
# epochs). No download, no GPU.
#
# **How long**: about 40 minutes with the exercises. The notebook runs in about a minute on a
# laptop CPU: each training run takes about ten seconds (the training cell prints its time),
# and the sparsity test trains the same network with two more seeds.
#
# Boxes marked **Predict** ask you to guess before you run the next cell.

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
def make_model():
    return nn.Sequential(OrderedDict([
    ("conv1", nn.Conv2d(3, 8, 3, padding=1)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
    ("conv2", nn.Conv2d(8, 16, 3, padding=1)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
    ("conv3", nn.Conv2d(16, 32, 3, padding=1)), ("relu3", nn.ReLU()), ("pool3", nn.MaxPool2d(2)),
    ("conv4", nn.Conv2d(32, 64, 3, padding=1)), ("relu4", nn.ReLU()),
    ("global_max", nn.AdaptiveMaxPool2d(1)), ("flatten", nn.Flatten()),
    ("fc", nn.Linear(64, len(CLASSES))),
    ]))


torch.manual_seed(0)
model = make_model()
print(model)
print(sum(p.numel() for p in model.parameters()), "parameters")


# %% [markdown]
# ## Training
#
# Pixels become numbers in [0, 1]. We train with Adam on mini-batches of 32 pictures for a few
# passes over the data (*epochs*) and measure the accuracy on the test pictures, which the
# network never trains on. `train` does it for any seed (the seed picks the starting weights
# and the order of the pictures); we use seed 0 first.

# %%
def to_tensor(images):
    """uint8 pictures (N, H, W, 3) -> float tensor (N, 3, H, W) in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


def predict(images, network=None, batch=100):
    """The predicted class of each picture (a few at a time, to save memory)."""
    network = model if network is None else network
    network.eval()
    with torch.no_grad():
        return np.concatenate([network(to_tensor(images[i:i + batch])).argmax(dim=1).numpy()
                               for i in range(0, len(images), batch)])


def test_accuracy(network=None):
    return float(np.mean(predict(test_images, network) == test_labels))


def train(network, seed, verbose=True):
    """Train ``network`` in place for EPOCHS epochs; the seed orders the pictures."""
    labels = torch.from_numpy(train_labels)
    optimizer = torch.optim.Adam(network.parameters(), lr=2e-3)
    order = torch.Generator().manual_seed(seed)
    start = time.time()
    for epoch in range(EPOCHS):
        network.train()
        total = 0.0
        for batch in torch.randperm(N_TRAIN, generator=order).split(32):
            loss = nn.functional.cross_entropy(network(to_tensor(train_images[batch.numpy()])),
                                               labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        if verbose:
            print(f"epoch {epoch + 1}: loss {total / N_TRAIN:.3f}, "
                  f"test accuracy {test_accuracy(network):.1%}  ({time.time() - start:.0f} s)")
    return network.eval()


train(model, seed=0)
accuracy = test_accuracy()
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
#
# > **Predict.** Sketch the four bars (relu1 to relu4) you expect for the trained network. Then
# > the untrained one.

# %%
RELUS = ["relu1", "relu2", "relu3", "relu4"]
sample = list(test_images[:300])


def sparsity(network):
    acts = aw.activations(network, sample, RELUS)      # (pictures, C, H, W) per layer
    return {layer: float(np.mean([aw.channel_stats(a)["frac_zero"].mean() for a in acts[layer]]))
            for layer in RELUS}


trained = sparsity(net)

# The same architecture with the weights it started from (seed 0), before training.
torch.manual_seed(0)
untrained_model = make_model()
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
# On this run (seed 0) the last ReLU is clearly the sparsest, and the first is sparser than the
# second. Is that the network, or this run?
#
# > **Predict.** Train the same network on the same data with other seeds (other starting
# > weights, another order of the pictures). Which of this run's observations will hold for
# > every seed?
#
# Two more runs, about ten seconds each:

# %%
SEEDS = [0, 1, 2]
runs = {0: (accuracy, trained, untrained)}
for seed in SEEDS[1:]:
    torch.manual_seed(seed)
    fresh = make_model()
    before = sparsity(aw.Network.wrap(copy.deepcopy(fresh), categories=CLASSES, input_size=SIZE))
    train(fresh, seed, verbose=False)
    runs[seed] = (test_accuracy(fresh),
                  sparsity(aw.Network.wrap(fresh, categories=CLASSES, input_size=SIZE)), before)

print("seed  accuracy   trained: " + " ".join(f"{l:>5}" for l in RELUS)
      + "   untrained: " + " ".join(f"{l:>5}" for l in RELUS))
for seed, (acc, after, before) in runs.items():
    print(f"{seed:4d}  {acc:8.1%}            " + " ".join(f"{after[l]:5.0%}" for l in RELUS)
          + "              " + " ".join(f"{before[l]:5.0%}" for l in RELUS))

# %% [markdown]
# **Verdict: only in part, and only for the deepest layer.** Every run reaches a good accuracy,
# and in every run the last ReLU is the sparsest and sparser than before training. But the
# other layers change from seed to seed: the least sparse one is relu2 in some runs and
# relu3 in others, and sparsity does not grow step by step from relu1 to relu4. So the rule
# holds here for the last layer against all others, not layer by layer.
#
# The trend is learned: in none of the untrained networks is relu4 the sparsest. Each deep channel
# of a trained network fires only where its pattern is and stays silent elsewhere. A claim
# measured on one training run says something about that run; to say something about the
# *network*, repeat it over seeds and keep what holds every time, as the asserts below do.
# (One small network on toy data: other networks may differ.)

# %%
for seed, (acc, after, before) in runs.items():
    s = [after[l] for l in RELUS]
    assert acc > 0.85                              # every run learned the task
    assert s[3] == max(s)                          # relu4 is the sparsest, for every seed
    assert after["relu4"] > before["relu4"]        # and training made it so
    assert before["relu4"] < max(before.values())  # untrained, relu4 is not the sparsest

# What does not hold for every seed: the order of the other layers.
least = {min(RELUS[:3], key=after.get) for _, after, _ in runs.values()}
grows = [all(after[a] < after[b] for a, b in zip(RELUS, RELUS[1:])) for _, after, _ in runs.values()]
print("least sparse layer, over the seeds:", sorted(least), "| grows step by step in", sum(grows), "of", len(grows))
assert len(least) > 1                              # it changes with the seed
assert not all(grows)                              # no step-by-step growth in every run

# %% [markdown]
# ## Explore it
#
# The activation explorer works on our network like on any other. Our test pictures are in
# the image list (with the sample photos after them); try every layer, both stages, and the
# *strongest channel* button.

# %%
examples = {f"{CLASSES[test_labels[i]]} {i}": test_images[i] for i in range(8)}
aw.ActivationExplorer(net, images=examples, layer="relu2")

# %% [markdown]
# ## Share it without a kernel
#
# `aw.static_explorer` turns the same explorer into a page that works with no Python behind it:
# every channel of the chosen layers is computed now and stored in the page (this cell's
# output), so the notebook converted to HTML, or the documentation site, keeps a working
# explorer. Four test pictures and the four conv layers with their ReLUs:

# %%
shared = {name: picture for name, picture in list(examples.items())[:4]}
aw.static_explorer(net, shared, CONVS + RELUS, layer="relu4", contrasts=("minmax",))

# %% [markdown]
# ## Exercises
#
# Use the explorer above (the widget, with a kernel); solutions are folded away.
#
# **1. What does relu4 look for?** In the explorer, pick `relu4` and press *strongest
# channel* for each of the test pictures. Is it the same channel for every class?
#
# <details><summary>Solution</summary>
#
# ```python
# for name, img in examples.items():
#     print(name, aw.strongest_channel(aw.activations(net, img, "relu4")))
# ```
#
# Compare the channels of pictures of one class with those of other classes. The linear
# layer after the global max-pool can only tell the classes apart through which of these 64
# channels fire; try it on more pictures than eight before you conclude anything.
# </details>
#
# **2. Another seed, another network.** Train `make_model()` with seed 5 and open both
# networks in explorers side by side. Does channel 0 of `conv1` do the same thing in both?
#
# <details><summary>Solution</summary>
#
# ```python
# torch.manual_seed(5)
# other = train(make_model(), seed=5, verbose=False)
# other_net = aw.Network.wrap(other, categories=CLASSES, input_size=SIZE)
# widgets_ = [aw.ActivationExplorer(n, images=examples, layer="conv1") for n in (net, other_net)]
# import ipywidgets; ipywidgets.HBox(widgets_)
# ```
#
# No: channel numbers are arbitrary, a run learns its features in any order. To match
# channels between two runs, compare what they respond to (as tutorial 01 does between
# MATLAB's and torchvision's SqueezeNet), not their numbers.
# </details>
#
# **3. Sparsity on one class.** Does the sparsest layer change when you measure on stripes
# only? Predict first, then use `sparsity` on `test_images[test_labels == 3]`.
#
# <details><summary>Solution</summary>
#
# ```python
# sample = list(test_images[test_labels == CLASSES.index("stripes")][:100])
# print(sparsity(net))
# ```
#
# `sparsity` reads the global `sample`, so set it first. Stripes fill the whole picture, a
# circle a part of it: compare the numbers with the table above and see which layers change
# most, and whether relu4 stays the sparsest.
# </details>
