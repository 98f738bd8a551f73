"""Building findings: every field filled, and numbers written the same way in messages and evidence.

Messages carry the actual numbers because the narrator's grounding check compares model text with them; the
helpers here round once, and the rules put the rounded value both in the text and in `evidence`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from qcl.analysis.report import Finding, FindingCode, Severity
from qcl.analysis.timeline import Sample

Evidence = dict[str, float | int | str | None]


def make_finding(
    code: FindingCode,
    severity: Severity,
    sample: Sample,
    *,
    metric: str,
    value: float | str | None,
    threshold: float | None,
    message_en: str,
    message_zh: str,
    evidence: Evidence,
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        observed_at=sample.observed_at,
        tick=sample.tick,
        metric=metric,
        value=value,
        threshold=threshold,
        message_en=message_en,
        message_zh=message_zh,
        evidence=evidence,
    )


def price_text(price: float) -> str:
    """A price the way the stats API writes it: 3 significant digits, `9.12e-7` (no exponent padding)."""
    text = f"{price:.3g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def round_pct(value: float, digits: int = 1) -> float:
    return round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def clock(t: float) -> str:
    """HH:MM UTC of a Unix time, for messages."""
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M")


def iso(at: datetime) -> str:
    """RFC 3339 UTC with a Z, to the millisecond unless finer digits matter."""
    spec = "milliseconds" if at.microsecond % 1000 == 0 else "microseconds"
    return at.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def minutes(seconds: float) -> int:
    return round(seconds / 60)
