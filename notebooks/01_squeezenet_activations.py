# %% [markdown]
# # SqueezeNet's activations, channel by channel
#
# We give a photo of a face to **SqueezeNet**, a small network trained on ImageNet, and look at
# what its layers compute: the first convolution, where channels react to colours and edges,
# and a deeper layer, where some channels react to eyes.
#
# The steps follow MathWorks' example *Visualize Activations of a Convolutional Neural
# Network*, with actwidgets in place of MATLAB, and **the same network**: MATLAB's
# `squeezenet` is DeepScale's Caffe SqueezeNet v1.1, which `aw.load_model("squeezenet",
# weights="caffe")` loads with Caffe's preprocessing. So the example's channel numbers are
# this network's channel numbers too. Where the example makes an observation, this notebook
# measures it and checks it with an `assert`, instead of taking it on trust.
#
# One difference to keep in mind: MATLAB counts channels from **1**, Python from **0**.
# `matlab(22)` below is the channel MATLAB calls 22.
#
# **What you will learn**
#
# - what a layer's activations are: one map per channel, (channels, height, width), and how to
#   show them as a grid of pictures;
# - what a ReLU changes (before and after it), and why MATLAB's conv names mean *before*;
# - how to find a channel's role by measuring instead of looking: colour patches, a region of
#   the picture (`aw.rank_channels`), and a controlled change of the picture (a closed eye);
# - why a deeper layer's maps are smaller (14×14 here) and what each of their cells sees (its
#   receptive field), and what a larger input changes.
#
# **What you need**: Python and NumPy arrays (shapes, indexing, boolean masks); what a
# convolution and a ReLU compute, roughly. No MATLAB. The Caffe SqueezeNet's weights (in the
# cache that `TORCH_HOME` names, or downloaded once).
#
# **How long**: about 45 minutes to read, predict and run; the notebook itself runs in about
# 20 seconds on a laptop CPU. The exercises at the end take another 20 minutes.
#
# Boxes marked **Predict** ask you to guess what the next cell will show before you run it:
# write your guess down, then check it.

# %%
import numpy as np
import matplotlib.pyplot as plt

import actwidgets as aw


def matlab(channel):
    """Python's index of the channel MATLAB numbers ``channel`` (MATLAB counts from 1)."""
    return channel - 1


net = aw.load_model("squeezenet", weights="caffe")
print(net)
assert net.pretrained, (
    "This notebook needs the Caffe SqueezeNet's weights: set TORCH_HOME to a cache that holds "
    "hub/checkpoints/squeezenet_v1.1-caffe.pth, or run it once where the original can be "
    "downloaded."
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
# MathWorks used a photo of their own; we use `aw.sample_image("face")`, a 224×224 portrait.
# As in MATLAB, the network sees it resized to 227×227 (Caffe's preprocessing: no crop, the
# mean pixel subtracted). `net.image(...)` shows exactly what the network sees, so we put
# activations next to *that* picture: their positions line up.

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
print(f"min {act1.min():.1f}, max {act1.max():.1f}")

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
# `stage="both"` gives both values from one forward pass. The second is exactly `max(pre, 0)`.

# %%
both = aw.activations(net, face, "conv1", stage="both")
print(f"before the ReLU: {np.mean(both['pre'] < 0):.0%} of the values are negative")
print(f"after the ReLU:  {np.mean(both['post'] == 0):.0%} of the values are zero")

assert np.array_equal(both["pre"], act1)
assert act1.min() < 0                           # a convolution's output can be negative
assert np.array_equal(both["post"], np.maximum(act1, 0))


# %% [markdown]
# ## Channel 22: red, or rather *not green*
#
# MathWorks shows channel 22 next to the picture: it is white where the picture is red. We
# measure it: the picture's red pixels (red above both green and blue by 40 levels: lips,
# cheeks) form a region, and `aw.rank_channels` scores all 64 channels by how much more they
# fire inside it than outside.
#
# > **Predict.** Of 64 channels, where will channel 22 rank on the red pixels: first, in the
# > top three, or somewhere in the middle?

# %%
red = seen.astype(int)
red = (red[..., 0] - np.maximum(red[..., 1], red[..., 2])) > 40
ranking = aw.rank_channels(act1, red)
place = list(ranking.order).index(matlab(22))
print(f"red pixels: {red.sum()}; the channels that fire most on them: {ranking.order[:4]}")
print(f"MATLAB's channel 22 (index {matlab(22)}) comes {place + 1} of 64")
assert place < 3


# %% [markdown]
# Its filter says why: summed over its 3×3 taps, it weighs red positively and green strongly
# negatively. (Images stay RGB here: the network's first layer was turned from Caffe's BGR
# order when it was loaded.)
#
# > **Predict.** The filter also weighs blue. If it is positive, what will the channel do on a
# > violet (red + blue) collar, or on a plain blue patch?

# %%
w1 = net.model.features[0].weight.detach().numpy()    # (64 filters, 3 colours, 3, 3)
red_w, green_w, blue_w = w1[matlab(22)].sum(axis=(1, 2))
print(f"filter 22: red {red_w:+.2f}, green {green_w:+.2f}, blue {blue_w:+.2f}")
assert red_w > 0 > green_w


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


show_pair(seen, act1[matlab(22)], "conv1, MATLAB's channel 22")


# %% [markdown]
# Look at the picture above: besides the lips and the red suit, the channel is bright on the
# violet collar too. Uniform patches of one colour settle it. Each patch fills the whole
# 227×227 input; we read the channel in the middle of its map, away from the borders.

# %%
def patch_response(colour, channel=matlab(22)):
    """The channel's mean value in the middle of its map, for a picture of one colour."""
    patch = np.zeros((*net.input_size, 3), np.uint8) + np.array(colour, np.uint8)
    return float(aw.activations(net, patch, "conv1")[channel, 40:70, 40:70].mean())


skin = tuple(int(v) for v in np.median(face[150:170, 60:80].reshape(-1, 3), axis=0))   # a cheek
colours = {"red": (200, 30, 30), "violet": (140, 60, 170), "blue": (30, 30, 200),
           "grey": (128, 128, 128), "skin": skin, "green": (30, 200, 30)}
patches = {name: patch_response(rgb) for name, rgb in colours.items()}
for name, value in patches.items():
    print(f"{name:>6} {str(colours[name]):>16}: {value:+7.1f}")
assert min(patches["red"], patches["violet"], patches["blue"]) > 100     # red, violet, blue: up
assert patches["green"] < -100                                          # green: strongly down
assert abs(patches["grey"]) < 30 and abs(patches["skin"]) < 30          # no colour: about 0

# %% [markdown]
# ## The strongest channel
#
# Another way to find interesting channels: the one with the largest activation anywhere,
# `aw.strongest_channel`. In MathWorks' example it is an edge detector. On our photo we
# measure which channel it is and which edges it follows: we correlate it with the picture's
# brightness differences, left minus right and top minus bottom.

# %%
strongest = aw.strongest_channel(act1)
print(f"strongest conv1 channel: MATLAB's {strongest + 1} (index {strongest}), max {act1[strongest].max():.0f}")

rgb = seen.astype(np.float32) / 255
brightness = rgb.mean(axis=-1)
left_minus_right = np.zeros_like(brightness)
left_minus_right[:, 1:-1] = brightness[:, :-2] - brightness[:, 2:]
top_minus_bottom = np.zeros_like(brightness)
top_minus_bottom[1:-1, :] = brightness[:-2, :] - brightness[2:, :]


def correlation(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


corr_lr = correlation(act1[strongest], aw.resize(left_minus_right, act1.shape[1:]))
corr_tb = correlation(act1[strongest], aw.resize(top_minus_bottom, act1.shape[1:]))
print(f"correlation with left minus right: {corr_lr:+.2f}")
print(f"correlation with top minus bottom: {corr_tb:+.2f}")
assert max(abs(corr_lr), abs(corr_tb)) > 0.5     # it follows edges
show_pair(seen, act1[strongest], f"conv1, MATLAB's channel {strongest + 1} (strongest)")

# %% [markdown]
# It is an edge detector, as in the example. Which direction depends on the photo: on
# MathWorks' photo the strongest channel answered *light-left / dark-right* edges; on ours it
# is the channel printed above, following the direction with the larger correlation. Its 3×3
# filter, averaged over red, green and blue, shows the direction it compares:

# %%
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
# ### Why 14×14? Strides, and what one cell sees
#
# > **Predict.** The picture is 227×227 and `conv1` gives 113×113. How many times must the
# > size be halved again to reach 14×14, and which layers do it?
#
# `conv1` moves its 3×3 filter two pixels at a time (stride 2): 227 → 113. Then three max-pooling
# layers, each with stride 2, halve the maps: `pool1` (113 → 56), `pool3` (56 → 28) and `pool5`
# (28 → 14). The fire modules keep the size. So one cell of `fire6-squeeze1x1` stands for a
# step of about 16 pixels of the input, and it sees a wider patch than that: its *receptive
# field*, the input pixels that can change it. `receptive_field` measures it by
# back-propagating from one cell to the input, so nothing is typed in.

# %%
from actwidgets.atlas import receptive_field

sizes = {name: net.layers[name].size for name in ["conv1", "pool1", "pool3", "pool5", "fire6-squeeze1x1"]}
print(sizes)
assert list(sizes.values()) == [(113, 113), (56, 56), (28, 28), (14, 14), (14, 14)]

fields = {name: receptive_field(net, name) for name in ["conv1", "fire6-squeeze1x1"]}
for name, field in fields.items():
    x0, y0, x1, y1 = field.box((7, 7))
    step = field.box((7, 8))[0] - x0
    print(f"{name}: a cell sees {x1 - x0}×{y1 - y0} pixels; the next cell is {step} pixels further")
box = fields["fire6-squeeze1x1"].box((7, 7))
assert (box[2] - box[0], fields["fire6-squeeze1x1"].box((7, 8))[0] - box[0]) == (79, 16)

# %% [markdown]
# A `fire6-squeeze1x1` cell sees 79×79 pixels, about a third of the picture's width, in steps
# of 16: enough for an eye with its surroundings, which is why eye channels can appear here and
# not in `conv1` (3×3 pixels).
#
# **A larger input.** SqueezeNet has no fully connected layer before its global pooling, so it
# takes other sizes. MathWorks' notes say that a larger picture gives larger activations but
# that the network, trained on 227×227 pictures, does not learn larger features from it. The
# maps grow with the input:

# %%
big = aw.load_model("squeezenet", weights="caffe", input_size=454)
act6_big = aw.activations(big, face, "fire6-squeeze1x1")
print(f"input 454×454: fire6-squeeze1x1 is {act6_big.shape}")
assert act6_big.shape == (48, 28, 28)

# %% [markdown]
# The receptive field does not grow: it is made by the layers' kernels and strides, which are
# the same. Each cell still sees 79×79 pixels, now about a sixth of the picture's width
# instead of a third: every feature of the face covers twice as many pixels, so a larger share
# of what one cell sees.

# %% [markdown]
# ## Channels 14 and 47 react to eyes: found by measuring
#
# MathWorks picks channels 14 and 47 by looking through the grid. We do not type those
# numbers in: `aw.rank_channels` scores every channel by how much more it fires **inside** the
# two eye boxes of the sample face (`aw.eye_mask()`) than **outside** them.
#
# The boxes are drawn on the 224×224 sample, but the network sees a resized 227×227 picture.
# `net.preprocess.mask(...)` applies the same resize to the mask, so that it covers the eyes in
# the picture the network sees.

# %%
eyes = net.preprocess.mask(aw.eye_mask("both"))
ranking = aw.rank_channels(act6, eyes, top=5)
for c in ranking.order:
    print(f"MATLAB's channel {c + 1:2d}: score {ranking.scores[c]:+.2f}")
eye_channels = sorted(int(c) for c in ranking.order[:2])
assert eye_channels == [matlab(14), matlab(47)]     # the example's two channels, found

shown = seen.copy()
shown[~eyes] //= 3          # darken everything outside the eye boxes
plt.figure(figsize=(3, 3))
plt.imshow(shown)
plt.title("the eye region")
plt.axis("off")
plt.show()


# %%
def show_channels(picture, acts, channels, title):
    fig, axes = plt.subplots(1, 1 + len(channels), figsize=(3 * (1 + len(channels)), 3))
    axes[0].imshow(picture)
    for ax, c in zip(axes[1:], channels):
        ax.imshow(aw.resize(aw.mat2gray(acts[c]), picture.shape[:2]), cmap="gray")
        ax.set_title(f"{title}, ch. {c + 1}")
    for ax in axes:
        ax.axis("off")
    plt.show()


show_channels(seen, act6, eye_channels, "fire6-squeeze1x1")

# %% [markdown]
# ### The strongest channel is an eye channel
#
# MathWorks also shows the channel with the largest activation in this layer, and finds it
# less interesting than others, with strong negative and positive parts. On this photo and
# these weights it is not: `aw.strongest_channel` finds one of the two eye channels.
#
# > **Predict.** Which channel will it be?

# %%
strongest6 = aw.strongest_channel(act6)
print(f"channel {strongest6 + 1} (MATLAB's numbering): min {act6[strongest6].min():.0f}, "
      f"max {act6[strongest6].max():.0f}")
assert strongest6 in eye_channels                  # found, not typed in: MATLAB's 14
assert strongest6 == int(ranking.order[0])         # the best of the eye ranking, too
assert act6[strongest6].min() < 0                  # it has a negative part, as in the example
show_pair(seen, act6[strongest6], f"fire6-squeeze1x1, MATLAB's channel {strongest6 + 1}")

# %% [markdown]
# MathWorks also notes that both channels respond, to some degree, around the mouth. We
# measure each channel's mean in a box around the mouth and in the eye boxes, each divided by
# its mean over the rest of the face (after the ReLU: what the next layer receives):

# %%
mouth_box = np.zeros((224, 224), bool)
mouth_box[126:154, 80:132] = True          # (rows, columns) around the lips of the sample
act6_post = aw.activations(net, face, "fire6-relu_squeeze1x1")


def cells(mask):
    """How much of each 14×14 cell a mask of the 224×224 sample covers."""
    return aw.resize(net.preprocess.mask(mask).astype(np.float32), act6.shape[1:])


mouth_w, eyes_w = cells(mouth_box), cells(aw.eye_mask())
rest_w = ((mouth_w < 0.01) & (eyes_w < 0.01)).astype(np.float32)
for c in eye_channels:
    rest = float((act6_post[c] * rest_w).sum() / rest_w.sum())
    at_mouth = float((act6_post[c] * mouth_w).sum() / mouth_w.sum()) / rest
    at_eyes = float((act6_post[c] * eyes_w).sum() / eyes_w.sum()) / rest
    print(f"channel {c + 1}: {at_eyes:.1f}× its usual level at the eyes, {at_mouth:.1f}× around the mouth")
    assert at_eyes > at_mouth > 2          # eyes first, the mouth clearly too

# %% [markdown]
# ## The same channels after the ReLU: `fire6-relu_squeeze1x1`
#
# Dark (negative) parts of these channels never reach the next layer: the ReLU after
# `fire6-squeeze1x1` sets them to 0. `fire6-relu_squeeze1x1` shows only what is passed on, and
# the bright spots on the eyes stand out.

# %%
act6relu = aw.activations(net, face, "fire6-relu_squeeze1x1")
assert np.array_equal(act6relu, np.maximum(act6, 0))
show_channels(seen, act6relu, eye_channels, "after the ReLU")

# %% [markdown]
# ## Test: do these channels really react to eyes?
#
# If a channel reacts to eyes, closing an eye should weaken it *there*. The sample
# `"face_eye_closed"` is the same portrait with her left eye (on the right of the picture)
# painted over with skin. Her right eye is untouched: it is our control, and the channels
# should respond to it as before.

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
        axes[row, col].imshow(aw.resize(acts[c], picture.shape[:2]), cmap="gray", vmin=0, vmax=top)
        axes[row, col].set_title(f"channel {c + 1}")
for ax in axes.ravel():
    ax.axis("off")
plt.tight_layout()
plt.show()


# %%
def region_mean(channel, mask):
    """Mean of a (h, w) channel weighted by how much of each cell the mask covers."""
    weights = aw.resize(mask.astype(np.float32), channel.shape)
    return float((channel * weights).sum() / weights.sum())


left_eye = net.preprocess.mask(aw.eye_mask("left"))     # the one painted over
right_eye = net.preprocess.mask(aw.eye_mask("right"))   # the control

print("channel  closed eye: open -> closed    other eye: open -> closed")
changes = {}
for c in eye_channels:
    l_open, l_closed = region_mean(act6relu[c], left_eye), region_mean(act6closed[c], left_eye)
    r_open, r_closed = region_mean(act6relu[c], right_eye), region_mean(act6closed[c], right_eye)
    changes[c] = (l_closed / l_open - 1, r_closed / r_open - 1)
    print(f"{c + 1:7d}  {l_open:8.1f} -> {l_closed:6.1f} ({changes[c][0]:+.0%})"
          f"   {r_open:8.1f} -> {r_closed:6.1f} ({changes[c][1]:+.0%})")

for c, (closed_eye, other_eye) in changes.items():
    assert closed_eye < -0.3          # much weaker at the closed eye
    assert abs(other_eye) < 0.1       # about the same at the open one

# %% [markdown]
# Both channels lose much of their response at the closed eye and keep it at the open eye.
#
# > **Predict.** Is that enough to call them eye channels? How many of the 48 channels do you
# > expect to pass the same test?
#
# The same test, on every channel:

# %%
def drop_test(c):
    l_open, l_closed = region_mean(act6relu[c], left_eye), region_mean(act6closed[c], left_eye)
    r_open, r_closed = region_mean(act6relu[c], right_eye), region_mean(act6closed[c], right_eye)
    return l_open > 0 and l_closed / l_open - 1 < -0.3 and r_open > 0 and abs(r_closed / r_open - 1) < 0.1


passing = [c for c in range(48) if drop_test(c)]
print(f"{len(passing)} channels pass:", [c + 1 for c in passing])
assert set(eye_channels) < set(passing) and {matlab(48), matlab(41)} <= set(passing)

# %% [markdown]
# Many pass, 48 and 41 among them. The painted skin removes whatever a channel saw at the eye,
# so every channel that responded there at all loses some of it: the test shows that the
# response depends on what is at the eye, not that the channel is *about* eyes. Two more
# questions single out 14 and 47. Compared with the channel's level on the rest of the face
# (outside both eyes):
#
# 1. is it much stronger on **both** open eyes (at least 5×)?
# 2. does the closed eye fall back to about the level of the rest of the face (under 3×)?

# %%
def rest_of_face(acts):
    outside = (cells(aw.eye_mask()) < 0.01).astype(np.float32)
    return float((acts * outside).sum() / outside.sum())


print("channel  open eyes (her right, her left)   closed eye   (× the rest of the face)")
eye_like = []
for c in passing:
    rest = rest_of_face(act6relu[c])
    r_open, l_open = region_mean(act6relu[c], right_eye) / rest, region_mean(act6relu[c], left_eye) / rest
    l_closed = region_mean(act6closed[c], left_eye) / rest
    print(f"{c + 1:7d}  {r_open:14.1f} {l_open:10.1f}   {l_closed:13.1f}")
    if min(r_open, l_open) >= 5 and l_closed < 3:
        eye_like.append(c)
print("both questions answered yes:", [c + 1 for c in eye_like])
assert eye_like == eye_channels

# %% [markdown]
# Only 14 and 47 answer both: 41 keeps responding at the painted eye (over 5× the rest of the
# face), 48 is less than 5× stronger at the eyes than elsewhere. Channels 14 and 47 react to
# eyes, as MathWorks says. Nobody told the network about eyes; it learned them because they
# help to tell ImageNet's classes apart. (One photo, one closed eye: a stronger test needs
# many faces, which is what the channel atlas of tutorial 06 does.)
#
# Compare for yourself: the explorer below shows any layer and channel for both pictures, on
# one scale, and their difference. Move the channel slider, or press *largest difference*.

# %%
aw.CompareExplorer(
    net, face, closed, labels=("eyes open", "one eye closed"),
    layer="fire6-relu_squeeze1x1", channel=eye_channels[0],
)

# %% [markdown]
# ## Another training, other numbers, the same roles: torchvision's SqueezeNet
#
# torchvision's `squeezenet1_1` has the same architecture, trained again from scratch. Its
# channel 22 is not a red channel and its channels 14 and 47 are not eye channels: what a
# channel learns depends on the training run. But the same measurements find channels with
# the same roles.

# %%
tv = aw.load_model("squeezenet")        # torchvision's weights
assert tv.pretrained
tv_seen = tv.image(face)
tv_red = tv_seen.astype(int)
tv_red = (tv_red[..., 0] - np.maximum(tv_red[..., 1], tv_red[..., 2])) > 40
tv_act1 = aw.activations(tv, face, "conv1")
tv_red_channel = int(aw.rank_channels(tv_act1, tv_red).order[0])

tv_act6 = aw.activations(tv, face, "fire6-squeeze1x1")
tv_eyes = sorted(int(c) for c in aw.rank_channels(tv_act6, tv.preprocess.mask(aw.eye_mask()), top=2).order)
tv_relu = aw.activations(tv, face, "fire6-relu_squeeze1x1")
tv_closed = aw.activations(tv, closed, "fire6-relu_squeeze1x1")
tv_left = tv.preprocess.mask(aw.eye_mask("left"))
drops = {c: region_mean(tv_closed[c], tv_left) / region_mean(tv_relu[c], tv_left) - 1 for c in tv_eyes}
print(f"red channel: {tv_red_channel + 1}; eye channels: {[c + 1 for c in tv_eyes]} "
      f"(MATLAB-style numbers); closing an eye changes them by "
      + ", ".join(f"{d:+.0%}" for d in drops.values()))
assert tv_eyes != [matlab(14), matlab(47)]
assert tv_red_channel != matlab(22)    # another training: channel 22 is not its red channel
assert min(drops.values()) < -0.3     # at least one of them is an eye channel here too

# %% [markdown]
# ## What held, on MATLAB's own weights
#
# | the example says | here | checked by |
# |---|---|---|
# | `conv1` has 64 channels; its values can be negative | yes | `assert act1.min() < 0` |
# | the ReLU keeps only the positive part | yes, exactly `max(pre, 0)` | `np.array_equal` |
# | channel 22 reacts to red | red, violet and blue, against green: "not green" is closer. Among the 3 channels firing most on the red pixels; its filter weighs red up, green down; uniform patches: red, violet, blue above +100, green below −100, grey and skin near 0 | `assert place < 3`, the filter's sums, patch `assert`s |
# | the strongest `conv1` channel is an edge detector | yes on our photo too (which channel, and which direction, depends on the photo) | correlation with brightness differences |
# | the strongest `fire6-squeeze1x1` channel is "not as interesting", with negative and positive parts | it has both, but it is channel 14, one of the two eye channels | `assert strongest6 in eye_channels` |
# | channels 14 and 47 react to eyes | yes: ranking the 48 channels on the eye region puts exactly 14 and 47 first; closing an eye weakens both there, the open eye keeps them. The closing test alone is passed by other channels too (48, 41, ...); only 14 and 47 are also 5× stronger at both eyes and fall back at the closed one | `assert`s above |
# | ... and to some degree around the mouth | yes: more than 2× their usual level there, less than at the eyes | `assert at_eyes > at_mouth > 2` |
# | a larger input gives larger activations | 454×454 gives 28×28 maps in `fire6`; the layers are the same, so a cell still sees 79×79 pixels (measured at 227) | `assert`s |
#
# ## Exercises
#
# Use the explorer below (and the comparison explorer above); each solution is folded away
# below its exercise.

# %%
explorer = aw.ActivationExplorer(net, layer="conv1", channel=matlab(22))
explorer

# %% [markdown]
# **1. Find channel 22's opposite.** In the explorer, on `conv1`, look for a channel that does
# the opposite of channel 22: bright where the picture is green, dark on the lips. Which
# channel is it, and does `patch_response` agree?
#
# <details><summary>Solution</summary>
#
# Rank the channels by their response to a green patch, then look at the best in the
# explorer (`explorer.channel = ...`):
#
# ```python
# green = [patch_response((30, 200, 30), c) for c in range(64)]
# best = int(np.argmax(green))
# print(best + 1, green[best], patch_response((200, 30, 30), best))
# explorer.layer, explorer.channel = "conv1", best
# ```
#
# It is MATLAB's channel 7: about +560 on the green patch and −240 on the red one, channel
# 22's mirror image. In the explorer it is dark on the lips and the red suit.
# </details>
#
# **2. Receptive fields by hand.** With the explorer on `fire6-relu_squeeze1x1`, channel 14,
# switch the view to *overlay*. Which cells light up, and are the eyes inside their 79×79
# fields? Then compute the field of `pool3` and `fire9-squeeze1x1` with `receptive_field`.
# Predict first: will `fire9`'s field be larger than `fire6`'s, although both maps are 14×14?
#
# <details><summary>Solution</summary>
#
# ```python
# for name in ["pool3", "fire9-squeeze1x1"]:
#     x0, y0, x1, y1 = receptive_field(net, name).box((7, 7))
#     print(name, x1 - x0)
# ```
#
# `pool3` sees 31×31 pixels, `fire9-squeeze1x1` 175×175. `fire9` keeps the 14×14 map (no
# pooling after `pool5`) but its field is wider than `fire6`'s 79: each of the 3×3 expand
# convolutions of `fire6`, `fire7` and `fire8` widens it by two cells of 16 pixels
# (79 + 3 × 32 = 175). Same map size, wider view.
# </details>
#
# **3. Close the other eye.** The comparison explorer (above) shows both pictures on one scale.
# Set its layer to `fire6-relu_squeeze1x1` and step through channels 41 and 48 (MATLAB's
# numbers: `channel=40` and `47` in Python). Where does the difference appear, and why does
# it not make them eye channels?
#
# <details><summary>Solution</summary>
#
# Both lose response at the painted eye, so the difference image is bright there. But their
# response on the open face is not concentrated on the eyes (48) or stays high on the painted
# skin (41): the table above gives the numbers. A change at the eye shows that a channel
# *uses* what is at the eye, not that it detects eyes.
# </details>
