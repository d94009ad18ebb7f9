import numpy as np
import torch

from museforge.sculpture.shape_vae import (
    FormVAE,
    FormVAEConfig,
    ShapeVAETask,
    ShapeVAETraining,
    VesselVAE,
    VesselVAEConfig,
)
from museforge.sculpture.vessels import FAMILIES, measure, profiles


def _vessel_task(n=192, seed=0):
    x, families = profiles(n, seed=seed)
    x = torch.from_numpy(x)
    labels = torch.tensor([FAMILIES.index(f) for f in families])
    torch.manual_seed(seed)
    vae = VesselVAE(VesselVAEConfig(z_dim=4, hidden=64))
    vae.mean.copy_(x.mean(0))
    vae.scale.copy_(x.std(0))

    def measure_t(v):
        return torch.from_numpy(measure(v.numpy())).float()

    training = ShapeVAETraining(lr=3e-3, kl_warmup=50)
    return ShapeVAETask(
        "vessel-vae", vae, training, (x, labels), (x[:32], labels[:32]), measure_t, seed
    )


def test_a_vessel_vae_learns_to_reconstruct_profiles():
    task = _vessel_task()
    before = task.validate()["val_error"]
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        task.train_step(torch.randint(0, task.num_examples, (32,), generator=gen), gen)
    after = task.validate()["val_error"]
    assert after < 0.5 * before  # mm of radius, mean absolute
    _, state = task.export()
    vectors = state["attribute_vectors"]
    assert vectors.shape == (len(task.vae.attributes), 4) and float(vectors.norm()) > 0
    # pushing a latent along "taller" makes taller vessels (height: the profile's first
    # number), on average over the families after this short training
    taller = task.vae.attributes.index("taller")
    z = torch.zeros(len(FAMILIES), 4)
    labels = torch.arange(len(FAMILIES))
    with torch.no_grad():
        low = task.vae.decode(z - vectors[taller], labels)[:, 0]
        high = task.vae.decode(z + vectors[taller], labels)[:, 0]
    assert float(high.mean()) > float(low.mean())


def test_a_form_vae_decodes_grids_of_its_resolution_and_its_loss_falls():
    from museforge.sculpture.solids import FAMILIES as FORMS
    from museforge.sculpture.solids import solid_grids

    grids, names = solid_grids(24, resolution=16, seed=0)
    x = torch.from_numpy(grids)
    labels = torch.tensor([FORMS.index(n) for n in names])
    vae = FormVAE(FormVAEConfig(resolution=16, z_dim=8, width=4))
    task = ShapeVAETask(
        "form-vae",
        vae,
        ShapeVAETraining(lr=3e-3, noise=0.2, kl_warmup=20),
        (x, labels),
        (x[:4], labels[:4]),
        lambda g: torch.stack([(g < 0).float().flatten(1).mean(1)] * 3, dim=1),
        0,
    )
    gen = torch.Generator().manual_seed(0)
    losses = [task.train_step(torch.arange(24), gen)["recon"] for _ in range(30)]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    with torch.no_grad():
        out = vae.decode(torch.zeros(2, 8), torch.tensor([0, 1]))
    assert out.shape == (2, 16, 16, 16) and float(out.abs().max()) <= 1.0
