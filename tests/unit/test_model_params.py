"""Generation parameters are validated at construction; the text helpers of the service."""

from __future__ import annotations

import pytest

from qcl.model.errors import InvalidGenerationRequestError
from qcl.model.params import MAX_NEW_TOKENS_LIMIT, GenerationParams
from qcl.model.text import cut_at_stop, prompt_opens_thinking, split_thinking, streamable


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_new_tokens", 0),
        ("max_new_tokens", MAX_NEW_TOKENS_LIMIT + 1),
        ("max_new_tokens", 2.5),
        ("max_new_tokens", True),
        ("temperature", -0.1),
        ("temperature", float("nan")),
        ("top_p", 0.0),
        ("top_p", 1.5),
        ("top_k", -1),
        ("stop", ("",)),
        ("stop", tuple(str(n) for n in range(9))),
        ("seed", -3),
        ("deadline_s", 0),
        ("deadline_s", float("inf")),
    ],
)
def test_out_of_range_parameter_is_refused_with_its_field_named(field: str, value: object) -> None:
    with pytest.raises(InvalidGenerationRequestError, match=f"^invalid generation parameters: {field}:"):
        GenerationParams(**{field: value})  # type: ignore[arg-type]


def test_defaults_are_greedy_with_128_tokens() -> None:
    params = GenerationParams()
    assert params.greedy
    assert params.max_new_tokens == 128


def test_stop_given_as_a_list_is_frozen_into_a_tuple() -> None:
    assert GenerationParams(stop=["\n\n"]).stop == ("\n\n",)  # type: ignore[arg-type]


def test_deadline_and_seed_do_not_change_the_cache_fields_of_a_greedy_request() -> None:
    assert GenerationParams(deadline_s=3, seed=1).cache_fields() == GenerationParams().cache_fields()


def test_closed_think_block_is_split_from_the_answer() -> None:
    assert split_thinking("<think>\nadd 2 and 2\n</think>\n\nFour.", opened=False) == ("add 2 and 2", "Four.")


def test_r1_output_after_an_opened_think_prompt_has_only_the_closing_tag() -> None:
    assert split_thinking("plan it</think>The answer.", opened=True) == ("plan it", "The answer.")


def test_output_cut_off_inside_the_think_block_has_no_answer() -> None:
    assert split_thinking("still reasoning about", opened=True) == ("still reasoning about", "")
    assert split_thinking("<think>still reasoning", opened=False) == ("still reasoning", "")


def test_output_without_think_tags_is_all_answer() -> None:
    assert split_thinking("Just an answer.", opened=False) == (None, "Just an answer.")


def test_r1_generation_prompt_is_recognised_as_opening_a_think_block() -> None:
    assert prompt_opens_thinking("<｜Assistant｜><think>\n")
    assert not prompt_opens_thinking("<|im_start|>assistant\n")


def test_text_is_cut_at_the_earliest_stop_sequence() -> None:
    assert cut_at_stop("one. two\n\nthree END", ("END", "\n\n")) == ("one. two", True)
    assert cut_at_stop("no stop here", ("END",)) == ("no stop here", False)


def test_streaming_holds_back_a_tail_that_could_become_a_stop_sequence() -> None:
    assert streamable("Hello EN", ("END",)) == "Hello "
    assert streamable("Hello E", ("XYZ", "END")) == "Hello "
    assert streamable("Hello", ("END",)) == "Hello"


def test_streaming_holds_back_a_partial_utf8_character() -> None:
    assert streamable("空\ufffd", ()) == "空"
