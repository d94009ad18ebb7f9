"""Registers the design data sets (game art) and the design verbs of image models."""

from __future__ import annotations

import museforge.image.kinds  # noqa: F401  (the kinds these verbs belong to, first)
from museforge.core.registry import verb
from museforge.design import glyphs, sprites  # noqa: F401  (register their data sets)
from museforge.design.verbs import scene, sheet, typeset
from museforge.image.verbs import PICTURE_KINDS

for _kind in PICTURE_KINDS:
    verb(_kind)(sheet)
    verb(_kind)(typeset)
    verb(_kind)(scene)
