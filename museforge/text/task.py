"""Training a character LM: the shared sequence-LM task on a :class:`TextLM`, and the
classic small char-GPT recipe the text benchmark measures against."""

from __future__ import annotations

from museforge.nn.lm_training import SequenceLMTask
from museforge.text.lm import TextLM


class TextLMTask(SequenceLMTask):
    """Trains a :class:`TextLM` on encoded training text (windows, schedule, early stopping
    and best weights as in :mod:`museforge.nn.lm_training`)."""

    kind = "text-lm"
    model_cls = TextLM


# The classic small character-level GPT recipe for CPU (the benchmark's baseline): model
# settings, training settings, batch size. Learned positions, biases, no dropout, constant
# learning rate, plain AdamW, no clipping, no early stopping.
CLASSIC_CHAR_GPT: tuple[dict, dict, int] = (
    {
        "n_layer": 4,
        "n_head": 4,
        "n_embd": 128,
        "context": 64,
        "dropout": 0.0,
        "position": "learned",
        "bias": True,
    },
    {
        "lr": 1e-3,
        "schedule": "constant",
        "warmup": 0,
        "weight_decay": 0.01,
        "beta2": 0.999,
        "grad_clip": 0.0,
        "input_dropout": 0.0,
        "patience": 0,
    },
    12,
)
