# Topics, dead-letter topics and subscriptions, generated from the library's registry (infra/topics.json), with the
# IAM the Pub/Sub service agent needs to dead-letter (https://cloud.google.com/pubsub/docs/handling-failures).

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  all_topics   = merge({ for name, t in var.topics : name => t.description }, { for t in values(var.topics) : t.dead_letter_topic => "dead letters" })
}

resource "google_pubsub_topic" "this" {
  # checkov:skip=CKV_GCP_83:Google-managed encryption at rest; CMEK would add a KMS key ring per project for event data that is public network statistics
  for_each                   = local.all_topics
  name                       = each.key
  project                    = var.project_id
  labels                     = var.labels
  message_retention_duration = var.message_retention
}

resource "google_pubsub_subscription" "this" {
  for_each                = var.subscriptions
  name                    = each.key
  project                 = var.project_id
  topic                   = google_pubsub_topic.this[each.value.topic].id
  labels                  = var.labels
  ack_deadline_seconds    = each.value.ack_deadline_seconds
  enable_message_ordering = true # events are published with an ordering key (the tick), qcl/bus/pubsub.py

  # Never expire: a quiet consumer must not lose its subscription.
  expiration_policy {
    ttl = ""
  }

  # Same backoff as the library's own subscriptions (qcl/bus/pubsub.py).
  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "60s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.this[each.value.dead_letter_topic].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  dynamic "push_config" {
    for_each = each.value.push ? [each.value] : []
    content {
      push_endpoint = "${var.push_endpoints[push_config.value.push_service]}${push_config.value.push_path}"
      oidc_token {
        service_account_email = var.push_service_account_email
        audience              = var.push_endpoints[push_config.value.push_service]
      }
    }
  }
}

# Dead letters stay here until someone reads them (`qcl` drain, or the console); nothing acks them automatically.
resource "google_pubsub_subscription" "hold" {
  for_each                   = var.hold_subscriptions
  name                       = each.key
  project                    = var.project_id
  topic                      = google_pubsub_topic.this[each.value].id
  labels                     = var.labels
  ack_deadline_seconds       = 60
  message_retention_duration = var.message_retention
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}

# The service agent republishes undeliverable messages to the dead-letter topic and acks them on the source.
resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  for_each = toset(distinct([for s in values(var.subscriptions) : s.dead_letter_topic]))
  project  = var.project_id
  topic    = google_pubsub_topic.this[each.key].name
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_dead_lettered" {
  for_each     = var.subscriptions
  project      = var.project_id
  subscription = google_pubsub_subscription.this[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Projects created before 2021-04-08 need the agent to mint OIDC tokens for push; granted on the push identity only.
resource "google_service_account_iam_member" "agent_signs_push_tokens" {
  service_account_id = "projects/${var.project_id}/serviceAccounts/${var.push_service_account_email}"
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}
