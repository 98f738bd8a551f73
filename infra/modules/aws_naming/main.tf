# Names and grants of the AWS bus (qcl/bus/sqs.py), derived from the registry: pure, tested offline.

locals {
  # SNS topic name (without prefix and .fifo) -> description
  topics = merge(
    { for t in var.registry : t.topic => t.description },
    { for t in var.registry : t.dead_letter_topic => "dead letters of ${t.topic}" },
  )
  # "<topic>.<consumer>" (the library's subscription name) -> its queue; SQS allows no dots but the .fifo suffix
  queues = merge([
    for t in var.registry : {
      for c in t.consumers : "${t.topic}.${c}" => {
        topic       = t.topic
        consumer    = c
        dead_letter = t.dead_letter_topic
        name        = "${var.name_prefix}${t.topic}--${c}.fifo"
      }
    }
  ]...)
  # dead-letter topic -> the queue that keeps its messages until someone drains them
  holds = { for t in var.registry : t.dead_letter_topic => "${var.name_prefix}${t.dead_letter_topic}--hold.fifo" }

  # One identity per Kubernetes service account (deploy/k8s/serviceaccounts.yaml); each oracle member its own.
  oracle_members = [for i in range(var.oracle_nodes) : "oracle-${i}"]
  identities     = concat(["ingest", "api", "analyzer", "narrator", "shard"], local.oracle_members)

  # Registry names -> identities: "oracle" is every member, "oracle-<i>" member i alone (none past n); the API runs
  # the workflow executor; the scheduler's job calls ingest over HTTP and publishes nothing.
  registry_names = distinct(flatten([for t in var.registry : concat(t.producers, t.consumers)]))
  identities_of = {
    for n in local.registry_names : n => (
      n == "oracle" ? local.oracle_members : (n == "workflows" ? ["api"] : [for i in [n] : i if contains(local.identities, i)])
    )
  }

  # What each identity publishes to: the topics it produces, and the dead-letter topics of those it consumes (a
  # consumer dead-letters itself); what it consumes: its own queues.
  publishes = {
    for i in local.identities : i => distinct(concat(
      [for t in var.registry : t.topic if anytrue([for p in t.producers : contains(local.identities_of[p], i)])],
      [for t in var.registry : t.dead_letter_topic if anytrue([for c in t.consumers : contains(local.identities_of[c], i)])],
    ))
  }
  consumes = { for i in local.identities : i => [for k, q in local.queues : k if contains(local.identities_of[q.consumer], i)] }
}
