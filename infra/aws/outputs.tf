output "bus_prefix" {
  description = "QCL_AWS_PREFIX for every service (with QCL_BUS=sqs)."
  value       = var.name_prefix
}

output "role_arns" {
  description = "Service account -> IAM role: the eks.amazonaws.com/role-arn annotations of deploy/k8s-aws."
  value       = { for i, r in aws_iam_role.workload : "qcl-${i}" => r.arn }
}

output "redis_url_secret" {
  description = "Secrets Manager secret holding QCL_REDIS_URL."
  value       = aws_secretsmanager_secret.redis_url.arn
}

output "queues" {
  description = "Subscription name -> SQS queue URL."
  value       = { for k, q in aws_sqs_queue.consumer : k => q.id }
}
