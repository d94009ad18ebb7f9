import pytest
import torch

from museforge.core.train import Trainer, TrainSettings
from museforge.image.data import ImageDataset
from museforge.image.gan import (
    CLASSIC_DCGAN,
    GAN,
    GANConfig,
    GANTask,
    GANTraining,
)
from museforge.nn.blocks import plan_resolutions
from museforge.nn.gan import discriminator_loss, update_ema


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (48, 1), (64, 3)])
def test_shapes_for_each_size(size, channels):
    gan = GAN(GANConfig(image_size=size, channels=channels, g_width=8, d_width=8))
    images = gan.generate(torch.randn(2, 64))
    assert images.shape == (2, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1
    assert gan.discriminator(images).shape == (2,)


def test_conditional_generator_uses_the_label():
    gan = GAN(GANConfig(image_size=16, num_classes=3, g_width=8, d_width=8)).eval()
    z = torch.randn(1, 64).expand(3, 64)
    images = gan.generate(z, torch.tensor([0, 1, 2]))
    assert not torch.allclose(images[0], images[1])
    assert gan.discriminator(images, torch.tensor([0, 1, 2])).shape == (3,)


def test_resolution_plan():
    assert plan_resolutions(28) == (7, 2)
    assert plan_resolutions(32) == (4, 3)
    assert plan_resolutions(64) == (4, 4)
    with pytest.raises(ValueError, match="cannot be halved"):
        plan_resolutions(25)


def test_classic_recipe_uses_batchnorm_critic_and_no_stabilisers():
    assert (
        CLASSIC_DCGAN.loss == "bce" and CLASSIC_DCGAN.ema_decay == 0 and not CLASSIC_DCGAN.augment
    )
    critic = GAN(GANConfig(image_size=16, d_norm="batch")).discriminator
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in critic.modules())
    ours = GAN(GANConfig(image_size=16)).discriminator
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in ours.modules())
    assert any("parametrizations" in name for name, _ in ours.named_parameters())


def test_hinge_loss_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert discriminator_loss("hinge", real, fake).item() == pytest.approx(0.25 + 0.5)


def test_ema_moves_towards_the_model():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = a.weight.detach().clone()
    update_ema(a, b, decay=0.9)
    assert torch.allclose(a.weight, 0.9 * before + 0.1 * b.weight)


@pytest.mark.parametrize("augment", ["", "translation,cutout"])
def test_generator_learns_a_single_pattern(augment, tmp_path):
    target = -torch.ones(64, 1, 16, 16)
    target[:, :, 4:12, 4:12] = 1
    data = ImageDataset(target, None, (), "square", "fp")
    training = GANTraining(augment=augment, lr_g=1e-3, lr_d=1e-3, ema_decay=0.9)
    task = GANTask(GANConfig(image_size=16, z_dim=8, g_width=8, d_width=8), training, data, 0)

    def error() -> float:
        with torch.no_grad():
            samples = task.sampling_generator()(torch.randn(64, 8))
        return ((samples - target[:1]) ** 2).mean().item()

    before = error()
    settings = TrainSettings(steps=150, batch_size=32, preview_every=0, checkpoint_every=1e9)
    Trainer(task, settings, tmp_path, progress=False).fit()
    assert error() < 0.3 * before


def test_auto_augment_depends_on_data_size():
    from museforge.image.gan import AUTO_AUGMENT_BELOW, resolve_augment

    auto = GANTraining()
    assert resolve_augment(auto, 100).augment == "translation,cutout"
    assert resolve_augment(auto, AUTO_AUGMENT_BELOW).augment == ""
    assert resolve_augment(GANTraining(augment="color"), 10_000).augment == "color"
    with pytest.raises(ValueError, match="unknown DiffAugment"):
        GANTraining(augment="flip")


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_the_critic_learns_to_name_classes_only_when_asked_to(bars, weight):
    cfg = GANConfig(image_size=16, num_classes=2, g_width=8, d_width=8)
    task = GANTask(cfg, GANTraining(class_weight=weight, augment=""), bars, seed=0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(40):
        task.train_step(torch.randint(len(bars), (16,), generator=gen), gen)
    critic = task.gan.discriminator.eval()
    with torch.no_grad():
        named = critic.classify(bars.images).argmax(1)
    accuracy = (named == bars.labels).float().mean().item()
    assert accuracy > 0.9 if weight else accuracy < 0.9


def test_a_conditional_gan_saved_before_the_class_head_loads():
    cfg = GANConfig(image_size=16, num_classes=2, g_width=8, d_width=8)
    old = {k: v for k, v in GAN(cfg).state_dict().items() if "class_head" not in k}
    GAN(cfg).load_state_dict(old)  # strict, as artifacts are loaded
