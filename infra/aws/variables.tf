variable "region" {
  type        = string
  description = "AWS region of every resource (the EKS cluster's region)."
  default     = "eu-west-1"
}

variable "environment" {
  type        = string
  description = "dev or prod: tags, and how much ElastiCache keeps."
  default     = "dev"
  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "name_prefix" {
  type        = string
  description = "Start of every topic and queue name: the services' QCL_AWS_PREFIX (qcl/bus/sqs.py names <prefix><topic>.fifo and <prefix><topic>--<consumer>.fifo)."
  default     = "qcl-" # infra/modules/aws_naming checks it
}

variable "max_delivery_attempts" {
  type        = number
  description = "The services' QCL_MAX_DELIVERY_ATTEMPTS; each queue's redrive (the backstop) is one receive more."
  default     = 5
  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be 5..100, as the services accept."
  }
}

variable "visibility_timeout_s" {
  type        = number
  description = "How long a received message stays hidden while its handler runs (the bus extends it for slow batches)."
  default     = 60
}

variable "vpc_id" {
  type        = string
  description = "The EKS cluster's VPC: ElastiCache runs in it."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets for ElastiCache, in at least two availability zones."
  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "ElastiCache's replica in another zone needs at least two subnets."
  }
}

variable "node_security_group_id" {
  type        = string
  description = "The EKS nodes' security group: the only one that may reach Redis."
}

variable "eks_oidc_provider_arn" {
  type        = string
  description = "The EKS cluster's IAM OIDC provider (IRSA): each service account assumes its own role through it."
}

variable "eks_oidc_issuer" {
  type        = string
  description = "The cluster's OIDC issuer without https:// (oidc.eks.<region>.amazonaws.com/id/<id>)."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace of the workloads (deploy/k8s: qcl)."
  default     = "qcl"
}

variable "oracle_nodes" {
  type        = number
  description = "Oracle committee members, each with its own role (deploy/k8s runs 4)."
  default     = 4
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type; two nodes (primary and replica in another zone)."
  default     = "cache.t4g.small"
}
