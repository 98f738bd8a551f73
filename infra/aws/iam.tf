# One IAM role per Kubernetes service account (deploy/k8s/serviceaccounts.yaml), assumed through the cluster's OIDC
# provider (IRSA), with the grants the registry implies: publish to the topics it produces and to the dead-letter
# topics of those it consumes (a consumer dead-letters itself), consume its own queues. Each oracle member is its
# own identity, as on Google Cloud: taking over one member yields one vote, never a quorum. The grants are derived
# in infra/modules/aws_naming (tested offline).

resource "aws_iam_role" "workload" {
  for_each    = toset(module.names.identities)
  name        = "${var.name_prefix}${each.key}"
  description = "qcl ${each.key}: the Kubernetes service account ${var.namespace}/qcl-${each.key}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = var.eks_oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${var.eks_oidc_issuer}:sub" = "system:serviceaccount:${var.namespace}:qcl-${each.key}"
          "${var.eks_oidc_issuer}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "workload" {
  for_each = aws_iam_role.workload
  name     = "bus"
  role     = each.value.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      # The bus's readiness check reads one topic's attributes.
      [{ Sid = "Ping", Effect = "Allow", Action = ["sns:GetTopicAttributes"], Resource = [for t in aws_sns_topic.this : t.arn] }],
      length(module.names.publishes[each.key]) == 0 ? [] : [
        { Sid = "Publish", Effect = "Allow", Action = ["sns:Publish"], Resource = [for t in module.names.publishes[each.key] : aws_sns_topic.this[t].arn] },
        { Sid = "EncryptForTopics", Effect = "Allow", Action = ["kms:GenerateDataKey*", "kms:Decrypt"], Resource = [aws_kms_key.messaging.arn] },
      ],
      length(module.names.consumes[each.key]) == 0 ? [] : [{
        Sid      = "Consume"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
        Resource = [for q in module.names.consumes[each.key] : aws_sqs_queue.consumer[q].arn]
      }],
    )
  })
}
