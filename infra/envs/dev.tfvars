# terraform apply -var-file=envs/dev.tfvars   (README.md walks through the first run)
project_id  = "qcl-dev-000000" # your dev project id
environment = "dev"
region      = "europe-west4"
shard_zones = ["europe-west4-a", "europe-west4-b", "europe-west4-c"]

log_level              = "DEBUG"
narrator_min_instances = 0 # scale to zero: a warm L4 instance costs about 25 USD a day (README.md)
narrator_max_instances = 1
redis_tier             = "BASIC"
redis_memory_gb        = 1
deletion_protection    = false
alert_emails           = []
