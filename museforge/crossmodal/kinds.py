"""Registers the text–image modality's data sets (its model kinds follow)."""

from museforge.crossmodal import data

data.register()
