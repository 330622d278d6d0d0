# %% [markdown]
# # Channels that work together: a layer's concepts
#
# Tutorial 06 found that MATLAB's "eye" channels 14 and 47 of `fire6-squeeze1x1` also fire
# on coins, a spoon, a motorcycle tyre: one channel is often not the unit that means
# something. A *direction* in channel space can be: several channels firing together.
#
# `aw.layer_concepts` finds such directions by non-negative matrix factorisation (NMF), as
# Olah et al.'s *Building Blocks of Interpretability* (2018) and CRAFT (Fel et al., 2023) do:
# the layer's activations at every map cell, a (cells × channels) matrix ≥ 0, are written as
# `maps @ loadings`, with `n` concepts. Each concept has **loadings** (how much of each
# channel it is made of) and a **map** per image (where it is). The factorisation is fitted
# after the ReLU (`stage="post"`): before it, a channel that does not fire is negative, which a
# non-negative factorisation cannot take as it is.
#
# We use MATLAB's SqueezeNet (`weights="caffe"`), as in tutorials 01 and 06. MATLAB counts
# channels from 1, Python from 0: `matlab(14)` is the channel MATLAB calls 14.
#
# **What you will learn**
#
# - to factorise a layer's activations into a few concepts (loadings × maps) and read them:
#   which channels make a concept, where it sits on an image;
# - to check how much of a layer the concepts keep (`explained`), against single channels;
# - that a concept can show what no single channel shows, and to maximise it like a channel.
#
# **What you need**: tutorials 01 and 06 (channels 14 and 47, the channel atlas). The Caffe
# SqueezeNet's weights (in the cache that `TORCH_HOME` names, or downloaded once).
#
# **How long**: about 30 minutes with the exercises; the notebook runs in about a minute on a
# laptop CPU.
#
# Boxes marked **Predict** ask you to guess before you run the next cell.

# %%
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import Patch
import skimage.data as data
from skimage.transform import resize

import actwidgets as aw

plt.rcParams["figure.dpi"] = 64        # small pictures: this notebook stores its outputs


def matlab(channel):
    """Python's index of the channel MATLAB numbers ``channel``."""
    return channel - 1


net = aw.load_model("squeezenet", weights="caffe")
assert net.pretrained, "This notebook needs the Caffe SqueezeNet's weights (TORCH_HOME)."
face = aw.sample_image("face")
MIDDLE = "fire6-relu_squeeze1x1"      # fire6-squeeze1x1 after its ReLU: 48 channels, 14×14

# %% [markdown]
# ## The concepts of a middle layer on the face
#
# Six concepts of `fire6-relu_squeeze1x1` on the sample face: each concept gets a colour,
# its strength is the colour's opacity. The legend names each concept's three strongest
# channels in MATLAB's numbering.

# %%
concepts = aw.layer_concepts(net, face, MIDDLE, n=6, progress=False)
print(concepts)


def legend(c):
    return [Patch(color=c.colors[i] / 255,
                  label=f"{i}: " + ", ".join(str(ch + 1) for ch in c.top_channels(i, 3)))
            for i in range(c.n)]


def show(c, image=0, title=""):
    fig, axes = plt.subplots(1, c.n + 1, figsize=(2.1 * (c.n + 1), 2.6))
    axes[0].imshow(c.picture(image))
    axes[0].set_title(title, fontsize=9)
    for i, ax in enumerate(axes[1:]):
        ax.imshow(c.picture(image, i, alpha=0.9))
        ax.set_title(f"concept {i}: ch " + ", ".join(str(ch + 1) for ch in c.top_channels(i, 3)),
                     fontsize=8)
    for ax in axes:
        ax.axis("off")
    plt.tight_layout()
    plt.show()


show(concepts, title=f"{MIDDLE}, 6 concepts")

# %% [markdown]
# ## Which concept sits on the eyes, and which channel leads it?
#
# The face comes with boxes around its eyes (`aw.eye_mask()`). For each concept we measure
# the share of its map that falls inside them (the boxes cover 1.6 % of the map); the eye
# concept is the one with the largest share, found by the code for 4, 6 and 8 concepts, and
# its strongest loading is checked against MATLAB's channel 14.
#
# **Predict.** Tutorial 01 found two eye channels, 14 and 47. Will the concept on the eyes be
# led by one of them, and will it stay the same channel when you ask for 4, 6 or 8 concepts?

# %%
eyes = net.preprocess.mask(aw.eye_mask())           # the boxes, warped as the face is


def eye_shares(c, image=0):
    """Per concept, the share of its map (image ``image``) inside the eye boxes."""
    cells = resize(eyes.astype(float), c.maps.shape[-2:], order=1, anti_aliasing=True).ravel()
    mass = c.maps[image].reshape(c.n, -1)
    return (mass @ cells) / np.maximum(mass.sum(axis=1), 1e-12)


found = {}
for n in (4, 6, 8):
    c = concepts if n == 6 else aw.layer_concepts(net, face, MIDDLE, n=n, progress=False)
    shares = eye_shares(c)
    eye = int(np.argmax(shares))
    lead = c.top_channels(eye, 3)
    found[n] = (c, eye)
    print(f"n={n}: explained {c.explained:.3f}; eye concept {eye} ({shares[eye]:.0%} of it on "
          f"the eyes), led by MATLAB's channels {[ch + 1 for ch in lead]}")
    assert lead[0] == matlab(14), f"the eye concept is led by channel {lead[0] + 1}, not 14"

# %% [markdown]
# Channel 14 leads the eye concept for 4, 6 and 8 concepts, with 48 and 37 behind it
# (MathWorks' other eye channel is 47). The concept is channel 14 *together with* others:
# its direction, not the channel alone.
#
# ## Do the concepts explain what they claim?
#
# `explained` is 1 − ‖A − reconstruction‖ / ‖A‖ over the layer's activations A. We rebuild
# the activations from the loadings and maps ourselves, and compare with what keeping the
# same number of single channels (the strongest ones) would explain.

# %%
acts = aw.activations(net, face, MIDDLE, "post")            # (48, 14, 14)
energy = np.sort(np.square(acts).reshape(len(acts), -1).sum(axis=1))
previous = 0.0
for n, (c, _) in found.items():
    rebuilt = np.einsum("kc,khw->chw", c.loadings, c.maps[0])
    ours = 1 - np.linalg.norm(acts - rebuilt) / np.linalg.norm(acts)
    channels_only = 1 - np.sqrt(energy[:-n].sum() / energy.sum())
    print(f"n={n}: concepts explain {ours:.3f} (claimed {c.explained:.3f}); "
          f"the {n} strongest channels alone {channels_only:.3f}")
    assert abs(ours - c.explained) < 1e-4
    assert ours > previous and ours > 2 * channels_only
    previous = ours

# %% [markdown]
# Six concepts keep about half of the layer's activations; six channels kept as they are
# keep about a sixth. The rest is what the 48 channels do that these few directions do not
# capture.
#
# ## A photo collection
#
# Concepts found on one face describe that face. Over a collection (here the photos that
# come with scikit-image, as in tutorial 06, and the face), they describe what the layer does
# in general. `layer_concepts` takes the same collections as the channel atlas: a list, a
# folder, a torch `Dataset`. This one is small enough to fit on every map cell; a large one
# is fitted on a sample of 50,000 cells from 256 images and every image is then projected
# onto the concepts, with a progress bar (Ctrl-C keeps what is done).

# %%
photos = {
    "astronaut": data.astronaut(), "cat": data.chelsea(), "coffee": data.coffee(),
    "motorcycle": data.stereo_motorcycle()[0], "coins": data.coins(), "rocket": data.rocket(),
    "camera man": data.camera(), "cells": data.immunohistochemistry(), "retina": data.retina(),
    "face": face,
}
names = list(photos)
collection = [aw.load_image(p) for p in photos.values()]
over = aw.layer_concepts(net, collection, MIDDLE, n=6, top=6, progress=False)
print(over, over.sample, sep="\n")
show(over, names.index("cat"), "the cat")
show(over, names.index("face"), "the face")

# %% [markdown]
# The eye concept of the collection is found again through the face's eye boxes; it is led
# by channel 14 again. Its best cells over the collection (the receptive-field boxes in the
# original photos, as in the channel atlas) include an eye of the cat; the boxes around the
# cat's eyes are tutorial 06's.

# %%
eye = int(np.argmax(eye_shares(over, names.index("face"))))
print("eye concept", eye, "led by MATLAB's channels", [ch + 1 for ch in over.top_channels(eye, 3)])
assert over.top_channels(eye, 1) == [matlab(14)]
CAT_EYES = [(140, 60, 215, 130), (265, 95, 345, 175)]   # (x0, y0, x1, y1) in the photo
best = over.top(eye)
print(", ".join(f"{names[e.index]} at ({e.xy[0]:.0f}, {e.xy[1]:.0f})" for e in best))
assert any(names[e.index] == "cat" and any(x0 <= e.xy[0] < x1 and y0 <= e.xy[1] < y1
                                           for x0, y0, x1, y1 in CAT_EYES) for e in best)
fig, axes = plt.subplots(1, len(best), figsize=(2.2 * len(best), 2.6))
for ax, e, patch in zip(axes, best, over.patches(eye)):
    ax.imshow(patch)
    ax.set_title(f"{names[e.index]}\n{e.score:.1f}", fontsize=8)
    ax.axis("off")
fig.suptitle(f"concept {eye}: its best cells over the collection")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## A concept that no single channel shows
#
# If a concept were one channel in disguise, its map would follow that channel's map. We
# correlate each concept's map with every channel's map over all the collection's cells
# (Pearson's r over 10 × 196 cells) and keep, per concept, its best channel. A concept whose
# best r stays below 0.75 (its best channel explains less than 56 % of its map's variance)
# is one that no single channel shows.

# %%
channel_maps = aw.activations(net, collection, MIDDLE, "post")        # (10, 48, 14, 14)


def centred(x):
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


m = centred(np.moveaxis(over.maps, 1, 0).reshape(over.n, -1))
a = centred(np.moveaxis(channel_maps, 1, 0).reshape(channel_maps.shape[1], -1))
r = m @ a.T                                                            # (concepts, channels)
for i in range(over.n):
    print(f"concept {i}: best single channel {int(r[i].argmax()) + 1}, r = {r[i].max():.2f}; "
          f"its strongest channel carries {over.loadings[i].max() / over.loadings[i].sum():.0%} "
          "of its loadings")
alone = int(r.max(axis=1).argmin())
print(f"concept {alone}: no channel's map follows it (best r = {r[alone].max():.2f})")
assert r[alone].max() < 0.75

fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
where = over.top(alone, 1)[0].index                   # the photo where it is strongest
axes[0].imshow(over.picture(where, alone, alpha=0.9))
axes[0].set_title(f"concept {alone} on the {names[where]}", fontsize=9)
axes[1].imshow(over.maps[where, alone], cmap="viridis")
axes[1].set_title("its map", fontsize=9)
axes[2].imshow(channel_maps[where, int(r[alone].argmax())], cmap="viridis")
axes[2].set_title(f"channel {int(r[alone].argmax()) + 1}, its best match", fontsize=9)
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## A late layer
#
# The same on `fire9-relu_squeeze1x1`, the last squeeze layer (64 channels), on the face.

# %%
LATE = "fire9-relu_squeeze1x1"
late = aw.layer_concepts(net, face, LATE, n=6, progress=False)
print(late)
assert late.explained > 0.5
show(late, title=f"{LATE}, 6 concepts")

# %% [markdown]
# ## What a concept looks like to the network
#
# A concept is a direction in channel space, so it can be maximised like a channel: the
# feature visualisation takes a weighted sum of channels (`concepts.direction(i)`, or
# `aw.visualize_channels(net, layer, direction)`). Beside it, channel 14 alone. (Few steps
# at a small size, to keep this notebook quick; use the defaults for better pictures.)

# %%
pictures = over.visualize([eye], steps=64, size=128, progress=False)
channel = aw.visualize_channels(net, MIDDLE, [matlab(14)], steps=64, size=128, progress=False)
fig, axes = plt.subplots(1, 2, figsize=(5, 2.8))
for ax, pic, title in zip(axes, (pictures[0], channel[0]), (f"eye concept {eye}", "channel 14")):
    ax.imshow(pic)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The concepts in a widget
#
# `aw.ConceptView` shows the concepts live: each concept a colour over the image, a legend
# with their top channels. Click a concept in the legend to see it alone, with its best cells
# over the collection, its loadings as bars, and a button for its feature visualisation (it
# runs in the background and can be stopped); a concept's box hides it from the picture of
# all. `view.png` is the picture shown, drawn in Python (what a notebook without its widgets
# shows), and `view.export_html("concepts.html")` writes the view as one page that works
# offline, with no kernel.

# %%
view = aw.ConceptView(over, names=names, image="face", concept=eye)
assert (view.picture == over.picture(names.index("face"), eye)).all()
view

# %% [markdown]
# ## Exercises
#
# 1. Open `aw.ActivationExplorer(net, layer="fire6-relu_squeeze1x1")` and flip between the
#    eye concept's leading channels (`concepts.top_channels(eye, 3)`: Python's indices, one
#    less than MATLAB's numbers). Where on the face do they agree, and where not?
#
# <details><summary>A way to check</summary>
#
# ```python
# a, b = (acts[ch] for ch in concepts.top_channels(eye, 2))
# both = (a > a.max() / 2) & (b > b.max() / 2)     # the cells where both fire strongly
# print(np.argwhere(both))                         # compare with the eye concept's map
# ```
# The concept's map is strongest where its channels fire together, weighted by its loadings.
# </details>
#
# 2. Ask for two concepts: `aw.layer_concepts(net, face, MIDDLE, n=2)`. How much do they
#    explain, and is one of them still on the eyes?
#
# <details><summary>A way to check</summary>
#
# ```python
# two = aw.layer_concepts(net, face, MIDDLE, n=2, progress=False)
# print(two.explained, eye_shares(two))
# ```
# Fewer concepts explain less (`explained` grows with `n`, as measured above); compare the
# eye shares with those of six concepts.
# </details>
#
# 3. Score your own photos with the eye concept: `concepts.project(photo)` gives the
#    concepts' maps (n, h, w) on any picture. Which photo has the strongest eye concept?
#
# <details><summary>A way to check</summary>
#
# ```python
# scores = {name: concepts.project(p)[eye].max() for name, p in my_photos.items()}
# print(sorted(scores, key=scores.get, reverse=True))
# ```
# Tutorial 06 found the eye channels firing on round shiny things too: look for them.
# </details>
