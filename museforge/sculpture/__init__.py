"""Sculpture: reliefs, vessels and forms you can print, with checks and turntables."""
