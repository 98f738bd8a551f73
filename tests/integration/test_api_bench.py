"""`qcl bench api` loads a real `qcl up` and reports what it measured (checked for shape, not speed)."""

from __future__ import annotations

import pytest

from qcl.bench.api import CASES, run_api_bench


@pytest.mark.slow
def test_api_bench_reports_every_case_at_every_concurrency() -> None:
    lines: list[str] = []
    result = run_api_bench(requests=20, concurrency=[2, 5], max_s=20, progress=lines.append)
    assert [(r["case"], r["concurrency"]) for r in result["results"]] == [(c, n) for c in CASES for n in (2, 5)]
    latest = result["results"][0]
    assert latest["requests"] == 20 and latest["errors"] == {}
    assert 0 < latest["latency_ms_p50"] <= latest["latency_ms_p95"] <= latest["latency_ms_p99"]
    assert result["narration"] in ("model", "templates", "absent") and result["narration_note"]
    assert any("serving at http://127.0.0.1:" in line for line in lines)


@pytest.mark.slow
def test_api_bench_with_think_time_offers_users_pace() -> None:
    result = run_api_bench(requests=12, concurrency=[4], max_s=20, cases=("network_latest",), think_s=0.05)
    [row] = result["results"]
    assert (row["think_s"], row["offered_requests_per_s"]) == (0.05, 80.0)
    assert row["requests"] == 12 and row["errors"] == {}
