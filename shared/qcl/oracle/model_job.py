"""The model job: an exact job over a canonicalised, greedy model answer (the model is one pluggable executor).

    service = load_service(settings)                    # qcl.model: the one place that runs a model
    executors.register(MODEL_TASK, model_task(service))
    spec = model_spec(service, blob)                    # pins model id, weights hash, prompt version, greedy, tokens

Agreeing on model output needs byte-identical answers from honest members (reference notes §4): the spec pins the
model, its weights hash, the prompt template version, greedy decoding and max_new_tokens, and the answer is
canonicalised (Unicode NFC, whitespace collapsed, trimmed) before it is hashed. A member whose loaded model differs
from the spec abstains instead of voting a different answer. Greedy output is still only reproducible on the same
kind of hardware and library versions; members that differ there make the job unresolvable, never wrong.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from pydantic import JsonValue

from qcl.events import OracleJobSpec
from qcl.oracle.canonical import sha256_hex
from qcl.oracle.errors import JobError
from qcl.oracle.jobs import CODE_VERSION, Task, observations_of

if TYPE_CHECKING:
    from qcl.model.service import GenerationService

MODEL_TASK = "model.verdict"
PROMPT_VERSION = "oracle-verdict-v1"  # bump when the template below changes: other prompt, other job
MAX_NEW_TOKENS = 24


def verdict_messages(blob: bytes) -> list[dict[str, str]]:
    """Prompt template oracle-verdict-v1: the analysis of the window, and a one-line verdict asked for."""
    from qcl.analysis import analyze_window

    report = analyze_window(observations_of(blob))
    findings = ", ".join(f"{f.code} ({f.severity})" for f in report.findings) or "none"
    return [
        {"role": "system", "content": "You are a terse network monitor. Answer in one short sentence."},
        {
            "role": "user",
            "content": f"Qubic network health score {report.health_score}/100 ({report.status}). "
            f"Findings: {findings}. Is the network healthy?",
        },
    ]


def canonical_answer(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def model_spec(service: GenerationService, blob: bytes, *, subject: str | None = None) -> OracleJobSpec:
    return OracleJobSpec(
        kind="exact",
        task=MODEL_TASK,
        input_digest=sha256_hex(blob),
        code_version=CODE_VERSION,
        model_id=service.model_id,
        weights_sha256=service.loaded.weights_sha256,
        prompt_version=PROMPT_VERSION,
        decoding="greedy",
        max_new_tokens=MAX_NEW_TOKENS,
        subject=subject,
    )


def model_task(service: GenerationService) -> Task:
    from qcl.model.service import GenerationParams

    def run(blob: bytes, spec: OracleJobSpec) -> JsonValue:
        if spec.model_id != service.model_id or spec.weights_sha256 != service.loaded.weights_sha256:
            raise JobError(
                f"the job pins model {spec.model_id} with weights {str(spec.weights_sha256)[:12]}…; this member runs "
                f"{service.model_id} with {service.loaded.weights_sha256[:12]}…"
            )
        if spec.prompt_version != PROMPT_VERSION or spec.decoding != "greedy" or spec.max_new_tokens is None:
            raise JobError(f"this member runs prompt {PROMPT_VERSION} with greedy decoding and a token limit")
        params = GenerationParams(temperature=0.0, max_new_tokens=spec.max_new_tokens)
        result = service.generate(verdict_messages(blob), params)
        return {"answer": canonical_answer(result.text)}

    return Task("exact", run, None, "a one-sentence verdict by the pinned model, greedy, canonicalised")
