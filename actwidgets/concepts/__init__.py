"""A layer's concepts: groups of channels that fire together, by non-negative matrix factorisation.

One channel is often not the unit that means something (tutorial 06: MATLAB's eye channels
also fire on coins); a direction in channel space can be. :func:`layer_concepts` factorises
a layer's activations over one image or a collection into ``n`` concepts, as Olah et al.'s
*Building Blocks of Interpretability* (2018) and CRAFT (Fel et al., 2023) do: each concept is
a non-negative mix of channels (its *loadings*) with a non-negative map per image.

====================  =====================================================================
module                role
====================  =====================================================================
``factor``            the factorisation and the projection onto fixed loadings (scikit-learn)
``collect``           :func:`layer_concepts`: the passes over the images, sample and project
``work``              one batch's part (sampled cells, projected maps), where the network is
``ray_pass``          the passes on Ray Data (imported only for ``engine="ray"``)
``record``            :class:`Concepts`: loadings, maps, top channels, directions, top cells
``pictures``          concepts as colours over the image
``store``             :meth:`Concepts.save` / :meth:`Concepts.load`: one ``.npz``, checked
``payload``           what the concept view's page module reads (:class:`~actwidgets.ConceptView`)
====================  =====================================================================

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> c = aw.layer_concepts(net, "face", "fire6-relu_squeeze1x1", n=3, progress=False)
>>> c.n, len(c.top_channels(0, k=4)), c.picture(0).shape
(3, 4, (227, 227, 3))
"""

from __future__ import annotations

from .collect import layer_concepts
from .factor import NegativeValuesError
from .record import Concepts, Sample

__all__ = ["layer_concepts", "Concepts", "Sample", "NegativeValuesError"]
