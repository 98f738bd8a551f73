variable "project_id" {
  type        = string
  description = "Project that holds the topics."
}

variable "topics" {
  type = map(object({
    dead_letter_topic = string
    event_type        = string
    description       = string
  }))
  description = "Topic name to its dead-letter topic, event type and description (naming module output)."
}

variable "subscriptions" {
  type = map(object({
    topic                 = string
    consumer              = string
    dead_letter_topic     = string
    push                  = bool
    push_service          = string
    push_path             = string
    ack_deadline_seconds  = number
    max_delivery_attempts = number
  }))
  description = "Subscription name to its route and delivery settings (naming module output)."
}

variable "hold_subscriptions" {
  type        = map(string)
  description = "Pull subscription name to the dead-letter topic it keeps."
}

variable "push_endpoints" {
  type        = map(string)
  description = "Cloud Run service key (analyzer, narrator, oracle) to its HTTPS URL; push subscriptions append their path."
}

variable "push_service_account_email" {
  type        = string
  description = "Identity Pub/Sub signs push requests' OIDC tokens with; holds roles/run.invoker on the push services only."
}

variable "labels" {
  type        = map(string)
  description = "Labels for topics and subscriptions."
}

variable "message_retention" {
  type        = string
  description = "How long topics keep messages for seek/replay, and how long a dead-letter hold subscription keeps them."
  default     = "604800s" # 7 days, the most a subscription keeps unacked messages
}
