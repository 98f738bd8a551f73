# The AWS deployment: the same services on EKS (deploy/k8s-aws), with the bus on SNS + SQS (qcl/bus/sqs.py) and the
# store on ElastiCache (Redis protocol, TLS and an auth token). Separate from the Google Cloud root module in infra/.
terraform {
  required_version = ">= 1.7"

  # Pinned to one major line; `terraform init` records the exact builds in .terraform.lock.hcl from the first
  # networked init (our CI machines cannot reach the registry: the checks here are fmt, checkov and tests/infra).
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # State in an S3 bucket made before the first init:
  #   terraform init -backend-config="bucket=<account>-qcl-tfstate" -backend-config="key=qcl/<env>" \
  #     -backend-config="region=<region>" -backend-config="use_lockfile=true"
  backend "s3" {}
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      "app.kubernetes.io/part-of" = "qcl"
      environment                 = var.environment
    }
  }
}
