# Provider-free tests of the AWS bus names and grants: terraform -chdir=infra/modules/aws_naming test
# The registry under test is the real one (infra/topics.json, generated from the library).

variables {
  registry = jsondecode(file("../../topics.json"))
}

run "every_registry_subscription_has_a_fifo_queue_named_as_the_library_names_it" {
  command = plan
  assert {
    condition     = sort(keys(output.queues)) == sort(flatten([for t in var.registry : t.subscriptions]))
    error_message = "planned queues differ from the registry's subscriptions"
  }
  assert {
    condition     = output.queues["network-analysis.oracle"].name == "qcl-network-analysis--oracle.fifo"
    error_message = "queue names must be <prefix><topic>--<consumer>.fifo (qcl/bus/sqs.py)"
  }
  assert {
    condition     = alltrue([for q in values(output.queues) : length(q.name) <= 80 && can(regex("^[A-Za-z0-9_-]+\\.fifo$", q.name))])
    error_message = "an SQS FIFO queue name is at most 80 letters, digits, - and _ before .fifo"
  }
}

run "every_dead_letter_topic_has_a_hold_queue" {
  command = plan
  assert {
    condition     = sort(keys(output.holds)) == sort([for t in var.registry : t.dead_letter_topic])
    error_message = "a dead-letter topic has no hold queue"
  }
}

run "producers_publish_and_consumers_may_dead_letter" {
  command = plan
  assert {
    condition     = output.publishes["ingest"] == tolist(["qubic-ticks"])
    error_message = "ingest publishes observations only"
  }
  assert {
    condition     = contains(output.publishes["analyzer"], "network-analysis") && contains(output.publishes["analyzer"], "qubic-ticks-dlq")
    error_message = "the analyzer publishes reports and dead-letters observations"
  }
  assert {
    condition     = !contains(output.publishes["api"], "qubic-ticks")
    error_message = "the API must not publish observations"
  }
}

run "each_oracle_member_consumes_only_its_own_protocol_queue" {
  command = plan
  assert {
    condition     = contains(output.consumes["oracle-1"], "oracle-protocol.oracle-1") && !contains(output.consumes["oracle-1"], "oracle-protocol.oracle-0")
    error_message = "member 1 reads its own protocol queue and no other member's"
  }
  assert {
    condition     = !anytrue([for i, q in output.consumes : contains(q, "oracle-protocol.oracle-4")])
    error_message = "no identity consumes the queue of a member past oracle_nodes"
  }
}

run "the_api_runs_the_workflow_executor" {
  command = plan
  assert {
    condition     = contains(output.consumes["api"], "network-analysis.workflows")
    error_message = "the workflows consumer runs in the API"
  }
}

run "a_prefix_sqs_cannot_name_is_refused" {
  command = plan
  variables {
    name_prefix = "qcl.prod"
  }
  expect_failures = [var.name_prefix]
}
