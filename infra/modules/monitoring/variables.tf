variable "project_id" {
  type        = string
  description = "Project monitored."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of metric and policy names."
}

variable "analyzer_service" {
  type        = string
  description = "Cloud Run service name of the analyzer (its report log lines feed the stalled-pipeline metric)."
}

variable "http_services" {
  type        = list(string)
  description = "Cloud Run service names (functions included) whose error rate and latency are alerted on."
}

variable "dead_letter_topics" {
  type        = list(string)
  description = "Dead-letter topic names; any message published to one raises an alert."
}

variable "shard_pool_enabled" {
  type        = bool
  description = "Whether the shard pool exists (the node-down alert watches its health checks)."
}

variable "notification_emails" {
  type        = list(string)
  description = "Addresses alerted by e-mail."
}

variable "error_rate_threshold" {
  type        = number
  description = "Share of 5xx responses over 5 minutes that raises the error-rate alert."
  validation {
    condition     = var.error_rate_threshold > 0 && var.error_rate_threshold < 1
    error_message = "error_rate_threshold is a fraction between 0 and 1."
  }
}

variable "latency_p95_threshold_ms" {
  type        = number
  description = "95th percentile request latency (ms) over 10 minutes that raises the latency alert."
}

variable "stalled_pipeline_minutes" {
  type        = number
  description = "Minutes without a network-analysis report before the stalled-pipeline alert fires."
  validation {
    condition     = var.stalled_pipeline_minutes >= 2
    error_message = "stalled_pipeline_minutes must be at least 2 (Cloud Monitoring's shortest absence window)."
  }
}
