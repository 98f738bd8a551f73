"""`qcl bench openai` measures both paths on the same tokens (figures are checked for shape, not speed)."""

from __future__ import annotations

from pathlib import Path

from qcl.bench.openai import PROMPTS, run_openai_bench
from qcl.config import load_settings


def test_openai_bench_times_both_paths_on_the_same_tokens(tmp_path: Path) -> None:
    progress: list[str] = []
    settings = load_settings(model_cache_dir=tmp_path / "models", state_dir=tmp_path / "state")
    result = run_openai_bench(settings, model_id="tiny-random-llama", new_tokens=8, runs=1, progress=progress.append)
    assert result["same_tokens_both_paths"] is True
    assert result["direct"]["tokens"] == result["endpoint"]["tokens"] == 8 * len(PROMPTS)
    for path in ("direct", "endpoint"):
        assert 0 < result[path]["ttft_ms_p50"] <= result[path]["ttft_ms_max"]
        assert result[path]["tokens_per_s_p50"] > 0
    assert result["tokens_per_s_ratio"] > 0 and result["ttft_ratio"] > 0
    assert result["machine"]["cpus"] >= 1
    assert progress[-1].startswith(f"{len(PROMPTS)}/{len(PROMPTS)}: ")
