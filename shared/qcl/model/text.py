"""Pure text helpers of the generation service: R1 think blocks, stop sequences, streaming hold-back.

split_thinking("<think>plan</think>Answer", opened=False)  # -> ("plan", "Answer")
"""

from __future__ import annotations

from collections.abc import Sequence

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def prompt_opens_thinking(prompt_text: str) -> bool:
    """True when the chat template already wrote <think> (R1's generation prompt does), so output starts inside it."""
    return prompt_text.rstrip().endswith(THINK_OPEN)


def split_thinking(raw: str, *, opened: bool) -> tuple[str | None, str]:
    """(thinking, answer) of a model's raw output.

    R1 models reason inside <think>…</think> before answering; the answer is what follows the closing tag. Output
    that is still inside the block (cut off by a limit) is all thinking, with an empty answer, so reasoning never
    reaches a user as if it were the answer.
    """
    if THINK_CLOSE in raw:
        head, _, tail = raw.partition(THINK_CLOSE)
        return head.replace(THINK_OPEN, "", 1).strip(), tail.lstrip()
    if opened or raw.lstrip().startswith(THINK_OPEN):
        return raw.replace(THINK_OPEN, "", 1).strip(), ""
    return None, raw


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """`text` up to the earliest stop sequence (excluded), and whether one was found."""
    cut = min((index for index in (text.find(stop) for stop in stops) if index >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def streamable(text: str, stops: Sequence[str]) -> str:
    """The prefix of unfinished `text` safe to stream now.

    Holds back a trailing partial character (byte-level tokens can split a UTF-8 character; the decoder shows it
    as U+FFFD) and the longest tail that could still become a stop sequence, so a stop sequence never leaks.
    """
    end = len(text)
    while end > 0 and text[end - 1] == "\ufffd":
        end -= 1
    kept = text[:end]
    hold = max((_partial_stop(kept, stop) for stop in stops), default=0)
    return kept[: len(kept) - hold]


def _partial_stop(text: str, stop: str) -> int:
    """Length of the longest proper prefix of `stop` that `text` ends with."""
    for size in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:size]):
            return size
    return 0
