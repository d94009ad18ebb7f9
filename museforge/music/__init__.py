"""Music: scores, corpora, token encodings, models (LM, melody VAE, Coconet), rendering."""
