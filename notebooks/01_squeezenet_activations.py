# %% [markdown]
# # SqueezeNet's activations, channel by channel
#
# We give a photo of a face to **SqueezeNet**, a small network trained on ImageNet, and look at
# what its layers compute: the first convolution, where channels react to colours and edges,
# and a deeper layer, where some channels react to eyes.
#
# The steps follow MathWorks' example *Visualize Activations of a Convolutional Neural
# Network*, with actwidgets in place of MATLAB. Where the example makes an observation, this
# notebook measures it on our weights and checks it with an `assert`, instead of taking it on
# trust.
#
# Two differences to keep in mind:
#
# - Channels are numbered from **0** here (Python), from 1 in MATLAB.
# - The example's channel numbers (22, 14, 47, ...) belong to MATLAB's copy of the weights.
#   We find *our* channels by measuring, not by number.

# %%
import numpy as np
import matplotlib.pyplot as plt

import actwidgets as aw

net = aw.load_model("squeezenet")
print(net)
assert net.pretrained, (
    "This notebook needs SqueezeNet's trained weights: run it where torchvision can "
    "download them, or set TORCH_HOME to a cache that holds squeezenet1_1-b8a52dc0.pth."
)

# %% [markdown]
# ## The network
#
# `net.summary()` lists every layer in the order the image flows through it, with MATLAB's
# layer names. A *conv* layer has learned filters, one per output channel; the *relu* after it
# sets every negative value to zero. SqueezeNet repeats *fire modules* (`fire2` ... `fire9`):
# a 1×1 "squeeze" convolution followed by 1×1 and 3×3 "expand" convolutions.

# %%
print(net.summary())

# %% [markdown]
# The network takes 227×227 pictures, and its first convolution, `conv1`, has 64 channels:

# %%
# NBVAL_CHECK_OUTPUT
print(net.input_size)
print(net.layers["conv1"].label)

# %% [markdown]
# ## The picture
#
# `aw.sample_image("face")` is a 224×224 portrait. The network does not see it as it is: it is
# resized and cropped to 227×227 first. `net.image(...)` shows exactly what the network sees,
# so we put activations next to *that* picture: their positions line up.

# %%
face = aw.sample_image("face")
seen = net.image(face)
print("original:", face.shape, " what the network sees:", seen.shape)

fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for ax, img, title in zip(axes, [face, seen], ["sample image", "network input"]):
    ax.imshow(img)
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## All 64 channels of `conv1`
#
# `aw.activations(net, image, layer)` returns an array of shape (channels, height, width).
# For MATLAB's convolution names such as `conv1`, it gives the values *before* the ReLU, as
# MATLAB does.

# %%
act1 = aw.activations(net, face, "conv1")
print(f"min {act1.min():.2f}, max {act1.max():.2f}")

# %%
# NBVAL_CHECK_OUTPUT
print(act1.shape)

# %% [markdown]
# To show the channels as pictures, `aw.mat2gray` rescales the whole array to [0, 1] (the
# smallest value becomes black, the largest white) and `aw.imtile` lays the 64 channels out on
# an 8×8 grid. White means a strong positive activation, black a strong negative one; a
# channel that stays mid-grey hardly reacts to this picture.

# %%
grid = aw.imtile(aw.mat2gray(act1), grid=(8, 8))
plt.figure(figsize=(7, 7))
plt.imshow(grid, cmap="gray")
plt.title("conv1: 64 channels, before the ReLU")
plt.axis("off")
plt.show()

# %% [markdown]
# ### Before and after the ReLU
#
# `conv1` is followed by a ReLU, `relu_conv1`, which replaces every negative value by 0.
# `stage="post"` asks for the value after it. Let us check that it is exactly `max(pre, 0)`.

# %%
post1 = aw.activations(net, face, "conv1", stage="post")
print(f"before the ReLU: {np.mean(act1 < 0):.0%} of the values are negative")
print(f"after the ReLU:  {np.mean(post1 == 0):.0%} of the values are zero")

assert act1.min() < 0                           # a convolution's output can be negative
assert post1.min() >= 0                         # the ReLU's output cannot
assert np.array_equal(post1, np.maximum(act1, 0))


# %% [markdown]
# ## One channel next to the picture
#
# MathWorks points at a `conv1` channel that lights up on red parts of the image. Which of
# *our* channels does that? We measure it: for every channel, the correlation between its
# activation and the picture's *redness* (red minus the mean of green and blue).

# %%
def smaller(picture_channel, shape):
    """A (H, W) map of the network input, resized to an activation's (h, w)."""
    return aw.resize(picture_channel, shape)


rgb = seen.astype(np.float32) / 255
redness = smaller(rgb[..., 0] - rgb[..., 1:].mean(axis=-1), act1.shape[1:])

def correlation(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

red_corr = np.array([correlation(ch, redness) for ch in act1])
red_channel = int(np.argmax(red_corr))
for c in np.argsort(-red_corr)[:3]:
    print(f"channel {c:2d}: correlation with redness {red_corr[c]:+.2f}")
assert red_corr[red_channel] > 0.8


# %% [markdown]
# `aw.resize` enlarges the 113×113 channel to the picture's size, so the two can be compared
# side by side. The channel is brightest on the lips, bright on the skin and the hair (both
# reddish), and dark on the grey background and the black collar.

# %%
def show_pair(picture, channel, title):
    big = aw.resize(aw.mat2gray(channel), picture.shape[:2])
    fig, axes = plt.subplots(1, 2, figsize=(6, 3))
    axes[0].imshow(picture)
    axes[1].imshow(big, cmap="gray")
    axes[1].set_title(title)
    for ax in axes:
        ax.axis("off")
    plt.show()


show_pair(seen, act1[red_channel], f"conv1, channel {red_channel}")

# %% [markdown]
# ## The strongest channel
#
# Another way to find interesting channels: the one with the largest activation anywhere,
# `aw.strongest_channel`. In MathWorks' example it is an edge detector. Is ours? We correlate
# it with the picture's brightness differences, left minus right and top minus bottom.

# %%
strongest = aw.strongest_channel(act1)
print("strongest conv1 channel:", strongest, " max", act1[strongest].max())

brightness = rgb.mean(axis=-1)
left_minus_right = np.zeros_like(brightness)
left_minus_right[:, 1:-1] = brightness[:, :-2] - brightness[:, 2:]
top_minus_bottom = np.zeros_like(brightness)
top_minus_bottom[1:-1, :] = brightness[:-2, :] - brightness[2:, :]

corr_lr = correlation(act1[strongest], smaller(left_minus_right, act1.shape[1:]))
corr_tb = correlation(act1[strongest], smaller(top_minus_bottom, act1.shape[1:]))
print(f"correlation with left minus right: {corr_lr:+.2f}")
print(f"correlation with top minus bottom: {corr_tb:+.2f}")
assert max(abs(corr_lr), abs(corr_tb)) > 0.8     # it is an edge detector

show_pair(seen, act1[strongest], f"conv1, channel {strongest} (strongest)")

# %% [markdown]
# It is an edge detector, as in the example, but of another direction: MathWorks' strongest
# channel reacts to *light-left / dark-right* edges, ours to *light-above / dark-below*
# edges (positive values) and the reverse (negative values). Its 3×3 filter shows why: the
# weights, averaged over red, green and blue, are positive in the top row and negative in the
# bottom row.

# %%
w1 = net.model.features[0].weight.detach().numpy()    # (64 filters, 3 colours, 3, 3)
print(np.round(w1[strongest].mean(axis=0), 2))

# %% [markdown]
# ## A deeper layer: `fire6-squeeze1x1`
#
# Deeper layers combine the simple features of earlier ones into more complex ones. The
# squeeze convolution of the sixth fire module has 48 channels of 14×14. Each channel is
# enlarged to 64×64 for the grid (the whole layer is scaled to [0, 1] together, as before).

# %%
act6 = aw.activations(net, face, "fire6-squeeze1x1")
print(act6.shape)

tiles = np.stack([aw.resize(ch, (64, 64)) for ch in aw.mat2gray(act6)])
plt.figure(figsize=(8, 6))
plt.imshow(aw.imtile(tiles, grid=(6, 8)), cmap="gray")
plt.title("fire6-squeeze1x1: 48 channels, before the ReLU")
plt.axis("off")
plt.show()

# %% [markdown]
# Its strongest channel has large positive and negative values, like the one in the example:

# %%
strongest6 = aw.strongest_channel(act6)
print(f"channel {strongest6}: min {act6[strongest6].min():.0f}, max {act6[strongest6].max():.0f}")
assert act6[strongest6].min() < 0 < act6[strongest6].max()
show_pair(seen, act6[strongest6], f"fire6-squeeze1x1, channel {strongest6}")

# %% [markdown]
# ## Finding eye channels by measuring
#
# MathWorks finds two channels that seem to react to eyes by looking through the grid. We
# let the computer search instead: `aw.rank_channels` scores every channel by how much more it
# fires **inside** a region than **outside** it. The region is the two eye boxes of the sample
# face (`aw.eye_mask()`).
#
# The boxes are drawn on the 224×224 sample, but the network sees a resized and cropped
# 227×227 picture. `net.preprocess.mask(...)` applies the same resize and crop to the mask, so
# that it covers the eyes in the picture the network sees.

# %%
eyes = net.preprocess.mask(aw.eye_mask("both"))
ranking = aw.rank_channels(act6, eyes, top=5)
for c in ranking.order:
    print(f"channel {c:2d}: score {ranking.scores[c]:.2f}")
eye_channels = [int(c) for c in ranking.order[:2]]

shown = seen.copy()
shown[~eyes] //= 3          # darken everything outside the eye boxes
plt.figure(figsize=(3, 3))
plt.imshow(shown)
plt.title("the eye region")
plt.axis("off")
plt.show()


# %% [markdown]
# Check the claim behind the ranking with plain averages: the best channel's mean activation
# inside the eye boxes is larger than outside. (The mask is shrunk to the 14×14 activation,
# so each activation cell gets the share of its area that lies inside the boxes.)

# %%
def region_mean(channel, mask):
    """Mean of a (h, w) channel weighted by how much of each cell the mask covers."""
    weights = aw.resize(mask.astype(np.float32), channel.shape)
    return float((channel * weights).sum() / weights.sum())


best = eye_channels[0]
inside, outside = region_mean(act6[best], eyes), region_mean(act6[best], ~eyes)
print(f"channel {best}: mean {inside:.1f} inside the eye boxes, {outside:.1f} outside")
assert inside > outside


# %%
def show_channels(picture, acts, channels, title):
    fig, axes = plt.subplots(1, 1 + len(channels), figsize=(3 * (1 + len(channels)), 3))
    axes[0].imshow(picture)
    for ax, c in zip(axes[1:], channels):
        ax.imshow(aw.resize(aw.mat2gray(acts[c]), picture.shape[:2]), cmap="gray")
        ax.set_title(f"{title}, channel {c}")
    for ax in axes:
        ax.axis("off")
    plt.show()


show_channels(seen, act6, eye_channels, "fire6-squeeze1x1")

# %% [markdown]
# ## The same channels after the ReLU: `fire6-relu_squeeze1x1`
#
# Dark (negative) parts of these channels never reach the next layer: the ReLU after
# `fire6-squeeze1x1` sets them to 0. Looking at `fire6-relu_squeeze1x1` shows only what is
# passed on, and the bright spots stand out more clearly.

# %%
act6relu = aw.activations(net, face, "fire6-relu_squeeze1x1")
assert np.array_equal(act6relu, np.maximum(act6, 0))
show_channels(seen, act6relu, eye_channels, "after the ReLU")

# %% [markdown]
# ## Test: do these channels really react to eyes?
#
# If a channel reacts to eyes, closing an eye should weaken it *there*. The sample
# `"face_eye_closed"` is the same portrait with her left eye (on the right of the picture)
# painted over with skin. Her right eye is untouched: it is our control, and the channel should
# respond to it as before.

# %%
closed = aw.sample_image("face_eye_closed")
seen_closed = net.image(closed)
act6closed = aw.activations(net, closed, "fire6-relu_squeeze1x1")

fig, axes = plt.subplots(2, 3, figsize=(7.5, 5))
for row, (picture, acts) in enumerate([(seen, act6relu), (seen_closed, act6closed)]):
    axes[row, 0].imshow(picture)
    for col, c in enumerate(eye_channels, start=1):
        # One scale for both pictures, so brightness can be compared between rows.
        top = max(act6relu[c].max(), act6closed[c].max())
        big = aw.resize(acts[c], picture.shape[:2])
        axes[row, col].imshow(big, cmap="gray", vmin=0, vmax=top)
        axes[row, col].set_title(f"channel {c}")
for ax in axes.ravel():
    ax.axis("off")
plt.tight_layout()
plt.show()

# %%
left_eye = net.preprocess.mask(aw.eye_mask("left"))     # the one painted over
right_eye = net.preprocess.mask(aw.eye_mask("right"))   # the control

print("channel  closed eye: open -> closed    other eye: open -> closed")
changes = {}
for c in eye_channels:
    l_open, l_closed = region_mean(act6relu[c], left_eye), region_mean(act6closed[c], left_eye)
    r_open, r_closed = region_mean(act6relu[c], right_eye), region_mean(act6closed[c], right_eye)
    changes[c] = (l_closed / l_open - 1, r_closed / r_open - 1)
    print(f"{c:7d}  {l_open:8.1f} -> {l_closed:6.1f} ({changes[c][0]:+.0%})"
          f"   {r_open:8.1f} -> {r_closed:6.1f} ({changes[c][1]:+.0%})")

for c, (closed_eye, other_eye) in changes.items():
    assert closed_eye < -0.3          # much weaker at the closed eye
    assert abs(other_eye) < 0.1       # about the same at the open one

# %% [markdown]
# Both channels lose about half of their response at the closed eye and keep their response at
# the open eye: they do react to eyes. They are not *only* eye detectors, though: both also
# fire on other parts of the face, as MathWorks' channels do around the mouth. Nobody told the
# network about eyes; it learned them because they help to tell ImageNet's classes apart.
#
# Compare for yourself: the explorer below shows any layer and channel for both pictures, on
# one scale, and their difference. Move the channel slider, or press *largest difference*.

# %%
aw.CompareExplorer(
    net, face, closed, labels=("eyes open", "one eye closed"),
    layer="fire6-relu_squeeze1x1", channel=eye_channels[0],
)

# %% [markdown]
# ## What held, on these weights
#
# | the example says | here | checked by |
# |---|---|---|
# | `conv1` has 64 channels; its values can be negative | yes: 64 channels of 113×113, about 40 % of the values negative | `assert act1.min() < 0` |
# | the ReLU keeps only the positive part | yes, exactly `max(pre, 0)` | `np.array_equal` |
# | a `conv1` channel reacts to red | yes: one channel's correlation with redness is above 0.8 | `assert` |
# | the strongest `conv1` channel is an edge detector (light left, dark right) | an edge detector, yes; but for light-above, dark-below edges | correlation above 0.8 |
# | the strongest `fire6-squeeze1x1` channel has strong negative and positive parts | yes | `assert` |
# | some `fire6` channels react to eyes | yes, found by ranking (not MATLAB's numbers 14 and 47): they fire more inside the eye boxes, lose about half their response when an eye is closed and keep it at the open eye | `assert`s above |
