# The oracle committee, one Cloud Run service per member (n = oracle_nodes = 3f+1): member i runs as its own service
# account, which reads its own key secret and no other (iam.tf), so taking over one member's service or identity
# yields one vote of n, and the committee keeps deciding without it (PBFT tolerates f faulty members).
#
# Members reach each other through Pub/Sub, not by address: PBFT messages go on oracle-protocol, and member i pulls
# oracle-protocol.oracle-<i> (CPU always allocated). Cloud Run takes no inbound UDP or gRPC streams between
# instances, and every message is verified by its Ed25519 signature against the committee file, so the topic needs
# no peer URLs. Each service is held to exactly one instance: a second would run the same key twice (one identity
# signing in two places), and none would leave the committee a member short.

locals {
  oracle_committee_dir = "/secrets/oracle-committee"
  # The services wait for the key ceremony's committee file (README.md), as the shard pool waits for images.
  oracle_members = var.oracle_committee_file == "" ? {} : module.naming.oracle_members
}

module "oracle_member" {
  source   = "./modules/cloud_run_service"
  for_each = local.oracle_members

  name                  = each.value.service
  project_id            = var.project_id
  region                = var.region
  image                 = local.images["oracle"]
  service_account_email = google_service_account.component[each.key].email
  env = merge(local.common_env, {
    QCL_ORACLE_NODES          = tostring(var.oracle_nodes)
    QCL_ORACLE_MEMBER         = tostring(each.value.index)
    QCL_ORACLE_COMMITTEE_FILE = "${local.oracle_committee_dir}/committee.json"
  })
  # Its own key only: containers/oracle/main.py refuses to start with another member's key, or with more than one.
  secret_env = merge(local.redis_secret_env, {
    "QCL_ORACLE_NODE_KEY_${each.value.index}" = google_secret_manager_secret.this[each.value.key_secret].secret_id
  })
  secret_files         = merge(local.redis_secret_files, { (local.oracle_committee_dir) = google_secret_manager_secret.oracle_committee.secret_id })
  secret_file_names    = { (local.oracle_committee_dir) = "committee.json" }
  cpu                  = "2"
  memory               = "4Gi"
  cpu_always_allocated = true
  min_instances        = 1
  max_instances        = 1
  concurrency          = 4
  timeout_s            = lookup(module.naming.consumer_timeouts_s, "oracle", 300)
  startup_timeout_s    = 120
  ingress              = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  invokers             = [] # nothing calls a member: it pulls; only the platform's probes reach /api/health
  vpc_connector        = module.network.connector_id
  labels               = merge(module.naming.labels, { oracle-member = tostring(each.value.index) })
  deletion_protection  = var.deletion_protection

  depends_on = [
    google_secret_manager_secret_version.redis_url,
    google_secret_manager_secret_version.redis_ca,
    google_secret_manager_secret_version.oracle_committee,
    google_secret_manager_secret_iam_member.reader,
  ]
}
