output "service_accounts" {
  description = "Service account id per identity: each component, except the oracle, which has one per member (oracle-<i>)."
  value       = local.service_accounts
}

output "oracle_members" {
  description = "Oracle committee member (oracle-<i>) to its index, Cloud Run service and key secret (a key of secrets)."
  value       = local.oracle_members
}

output "services" {
  description = "Cloud Run service name per service (analyzer, narrator, api, and oracle-<i> per committee member)."
  value       = local.services
}

output "functions" {
  description = "Cloud Function name per function (ingest, api)."
  value       = local.functions
}

output "topics" {
  description = "Topic name to its dead-letter topic, event type and description."
  value       = local.topics
}

output "dead_letter_topics" {
  description = "Every dead-letter topic name."
  value       = sort([for t in var.registry : t.dead_letter_topic])
}

output "subscriptions" {
  description = "Subscription name to its topic, consumer, dead-letter topic, push route, ack deadline and attempts."
  value       = local.subscriptions
}

output "hold_subscriptions" {
  description = "Pull subscription on each dead-letter topic that keeps its messages (name to dead-letter topic)."
  value       = local.hold_subscriptions
}

output "publishers" {
  description = "Topic publish grants derived from the registry's producers (key \"<topic>/<identity>\"; every oracle member publishes what the oracle does)."
  value       = local.publishers
}

output "dead_letter_publishers" {
  description = "Dead-letter topic publish grants for each consumer (key \"<dlq>/<component>\")."
  value       = local.dead_letter_publishers
}

output "pull_subscribers" {
  description = "Pull subscription name to the identities whose service accounts read it (every oracle member shares oracle-requests.oracle)."
  value       = local.pull_subscribers
}

output "shard_stages" {
  description = "The three shard stages: index, instance name and half-open layer range [first, end)."
  value       = local.shard_stages
}

output "secrets" {
  description = "Secret Manager secret id per secret."
  value       = local.secrets
}

output "labels" {
  description = "Labels every labelled resource carries."
  value       = local.labels
}

output "max_delivery_attempts" {
  description = "QCL_MAX_DELIVERY_ATTEMPTS for the services (the consumer's own dead-letter threshold)."
  value       = var.max_delivery_attempts
}

output "consumer_timeouts_s" {
  description = "Timeout per consumer in seconds (consumers not listed: 60)."
  value       = var.consumer_timeouts_s
}

output "shard_port" {
  description = "Port of the shard gRPC data plane and health service."
  value       = var.shard_port
}

output "ingest_schedule" {
  description = "Cron schedule of the ingest job."
  value       = var.ingest_schedule
}

output "workflow_schedules" {
  description = "Schedule trigger key (<workflow>-<index>) to its workflow, spec and Cloud Scheduler cron."
  value       = local.workflow_schedules
}

output "workflow_topic_triggers" {
  description = "Topic trigger key (<workflow>-<index>) to its workflow, topic and condition, for Eventarc."
  value       = local.workflow_topic_triggers
}

output "workflow_triggers_local_only" {
  description = "Triggers that cannot run on Google Cloud, with the reason (they run where the API's executor runs)."
  value       = local.workflow_triggers_local_only
}
