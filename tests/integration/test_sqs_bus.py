"""What only the SQS bus does, against moto's server: a service on AWS finds the topology Terraform made (it creates
nothing: topic ARNs from the account and region, queue URLs by name), and says it is not ready without it."""

from __future__ import annotations

import os

import pytest

from qcl.bus.sqs import SqsBus
from qcl.events import AI_REQUESTS, AIRequest, Envelope
from tests.backends import unique, wait_for
from tests.integration.conftest import aws_environment

pytestmark = pytest.mark.aws


def test_a_service_finds_the_topology_it_did_not_create(moto_endpoint: str) -> None:
    os.environ.update(aws_environment(moto_endpoint))
    prefix = unique("t") + "-"
    SqsBus(prefix, create_missing=True).close()  # what infra/aws creates
    service = SqsBus(prefix, create_missing=False)
    try:
        assert service.ping() is True
        seen: list[Envelope[AIRequest]] = []
        service.subscribe(AI_REQUESTS, "narrator", seen.append)
        request = AIRequest(request_id="r1", kind="question", question="Is the network healthy?", language="en")
        service.publish(AI_REQUESTS, AI_REQUESTS.event(request, source="//tests"))
        assert wait_for(lambda: [e.data.request_id for e in seen] == ["r1"])
    finally:
        service.close()


def test_without_its_topology_the_bus_is_not_ready(moto_endpoint: str) -> None:
    os.environ.update(aws_environment(moto_endpoint))
    bus = SqsBus(unique("t") + "-", create_missing=False)
    try:
        assert bus.ping() is False
    finally:
        bus.close()
