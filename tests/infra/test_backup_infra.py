"""The backup job's Terraform (infra/backup.tf): a bucket that keeps every backup, a job that can only add to it,
and a schedule that starts it (docs/runbooks/disaster-recovery.md).

.venv/bin/pytest tests/infra/test_backup_infra.py
"""

from __future__ import annotations

from tests.infra import hcl


def _resource(kind: str, name: str) -> dict[str, object]:
    return next(r for r in hcl.resources(kind) if r.name == name).body


def test_the_backup_bucket_is_private_versioned_and_holds_each_backup_for_the_retention_period() -> None:
    bucket = _resource("google_storage_bucket", "backups")
    assert bucket["public_access_prevention"] == "enforced" and bucket["uniform_bucket_level_access"] is True
    assert hcl.blocks(bucket, "versioning")[0]["enabled"] is True
    assert hcl.blocks(bucket, "retention_policy")[0]["retention_period"] == "${var.backup_retention_days * 86400}"


def test_the_backup_job_may_add_and_read_backups_but_not_delete_them() -> None:
    grants = _resource("google_storage_bucket_iam_member", "backup_job")
    assert grants["for_each"] == '${toset(["roles/storage.objectCreator", "roles/storage.objectViewer"])}'
    assert grants["member"] == 'serviceAccount:${google_service_account.component["backup"].email}'


def test_the_job_runs_qcl_backup_create_into_the_bucket_with_the_key_from_secret_manager() -> None:
    job = _resource("google_cloud_run_v2_job", "backup")
    template = hcl.blocks(hcl.blocks(job, "template")[0], "template")[0]
    assert template["service_account"] == '${google_service_account.component["backup"].email}'
    container = hcl.blocks(template, "containers")[0]
    assert container["command"] == ["qcl"]
    assert container["args"][:3] == ["backup", "create", "--to"]
    assert container["args"][3].startswith("gs://${google_storage_bucket.backups.name}/")
    secret_env = container["dynamic"][1]["env"]["for_each"]
    assert "QCL_BACKUP_KEY" in secret_env and 'this["backup_key"]' in secret_env


def test_the_scheduler_starts_the_job_on_the_backup_schedule_with_its_own_identity() -> None:
    schedule = _resource("google_cloud_scheduler_job", "backup")
    assert schedule["schedule"] == "${var.backup_schedule}"
    target = hcl.blocks(schedule, "http_target")[0]
    assert target["uri"].endswith("/jobs/${google_cloud_run_v2_job.backup.name}:run")
    token = hcl.blocks(target, "oauth_token")[0]
    assert token["service_account_email"] == '${google_service_account.component["scheduler"].email}'
    invoker = _resource("google_cloud_run_v2_job_iam_member", "scheduler_runs_backup")
    assert (
        invoker["role"] == "roles/run.invoker"
        and invoker["member"] == f"serviceAccount:{token['service_account_email']}"
    )
