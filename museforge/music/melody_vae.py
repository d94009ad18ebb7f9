"""A MusicVAE-style melody VAE over 2-bar phrases, and its phrase encoding and training task.

A phrase is 32 sixteenth steps (two bars of 4/4; pieces in other meters are cut into
32-step windows that start on their bar lines too). Each step is one token: ``HOLD`` (the
sounding note goes on), ``REST``, or a note-on for one pitch of the melody range (MIDI
48–84 by default). A bidirectional LSTM encodes a phrase to a diagonal Gaussian over
``z``; an LSTM decoder, its state initialised from ``z`` and ``z`` fed again with every
input, writes the phrase back step by step (teacher forcing in training). The KL term is
warmed up and given free bits (MusicVAE, Roberts et al. 2018) so that the decoder cannot
ignore ``z``. Attribute vectors (note density, pitch range, mean pitch) are computed from
the training phrases at export and kept as a buffer, so they travel in the safetensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from museforge.core.train import optimizer_step
from museforge.music.readers import estimate_key
from museforge.music.score import STEP, Key, Note, Part, Piece

HOLD, REST = 0, 1  # note-on tokens follow: token 2 + (pitch - low)
BAR_STEPS = 16  # sixteenths in a bar of 4/4
ATTRIBUTES = ("density", "range", "pitch")  # notes per bar, highest - lowest, mean pitch
ATTRIBUTE_SAMPLE = 4096  # training phrases whose latents define the attribute vectors


@dataclass(frozen=True)
class MelodyVAEConfig:
    """Architecture of a melody VAE (stored in the artifact)."""

    bars: int = 2  # phrase length in bars of 4/4
    low: int = 48  # lowest and highest MIDI pitch a phrase may hold
    high: int = 84
    z_dim: int = 32
    embed: int = 32
    # Sized for minutes on a laptop CPU: on 2 cores a decoder of 2×256 learned 4× slower
    # per second than this one and reconstructed worse within a 5-minute budget.
    enc_hidden: int = 96  # per direction
    dec_hidden: int = 128
    dec_layers: int = 1
    dropout: float = 0.1  # between decoder layers (only when dec_layers > 1)

    def __post_init__(self) -> None:
        if self.bars not in (1, 2, 4):
            raise ValueError(f"bars must be 1, 2 or 4 (got {self.bars})")
        if not 21 <= self.low < self.high <= 108 or self.high - self.low < 12:
            raise ValueError(f"pitch range {self.low}..{self.high} must span an octave or more")
        if self.z_dim < 2:
            raise ValueError(f"z_dim must be at least 2 (got {self.z_dim})")

    @property
    def steps(self) -> int:
        return self.bars * BAR_STEPS

    @property
    def vocab(self) -> int:
        return 2 + self.high - self.low + 1


# -- phrases <-> pieces -------------------------------------------------------------------
def melody_line(piece: Piece) -> list[Note]:
    """The top part's notes as a single line: the part with the highest mean pitch, and
    at each onset its highest note (chords keep their top)."""
    parts = {n.part for n in piece.notes}
    if not parts:
        return []
    top = max(
        parts,
        key=lambda p: (
            sum(n.pitch for n in piece.notes if n.part == p)
            / max(1, sum(1 for n in piece.notes if n.part == p))
        ),
    )
    line: dict[int, Note] = {}
    for note in piece.quantised().notes:
        if note.part == top:
            onset = round(note.start / STEP)
            if onset not in line or note.pitch > line[onset].pitch:
                line[onset] = note
    return [line[k] for k in sorted(line)]


def phrase_from_line(
    line: list[Note], start_step: int, cfg: MelodyVAEConfig, fit: bool = True
) -> list[int] | None:
    """Tokens of the ``cfg.steps`` steps from ``start_step`` of a single line, or None when
    the notes do not fit the pitch range. ``fit`` first moves the phrase by whole octaves
    into the range when its span allows (a bass-register tune keeps its shape)."""
    steps = cfg.steps
    onsets = [(round(n.start / STEP) - start_step, n) for n in line]
    inside = [(s, n) for s, n in onsets if 0 <= s < steps]
    shift = 0
    if inside and fit:
        lo, hi = min(n.pitch for _, n in inside), max(n.pitch for _, n in inside)
        if lo < cfg.low:
            shift = 12 * math.ceil((cfg.low - lo) / 12)
        elif hi > cfg.high:
            shift = -12 * math.ceil((hi - cfg.high) / 12)
    tokens = [REST] * steps
    for i, (s, note) in enumerate(inside):
        pitch = note.pitch + shift
        if not cfg.low <= pitch <= cfg.high:
            return None
        nxt = inside[i + 1][0] if i + 1 < len(inside) else steps
        end = min(s + max(1, round(note.duration / STEP)), nxt, steps)
        tokens[s] = 2 + pitch - cfg.low
        for k in range(s + 1, end):
            tokens[k] = HOLD
    return tokens


def phrase_from_piece(piece: Piece, cfg: MelodyVAEConfig, bar: int = 0) -> list[int] | None:
    """The phrase starting at bar ``bar`` of ``piece``'s melody line (None: out of range)."""
    start = round(bar * piece.bar_quarters / STEP)
    return phrase_from_line(melody_line(piece), start, cfg)


def canonical(tokens: list[int]) -> list[int]:
    """A HOLD with no note to hold (at the start or after a rest) is a rest."""
    out, sounding = [], False
    for t in tokens:
        if t == HOLD and not sounding:
            t = REST
        sounding = t != REST
        out.append(t)
    return out


def piece_from_phrase(
    tokens: list[int],
    cfg: MelodyVAEConfig,
    tempo: float = 100.0,
    key: Key | None = None,
    part: Part | None = None,
    title: str = "",
) -> Piece:
    """The one-part 4/4 piece a phrase spells (HOLDs with nothing to hold are rests)."""
    notes: list[Note] = []
    pitch, start, length = None, 0, 0
    for step, t in enumerate([*canonical(list(tokens)), REST]):
        if t == HOLD:
            length += 1
            continue
        if pitch is not None:
            notes.append(Note(pitch, start * STEP, length * STEP))
            pitch = None
        if t != REST:
            pitch, start, length = cfg.low + t - 2, step, 1
    if key is None:  # a sampled phrase still deserves a key signature
        key = estimate_key(notes)
    return Piece(tuple(notes), (part or Part("melody", 73),), tempo, (4, 4), key, title)


def phrase_windows(piece: Piece, cfg: MelodyVAEConfig, min_notes: int = 3) -> list[list[int]]:
    """Every phrase of ``piece``'s melody line starting on a bar line, less the mostly
    empty ones (fewer than ``min_notes`` notes or more than half the steps silent)."""
    line = melody_line(piece)
    if not line:
        return []
    bar = round(piece.bar_quarters / STEP)
    last = round(line[-1].start / STEP)
    out = []
    for start in range(0, last + 1, bar):
        tokens = phrase_from_line(line, start, cfg)
        if tokens is None:
            continue
        if sum(t >= 2 for t in tokens) >= min_notes and tokens.count(REST) <= cfg.steps // 2:
            out.append(tokens)
    return out


def attribute_values(phrases: torch.Tensor, cfg: MelodyVAEConfig) -> torch.Tensor:
    """Per phrase (N×steps tokens): notes per bar, pitch range and mean pitch (N×3)."""
    onset = phrases >= 2
    pitch = (phrases - 2 + cfg.low).float()
    count = onset.sum(1).clamp(min=1).float()
    density = onset.sum(1).float() / cfg.bars
    hi = torch.where(onset, pitch, torch.full_like(pitch, -1e9)).amax(1)
    lo = torch.where(onset, pitch, torch.full_like(pitch, 1e9)).amin(1)
    span = torch.where(onset.any(1), hi - lo, torch.zeros_like(hi))
    mean = torch.where(onset, pitch, torch.zeros_like(pitch)).sum(1) / count
    return torch.stack([density, span, mean], dim=1)


# -- the model ----------------------------------------------------------------------------
class MelodyVAE(nn.Module):
    """Bidirectional LSTM encoder → q(z|x); LSTM decoder conditioned on z → p(x|z)."""

    def __init__(self, cfg: MelodyVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab + 1, cfg.embed)  # the last id starts decoding
        self.encoder = nn.LSTM(cfg.embed, cfg.enc_hidden, batch_first=True, bidirectional=True)
        self.to_stats = nn.Linear(2 * cfg.enc_hidden, 2 * cfg.z_dim)
        self.to_state = nn.Linear(cfg.z_dim, 2 * cfg.dec_layers * cfg.dec_hidden)
        self.decoder = nn.LSTM(
            cfg.embed + cfg.z_dim,
            cfg.dec_hidden,
            num_layers=cfg.dec_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.dec_layers > 1 else 0.0,
        )
        self.out = nn.Linear(cfg.dec_hidden, cfg.vocab)
        # Attribute vectors (rows in ATTRIBUTES order) and the attribute's mean in the bottom
        # and top quartiles; zeros until the training task fills them at export.
        self.register_buffer("attribute_vectors", torch.zeros(len(ATTRIBUTES), cfg.z_dim))
        self.register_buffer("attribute_quartiles", torch.zeros(len(ATTRIBUTES), 2))

    @property
    def z_dim(self) -> int:
        return self.cfg.z_dim

    def encode(self, phrases: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of phrases (N×steps token ids)."""
        _, (h, _) = self.encoder(self.embed(phrases))
        mu, logvar = self.to_stats(torch.cat([h[0], h[1]], dim=1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def _initial_state(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        state = torch.tanh(self.to_state(z)).view(-1, 2, cfg.dec_layers, cfg.dec_hidden)
        return state[:, 0].transpose(0, 1).contiguous(), state[:, 1].transpose(0, 1).contiguous()

    def decode_logits(self, z: torch.Tensor, phrases: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (N×steps×vocab) of ``phrases`` given ``z``."""
        start = torch.full((phrases.shape[0], 1), self.cfg.vocab, dtype=torch.long)
        inputs = self.embed(torch.cat([start, phrases[:, :-1]], dim=1))
        zs = z.unsqueeze(1).expand(-1, phrases.shape[1], -1)
        out, _ = self.decoder(torch.cat([inputs, zs], dim=2), self._initial_state(z))
        return self.out(out)

    @torch.no_grad()
    def generate(
        self,
        z: torch.Tensor,
        temperature: float = 0.0,
        generators: list[torch.Generator] | None = None,
    ) -> torch.Tensor:
        """Phrases (N×steps) decoded from ``z``: the most likely token at each step when
        ``temperature`` is 0, else sampled with row i drawing from ``generators[i]`` (so a
        row does not depend on how many were asked for). A HOLD is only offered while a
        note sounds, so every output is canonical."""
        n, cfg = z.shape[0], self.cfg
        state = self._initial_state(z)
        token = torch.full((n,), cfg.vocab, dtype=torch.long)
        sounding = torch.zeros(n, dtype=torch.bool)
        out = []
        for _ in range(cfg.steps):
            x = torch.cat([self.embed(token), z], dim=1).unsqueeze(1)
            h, state = self.decoder(x, state)
            logits = self.out(h[:, 0])
            logits[:, HOLD] = logits[:, HOLD].masked_fill(~sounding, -math.inf)
            if temperature <= 0 or generators is None:
                token = logits.argmax(1)
            else:
                probs = torch.softmax(logits / temperature, dim=1).cumsum(1)
                u = torch.stack([torch.rand(1, generator=g) for g in generators]).clamp(min=1e-7)
                token = (probs < u * probs[:, -1:]).sum(1).clamp(max=cfg.vocab - 1)
            sounding = token != REST
            out.append(token)
        return torch.stack(out, dim=1)


def elbo_terms(
    model: MelodyVAE, phrases: torch.Tensor, noise: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reconstruction NLL and KL per phrase (nats, batch means) and teacher-forced accuracy."""
    mu, logvar = model.encode(phrases)
    z = mu + torch.randn(mu.shape, generator=noise) * torch.exp(0.5 * logvar)
    logits = model.decode_logits(z, phrases)
    recon = F.cross_entropy(logits.transpose(1, 2), phrases, reduction="sum") / len(phrases)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(phrases)
    accuracy = (logits.argmax(2) == phrases).float().mean()
    return recon, kl, accuracy


# -- training -----------------------------------------------------------------------------
@dataclass(frozen=True)
class MelodyVAETraining:
    """How a melody VAE is trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    beta: float = 1.0  # final KL weight
    kl_warmup: int = 500  # steps over which the KL weight rises linearly from 0 to beta
    free_bits: float = 16.0  # KL (bits per phrase) not penalised: MusicVAE's free bits
    transpose: tuple[int, int] = (-5, 6)  # random transposition range per training phrase
    grad_clip: float = 1.0
    eval_every: int = 250

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.beta < 0 or self.free_bits < 0 or self.kl_warmup < 0:
            raise ValueError("lr must be positive; beta, free_bits and kl_warmup not negative")
        if self.transpose[0] > 0 or self.transpose[1] < 0:
            raise ValueError(f"transpose must include 0 (got {self.transpose})")


def transpose_phrases(
    phrases: torch.Tensor, cfg: MelodyVAEConfig, span: tuple[int, int], gen: torch.Generator
) -> torch.Tensor:
    """Each phrase moved by a random number of semitones in ``span`` that keeps its notes
    inside the pitch range (augmentation on the fly: no copies of the data set)."""
    notes = phrases >= 2
    pitch = phrases - 2
    lo = torch.where(notes, pitch, torch.full_like(pitch, 10**6)).amin(1)
    hi = torch.where(notes, pitch, torch.full_like(pitch, -(10**6))).amax(1)
    down = torch.clamp(-lo, min=span[0], max=0)
    up = torch.clamp(cfg.high - cfg.low - hi, min=0, max=span[1])
    u = torch.rand(len(phrases), generator=gen)
    shift = (down + (u * (up - down + 1).float()).long()).clamp(max=up)
    return torch.where(notes, phrases + shift[:, None], phrases)


@torch.no_grad()
def latent_means(model: MelodyVAE, phrases: torch.Tensor, batch: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat(
        [model.encode(phrases[i : i + batch].long())[0] for i in range(0, len(phrases), batch)]
    )


@torch.no_grad()
def fill_attribute_vectors(model: MelodyVAE, phrases: torch.Tensor) -> None:
    """Attribute vector = mean latent of the top quartile of phrases by the attribute minus
    the mean latent of the bottom quartile (Roberts et al. 2018, §5.3)."""
    if len(phrases) > ATTRIBUTE_SAMPLE:  # an even spread, not a random one: reproducible
        phrases = phrases[torch.linspace(0, len(phrases) - 1, ATTRIBUTE_SAMPLE).long()]
    mu = latent_means(model, phrases)
    values = attribute_values(phrases.long(), model.cfg)
    quarter = max(1, len(phrases) // 4)
    for i in range(len(ATTRIBUTES)):
        order = torch.sort(values[:, i], stable=True).indices
        low, high = order[:quarter], order[-quarter:]
        model.attribute_vectors[i] = mu[high].mean(0) - mu[low].mean(0)
        model.attribute_quartiles[i] = torch.stack([values[low, i].mean(), values[high, i].mean()])


@torch.no_grad()
def evaluate_phrases(model: MelodyVAE, phrases: torch.Tensor, batch: int = 512) -> dict[str, float]:
    """Held-out reconstruction NLL and KL (nats per phrase), and the share of steps and of
    whole phrases decoded exactly from the posterior mean (greedy)."""
    model.eval()
    recon = kl = steps_ok = phrases_ok = 0.0
    for i in range(0, len(phrases), batch):
        x = phrases[i : i + batch].long()
        mu, logvar = model.encode(x)
        recon += float(
            F.cross_entropy(model.decode_logits(mu, x).transpose(1, 2), x, reduction="sum")
        )
        kl += float(-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()))
        same = model.generate(mu) == x
        steps_ok += float(same.float().mean(1).sum())
        phrases_ok += float(same.all(1).float().sum())
    n = max(1, len(phrases))
    return {
        "val_recon": recon / n,
        "val_kl": kl / n,
        "val_elbo": (recon + kl) / n,
        "val_accuracy": steps_ok / n,
        "val_exact": phrases_ok / n,
    }


class MelodyVAETask:
    """Trains a :class:`MelodyVAE` on phrase tensors (N×steps) for the shared Trainer."""

    kind = "melody-vae"

    def __init__(
        self,
        cfg: MelodyVAEConfig,
        training: MelodyVAETraining,
        train_phrases: torch.Tensor,
        val_phrases: torch.Tensor,
        seed: int,
    ):
        self.cfg, self.training = cfg, training
        self.train_phrases, self.val_phrases = train_phrases, val_phrases
        torch.manual_seed(seed)
        self.vae = MelodyVAE(cfg)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=training.lr)
        self.num_examples = len(train_phrases)
        self.eval_every = training.eval_every

    def modules(self) -> dict[str, nn.Module]:
        return {"vae": self.vae}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.opt}

    def kl_weight(self, step: int) -> float:
        t = self.training
        return t.beta * min(1.0, step / t.kl_warmup) if t.kl_warmup else t.beta

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        self.vae.train()
        t = self.training
        x = transpose_phrases(self.train_phrases[indices].long(), self.cfg, t.transpose, noise)
        recon, kl, accuracy = elbo_terms(self.vae, x, noise)
        state = self.opt.state.get(next(self.vae.parameters()))
        step = int(state["step"]) if state else 0
        free = t.free_bits * math.log(2.0)
        loss = recon + self.kl_weight(step) * torch.clamp(kl - free, min=0.0)
        optimizer_step(loss, self.vae, self.opt, clip=max(t.grad_clip, 0.0))
        return {
            "loss": loss.item(),
            "recon": recon.item(),
            "kl": kl.item(),
            "elbo": (recon + kl).item(),
            "accuracy": accuracy.item(),
            "kl_weight": self.kl_weight(step),
        }

    def validate(self) -> dict[str, float]:
        return evaluate_phrases(self.vae, self.val_phrases)

    def preview(self) -> None:
        return None

    def export(self) -> tuple[MelodyVAEConfig, dict[str, torch.Tensor]]:
        fill_attribute_vectors(self.vae, self.train_phrases)
        return self.cfg, self.vae.state_dict()


def phrase_tensor(phrases: list[list[int]], cfg: MelodyVAEConfig) -> torch.Tensor:
    """Phrases as a compact uint8 tensor (N×steps); an empty list gives 0×steps."""
    return torch.tensor(phrases, dtype=torch.uint8).view(-1, cfg.steps)
