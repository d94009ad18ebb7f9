"""Training the text-to-image GAN on captioned pictures, for the shared Trainer.

The critic learns three things at once (DF-GAN's matching-aware hinge loss): a real
picture with its own caption is good; a generated picture is bad; a real picture with
somebody else's caption is bad too — so the generator is pushed towards pictures that fit
their words, not just pictures. Sentence vectors come from the frozen text tower and are
computed once for every caption of the set.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image

from museforge.core.grid import make_grid
from museforge.core.latent import draw_latents
from museforge.core.train import optimizer_step
from museforge.crossmodal.captioned import CaptionedImages
from museforge.crossmodal.encoder import TextImageEncoder
from museforge.crossmodal.imagine import ImagineConfig, TextToImage
from museforge.nn.augment import diff_augment, parse_policy
from museforge.nn.gan import EMAGenerator

AUTO_AUGMENT_BELOW = 2000  # DiffAugment pays off where the critic could memorise the set
PREVIEW_PROMPTS = 8


@dataclass(frozen=True)
class ImagineTraining:
    """How the text-to-image GAN is trained (stored in the artifact's recipe)."""

    lr_g: float = 2e-4
    lr_d: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.99
    ema_decay: float = 0.999
    mismatch_weight: float = 0.5  # real picture, wrong caption: as bad as a fake, half weight
    # Optionally the encoder's picture tower must pick each drawn picture's own caption
    # among the batch's (a contrastive loss on the generator, as LAFITE and GALIP use CLIP).
    # Off by default: on captioned-shapes it raised the encoder's R-precision (0.918 ->
    # 0.940) but the judge trained apart saw colour and size follow the words less often
    # (0.86 -> 0.82, 0.91 -> 0.82) and shape no better — it partly learns to please the
    # encoder (docs/crossmodal.md).
    align_weight: float = 0.0
    # Translation only: colour jitter would teach the critic that "red" may look blue.
    augment: str = "auto"

    def __post_init__(self) -> None:
        if self.augment != "auto":
            parse_policy(self.augment)
        if not 0 <= self.mismatch_weight <= 1:
            raise ValueError(f"mismatch_weight must be 0..1 (got {self.mismatch_weight})")
        if self.align_weight < 0:
            raise ValueError(f"align_weight must not be negative (got {self.align_weight})")


def sentence_table(model: TextToImage, data: CaptionedImages) -> dict[str, torch.Tensor]:
    """Language -> N×D sentence vectors of every caption of ``data`` in it (zeros where a
    picture has no caption in that language)."""
    table = {}
    for lang in sorted({lang for c in data.captions for lang in c}):
        texts = [c.get(lang, "") for c in data.captions]
        vecs = [model.sentences(texts[i : i + 512]) for i in range(0, len(texts), 512)]
        table[lang] = torch.cat(vecs)
    return table


def pick_sentences(task, indices: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
    """Each picture's sentence in one of its caption languages, drawn at random, from the
    task's table (so "grinning face" and its Chinese name both steer the picture)."""
    rows = []
    for i in indices.tolist():
        langs = task.languages[i]
        lang = langs[int(torch.randint(len(langs), (1,), generator=noise))]
        rows.append(task.sentences[lang][i])
    return torch.stack(rows)


def preview_inputs(task) -> tuple[torch.Tensor, torch.Tensor]:
    """Eight distinct captions of ``task.data``, each with the same eight latents: a preview
    grid's rows are prompts."""
    seen: dict[str, int] = {}
    for i, caption in enumerate(task.data.captions):
        text = caption.get("en") or next(iter(caption.values()))
        seen.setdefault(text, i)
        if len(seen) == PREVIEW_PROMPTS:
            break
    rows = list(seen.values())
    lang = [next(iter(sorted(task.data.captions[i]))) for i in rows]
    words = torch.stack([task.sentences[lg][i] for lg, i in zip(lang, rows, strict=True)])
    z = draw_latents(task.model.z_dim, task.seed, PREVIEW_PROMPTS)
    return z.repeat(len(rows), 1), words.repeat_interleave(PREVIEW_PROMPTS, dim=0)


class ImagineTask:
    """Trains a :class:`TextToImage` model; its text tower stays as the encoder made it."""

    kind = "text-to-image"

    def __init__(
        self,
        cfg: ImagineConfig,
        training: ImagineTraining,
        data: CaptionedImages,
        encoder: TextImageEncoder,
        seed: int,
    ):
        policy = "translation" if len(data) < AUTO_AUGMENT_BELOW else ""
        self.augment = policy if training.augment == "auto" else training.augment
        self.cfg, self.training, self.data, self.seed = cfg, training, data, seed
        torch.manual_seed(seed)
        self.model = TextToImage(cfg)
        self.model.text.load_state_dict(encoder.text.state_dict())
        # The encoder's picture side (frozen, batch statistics fixed) judges alignment.
        self.encoder = encoder.eval().requires_grad_(False)
        self.sentences = sentence_table(self.model, data)
        self.languages = [tuple(sorted(c)) for c in data.captions]
        self.ema = EMAGenerator(self.model.generator, training.ema_decay)
        betas = (training.beta1, training.beta2)
        gen, critic = self.model.generator, self.model.critic
        self.opt_g = torch.optim.Adam(gen.parameters(), training.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(critic.parameters(), training.lr_d, betas=betas)
        self.num_examples = len(data)
        self._preview = preview_inputs(self)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "ema": self.ema}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"g": self.opt_g, "d": self.opt_d}

    def _sentences(self, indices: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        return pick_sentences(self, indices, noise)

    def _augment(self, x: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        return diff_augment(x, self.augment, noise) if self.augment else x

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        G, D, t = self.model.generator, self.model.critic, self.training
        G.train()
        D.train()
        real = self.data.images[indices]
        words = self._sentences(indices, noise)
        others = words.roll(1, dims=0)  # each picture with its neighbour's caption
        z = torch.randn(len(indices), self.cfg.z_dim, generator=noise)
        fake = G(z, words)

        d_real = D(self._augment(real, noise), words)
        d_fake = D(self._augment(fake.detach(), noise), words)
        d_wrong = D(self._augment(real, noise), others)
        d_loss = F.relu(1 - d_real).mean() + (1 - t.mismatch_weight) * F.relu(1 + d_fake).mean()
        d_loss = d_loss + t.mismatch_weight * F.relu(1 + d_wrong).mean()
        optimizer_step(d_loss, D, self.opt_d)

        D.requires_grad_(False)
        g_loss = -D(self._augment(fake, noise), words).mean()
        align = self._alignment(fake, words) if t.align_weight else torch.zeros(())
        optimizer_step(g_loss + t.align_weight * align, G, self.opt_g)
        D.requires_grad_(True)
        self.ema.update(G)
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item(), "align": align.item()}

    def _alignment(self, fake: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of each drawn picture choosing its own caption among the batch's,
        scored by the encoder (captions repeated in the batch count as right)."""
        size = self.encoder.cfg.image_size
        if fake.shape[-1] != size:
            fake = F.interpolate(fake, size=(size, size), mode="bilinear", antialias=True)
        text = F.normalize(words, dim=1)
        logits = self.encoder.logits(self.encoder.encode_images(fake), text)
        same = (text @ text.T) > 0.9999
        return -(logits.log_softmax(1).masked_fill(~same, -torch.inf).logsumexp(1)).mean()

    @torch.no_grad()
    def preview(self) -> Image.Image:
        self.ema.model.eval()
        z, words = self._preview
        return make_grid(self.ema.model(z, words), nrow=PREVIEW_PROMPTS)

    def export(self) -> tuple[ImagineConfig, dict[str, torch.Tensor]]:
        model = copy.deepcopy(self.model)
        model.generator.load_state_dict(self.ema.model.state_dict())
        return self.cfg, model.state_dict()
