"""Backup and restore of a stack's durable state: `qcl backup create|list|restore`.

archive.py is the file (manifest + AES-GCM), state.py what goes in and how it comes back, destinations.py where
files are kept (a folder, Cloud Storage), service.py the three operations the CLI and the benchmark call.
docs/runbooks/disaster-recovery.md is the procedure that uses them.
"""
