"""Structural checks of infra/ with python-hcl2: the properties the deployment promises, read from the source.

    .venv/bin/pytest tests/infra/test_terraform_shape.py

The naming module's computed values (routes, ack deadlines, layer splits) are checked by `terraform test` in
infra/modules/naming/tests; these tests check that the resources use them and carry the required settings.
"""

from __future__ import annotations

import re

import pytest

from tests.infra import hcl


def _subscription(name: str) -> hcl.Resource:
    return next(r for r in hcl.resources("google_pubsub_subscription") if r.name == name)


def test_root_reads_the_registry_file_and_passes_it_to_naming() -> None:
    main = hcl.INFRA / "main.tf"
    assert "topics.json" in hcl.locals_of(main)["registry"]
    assert hcl.module_calls(main)["naming"]["registry"] == "${local.registry}"


def test_topics_and_dead_letter_topics_come_from_the_naming_module() -> None:
    # Besides the registry's topics, only Cloud Monitoring's incidents topic (its own JSON, no qcl event envelope).
    topics = {r.file.parent.name: r for r in hcl.resources("google_pubsub_topic")}
    assert sorted(topics) == ["monitoring", "pubsub"]
    topic = topics["pubsub"]
    assert "var.topics" in topic.body["for_each"] or "local.all_topics" in topic.body["for_each"]
    assert hcl.module_calls(hcl.INFRA / "main.tf")["pubsub"]["topics"] == "${module.naming.topics}"


def test_every_consumer_subscription_has_a_dead_letter_policy() -> None:
    policy = hcl.blocks(_subscription("this").body, "dead_letter_policy")
    assert len(policy) == 1
    assert "dead_letter_topic" in policy[0]["dead_letter_topic"]
    assert policy[0]["max_delivery_attempts"] == "${each.value.max_delivery_attempts}"


def test_every_consumer_subscription_has_a_retry_policy_and_ordering() -> None:
    body = _subscription("this").body
    assert hcl.blocks(body, "retry_policy") == [{"minimum_backoff": "1s", "maximum_backoff": "60s"}]
    assert body["enable_message_ordering"] is True


def test_ack_deadline_follows_the_consumer_timeout() -> None:
    assert _subscription("this").body["ack_deadline_seconds"] == "${each.value.ack_deadline_seconds}"


def test_every_push_subscription_carries_an_oidc_token_for_the_service() -> None:
    push = hcl.blocks(_subscription("this").body, "push_config")
    assert len(push) == 1
    token = push[0]["oidc_token"][0]
    assert token["service_account_email"] == "${var.push_service_account_email}"
    assert token["audience"].startswith("${var.push_endpoints[")


def test_every_dead_letter_topic_has_a_hold_subscription_that_keeps_messages() -> None:
    hold = _subscription("hold")
    assert hold.body["for_each"] == "${var.hold_subscriptions}"
    assert hold.body["retain_acked_messages"] is True
    assert hcl.blocks(hold.body, "push_config") == []


def test_pubsub_service_agent_may_publish_dead_letters_and_ack_sources() -> None:
    in_module = [r for r in hcl.resources() if r.file.parent.name == "pubsub"]
    topic_grant = next(r for r in in_module if r.type == "google_pubsub_topic_iam_member")
    sub_grant = next(r for r in in_module if r.type == "google_pubsub_subscription_iam_member")
    assert topic_grant.body["role"] == "roles/pubsub.publisher"
    assert sub_grant.body["role"] == "roles/pubsub.subscriber"
    for grant in (topic_grant, sub_grant):
        assert grant.body["member"] == "${local.pubsub_agent}"
    agent = hcl.locals_of(hcl.INFRA / "modules/pubsub/main.tf")["pubsub_agent"]
    assert "@gcp-sa-pubsub.iam.gserviceaccount.com" in agent


def test_gpu_template_terminates_on_host_maintenance() -> None:
    scheduling = hcl.one("google_compute_instance_template").body["scheduling"][0]
    assert scheduling["on_host_maintenance"] == "TERMINATE"


def test_gpu_template_is_a_shielded_vm_without_project_ssh_keys_or_external_address() -> None:
    body = hcl.one("google_compute_instance_template").body
    assert body["shielded_instance_config"][0] == {
        "enable_secure_boot": True,
        "enable_vtpm": True,
        "enable_integrity_monitoring": True,
    }
    assert body["metadata"]["block-project-ssh-keys"] == "true"
    assert all("access_config" not in nic for nic in body["network_interface"])


def test_shard_pool_is_a_regional_group_of_three_with_grpc_auto_healing() -> None:
    group = hcl.one("google_compute_region_instance_group_manager").body
    assert group["target_size"] == 3
    healing = group["auto_healing_policies"][0]
    assert healing["health_check"] == "${google_compute_health_check.shard.id}"
    check = hcl.one("google_compute_health_check").body
    assert check["grpc_health_check"][0]["port"] == "${var.health_port}"  # the data port is mTLS


def test_each_shard_vm_keeps_its_stage_and_layers_across_healing() -> None:
    config = hcl.one("google_compute_region_per_instance_config").body
    metadata = config["preserved_state"][0]["metadata"]
    assert set(metadata) == {"qcl-stage", "qcl-layers"}
    startup = (hcl.INFRA / "modules/shard_pool/startup.sh.tftpl").read_text()
    assert "instance/attributes/qcl-layers" in startup
    assert 'shard serve --model ${model} --layers "$LAYERS" --port ${port} --tls-dir /secrets/tls' in startup


def test_each_shard_vm_fetches_its_own_certificate_from_secret_manager() -> None:
    startup = (hcl.INFRA / "modules/shard_pool/startup.sh.tftpl").read_text()
    assert 'secret "$NAME-tls-key" > "$HOME/tls/key.pem"' in startup and "umask 077" in startup
    tls = next(r for r in hcl.resources("google_secret_manager_secret") if r.name == "tls")
    assert tls.body["for_each"] == "${local.tls_secrets}"
    assert "secret_data" not in tls.body  # values are added out of band: no private key in the Terraform state
    reader = next(r for r in hcl.resources("google_secret_manager_secret_iam_member") if r.name == "tls_reader")
    assert reader.body["role"] == "roles/secretmanager.secretAccessor"


def test_firewall_rules_allow_only_internal_sources() -> None:
    for rule in hcl.resources("google_compute_firewall"):
        if "allow" in rule.body:
            assert "0.0.0.0/0" not in str(rule.body.get("source_ranges", "")), rule.name
            assert "source_ranges" in rule.body or "source_tags" in rule.body, rule.name


def test_no_iam_binding_grants_all_users() -> None:
    for path in hcl.tf_files():
        text = path.read_text()
        assert not re.search(r'"all(Authenticated)?Users"\s*$', text, re.MULTILINE), path
    for resource in hcl.resources():
        if resource.type.endswith("_iam_member") or resource.type.endswith("_iam_binding"):
            member = str(resource.body.get("member", resource.body.get("members", "")))
            assert "allUsers" not in member and "allAuthenticatedUsers" not in member, resource


def test_invoker_lists_refuse_all_users() -> None:
    for module in ("cloud_run_service", "function"):
        body = next(b for p, n, b in hcl.variables() if n == "invokers" and p.parent.name == module)
        assert "allUsers" in body["validation"][0]["condition"], module


def test_only_pubsub_reaches_the_consumer_services() -> None:
    service = hcl.module_calls(hcl.INFRA / "services.tf")["service"]
    assert service["ingress"] == '${each.value.public ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"}'
    assert service["invokers"] == (
        '${each.value.public ? var.api_invokers : ["serviceAccount:${google_service_account.component["push"].email}"]}'
    )
    shapes = hcl.locals_of(hcl.INFRA / "services.tf")["cloud_run"]
    assert {name for name, shape in shapes.items() if shape["public"]} == {"api"}


def test_services_that_pull_or_hold_a_gpu_keep_their_cpu_allocated() -> None:
    shapes = hcl.locals_of(hcl.INFRA / "services.tf")["cloud_run"]
    assert {name for name, shape in shapes.items() if shape["always_on"]} == {"narrator", "api"}  # oracle: oracle.tf
    assert hcl.module_calls(hcl.INFRA / "services.tf")["service"]["cpu_always_allocated"] == "${each.value.always_on}"


def test_cloud_run_timeout_is_the_consumer_timeout_behind_the_ack_deadline() -> None:
    service = hcl.module_calls(hcl.INFRA / "services.tf")["service"]
    assert service["timeout_s"] == "${local.timeouts[each.key]}"
    timeouts = hcl.locals_of(hcl.INFRA / "services.tf")["timeouts"]
    assert "module.naming.consumer_timeouts_s" in timeouts


def test_narrator_has_an_l4_with_four_cpus_sixteen_gib_and_cpu_always_allocated() -> None:
    narrator = hcl.locals_of(hcl.INFRA / "services.tf")["cloud_run"]["narrator"]
    assert narrator["gpu"] is True
    assert int(narrator["cpu"]) >= 4
    assert narrator["memory"].endswith("Gi") and int(narrator["memory"][:-2]) >= 16
    assert narrator["min"] == "${var.narrator_min_instances}"
    body = hcl.one("google_cloud_run_v2_service").body
    resources = body["template"][0]["containers"][0]["resources"][0]
    assert resources["cpu_idle"] == "${!(var.cpu_always_allocated || var.gpu)}"
    assert hcl.blocks(body["template"][0], "node_selector") == [{"accelerator": "${node_selector.value}"}]


def test_cloud_run_services_have_startup_and_liveness_probes_and_scaling_limits() -> None:
    template = hcl.one("google_cloud_run_v2_service").body["template"][0]
    container = template["containers"][0]
    assert container["startup_probe"][0]["http_get"][0]["path"] == "${var.health_path}"
    assert container["liveness_probe"][0]["http_get"][0]["path"] == "${var.health_path}"
    assert template["scaling"][0]["max_instance_count"] == "${var.max_instances}"
    assert template["max_instance_request_concurrency"] == "${var.concurrency}"


def test_redis_has_auth_and_in_transit_encryption() -> None:
    redis = hcl.one("google_redis_instance").body
    assert redis["auth_enabled"] is True
    assert redis["transit_encryption_mode"] == "SERVER_AUTHENTICATION"


def test_services_read_redis_over_tls_verified_against_the_instance_ca() -> None:
    version = next(r for r in hcl.resources("google_secret_manager_secret_version") if r.name == "redis_url")
    url = version.body["secret_data"]
    assert url.startswith('${format("rediss://')
    assert "ssl_cert_reqs=required&ssl_ca_certs=/secrets/redis-ca/ca.pem" in url
    assert hcl.locals_of(hcl.INFRA / "services.tf")["redis_secret_files"] == {
        "/secrets/redis-ca": "${google_secret_manager_secret.redis_ca.secret_id}"
    }


def test_scheduler_calls_ingest_with_an_oidc_token() -> None:
    job = next(r for r in hcl.resources("google_cloud_scheduler_job") if r.name == "ingest").body
    target = job["http_target"][0]
    assert target["uri"] == '${module.function["ingest"].uri}'
    assert target["oidc_token"][0]["audience"] == '${module.function["ingest"].uri}'
    assert job["schedule"] == "${module.naming.ingest_schedule}"


def test_each_component_has_its_own_service_account() -> None:
    account = hcl.one("google_service_account").body
    assert account["for_each"] == "${module.naming.service_accounts}"
    assert account["account_id"] == "${each.value}"


def test_stalled_pipeline_alert_watches_the_analyzer_report_metric() -> None:
    policy = next(r for r in hcl.resources("google_monitoring_alert_policy") if r.name == "pipeline_stalled")
    condition = policy.body["conditions"][0]["condition_absent"][0]
    assert "google_logging_metric.analysis_published.name" in condition["filter"]
    metric = next(r for r in hcl.resources("google_logging_metric") if r.name == "analysis_published")
    assert "^analysis: tick " in metric.body["filter"]


_VARIABLES = hcl.variables()


@pytest.mark.parametrize(("path", "name", "body"), _VARIABLES, ids=[f"{p.parent.name}/{n}" for p, n, _ in _VARIABLES])
def test_every_variable_has_a_type_and_a_description(path: object, name: str, body: dict[str, object]) -> None:
    assert "type" in body, f"{path}: variable {name} has no type"
    assert str(body.get("description", "")).strip(), f"{path}: variable {name} has no description"


def test_every_module_pins_its_providers_to_a_minor_line() -> None:
    for path in hcl.tf_files():
        for block in hcl.load(path).get("terraform", []):
            assert "required_version" in block, path
            for providers in block.get("required_providers", []):
                for name, spec in providers.items():
                    assert re.fullmatch(r"~> \d+\.\d+", spec["version"]), f"{path}: {name} {spec['version']}"
