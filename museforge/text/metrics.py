"""Text metrics: compression (bits per character), diversity (distinct-n) and originality.

Originality asks how much of a generated text was copied from the training text. A
:class:`CopyIndex` is built once per training text and answers two questions per sample:
the longest substring also found in the training text (a suffix automaton,
:mod:`museforge.core.copying`, makes this linear in the sample's length) and which lines
were copied whole (a set of normalised training lines and, for Chinese verse, of their
clauses 句).
"""

from __future__ import annotations

import math
import re
import unicodedata

from museforge.core.copying import SEPARATOR, SubstringIndex

#: Separates documents in a training text; copied spans never include it.
DOC_SEPARATOR = SEPARATOR

# Spaces and tabs (not line breaks): a run of them counts as one space in copied spans.
_BLANK_RUN = re.compile(r"[^\S\n]+")

# Where a Chinese verse line splits into clauses (句). Full-width only: splitting English
# lines at commas would make short, common phrases count as copied lines.
_CLAUSE_ENDS = "，。！？；"


def bits_per_char(nll_nats_sum: float, num_chars: int) -> float:
    """Convert a negative log-likelihood summed over ``num_chars`` characters (in nats) to
    bits per character."""
    if num_chars <= 0:
        raise ValueError(f"num_chars must be positive, got {num_chars}")
    return nll_nats_sum / (num_chars * math.log(2))


def distinct_n(texts: list[str], n: int) -> float:
    """Unique character n-grams / all character n-grams over ``texts`` (0.0 when there are none).

    N-grams are taken within each line (``str.splitlines``), so they never span a line break
    and the breaks themselves are not characters of any n-gram; other whitespace counts.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    seen: set[str] = set()
    total = 0
    for text in texts:
        for line in text.splitlines():
            count = len(line) - n + 1
            if count > 0:
                total += count
                seen.update(line[i : i + n] for i in range(count))
    return len(seen) / total if total else 0.0


def non_word_share(texts: list[str], min_zipf: float) -> float:
    """Share of the English words of ``texts`` that are not common words (see
    :func:`museforge.text.prosody.is_common`); 0.0 when there are no words."""
    from museforge.text.prosody import uncommon_words, words_of

    total = sum(len(words_of(t)) for t in texts)
    rare = sum(len(uncommon_words(t, min_zipf)) for t in texts)
    return rare / total if total else 0.0


def repeated_line_share(texts: list[str]) -> float:
    """Share of lines that repeat an earlier line of the same text (case and spacing
    ignored; blank lines not counted); 0.0 when there are no lines."""
    lines = repeats = 0
    for text in texts:
        seen: set[str] = set()
        for line in text.split("\n"):
            key = _normalise(line).lower()
            if not key:
                continue
            lines += 1
            repeats += key in seen
            seen.add(key)
    return repeats / lines if lines else 0.0


def _normalise(line: str) -> str:
    """A line as compared for verbatim copies: without surrounding whitespace and trailing
    punctuation (a copied line that ends in '.' rather than ',' is still copied)."""
    end = len(line)
    while end and (line[end - 1].isspace() or unicodedata.category(line[end - 1])[0] == "P"):
        end -= 1
    return line[:end].strip()


def _clauses(line: str) -> list[str]:
    """The normalised clauses (句) of a line, split at full-width clause punctuation."""
    for mark in _CLAUSE_ENDS[1:]:
        line = line.replace(mark, _CLAUSE_ENDS[0])
    return [_normalise(part) for part in line.split(_CLAUSE_ENDS[0])]


def _lines(text: str) -> list[str]:
    """Lines of a text; document separators end lines too."""
    return text.replace(DOC_SEPARATOR, "\n").splitlines()


class CopyIndex:
    """Index of a training text for originality checks (build once, query many).

    ``min_line_chars``: lines (and clauses) shorter than this after normalisation are too
    trivial to call copied; they are neither checked nor indexed.
    """

    def __init__(self, training_text: str, min_line_chars: int = 4):
        self.min_line_chars = min_line_chars
        self._substrings = SubstringIndex(_BLANK_RUN.sub(" ", training_text))
        keys: set[str] = set()
        for line in _lines(training_text):
            keys.add(_normalise(line))
            keys.update(_clauses(line))
        self._line_keys = {key for key in keys if len(key) >= min_line_chars}

    @property
    def num_states(self) -> int:
        """States of the suffix automaton (at most twice the training text's length)."""
        return self._substrings.num_states

    def longest_copied_span(self, text: str) -> tuple[int, str]:
        """Length and content of the longest substring of ``text`` found anywhere in the
        training text; the first such span on ties, ``(0, "")`` when none. Spans never
        include :data:`DOC_SEPARATOR`. On both sides a run of spaces and tabs counts as
        one space, so indentation is not a copy and re-spacing does not hide one."""
        return self._substrings.longest_match(_BLANK_RUN.sub(" ", text))

    def _checked(self, text: str) -> list[tuple[str, bool]]:
        """(stripped line, copied?) for each non-trivial line of ``text``."""
        out: list[tuple[str, bool]] = []
        for line in _lines(text):
            whole = _normalise(line)
            if len(whole) < self.min_line_chars:
                continue
            keys = self._line_keys
            copied = whole in keys or any(clause in keys for clause in _clauses(line))
            out.append((line.strip(), copied))
        return out

    def verbatim_lines(self, text: str) -> list[str]:
        """Lines of ``text`` (stripped) copied from the training text.

        A line counts as copied when, after dropping surrounding whitespace and trailing
        punctuation, it equals a training line or a training clause (句), or when one of its
        own clauses (split at ，。！？；) does. Matching is otherwise exact (case, inner
        spaces). Lines and clauses shorter than ``min_line_chars`` are ignored.
        """
        return [line for line, copied in self._checked(text) if copied]

    def report(self, texts: list[str]) -> dict[str, float | int | str]:
        """Originality of a set of samples.

        Keys: ``longest_copied_span`` (max over texts) and ``longest_copied_text`` (that
        span), ``mean_longest_copied_span`` (mean over texts), ``verbatim_line_share``
        (copied lines / checked lines over all texts, 0.0 if none checked),
        ``lines_checked`` and ``lines_copied``.
        """
        spans = [self.longest_copied_span(text) for text in texts]
        longest, longest_text = max(spans, key=lambda s: s[0], default=(0, ""))
        checked = [copied for text in texts for _, copied in self._checked(text)]
        copied = sum(checked)
        return {
            "longest_copied_span": longest,
            "longest_copied_text": longest_text,
            "mean_longest_copied_span": sum(n for n, _ in spans) / len(spans) if spans else 0.0,
            "verbatim_line_share": copied / len(checked) if checked else 0.0,
            "lines_checked": len(checked),
            "lines_copied": copied,
        }
