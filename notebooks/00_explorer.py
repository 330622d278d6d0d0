# %% [markdown]
# # actwidgets explorer: what does a CNN see?
#
# Pick an image (or upload your own photo), then a layer and a channel of **SqueezeNet**.
# Switch the stage between *pre* and *post* to see a channel before and after its ReLU.
# *weights* picks the network: MATLAB's SqueezeNet (DeepScale's Caffe weights, the channel
# numbers of MathWorks' examples) or torchvision's (another training of the same design).

# %%
import ipywidgets as widgets

import actwidgets as aw

WEIGHTS = {"MATLAB's (Caffe)": "caffe", "torchvision's": "DEFAULT"}
explorers = {}


def explorer(weights):
    if weights not in explorers:
        explorers[weights] = aw.ActivationExplorer(aw.load_model("squeezenet", weights=weights))
    return explorers[weights]


choice = widgets.ToggleButtons(options=list(WEIGHTS.items()), value="caffe", description="weights",
                               style={"button_width": "140px"})
app = widgets.VBox([choice, explorer("caffe")])
choice.observe(lambda change: setattr(app, "children", [choice, explorer(change.new)]), "value")
app
