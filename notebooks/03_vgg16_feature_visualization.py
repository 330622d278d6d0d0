# %% [markdown]
# # What do VGG16's filters look for?
#
# A channel of a convolutional layer responds to some pattern in its input. To see which one,
# we can turn the question around: start from noise and change the **picture** step by step so
# that the channel responds more and more (*gradient ascent* on the input). The picture we end
# with shows what the channel looks for.
#
# This notebook retraces a Keras notebook on **VGG16** (itself based on François Chollet's
# blog post *How convolutional neural networks see the world*): the layers, a noise picture,
# one filter of `block4_conv1`, galleries of 20 filters from every block, a "little deep
# dream" on a cat, and finally a better recipe next to the simple one.
#
# > **Weights.** Online, `aw.load_model("vgg16")` downloads the trained ImageNet weights.
# > Where they cannot be had (offline, or in our test runs, which set
# > `ACTWIDGETS_RANDOM_WEIGHTS=1`), VGG16 gets **random weights** and the banner below says so:
# > the pictures then show what an *untrained* network responds to. The checks hold either way.
# > Above each picture, a line says which weights made it and, with random ones, what the
# > trained network gives there instead.
#
# **What you will learn**
#
# - *activation maximisation*: gradient ascent on the input picture, and how to check that it
#   worked (the filter's activation before and after);
# - how the pictures change from shallow to deep layers, and a "little deep dream";
# - why plain gradient ascent gives noisy pictures and what the regularised recipe changes;
# - to tell a result of the network from a result of its weights: with random weights the
#   same code runs and the checks pass, but the pictures mean nothing.
#
# **What you need**: tutorial 01 (activations and channels); what a gradient is, roughly.
# Online, VGG16's trained weights (about 530 MB, downloaded once); offline, the notebook runs
# on random weights.
#
# **How long**: about 40 minutes with the exercises; the notebook runs in two or three
# minutes on a laptop CPU.
#
# Boxes marked **Predict** ask you to guess before you run the next cell.

# %% [markdown]
# ### Settings
#
# VGG16 is heavy for a laptop CPU, so we work with small pictures and few steps: the whole
# notebook takes two or three minutes. Raise these for better pictures (the Keras notebook
# uses `SIZE = 128`, `STEPS = 20` and `DREAM_STEPS = 100`), and expect it to take longer.

# %%
SIZE = 64          # side of the pictures, in pixels
STEPS = 8          # gradient-ascent steps for the galleries
N_FILTERS = 20     # filters per layer in the galleries
DREAM_STEPS = 8    # steps per scale of the little deep dream

# %%
import os

import numpy as np
import matplotlib.pyplot as plt
import torch

import actwidgets as aw

torch.manual_seed(0)   # only matters for random weights: the same ones every run
# head=False: only the convolutional part (VGG16's classifier alone holds 124 M parameters).
# input_size: activations are measured on SIZE x SIZE pictures.
net = aw.load_model("vgg16", head=False, input_size=SIZE)
print(net)
if net.pretrained:
    print("VGG16 with its trained ImageNet weights.")
else:
    print("=" * 76)
    print("RANDOM WEIGHTS: the trained VGG16 weights are not available here, so the")
    print("pictures below show an UNTRAINED network. Run online to see the real one.")
    print("=" * 76)
    # Random weights only by explicit choice (the environment variable the tests set).
    assert os.environ.get("ACTWIDGETS_RANDOM_WEIGHTS") == "1"


def which_weights(picture, trained_gives):
    """A line above a picture: the weights that made it, and what trained ones give."""
    if net.pretrained:
        print(f"{picture}: trained ImageNet weights.")
    else:
        print(f"RANDOM WEIGHTS below: {picture} come from an untrained VGG16. "
              f"With the trained weights: {trained_gives}")

# %% [markdown]
# ## The layers
#
# Keras' names: five blocks of 3×3 convolutions, each block ended by a max-pooling that halves
# the size. Every conv layer is followed by a ReLU (Keras folds it into the layer). The sizes
# below are for our SIZE×SIZE pictures; the layers work on pictures of any size. Without the
# classifier, VGG16 has the same 14.7 million parameters as Keras' `VGG16(include_top=False)`.

# %%
print(net.summary())
n_params = sum(p.numel() for p in net.model.parameters())
print(f"{n_params:,} parameters")

names = net.layers.names
assert names[0] == "block1_conv1" and "block5_pool" in names
assert net.layers["block5_conv1"].channels == 512
assert n_params == 14_714_688       # the same count as Keras' VGG16 without its top

# %% [markdown]
# ## A noise picture
#
# The starting point: grey (127 out of 255) with a little noise (standard deviation 10).

# %%
noise = np.random.default_rng(0).normal(127, 10, size=(SIZE, SIZE, 3))
noise = np.clip(noise, 0, 255).astype(np.uint8)
plt.figure(figsize=(2.5, 2.5))
plt.imshow(noise)
plt.axis("off")
plt.show()

# %% [markdown]
# ## Gradient ascent for one filter: `block4_conv1`, filter 0
#
# `aw.visualize_channels(..., method="basic")` follows the Keras notebook's recipe: the
# objective is the filter's mean activation; each step computes its gradient with respect to
# the picture, divides it by its root mean square (so the step size does not depend on how
# large the gradient happens to be) and adds it to the picture, 20 times. The result is shown
# the way the notebook shows it: centred on grey, with a fixed contrast.

# %%
which_weights("the picture of block4_conv1's filter 0",
              "a fine, repeating texture over the whole picture, still noisy with this recipe.")
picture = aw.visualize_channels(net, "block4_conv1", [0], method="basic", steps=20,
                                start=noise, size=SIZE, progress=False)[0]
plt.figure(figsize=(3, 3))
plt.imshow(picture)
plt.title("block4_conv1, filter 0")
plt.axis("off")
plt.show()


# %% [markdown]
# Did it work? The filter's mean activation on the result should be higher than on the noise
# we started from.
#
# > **Predict.** Will it be higher even with random weights?

# %%
def mean_activations(pictures, layer):
    """Mean activation of every channel of `layer`, per picture: (pictures, channels)."""
    return aw.activations(net, list(pictures), layer, stage="post").mean(axis=(2, 3))


before = mean_activations([noise], "block4_conv1")[0, 0]
after = mean_activations([picture], "block4_conv1")[0, 0]
print(f"block4_conv1, filter 0: mean activation {before:.4f} on the noise, {after:.4f} after")
assert after > before

# %% [markdown]
# ## 20 filters from every block
#
# One conv layer per block, the first 20 filters of each, all of a layer's pictures optimised
# together as one batch. The gallery is drawn with `ipyplot`: one tab per layer (we hand it
# uint8 pictures, which it shows faithfully).

# %%
import ipyplot

GALLERY_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1",
                  "block5_conv1"]
FILTERS = list(range(N_FILTERS))
gallery = {}
for layer in GALLERY_LAYERS:
    pictures = aw.visualize_channels(net, layer, FILTERS, method="basic", steps=STEPS,
                                     start=noise, size=SIZE, progress=False)
    gallery[layer] = (pictures * 255).round().astype(np.uint8)

which_weights("the galleries",
              "block1 and block2 give colours and fine stripes, block3 and block4 larger "
              "textures, block5 changes the noise least: its filters need concrete shapes.")
ipyplot.plot_class_tabs(
    images=[img for layer in GALLERY_LAYERS for img in gallery[layer]],
    labels=[layer for layer in GALLERY_LAYERS for _ in FILTERS],
    custom_texts=[f"filter {f}" for _ in GALLERY_LAYERS for f in FILTERS],
    max_imgs_per_tab=N_FILTERS, img_width=96, show_url=False,
)

# %% [markdown]
# With trained weights, early layers respond to colours and fine textures all over the
# picture, deeper layers to larger and more complex patterns. The Keras notebook remarks that
# the deepest layers change the noise less: they need more concrete shapes than noise offers.
#
# Did the ascent help in every block? For each filter, its mean activation on its own picture
# against the noise we started from:

# %%
for layer in GALLERY_LAYERS:
    start = mean_activations([noise], layer)[0, FILTERS]
    result = mean_activations(gallery[layer], layer)[FILTERS, FILTERS]
    raised = np.mean(result > start)
    print(f"{layer}: raised for {raised:.0%} of the filters "
          f"(mean {start.mean():.4f} -> {result.mean():.4f})")
    assert result.mean() > start.mean()
    assert raised >= 0.5

# %% [markdown]
# (A filter that is never positive on noise, a *dead* filter, has no gradient to follow: plain
# gradient ascent leaves it where it is. Untrained networks have many.)
#
# ## A little deep dream
#
# The same idea, starting from a photo instead of noise: the cat is changed so that a deep
# layer responds more. `aw.deep_dream` works over several scales (octaves) and amplifies
# whatever the layer already sees in the picture.

# %%
which_weights("the dream", "eyes, fur and animal-like shapes grow out of the cat's picture.")
cat = aw.sample_image("cat")[::2, ::2]      # half size: quicker on a CPU
dream = aw.deep_dream(net, cat, "block5_conv3", octaves=2, steps=DREAM_STEPS, progress=False)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].imshow(cat)
axes[1].imshow(dream)
axes[1].set_title("deep dream, block5_conv3")
for ax in axes:
    ax.axis("off")
plt.show()


# %% [markdown]
# Check: the dream changed the picture, and `block5_conv3` responds more strongly to it
# (measured as the mean squared activation, the quantity the dream increases):

# %%
def energy(picture, layer):
    return float(np.mean(aw.activations(net, picture, layer, stage="post") ** 2))


change = np.abs(dream - cat / 255).mean()
print(f"mean pixel change {change:.3f}")
print(f"block5_conv3 energy: cat {energy(cat, 'block5_conv3'):.4g}, "
      f"dream {energy(dream, 'block5_conv3'):.4g}")
assert change > 0.005
assert energy(dream, "block5_conv3") > energy(cat, "block5_conv3")

# %% [markdown]
# ## A better recipe: `method="regularized"`
#
# Plain gradient ascent tends to produce high-frequency noise: tiny patterns the filter
# responds to, but which look like nothing. The *regularised* method (from the lucid library)
# changes the picture through its Fourier spectrum, scaled so that coarse patterns are as easy
# to change as fine ones, and jitters, scales and rotates it a little at every step, so only
# patterns that survive these changes grow. Below: four filters of `block4_conv1` with both
# methods.
#
# > **Predict.** Which of the two rows below will look smoother?

# %%
which_weights("both rows",
              "the regularised row shows recognisable textures and object parts, the basic "
              "row stays noisy.")
SHOWN = [0, 1, 2, 3]
basic = gallery["block4_conv1"][SHOWN]
regularized = aw.visualize_channels(net, "block4_conv1", SHOWN, method="regularized",
                                    steps=4 * STEPS, size=SIZE, progress=False)

fig, axes = plt.subplots(2, len(SHOWN), figsize=(2.2 * len(SHOWN), 4.6))
for col, f in enumerate(SHOWN):
    for row, (pics, name) in enumerate([(basic, "basic"), (regularized, "regularized")]):
        axes[row, col].imshow(pics[col])
        axes[row, col].set_title(f"{name}, filter {f}", fontsize=9)
        axes[row, col].axis("off")
plt.tight_layout()
plt.show()

start = mean_activations([noise], "block4_conv1")[0, SHOWN]
result = mean_activations(regularized, "block4_conv1")[range(len(SHOWN)), SHOWN]
print("noise      ", np.round(start, 4))
print("regularized", np.round(result, 4))
assert result.mean() > start.mean()

# %% [markdown]
# With trained weights and more steps, the regularised pictures show recognisable textures
# and object parts, where the basic ones stay noisy. The **feature visualizer** does the same
# interactively: pick a layer, channels, a method, and press *Run*.

# %%
visualizer = aw.FeatureVisualizer(net, "block4_conv1")
# The widget says it too: its page shows a banner with random weights, none with trained.
assert visualizer._meta["net"]["pretrained"] == net.pretrained  # what the page is told
visualizer

# %% [markdown]
# ## Exercises
#
# Use the feature visualizer above; solutions are folded away.
#
# **1. Blank filters.** Set the visualizer to `block5_conv3` with the basic method and run
# eight channels. Predict first: will all eight pictures change from the grey noise? Then
# check with `mean_activations`.
#
# <details><summary>Solution</summary>
#
# ```python
# pics = aw.visualize_channels(net, "block5_conv3", range(8), method="basic", steps=STEPS,
#                              start=noise, size=SIZE, progress=False)
# print(mean_activations([noise], "block5_conv3")[0, :8])
# print(mean_activations(pics, "block5_conv3")[range(8), range(8)])
# ```
#
# A filter whose mean activation on the noise is 0 (dead after its ReLU) gets no gradient, so
# plain gradient ascent leaves its picture as it was. The regularised method lets the
# gradient through an inactive ReLU and changes it anyway.
# </details>
#
# **2. Size and steps.** Run `block3_conv1` at `SIZE = 64` and at 128 with the regularised
# method. Which one takes longer per step, and by about how much? Why?
#
# <details><summary>Solution</summary>
#
# The visualizer shows the time per step. Four times the pixels means about four times the
# work in every convolution, so about four times the time per step, up to fixed costs.
# </details>
#
# **3. Trained or not?** Without looking at `net.pretrained`, how could you tell from the
# numbers alone whether the weights are trained? (Hint: a trained network classifies the cat.)
#
# <details><summary>Solution</summary>
#
# Load VGG16 with its classifier (`aw.load_model("vgg16")`) and call
# `aw.classify(net, aw.sample_image("cat"))`: a trained network names a cat breed with a high
# probability, random weights give nearly equal probabilities to all 1000 classes.
# </details>
