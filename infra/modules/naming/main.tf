# Derived names, routes and sizes. Pure: no provider, no resource, so it is tested offline with `terraform test`.

locals {
  # Components that run under their own service account. "push" is the identity Pub/Sub signs push requests with,
  # "deployer" the one Cloud Build runs as. Producers and consumers in the registry must be among these.
  components = ["ingest", "api", "analyzer", "narrator", "oracle", "shard", "scheduler", "push", "deployer", "workflows", "backup"]

  # The oracle committee is no one identity: each member runs as its own service account, in its own Cloud Run
  # service, reading only its own key secret, so that taking over one member yields one vote, never a quorum.
  oracle_members = {
    for i in range(var.oracle_nodes) : "oracle-${i}" => {
      index      = i
      service    = "${var.name_prefix}-oracle-${i}"
      key_secret = "oracle_node_key_${i}" # a key of local.secrets
    }
  }
  # Identities: one per component, except the oracle, which has one per member ("oracle-0" ...).
  identities       = concat([for c in local.components : c if c != "oracle"], keys(local.oracle_members))
  service_accounts = { for c in local.identities : c => "${var.name_prefix}-${c}" }

  # Cloud Run services and Cloud Functions, named "<prefix>-<component>".
  # The API runs as a Cloud Function (stateless HTTP) and as a Cloud Run service (HTTP + WebSocket + consumer);
  # Cloud Functions 2nd gen are Cloud Run services too, so the two need different names.
  services = merge(
    { for s in ["analyzer", "narrator"] : s => "${var.name_prefix}-${s}" },
    { api = "${var.name_prefix}-api-svc" },
    { for m, member in local.oracle_members : m => member.service },
  )
  functions = { for f in ["ingest", "api"] : f => "${var.name_prefix}-${f}" }

  # Registry names map to components ("oracle-0" ... "oracle-6" to "oracle"), and to the identities that get their
  # grants: "oracle" (what every member does) to every member, "oracle-<i>" to member i alone (none past n).
  registry_names     = distinct(flatten([for t in var.registry : concat(t.producers, t.consumers)]))
  component_of       = { for n in local.registry_names : n => replace(n, "/-[0-9]+$/", "") }
  unknown_components = setsubtract(values(local.component_of), local.components)
  identities_of = {
    for n in local.registry_names : n => (
      n == "oracle" ? keys(local.oracle_members) : (local.component_of[n] == "oracle" ? [for m in [n] : m if contains(keys(local.oracle_members), m)] : [n])
    )
  }

  topics = { for t in var.registry : t.topic => { dead_letter_topic = t.dead_letter_topic, event_type = t.event_type, description = t.description } }

  subscriptions = merge([
    for t in var.registry : {
      for i, consumer in t.consumers : t.subscriptions[i] => {
        topic             = t.topic
        consumer          = consumer
        dead_letter_topic = t.dead_letter_topic
        push              = contains(keys(var.push_consumers), consumer)
        push_service      = contains(keys(var.push_consumers), consumer) ? consumer : null
        push_path         = contains(keys(var.push_consumers), consumer) ? lookup(var.push_consumers[consumer], t.topic, "/${t.topic}") : null
        # The push request's HTTP timeout is the ack deadline, so it equals the consumer's own timeout.
        ack_deadline_seconds = lookup(var.consumer_timeouts_s, consumer, 60)
        # One more than the consumer's own limit: the consumer dead-letters with a reason first (qcl/bus/pubsub.py);
        # this policy is the backstop for a consumer that dies mid-delivery.
        max_delivery_attempts = var.max_delivery_attempts + 1
      }
    }
  ]...)

  # Every dead-letter topic keeps its messages in a pull subscription nobody consumes automatically.
  hold_subscriptions = { for t in var.registry : "${t.dead_letter_topic}.hold" => t.dead_letter_topic }

  # IAM derived from the registry. The scheduler's only job calls ingest over HTTP, so it publishes nothing even
  # where the registry lists it as a producer; a scheduler job that publishes would add its grant here.
  publishers = merge([
    for t in var.registry : merge([
      for p in t.producers : { for i in local.identities_of[p] : "${t.topic}/${i}" => { topic = t.topic, component = i } } if p != "scheduler"
    ]...)
  ]...)
  # A consumer dead-letters undecodable or exhausted events itself, so it publishes to its topics' dead-letter topics.
  dead_letter_publishers = merge([
    for t in var.registry : {
      for i in distinct(flatten([for c in t.consumers : local.identities_of[c]])) : "${t.dead_letter_topic}/${i}" => { topic = t.dead_letter_topic, component = i }
    }
  ]...)
  # Subscription to the identities that pull it: several for a subscription the oracle members share.
  pull_subscribers = { for name, s in local.subscriptions : name => local.identities_of[s.consumer] if !s.push }

  # Three pipeline stages over contiguous, half-open layer ranges [first, end), as the library plans them.
  shard_stages = [
    for i, range in var.shard_layer_ranges : {
      index = i
      name  = "${var.name_prefix}-shard-${i}"
      first = tonumber(split(":", range)[0])
      end   = tonumber(split(":", range)[1])
    }
  ]

  secrets = merge(
    {
      api_key_pepper = "${var.name_prefix}-api-key-pepper"
      backup_key     = "${var.name_prefix}-backup-key"
      redis_url      = "${var.name_prefix}-redis-url"
      run_monitoring = "${var.name_prefix}-run-monitoring" # the API's Prometheus sidecar's scrape config
    },
    { for i in range(var.oracle_nodes) : "oracle_node_key_${i}" => "${var.name_prefix}-oracle-node-key-${i}" },
  )

  # Workflow triggers (workflows/triggers.json) as Google Cloud resources: a schedule becomes a Cloud Scheduler job
  # (cron-lite is unix-cron in UTC; an interval becomes the cron that repeats it), a topic trigger an Eventarc
  # trigger on the topic that starts a guard workflow, which evaluates the condition and starts the workflow.
  # A condition that reads `previous` (the event seen before) needs state Cloud Workflows does not keep; those
  # stay with the API's executor and are listed in workflow_triggers_local_only.
  trigger_specs = flatten([
    for wf, specs in var.workflow_triggers : [for i, t in specs : { workflow = wf, index = i, spec = t }]
  ])
  workflow_schedules = {
    for t in local.trigger_specs : "${t.workflow}-${t.index}" => {
      workflow = t.workflow
      spec     = t.spec
      schedule = try(t.spec.cron, t.spec.every_s < 3600 ? "*/${t.spec.every_s / 60} * * * *" : (
        t.spec.every_s == 86400 ? "0 0 * * *" : "0 */${t.spec.every_s / 3600} * * *"
      ))
    } if can(t.spec.cron) || can(t.spec.every_s)
  }
  topic_specs = [
    for t in local.trigger_specs : merge(t, { condition = try(t.spec.condition, "$${true}") }) if can(t.spec.topic)
  ]
  workflow_topic_triggers = {
    for t in local.topic_specs : "${t.workflow}-${t.index}" => {
      workflow  = t.workflow
      topic     = t.spec.topic
      condition = t.condition
    } if length(regexall("\\bprevious\\b", t.condition)) == 0
  }
  workflow_triggers_local_only = {
    for t in local.topic_specs : "${t.workflow}-${t.index}" => "condition reads previous, which only the API's executor keeps: ${t.condition}"
    if length(regexall("\\bprevious\\b", t.condition)) > 0
  }

  labels = {
    app         = var.name_prefix
    environment = var.environment
    managed-by  = "terraform"
  }
}

# Registry entries that no service account covers would silently get no IAM; stop the plan instead.
check "registry_components_known" {
  assert {
    condition     = length(local.unknown_components) == 0
    error_message = "the registry names components without a service account: ${join(", ", local.unknown_components)}; add them to local.components in infra/modules/naming."
  }
}
