# %% [markdown]
# # What makes a channel fire?
#
# A channel's picture on *one* photo shows what it does there. The next question is **which
# images, of many, make this channel fire most, and where in them**. `aw.channel_atlas`
# answers it: it scans a collection of images once and keeps, for every channel of the chosen
# layers, the top images by the channel's strongest response, where that response is, and
# the patch of the image it sees there (its receptive field).
#
# We use MATLAB's SqueezeNet (`weights="caffe"`), whose channels MathWorks' example discusses:
# conv1's channel 22 (red) and fire6's channels 14 and 47 (eyes). MATLAB counts channels from
# 1, Python from 0: `matlab(14)` is the channel MATLAB calls 14.
#
# There is no ImageNet on the machines that test this notebook, so the collection is the
# photos that come with scikit-image. With your own photos, point the atlas at a folder
# (`aw.channel_atlas(net, "~/Pictures", layers)`); it reads every image below it, skips (and
# counts) unreadable files, and scales to ImageNet on a Ray cluster (`engine="ray"`, see the
# README).
#
# **What you will learn**
#
# - to scan a collection of images for the ones that make a channel fire most, and where
#   (the top patches of a channel atlas);
# - why a channel's name ("eye channel", "red channel") is a guess that a collection tests;
# - to look at a channel three ways: top patches, feature visualisation, activation.
#
# **What you need**: tutorial 01 (channels 22, 14 and 47; receptive fields). The Caffe
# SqueezeNet's weights (in the cache that `TORCH_HOME` names, or downloaded once).
#
# **How long**: about 40 minutes with the exercises; the notebook runs in about a minute on a
# laptop CPU.
#
# Boxes marked **Predict** ask you to guess before you run the next cell.

# %%
import numpy as np
import matplotlib.pyplot as plt
import skimage.data as data

import actwidgets as aw


def matlab(channel):
    """Python's index of the channel MATLAB numbers ``channel``."""
    return channel - 1


net = aw.load_model("squeezenet", weights="caffe")
assert net.pretrained, "This notebook needs the Caffe SqueezeNet's weights (TORCH_HOME)."

photos = {
    "astronaut": data.astronaut(), "cat": data.chelsea(), "coffee": data.coffee(),
    "motorcycle": data.stereo_motorcycle()[0], "coins": data.coins(), "rocket": data.rocket(),
    "camera man": data.camera(), "cells": data.immunohistochemistry(), "retina": data.retina(),
    "face (closed eye)": aw.sample_image("face_eye_closed"),
}
names = list(photos)
collection = [aw.load_image(p) for p in photos.values()]
print(len(collection), "photos:", ", ".join(names))

# %% [markdown]
# ## The atlas
#
# One pass over the collection, both stages of each layer (before and after the ReLU), the
# top 6 images per channel.

# %%
atlas = aw.channel_atlas(net, collection, ["conv1", "fire6-squeeze1x1"], top=6, progress=False)
print(atlas)
print("receptive fields:", {layer: atlas.field(layer).extent for layer in atlas.layers})


# %%
def show_top(layer, channel, stage, title):
    entries = atlas.top(layer, channel, stage)
    fig, axes = plt.subplots(1, len(entries), figsize=(2.2 * len(entries), 2.6))
    for ax, e in zip(axes, entries):
        ax.imshow(atlas.patch(e, collection))
        ax.set_title(f"{names[e.index]}\n{e.score:.0f}", fontsize=8)
        ax.axis("off")
    fig.suptitle(title)
    plt.tight_layout()
    plt.show()
    return entries


# %% [markdown]
# ## Channels 14 and 47 of `fire6-squeeze1x1`
#
# MathWorks found that these two channels react to eyes (tutorial 01 checks it by closing an
# eye). Over the whole collection, where do they fire most?
#
# > **Predict.** Of the ten photos, which will top the list for an eye channel? Only faces and
# > the cat, or other things too?

# %%
eye14 = show_top("fire6-squeeze1x1", matlab(14), "post", "fire6-squeeze1x1, channel 14 (after the ReLU)")
eye47 = show_top("fire6-squeeze1x1", matlab(47), "post", "fire6-squeeze1x1, channel 47 (after the ReLU)")

# %% [markdown]
# The cat's eyes are there: for each channel, one of its two best responses in the whole
# collection sits on an eye of the cat. (The boxes below are drawn by hand around the cat's
# eyes in scikit-image's `chelsea`.)

# %%
CAT_EYES = [(140, 60, 215, 130), (265, 95, 345, 175)]   # (x0, y0, x1, y1) in the photo


def on_a_cat_eye(entry):
    x, y = entry.xy
    return names[entry.index] == "cat" and any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in CAT_EYES)


for channel, entries in ((14, eye14), (47, eye47)):
    print(f"channel {channel}: " + ", ".join(
        f"{names[e.index]} at ({e.xy[0]:.0f}, {e.xy[1]:.0f})" for e in entries[:3]))
    assert any(on_a_cat_eye(e) for e in entries[:2])
    other = max(e.score for e in entries if names[e.index] != "cat")
    print(f"  the best other photo scores {other / entries[0].score:.0%} of the top")
    assert other >= 0.8 * entries[0].score

# %% [markdown]
# But they are not eye detectors only: other photos (the coins, the motorcycle, the astronaut)
# excite them almost as much, at least 80 % of their best score. A channel's name is a guess; the atlas shows what it does on
# real images. That is also why feature visualisations should be looked at beside natural
# images that excite the same channel.
#
# ## Channel 22 of `conv1`: red
#
# MathWorks says channel 22 reacts to red. Its top patches over the collection (the
# receptive field of `conv1` is a few pixels: each patch is a tiny square of colour) are red
# indeed; we measure their redness (red minus the mean of green and blue) against the whole
# collection's.

# %%
red = show_top("conv1", matlab(22), "pre", "conv1, channel 22 (before the ReLU)")


def redness(pixels_):
    p = np.asarray(pixels_, dtype=np.float64)
    return float((p[..., 0] - p[..., 1:].mean(axis=-1)).mean())


top_red = np.mean([redness(atlas.patch(e, collection)) for e in red])
all_red = np.mean([redness(c) for c in collection])
print(f"redness: top patches {top_red:.0f}, whole collection {all_red:.0f}")
assert top_red > 3 * all_red

# %% [markdown]
# ## The channel three ways
#
# `aw.ChannelView` puts the three views of a channel side by side: its top patches in the
# collection, its feature visualisation (the picture the network responds to most; drawn on
# demand, in the background, here we wait for it), and its activation on a picture. Given an
# explorer to follow, it shows whatever channel the explorer shows: click a tile of the
# explorer's grid, and the view follows.

# %%
view = aw.ChannelView(net, atlas, collection, layer="fire6-squeeze1x1", stage="post",
                      channel=matlab(14), image="face")
view.visualise(wait=True)
view

# %%
import ipywidgets as widgets  # noqa: E402

explorer = aw.ActivationExplorer(net, layer="fire6-squeeze1x1", stage="post", channel=matlab(47))
widgets.VBox([explorer, aw.ChannelView(net, atlas, collection).follow(explorer)])

# %% [markdown]
# ## Keep it, grow it
#
# An atlas saves to one file and loads back, with what it was computed on (model, weights,
# layers, a fingerprint of the image list). A scan stopped with Ctrl-C keeps what it has and
# resumes where it stopped.

# %%
import os  # noqa: E402
import tempfile  # noqa: E402

path = atlas.save(os.path.join(tempfile.mkdtemp(), "squeezenet-atlas.npz"))
again = aw.ChannelAtlas.load(path)
assert [e.index for e in again.top("conv1", matlab(22), "pre")] == [e.index for e in red]
print(f"{path.name}: {path.stat().st_size / 1024:.0f} KB, {again}")

# %% [markdown]
# ## Exercises
#
# Use the explorer and the channel view above (click a tile of the explorer's grid: the view
# follows). Solutions are folded away.
#
# **1. Another channel.** In the explorer, pick `fire6-squeeze1x1` and a channel whose top
# patches in the channel view are all from one photo. Is that channel about that photo's
# subject, or about a texture in it?
#
# <details><summary>Solution</summary>
#
# ```python
# for c in range(48):
#     top = atlas.top("fire6-squeeze1x1", c, "post")
#     if len({e.index for e in top}) == 1:
#         print(c + 1, names[top[0].index])
# ```
#
# Look at the patches: when they are the same texture (coins' edges, cells), the channel
# answers the texture; a test with another photo of that texture tells.
# </details>
#
# **2. Grow the collection.** Add two photos of your own (or `data.cat()`, `data.horse()`)
# and run `channel_atlas` again. Predict first: will channel 14's top patch change?
#
# <details><summary>Solution</summary>
#
# ```python
# more = collection + [aw.load_image(data.cat())]
# names2 = names + ["another cat"]
# atlas2 = aw.channel_atlas(net, more, ["fire6-squeeze1x1"], top=6, progress=False)
# print([names2[e.index] for e in atlas2.top("fire6-squeeze1x1", matlab(14), "post")])
# ```
#
# A new photo enters the list only where its best response beats the ones there; the
# scores of the old photos do not change (each image is scored on its own).
# </details>
#
# **3. Mean instead of max.** `channel_atlas(..., score="mean")` ranks images by the
# channel's mean over the map instead of its maximum. Which ranking favours photos that are
# full of the pattern, and which favours one strong spot?
#
# <details><summary>Solution</summary>
#
# The maximum rewards one strong spot (an eye in a large photo); the mean rewards a pattern
# all over the picture (a texture). Compare `atlas.top(layer, c, "post", score="mean")`
# after scanning with `score=("max", "mean")`.
# </details>
