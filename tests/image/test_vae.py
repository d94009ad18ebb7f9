import torch

from museforge.core.seeding import stream
from museforge.image.vae import VAE, VAEConfig, elbo_terms


def test_encode_decode_shapes():
    vae = VAE(VAEConfig(image_size=32, channels=3, z_dim=6, width=8, num_classes=2))
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    labels = torch.tensor([0, 1, 0, 1, 0])
    mu, logvar = vae.encode(x, labels)
    assert mu.shape == logvar.shape == (5, 6)
    images = vae.generate(mu, labels)
    assert images.shape == x.shape and images.min() >= -1 and images.max() <= 1


def test_elbo_terms_are_positive_and_kl_vanishes_at_the_prior():
    vae = VAE(VAEConfig(image_size=16, z_dim=4, width=8))
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    recon, kl = elbo_terms(vae, x, None, stream(0, "e"))
    assert recon.item() > 0 and kl.item() >= 0
    with torch.no_grad():
        vae.to_stats.weight.zero_()
        vae.to_stats.bias.zero_()
    _, kl = elbo_terms(vae, x, None, stream(0, "e"))
    assert abs(kl.item()) < 1e-5
