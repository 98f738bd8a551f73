terraform {
  # `terraform test` with expect_failures on variables and check blocks needs 1.7; no provider on purpose.
  required_version = ">= 1.7"
}
