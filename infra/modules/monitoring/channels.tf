# Where alerts go, per severity, like the local routing (QCL_ALERT_CHANNELS, qcl/obs/channels.py): each channel of
# var.channels lists the severities it receives, and every policy notifies the channels of its own severity.
# Channel secrets (a Slack bot token, a webhook URL whose auth_token query parameter is the credential) are read
# from Secret Manager at apply time: tfvars name the secret, never hold its value. Terraform keeps the value in its
# state as every channel credential is; the state bucket is already as private as the secrets (README.md, step 2).

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  severities = ["page", "ticket"]
  # The identity Cloud Monitoring publishes notifications and runs authenticated uptime checks as
  # (https://cloud.google.com/monitoring/support/notification-options#pubsub).
  monitoring_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
  channel_types    = { email = "email", webhook = "webhook_tokenauth", slack = "slack", pubsub = "pubsub" }
  # The Pub/Sub service agent, which moves an undeliverable incident to its dead-letter topic.
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  wants_pubsub = anytrue([for c in values(var.channels) : c.kind == "pubsub"])
}

data "google_secret_manager_secret_version" "channel" {
  for_each = { for name, c in var.channels : name => c.secret if c.secret != "" }
  project  = var.project_id
  secret   = each.value
}

# Cloud Monitoring publishes its own incident JSON (schema 1.2), not the library's event envelope: so this topic is
# not one of infra/topics.json's registry topics (they carry qcl events to typed consumers). Its subscription pushes
# each incident to the API (POST /api/ops/alerts/gcp, qcl.obs.incidents), which keeps it in the same alert history
# and dashboard as Alertmanager's alerts, and retains them a week for the operator's own tools.
resource "google_pubsub_topic" "incidents" {
  # checkov:skip=CKV_GCP_83:Google-managed encryption at rest; incidents carry alert names and thresholds, no secrets
  count                      = local.wants_pubsub ? 1 : 0
  project                    = var.project_id
  name                       = "${var.name_prefix}-monitoring-incidents"
  message_retention_duration = "604800s"
}

resource "google_pubsub_topic_iam_member" "incidents_publisher" {
  count   = local.wants_pubsub ? 1 : 0
  project = var.project_id
  topic   = google_pubsub_topic.incidents[0].name
  role    = "roles/pubsub.publisher"
  member  = local.monitoring_agent
}

resource "google_pubsub_subscription" "incidents" {
  count                      = local.wants_pubsub ? 1 : 0
  project                    = var.project_id
  name                       = "${var.name_prefix}-monitoring-incidents.operator"
  topic                      = google_pubsub_topic.incidents[0].id
  message_retention_duration = "604800s"
  retain_acked_messages      = true
  expiration_policy {
    ttl = "" # a quiet week must not delete the subscription and the incidents with it
  }
  # The API answers 422 naming the problem to a message that is not an incident; Pub/Sub retries it with backoff,
  # then moves it to the dead-letter topic (QclDeadLetters), where it waits on .hold with the rest.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.incidents_dead_letter[0].id
    max_delivery_attempts = 5 # Pub/Sub's least: about 10 s + 20 s + 40 s + 80 s of backoff, then held
  }
  dynamic "push_config" {
    for_each = var.incidents_push == null ? [] : [var.incidents_push]
    content {
      push_endpoint = push_config.value.endpoint
      oidc_token {
        service_account_email = push_config.value.service_account_email
        audience              = push_config.value.audience
      }
    }
  }
}

resource "google_pubsub_topic" "incidents_dead_letter" {
  # checkov:skip=CKV_GCP_83:Google-managed encryption at rest; incidents carry alert names and thresholds, no secrets
  count                      = local.wants_pubsub ? 1 : 0
  project                    = var.project_id
  name                       = "${google_pubsub_topic.incidents[0].name}-dlq"
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "incidents_dead_letter_hold" {
  count                      = local.wants_pubsub ? 1 : 0
  project                    = var.project_id
  name                       = "${google_pubsub_topic.incidents_dead_letter[0].name}.hold"
  topic                      = google_pubsub_topic.incidents_dead_letter[0].id
  message_retention_duration = "604800s"
  retain_acked_messages      = true
  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent moves an undeliverable incident: it publishes to the dead-letter topic and acks the
# source subscription (https://cloud.google.com/pubsub/docs/handling-failures).
resource "google_pubsub_topic_iam_member" "incidents_agent_publishes_dead_letters" {
  count   = local.wants_pubsub ? 1 : 0
  project = var.project_id
  topic   = google_pubsub_topic.incidents_dead_letter[0].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "incidents_agent_acks_dead_lettered" {
  count        = local.wants_pubsub ? 1 : 0
  project      = var.project_id
  subscription = google_pubsub_subscription.incidents[0].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
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

resource "google_monitoring_notification_channel" "routed" {
  for_each     = var.channels
  project      = var.project_id
  display_name = "${var.name_prefix} ${each.key} (${join(", ", each.value.severities)})"
  type         = local.channel_types[each.value.kind]
  labels = (
    each.value.kind == "email" ? { email_address = each.value.target } :
    each.value.kind == "slack" ? { channel_name = each.value.target } :
    each.value.kind == "webhook" ? { url = data.google_secret_manager_secret_version.channel[each.key].secret_data } :
    { topic = google_pubsub_topic.incidents[0].id }
  )
  user_labels = { severities = join("_", each.value.severities) }

  dynamic "sensitive_labels" {
    for_each = each.value.kind == "slack" ? [each.key] : []
    content {
      auth_token = data.google_secret_manager_secret_version.channel[sensitive_labels.value].secret_data
    }
  }

  depends_on = [google_pubsub_topic_iam_member.incidents_publisher]
}

locals {
  # Severity to the channels a policy of that severity notifies. E-mail addresses of var.notification_emails get all.
  channels = {
    for severity in local.severities : severity => concat(
      [for c in google_monitoring_notification_channel.email : c.id],
      [for name, c in google_monitoring_notification_channel.routed : c.id if contains(var.channels[name].severities, severity)],
    )
  }
}
