"""Training a character LM: the shared sequence-LM task on a :class:`TextLM`, and the
classic small char-GPT recipe the text benchmark measures against."""

from __future__ import annotations

from collections.abc import Callable

import torch

from museforge.nn.lm_training import SequenceLMTask, target_logprobs, token_values
from museforge.text.lm import TextLM
from museforge.text.ngram import fit_weight, mix


class TextLMTask(SequenceLMTask):
    """Trains a :class:`TextLM` on encoded training text (windows, schedule, early stopping
    and best weights as in :mod:`museforge.nn.lm_training`). A model with an n-gram gets
    its mixture weight fitted on the held-out text at every validation, and is judged
    (and its best weights kept) by the mixture."""

    kind = "text-lm"
    model_cls = TextLM
    _ngram_targets: torch.Tensor | None = None

    def validation_loss(self) -> float:
        model = self.model
        if not model.cfg.ngram_order:
            return super().validation_loss()
        model.eval()
        context, ids = model.cfg.context, self.val_ids
        if ids.numel() < 2:
            return 0.0

        def targets(logprobs: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
            return token_values(lambda p: target_logprobs(logprobs(p[:, :-1]), p), ids, context)

        net = targets(model.network_logprobs)
        if self._ngram_targets is None:  # the tables and the held-out text never change
            self._ngram_targets = targets(model.ngram_logprobs)
        ngram, novel = self._ngram_targets, model.novel_logprob[ids[1:]]
        weight = fit_weight(net, ngram, novel)
        model.ngram_weight.fill_(weight)
        return float(-torch.logaddexp(mix(net, ngram, weight), novel).mean())

    def validate(self) -> dict[str, float]:
        metrics = super().validate()
        if self.model.cfg.ngram_order:
            metrics["ngram_weight"] = float(self.model.ngram_weight)
        return metrics


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
