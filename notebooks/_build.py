"""Write the tutorial notebooks from this script, so they can be read, reviewed and regenerated.

    python notebooks/_build.py                 # write every notebook, without outputs
    python notebooks/_build.py --execute       # also run 00, 01 and 04 and store their outputs
    python notebooks/_build.py 01 --execute    # only notebook 01

Outputs are stored only where they come from real weights: 00 and 01 (SqueezeNet's trained
weights; set TORCH_HOME to a cache that holds them) and 04 (a network trained in the notebook).
02 (GoogLeNet) and 03 (VGG16) are written without outputs: in CI they run on random weights.

Cell ids are derived from the notebook name and the cell's position, so rebuilding an unchanged
notebook gives the same file.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

#: Notebooks whose outputs are stored (they come from real, trained weights).
STORE_OUTPUTS = ("00_explorer", "01_squeezenet_activations", "04_your_own_cnn")


def md(text: str) -> tuple[str, str]:
    return ("markdown", textwrap.dedent(text).strip("\n"))


def code(text: str) -> tuple[str, str]:
    return ("code", textwrap.dedent(text).strip("\n"))


# ============================================================================ 00
NB00 = [
    md("""
    # actwidgets explorer: what does a CNN see?

    Pick an image (or upload your own photo), then a layer and a channel of **SqueezeNet**.
    Switch the stage between *pre* and *post* to see a channel before and after its ReLU.
    """),
    code("""
    import actwidgets as aw

    net = aw.load_model("squeezenet")
    aw.ActivationExplorer(net)
    """),
]


# ============================================================================ 01
NB01 = [
    md("""
    # SqueezeNet's activations, channel by channel

    We give a photo of a face to **SqueezeNet**, a small network trained on ImageNet, and look at
    what its layers compute: the first convolution, where channels react to colours and edges,
    and a deeper layer, where some channels react to eyes.

    The steps follow MathWorks' example *Visualize Activations of a Convolutional Neural
    Network*, with actwidgets in place of MATLAB. Where the example makes an observation, this
    notebook measures it on our weights and checks it with an `assert`, instead of taking it on
    trust.

    Two differences to keep in mind:

    - Channels are numbered from **0** here (Python), from 1 in MATLAB.
    - The example's channel numbers (22, 14, 47, ...) belong to MATLAB's copy of the weights.
      We find *our* channels by measuring, not by number.
    """),
    code("""
    import numpy as np
    import matplotlib.pyplot as plt

    import actwidgets as aw
    from actwidgets.images import eye_mask

    net = aw.load_model("squeezenet")
    print(net)
    assert net.pretrained, (
        "This notebook needs SqueezeNet's trained weights: run it where torchvision can "
        "download them, or set TORCH_HOME to a cache that holds squeezenet1_1-b8a52dc0.pth."
    )
    """),
    md("""
    ## The network

    `net.summary()` lists every layer in the order the image flows through it, with MATLAB's
    layer names. A *conv* layer has learned filters, one per output channel; the *relu* after it
    sets every negative value to zero. SqueezeNet repeats *fire modules* (`fire2` ... `fire9`):
    a 1×1 "squeeze" convolution followed by 1×1 and 3×3 "expand" convolutions.
    """),
    code("""
    print(net.summary())
    """),
    md("""
    The network takes 227×227 pictures, and its first convolution, `conv1`, has 64 channels:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print(net.input_size)
    print(net.layers["conv1"].label)
    """),
    md("""
    ## The picture

    `aw.sample_image("face")` is a 224×224 portrait. The network does not see it as it is: it is
    resized and cropped to 227×227 first. `net.image(...)` shows exactly what the network sees,
    so we put activations next to *that* picture: their positions line up.
    """),
    code("""
    face = aw.sample_image("face")
    seen = net.image(face)
    print("original:", face.shape, " what the network sees:", seen.shape)

    fig, axes = plt.subplots(1, 2, figsize=(6, 3))
    for ax, img, title in zip(axes, [face, seen], ["sample image", "network input"]):
        ax.imshow(img)
        ax.set_title(title)
        ax.axis("off")
    plt.show()
    """),
    md("""
    ## All 64 channels of `conv1`

    `aw.activations(net, image, layer)` returns an array of shape (channels, height, width).
    For MATLAB's convolution names such as `conv1`, it gives the values *before* the ReLU, as
    MATLAB does.
    """),
    code("""
    act1 = aw.activations(net, face, "conv1")
    print(f"min {act1.min():.2f}, max {act1.max():.2f}")
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print(act1.shape)
    """),
    md("""
    To show the channels as pictures, `aw.mat2gray` rescales the whole array to [0, 1] (the
    smallest value becomes black, the largest white) and `aw.imtile` lays the 64 channels out on
    an 8×8 grid. White means a strong positive activation, black a strong negative one; a
    channel that stays mid-grey hardly reacts to this picture.
    """),
    code("""
    grid = aw.imtile(aw.mat2gray(act1), grid=(8, 8))
    plt.figure(figsize=(7, 7))
    plt.imshow(grid, cmap="gray")
    plt.title("conv1: 64 channels, before the ReLU")
    plt.axis("off")
    plt.show()
    """),
    md("""
    ### Before and after the ReLU

    `conv1` is followed by a ReLU, `relu_conv1`, which replaces every negative value by 0.
    `stage="post"` asks for the value after it. Let us check that it is exactly `max(pre, 0)`.
    """),
    code("""
    post1 = aw.activations(net, face, "conv1", stage="post")
    print(f"before the ReLU: {np.mean(act1 < 0):.0%} of the values are negative")
    print(f"after the ReLU:  {np.mean(post1 == 0):.0%} of the values are zero")

    assert act1.min() < 0                           # a convolution's output can be negative
    assert post1.min() >= 0                         # the ReLU's output cannot
    assert np.array_equal(post1, np.maximum(act1, 0))
    """),
    md("""
    ## One channel next to the picture

    MathWorks points at a `conv1` channel that lights up on red parts of the image. Which of
    *our* channels does that? We measure it: for every channel, the correlation between its
    activation and the picture's *redness* (red minus the mean of green and blue).
    """),
    code("""
    def smaller(picture_channel, shape):
        \"\"\"A (H, W) map of the network input, resized to an activation's (h, w).\"\"\"
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
    """),
    md("""
    `aw.resize` enlarges the 113×113 channel to the picture's size, so the two can be compared
    side by side. The channel is brightest on the lips, bright on the skin and the hair (both
    reddish), and dark on the grey background and the black collar.
    """),
    code("""
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
    """),
    md("""
    ## The strongest channel

    Another way to find interesting channels: the one with the largest activation anywhere,
    `aw.strongest_channel`. In MathWorks' example it is an edge detector. Is ours? We correlate
    it with the picture's brightness differences, left minus right and top minus bottom.
    """),
    code("""
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
    """),
    md("""
    It is an edge detector, as in the example, but of another direction: MathWorks' strongest
    channel reacts to *light-left / dark-right* edges, ours to *light-above / dark-below*
    edges (positive values) and the reverse (negative values). Its 3×3 filter shows why: the
    weights, averaged over red, green and blue, are positive in the top row and negative in the
    bottom row.
    """),
    code("""
    w1 = net.model.features[0].weight.detach().numpy()    # (64 filters, 3 colours, 3, 3)
    print(np.round(w1[strongest].mean(axis=0), 2))
    """),
    md("""
    ## A deeper layer: `fire6-squeeze1x1`

    Deeper layers combine the simple features of earlier ones into more complex ones. The
    squeeze convolution of the sixth fire module has 48 channels of 14×14. Each channel is
    enlarged to 64×64 for the grid (the whole layer is scaled to [0, 1] together, as before).
    """),
    code("""
    act6 = aw.activations(net, face, "fire6-squeeze1x1")
    print(act6.shape)

    tiles = np.stack([aw.resize(ch, (64, 64)) for ch in aw.mat2gray(act6)])
    plt.figure(figsize=(8, 6))
    plt.imshow(aw.imtile(tiles, grid=(6, 8)), cmap="gray")
    plt.title("fire6-squeeze1x1: 48 channels, before the ReLU")
    plt.axis("off")
    plt.show()
    """),
    md("""
    Its strongest channel has large positive and negative values, like the one in the example:
    """),
    code("""
    strongest6 = aw.strongest_channel(act6)
    print(f"channel {strongest6}: min {act6[strongest6].min():.0f}, max {act6[strongest6].max():.0f}")
    assert act6[strongest6].min() < 0 < act6[strongest6].max()
    show_pair(seen, act6[strongest6], f"fire6-squeeze1x1, channel {strongest6}")
    """),
    md("""
    ## Finding eye channels by measuring

    MathWorks finds two channels that seem to react to eyes by looking through the grid. We
    let the computer search instead: `aw.rank_channels` scores every channel by how much more it
    fires **inside** a region than **outside** it. The region is the two eye boxes of the sample
    face (`eye_mask()`).

    The boxes are drawn on the 224×224 sample, but the network sees a resized and cropped
    227×227 picture. `net.preprocess.mask(...)` applies the same resize and crop to the mask, so
    that it covers the eyes in the picture the network sees.
    """),
    code("""
    eyes = net.preprocess.mask(eye_mask("both"))
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
    """),
    md("""
    Check the claim behind the ranking with plain averages: the best channel's mean activation
    inside the eye boxes is larger than outside. (The mask is shrunk to the 14×14 activation,
    so each activation cell gets the share of its area that lies inside the boxes.)
    """),
    code("""
    def region_mean(channel, mask):
        \"\"\"Mean of a (h, w) channel weighted by how much of each cell the mask covers.\"\"\"
        weights = aw.resize(mask.astype(np.float32), channel.shape)
        return float((channel * weights).sum() / weights.sum())


    best = eye_channels[0]
    inside, outside = region_mean(act6[best], eyes), region_mean(act6[best], ~eyes)
    print(f"channel {best}: mean {inside:.1f} inside the eye boxes, {outside:.1f} outside")
    assert inside > outside
    """),
    code("""
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
    """),
    md("""
    ## The same channels after the ReLU: `fire6-relu_squeeze1x1`

    Dark (negative) parts of these channels never reach the next layer: the ReLU after
    `fire6-squeeze1x1` sets them to 0. Looking at `fire6-relu_squeeze1x1` shows only what is
    passed on, and the bright spots stand out more clearly.
    """),
    code("""
    act6relu = aw.activations(net, face, "fire6-relu_squeeze1x1")
    assert np.array_equal(act6relu, np.maximum(act6, 0))
    show_channels(seen, act6relu, eye_channels, "after the ReLU")
    """),
    md("""
    ## Test: do these channels really react to eyes?

    If a channel reacts to eyes, closing an eye should weaken it *there*. The sample
    `"face_eye_closed"` is the same portrait with her left eye (on the right of the picture)
    painted over with skin. Her right eye is untouched: it is our control, and the channel should
    respond to it as before.
    """),
    code("""
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
    """),
    code("""
    left_eye = net.preprocess.mask(eye_mask("left"))     # the one painted over
    right_eye = net.preprocess.mask(eye_mask("right"))   # the control

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
    """),
    md("""
    Both channels lose about half of their response at the closed eye and keep their response at
    the open eye: they do react to eyes. They are not *only* eye detectors, though: both also
    fire on other parts of the face, as MathWorks' channels do around the mouth. Nobody told the
    network about eyes; it learned them because they help to tell ImageNet's classes apart.

    Compare for yourself: the explorer below shows any layer and channel for both pictures, on
    one scale, and their difference. Move the channel slider, or press *largest difference*.
    """),
    code("""
    aw.CompareExplorer(
        net, face, closed, labels=("eyes open", "one eye closed"),
        layer="fire6-relu_squeeze1x1", channel=eye_channels[0],
    )
    """),
    md("""
    ## What held, on these weights

    | the example says | here | checked by |
    |---|---|---|
    | `conv1` has 64 channels; its values can be negative | yes: 64 channels of 113×113, about 40 % of the values negative | `assert act1.min() < 0` |
    | the ReLU keeps only the positive part | yes, exactly `max(pre, 0)` | `np.array_equal` |
    | a `conv1` channel reacts to red | yes: one channel's correlation with redness is above 0.8 | `assert` |
    | the strongest `conv1` channel is an edge detector (light left, dark right) | an edge detector, yes; but for light-above, dark-below edges | correlation above 0.8 |
    | the strongest `fire6-squeeze1x1` channel has strong negative and positive parts | yes | `assert` |
    | some `fire6` channels react to eyes | yes, found by ranking (not MATLAB's numbers 14 and 47): they fire more inside the eye boxes, lose about half their response when an eye is closed and keep it at the open eye | `assert`s above |
    """),
]


# ============================================================================ 02
NB02 = [
    md("""
    # GoogLeNet's first layers, before and after the ReLU

    This notebook retraces MathWorks' blog post *Visualizing Activations in GoogLeNet*: the first
    convolution of **GoogLeNet** for a photo, a contrast stretch to see it better, two filters
    that behave like brightness-gradient detectors (seen through their frequency response), a
    filter that compares colours, and what is left after the ReLU.

    > **Weights.** Online, `aw.load_model("googlenet")` downloads the trained ImageNet
    > weights. Where they cannot be had (offline, or in our test runs, which set
    > `ACTWIDGETS_RANDOM_WEIGHTS=1`), the network gets **random weights** and the banner below
    > says so. Every picture then shows an untrained network: the code and the checks still
    > run, but the interpretations in the text are about the *trained* network. The notebook
    > measures instead of assuming, and prints what it finds for the weights it has.
    """),
    code("""
    import numpy as np
    import matplotlib.pyplot as plt
    import torch

    import actwidgets as aw
    from actwidgets.filters import freqz2

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
    """),
    md("""
    ## The first layers

    `net.layers` lists the layers in forward order with MATLAB's names. We look at the first few.
    """),
    code("""
    for layer in list(net.layers)[:5]:
        print(f"{layer.index}  {layer.name:<24} {layer.kind:<6} {layer.channels:4d} channels  "
              f"{layer.size[0]}×{layer.size[1]}")
    print("input size:", net.input_size)

    names = net.layers.names
    assert names[:3] == ["conv1-7x7_s2", "conv1-relu_7x7", "pool1-3x3_s2"]
    assert net.input_size == (224, 224)
    """),
    md("""
    The first convolution has 64 filters of 7×7 pixels × 3 colours, and a stride of 2: it keeps
    every second position, so its output is half the input's width and height.

    One difference from MATLAB's GoogLeNet (a Caffe model): torchvision's version normalises each
    convolution's output with *batch normalisation* before the ReLU. So `conv1-7x7_s2` here is the
    normalised convolution output, still **before** the ReLU.
    """),
    code("""
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
    """),
    md("""
    ## A photo through `conv1-7x7_s2`

    The blog uses a self-portrait; we use the sample portrait. `net.image` shows the 224×224
    picture the network sees.
    """),
    code("""
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
    """),
    md("""
    64 pictures of 112×112. The minimum is negative, which tells us we are looking *before* the
    ReLU. (The blog's values run from about −3000 to 3000 because its model takes pixels in
    0..255 with only the mean subtracted; ours takes pixels scaled to about −2..2, and batch
    normalisation rescales the output too.)

    ## The montage

    `aw.mat2gray` scales everything to [0, 1] and `aw.imtile` lays out the 64 channels.
    """),
    code("""
    scaled = aw.mat2gray(act)
    plt.figure(figsize=(7, 7))
    plt.imshow(aw.imtile(scaled, grid=(8, 8)), cmap="gray")
    plt.title("conv1-7x7_s2, scaled with mat2gray")
    plt.axis("off")
    plt.show()
    """),
    md("""
    ## A contrast stretch

    Most values sit in the middle of the range, so the montage looks flat. `aw.stretchlim` finds
    the values below which 1 % of the data lie and above which 1 % lie; `aw.imadjust` maps that
    range to [0, 1] and clips the rest. (They work on arrays of any shape, so no reshaping is
    needed.)
    """),
    code("""
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
    """),
    md("""
    ## Two gradient detectors, found by their frequency response

    In the blog, two channels look like the horizontal and vertical *gradients* of the photo:
    one lights up where brightness changes from left to right, the other from top to bottom.
    Their filters show it in the frequency domain: a band-pass in one direction (it removes the
    flat parts and keeps changes) and a low-pass in the other (it smooths along the edge).

    Instead of picking channels by eye, we measure every filter. `freqz2` gives the magnitude
    of a kernel's 2-D frequency response |H| at horizontal frequency *fx* and vertical frequency
    *fy*. From it we compute an **orientation score** in [−1, 1]: how much more of the filter's
    energy lies at high horizontal than at high vertical frequencies.

    - near **+1**: it reacts to left–right changes (vertical edges),
    - near **−1**: it reacts to top–bottom changes (horizontal edges),
    - near **0**: no preferred direction.

    We also check that the response at zero frequency (DC, a flat patch) is small: a gradient
    detector ignores flat areas. Like the blog, we use each filter's green channel.
    """),
    code("""
    def orientation(kernel, n=64):
        \"\"\"(orientation score in [-1, 1], |H| at DC relative to the maximum).\"\"\"
        H, fx, fy = freqz2(kernel, n)
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
    """),
    code("""
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
    """),
    md("""
    Their activations, from the stretched montage:
    """),
    code("""
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
    for ax, f in zip(axes, [lr_filter, tb_filter]):
        ax.imshow(stretched[f], cmap="gray")
        ax.set_title(f"channel {f}")
        ax.axis("off")
    plt.show()
    """),
    md("""
    Their weights (green channel; blue negative, red positive) and the magnitude of their
    frequency response, drawn as a mesh like MATLAB's `mesh(abs(freqz2(...)))`. The middle of
    each mesh is zero frequency; the edges are the highest frequencies.
    """),
    code("""
    fig = plt.figure(figsize=(10, 7))
    for row, f in enumerate([lr_filter, tb_filter]):
        kernel = weights[f, GREEN]
        top = np.abs(kernel).max()
        ax = fig.add_subplot(2, 2, 2 * row + 1)
        ax.imshow(kernel, cmap="RdBu_r", vmin=-top, vmax=top)
        ax.set_title(f"filter {f}, green weights")
        ax.axis("off")
        H, fx, fy = freqz2(kernel)
        FX, FY = np.meshgrid(fx, fy)
        ax = fig.add_subplot(2, 2, 2 * row + 2, projection="3d")
        ax.plot_wireframe(FX, FY, H, rstride=2, cstride=2, linewidth=0.5, color="C0")
        ax.set_xlabel("fx")
        ax.set_ylabel("fy")
        ax.set_title(f"filter {f}: |H|")
    plt.tight_layout()
    plt.show()
    """),
    md("""
    With trained weights the blog sees, for one filter, a band-pass along one axis and a low-pass
    along the other, both cutting most of the upper half of the frequencies (sensible before
    keeping only every second pixel); for the other filter the two directions swap. With random
    weights the meshes have no such structure.

    The **filter explorer** shows every filter of a conv layer, one filter's weights per colour,
    and its frequency response. Pick other filters with the slider. (It shows the convolution's
    own weights, before the batch normalisation's factor: the same patterns, on another scale.)
    """),
    code("""
    aw.FilterExplorer(net, "conv1-7x7_s2", filter=lr_filter, input_channel=GREEN)
    """),
    md("""
    ## A filter that compares colours

    The blog finds a channel that responds to a green shirt and not to skin, and explains it
    from the filter's weights: roughly, the local average of green minus the local average of
    red. We pick the filter whose colour channels differ most from each other (its *colour
    contrast*: the part of the weights that is not shared by all three colours, relative to the
    whole) and draw each colour's 7×7 weights as a surface.
    """),
    code("""
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
    """),
    code("""
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
    """),
    md("""
    The blog then zooms into the centre of the filter (rows and columns 3 to 5, in MATLAB's
    1-based numbering), where the weights of each colour are nearly flat. The sign of each
    colour's average there tells which colour adds to the response and which subtracts:
    """),
    code("""
    centre = w[:, 2:5, 2:5]
    for colour, name in [(1, "green"), (0, "red"), (2, "blue")]:
        print(f"{name:>5}: centre mean {centre[colour].mean():+.3f}, "
              f"spread {centre[colour].std():.3f}")
    """),
    md("""
    ## After the ReLU: `conv1-relu_7x7`

    The ReLU sets every negative value to 0, so all the variation among negative values is gone.
    For the stretch we keep the lower limit at 0 (as the blog does), so that zero stays black.
    """),
    code("""
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
    """),
    md("""
    ## What this notebook checks

    Whatever the weights, these hold and are asserted above: the layer names and sizes (64
    channels of 112×112 after a stride-2 convolution of 7×7×3 filters), negative values before
    the ReLU, none after it, and the ReLU's output equal to `max(pre, 0)`.

    The interpretations (gradient detectors, a colour-comparing filter) need the trained
    weights. With them, the orientation scores above pick the gradient detectors; with random
    weights the printed verdicts say that none exist yet.
    """),
]


# ============================================================================ 03
NB03 = [
    md("""
    # What do VGG16's filters look for?

    A channel of a convolutional layer responds to some pattern in its input. To see which one,
    we can turn the question around: start from noise and change the **picture** step by step so
    that the channel responds more and more (*gradient ascent* on the input). The picture we end
    with shows what the channel looks for.

    This notebook retraces a Keras notebook on **VGG16** (itself based on François Chollet's
    blog post *How convolutional neural networks see the world*): the layers, a noise picture,
    one filter of `block4_conv1`, galleries of 20 filters from every block, a "little deep
    dream" on a cat, and finally a better recipe next to the simple one.

    > **Weights.** Online, `aw.load_model("vgg16")` downloads the trained ImageNet weights.
    > Where they cannot be had (offline, or in our test runs, which set
    > `ACTWIDGETS_RANDOM_WEIGHTS=1`), VGG16 gets **random weights** and the banner below says so:
    > the pictures then show what an *untrained* network responds to. The checks hold either way.
    """),
    md("""
    ### Settings

    VGG16 is heavy for a laptop CPU, so we work with small pictures and few steps: the whole
    notebook takes two or three minutes. Raise these for better pictures (the Keras notebook
    uses `SIZE = 128`, `STEPS = 20` and `DREAM_STEPS = 100`), and expect it to take longer.
    """),
    code("""
    SIZE = 64          # side of the pictures, in pixels
    STEPS = 8          # gradient-ascent steps for the galleries
    N_FILTERS = 20     # filters per layer in the galleries
    DREAM_STEPS = 8    # steps per scale of the little deep dream
    """),
    code("""
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
    """),
    md("""
    ## The layers

    Keras' names: five blocks of 3×3 convolutions, each block ended by a max-pooling that halves
    the size. Every conv layer is followed by a ReLU (Keras folds it into the layer). The sizes
    below are for our SIZE×SIZE pictures; the layers work on pictures of any size. Without the
    classifier, VGG16 has the same 14.7 million parameters as Keras' `VGG16(include_top=False)`.
    """),
    code("""
    print(net.summary())
    n_params = sum(p.numel() for p in net.model.parameters())
    print(f"{n_params:,} parameters")

    names = net.layers.names
    assert names[0] == "block1_conv1" and "block5_pool" in names
    assert net.layers["block5_conv1"].channels == 512
    assert n_params == 14_714_688       # the same count as Keras' VGG16 without its top
    """),
    md("""
    ## A noise picture

    The starting point: grey (127 out of 255) with a little noise (standard deviation 10).
    """),
    code("""
    noise = np.random.default_rng(0).normal(127, 10, size=(SIZE, SIZE, 3))
    noise = np.clip(noise, 0, 255).astype(np.uint8)
    plt.figure(figsize=(2.5, 2.5))
    plt.imshow(noise)
    plt.axis("off")
    plt.show()
    """),
    md("""
    ## Gradient ascent for one filter: `block4_conv1`, filter 0

    `aw.visualize_channels(..., method="basic")` follows the Keras notebook's recipe: the
    objective is the filter's mean activation; each step computes its gradient with respect to
    the picture, divides it by its root mean square (so the step size does not depend on how
    large the gradient happens to be) and adds it to the picture, 20 times. The result is shown
    the way the notebook shows it: centred on grey, with a fixed contrast.
    """),
    code("""
    picture = aw.visualize_channels(net, "block4_conv1", [0], method="basic", steps=20,
                                    start=noise, size=SIZE, progress=False)[0]
    plt.figure(figsize=(3, 3))
    plt.imshow(picture)
    plt.title("block4_conv1, filter 0")
    plt.axis("off")
    plt.show()
    """),
    md("""
    Did it work? The filter's mean activation on the result should be higher than on the noise
    we started from:
    """),
    code("""
    def mean_activations(pictures, layer):
        \"\"\"Mean activation of every channel of `layer`, per picture: (pictures, channels).\"\"\"
        return aw.activations(net, list(pictures), layer, stage="post").mean(axis=(2, 3))


    before = mean_activations([noise], "block4_conv1")[0, 0]
    after = mean_activations([picture], "block4_conv1")[0, 0]
    print(f"block4_conv1, filter 0: mean activation {before:.4f} on the noise, {after:.4f} after")
    assert after > before
    """),
    md("""
    ## 20 filters from every block

    One conv layer per block, the first 20 filters of each, all of a layer's pictures optimised
    together as one batch. The gallery is drawn with `ipyplot`: one tab per layer (we hand it
    uint8 pictures, which it shows faithfully).
    """),
    code("""
    import ipyplot

    GALLERY_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1",
                      "block5_conv1"]
    FILTERS = list(range(N_FILTERS))
    gallery = {}
    for layer in GALLERY_LAYERS:
        pictures = aw.visualize_channels(net, layer, FILTERS, method="basic", steps=STEPS,
                                         start=noise, size=SIZE, progress=False)
        gallery[layer] = (pictures * 255).round().astype(np.uint8)

    ipyplot.plot_class_tabs(
        images=[img for layer in GALLERY_LAYERS for img in gallery[layer]],
        labels=[layer for layer in GALLERY_LAYERS for _ in FILTERS],
        custom_texts=[f"filter {f}" for _ in GALLERY_LAYERS for f in FILTERS],
        max_imgs_per_tab=N_FILTERS, img_width=96, show_url=False,
    )
    """),
    md("""
    With trained weights, early layers respond to colours and fine textures all over the
    picture, deeper layers to larger and more complex patterns. The Keras notebook remarks that
    the deepest layers change the noise less: they need more concrete shapes than noise offers.

    Did the ascent help in every block? For each filter, its mean activation on its own picture
    against the noise we started from:
    """),
    code("""
    for layer in GALLERY_LAYERS:
        start = mean_activations([noise], layer)[0, FILTERS]
        result = mean_activations(gallery[layer], layer)[FILTERS, FILTERS]
        raised = np.mean(result > start)
        print(f"{layer}: raised for {raised:.0%} of the filters "
              f"(mean {start.mean():.4f} -> {result.mean():.4f})")
        assert result.mean() > start.mean()
        assert raised >= 0.5
    """),
    md("""
    (A filter that is never positive on noise, a *dead* filter, has no gradient to follow: plain
    gradient ascent leaves it where it is. Untrained networks have many.)

    ## A little deep dream

    The same idea, starting from a photo instead of noise: the cat is changed so that a deep
    layer responds more. `aw.deep_dream` works over several scales (octaves) and amplifies
    whatever the layer already sees in the picture.
    """),
    code("""
    cat = aw.sample_image("cat")[::2, ::2]      # half size: quicker on a CPU
    dream = aw.deep_dream(net, cat, "block5_conv3", octaves=2, steps=DREAM_STEPS, progress=False)

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    axes[0].imshow(cat)
    axes[1].imshow(dream)
    axes[1].set_title("deep dream, block5_conv3")
    for ax in axes:
        ax.axis("off")
    plt.show()
    """),
    md("""
    Check: the dream changed the picture, and `block5_conv3` responds more strongly to it
    (measured as the mean squared activation, the quantity the dream increases):
    """),
    code("""
    def energy(picture, layer):
        return float(np.mean(aw.activations(net, picture, layer, stage="post") ** 2))


    change = np.abs(dream - cat / 255).mean()
    print(f"mean pixel change {change:.3f}")
    print(f"block5_conv3 energy: cat {energy(cat, 'block5_conv3'):.4g}, "
          f"dream {energy(dream, 'block5_conv3'):.4g}")
    assert change > 0.005
    assert energy(dream, "block5_conv3") > energy(cat, "block5_conv3")
    """),
    md("""
    ## A better recipe: `method="regularized"`

    Plain gradient ascent tends to produce high-frequency noise: tiny patterns the filter
    responds to, but which look like nothing. The *regularised* method (from the lucid library)
    changes the picture through its Fourier spectrum, scaled so that coarse patterns are as easy
    to change as fine ones, and jitters, scales and rotates it a little at every step, so only
    patterns that survive these changes grow. Below: four filters of `block4_conv1` with both
    methods.
    """),
    code("""
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
    """),
    md("""
    With trained weights and more steps, the regularised pictures show recognisable textures
    and object parts, where the basic ones stay noisy. The **feature visualizer** does the same
    interactively: pick a layer, channels, a method, and press *Run*.
    """),
    code("""
    aw.FeatureVisualizer(net, "block4_conv1")
    """),
]


# ============================================================================ 04
NB04 = [
    md("""
    # Train your own CNN, then look inside it

    The other notebooks look inside networks that someone else trained. Here we train a small
    one ourselves, in about a minute on a laptop CPU, and look at it with the same tools. The
    data is generated right here, so nothing needs to be downloaded.

    At the end we test a claim from a Keras blog post on visualising activations: *the deeper
    the layer, the sparser its activations* (the more zeros after the ReLU).
    """),
    code("""
    import copy
    import time
    from collections import OrderedDict

    import numpy as np
    import matplotlib.pyplot as plt
    import torch
    from torch import nn
    from PIL import Image, ImageDraw

    import actwidgets as aw
    """),
    md("""
    ## A dataset of shapes

    64×64 pictures of four kinds: a **circle**, a **square**, a **triangle**, or **stripes**,
    in random colours, positions, sizes and (for stripes) directions. The shape's brightness
    always differs clearly from the background's, so the task is fair. The generator is seeded:
    the same data every run.
    """),
    code("""
    CLASSES = ["circle", "square", "triangle", "stripes"]
    SIZE = 64
    N_TRAIN, N_TEST = 3000, 600
    EPOCHS = 3


    def luminance(colour):
        r, g, b = colour
        return 0.299 * r + 0.587 * g + 0.114 * b


    def two_colours(rng):
        \"\"\"A background and a foreground colour whose brightness differs clearly.\"\"\"
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
    """),
    code("""
    fig, axes = plt.subplots(2, 8, figsize=(12, 3.4))
    for ax, img, label in zip(axes.ravel(), train_images, train_labels):
        ax.imshow(img)
        ax.set_title(CLASSES[label], fontsize=9)
        ax.axis("off")
    plt.show()
    """),
    md("""
    ## The network

    Four 3×3 convolutions, each followed by a ReLU; max-pooling halves the size after the first
    three. A global max-pool keeps each of the last 64 channels' strongest response, and a
    linear layer turns those 64 numbers into four class scores. Naming the layers
    (`conv1`, `relu1`, ...) makes them easy to find later.
    """),
    code("""
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
    """),
    md("""
    ## Training

    Pixels become numbers in [0, 1]. We train with Adam on mini-batches of 32 pictures for a few
    passes over the data (*epochs*) and measure the accuracy on the test pictures, which the
    network never trains on.
    """),
    code("""
    def to_tensor(images):
        \"\"\"uint8 pictures (N, H, W, 3) -> float tensor (N, 3, H, W) in [0, 1].\"\"\"
        return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


    def predict(images, batch=100):
        \"\"\"The predicted class of each picture (a few at a time, to save memory).\"\"\"
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
    """),
    md("""
    ## Wrap it for actwidgets

    `aw.Network.wrap` turns any PyTorch model into a network the tools understand. With
    `preprocess=None` the pictures are resized to `input_size` and scaled to [0, 1], exactly as
    we trained. The layer catalogue finds each conv and its ReLU.
    """),
    code("""
    net = aw.Network.wrap(model, preprocess=None, categories=CLASSES, input_size=SIZE,
                          name="shapes-cnn")
    print(net.summary())

    example = test_images[0]
    print("true class:", CLASSES[test_labels[0]], "| the network says:", aw.classify(net, example, top=2))
    assert aw.classify(net, example, top=1)[0][0] == CLASSES[predict(test_images[:1])[0]]
    """),
    md("""
    ## Every layer, before and after its ReLU

    For one test picture, every channel of each conv layer: on the left before the ReLU (black is
    negative), on the right after it (black is zero). Each side is scaled on its own.
    """),
    code("""
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
    """),
    md("""
    The first layer's channels still look like the picture: each reacts to some colour or edge.
    Deeper layers are smaller and harder to read. `aw.overlay` puts the strongest channel of
    `conv4` over the picture, to show *where* it fires:
    """),
    code("""
    acts4 = aw.activations(net, picture, "relu4")
    c = aw.strongest_channel(acts4)
    plt.figure(figsize=(3, 3))
    plt.imshow(aw.overlay(picture, acts4[c]))
    plt.title(f"relu4, channel {c}")
    plt.axis("off")
    plt.show()
    """),
    md("""
    ## Does sparsity grow with depth?

    The Keras blog says that activations get *sparser* deeper in the network. After a ReLU,
    sparsity is the fraction of exact zeros. `aw.channel_stats(acts)["frac_zero"]` gives it per
    channel; we average over all channels and over 300 test pictures, for the trained network and,
    for comparison, for the same network before training.
    """),
    code("""
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
    """),
    md("""
    **Verdict: partly.** In our trained network the second ReLU is the *least* sparse; from
    there on, sparsity grows with depth, and the last ReLU is clearly the sparsest (about two
    thirds zeros). So the blog's rule holds from layer 2 on, and for the deepest layer against the
    first, but not from layer 1 to layer 2.

    The untrained network does not show the trend at all: its last ReLU is *less* sparse than
    its first. The sparsity of the deep layers is something the network learned: each deep
    channel fires only where its pattern is, and stays silent elsewhere. (One small network on
    toy data: other networks may differ.)
    """),
    code("""
    s = [trained[l] for l in RELUS]
    assert s[1] < s[2] < s[3]                      # from relu2 on, sparsity grows with depth
    assert s[3] > s[0] + 0.1                       # the deepest ReLU is clearly the sparsest
    assert trained["relu4"] > untrained["relu4"]   # and training made it so
    """),
    md("""
    ## Explore it

    The activation explorer works on our network like on any other. Our test pictures are in
    the image list (with the sample photos after them); try every layer, both stages, and the
    *strongest channel* button.
    """),
    code("""
    examples = {f"{CLASSES[test_labels[i]]} {i}": test_images[i] for i in range(8)}
    aw.ActivationExplorer(net, images=examples, layer="relu2")
    """),
]


NOTEBOOKS = {
    "00_explorer": NB00,
    "01_squeezenet_activations": NB01,
    "02_googlenet_activations": NB02,
    "03_vgg16_feature_visualization": NB03,
    "04_your_own_cnn": NB04,
}


def build(name: str) -> nbformat.NotebookNode:
    cells = []
    for i, (kind, source) in enumerate(NOTEBOOKS[name]):
        make = new_markdown_cell if kind == "markdown" else new_code_cell
        cell = make(source)
        cell.id = f"{name[:2]}-{i:02d}"
        cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    if name == "00_explorer":
        nb.metadata["voila"] = {"template": "lab"}
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 900) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=False,
        resources={"metadata": {"path": str(HERE)}}, store_widget_state=True,
    )
    client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument("--execute", action="store_true",
                        help=f"run {', '.join(STORE_OUTPUTS)} and store their outputs")
    args = parser.parse_args(argv)
    chosen = [n for n in NOTEBOOKS if not args.names or any(n.startswith(p) for p in args.names)]
    if not chosen:
        parser.error(f"no notebook matches {args.names}; names: {', '.join(NOTEBOOKS)}")
    for name in chosen:
        nb = build(name)
        if args.execute and name in STORE_OUTPUTS:
            if os.environ.get("ACTWIDGETS_RANDOM_WEIGHTS") == "1" and name != "04_your_own_cnn":
                print(f"note: ACTWIDGETS_RANDOM_WEIGHTS=1 is set; {name} asserts real weights")
            t = time.time()
            nb = execute(nb)
            print(f"{name}: executed in {time.time() - t:.0f} s")
        path = HERE / f"{name}.ipynb"
        nbformat.validate(nb)
        nbformat.write(nb, path)
        print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
