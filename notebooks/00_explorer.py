# %% [markdown]
# # actwidgets explorer: what does a CNN see?
#
# Pick an image (or upload your own photo), then a layer and a channel of **SqueezeNet**.
# Switch the stage between *pre* and *post* to see a channel before and after its ReLU.

# %%
import actwidgets as aw

net = aw.load_model("squeezenet")
aw.ActivationExplorer(net)
