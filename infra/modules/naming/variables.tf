# Inputs of the naming module: everything the deployment derives names, routes and sizes from.
# Provider-free on purpose, so `terraform test` checks these rules offline (infra/README.md, "Checks").

variable "project_id" {
  type        = string
  description = "Google Cloud project id that holds the deployment (one project per environment)."
  validation {
    # https://cloud.google.com/resource-manager/docs/creating-managing-projects: 6-30 chars, lowercase, digits, hyphens.
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be 6-30 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "environment" {
  type        = string
  description = "Deployment environment: dev or prod."
  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "region" {
  type        = string
  description = "Region of every regional resource; must offer NVIDIA L4 on Cloud Run and Compute Engine."
  validation {
    # Cloud Run L4 regions listed on cloud.google.com/run/docs/configuring/services/gpu (read 2026-11; asia-south1
    # and, for new projects, us-central1 are by invitation). All of them also offer G2 (L4) VMs.
    condition     = contains(["us-central1", "us-east4", "europe-west1", "europe-west4", "asia-southeast1", "asia-south1"], var.region)
    error_message = "region must offer L4 GPUs on Cloud Run: us-central1, us-east4, europe-west1, europe-west4, asia-southeast1 or asia-south1."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (service accounts, services, the VM pool); 2-8 lowercase letters or digits."
  default     = "qcl"
  validation {
    # Service account ids are 6-30 characters; the longest suffix used is "-scheduler" (10), so 8 + 10 + room.
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.name_prefix))
    error_message = "name_prefix must be 2-8 lowercase letters or digits, starting with a letter."
  }
}

variable "registry" {
  type = list(object({
    topic             = string
    dead_letter_topic = string
    event_type        = string
    description       = string
    producers         = list(string)
    consumers         = list(string)
    subscriptions     = list(string)
  }))
  description = "The topic registry exactly as `qcl topics --json` prints it (infra/topics.json)."
  validation {
    condition     = length(var.registry) > 0
    error_message = "registry must list at least one topic (regenerate infra/topics.json with `qcl topics --json`)."
  }
  validation {
    # Pub/Sub resource ids: 3-255 chars, start with a letter, letters/digits/-_.~+%, not starting with "goog".
    condition = alltrue([
      for t in var.registry : alltrue([
        for name in concat([t.topic, t.dead_letter_topic], t.subscriptions) :
        can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", name)) && !startswith(lower(name), "goog")
      ])
    ])
    error_message = "every topic and subscription name must be a valid Pub/Sub id (3-255 chars, starting with a letter, not \"goog\")."
  }
  validation {
    condition     = alltrue([for t in var.registry : length(t.consumers) > 0 && length(t.subscriptions) == length(t.consumers)])
    error_message = "every topic needs at least one consumer and one subscription per consumer."
  }
  validation {
    condition     = length(distinct([for t in var.registry : t.topic])) == length(var.registry)
    error_message = "topic names in the registry must be unique."
  }
}

variable "push_consumers" {
  type        = map(map(string))
  description = "Consumers served by a Cloud Run service of the same name, pushed to over HTTPS with OIDC; per topic an optional path override (default \"/<topic>\"). Other consumers pull."
  default = {
    analyzer = { "qubic-ticks" = "/" } # containers/analyzer/main.py serves POST /
    narrator = {}
  }
  validation {
    # The oracle members pull: they share oracle-requests and network-analysis, and a push reaches one endpoint.
    condition     = alltrue([for c in keys(var.push_consumers) : contains(["analyzer", "narrator"], c)])
    error_message = "push_consumers may only name the Cloud Run services analyzer and narrator (oracle members pull)."
  }
  validation {
    condition     = alltrue(flatten([for paths in values(var.push_consumers) : [for p in values(paths) : startswith(p, "/")]]))
    error_message = "every push path must start with \"/\"."
  }
}

variable "consumer_timeouts_s" {
  type        = map(number)
  description = "Seconds each consumer may take to handle one event; becomes the ack deadline of its subscriptions and the request timeout of its Cloud Run service. Consumers not listed get 60."
  default = {
    analyzer = 60
    narrator = 600 # a narration or an answer from the language model
    oracle   = 300 # a PBFT round across the committee
    api      = 60
  }
  validation {
    # Pub/Sub ack deadlines are 10-600 s (https://cloud.google.com/pubsub/docs/lease-management).
    condition     = alltrue([for t in values(var.consumer_timeouts_s) : t >= 10 && t <= 600 && floor(t) == t])
    error_message = "consumer timeouts must be whole seconds between 10 and 600 (the Pub/Sub ack deadline range)."
  }
}

variable "max_delivery_attempts" {
  type        = number
  description = "QCL_MAX_DELIVERY_ATTEMPTS: deliveries after which the consumer dead-letters an event with its reason."
  default     = 5
  validation {
    # The subscription's own policy is one more (the backstop), and Pub/Sub allows 5-100.
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 99 && floor(var.max_delivery_attempts) == var.max_delivery_attempts
    error_message = "max_delivery_attempts must be a whole number from 5 to 99 (the subscription backstop adds one, Pub/Sub allows up to 100)."
  }
}

variable "shard_layer_ranges" {
  type        = list(string)
  description = "Half-open layer ranges \"first:end\" of the three shard stages, contiguous from 0, as `qcl shard plan --stages 3` computes them for the pool's model and precision (the embedding and LM head weigh on the first and last stage)."
  default     = ["0:12", "12:24", "24:30"]
  validation {
    condition     = length(var.shard_layer_ranges) == 3 && alltrue([for r in var.shard_layer_ranges : can(regex("^[0-9]+:[0-9]+$", r))])
    error_message = "shard_layer_ranges must be three \"first:end\" ranges, one per stage."
  }
  validation {
    condition = can(regex("^[0-9]+:[0-9]+$", var.shard_layer_ranges[0])) && alltrue([
      for i, r in var.shard_layer_ranges : can(regex("^[0-9]+:[0-9]+$", r)) && (
        tonumber(split(":", r)[0]) < tonumber(split(":", r)[1])) && (
        tonumber(split(":", r)[0]) == (i == 0 ? 0 : tonumber(split(":", var.shard_layer_ranges[max(i - 1, 0)])[1]))
      )
    ])
    error_message = "shard_layer_ranges must be non-empty, start at layer 0 and be contiguous (each range starts where the previous ends)."
  }
}

variable "shard_port" {
  type        = number
  description = "Port of each shard's gRPC data plane and gRPC health service."
  default     = 50051
  validation {
    condition     = var.shard_port >= 1024 && var.shard_port <= 65535 && floor(var.shard_port) == var.shard_port
    error_message = "shard_port must be an unprivileged port (1024-65535)."
  }
}

variable "ingest_schedule" {
  type        = string
  description = "Cron schedule (5 fields, Cloud Scheduler syntax) on which Cloud Scheduler calls the ingest function."
  default     = "* * * * *"
  validation {
    condition     = length(split(" ", trimspace(var.ingest_schedule))) == 5 && can(regex("^[0-9*/,-]+( [0-9A-Za-z*/,-]+){4}$", trimspace(var.ingest_schedule)))
    error_message = "ingest_schedule must be a 5-field cron expression such as \"* * * * *\" (every minute)."
  }
}

variable "oracle_nodes" {
  type        = number
  description = "Members of the oracle committee, n = 3f + 1 (4 tolerates one faulty node); one signing key each."
  default     = 4
  validation {
    # PBFT needs n >= 3f + 1 with f >= 1; other sizes add cost without adding tolerance.
    condition     = var.oracle_nodes >= 4 && (var.oracle_nodes - 1) % 3 == 0
    error_message = "oracle_nodes must be 3f + 1 for some f >= 1: 4, 7, 10, ..."
  }
}

variable "workflow_triggers" {
  type        = any
  description = "Workflow name to its triggers, as workflows/triggers.json writes them: {topic, condition?}, {every_s} or {cron} (qcl.workflows.triggers)."
  default     = {}
  validation {
    condition = alltrue(flatten([
      for wf, specs in var.workflow_triggers : [
        for t in specs : length([for k in ["topic", "every_s", "cron"] : k if can(t[k])]) == 1
      ]
    ]))
    error_message = "each workflow trigger has exactly one of topic (+ condition), every_s, cron."
  }
  validation {
    # Cloud Scheduler takes unix-cron: an interval must divide an hour (in minutes) or a day (in hours).
    condition = alltrue(flatten([
      for wf, specs in var.workflow_triggers : [
        for t in specs : try(
          (t.every_s % 60 == 0 && t.every_s < 3600 && 60 % (t.every_s / 60) == 0) ||
          (t.every_s % 3600 == 0 && t.every_s <= 86400 && 24 % (t.every_s / 3600) == 0),
          !can(t.every_s) # not an interval; one with a value that is no number fails
        )
      ]
    ]))
    error_message = "every_s must be a whole number of minutes dividing an hour (60, 300, 900, ...) or of hours dividing a day (3600, 21600, 86400) to become a Cloud Scheduler schedule."
  }
}
