output "topic_ids" {
  description = "Topic and dead-letter topic name to id."
  value       = { for name, t in google_pubsub_topic.this : name => t.id }
}

output "subscription_ids" {
  description = "Subscription name to id (consumer subscriptions and dead-letter hold subscriptions)."
  value       = merge({ for n, s in google_pubsub_subscription.this : n => s.id }, { for n, s in google_pubsub_subscription.hold : n => s.id })
}
