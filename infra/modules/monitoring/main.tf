# One Cloud Monitoring alert policy per Prometheus rule of ops/prometheus/alerts.yml: the same alert name (the
# policy's display name), severity (user label `severity`, and Cloud Monitoring's own severity: page is CRITICAL,
# ticket WARNING), runbook (docs/runbooks/<alert>.md, linked on the docs site when runbook_base_url is set) and
# threshold. tests/infra/test_gcp_alert_policies.py keeps the two in step.
#
# Each rule reads the signal that exists where the stack runs on Cloud Run:
# - Cloud Run's, Pub/Sub's and the uptime checks' own metrics where they measure the same thing (liveness, errors,
#   the functions' and push services' latency, bus lag): they need no collector and see what the process cannot
#   report about itself (a dead one).
# - log-based metrics (metrics.tf) from the analyzer's report line for the pipeline and the network's state.
# - Managed Service for Prometheus (PromQL, the rule's own expression verbatim) where the only source is state the
#   API process holds and exports at /metrics: circuit breakers, nodes from node-events, the model's health and
#   queue, and the API's latency per route (Cloud Run's own counts a WebSocket as one request for as long as it
#   lasts). On Cloud Run the API service's Managed Service for Prometheus sidecar collects it (services.tf,
#   modules/cloud_run_service); on GKE, managed collection. Without a series they stay silent: they never fire on
#   missing data (a dead API is QclTargetDown's and QclApiAbsent's to report).

locals {
  monitoring_severity = { page = "CRITICAL", ticket = "WARNING" }
  # The docs site renders docs/runbooks/<alert>.md at <base>/runbooks/<alert>/ (mkdocs' directory URLs).
  runbook_sites = var.runbook_base_url == "" ? [] : ["${trimsuffix(var.runbook_base_url, "/")}/runbooks"]
  services      = join(" OR ", [for s in var.http_services : "resource.labels.service_name=\"${s}\""])
  services_but_api = join(" OR ", [
    for s in var.http_services : "resource.labels.service_name=\"${s}\"" if s != var.api_service
  ])
  # The registry's dead-letter topics, and the incidents' own (channels.tf) when a pubsub channel makes one.
  dead_letter_topics = concat(var.dead_letter_topics, google_pubsub_topic.incidents_dead_letter[*].name)
  subscriptions      = join(" OR ", [for s in var.api_subscriptions : "resource.labels.subscription_id=\"${s}\""])
}

# --- liveness -------------------------------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "target_down" {
  project               = var.project_id
  display_name          = "QclTargetDown"
  combiner              = "OR"
  severity              = local.monitoring_severity["page"]
  user_labels           = { severity = "page" }
  notification_channels = local.channels["page"]
  documentation {
    subject   = "QclTargetDown: a process of the stack is not answering"
    mime_type = "text/markdown"
    content   = "The API stopped answering its health path (${var.health_path}) from more than one uptime checker region for a minute, or a shard VM failed its gRPC health check (the group re-creates it after three failures). Runbook: `docs/runbooks/QclTargetDown.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclTargetDown"
        url          = "${links.value}/QclTargetDown/"
      }
    }
  }
  # Locally: up == 0 for a scraped process. Cloud Run has no scrape; the uptime check asks the health path of the
  # one public service, the way a user would reach it.
  conditions {
    display_name = "api ${var.health_path} failing"
    condition_threshold {
      filter          = "resource.type=\"uptime_url\" AND metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND metric.labels.check_id=\"${google_monitoring_uptime_check_config.api_health.uptime_check_id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1 # failing regions: one flaky checker is not an outage
      duration        = "60s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.host"]
      }
    }
  }
  # A shard stage is a scraped process locally; on GCP the managed instance group's health check is its liveness.
  dynamic "conditions" {
    for_each = var.shard_pool_enabled ? ["shard"] : []
    content {
      display_name = "shard health check unhealthy"
      condition_threshold {
        filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.shard_unhealthy.name}\""
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "0s"
        aggregations {
          alignment_period     = "60s"
          per_series_aligner   = "ALIGN_SUM"
          cross_series_reducer = "REDUCE_SUM"
          group_by_fields      = ["metric.label.instance"]
        }
      }
    }
  }
}

resource "google_monitoring_alert_policy" "api_absent" {
  project               = var.project_id
  display_name          = "QclApiAbsent"
  combiner              = "OR"
  severity              = local.monitoring_severity["page"]
  user_labels           = { severity = "page" }
  notification_channels = local.channels["page"]
  documentation {
    subject   = "QclApiAbsent: the API service has no instance"
    mime_type = "text/markdown"
    content   = "The API's Cloud Run service (${var.api_service}) has reported no instance for 5 minutes: it was deleted, its revision cannot start, or it lost its image. Runbook: `docs/runbooks/QclApiAbsent.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclApiAbsent"
        url          = "${links.value}/QclApiAbsent/"
      }
    }
  }
  # Locally: absent(up{job="qcl-api"}). The API service keeps one instance always (min 1, CPU always allocated), so
  # its instance-count series exists while the service does; a metric-absence condition is the same question.
  conditions {
    display_name = "no ${var.api_service} instance for 5 min"
    condition_absent {
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/container/instance_count\" AND resource.labels.service_name=\"${var.api_service}\""
      duration = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

# --- API ------------------------------------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "error_rate" {
  project               = var.project_id
  display_name          = "QclApiErrorRateHigh"
  combiner              = "OR"
  severity              = local.monitoring_severity["page"]
  user_labels           = { severity = "page" }
  notification_channels = local.channels["page"]
  documentation {
    subject   = "QclApiErrorRateHigh: more than ${var.error_rate_threshold * 100} % of answers are 5xx"
    mime_type = "text/markdown"
    content   = "More than ${var.error_rate_threshold * 100} % of requests to a service answered 5xx over 5 minutes. Push consumers answer 503 to ask for a redelivery, so a burst during a Redis or RPC outage is expected; a lasting rate is not. Runbook: `docs/runbooks/QclApiErrorRateHigh.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclApiErrorRateHigh"
        url          = "${links.value}/QclApiErrorRateHigh/"
      }
    }
  }
  # Cloud Run's request count includes the answers its front end gives for a crashed container, which /metrics
  # cannot count.
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
  severity              = local.monitoring_severity["ticket"]
  user_labels           = { severity = "ticket" }
  notification_channels = local.channels["ticket"]
  documentation {
    subject   = "QclApiLatencyHigh: p95 latency of an API route above 1 s"
    mime_type = "text/markdown"
    content   = "The 95th percentile latency of one API route stayed above 1 s for 10 minutes (WebSockets left out). Runbook: `docs/runbooks/QclApiLatencyHigh.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclApiLatencyHigh"
        url          = "${links.value}/QclApiLatencyHigh/"
      }
    }
  }
  # Per route, from the API's own histogram: Cloud Run's request_latencies counts a WebSocket subscription as one
  # request as long as it stays open (up to the service's timeout), so its p95 would sit near an hour all day.
  conditions {
    display_name = "QclApiLatencyHigh (PromQL)"
    condition_prometheus_query_language {
      query               = "histogram_quantile(0.95, sum by (le, route) (rate(qcl_http_request_duration_seconds_bucket{route!=\"/api/ws\"}[5m]))) > 1"
      duration            = "600s"
      evaluation_interval = "60s"
      rule_group          = "qcl-api"
      alert_rule          = "QclApiLatencyHigh"
      labels              = { severity = "ticket" }
    }
  }
}

resource "google_monitoring_alert_policy" "service_latency" {
  project               = var.project_id
  display_name          = "QclServiceLatencyHigh"
  combiner              = "OR"
  severity              = local.monitoring_severity["ticket"]
  user_labels           = { severity = "ticket" }
  notification_channels = local.channels["ticket"]
  documentation {
    subject   = "QclServiceLatencyHigh: p95 latency above ${var.latency_p95_threshold_ms} ms"
    mime_type = "text/markdown"
    content   = "The 95th percentile latency of a function or push service (not the API) stayed above ${var.latency_p95_threshold_ms} ms for 10 minutes. Runbook: `docs/runbooks/QclServiceLatencyHigh.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclServiceLatencyHigh"
        url          = "${links.value}/QclServiceLatencyHigh/"
      }
    }
  }
  # The functions and the push endpoints export no /metrics of their own: Cloud Run measures them. The API is
  # QclApiLatencyHigh's, per route.
  conditions {
    display_name = "p95 latency above ${var.latency_p95_threshold_ms} ms"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_latencies\" AND (${local.services_but_api})"
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

resource "google_monitoring_alert_policy" "circuit_breaker_open" {
  project               = var.project_id
  display_name          = "QclCircuitBreakerOpen"
  combiner              = "OR"
  severity              = local.monitoring_severity["page"]
  user_labels           = { severity = "page" }
  notification_channels = local.channels["page"]
  documentation {
    subject   = "QclCircuitBreakerOpen: a circuit breaker is open"
    mime_type = "text/markdown"
    content   = "A circuit breaker of the API has been open for 2 minutes: requests that need it fail fast with 503. Runbook: `docs/runbooks/QclCircuitBreakerOpen.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclCircuitBreakerOpen"
        url          = "${links.value}/QclCircuitBreakerOpen/"
      }
    }
  }
  # The breakers live in the API process; only its /metrics knows their state.
  conditions {
    display_name = "QclCircuitBreakerOpen (PromQL)"
    condition_prometheus_query_language {
      query               = "max by (breaker) (qcl_circuit_breaker_open) == 1"
      duration            = "120s"
      evaluation_interval = "60s"
      rule_group          = "qcl-api"
      alert_rule          = "QclCircuitBreakerOpen"
      labels              = { severity = "page" }
    }
  }
}

# --- pipeline and network -------------------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "pipeline_stalled" {
  project               = var.project_id
  display_name          = "QclPipelineStalled"
  combiner              = "OR"
  severity              = local.monitoring_severity["page"]
  user_labels           = { severity = "page" }
  notification_channels = local.channels["page"]
  documentation {
    subject   = "QclPipelineStalled: no network analysis for ${var.stalled_pipeline_minutes} minutes"
    mime_type = "text/markdown"
    content   = "No network-analysis report for ${var.stalled_pipeline_minutes} minutes: check the ingest scheduler job, the Qubic RPC, then the analyzer. The network itself halts for minutes at each epoch change (Wednesdays 12:00 UTC). Runbook: `docs/runbooks/QclPipelineStalled.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclPipelineStalled"
        url          = "${links.value}/QclPipelineStalled/"
      }
    }
  }
  # Locally: the age of the newest analysis the API received. Here the analyzer's report lines stop: the same
  # question asked one hop earlier, and answerable without collecting /metrics.
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

resource "google_monitoring_alert_policy" "bus_lag" {
  project               = var.project_id
  display_name          = "QclBusLagHigh"
  combiner              = "OR"
  severity              = local.monitoring_severity["ticket"]
  user_labels           = { severity = "ticket" }
  notification_channels = local.channels["ticket"]
  documentation {
    subject   = "QclBusLagHigh: events reach the api consumer more than 30 s late"
    mime_type = "text/markdown"
    content   = "An event on a subscription the API consumes has waited more than 30 s unacknowledged, for 10 minutes. Runbook: `docs/runbooks/QclBusLagHigh.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclBusLagHigh"
        url          = "${links.value}/QclBusLagHigh/"
      }
    }
  }
  # Locally: p95 of event time to delivery at the api consumer. Pub/Sub's oldest-unacked age measures the same lag
  # at the subscription, including events the consumer never got to (which /metrics cannot observe); it is a
  # maximum, so it is the stricter of the two.
  conditions {
    display_name = "oldest unacked event older than 30 s"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND (${local.subscriptions})"
      comparison      = "COMPARISON_GT"
      threshold_value = 30
      duration        = "600s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.labels.subscription_id"]
      }
    }
  }
}

resource "google_monitoring_alert_policy" "network_unhealthy" {
  project               = var.project_id
  display_name          = "QclNetworkUnhealthy"
  combiner              = "OR"
  severity              = local.monitoring_severity["ticket"]
  user_labels           = { severity = "ticket" }
  notification_channels = local.channels["ticket"]
  documentation {
    subject   = "QclNetworkUnhealthy: the network's health score is below 50"
    mime_type = "text/markdown"
    content   = "Every network-analysis report of the last 15 minutes scored the Qubic network's health below 50. Runbook: `docs/runbooks/QclNetworkUnhealthy.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclNetworkUnhealthy"
        url          = "${links.value}/QclNetworkUnhealthy/"
      }
    }
  }
  # Locally: max(qcl_network_health_score) < 50 for 15m. The highest score reported in each minute stays below 50.
  conditions {
    display_name = "health score below 50 for 15 min"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.analysis_health.name}\""
      comparison      = "COMPARISON_LT"
      threshold_value = 50
      duration        = "900s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "network_critical_finding" {
  project               = var.project_id
  display_name          = "QclNetworkCriticalFinding"
  combiner              = "OR"
  severity              = local.monitoring_severity["page"]
  user_labels           = { severity = "page", source = "analysis" }
  notification_channels = local.channels["page"]
  documentation {
    subject   = "QclNetworkCriticalFinding: the analysis reports a critical finding"
    mime_type = "text/markdown"
    content   = "The network analysis has reported a critical finding (a tick stall, a price crash) for a minute. Runbook: `docs/runbooks/QclNetworkCriticalFinding.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclNetworkCriticalFinding"
        url          = "${links.value}/QclNetworkCriticalFinding/"
      }
    }
  }
  conditions {
    display_name = "critical finding held for a minute"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.critical_finding.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "60s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.code"]
      }
    }
  }
}

resource "google_monitoring_alert_policy" "empty_ticks_burst" {
  project               = var.project_id
  display_name          = "QclEmptyTicksBurst"
  combiner              = "OR"
  severity              = local.monitoring_severity["ticket"]
  user_labels           = { severity = "ticket", source = "analysis" }
  notification_channels = local.channels["ticket"]
  documentation {
    subject   = "QclEmptyTicksBurst: the share of empty ticks is abnormally high"
    mime_type = "text/markdown"
    content   = "The analysis has reported an empty_ticks_high finding for 5 minutes. Runbook: `docs/runbooks/QclEmptyTicksBurst.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclEmptyTicksBurst"
        url          = "${links.value}/QclEmptyTicksBurst/"
      }
    }
  }
  conditions {
    display_name = "empty_ticks_high held for 5 min"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.empty_ticks_high.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

# --- nodes and model ------------------------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "node_down" {
  project               = var.project_id
  display_name          = "QclNodeDown"
  combiner              = "OR"
  severity              = local.monitoring_severity["page"]
  user_labels           = { severity = "page" }
  notification_channels = local.channels["page"]
  documentation {
    subject   = "QclNodeDown: shard or oracle nodes are down"
    mime_type = "text/markdown"
    content   = "Shard or oracle nodes have been down for 2 minutes, by the node-events the API keeps. Runbook: `docs/runbooks/QclNodeDown.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclNodeDown"
        url          = "${links.value}/QclNodeDown/"
      }
    }
  }
  # Node states (both roles) come from node-events folded into the API's store; only its /metrics exports them.
  # A shard VM's own health check pages as QclTargetDown.
  conditions {
    display_name = "QclNodeDown (PromQL)"
    condition_prometheus_query_language {
      query               = "sum by (role) (qcl_nodes{state=\"down\"}) > 0"
      duration            = "120s"
      evaluation_interval = "60s"
      rule_group          = "qcl-nodes"
      alert_rule          = "QclNodeDown"
      labels              = { severity = "page" }
    }
  }
}

resource "google_monitoring_alert_policy" "model_down" {
  project               = var.project_id
  display_name          = "QclModelDown"
  combiner              = "OR"
  severity              = local.monitoring_severity["ticket"]
  user_labels           = { severity = "ticket" }
  notification_channels = local.channels["ticket"]
  documentation {
    subject   = "QclModelDown: the model fails its health check"
    mime_type = "text/markdown"
    content   = "The model has failed its health check for 5 minutes; narration has fallen back to templates. Runbook: `docs/runbooks/QclModelDown.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclModelDown"
        url          = "${links.value}/QclModelDown/"
      }
    }
  }
  # The health check is the API's view of the generation service (a tiny forward pass), exported at /metrics.
  conditions {
    display_name = "QclModelDown (PromQL)"
    condition_prometheus_query_language {
      query               = "min(qcl_model_up) == 0"
      duration            = "300s"
      evaluation_interval = "60s"
      rule_group          = "qcl-nodes"
      alert_rule          = "QclModelDown"
      labels              = { severity = "ticket" }
    }
  }
}

resource "google_monitoring_alert_policy" "model_queue_backlog" {
  project               = var.project_id
  display_name          = "QclModelQueueBacklog"
  combiner              = "OR"
  severity              = local.monitoring_severity["ticket"]
  user_labels           = { severity = "ticket" }
  notification_channels = local.channels["ticket"]
  documentation {
    subject   = "QclModelQueueBacklog: the model's request queue is nearly full"
    mime_type = "text/markdown"
    content   = "More than 12 requests have waited for the model for 5 minutes. Runbook: `docs/runbooks/QclModelQueueBacklog.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclModelQueueBacklog"
        url          = "${links.value}/QclModelQueueBacklog/"
      }
    }
  }
  # The queue is in the generation service's memory; its depth reaches the outside only through /metrics.
  conditions {
    display_name = "QclModelQueueBacklog (PromQL)"
    condition_prometheus_query_language {
      query               = "max(qcl_queue_depth{queue=\"model\"}) > 12"
      duration            = "300s"
      evaluation_interval = "60s"
      rule_group          = "qcl-nodes"
      alert_rule          = "QclModelQueueBacklog"
      labels              = { severity = "ticket" }
    }
  }
}

# --- GCP only -------------------------------------------------------------------------------------------------------

# No Prometheus rule: the library exports no dead-letter counter (the local buses hold dead letters in memory or the
# emulator); Pub/Sub counts every message published to a dead-letter topic.
resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "QclDeadLetters"
  combiner              = "OR"
  severity              = local.monitoring_severity["ticket"]
  user_labels           = { severity = "ticket" }
  notification_channels = local.channels["ticket"]
  documentation {
    subject   = "QclDeadLetters: events reached a dead-letter topic"
    mime_type = "text/markdown"
    content   = "Events reached a dead-letter topic; read them (with their reason attribute) from <topic>-dlq.hold. Runbook: `docs/runbooks/QclDeadLetters.md`."
    dynamic "links" {
      for_each = local.runbook_sites
      content {
        display_name = "Runbook QclDeadLetters"
        url          = "${links.value}/QclDeadLetters/"
      }
    }
  }
  conditions {
    display_name = "messages published to a dead-letter topic"
    condition_threshold {
      filter          = "resource.type=\"pubsub_topic\" AND metric.type=\"pubsub.googleapis.com/topic/send_message_operation_count\" AND (${join(" OR ", [for t in local.dead_letter_topics : "resource.labels.topic_id=\"${t}\""])})"
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
