# %% [markdown]
# # GoogLeNet's first layers, before and after the ReLU
#
# This notebook retraces MathWorks' blog post *Visualizing Activations in GoogLeNet* on **the
# same network**: MATLAB's `googlenet` is BVLC's Caffe GoogLeNet, which
# `aw.load_model("googlenet", weights="caffe")` loads with Caffe's preprocessing (pixels
# 0..255, the mean pixel subtracted) and MATLAB's layer names. We look at the first
# convolution for a photo, stretch its contrast, find the two filters the blog calls gradient
# detectors by their frequency response, look at a filter that compares colours, and at what
# is left after the ReLU. Each observation is measured and asserted.
#
# MATLAB counts filters from **1**, Python from **0**: `matlab(33)` is the filter the blog
# calls 33.
#
# **What you will learn**
#
# - how a first convolution's output looks (64 maps, values in the thousands before the ReLU)
#   and how a contrast stretch (`stretchlim`, `imadjust`) makes a montage readable;
# - to read a filter in the frequency domain (`freqz2`): which filters detect brightness
#   gradients, and in which direction;
# - to check a claim about a filter's weights on its activations too (a green patch against
#   skin);
# - what the ReLU removes.
#
# **What you need**: tutorial 01 (activations, channels, the ReLU); a rough idea of
# frequencies in a picture (fine detail is high frequency). The Caffe GoogLeNet's weights (in
# the cache that `TORCH_HOME` names, or downloaded once).
#
# **How long**: about 45 minutes with the exercises; the notebook runs in about half a minute
# on a laptop CPU.
#
# Boxes marked **Predict** ask you to guess before you run the next cell.

# %%
import numpy as np
import matplotlib.pyplot as plt

import actwidgets as aw


def matlab(number):
    """Python's index of the filter or channel MATLAB numbers ``number``."""
    return number - 1


net = aw.load_model("googlenet", weights="caffe")
print(net)
assert net.pretrained, (
    "This notebook needs the Caffe GoogLeNet's weights: set TORCH_HOME to a cache that holds "
    "hub/checkpoints/bvlc_googlenet-caffe.pth, or run it once where the original can be "
    "downloaded."
)

# %% [markdown]
# ## The first layers
#
# `net.layers` lists the layers in forward order with MATLAB's names, as the blog's
# `net.Layers(1:5)` does (MATLAB also lists the input layer, which is not a layer here).

# %%
for layer in list(net.layers)[:5]:
    print(f"{layer.index}  {layer.name:<24} {layer.kind:<6} {layer.channels:4d} channels  "
          f"{layer.size[0]}×{layer.size[1]}")
print("input size:", net.input_size)

assert net.layers.names[:4] == ["conv1-7x7_s2", "conv1-relu_7x7", "pool1-3x3_s2", "pool1-norm1"]
assert net.input_size == (224, 224)

# %% [markdown]
# The first convolution has 64 filters of 7×7 pixels × 3 colours, and a stride of 2: it keeps
# every second position, so its output is half the input's width and height. It is a plain
# convolution (Caffe's GoogLeNet has no batch normalisation), so its weights are the filters.

# %%
conv1 = net.model.conv1[0]
print(conv1)
weights = conv1.weight.detach().numpy()      # (filters, colours R G B, height, width)
assert weights.shape == (64, 3, 7, 7) and conv1.stride == (2, 2)

# %% [markdown]
# ## A photo through `conv1-7x7_s2`
#
# The blog uses a self-portrait resized to 224×224; we use the sample portrait, which the
# network's preprocessing resizes the same way. `net.image` shows what the network sees.

# %%
photo = aw.sample_image("face")
seen = net.image(photo)
plt.figure(figsize=(3, 3))
plt.imshow(seen)
plt.axis("off")
plt.show()

act = aw.activations(net, photo, "conv1-7x7_s2")
print("shape:", act.shape)
print(f"min {act.min():.0f}, max {act.max():.0f}")

assert act.shape == (64, 112, 112)
assert act.min() < -1000 and act.max() > 1000    # in the thousands, as in the blog

# %% [markdown]
# 64 pictures of 112×112, with values in the thousands before the ReLU, as in the blog (its
# photo gave about −3000 to 2700): Caffe's GoogLeNet takes pixels in 0..255.
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
# range to [0, 1] and clips the rest. (They work on arrays of any shape: no reshaping.)

# %%
lim = aw.stretchlim(scaled)
stretched = aw.imadjust(scaled, lim)
print(f"stretch limits: {lim[0]:.3f} .. {lim[1]:.3f}")
assert 0 <= lim[0] < lim[1] <= 1
print(f"spread (standard deviation): {scaled.std():.3f} before, {stretched.std():.3f} after")
assert stretched.std() > 1.5 * scaled.std()      # the stretch spreads the values out

plt.figure(figsize=(7, 7))
plt.imshow(aw.imtile(stretched, grid=(8, 8)), cmap="gray")
plt.title("conv1-7x7_s2, contrast stretched")
plt.axis("off")
plt.show()


# %% [markdown]
# ## Filters 33 and 34: brightness-gradient detectors, by their frequency response
#
# The blog zooms into channels 33 and 34: they look like the horizontal and vertical
# *gradients* of the photo. Their filters show it in the frequency domain: a band-pass in one
# direction (flat areas removed, changes kept) and a low-pass in the other (smoothing along the
# edge), the two directions swapped between the filters.
#
# > **Predict.** A filter that reacts to left–right changes: where in the frequency plane
# > (along *fx* or *fy*) do you expect its energy?
#
# We measure that for every filter. `aw.freqz2` gives the magnitude of a kernel's 2-D
# frequency response |H| at horizontal frequency *fx* and vertical frequency *fy*. From it we
# compute an **orientation score** in [−1, 1]: how much more of the filter's energy lies at
# high horizontal than at high vertical frequencies (near +1: it reacts to left–right changes;
# near −1: to top–bottom changes), and the response at zero frequency (a flat patch), which a
# gradient detector ignores. Like the blog, we use each filter's green channel.

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


def brightness_only(f):
    """How alike the filter's red, green and blue kernels are (1: it sees brightness only)."""
    k = weights[f].reshape(3, -1)
    return float(np.corrcoef(k)[np.triu_indices(3, 1)].min())


gradient = [f for f in range(64)
            if abs(scores[f, 0]) > 0.3 and scores[f, 1] < 0.1 and brightness_only(f) > 0.8]
print("brightness-gradient detectors (MATLAB's numbers):", [f + 1 for f in gradient])
for f in (matlab(33), matlab(34)):
    print(f"filter {f + 1}: orientation {scores[f, 0]:+.2f}, |H| at DC {scores[f, 1]:.2f}, "
          f"colours alike {brightness_only(f):.2f}")
assert matlab(33) in gradient and matlab(34) in gradient
assert scores[matlab(33), 0] < 0 < scores[matlab(34), 0]   # 33 top-bottom, 34 left-right

# %% [markdown]
# Both pass: each is oriented, ignores flat areas and treats the three colours alike, and
# their orientations have opposite signs: filter 33 reacts to top–bottom changes (horizontal
# edges), filter 34 to left–right changes (vertical edges). A few other filters pass the same
# test, as the printed list shows: the blog picked two of them.
#
# Their activations, from the stretched montage:

# %%
lr_filter, tb_filter = sorted((matlab(33), matlab(34)), key=lambda f: -scores[f, 0])
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
for ax, f in zip(axes, (matlab(33), matlab(34))):
    ax.imshow(stretched[f], cmap="gray")
    ax.set_title(f"channel {f + 1}")
    ax.axis("off")
plt.show()

# %% [markdown]
# Their green weights (blue negative, red positive) and the magnitude of their frequency
# response, drawn as a mesh like MATLAB's `mesh(abs(freqz2(...)))`. The middle of each mesh is
# zero frequency; the edges are the highest frequencies.

# %%
fig = plt.figure(figsize=(10, 7))
for row, f in enumerate((matlab(33), matlab(34))):
    kernel = weights[f, GREEN]
    top = np.abs(kernel).max()
    ax = fig.add_subplot(2, 2, 2 * row + 1)
    ax.imshow(kernel, cmap="RdBu_r", vmin=-top, vmax=top)
    ax.set_title(f"filter {f + 1}, green weights")
    ax.axis("off")
    H, fx, fy = aw.freqz2(kernel)
    FX, FY = np.meshgrid(fx, fy)
    ax = fig.add_subplot(2, 2, 2 * row + 2, projection="3d")
    ax.plot_wireframe(FX, FY, H, rstride=2, cstride=2, linewidth=0.5, color="C0")
    ax.set_xlabel("fx")
    ax.set_ylabel("fy")
    ax.set_title(f"filter {f + 1}: |H|")
plt.tight_layout()
plt.show()


def upper_half(kernel, n=64):
    """The share of |H|² above half the highest frequency, along either axis."""
    H, fx, fy = aw.freqz2(kernel, n)
    FX, FY = np.meshgrid(np.abs(fx), np.abs(fy))
    high = np.maximum(FX, FY) > 0.5 * np.abs(fx).max()
    return float((H ** 2)[high].sum() / (H ** 2).sum())


for f in (matlab(33), matlab(34)):
    print(f"filter {f + 1}: {upper_half(weights[f, GREEN]):.0%} of the energy in the upper half")
    assert upper_half(weights[f, GREEN]) < 0.5

# %% [markdown]
# As the blog says: a band-pass along one axis and a low-pass along the other (the orientation
# scores above), both cutting most of the upper half of the frequencies (sensible before
# keeping every second pixel), the directions swapped between the two filters.
#
# The **filter explorer** shows every filter of a conv layer, one filter's weights per colour,
# and its frequency response. Pick other filters with the slider.

# %%
aw.FilterExplorer(net, "conv1-7x7_s2", filter=matlab(33), input_channel=GREEN)

# %% [markdown]
# ## Filter 43 compares green with red
#
# The blog finds that channel 43 responds to a green shirt and not to skin, and explains it
# from the filter's weights: near the centre each colour's weights are nearly flat, and
# roughly, the filter computes the local average of green minus the local average of red.
#
# > **Predict.** If that is right, what sign will the channel have on a plain green picture, and
# > on a plain patch of skin?

# %%
w = weights[matlab(43)]
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
# The blog zooms into rows and columns 3 to 5 (MATLAB's numbering): Python's `2:5`.

# %%
centre = w[:, 2:5, 2:5]
means = {name: float(centre[colour].mean()) for colour, name in [(0, "red"), (1, "green"), (2, "blue")]}
for name, value in means.items():
    print(f"{name:>5}: centre mean {value:+.3f}")
assert means["green"] > 0 > means["red"]       # green adds to the response, red subtracts


# %% [markdown]
# The weights say what the filter computes; the activations say what it does to a picture.
# Uniform pictures of one colour fill the whole input; we read channel 43 in the middle of its
# map. Skin is the median colour of a patch of the sample's cheek.

# %%
def patch_response(colour, channel=matlab(43)):
    """The channel's mean value in the middle of its map, for a picture of one colour."""
    patch = np.zeros((*net.input_size, 3), np.uint8) + np.array(colour, np.uint8)
    return float(aw.activations(net, patch, "conv1-7x7_s2")[channel, 40:70, 40:70].mean())


skin = tuple(int(v) for v in np.median(photo[150:170, 60:80].reshape(-1, 3), axis=0))
colours = {"green": (30, 200, 30), "red": (200, 30, 30), "skin": skin, "grey": (128, 128, 128)}
responses = {name: patch_response(rgb) for name, rgb in colours.items()}
for name, value in responses.items():
    print(f"{name:>5} {str(colours[name]):>16}: {value:+8.1f}")
assert responses["green"] > 500 and responses["red"] < -500   # green up, red down
assert responses["skin"] < 0 < responses["green"]               # skin (reddish) is below zero

plt.figure(figsize=(3.5, 3.5))
plt.imshow(stretched[matlab(43)], cmap="gray")
plt.title("channel 43")
plt.axis("off")
plt.show()

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
# ## torchvision's GoogLeNet (online only)
#
# torchvision has its own GoogLeNet, trained again with batch normalisation after each
# convolution: `aw.load_model("googlenet")` downloads it where the internet is reachable (it
# cannot be had on the machines that test this notebook). Its filter numbers differ (another
# training), and its `conv1-7x7_s2` is the normalised convolution output, so its values are
# not in the thousands; the measurements above find its gradient detectors the same way:
#
# ```python
# tv = aw.load_model("googlenet")
# tv_weights = tv.model.conv1.conv.weight.detach().numpy()
# ```
#
# ## What held, on MATLAB's own weights
#
# | the blog says | here | checked by |
# |---|---|---|
# | `conv1-7x7_s2` gives 64 channels of 112×112, values of about −3000..3000 | 64 × 112×112, values in the thousands on our photo | `assert` |
# | a contrast stretch (stretchlim, imadjust) shows the montage better | the same functions, on the whole array | the limits inside [0, 1] |
# | filters 33 and 34 are gradient detectors in opposite directions (band-pass one way, low-pass the other) | both oriented, blind to flat areas, colour-blind; their orientations have opposite signs | orientation score from `freqz2`, `assert` |
# | filter 43: local average of green minus red; responds to a green shirt, not to skin | its centre weights: green positive, red negative; a green picture gives a large positive response, red a large negative one, skin below zero | `assert`s on the weights and on patches |
# | the ReLU clips negative values to 0 | exactly `max(pre, 0)` | `np.array_equal` |
#
# ## Exercises
#
# Use the filter explorer above (or the activation explorer below); solutions are folded
# away.

# %%
explorer = aw.ActivationExplorer(net, layer="conv1-7x7_s2", channel=matlab(43))
explorer

# %% [markdown]
# **1. The other gradient detectors.** The list printed by the frequency test names more
# brightness-gradient filters than 33 and 34. Open two of them in the filter explorer: is each
# one's frequency response a band-pass in one direction? Then, in the activation explorer,
# which edges of the face does each one follow?
#
# <details><summary>Solution</summary>
#
# ```python
# for f in gradient:
#     print(f + 1, "left-right" if scores[f, 0] > 0 else "top-bottom", round(scores[f, 0], 2))
# explorer.channel = gradient[0]
# ```
#
# A positive orientation score means left–right changes (vertical edges: the sides of the
# face, the hair's outline), a negative one top–bottom changes (eyebrows, the mouth). The
# filter explorer's |H| shows the energy along *fx* or along *fy* accordingly.
# </details>
#
# **2. Which colour, which channel?** Using `patch_response`, find the channel of
# `conv1-7x7_s2` that responds most to a plain red picture. Look at it in the explorer:
# where on the photo does it fire?
#
# <details><summary>Solution</summary>
#
# ```python
# red = [patch_response((200, 30, 30), c) for c in range(64)]
# best = int(np.argmax(red))
# print(best + 1, red[best], patch_response((30, 200, 30), best))
# explorer.channel = best
# ```
#
# Compare its value on green with its value on red: a channel that is positive on red and
# negative on green is channel 43's opposite. In the explorer, check whether it is bright
# where the photo is red (lips, the suit's red patches) and dark elsewhere.
# </details>
#
# **3. What the ReLU keeps.** In the explorer, switch channel 43 between *pre* and *post*.
# Predict first: which parts of the picture go black after the ReLU?
#
# <details><summary>Solution</summary>
#
# Everything where the channel was negative goes black: where red outweighs green, as on
# skin (the patch test above gave skin a negative value). The share of zeros:
# `np.mean(aw.activations(net, photo, "conv1-relu_7x7")[matlab(43)] == 0)`.
# </details>
