"""Scores for generated pictures shared by every image-making kind: FID, KID,
precision/recall in any feature space, and the pixel-space copy check."""
