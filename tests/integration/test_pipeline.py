"""Ingest -> qubic-ticks -> analyzer -> network-analysis, on every bus and store backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qcl.analysis import analyze_window
from qcl.analysis.report import AnalysisReport
from qcl.bus.base import Bus
from qcl.events import NETWORK_ANALYSIS, QUBIC_TICKS, Envelope
from qcl.pipeline.analyzer import HISTORY_KEY, LATEST_KEY, WINDOW_KEY, Analyzer
from qcl.pipeline.ingest import Ingestor
from qcl.qubic.capture import InvalidLine
from qcl.qubic.synth import generate_observations, with_tick, with_time
from qcl.qubic.types import Observation
from qcl.store.base import Store
from qcl.store.memory import MemoryStore
from tests.backends import wait_for

CALM_START = datetime(2025, 11, 8, 0, 0, tzinfo=UTC)  # a Saturday: far from the Wednesday epoch change


def calm_observations(n: int) -> list[Observation]:
    return generate_observations(start=CALM_START, hours=n * 30 / 3600 + 0.1)[:n]


@pytest.fixture
def reports(bus: Bus) -> list[Envelope[AnalysisReport]]:
    received: list[Envelope[AnalysisReport]] = []
    bus.subscribe(NETWORK_ANALYSIS, "api", received.append)
    return received


@pytest.fixture
def analyzer(bus: Bus, store: Store) -> Analyzer:
    service = Analyzer(bus, store, window_s=24 * 3600)
    bus.subscribe(QUBIC_TICKS, "analyzer", service.handle)
    return service


def test_each_ingested_observation_yields_one_analysis_report(
    bus: Bus, store: Store, analyzer: Analyzer, reports: list[Envelope[AnalysisReport]]
) -> None:
    ingestor = Ingestor(bus, store)
    observations = calm_observations(12)
    results = [ingestor.ingest(o) for o in observations]
    assert [r.status for r in results] == ["published"] * 12
    assert wait_for(lambda: len(reports) == 12)
    by_source = {r.data.observation_event_id: r for r in reports}
    assert set(by_source) == {r.event_id for r in results}
    newest = max(reports, key=lambda r: r.data.observed_at).data
    assert newest.window_observations == 12
    assert newest.metrics is not None and newest.metrics.tick == observations[-1].tick.tick
    assert newest.health_score == 100
    assert wait_for(lambda: (latest := store.get(LATEST_KEY)) is not None and latest == newest.model_dump_json())
    assert len(store.list_range(HISTORY_KEY, 100)) == 12


def test_the_same_tick_state_is_published_once(bus: Bus, store: Store) -> None:
    ingestor = Ingestor(bus, store)
    observation = calm_observations(1)[0]
    first = ingestor.ingest(observation)
    again = ingestor.ingest(
        observation.model_copy(update={"observed_at": observation.observed_at + timedelta(seconds=1)})
    )
    assert (first.status, again.status) == ("published", "duplicate")
    assert again.http_status == 200 and again.event_id == first.event_id
    assert "already published" in again.detail


def test_a_stalled_tick_is_still_published_as_its_duration_grows(bus: Bus, store: Store) -> None:
    ingestor = Ingestor(bus, store)
    observation = calm_observations(1)[0]
    stalled = with_time(with_tick(observation, duration=45), observation.observed_at + timedelta(seconds=45))
    assert [ingestor.ingest(o).status for o in (observation, stalled)] == ["published", "published"]


def test_an_observation_behind_the_published_tick_is_refused_as_out_of_order(bus: Bus, store: Store) -> None:
    ingestor = Ingestor(bus, store)
    newer, older = calm_observations(2)[1], calm_observations(2)[0]
    assert ingestor.ingest(newer).status == "published"
    result = ingestor.ingest(older)
    assert result.status == "out_of_order" and result.http_status == 409
    assert f"tick {older.tick.tick} is behind tick {newer.tick.tick}" in result.detail


def test_an_invalid_capture_line_is_refused_and_nothing_is_published(bus: Bus, store: Store) -> None:
    seen: list[Any] = []
    bus.subscribe(QUBIC_TICKS, "analyzer", seen.append)
    result = Ingestor(bus, store).ingest(InvalidLine(7, "line 7: not JSON (Expecting value at column 1)", None))
    assert result.status == "invalid" and result.http_status == 422
    assert "line 7" in result.detail
    assert not wait_for(lambda: bool(seen), timeout_s=0.5)


def test_a_failed_publish_releases_the_duplicate_claim(store: Store) -> None:
    from qcl.bus.memory import MemoryBus

    class BrokenBus(MemoryBus):
        def publish_bytes(
            self, topic_name: str, data: bytes, attributes: dict[str, str], *, ordering_key: str = ""
        ) -> str:
            raise ConnectionError("bus unreachable")

    observation = calm_observations(1)[0]
    with pytest.raises(ConnectionError):
        Ingestor(BrokenBus(), store).ingest(observation)
    assert Ingestor(MemoryBus(), store).ingest(observation).status == "published"


def test_a_redelivered_observation_is_not_counted_twice(bus: Bus, store: Store, reports: list[Any]) -> None:
    analyzer = Analyzer(bus, store, window_s=3600)
    event = QUBIC_TICKS.event(calm_observations(1)[0], source="//tests")
    analyzer.handle(event)
    analyzer.handle(event)
    assert len(store.window_range(WINDOW_KEY)) == 1
    assert len(store.list_range(HISTORY_KEY, 10)) == 1
    assert wait_for(lambda: len(reports) == 1)
    assert not wait_for(lambda: len(reports) > 1, timeout_s=0.5)


def test_a_report_id_is_derived_from_the_observation_event_id(bus: Bus, store: Store, reports: list[Any]) -> None:
    event = QUBIC_TICKS.event(calm_observations(1)[0], source="//tests")
    Analyzer(bus, store, window_s=3600).handle(event)
    Analyzer(bus, MemoryStore(), window_s=3600).handle(event)  # another instance that never saw it
    assert wait_for(lambda: len(reports) == 2)
    assert reports[0].id == reports[1].id != event.id


def test_an_impossible_observation_yields_a_data_invalid_report_and_is_kept_out_of_the_window(
    bus: Bus, store: Store, reports: list[Envelope[AnalysisReport]]
) -> None:
    analyzer = Analyzer(bus, store, window_s=3600)
    first, second = calm_observations(2)
    analyzer.handle(QUBIC_TICKS.event(first, source="//tests"))
    backwards = with_tick(second, tick=first.tick.tick - 50)
    analyzer.handle(QUBIC_TICKS.event(backwards, source="//tests"))
    assert wait_for(lambda: len(reports) == 2)
    codes = [f.code for f in reports[1].data.findings]
    assert "data_invalid" in codes
    assert len(store.window_range(WINDOW_KEY)) == 1


def test_a_poison_observation_is_dead_lettered_and_the_next_one_is_analysed(
    bus: Bus, store: Store, analyzer: Analyzer, reports: list[Envelope[AnalysisReport]]
) -> None:
    good = QUBIC_TICKS.event(calm_observations(1)[0], source="//tests")
    body = json.loads(QUBIC_TICKS.encode(good))
    body["data"]["latest_stats"]["data"]["price"] = "cheap"
    bus.publish_bytes(QUBIC_TICKS.name, json.dumps(body).encode(), {}, ordering_key="qubic-network")
    bus.publish(QUBIC_TICKS, good, ordering_key="qubic-network")
    assert wait_for(lambda: len(reports) == 1)
    dead: list[Any] = []
    assert wait_for(lambda: bool(dead.extend(bus.drain_dead_letters(QUBIC_TICKS, timeout_s=1))) or len(dead) == 1)
    assert "data.latest_stats.data.price" in dead[0].reason


def test_observation_round_trips_through_the_bus_unchanged(bus: Bus) -> None:
    seen: list[Envelope[Observation]] = []
    bus.subscribe(QUBIC_TICKS, "analyzer", seen.append)
    observation = calm_observations(1)[0]
    bus.publish(QUBIC_TICKS, QUBIC_TICKS.event(observation, source="//tests"))
    assert wait_for(lambda: len(seen) == 1)
    assert seen[0].data == observation


def test_the_local_stack_replays_a_capture_through_the_pipeline_and_stops(tmp_path: Path) -> None:
    from qcl.config import load_settings
    from qcl.pipeline.stack import LocalStack

    capture = tmp_path / "calm.jsonl"
    capture.write_text("\n".join(o.to_json_line() for o in calm_observations(15)) + "\n{truncated\n")
    stack = LocalStack(load_settings(capture=capture, replay_speed=0))
    lines = stack.start()
    try:
        assert any(line.startswith("source   replay of") for line in lines)
        assert stack.feed_done.wait(30)
        assert wait_for(lambda: len(stack.store.list_range(HISTORY_KEY, 100)) == 15)
    finally:
        stack.stop()


def test_a_subscriber_woken_by_a_report_finds_it_stored_as_the_latest(
    bus: Bus, store: Store, analyzer: Analyzer
) -> None:
    found: list[bool] = []
    bus.subscribe(NETWORK_ANALYSIS, "api", lambda e: found.append(store.get(LATEST_KEY) == e.data.model_dump_json()))
    ingestor = Ingestor(bus, store)
    for done, observation in enumerate(calm_observations(5), start=1):
        ingestor.ingest(observation)
        assert wait_for(lambda done=done: len(found) == done)  # one at a time: no later report overwrites it
    assert found == [True] * 5


def stored_window(store: Store) -> list[Observation]:
    return [Observation.model_validate_json(line) for line in store.window_range(WINDOW_KEY)]


def test_reports_equal_the_whole_stored_window_analysed_also_for_late_and_foreign_changes(
    bus: Bus, store: Store
) -> None:
    first, second, third, fourth, fifth = calm_observations(5)
    analyzer, other = Analyzer(bus, store, window_s=3600), Analyzer(bus, store, window_s=3600)
    for observation in (first, third, fourth):
        report = analyzer.analyze(observation, f"e{observation.tick.tick}")
        assert report == analyze_window(stored_window(store), observation_event_id=f"e{observation.tick.tick}")
    late = analyzer.analyze(second, "late")  # held back by retries: it takes its place in the window
    assert [o.tick.tick for o in stored_window(store)] == [o.tick.tick for o in (first, second, third, fourth)]
    assert late == analyze_window(stored_window(store), observation_event_id="late")
    other.analyze(fifth, "other")  # another instance changed the window: the first one reloads it
    sixth = with_time(with_tick(fifth, tick=fifth.tick.tick + 30), fifth.observed_at + timedelta(seconds=30))
    assert analyzer.analyze(sixth, "six") == analyze_window(stored_window(store), observation_event_id="six")
    assert stored_window(store)[-2:] == [fifth, sixth]
