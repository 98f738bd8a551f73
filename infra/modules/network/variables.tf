variable "project_id" {
  type        = string
  description = "Project that holds the network."
}

variable "region" {
  type        = string
  description = "Region of the subnet, the connector and Redis."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name."
}

variable "labels" {
  type        = map(string)
  description = "Labels for labelled resources."
}

variable "subnet_cidr" {
  type        = string
  description = "Primary range of the subnet the shard pool lives in."
}

variable "connector_cidr" {
  type        = string
  description = "/28 range of the Serverless VPC Access connector (Cloud Run and Functions reach Redis and the pool through it)."
  validation {
    condition     = can(cidrhost(var.connector_cidr, 0)) && endswith(var.connector_cidr, "/28")
    error_message = "connector_cidr must be a /28 range, as Serverless VPC Access requires."
  }
}

variable "redis_tier" {
  type        = string
  description = "Memorystore tier: BASIC (one node, dev) or STANDARD_HA (replicated, prod)."
  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.redis_tier)
    error_message = "redis_tier must be BASIC or STANDARD_HA."
  }
}

variable "redis_memory_gb" {
  type        = number
  description = "Memorystore capacity in GB."
}

variable "redis_version" {
  type        = string
  description = "Memorystore Redis version, e.g. REDIS_7_2."
}
