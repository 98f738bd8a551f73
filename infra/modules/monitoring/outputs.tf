output "alert_policies" {
  description = "Alert policy display name to id."
  value = merge(
    {
      QclApiErrorRateHigh = google_monitoring_alert_policy.error_rate.id
      QclApiLatencyHigh   = google_monitoring_alert_policy.latency.id
      QclPipelineStalled  = google_monitoring_alert_policy.pipeline_stalled.id
      QclDeadLetters      = google_monitoring_alert_policy.dead_letters.id
    },
    { for p in google_monitoring_alert_policy.node_down : "QclNodeDown" => p.id },
  )
}

output "log_metrics" {
  description = "Log-based metric names."
  value       = [google_logging_metric.analysis_published.name, google_logging_metric.shard_unhealthy.name]
}
