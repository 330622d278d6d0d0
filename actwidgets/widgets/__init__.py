"""The widgets: the only package of actwidgets that imports ipywidgets.

Each widget is an anywidget (:class:`._page.PageWidget`) whose page is an ES module of
:mod:`actwidgets.frontend` (plain JavaScript, no build step), so it runs in JupyterLab,
Notebook 7, Voilà, marimo (``mo.ui.anywidget(widget)``), VS Code and Colab: ``display(widget)``
(or leaving it last in a cell) shows it. Its state lives in traitlets synced with the page,
settable from code; the kernel sends data (8-bit or 16-bit levels, raw RGB) once per change
that needs the network, and the page draws every flip. All of them run on one state machine
(:mod:`._state`: one render per batch of changes, the newest request wins, errors shown in the
widget, which goes back to the state on screen).

- :class:`ActivationExplorer`: every layer and channel, before and after its ReLU.
- :class:`CompareExplorer`: one layer and channel for two images side by side, with their
  difference.
- :class:`FilterExplorer`: a conv layer's learned filters and their frequency response.
- :class:`FeatureVisualizer`: what a channel looks for (activation maximisation).
- :class:`ChannelView`: one channel three ways: the top patches of an image collection (a
  channel atlas), its feature visualisation and its activation on a picture; it can follow an
  explorer (a click on a grid tile shows that channel).
- :class:`ConceptView`: a layer's concepts (:func:`actwidgets.layer_concepts`) as colours over
  an image, each with its top channels, top patches and feature visualisation.
"""

from __future__ import annotations

from .channel import ChannelView
from .compare import CompareExplorer
from .concepts import ConceptView
from .explorer import ActivationExplorer
from .featurevis import FeatureVisualizer
from .filters import FilterExplorer

__all__ = ["ActivationExplorer", "ChannelView", "ConceptView", "CompareExplorer", "FilterExplorer",
           "FeatureVisualizer"]
