"""open_source() with QCL_SOURCE=replay: the configured capture, or the bundled sample."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from qcl.config import load_settings
from qcl.qubic.replay import ReplaySource
from qcl.qubic.source import ObservationSource, open_source
from qcl.qubic.types import Observation
from tests.fakes.observations import observations, write_capture_file


def test_open_source_replays_the_configured_capture_from_a_position(tmp_path: Path) -> None:
    capture = write_capture_file(tmp_path / "capture.jsonl", [item.to_json_line() for item in observations(3)])

    source = open_source(load_settings(source="replay", capture=capture), position=1)
    try:
        assert isinstance(source, ReplaySource)
        assert isinstance(source, ObservationSource)
        item = source.next()
    finally:
        source.close()

    assert isinstance(item, Observation)
    assert item == observations(3)[1]


@pytest.mark.skipif(
    importlib.util.find_spec("qcl.qubic.synth") is None, reason="qcl.qubic.synth (the bundled sample) not written yet"
)
def test_open_source_without_a_capture_plays_the_bundled_sample() -> None:
    from qcl.qubic.synth import sample_capture_path

    source = open_source(load_settings(source="replay"))
    try:
        assert isinstance(source, ReplaySource)
        assert source.path == Path(sample_capture_path())
        assert isinstance(source.next(), Observation)
    finally:
        source.close()
