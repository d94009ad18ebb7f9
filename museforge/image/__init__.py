"""Image models (GAN, VAE), their verbs, data loading and metrics."""
