"""Finding copies: the longest stretch of a generated sequence found in the training data.

A :class:`SubstringIndex` holds a suffix automaton of the training text (at most two states
per character), built once; each query is then linear in the query's length. Text
originality uses it on characters, music on one character per note.
"""

from __future__ import annotations

#: Separates documents in an indexed text; a match never spans it.
SEPARATOR = "\x03"


def _build(text: str) -> tuple[list[dict[str, int]], list[int], list[int]]:
    """Suffix automaton of ``text``: (transitions, suffix links, longest length) per state.

    The standard online construction; at most 2·len(text) states. Written with local
    names and plain lists because it runs once per character in pure Python.
    """
    trans: list[dict[str, int]] = [{}]
    link = [-1]
    length = [0]
    new_trans, new_link, new_length = trans.append, link.append, length.append
    last = 0
    for ch in text:
        cur = len(length)
        new_trans({})
        new_link(0)
        new_length(length[last] + 1)
        p = last
        while p != -1 and ch not in trans[p]:
            trans[p][ch] = cur
            p = link[p]
        if p != -1:
            q = trans[p][ch]
            if length[p] + 1 == length[q]:
                link[cur] = q
            else:
                # q also stands for longer strings than p·ch: split off a clone holding
                # exactly the strings of length ≤ length[p] + 1.
                clone = len(length)
                new_trans(trans[q].copy())
                new_link(link[q])
                new_length(length[p] + 1)
                while p != -1 and trans[p].get(ch) == q:
                    trans[p][ch] = clone
                    p = link[p]
                link[q] = clone
                link[cur] = clone
        last = cur
    return trans, link, length


class SubstringIndex:
    """Longest substrings shared with one training text (build once, query many)."""

    def __init__(self, training_text: str):
        self._trans, self._link, self._length = _build(training_text)

    @property
    def num_states(self) -> int:
        """States of the suffix automaton (at most twice the training text's length)."""
        return len(self._length)

    def longest_match(self, text: str) -> tuple[int, str]:
        """Length and content of the longest substring of ``text`` found anywhere in the
        training text; the first such span on ties, ``(0, "")`` when none.

        Spans never include :data:`SEPARATOR`: it breaks the match on either side.
        """
        trans, link, length = self._trans, self._link, self._length
        state = matched = best = best_end = 0
        for i, ch in enumerate(text):
            if ch == SEPARATOR:
                state = matched = 0
                continue
            # Shorten the current match (walk suffix links) until it can be extended by ch.
            while state and ch not in trans[state]:
                state = link[state]
                matched = length[state]
            nxt = trans[state].get(ch)
            if nxt is None:
                state = matched = 0
                continue
            state = nxt
            matched += 1
            if matched > best:
                best, best_end = matched, i + 1
        return best, text[best_end - best : best_end]
