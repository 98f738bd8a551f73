"""Personal data: what the system holds about whom, for how long, and how one key's share is exported or erased.

    inventory.py   the table: each kind of personal data, where it lives (store key families), its retention
    anonymize.py   client addresses cut to /24 (IPv4) or /48 (IPv6) before a log line or audit entry is written
    subject.py     one API key's data: find it, export it as JSON, erase it with a receipt in the audit trail
    cli.py         `qcl privacy inventory|export|erase` (through the API: GET/DELETE /api/admin/privacy/{key_id})

docs/privacy.md says the same for people; tests/unit/test_privacy_inventory.py holds the table to the key registry.
"""
