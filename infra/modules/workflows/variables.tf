variable "project_id" {
  type        = string
  description = "Project of the workflows."
}

variable "region" {
  type        = string
  description = "Region the workflows run in."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every workflow's name: <prefix>-<workflow>."
}

variable "service_account_email" {
  type        = string
  description = "Identity the workflows run as: it signs the OIDC tokens of their calls to the API."
}

variable "api_url" {
  type        = string
  description = "Base URL of the API that the qcl.* calls reach (QCL_API_BASE in the workflows' environment)."
}

variable "sources" {
  type        = map(string)
  description = "Workflow name to its Cloud Workflows source (workflows/gcp/*.yaml, made by `qcl workflows translate`)."
}

variable "call_log_level" {
  type        = string
  description = "What each execution logs of its calls."
  default     = "LOG_ERRORS_ONLY"
  validation {
    condition     = contains(["LOG_ALL_CALLS", "LOG_ERRORS_ONLY", "LOG_NONE"], var.call_log_level)
    error_message = "call_log_level must be LOG_ALL_CALLS, LOG_ERRORS_ONLY or LOG_NONE."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels on every workflow."
  default     = {}
}

variable "schedules" {
  type = map(object({
    workflow = string
    spec     = any
    schedule = string
  }))
  description = "Schedule trigger key to its workflow, its spec and its unix-cron schedule (modules/naming's workflow_schedules)."
  default     = {}
}

variable "topic_triggers" {
  type = map(object({
    workflow  = string
    topic     = string
    condition = string
  }))
  description = "Topic trigger key to its workflow, topic and condition (modules/naming's workflow_topic_triggers)."
  default     = {}
}

variable "topic_ids" {
  type        = map(string)
  description = "Topic name to its id (projects/<p>/topics/<name>), for the topic triggers."
  default     = {}
}
