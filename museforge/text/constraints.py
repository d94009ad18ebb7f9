"""The contract between the sampler and the poetic forms it enforces.

A :class:`Constraint` is a small state machine over the characters a model emits. Before
each step the sampler asks it which vocabulary entries may come next (a boolean mask over
the model's characters) and masks the logits accordingly; after sampling it reports the
chosen character with :meth:`Constraint.advance`. Forms therefore hold *by construction*,
not by generate-and-reject. An all-False mask is a dead end: the sampler restarts that
sample with a fresh random stream (and gives up with a clear error after a few tries).
"""

from __future__ import annotations

from typing import Protocol

import torch


class Constraint(Protocol):
    """One sample's decoding constraint; create one per sample, it is mutable."""

    def allowed(self) -> torch.Tensor | None:
        """Bool mask of shape (vocab,) over the next character, or None for 'anything'.

        Once ``done``: what may still follow while the form stays complete (None or an
        all-False mask: nothing, the sample ends)."""
        ...

    def advance(self, char: str) -> None:
        """Record that ``char`` was emitted (it was allowed by the last mask)."""
        ...

    @property
    def done(self) -> bool:
        """True while the form is complete: the model's end marker may now stop the sample
        (it never may before)."""
        ...


class Unconstrained:
    """Free text: anything may follow, never done (length limits stop the sampler)."""

    def allowed(self) -> torch.Tensor | None:
        return None

    def advance(self, char: str) -> None:
        pass

    @property
    def done(self) -> bool:
        return False
