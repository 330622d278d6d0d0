# %% [markdown]
# # actwidgets explorer: what does a CNN see?
#
# Pick an image (or upload your own photo), then a layer and a channel of **SqueezeNet**.
# Switch the stage between *pre* and *post* to see a channel before and after its ReLU.
# *weights* picks the network: MATLAB's SqueezeNet (DeepScale's Caffe weights, the channel
# numbers of MathWorks' examples) or torchvision's (another training of the same design).
#
# **What you will learn**: to move through a network's layers and channels and see what each
# one responds to, with no code. **What you need**: nothing but the app (tutorial 01 explains
# what you see). **How long**: 10 to 15 minutes; the app opens in a few seconds.

# %%
import ipywidgets as widgets

import actwidgets as aw

NETWORKS = {  # the weights button's labels, and how each network is loaded (on first use)
    "MATLAB's (Caffe)": lambda: aw.load_model("squeezenet", weights="caffe"),
    "torchvision's": lambda: aw.load_model("squeezenet", weights="DEFAULT"),
}
explorers = {}


def explorer(label):
    if label not in explorers:
        explorers[label] = aw.ActivationExplorer(NETWORKS[label]())
    return explorers[label]


choice = widgets.ToggleButtons(options=list(NETWORKS), value="MATLAB's (Caffe)", description="weights",
                               style={"button_width": "140px"})
app = widgets.VBox([choice, explorer(choice.value)])
choice.observe(lambda change: setattr(app, "children", [choice, explorer(change.new)]), "value")
app

# %% [markdown]
# ## Things to try
#
# **1.** With MATLAB's weights, find the channel of `fire6-squeeze1x1` that is brightest on
# the eyes (tip: *grid* view, then click a tile). Does the same channel number do the same
# with torchvision's weights?
#
# <details><summary>Answer</summary>
#
# With MATLAB's weights it is channel 14 in MATLAB's numbering (13 on the slider, which
# counts from 0), or 47 (46 on the slider). torchvision's SqueezeNet is another training: its
# channel 13 does something else; tutorial 01 finds its eye channels by measuring.
# </details>
#
# **2.** Pick `conv1`, then switch between *pre* and *post*. Which channels go almost
# entirely black after the ReLU, and why?
#
# <details><summary>Answer</summary>
#
# Those that are negative nearly everywhere on this picture: the ReLU sets negative values
# to 0. Channel 22 (21 on the slider) keeps only the red and violet parts, where it is
# positive.
# </details>
