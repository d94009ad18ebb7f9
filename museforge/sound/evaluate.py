"""Measuring a sound model: quality, pitch, variety and copies (docs/sound.md).

- **FID** in the features of a classifier trained here on log-mel spectrograms of the
  model's training split (instrument family and pitch heads), with the held-out notes'
  FID as the real-data floor; the classifier also says how often each drawn note is
  heard as the family asked for.
- **Pitch accuracy**: pYIN (librosa) finds each drawn note's pitch; the share within a
  semitone of the pitch asked for (held-out real notes give the ceiling of the tracker).
- **NDB** (Richardson & Weiss 2018): the training notes' log-mel spectrograms in k-means
  bins; the number of bins whose share of drawn notes differs significantly from the
  training share (two-proportion z-test, 5%), divided by k — 0 is best.
- **Memorisation**: each drawn note's nearest training note in log-mel space against the
  held-out notes' typical distance (as for pictures), worst cases side by side.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from museforge.core.atomic import atomic_write_bytes
from museforge.core.files import default_cache_dir
from museforge.core.seeding import stream
from museforge.nn.metrics.fid import fid_from_features
from museforge.nn.metrics.memorisation import memorisation_check, write_worst_cases
from museforge.sound.data import UNPITCHED, SoundDataset, estimate_pitch
from museforge.sound.spectral import Spectral

MELS = 64
RECIPE = {"steps": 400, "batch": 64, "lr": 2e-3, "version": 1}
NDB_BINS = 50
PITCH_TOLERANCE = 1  # semitones
TRACKED = 200  # notes per side whose pitch pYIN finds (it takes tens of ms a note)


def log_mel(waves: torch.Tensor, spectral: Spectral) -> torch.Tensor:
    """Clips (n, samples) → log-mel spectrograms (n, 1, MELS, frames), about [-1, 1]."""
    import librosa  # imported here: numba compiles on first import

    bank = torch.from_numpy(
        librosa.filters.mel(sr=spectral.rate, n_fft=spectral.n_fft, n_mels=MELS)[:, : spectral.bins]
    ).float()
    chunks = []
    for s in range(0, len(waves), 256):
        power = spectral.stft(waves[s : s + 256].float()).abs() ** 2
        mel = torch.einsum("mb,nbt->nmt", bank, power)
        chunks.append(((torch.log10(mel + 1e-6) + 3) / 4)[:, None])
    return torch.cat(chunks)


class SoundClassifier(nn.Module):
    """Log-mel spectrogram → features → class and pitch (129: MIDI and unpitched)."""

    def __init__(self, num_classes: int):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in (16, 32, 64, 128):
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
            c_in = c_out
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classes = nn.Linear(128, num_classes)
        self.pitches = nn.Linear(128, 129)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.classes(h), self.pitches(h)


def _pitch_targets(pitches: torch.Tensor) -> torch.Tensor:
    return torch.where(pitches < 0, torch.full_like(pitches, 128), pitches.clamp(0, 127))


@torch.inference_mode(False)
@torch.enable_grad()
def train_classifier(mels: torch.Tensor, data: SoundDataset, seed: int = 0) -> SoundClassifier:
    """A classifier of the training notes, trained apart from any generator (random gain
    and a shift of up to 2 frames as augmentation)."""
    torch.manual_seed(seed)
    net = SoundClassifier(data.num_classes)
    opt = torch.optim.Adam(net.parameters(), lr=RECIPE["lr"])
    gen = stream(seed, "sound-classifier")
    pitches = _pitch_targets(data.pitches)
    net.train()
    for _ in range(RECIPE["steps"]):
        idx = torch.randint(len(mels), (RECIPE["batch"],), generator=gen)
        x = mels[idx] + (torch.rand(len(idx), 1, 1, 1, generator=gen) - 0.5) * 0.3
        x = torch.roll(x, int(torch.randint(-2, 3, (1,), generator=gen)), dims=3)
        classes, pitch = net(x)
        loss = F.cross_entropy(classes, data.labels[idx]) + F.cross_entropy(pitch, pitches[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def classifier_for(mels: torch.Tensor, data: SoundDataset, cache_dir: Path | None = None):
    """The cached classifier of ``data`` (trained once per data set, in seconds)."""
    key = hashlib.sha256(f"{data.fingerprint}:{RECIPE}".encode()).hexdigest()[:16]
    root = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "sound"
    path = root / f"classifier-{key}.safetensors"
    net = SoundClassifier(data.num_classes)
    if path.is_file():
        try:
            net.load_state_dict(load_tensors(path.read_bytes()))
            return net.eval()
        except (OSError, RuntimeError, ValueError):
            path.unlink(missing_ok=True)
    net = train_classifier(mels, data)
    atomic_write_bytes(path, save_tensors({k: v.contiguous() for k, v in net.state_dict().items()}))
    return net


@torch.inference_mode()
def _features(net: SoundClassifier, mels: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    feats, classes = [], []
    for s in range(0, len(mels), 256):
        h = net.features(mels[s : s + 256])
        feats.append(h)
        classes.append(net.classes(h).argmax(1))
    return torch.cat(feats).numpy().astype(np.float64), torch.cat(classes)


def pitch_accuracy(waves: np.ndarray, asked: torch.Tensor, rate: int) -> dict[str, Any]:
    """The share of pitched notes whose pitch pYIN finds within a semitone of ``asked``."""
    pitched = [i for i in range(len(asked)) if int(asked[i]) >= 0][:TRACKED]
    if not pitched:
        return {"accuracy": None, "notes": 0}
    found = np.array([estimate_pitch(waves[i], rate) for i in pitched])
    want = asked[pitched].numpy()
    hits = (found >= 0) & (np.abs(found - want) <= PITCH_TOLERANCE)
    return {
        "accuracy": float(hits.mean()),
        "unpitched_share": float((found == UNPITCHED).mean()),
        "octave_errors": float(((found >= 0) & (np.abs(np.abs(found - want) - 12) <= 1)).mean()),
        "notes": len(pitched),
    }


def ndb(
    train: torch.Tensor, fake: torch.Tensor, k: int = NDB_BINS, seed: int = 0
) -> dict[str, Any]:
    """Number of statistically different bins (k-means on the training notes)."""
    from sklearn.cluster import KMeans

    t, f = train.flatten(1).numpy(), fake.flatten(1).numpy()
    k = min(k, len(t) // 4)
    km = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(t)
    p = np.bincount(km.labels_, minlength=k) / len(t)
    q = np.bincount(km.predict(f), minlength=k) / len(f)
    pooled = (p * len(t) + q * len(f)) / (len(t) + len(f))
    se = np.sqrt(pooled * (1 - pooled) * (1 / len(t) + 1 / len(f)))
    z = np.abs(p - q) / np.maximum(se, 1e-12)
    different = int((z > 1.96).sum())
    return {"ndb": different, "bins": k, "ndb_over_k": different / k}


def evaluate_sounds(
    waves: torch.Tensor,
    labels: torch.Tensor,
    pitches: torch.Tensor,
    train: SoundDataset,
    holdout: SoundDataset,
    spectral: Spectral,
    out_dir: Path | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Score drawn notes (``waves`` asked for ``labels`` and ``pitches``) against the
    training split; a JSON-ready dict."""
    train_mels, held_mels = log_mel(train.waves, spectral), log_mel(holdout.waves, spectral)
    fake_mels = log_mel(waves, spectral)
    net = classifier_for(train_mels, train)
    real_f, _ = _features(net, train_mels)
    held_f, held_classes = _features(net, held_mels)
    fake_f, fake_classes = _features(net, fake_mels)
    memo = memorisation_check(fake_mels, train_mels, held_mels)
    result: dict[str, Any] = {
        "n": len(waves),
        "fid": fid_from_features(fake_f, real_f),
        "fid_real_floor": fid_from_features(held_f, real_f),
        "classes": {
            "asked_share": float((fake_classes == labels).float().mean()),
            "real_accuracy": float((held_classes == holdout.labels).float().mean()),
        },
        "pitch": pitch_accuracy(waves.numpy(), pitches, spectral.rate),
        "pitch_real": pitch_accuracy(holdout.waves.numpy(), holdout.pitches, spectral.rate),
        "ndb": ndb(train_mels, fake_mels, seed=seed),
        "memorisation": memo.summary(),
        "classifier": {"recipe": dict(RECIPE), "mels": MELS},
    }
    if out_dir is not None:
        worst = write_worst_cases(memo, fake_mels.flip(2), train_mels.flip(2), Path(out_dir))
        result["worst_cases"] = [p.name for p in worst]
    return result
