"""The official `openai` client streams a chat completion from `qcl up` running the default model (SmolLM2).

Slow: `qcl up` is a real process that loads the default model from the test session's conversion cache
(tests/conftest.py: converted once per run, or kept in $QCL_TEST_MODEL_CACHE_DIR).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openai import OpenAI

from qcl.model.registry import DEFAULT_MODEL
from qcl.qubic.synth import generate_lines
from tests.backends import wait_for

# The stack loads SmolLM2 (77 s on an idle CI VM, over 300 s on a loaded one): its own wait names the output first.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def up_with_model(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(API URL, admin key) of `qcl up` narrating with the default model."""
    capture = tmp_path / "calm.jsonl"
    capture.write_text("\n".join(generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.05)) + "\n")
    env = {**os.environ, "QCL_STATE_DIR": str(tmp_path / "state"), "QCL_NARRATE_LANGUAGES": '["en"]'}
    process = subprocess.Popen(
        [sys.executable, "-m", "qcl.cli", "up", "--port", "0", "--speed", "0", "--capture", str(capture)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        assert wait_for(lambda: "qcl up: running" in "".join(output), timeout_s=480), "".join(output)
        url = re.search(r"qcl up: api\s+(http://127\.0\.0\.1:\d+)", "".join(output))
        assert url, "".join(output)
        assert "narration: model" in "".join(output), "".join(output)
        assert f"qcl up: openai   {url.group(1)}/v1 " in "".join(output)  # where to point the client
        yield url.group(1), (tmp_path / "state" / "admin.key").read_text().strip()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def test_the_openai_client_streams_a_chat_completion_from_qcl_up(up_with_model: tuple[str, str]) -> None:
    url, key = up_with_model
    # The narrator shares the model: a full queue answers 503 + Retry-After, which the client waits out and retries.
    client = OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=8, timeout=300)
    assert [model.id for model in client.models.list()] == [DEFAULT_MODEL]
    chunks = list(
        client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[{"role": "user", "content": "What is a blockchain tick? Answer in one sentence."}],
            max_tokens=24,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) >= 3  # real words from a real model
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"])
    usage = chunks[-1].usage
    assert usage is not None and 0 < usage.completion_tokens <= 24 and usage.prompt_tokens > 10
