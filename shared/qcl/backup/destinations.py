"""Where backups are kept: a local folder, or a Cloud Storage bucket (`gs://bucket/prefix`).

    place = open_destination(".qcl-backups")            # or "gs://qcl-backups/prod"
    where = place.put("qcl-backup-20261205T0800Z-ab12cd34.qclb", data)
    place.names(); place.get(name); place.head(name)    # head: the first bytes, enough for the manifest

On Google Cloud the bucket keeps versions and a retention period (infra/backup.tf), so a backup written cannot be
overwritten or deleted early even with the writer's credentials. STORAGE_EMULATOR_HOST points the client at an
emulator (tests run gcp-storage-emulator) with anonymous credentials.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from qcl.backup.archive import MANIFEST_MAX_BYTES, BackupError

SUFFIX = ".qclb"


class Destination(Protocol):
    where: str

    def put(self, name: str, data: bytes) -> str: ...

    def names(self) -> list[str]: ...

    def get(self, name: str) -> bytes: ...

    def head(self, name: str) -> bytes: ...


def open_destination(spec: str, *, project: str | None = None) -> Destination:
    if spec.startswith("gs://"):
        bucket, _, prefix = spec.removeprefix("gs://").partition("/")
        if not bucket:
            raise BackupError(f"a Cloud Storage destination reads gs://BUCKET[/PREFIX], got {spec!r}")
        return GcsDestination(bucket, prefix.strip("/"), project=project)
    return LocalDestination(Path(spec))


class LocalDestination:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where = str(folder)

    def put(self, name: str, data: bytes) -> str:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.folder / name
        partial = path.with_name(path.name + ".partial")  # a crash mid-write leaves no file that looks whole
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        partial.rename(path)
        return str(path)

    def names(self) -> list[str]:
        return sorted(p.name for p in self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else []

    def get(self, name: str) -> bytes:
        path = self.folder / name
        if not path.is_file():
            raise BackupError(f"no backup {name} in {self.folder}")
        return path.read_bytes()

    def head(self, name: str) -> bytes:
        with (self.folder / name).open("rb") as handle:
            return handle.read(MANIFEST_MAX_BYTES)


class GcsDestination:
    def __init__(self, bucket: str, prefix: str, *, project: str | None = None) -> None:
        from google.cloud import storage  # type: ignore[attr-defined]  # a namespace package

        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            client = storage.Client(project=project or "qcl-local", credentials=AnonymousCredentials())
        else:
            client = storage.Client(project=project)
        self._bucket: Any = client.bucket(bucket)
        self._prefix = f"{prefix}/" if prefix else ""
        self.where = f"gs://{bucket}/{self._prefix}"

    def put(self, name: str, data: bytes) -> str:
        blob = self._bucket.blob(self._prefix + name)
        # if_generation_match=0: a name is written once; the upload is one request with its crc32c checked.
        blob.upload_from_string(data, content_type="application/octet-stream", if_generation_match=0)
        return self.where + name

    def names(self) -> list[str]:
        blobs = self._bucket.client.list_blobs(self._bucket, prefix=self._prefix)
        return sorted(b.name.removeprefix(self._prefix) for b in blobs if b.name.endswith(SUFFIX))

    def get(self, name: str) -> bytes:
        from google.api_core.exceptions import NotFound

        try:
            data: bytes = self._bucket.blob(self._prefix + name).download_as_bytes()
        except NotFound:
            raise BackupError(f"no backup {name} in {self.where}") from None
        return data

    def head(self, name: str) -> bytes:
        data: bytes = self._bucket.blob(self._prefix + name).download_as_bytes(start=0, end=MANIFEST_MAX_BYTES - 1)
        return data
