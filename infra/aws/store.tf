# The store (QCL_STORE=redis): ElastiCache for Redis OSS in the cluster's VPC, a replica in a second zone with
# automatic failover, encrypted at rest and in transit, behind an auth token. The services' QCL_REDIS_URL
# (rediss://:<token>@<primary>:6379/0) is kept in Secrets Manager, from where the operator copies it into the
# Kubernetes Secret qcl-secrets (docs/deploy/aws.md).

resource "aws_kms_key" "store" {
  description         = "qcl: ElastiCache data at rest, snapshots and the Redis URL secret"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "account"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.this.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_security_group" "redis" {
  name        = "${var.name_prefix}redis"
  description = "qcl Redis: reachable from the EKS nodes only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_nodes" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis over TLS from the EKS nodes"
  referenced_security_group_id = var.node_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_elasticache_subnet_group" "redis" {
  name       = "${var.name_prefix}redis"
  subnet_ids = var.private_subnet_ids
}

resource "random_password" "redis_auth" {
  length  = 64
  special = false # ElastiCache accepts only printable characters other than @, " and /; alphanumerics avoid URL escaping
}

resource "aws_elasticache_replication_group" "store" {
  replication_group_id       = "${var.name_prefix}store"
  description                = "qcl store: tasks, keys, reports, oracle state"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  multi_az_enabled           = true
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.redis.name
  security_group_ids         = [aws_security_group.redis.id]
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.store.arn
  transit_encryption_enabled = true
  auth_token                 = random_password.redis_auth.result
  snapshot_retention_limit   = var.environment == "prod" ? 7 : 1
  auto_minor_version_upgrade = true
}

resource "aws_secretsmanager_secret" "redis_url" {
  # checkov:skip=CKV2_AWS_57:the token is ElastiCache's auth token; rotating it is a planned `terraform apply` (ElastiCache's ROTATE strategy), not a Lambda
  name        = "${var.name_prefix}redis-url"
  description = "QCL_REDIS_URL for the services (copied into the Kubernetes Secret qcl-secrets)"
  kms_key_id  = aws_kms_key.store.arn
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id     = aws_secretsmanager_secret.redis_url.id
  secret_string = "rediss://:${random_password.redis_auth.result}@${aws_elasticache_replication_group.store.primary_endpoint_address}:6379/0"
}
