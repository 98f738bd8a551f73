# Provider-free tests of the naming module: terraform -chdir=infra/modules/naming test
# The registry under test is the real one (infra/topics.json, generated from the library).

variables {
  project_id  = "qcl-dev-123456"
  environment = "dev"
  region      = "europe-west4"
  registry    = jsondecode(file("../../topics.json"))
}

run "every_registry_subscription_is_planned" {
  command = plan
  assert {
    condition     = sort(keys(output.subscriptions)) == sort(flatten([for t in var.registry : t.subscriptions]))
    error_message = "planned subscriptions differ from the registry's"
  }
}

run "every_subscription_dead_letters_to_its_topics_dlq_one_attempt_after_the_consumer" {
  command = plan
  assert {
    condition = alltrue([
      for name, s in output.subscriptions : s.dead_letter_topic == "${s.topic}-dlq" && s.max_delivery_attempts == 6
    ])
    error_message = "a subscription lacks its <topic>-dlq backstop at QCL_MAX_DELIVERY_ATTEMPTS + 1"
  }
}

run "every_dead_letter_topic_has_a_hold_subscription" {
  command = plan
  assert {
    condition     = sort(values(output.hold_subscriptions)) == output.dead_letter_topics
    error_message = "a dead-letter topic has no .hold subscription"
  }
}

run "cloud_run_consumers_are_pushed_to_and_the_rest_pull" {
  command = plan
  assert {
    condition = alltrue([
      for name, s in output.subscriptions : s.push == contains(["analyzer", "narrator"], s.consumer)
    ])
    error_message = "push/pull split does not follow push_consumers"
  }
}

run "push_paths_default_to_the_topic_and_honour_overrides" {
  command = plan
  assert {
    condition     = output.subscriptions["qubic-ticks.analyzer"].push_path == "/" && output.subscriptions["ai-requests.narrator"].push_path == "/ai-requests"
    error_message = "push paths: analyzer must keep its \"/\" override, others default to /<topic>"
  }
}

run "ack_deadline_equals_the_consumer_timeout" {
  command = plan
  assert {
    condition     = output.subscriptions["network-analysis.narrator"].ack_deadline_seconds == 600 && output.subscriptions["qubic-ticks.analyzer"].ack_deadline_seconds == 60
    error_message = "ack deadlines do not follow consumer_timeouts_s"
  }
}

run "consumers_without_a_timeout_get_sixty_seconds" {
  command = plan
  variables {
    consumer_timeouts_s = {}
  }
  assert {
    condition     = alltrue([for s in values(output.subscriptions) : s.ack_deadline_seconds == 60])
    error_message = "the default ack deadline must be 60 s"
  }
}

run "stages_take_the_planned_layer_ranges" {
  command = plan
  assert {
    condition     = [for s in output.shard_stages : "${s.first}:${s.end}"] == ["0:12", "12:24", "24:30"]
    error_message = "the default ranges are the library's plan for SmolLM2 in fp32: 0:12, 12:24, 24:30"
  }
}

run "other_ranges_pass_through_in_order" {
  command = plan
  variables {
    shard_layer_ranges = ["0:11", "11:22", "22:28"]
  }
  assert {
    condition     = [for s in output.shard_stages : [s.index, s.first, s.end]] == [[0, 0, 11], [1, 11, 22], [2, 22, 28]]
    error_message = "stages must carry the given ranges, in order"
  }
}

run "publishers_follow_the_registry_except_the_scheduler" {
  command = plan
  assert {
    condition     = contains(keys(output.publishers), "qubic-ticks/ingest") && !contains(keys(output.publishers), "ai-requests/scheduler")
    error_message = "publish grants must follow producers, without the scheduler"
  }
}

run "pull_consumers_get_subscriber_grants_only" {
  command = plan
  assert {
    condition     = toset(keys(output.pull_subscribers)) == toset([for n, s in output.subscriptions : n if !s.push])
    error_message = "every pull subscription, and only those, needs a subscriber grant"
  }
}

run "each_committee_member_reads_its_own_subscription_with_its_own_identity" {
  command = plan
  variables {
    registry = [{
      topic     = "oracle-protocol", dead_letter_topic = "oracle-protocol-dlq", event_type = "x.v1", description = "",
      producers = ["oracle"], consumers = ["oracle-0", "oracle-1", "oracle-5"], subscriptions = ["oracle-protocol.oracle-0", "oracle-protocol.oracle-1", "oracle-protocol.oracle-5"]
      }, {
      topic     = "oracle-requests", dead_letter_topic = "oracle-requests-dlq", event_type = "y.v1", description = "",
      producers = ["api"], consumers = ["oracle"], subscriptions = ["oracle-requests.oracle"]
    }]
  }
  assert {
    condition = { for name, readers in output.pull_subscribers : name => join(",", readers) } == {
      "oracle-protocol.oracle-0" = "oracle-0", "oracle-protocol.oracle-1" = "oracle-1", "oracle-protocol.oracle-5" = "",
      "oracle-requests.oracle"   = "oracle-0,oracle-1,oracle-2,oracle-3"
    }
    error_message = "member i must pull oracle-protocol.oracle-i alone (none past n = 4); all members share oracle-requests"
  }
  assert {
    condition     = toset(keys(output.publishers)) == toset(["oracle-protocol/oracle-0", "oracle-protocol/oracle-1", "oracle-protocol/oracle-2", "oracle-protocol/oracle-3", "oracle-requests/api"])
    error_message = "every member publishes what the oracle publishes, each as itself"
  }
  assert {
    condition     = toset(keys(output.dead_letter_publishers)) == toset(["oracle-protocol-dlq/oracle-0", "oracle-protocol-dlq/oracle-1", "oracle-requests-dlq/oracle-0", "oracle-requests-dlq/oracle-1", "oracle-requests-dlq/oracle-2", "oracle-requests-dlq/oracle-3"])
    error_message = "each member dead-letters as itself"
  }
}

run "one_identity_and_service_per_committee_member_and_none_shared" {
  command = plan
  variables {
    oracle_nodes = 7
  }
  assert {
    condition     = !contains(keys(output.service_accounts), "oracle") && length([for k in keys(output.service_accounts) : k if startswith(k, "oracle-")]) == 7
    error_message = "expected a service account per member and no shared oracle identity"
  }
  assert {
    condition     = output.services["oracle-6"] == "qcl-oracle-6" && output.oracle_members["oracle-6"].key_secret == "oracle_node_key_6"
    error_message = "member 6 must have its own service and key secret"
  }
}

run "service_account_ids_fit_the_6_to_30_character_rule" {
  command = plan
  variables {
    name_prefix = "abcdefgh"
  }
  assert {
    condition     = alltrue([for id in values(output.service_accounts) : length(id) >= 6 && length(id) <= 30])
    error_message = "a service account id is outside 6-30 characters"
  }
}

run "one_oracle_key_secret_per_committee_member" {
  command = plan
  variables {
    oracle_nodes = 7
  }
  assert {
    condition     = length([for k in keys(output.secrets) : k if startswith(k, "oracle_node_key_")]) == 7
    error_message = "expected one key secret per oracle node"
  }
}

run "rejects_an_unknown_environment" {
  command = plan
  variables {
    environment = "staging"
  }
  expect_failures = [var.environment]
}

run "rejects_a_region_without_cloud_run_l4" {
  command = plan
  variables {
    region = "us-west1"
  }
  expect_failures = [var.region]
}

run "rejects_an_invalid_project_id" {
  command = plan
  variables {
    project_id = "Bad_Project"
  }
  expect_failures = [var.project_id]
}

run "rejects_a_prefix_that_would_overflow_service_account_ids" {
  command = plan
  variables {
    name_prefix = "muchtoolong"
  }
  expect_failures = [var.name_prefix]
}

run "rejects_a_timeout_above_the_pubsub_ack_deadline_limit" {
  command = plan
  variables {
    consumer_timeouts_s = { narrator = 900 }
  }
  expect_failures = [var.consumer_timeouts_s]
}

run "rejects_delivery_attempts_below_the_pubsub_minimum" {
  command = plan
  variables {
    max_delivery_attempts = 3
  }
  expect_failures = [var.max_delivery_attempts]
}

run "rejects_an_oracle_committee_that_is_not_3f_plus_1" {
  command = plan
  variables {
    oracle_nodes = 5
  }
  expect_failures = [var.oracle_nodes]
}

run "rejects_two_stages" {
  command = plan
  variables {
    shard_layer_ranges = ["0:15", "15:30"]
  }
  expect_failures = [var.shard_layer_ranges]
}

run "rejects_a_gap_between_stages" {
  command = plan
  variables {
    shard_layer_ranges = ["0:10", "11:20", "20:30"]
  }
  expect_failures = [var.shard_layer_ranges]
}

run "rejects_an_empty_range" {
  command = plan
  variables {
    shard_layer_ranges = ["0:10", "10:10", "10:30"]
  }
  expect_failures = [var.shard_layer_ranges]
}

run "rejects_a_privileged_shard_port" {
  command = plan
  variables {
    shard_port = 80
  }
  expect_failures = [var.shard_port]
}

run "rejects_a_schedule_that_is_not_five_field_cron" {
  command = plan
  variables {
    ingest_schedule = "every minute"
  }
  expect_failures = [var.ingest_schedule]
}

run "rejects_push_to_a_service_that_does_not_exist" {
  command = plan
  variables {
    push_consumers = { api = {} }
  }
  expect_failures = [var.push_consumers]
}

run "rejects_a_topic_name_pubsub_would_refuse" {
  command = plan
  variables {
    registry = [{
      topic     = "goog-ticks", dead_letter_topic = "goog-ticks-dlq", event_type = "x.v1", description = "",
      producers = ["ingest"], consumers = ["analyzer"], subscriptions = ["goog-ticks.analyzer"]
    }]
  }
  expect_failures = [var.registry]
}

run "warns_when_the_registry_names_a_component_without_a_service_account" {
  command = plan
  variables {
    registry = [{
      topic     = "alerts", dead_letter_topic = "alerts-dlq", event_type = "x.v1", description = "",
      producers = ["pager"], consumers = ["analyzer"], subscriptions = ["alerts.analyzer"]
    }]
  }
  expect_failures = [check.registry_components_known]
}

run "the_example_workflow_triggers_become_eventarc_triggers_or_stay_local" {
  command = plan
  variables {
    workflow_triggers = jsondecode(file("../../../workflows/triggers.json"))
  }
  assert {
    condition     = keys(output.workflow_topic_triggers) == ["critical-alert-0"] && output.workflow_topic_triggers["critical-alert-0"].topic == "network-analysis"
    error_message = "critical-alert's condition reads only the event: it must become an Eventarc trigger on network-analysis"
  }
  assert {
    condition     = keys(output.workflow_triggers_local_only) == ["epoch-report-0"]
    error_message = "epoch-report's condition reads previous: it must be listed as local only"
  }
}

run "schedules_become_unix_cron" {
  command = plan
  variables {
    workflow_triggers = {
      report = [{ every_s = 300 }, { every_s = 3600 }, { every_s = 21600 }, { every_s = 86400 }, { cron = "0 12 * * 3" }]
      alert  = [{ topic = "network-analysis" }]
    }
  }
  assert {
    condition     = [for i in range(5) : output.workflow_schedules["report-${i}"].schedule] == ["*/5 * * * *", "0 */1 * * *", "0 */6 * * *", "0 0 * * *", "0 12 * * 3"]
    error_message = "every_s and cron triggers do not map to the unix-cron schedules that repeat them"
  }
  assert {
    condition     = output.workflow_topic_triggers["alert-0"].condition == "$${true}"
    error_message = "a topic trigger without a condition fires on every event"
  }
}

run "rejects_an_interval_cloud_scheduler_cannot_repeat" {
  command = plan
  variables {
    workflow_triggers = { report = [{ every_s = 90 }] }
  }
  expect_failures = [var.workflow_triggers]
}

run "rejects_a_trigger_of_two_kinds" {
  command = plan
  variables {
    workflow_triggers = { report = [{ every_s = 300, cron = "* * * * *" }] }
  }
  expect_failures = [var.workflow_triggers]
}
