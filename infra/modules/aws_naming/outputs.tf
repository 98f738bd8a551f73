output "topics" {
  description = "Topic (registry name) -> description; the SNS name is <prefix><topic>.fifo."
  value       = local.topics
}

output "queues" {
  description = "Subscription name -> topic, consumer, dead-letter topic and SQS queue name."
  value       = local.queues
}

output "holds" {
  description = "Dead-letter topic -> its hold queue's name."
  value       = local.holds
}

output "identities" {
  description = "Every workload identity (service account qcl-<identity>)."
  value       = local.identities
}

output "publishes" {
  description = "Identity -> the topics it may publish to."
  value       = local.publishes
}

output "consumes" {
  description = "Identity -> the subscriptions whose queues it may consume."
  value       = local.consumes
}
