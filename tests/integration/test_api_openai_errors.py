"""Bad requests to the /v1 routes get OpenAI's error shape, a 400 naming the param, and the right status otherwise.

`{"error": {"message", "type", "param", "code"}}` (plus our request_id) for malformed JSON, wrong types, empty or
unknown messages, unsupported parameters, oversized max_tokens, context overflow, keys, rate limits and a missing
model runtime; the rest of the API keeps its own shape. Served by the Flask test client over a tiny model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qcl.api.schemas import Role
from qcl.config import load_settings
from qcl.model.loading import LoadedModel, load_model
from qcl.model.service import GenerationParams, GenerationService
from tests.integration.test_api_fixtures import Api, make_api

# One worker runs this module (pytest-xdist --dist loadgroup), so its module-scoped model loads once.
pytestmark = pytest.mark.xdist_group("api_openai_errors")

MODEL = "tiny-random-llama"  # its context holds 2,048 tokens
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def generation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GenerationService]:
    loaded: LoadedModel = load_model(
        MODEL, load_settings(model_cache_dir=tmp_path_factory.mktemp("models")), progress=None
    )
    with GenerationService(loaded) as service:
        yield service


@pytest.fixture
def api(tmp_path: Path, generation: GenerationService) -> Api:
    return make_api(tmp_path, generation=generation)


def chat(api: Api, role: Role = Role.OPERATOR, **body: Any) -> Any:
    return api.client.post("/v1/chat/completions", json={"model": MODEL, **body}, headers=api.headers(role))


def openai_error(response: Any, status: int, param: str | None, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error: dict[str, Any] = response.json["error"]
    assert set(error) == {"message", "type", "param", "code", "request_id"}
    assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    if status == 400:
        assert error["type"] == "invalid_request_error"
    return error


def test_malformed_json_is_a_400(api: Api) -> None:
    response = api.client.post(
        "/v1/chat/completions", data='{"model": ', content_type="application/json", headers=api.headers(Role.OPERATOR)
    )
    assert "not valid JSON" in openai_error(response, 400, None, "invalid_json")["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", "hot"),
        ("temperature", 2.5),
        ("top_p", 1.5),
        ("max_tokens", 1.5),
        ("max_tokens", 0),
        ("stream", "yes"),
        ("seed", -1),
        ("stop", ["a", "b", "c", "d", "e"]),
        ("stop", ""),
        ("stop", 5),
        ("user", 7),
    ],
)
def test_a_wrong_value_is_a_400_naming_the_param(api: Api, field: str, value: Any) -> None:
    openai_error(chat(api, messages=HELLO, **{field: value}), 400, field)


def test_messages_of_the_wrong_type_are_a_400(api: Api) -> None:
    openai_error(chat(api, messages="Hello"), 400, "messages")


def test_empty_messages_are_a_400(api: Api) -> None:
    openai_error(chat(api, messages=[]), 400, "messages")


def test_messages_with_only_blank_content_are_a_400(api: Api) -> None:
    error = openai_error(chat(api, messages=[{"role": "user", "content": "  "}]), 400, "messages")
    assert "empty" in error["message"]


def test_an_unknown_role_is_a_400_naming_the_message(api: Api) -> None:
    messages = [*HELLO, {"role": "wizard", "content": "hi"}]
    error = openai_error(chat(api, messages=messages), 400, "messages[1].role")
    assert error["message"].startswith("messages[1].role:")


def test_a_missing_model_is_a_400(api: Api) -> None:
    response = api.client.post("/v1/chat/completions", json={"messages": HELLO}, headers=api.headers(Role.OPERATOR))
    openai_error(response, 400, "model")


def test_an_unrecognised_argument_is_a_400_naming_it(api: Api) -> None:
    openai_error(chat(api, messages=HELLO, temprature=0.2), 400, "temprature")


@pytest.mark.parametrize(
    ("field", "value"), [("n", 2), ("presence_penalty", 0.5), ("logprobs", True), ("logit_bias", {"1": 5.0})]
)
def test_an_unsupported_parameter_is_a_400_naming_it(api: Api, field: str, value: Any) -> None:
    error = openai_error(chat(api, messages=HELLO, **{field: value}), 400, field)
    assert "not supported" in error["message"] or "only" in error["message"]


@pytest.mark.parametrize(
    ("field", "value"), [("echo", True), ("best_of", 3), ("suffix", "end"), ("prompt", []), ("prompt", 5)]
)
def test_an_unsupported_completion_parameter_is_a_400_naming_it(api: Api, field: str, value: Any) -> None:
    body = {"model": MODEL, "prompt": "Once", field: value}
    openai_error(api.client.post("/v1/completions", json=body, headers=api.headers(Role.OPERATOR)), 400, field)


def test_max_tokens_above_the_limit_is_a_400(api: Api) -> None:
    openai_error(chat(api, messages=HELLO, max_tokens=100_000), 400, "max_tokens")


def test_max_tokens_beyond_the_context_is_a_400_naming_max_tokens(api: Api) -> None:
    error = openai_error(chat(api, messages=HELLO, max_tokens=2040), 400, "max_tokens", "context_length_exceeded")
    assert "2048" in error["message"]


def test_a_prompt_longer_than_the_context_is_a_400_naming_it(api: Api) -> None:
    long = " ".join(["network"] * 2100)
    openai_error(chat(api, messages=[{"role": "user", "content": long}]), 400, "messages", "context_length_exceeded")
    body = {"model": MODEL, "prompt": long}
    response = api.client.post("/v1/completions", json=body, headers=api.headers(Role.OPERATOR))
    openai_error(response, 400, "prompt", "context_length_exceeded")


def test_without_max_tokens_a_long_prompt_gets_the_room_left_in_the_context(api: Api) -> None:
    body = {"model": MODEL, "prompt": " ".join(["network"] * 2020), "temperature": 0}
    response = api.client.post("/v1/completions", json=body, headers=api.headers(Role.OPERATOR))
    assert response.status_code == 200, response.json
    usage = response.json["usage"]
    assert 0 < usage["completion_tokens"] < 256
    assert usage["total_tokens"] == 2048 or response.json["choices"][0]["finish_reason"] == "stop"


def test_a_missing_key_is_a_401_in_openai_shape(api: Api) -> None:
    response = api.client.post("/v1/chat/completions", json={"model": MODEL, "messages": HELLO})
    assert openai_error(response, 401, None, "invalid_api_key")["type"] == "authentication_error"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_viewer_key_is_a_403_for_generation(api: Api) -> None:
    assert openai_error(chat(api, Role.VIEWER, messages=HELLO), 403, None)["type"] == "permission_error"


def test_the_per_key_rate_limit_is_a_429_with_retry_after(tmp_path: Path, generation: GenerationService) -> None:
    api = make_api(tmp_path, generation=generation, rate_limit_key_burst=1, rate_limit_key_per_s=0.01)
    assert api.client.get("/v1/models", headers=api.headers(Role.VIEWER)).status_code == 200
    response = api.client.get("/v1/models", headers=api.headers(Role.VIEWER))
    assert openai_error(response, 429, None, "rate_limit_exceeded")["type"] == "rate_limit_error"
    assert int(response.headers["Retry-After"]) >= 1


def test_without_a_model_runtime_every_v1_route_is_a_503(tmp_path: Path) -> None:
    api = make_api(tmp_path)  # no generation service: as the API image without torch, or templates-only narration
    for response in (
        api.client.get("/v1/models", headers=api.headers(Role.VIEWER)),
        chat(api, messages=HELLO),
        api.client.post("/v1/completions", json={"model": MODEL, "prompt": "x"}, headers=api.headers(Role.OPERATOR)),
    ):
        assert openai_error(response, 503, None, "model_unavailable")["type"] == "server_error"


def test_an_unknown_v1_path_is_a_404_in_openai_shape(api: Api) -> None:
    openai_error(api.client.get("/v1/engines", headers=api.headers(Role.VIEWER)), 404, None)


def test_the_rest_of_the_api_keeps_its_own_error_shape(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    error = api.client.get("/api/ai/models").json["error"]
    assert error["code"] == "unauthorized" and "type" not in error


def test_the_openapi_document_describes_v1_errors_in_openai_shape(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").json
    operation = spec["paths"]["/v1/chat/completions"]["post"]
    assert operation["responses"]["default"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/OpenAIErrorBody"
    )
    assert "422" not in operation["responses"] and "Role: operator" in operation["description"]
    assert "Role: viewer" in spec["paths"]["/v1/models"]["get"]["description"]


def test_a_full_model_queue_is_a_503_with_retry_after(tmp_path: Path, generation: GenerationService) -> None:
    long = GenerationParams(max_new_tokens=1500, ban_eos=True)
    with GenerationService(generation.loaded, queue_size=1, max_batch=1, batch_window_ms=0) as small:
        api = make_api(tmp_path, generation=small)
        running = small.open_stream("first", long)
        next(iter(running))  # decoding: the worker holds it, the queue is empty
        waiting = small.open_stream("second", long)  # the queue's one place
        try:
            response = chat(api, messages=HELLO, max_tokens=4)
            error = openai_error(response, 503, None, "model_busy")
            assert error["type"] == "server_error" and int(response.headers["Retry-After"]) >= 1
        finally:
            waiting.close()
            running.close()


def test_developer_messages_and_text_parts_are_accepted(api: Api) -> None:
    messages = [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]},
    ]
    response = chat(api, messages=messages, max_tokens=3, temperature=0)
    assert response.status_code == 200, response.json
    assert response.json["usage"]["completion_tokens"] >= 1


def test_an_image_part_is_a_400_naming_the_content(api: Api) -> None:
    part = {"type": "image_url", "image_url": {"url": "http://example.com/tick.png"}}
    response = chat(api, messages=[{"role": "user", "content": [part]}])
    assert "only text content parts" in openai_error(response, 400, "messages[0].content")["message"]
