# Log-based metrics and alert policies. They mirror the Prometheus rules in ops/prometheus/alerts.yml (same alert
# names, thresholds and windows) so an operator sees the same alerts whether the stack runs on Cloud Run or on GKE
# with Prometheus; here they read Cloud Run's own request metrics and log-based metrics instead of /metrics.

resource "google_logging_metric" "analysis_published" {
  name    = "${var.name_prefix}/analysis_published"
  project = var.project_id
  # One line per report the analyzer publishes (qcl/pipeline/analyzer.py: "analysis: tick ... health ...").
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.analyzer_service}\"",
    "jsonPayload.message=~\"^analysis: tick \"",
  ])
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "network-analysis reports published"
  }
}

resource "google_logging_metric" "shard_unhealthy" {
  name    = "${var.name_prefix}/shard_unhealthy"
  project = var.project_id
  # Health-check logging records each transition (https://cloud.google.com/load-balancing/docs/health-check-logging).
  filter = join(" AND ", [
    "logName=\"projects/${var.project_id}/logs/compute.googleapis.com%2Fhealthchecks\"",
    "jsonPayload.healthCheckProbeResult.healthState=\"UNHEALTHY\"",
  ])
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "shard health checks turned unhealthy"
    labels {
      key         = "instance"
      value_type  = "STRING"
      description = "VM that turned unhealthy"
    }
  }
  label_extractors = {
    instance = "EXTRACT(jsonPayload.healthCheckProbeResult.targetIp)"
  }
}

resource "google_monitoring_notification_channel" "email" {
  for_each     = toset(var.notification_emails)
  project      = var.project_id
  display_name = "${var.name_prefix} alerts to ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
}

locals {
  channels = [for c in google_monitoring_notification_channel.email : c.id]
  services = join(" OR ", [for s in var.http_services : "resource.labels.service_name=\"${s}\""])
}

resource "google_monitoring_alert_policy" "error_rate" {
  project               = var.project_id
  display_name          = "QclApiErrorRateHigh"
  combiner              = "OR"
  notification_channels = local.channels
  documentation {
    content = "More than ${var.error_rate_threshold * 100} % of requests to a service answered 5xx over 5 minutes. Push consumers answer 503 to ask for a redelivery, so a burst during a Redis or RPC outage is expected; a lasting rate is not."
  }
  conditions {
    display_name = "5xx share above ${var.error_rate_threshold}"
    condition_threshold {
      filter                  = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code_class=\"5xx\" AND (${local.services})"
      denominator_filter      = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_count\" AND (${local.services})"
      comparison              = "COMPARISON_GT"
      threshold_value         = var.error_rate_threshold
      duration                = "300s"
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }
}

resource "google_monitoring_alert_policy" "latency" {
  project               = var.project_id
  display_name          = "QclApiLatencyHigh"
  combiner              = "OR"
  notification_channels = local.channels
  documentation {
    content = "The 95th percentile latency of a service stayed above ${var.latency_p95_threshold_ms} ms for 10 minutes."
  }
  conditions {
    display_name = "p95 latency above ${var.latency_p95_threshold_ms} ms"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_latencies\" AND (${local.services})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.latency_p95_threshold_ms
      duration        = "600s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_PERCENTILE_95"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }
}

resource "google_monitoring_alert_policy" "pipeline_stalled" {
  project               = var.project_id
  display_name          = "QclPipelineStalled"
  combiner              = "OR"
  notification_channels = local.channels
  documentation {
    content = "No network-analysis report for ${var.stalled_pipeline_minutes} minutes: check the ingest scheduler job, the Qubic RPC, then the analyzer. The network itself halts for minutes at each epoch change (Wednesdays 12:00 UTC)."
  }
  conditions {
    display_name = "no network-analysis for ${var.stalled_pipeline_minutes} min"
    condition_absent {
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.analysis_published.name}\""
      duration = "${var.stalled_pipeline_minutes * 60}s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_COUNT"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "node_down" {
  count                 = var.shard_pool_enabled ? 1 : 0
  project               = var.project_id
  display_name          = "QclNodeDown"
  combiner              = "OR"
  notification_channels = local.channels
  documentation {
    content = "A shard VM failed its gRPC health check; the group re-creates it after three failures and the coordinator replays open sessions on another replica."
  }
  conditions {
    display_name = "shard health check unhealthy"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.shard_unhealthy.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "QclDeadLetters"
  combiner              = "OR"
  notification_channels = local.channels
  documentation {
    content = "Events reached a dead-letter topic; read them (with their reason attribute) from <topic>-dlq.hold."
  }
  conditions {
    display_name = "messages published to a dead-letter topic"
    condition_threshold {
      filter          = "resource.type=\"pubsub_topic\" AND metric.type=\"pubsub.googleapis.com/topic/send_message_operation_count\" AND (${join(" OR ", [for t in var.dead_letter_topics : "resource.labels.topic_id=\"${t}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.topic_id"]
      }
    }
  }
}
