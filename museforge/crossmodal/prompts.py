"""Prompts into sentence vectors, and the arithmetic the text-to-image verbs do on them.

A text-to-image model draws from a latent ``z`` and a sentence vector ``s`` (the encoder's
unit vector scaled to length √dim, as the model learnt). Everything the verbs do with
words is done to ``s``, and each result is put back at that length, where the model has
seen sentences:

- guidance for the GAN (``imagine --guidance G --negative N``): ``s = s_n + G·(s_p − s_n)``,
  pushing away from the negative prompt's sentence (or, without one, from the neutral
  sentence). A GAN has no unconditional mode to extrapolate from as a flow or diffusion
  model has (the flow is guided by its velocities instead: museforge.nn.flow);
  this is the GAN's honest equivalent in sentence space, on the same scale: G = 1 is the
  prompt itself, bit for bit.
- "more X" (``more``): ``s + a·(s_X − s_0)``, the direction from the neutral sentence to
  X's.
- blends (``breed``): a weighted mean of parents' sentences.

The neutral sentence ``s_0`` is the mean sentence of the training captions, recorded in
the manifest; models trained before it was recorded use the empty caption's sentence.
"""

from __future__ import annotations

import torch

from museforge.core.artifact import LoadedModel
from museforge.core.latent import decode_latent
from museforge.crossmodal.vocabulary import unseen_note
from museforge.errors import InputError


def on_sphere(s: torch.Tensor) -> torch.Tensor:
    """``s`` (one vector or rows) scaled to length √dim, where the generator's sentences lie."""
    return s / s.norm(dim=-1, keepdim=True).clamp_min(1e-8) * s.shape[-1] ** 0.5


def guided(prompt: torch.Tensor, away: torch.Tensor, guidance: float) -> torch.Tensor:
    """``away + guidance·(prompt − away)`` on the sphere; ``prompt`` itself for 1."""
    if guidance == 1:
        return prompt
    return on_sphere(away + guidance * (prompt - away))


def pushed(s: torch.Tensor, direction: torch.Tensor, amount: float) -> torch.Tensor:
    """``s + amount·direction`` on the sphere; ``s`` itself for 0."""
    if amount == 0:
        return s
    return on_sphere(s + amount * direction)


def blend(sentences: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The weighted mean of P×D sentences on the sphere (for two, close to their slerp);
    one sentence given many times is itself."""
    if bool((sentences == sentences[0]).all()):
        return sentences[0].clone()
    return on_sphere((weights[:, None] * sentences).sum(0))


def prompt_sentence(
    loaded: LoadedModel,
    prompt: str,
    what: str = "prompt",
    empty: str = "imagine needs a prompt: the words to draw",
) -> tuple[torch.Tensor, list[str]]:
    """The sentence vector of ``prompt`` (called ``what`` in notes) and notes for the user:
    it was cut to the encoder's context; words the model never saw (where its manifest
    records its words). An empty prompt draws a flow's unconditional field, and is the
    error ``empty`` for a GAN (it has no such mode); characters the model never saw are
    one-line errors."""
    text = " ".join(prompt.split())
    model = loaded.model
    if not text and model.cfg.is_flow:  # it learnt an unconditional field too
        return torch.zeros(model.text.out.out_features), [f"no {what}: drawn without words"]
    if not text:
        raise InputError(empty)
    room = model.tokens.context - 1
    notes = []
    if len(text) > room:
        notes.append(f"the {what} was cut to its first {room} characters: {text[:room]!r}")
        text = text[:room]
    vocabulary = loaded.manifest.get("data", {}).get("vocabulary")
    if note := unseen_note(text, vocabulary):
        notes.append(note if what == "prompt" else f"{what}: {note}")
    return model.sentences([text], strict=True)[0], notes


def neutral_sentence(loaded: LoadedModel) -> torch.Tensor:
    """The sentence of no words in particular: the training captions' mean sentence as
    recorded at training time, else the empty caption's (models trained before)."""
    recorded = loaded.manifest.get("data", {}).get("mean_sentence")
    if recorded:
        return decode_latent(recorded)
    return loaded.model.sentences([""])[0]
