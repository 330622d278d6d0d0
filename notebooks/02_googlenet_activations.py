# %% [markdown]
# # GoogLeNet's first layers, before and after the ReLU
#
# This notebook retraces MathWorks' blog post *Visualizing Activations in GoogLeNet*: the first
# convolution of **GoogLeNet** for a photo, a contrast stretch to see it better, two filters
# that behave like brightness-gradient detectors (seen through their frequency response), a
# filter that compares colours, and what is left after the ReLU.
#
# > **Weights.** Online, `aw.load_model("googlenet")` downloads the trained ImageNet
# > weights. Where they cannot be had (offline, or in our test runs, which set
# > `ACTWIDGETS_RANDOM_WEIGHTS=1`), the network gets **random weights** and the banner below
# > says so. Every picture then shows an untrained network: the code and the checks still
# > run, but the interpretations in the text are about the *trained* network. The notebook
# > measures instead of assuming, and prints what it finds for the weights it has.

# %%
import numpy as np
import matplotlib.pyplot as plt
import torch

import actwidgets as aw

torch.manual_seed(0)   # only matters for random weights: the same ones every run
net = aw.load_model("googlenet")
print(net)
if net.pretrained:
    print("GoogLeNet with its trained ImageNet weights.")
else:
    print("=" * 76)
    print("RANDOM WEIGHTS: the trained GoogLeNet weights are not available here, so")
    print("everything below shows an UNTRAINED network. Run online to see the real one.")
    print("=" * 76)

# %% [markdown]
# ## The first layers
#
# `net.layers` lists the layers in forward order with MATLAB's names. We look at the first few.

# %%
for layer in list(net.layers)[:5]:
    print(f"{layer.index}  {layer.name:<24} {layer.kind:<6} {layer.channels:4d} channels  "
          f"{layer.size[0]}×{layer.size[1]}")
print("input size:", net.input_size)

names = net.layers.names
assert names[:3] == ["conv1-7x7_s2", "conv1-relu_7x7", "pool1-3x3_s2"]
assert net.input_size == (224, 224)

# %% [markdown]
# The first convolution has 64 filters of 7×7 pixels × 3 colours, and a stride of 2: it keeps
# every second position, so its output is half the input's width and height.
#
# One difference from MATLAB's GoogLeNet (a Caffe model): torchvision's version normalises each
# convolution's output with *batch normalisation* before the ReLU. So `conv1-7x7_s2` here is the
# normalised convolution output, still **before** the ReLU.

# %%
conv1 = net.model.conv1.conv
print(conv1)

# Batch normalisation multiplies each filter's output by a constant (and adds another).
# Folding that factor into the weights gives the filters of the layer as a whole.
bn = net.model.conv1.bn
factor = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
weights = conv1.weight.detach().numpy() * factor[:, None, None, None]
print("weights:", weights.shape, "(filters, colours, height, width)")

assert weights.shape == (64, 3, 7, 7)
assert conv1.stride == (2, 2)

# %% [markdown]
# ## A photo through `conv1-7x7_s2`
#
# The blog uses a self-portrait; we use the sample portrait. `net.image` shows the 224×224
# picture the network sees.

# %%
photo = aw.sample_image("face")
seen = net.image(photo)
plt.figure(figsize=(3, 3))
plt.imshow(seen)
plt.axis("off")
plt.show()

act = aw.activations(net, photo, "conv1-7x7_s2")
print("shape:", act.shape)
print(f"min {act.min():.3f}, max {act.max():.3f}")

assert act.shape == (64, 112, 112)
assert act.min() < 0       # negative values: we are before the ReLU

# %% [markdown]
# 64 pictures of 112×112. The minimum is negative, which tells us we are looking *before* the
# ReLU. (The blog's values run from about −3000 to 3000 because its model takes pixels in
# 0..255 with only the mean subtracted; ours takes pixels scaled to about −2..2, and batch
# normalisation rescales the output too.)
#
# ## The montage
#
# `aw.mat2gray` scales everything to [0, 1] and `aw.imtile` lays out the 64 channels.

# %%
scaled = aw.mat2gray(act)
plt.figure(figsize=(7, 7))
plt.imshow(aw.imtile(scaled, grid=(8, 8)), cmap="gray")
plt.title("conv1-7x7_s2, scaled with mat2gray")
plt.axis("off")
plt.show()

# %% [markdown]
# ## A contrast stretch
#
# Most values sit in the middle of the range, so the montage looks flat. `aw.stretchlim` finds
# the values below which 1 % of the data lie and above which 1 % lie; `aw.imadjust` maps that
# range to [0, 1] and clips the rest. (They work on arrays of any shape, so no reshaping is
# needed.)

# %%
lim = aw.stretchlim(scaled)
stretched = aw.imadjust(scaled, lim)
print(f"stretch limits: {lim[0]:.3f} .. {lim[1]:.3f}")
assert 0 <= lim[0] < lim[1] <= 1
assert stretched.min() >= 0 and stretched.max() <= 1

plt.figure(figsize=(7, 7))
plt.imshow(aw.imtile(stretched, grid=(8, 8)), cmap="gray")
plt.title("conv1-7x7_s2, contrast stretched")
plt.axis("off")
plt.show()


# %% [markdown]
# ## Two gradient detectors, found by their frequency response
#
# In the blog, two channels look like the horizontal and vertical *gradients* of the photo:
# one lights up where brightness changes from left to right, the other from top to bottom.
# Their filters show it in the frequency domain: a band-pass in one direction (it removes the
# flat parts and keeps changes) and a low-pass in the other (it smooths along the edge).
#
# Instead of picking channels by eye, we measure every filter. `aw.freqz2` gives the magnitude
# of a kernel's 2-D frequency response |H| at horizontal frequency *fx* and vertical frequency
# *fy*. From it we compute an **orientation score** in [−1, 1]: how much more of the filter's
# energy lies at high horizontal than at high vertical frequencies.
#
# - near **+1**: it reacts to left–right changes (vertical edges),
# - near **−1**: it reacts to top–bottom changes (horizontal edges),
# - near **0**: no preferred direction.
#
# We also check that the response at zero frequency (DC, a flat patch) is small: a gradient
# detector ignores flat areas. Like the blog, we use each filter's green channel.

# %%
def orientation(kernel, n=64):
    """(orientation score in [-1, 1], |H| at DC relative to the maximum)."""
    H, fx, fy = aw.freqz2(kernel, n)
    energy = H ** 2
    FX, FY = np.meshgrid(np.abs(fx), np.abs(fy))
    mx = (energy * FX).sum() / energy.sum()
    my = (energy * FY).sum() / energy.sum()
    return (mx - my) / (mx + my), H[n // 2, n // 2] / H.max()


# Check the measure on textbook gradient filters (Sobel) before trusting it.
sobel_x = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
print("Sobel, left-right: score %+.2f, DC %.2f" % orientation(sobel_x))
print("Sobel, top-bottom: score %+.2f, DC %.2f" % orientation(sobel_x.T))
assert orientation(sobel_x)[0] > 0.3 and orientation(sobel_x.T)[0] < -0.3
assert orientation(np.ones((3, 3)))[1] == 1.0      # a blur keeps DC: no gradient detector

# %%
GREEN = 1
scores = np.array([orientation(weights[f, GREEN]) for f in range(64)])
lr_filter = int(np.argmax(scores[:, 0]))    # most left-right
tb_filter = int(np.argmin(scores[:, 0]))    # most top-bottom


def verdict(score, dc, direction):
    if abs(score) > 0.3 and dc < 0.25:
        return f"looks like a {direction} gradient detector"
    return "no clear direction: not a gradient detector"


print(f"filter {lr_filter}: score {scores[lr_filter, 0]:+.2f}, DC {scores[lr_filter, 1]:.2f}"
      f" -> {verdict(*scores[lr_filter], 'left-right')}")
print(f"filter {tb_filter}: score {scores[tb_filter, 0]:+.2f}, DC {scores[tb_filter, 1]:.2f}"
      f" -> {verdict(*scores[tb_filter], 'top-bottom')}")
if not net.pretrained:
    print("(Random weights: no filter has learned a direction yet. With the trained weights "
          "the blog finds two such detectors; run this online to see what this code finds.)")

# %% [markdown]
# Their activations, from the stretched montage:

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
for ax, f in zip(axes, [lr_filter, tb_filter]):
    ax.imshow(stretched[f], cmap="gray")
    ax.set_title(f"channel {f}")
    ax.axis("off")
plt.show()

# %% [markdown]
# Their weights (green channel; blue negative, red positive) and the magnitude of their
# frequency response, drawn as a mesh like MATLAB's `mesh(abs(freqz2(...)))`. The middle of
# each mesh is zero frequency; the edges are the highest frequencies.

# %%
fig = plt.figure(figsize=(10, 7))
for row, f in enumerate([lr_filter, tb_filter]):
    kernel = weights[f, GREEN]
    top = np.abs(kernel).max()
    ax = fig.add_subplot(2, 2, 2 * row + 1)
    ax.imshow(kernel, cmap="RdBu_r", vmin=-top, vmax=top)
    ax.set_title(f"filter {f}, green weights")
    ax.axis("off")
    H, fx, fy = aw.freqz2(kernel)
    FX, FY = np.meshgrid(fx, fy)
    ax = fig.add_subplot(2, 2, 2 * row + 2, projection="3d")
    ax.plot_wireframe(FX, FY, H, rstride=2, cstride=2, linewidth=0.5, color="C0")
    ax.set_xlabel("fx")
    ax.set_ylabel("fy")
    ax.set_title(f"filter {f}: |H|")
plt.tight_layout()
plt.show()

# %% [markdown]
# With trained weights the blog sees, for one filter, a band-pass along one axis and a low-pass
# along the other, both cutting most of the upper half of the frequencies (sensible before
# keeping only every second pixel); for the other filter the two directions swap. With random
# weights the meshes have no such structure.
#
# The **filter explorer** shows every filter of a conv layer, one filter's weights per colour,
# and its frequency response. Pick other filters with the slider. (It shows the convolution's
# own weights, before the batch normalisation's factor: the same patterns, on another scale.)

# %%
aw.FilterExplorer(net, "conv1-7x7_s2", filter=lr_filter, input_channel=GREEN)

# %% [markdown]
# ## A filter that compares colours
#
# The blog finds a channel that responds to a green shirt and not to skin, and explains it
# from the filter's weights: roughly, the local average of green minus the local average of
# red. We pick the filter whose colour channels differ most from each other (its *colour
# contrast*: the part of the weights that is not shared by all three colours, relative to the
# whole) and draw each colour's 7×7 weights as a surface.

# %%
shared = weights.mean(axis=1, keepdims=True)
colour_contrast = (np.linalg.norm((weights - shared).reshape(64, -1), axis=1)
                   / np.linalg.norm(weights.reshape(64, -1), axis=1))
colour_filter = int(np.argmax(colour_contrast))
print(f"filter {colour_filter}: colour contrast {colour_contrast[colour_filter]:.2f} "
      f"(median over all filters {np.median(colour_contrast):.2f})")

plt.figure(figsize=(3.5, 3.5))
plt.imshow(stretched[colour_filter], cmap="gray")
plt.title(f"channel {colour_filter}")
plt.axis("off")
plt.show()

# %%
w = weights[colour_filter]
top = np.abs(w).max()
y, x = np.mgrid[1:8, 1:8]
fig = plt.figure(figsize=(10, 3.5))
for i, (colour, name) in enumerate([(1, "green"), (0, "red"), (2, "blue")]):
    ax = fig.add_subplot(1, 3, i + 1, projection="3d")
    ax.plot_surface(x, y, w[colour], cmap="RdBu_r", vmin=-top, vmax=top, edgecolor="C0",
                    linewidth=0.3)
    ax.set_zlim(-top, top)
    ax.set_title(f"{name} weights")
plt.tight_layout()
plt.show()

# %% [markdown]
# The blog then zooms into the centre of the filter (rows and columns 3 to 5, in MATLAB's
# 1-based numbering), where the weights of each colour are nearly flat. The sign of each
# colour's average there tells which colour adds to the response and which subtracts:

# %%
centre = w[:, 2:5, 2:5]
for colour, name in [(1, "green"), (0, "red"), (2, "blue")]:
    print(f"{name:>5}: centre mean {centre[colour].mean():+.3f}, "
          f"spread {centre[colour].std():.3f}")

# %% [markdown]
# ## After the ReLU: `conv1-relu_7x7`
#
# The ReLU sets every negative value to 0, so all the variation among negative values is gone.
# For the stretch we keep the lower limit at 0 (as the blog does), so that zero stays black.

# %%
act2 = aw.activations(net, photo, "conv1-relu_7x7")
assert act2.shape == act.shape
assert act2.min() >= 0
assert np.array_equal(act2, np.maximum(act, 0))
print(f"{np.mean(act2 == 0):.0%} of the values are now exactly zero")

scaled2 = aw.mat2gray(act2)
lim2 = (0.0, aw.stretchlim(scaled2)[1])
stretched2 = aw.imadjust(scaled2, lim2)
plt.figure(figsize=(7, 7))
plt.imshow(aw.imtile(stretched2, grid=(8, 8)), cmap="gray")
plt.title("conv1-relu_7x7, contrast stretched")
plt.axis("off")
plt.show()

# %% [markdown]
# ## What this notebook checks
#
# Whatever the weights, these hold and are asserted above: the layer names and sizes (64
# channels of 112×112 after a stride-2 convolution of 7×7×3 filters), negative values before
# the ReLU, none after it, and the ReLU's output equal to `max(pre, 0)`.
#
# The interpretations (gradient detectors, a colour-comparing filter) need the trained
# weights. With them, the orientation scores above pick the gradient detectors; with random
# weights the printed verdicts say that none exist yet.
