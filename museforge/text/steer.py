"""Steering a Chinese poem toward a theme: characters the model itself associates with a
title are favoured on every line, not only right after the title.

The model reads ``《theme》`` and a line break and predicts the poem's first character;
so it does after ``《无题》`` ("untitled", a common title in Tang verse). Where the theme
makes a character likelier than the neutral title does, its logit is raised by that log
ratio (at most :data:`MAX_LIFT` nats) times the strength, at every step of the poem.
Nothing is ever lowered, and the form's masks still decide what may be written.
"""

from __future__ import annotations

import torch

from museforge.text.lm import TextLM

NEUTRAL_TITLE = "无题"
MAX_LIFT = 2.0  # nats: a theme favours its characters, it does not force them


def _first_char_logprobs(model: TextLM, title: str) -> torch.Tensor:
    ids = model.encode(f"《{title}》\n", "the theme")
    start = torch.cat((torch.tensor([model.end_id]), ids))
    logits, _ = model.net.start(start[None])
    return torch.log_softmax(logits[0].float(), dim=-1)


@torch.inference_mode()
def theme_bias(model: TextLM, theme: str, strength: float) -> torch.Tensor | None:
    """Per-character logit lift toward ``theme`` (None when there is nothing to steer)."""
    if not theme or strength <= 0:
        return None
    from museforge.text.chinese import han_mask

    model.eval()
    neutral = NEUTRAL_TITLE if not model.unknown_chars(NEUTRAL_TITLE) else ""
    lift = _first_char_logprobs(model, theme) - _first_char_logprobs(model, neutral)
    lift = lift.clamp(0.0, MAX_LIFT) * han_mask(model.vocab)
    return strength * lift
