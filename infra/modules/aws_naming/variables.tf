variable "registry" {
  type = list(object({
    topic             = string
    dead_letter_topic = string
    event_type        = string
    description       = string
    producers         = list(string)
    consumers         = list(string)
    subscriptions     = list(string)
  }))
  description = "The topic registry exactly as `qcl topics --json` prints it (infra/topics.json)."
}

variable "name_prefix" {
  type        = string
  description = "Start of every topic and queue name: the services' QCL_AWS_PREFIX."
  default     = "qcl-"
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,30}$", var.name_prefix))
    error_message = "name_prefix: letters, digits, - and _ only, at most 30 (SQS allows 80 characters in a queue name)."
  }
}

variable "oracle_nodes" {
  type        = number
  description = "Oracle committee members, each its own identity."
  default     = 4
  validation {
    condition     = var.oracle_nodes >= 4 && var.oracle_nodes <= 7
    error_message = "oracle_nodes must be 4..7 (3f+1 members for f = 1 or 2), as the services accept."
  }
}
