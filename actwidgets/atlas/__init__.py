"""What makes a channel fire: the channel atlas over a whole image collection.

:func:`channel_atlas` scans a folder, a list of images or a torch ``Dataset`` and keeps, for
every channel of the chosen layers (both stages, one forward pass), the top-k images by the
channel's maximum (or mean) activation, where the maximum is, and its receptive-field box in
the original image. :class:`ChannelAtlas` answers queries (:meth:`~ChannelAtlas.top`,
:meth:`~ChannelAtlas.patch`), saves to one file and loads back, and resumes a scan stopped
by Ctrl-C. ``engine="ray"`` runs the same scan on a Ray cluster.

====================  =====================================================================
module                role
====================  =====================================================================
``sources``           the collection: folder, list, Dataset; fingerprint; decoding workers
``receptive``         receptive fields (read from the graph, else measured); boxes in the original
``_analytic``         receptive fields read from the fx graph: conv, pool and point-wise ops
``topk``              the running per-channel top-k and its merge
``meta``              typed header records: :class:`~.meta.AtlasMeta`, its layers and images
``engine``            what the scans share: scan state, one batch's merge, progress, fields
``run``               one scan from its arguments to an atlas' parts; the local pass
``scan``              :func:`channel_atlas`, the entry point
``store``             :class:`ChannelAtlas`, :class:`AtlasEntry`, the ``.npz`` file
``ray_engine``        the same scan on Ray Data (Ray imported only when it runs)
====================  =====================================================================

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> photos = [aw.sample_image(name) for name in ("face", "cat", "coffee")]
>>> atlas = aw.channel_atlas(net, photos, ["conv1", "fire9-expand3x3"], top=2, progress=False)
>>> best = atlas.top("conv1", 5)[0]          # conv1 is MATLAB's name: before the ReLU
>>> best.stage, best.index in (0, 1, 2), len(best.box)
('pre', True, 4)
>>> atlas.field("conv1").extent, atlas.field("fire9-expand3x3").extent
((3, 3), (207, 207))
"""

from __future__ import annotations

from .receptive import Field, Geometry, receptive_field
from .scan import channel_atlas
from .store import AtlasEntry, AtlasFileError, ChannelAtlas, Skipped

__all__ = ["channel_atlas", "ChannelAtlas", "AtlasEntry", "AtlasFileError", "Skipped", "Field", "Geometry",
           "receptive_field"]
