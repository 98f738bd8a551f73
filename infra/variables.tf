# Inputs of the deployment. Values per environment live in envs/dev.tfvars and envs/prod.tfvars.

variable "project_id" {
  type        = string
  description = "Google Cloud project id (one project per environment)."
}

variable "environment" {
  type        = string
  description = "dev or prod (validated in modules/naming)."
}

variable "region" {
  type        = string
  description = "Region of every regional resource; must offer L4 GPUs on Cloud Run (validated in modules/naming)."
}

variable "shard_zones" {
  type        = list(string)
  description = "Zones of the region with L4 VMs (G2) that the shard pool spreads over."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of resource names (validated in modules/naming)."
  default     = "qcl"
}

variable "image_tag" {
  type        = string
  description = "Image tag the services start with; empty until the first Cloud Build run pushed images (a public placeholder serves until then)."
  default     = ""
}

variable "log_level" {
  type        = string
  description = "QCL_LOG_LEVEL of every service."
  default     = "INFO"
  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR (qcl/config.py)."
  }
}

variable "qubic_rpc_url" {
  type        = string
  description = "QCL_RPC_URL: the Qubic RPC the ingest function polls."
  default     = "https://rpc.qubic.org"
}

variable "max_delivery_attempts" {
  type        = number
  description = "QCL_MAX_DELIVERY_ATTEMPTS; subscriptions dead-letter one attempt later as a backstop."
  default     = 5
}

variable "consumer_timeouts_s" {
  type        = map(number)
  description = "Seconds per event per consumer: ack deadline of its subscriptions and timeout of its service."
  default = {
    analyzer = 60
    narrator = 600
    oracle   = 300
    api      = 60
  }
}

variable "push_consumers" {
  type        = map(map(string))
  description = "Consumers pushed to at their Cloud Run service, with per-topic path overrides (default /<topic>)."
  default = {
    analyzer = { "qubic-ticks" = "/" }
    narrator = {}
  }
}

variable "ingest_schedule" {
  type        = string
  description = "Cron schedule of the Cloud Scheduler job that calls ingest (Cloud Scheduler's shortest period is a minute)."
  default     = "* * * * *"
}

variable "backup_schedule" {
  type        = string
  description = "Cloud Scheduler cron of the backup job (the recovery point objective is this period plus one backup's duration; docs/runbooks/disaster-recovery.md)."
  default     = "0 * * * *"
}

variable "backup_retention_days" {
  type        = number
  description = "Days every backup is kept by the bucket's retention policy (no identity can delete one earlier)."
  default     = 30

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 3650
    error_message = "backup_retention_days must be between 1 and 3650."
  }
}

variable "scheduler_time_zone" {
  type        = string
  description = "Time zone of the ingest schedule."
  default     = "Etc/UTC"
}

variable "api_invokers" {
  type        = list(string)
  description = "Members allowed to call the API function (a gateway's service account, a group). Public access is a deliberate step outside this configuration (README.md)."
  default     = []
}

variable "api_max_instances" {
  type        = number
  description = "Upper bound of API instances (the Cloud Function and the Cloud Run service each)."
  default     = 10
}

variable "analyzer_max_instances" {
  type        = number
  description = "Upper bound of analyzer instances (one observation a minute needs one)."
  default     = 3
}

variable "narrator_min_instances" {
  type        = number
  description = "Narrator instances kept warm; each is billed a full L4 around the clock."
  default     = 0
}

variable "narrator_max_instances" {
  type        = number
  description = "Upper bound of narrator instances; keep at or below the Cloud Run L4 quota."
  default     = 1
}

variable "narrator_concurrency" {
  type        = number
  description = "Requests one narrator instance serves at once (generations it can batch)."
  default     = 4
}

variable "narrator_model" {
  type        = string
  description = "QCL_MODEL of the narrator: a model id from the library's registry (`qcl models`)."
  default     = "smollm2-135m-instruct"
}

variable "narrator_gpu_zonal_redundancy" {
  type        = bool
  description = "Reserve narrator GPU capacity across zones (dearer)."
  default     = false
}

variable "oracle_committee_file" {
  type        = string
  description = "Path of the committee file from the key ceremony (`qcl oracle init`; public keys only, safe to commit). Empty: the member services wait for it, as the shard pool waits for images (README.md, \"The oracle committee\")."
  default     = ""
}

variable "oracle_nodes" {
  type        = number
  description = "Oracle committee size n = 3f + 1 (validated in modules/naming)."
  default     = 4
}

variable "enable_shard_pool" {
  type        = bool
  description = "Create the three-VM GPU shard pool (about 51 USD a day; README.md)."
  default     = true
}

variable "shard_machine_type" {
  type        = string
  description = "Machine type of each shard VM (g2-standard-4 carries one L4)."
  default     = "g2-standard-4"
}

variable "shard_gpu_type" {
  type        = string
  description = "Accelerator for non-G2 machine types."
  default     = "nvidia-l4"
}

variable "shard_boot_disk_gb" {
  type        = number
  description = "Boot disk per shard VM in GB."
  default     = 100
}

variable "shard_model" {
  type        = string
  description = "Model id the shards serve (`qcl shard serve --model`)."
  default     = "smollm2-135m-instruct"
}

variable "shard_layer_ranges" {
  type        = list(string)
  description = "Layer ranges of the three shard stages: `QCL_QUANTIZATION=none qcl shard plan --model <shard_model> --stages 3` (GPU stages serve fp32 weights); validated in modules/naming."
  default     = ["0:12", "12:24", "24:30"]
}

variable "shard_port" {
  type        = number
  description = "gRPC data plane and health port of the shards (validated in modules/naming)."
  default     = 50051
}

variable "subnet_cidr" {
  type        = string
  description = "Subnet range of the shard pool."
  default     = "10.10.0.0/24"
}

variable "connector_cidr" {
  type        = string
  description = "/28 range of the Serverless VPC Access connector."
  default     = "10.8.0.0/28"
}

variable "redis_tier" {
  type        = string
  description = "Memorystore tier: BASIC or STANDARD_HA."
  default     = "BASIC"
}

variable "redis_memory_gb" {
  type        = number
  description = "Memorystore capacity in GB."
  default     = 1
}

variable "redis_version" {
  type        = string
  description = "Memorystore Redis version."
  default     = "REDIS_7_2"
}

variable "alert_emails" {
  type        = list(string)
  description = "Addresses that receive every alert (page and ticket)."
  default     = []
}

variable "alert_channels" {
  type = map(object({
    kind       = string
    target     = optional(string, "")
    secret     = optional(string, "")
    severities = optional(list(string), ["page", "ticket"])
  }))
  description = "Alert channels by name, per severity like QCL_ALERT_CHANNELS: kind email (target: address), webhook (secret: Secret Manager secret holding the URL with ?auth_token=), slack (target: #channel, secret: the bot token's secret), pubsub (the module's incidents topic). Secret values never go in tfvars (modules/monitoring/variables.tf)."
  default     = {}
}

variable "runbook_base_url" {
  type        = string
  description = "Base URL of the published docs site; alert policies link <base>/runbooks/<alert>/ (empty: they name docs/runbooks/<alert>.md only)."
  default     = ""
}

variable "error_rate_threshold" {
  type        = number
  description = "5xx share over 5 minutes that alerts (QclApiErrorRateHigh)."
  default     = 0.05
}

variable "latency_p95_threshold_ms" {
  type        = number
  description = "p95 latency in ms over 10 minutes that alerts (QclApiLatencyHigh, as ops/prometheus/alerts.yml); the narrator is excluded."
  default     = 1000
}

variable "stalled_pipeline_minutes" {
  type        = number
  description = "Minutes without a network-analysis report before QclPipelineStalled fires."
  default     = 10
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy Cloud Run services (prod)."
  default     = false
}

variable "github" {
  type = object({
    owner = string
    name  = string
  })
  description = "GitHub repository connected to Cloud Build (console, once); null creates no triggers."
  default     = null
}

variable "prometheus_sidecar_image" {
  type        = string
  description = "Google's Managed Service for Prometheus sidecar for Cloud Run, beside the API service (it scrapes the API's loopback /metrics for the PromQL alert policies); pinned by tag."
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"
  validation {
    condition     = can(regex(":[0-9]+\\.[0-9]+\\.[0-9]+$", var.prometheus_sidecar_image))
    error_message = "prometheus_sidecar_image must be pinned to a version tag (name:X.Y.Z), not latest."
  }
}
