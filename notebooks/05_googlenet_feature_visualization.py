# %% [markdown]
# # What a GoogLeNet channel wants to see: feature visualisation on real weights
#
# The VGG16 tutorial (03) follows the Keras walkthrough, but VGG16's trained weights cannot be
# had on the machines that test these notebooks, so there it runs on random weights. Here the
# same methods run on a **trained** network that can: BVLC's Caffe GoogLeNet, MATLAB's
# `googlenet` (`aw.load_model("googlenet", weights="caffe")`).
#
# `aw.visualize_channels` draws, for each channel, a picture that makes it respond strongly:
#
# - `method="basic"`: the Keras walkthrough's plain gradient ascent on pixels, from grey noise;
# - `method="regularized"`: lucid's recipe (a decorrelated Fourier parameterisation of the
#   picture and random jitter, scale and rotation at every step), which favours pictures the
#   network responds to from any small shift, so fewer high-frequency tricks.
#
# `aw.deep_dream` amplifies what a layer sees in a photo. Everything is small enough (pictures
# of 128 pixels, a few dozen steps) to run in a minute or two on a laptop's CPU; more steps and
# larger pictures give clearer results.
#
# **What you will learn**
#
# - to draw a channel's feature visualisation with two recipes, and what each one favours;
# - to check a visualisation against natural photos: does the channel respond more to its
#   picture than to any photo?
# - deep dream, and how to measure what it amplified.
#
# **What you need**: tutorial 03 (gradient ascent on the input), or at least tutorial 01. The
# Caffe GoogLeNet's weights (in the cache that `TORCH_HOME` names, or downloaded once).
#
# **How long**: about 40 minutes with the exercises; the notebook runs in two or three
# minutes on a laptop CPU.
#
# Boxes marked **Predict** ask you to guess before you run the next cell.

# %%
import numpy as np
import matplotlib.pyplot as plt
import torch

import actwidgets as aw

net = aw.load_model("googlenet", weights="caffe")
print(net)
assert net.pretrained, "This notebook needs the Caffe GoogLeNet's weights (TORCH_HOME)."

# %% [markdown]
# ## Which channels
#
# We look at `inception_4a-relu_3x3`, the 3×3 branch of the first inception block of stage 4,
# after its ReLU: 208 channels, halfway through the network. To compare the pictures with
# natural ones later, we pick the four channels that our sample photos excite most (each
# channel's mean over the map, best photo per channel).

# %%
LAYER = "inception_4a-relu_3x3"
photos = {name: aw.sample_image(name) for name in ("face", "cat", "coffee")}
natural = np.stack([aw.activations(net, im, LAYER).mean(axis=(1, 2)) for im in photos.values()])
channels = [int(c) for c in np.argsort(-natural.max(axis=0))[:4]]
best_photo = {c: list(photos)[int(natural[:, c].argmax())] for c in channels}
print("channels:", channels, "best photo of each:", best_photo)


# %% [markdown]
# ## Basic and regularised, side by side
#
# One picture per channel, all four optimised together as one batch. `seed` makes the runs
# repeatable.
#
# The basic method follows the gradient of the channels' values **before** their ReLU
# (`stage="pre"`): after it, a channel that is zero everywhere on the starting noise gives no
# gradient at all, and its picture stays grey (the Keras walkthrough meets such blank
# filters). The regularised method handles that itself: it lets the gradient through a ReLU
# that is off, as lucid does, so it can work on the values after the ReLU.

# %%
SIZE = 128
basic = aw.visualize_channels(net, LAYER, channels, stage="pre", method="basic", steps=20,
                              size=SIZE, progress=False)
regular = aw.visualize_channels(net, LAYER, channels, method="regularized", steps=48, size=SIZE,
                                progress=False)
fig, axes = plt.subplots(2, 4, figsize=(10, 5.4))
for row, (pictures, name) in enumerate([(basic, "basic"), (regular, "regularized")]):
    for col, c in enumerate(channels):
        axes[row, col].imshow(pictures[col])
        axes[row, col].set_title(f"{name}, channel {c}", fontsize=9)
        axes[row, col].axis("off")
plt.tight_layout()
plt.show()


# %% [markdown]
# ## Did the channels respond more?
#
# A picture is only a visualisation of a channel if the channel really responds to it. We
# measure each channel's mean activation after its ReLU on its picture, on where the
# optimisation started, and on the sample photo that excites it most.
#
# > **Predict.** Will the optimised pictures beat the best photo, and by how much: a little,
# > or several times?

# %%
def channel_mean(pictures, channel_list):
    """Each picture's mean activation of its channel (pictures in [0, 1], at their size)."""
    x = net.preprocess.normalize(torch.from_numpy(np.asarray(pictures)).permute(0, 3, 1, 2))
    point = net.layers.resolve(LAYER)
    maps = net.extractor.run(x.float(), [point], maps=True)[point]
    return [float(maps[i, c].mean()) for i, c in enumerate(channel_list)]


starts = {
    "basic": aw.visualize_channels(net, LAYER, channels, stage="pre", method="basic", steps=1,
                                   lr=1e-9, size=SIZE, progress=False),
    "regularized": aw.visualize_channels(net, LAYER, channels, method="regularized", steps=1,
                                         lr=1e-9, size=SIZE, progress=False),
}
print("channel  best photo   basic: start -> end   regularized: start -> end")
for i, c in enumerate(channels):
    photo = float(natural[:, c].max())
    b0, b1 = channel_mean(starts["basic"], channels)[i], channel_mean(basic, channels)[i]
    r0, r1 = channel_mean(starts["regularized"], channels)[i], channel_mean(regular, channels)[i]
    print(f"{c:7d}  {photo:10.1f}   {b0:6.1f} -> {b1:6.1f}        {r0:6.1f} -> {r1:6.1f}")
    assert b1 > b0 and r1 > r0            # the optimisation raised the channel
    assert b1 > photo and r1 > photo      # beyond the best natural photo we have

# %% [markdown]
# Both methods drive each channel far beyond what any of our photos does. The basic pictures
# are full of fine, repeating texture: patterns that trigger the channel at the pixel level. The
# regularised ones must work under jitter, scale and rotation, so they are smoother and show
# larger, repeated motifs. Feature visualisations can mislead (a channel's picture is one input
# that excites it, not a description of everything it does): put them next to natural images
# that excite the same channel, as we did with the numbers above.

# %%
fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
for ax, c in zip(axes, channels):
    ax.imshow(net.image(photos[best_photo[c]]))
    ax.set_title(f"channel {c}: {best_photo[c]}", fontsize=9)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Deep dream
#
# `aw.deep_dream` starts from a photo instead of noise and amplifies whatever the layer already
# sees in it, octave by octave (coarse to fine), as MATLAB's `deepDreamImage` and the Keras
# example do. The objective is the mean square of the whole layer's activations.
#
# > **Predict.** The objective grows at every step. By how much will the layer's mean square
# > grow over the whole dream: 10 %, 50 %, more?

# %%
cat = aw.sample_image("cat")
dream = aw.deep_dream(net, cat, "inception_4a-output", octaves=3, steps=6, progress=False)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].imshow(cat)
axes[1].imshow(dream)
for ax, title in zip(axes, ["photo", "deep dream, inception_4a-output"]):
    ax.set_title(title)
    ax.axis("off")
plt.tight_layout()
plt.show()

before = float((aw.activations(net, cat, "inception_4a-output") ** 2).mean())
after = float((aw.activations(net, (dream * 255).round().astype(np.uint8), "inception_4a-output") ** 2).mean())
print(f"mean square of inception_4a-output: photo {before:.0f}, dream {after:.0f}")
assert after > 1.5 * before

# %% [markdown]
# ## Exercises
#
# The feature visualizer runs the same methods interactively, in the background, with a
# progress bar and a *Stop* button. Solutions are folded away.

# %%
visualizer = aw.FeatureVisualizer(net, LAYER)
visualizer

# %% [markdown]
# **1. Your own channels.** In the visualizer, pick `inception_4a-relu_3x3` and four channels
# that the photos excite *least* (`np.argsort(natural.max(axis=0))[:4]`). Run the regularised
# method. Do these pictures look different from the four above?
#
# <details><summary>Solution</summary>
#
# ```python
# weak = [int(c) for c in np.argsort(natural.max(axis=0))[:4]]
# pictures = aw.visualize_channels(net, LAYER, weak, method="regularized", steps=48, size=SIZE,
#                                  progress=False)
# print(channel_mean(pictures, weak), natural[:, weak].max(axis=0))
# ```
#
# Compare the two printed rows: where a picture raises its channel well above the photos,
# the channel is not dead, it answers patterns that are not in these three photos. A channel
# the optimisation cannot raise either may be dead on everything (zero after its ReLU).
# </details>
#
# **2. Shallow and deep.** Run the visualizer on `conv2-relu_3x3` and on
# `inception_5b-output` with the same settings. Predict first: which gives finer patterns?
#
# <details><summary>Solution</summary>
#
# Expect finer patterns from the early layer: each of its cells sees a small patch of the
# input, while a cell of the last inception block sees most of it. Measure both fields:
#
# ```python
# from actwidgets.atlas import receptive_field
# for layer in ["conv2-relu_3x3", "inception_5b-output"]:
#     x0, y0, x1, y1 = receptive_field(net, layer).box((3, 3))
#     print(layer, x1 - x0, "pixels")
# ```
# </details>
#
# **3. Stop early.** Start a run of 16 channels and press *Stop* after a few steps. What does
# the visualizer keep, and does the notebook stay usable while it runs?
#
# <details><summary>Solution</summary>
#
# It keeps the pictures reached at the last finished step, and the notebook runs other cells
# meanwhile: the optimisation runs in a background thread.
# </details>
