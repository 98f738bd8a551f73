terraform {
  # Pure, as infra/modules/naming: no provider, so `terraform test` checks it offline.
  required_version = ">= 1.7"
}
