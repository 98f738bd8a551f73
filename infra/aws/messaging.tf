# The bus (qcl/bus/sqs.py): every registered topic an SNS FIFO topic, fanned out to one SQS FIFO queue per consumer
# with raw delivery; every dead-letter topic keeps its messages in a "hold" queue nobody consumes automatically.
# Generated from the library's registry (infra/topics.json), as the Pub/Sub topology is on Google Cloud.

module "names" {
  source       = "../modules/aws_naming"
  registry     = jsondecode(file("${path.module}/../topics.json"))
  name_prefix  = var.name_prefix
  oracle_nodes = var.oracle_nodes
}

data "aws_caller_identity" "this" {}

# SNS encrypts its topics with this key; SQS uses its own managed encryption (SSE-SQS), which SNS can deliver into
# without a key grant.
resource "aws_kms_key" "messaging" {
  description         = "qcl: SNS topics of the event bus"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "account"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.this.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "sns"
        Effect    = "Allow"
        Principal = { Service = "sns.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_sns_topic" "this" {
  for_each                    = module.names.topics
  name                        = "${var.name_prefix}${each.key}.fifo"
  fifo_topic                  = true
  content_based_deduplication = false # every publish carries its own deduplication id
  kms_master_key_id           = aws_kms_key.messaging.arn
}

resource "aws_sqs_queue" "hold" {
  for_each                  = module.names.holds
  name                      = each.value
  fifo_queue                = true
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600 # 14 days, the most SQS keeps: time to look at a dead letter
}

resource "aws_sqs_queue" "consumer" {
  for_each                   = module.names.queues
  name                       = each.value.name
  fifo_queue                 = true
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = var.visibility_timeout_s
  message_retention_seconds  = 604800 # 7 days, as the Pub/Sub subscriptions keep
  # One receive more than the consumer's own limit: the consumer dead-letters with a reason first; this is the
  # backstop for a consumer that dies mid-delivery.
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.hold[each.value.dead_letter].arn
    maxReceiveCount     = var.max_delivery_attempts + 1
  })
}

locals {
  # queue key -> (queue, the topic that feeds it)
  fed = merge(
    { for k, q in module.names.queues : k => { url = aws_sqs_queue.consumer[k].id, arn = aws_sqs_queue.consumer[k].arn, topic = q.topic } },
    { for t, _ in module.names.holds : "${t}.hold" => { url = aws_sqs_queue.hold[t].id, arn = aws_sqs_queue.hold[t].arn, topic = t } },
  )
}

# SNS may deliver into each queue from its own topic only.
resource "aws_sqs_queue_policy" "this" {
  for_each  = local.fed
  queue_url = each.value.url
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = each.value.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.this[each.value.topic].arn } }
    }]
  })
}

resource "aws_sns_topic_subscription" "this" {
  for_each             = local.fed
  topic_arn            = aws_sns_topic.this[each.value.topic].arn
  protocol             = "sqs"
  endpoint             = each.value.arn
  raw_message_delivery = true # the queue holds the event's bytes and attributes, as published
}
