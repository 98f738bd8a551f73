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
  description = "Addresses alerted by e-mail, for every severity."
}

variable "channels" {
  type = map(object({
    kind       = string                                     # email | webhook | slack | pubsub
    target     = optional(string, "")                       # email: the address; slack: the channel (#qcl-alerts)
    secret     = optional(string, "")                       # webhook: secret holding the URL with ?auth_token=; slack: the bot token
    severities = optional(list(string), ["page", "ticket"]) # which alerts it receives, as QCL_ALERT_CHANNELS
  }))
  description = "Notification channels by name; secrets are Secret Manager secret ids in this project, never values."
  default     = {}
  validation {
    condition     = alltrue([for c in values(var.channels) : contains(["email", "webhook", "slack", "pubsub"], c.kind)])
    error_message = "channels: kind must be one of email, webhook, slack, pubsub."
  }
  validation {
    condition = alltrue([for c in values(var.channels) : length(c.severities) > 0 && alltrue([
      for s in c.severities : contains(["page", "ticket"], s)
    ])])
    error_message = "channels: severities must be a non-empty list of page and ticket (the labels of ops/prometheus/alerts.yml)."
  }
  validation {
    condition     = alltrue([for c in values(var.channels) : !contains(["webhook", "slack"], c.kind) || c.secret != ""])
    error_message = "channels: a webhook or slack channel names the Secret Manager secret that holds its URL or token (secret)."
  }
  validation {
    condition     = alltrue([for c in values(var.channels) : !contains(["email", "slack"], c.kind) || c.target != ""])
    error_message = "channels: an email or slack channel needs a target (the address, or the Slack channel)."
  }
  validation {
    condition     = alltrue([for c in values(var.channels) : !can(regex("(?i)(xox[abp]-|auth_token=)", c.target))])
    error_message = "channels: a target holds a credential; put it in Secret Manager and name the secret instead."
  }
}

variable "api_service" {
  type        = string
  description = "Cloud Run service name of the long-lived API (QclApiAbsent watches its instances)."
}

variable "incidents_push" {
  type = object({
    endpoint              = string # the API's POST /api/ops/alerts/gcp
    audience              = string # what the API checks its ID tokens against (QCL_OIDC_AUDIENCE)
    service_account_email = string # the identity Pub/Sub signs with; an operator in the API's QCL_OIDC_PRINCIPALS
  })
  description = "Where the incidents subscription pushes Cloud Monitoring's incidents (the API's alert history); null: it is a pull subscription."
  default     = null
}

variable "api_url" {
  type        = string
  description = "HTTPS URL of the API's Cloud Run service; its health path is uptime-checked (QclTargetDown)."
  validation {
    condition     = startswith(var.api_url, "https://")
    error_message = "api_url must be the service's https:// URL."
  }
}

variable "region" {
  type        = string
  description = "Region of the API's Cloud Run service (the uptime check's invoker grant is on it)."
}

variable "health_path" {
  type        = string
  description = "The API's health path (public, no key; Cloud Run's front end reserves paths ending in z)."
  default     = "/api/health"
}

variable "api_subscriptions" {
  type        = list(string)
  description = "Subscriptions the API consumes (QclBusLagHigh watches how old their oldest unacked event is)."
}

variable "runbook_base_url" {
  type        = string
  description = "Base URL of the docs site (mkdocs build of docs/); each policy links <base>/runbooks/<alert>/. Empty: the documentation names the runbook's path in the repository only."
  default     = ""
  validation {
    condition     = var.runbook_base_url == "" || can(regex("^https?://", var.runbook_base_url))
    error_message = "runbook_base_url is empty or an http(s) URL."
  }
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
