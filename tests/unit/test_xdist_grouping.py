"""`make test` runs pytest-xdist with `--dist loadgroup`: a module marked xdist_group runs on one worker, which
builds its model or stage pools once. xdist schedules by an `@group` suffix it adds to each marked test's id; a
pytest that xdist cannot rename (9.2 with xdist 3.8) drops it without a word, and every worker then builds every
group's fixtures, running stage pools at once that are meant to run one at a time."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("grouping-check")


def test_an_xdist_group_mark_reaches_the_test_id(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("checks the grouping of `--dist loadgroup` (make test); this run does not group")
    assert request.node.nodeid.endswith("@grouping-check"), (
        f"{request.node.nodeid}: --dist loadgroup ignores xdist_group marks with this pytest and pytest-xdist "
        "(see the pytest pin in pyproject.toml)"
    )
