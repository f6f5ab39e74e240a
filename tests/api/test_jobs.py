"""Import and export jobs through boto3: gateway -> Temporal workflow -> activities -> files.

Sources are real: a folder under the stack's file root, a loopback S3 (moto's server) and an
https server with a self-signed certificate that the worker is told to trust.
"""

from __future__ import annotations

import gzip
import http.server
import os
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

import jobfiles.exports as job_exports
from jobfiles import sources as job_sources
from jobfiles.rows import generated_id
from jobfiles.sources import SourceError, parse_location
from openpoint.errors import BadRequest
from tests.stack import Stack

ROLE = "arn:aws:iam::123456789012:role/pinpoint-import"
DONE = ("COMPLETED", "FAILED")


# -- helpers ----------------------------------------------------------------------------------


def csv_rows(n: int, *, start: int = 0, prefix: str = "ep") -> str:
    header = (
        "Id,ChannelType,Address,User.UserId,User.UserAttributes.FirstName,Attributes.Interests,"
        "Attributes.Interests,Metrics.sessions,Demographic.Timezone,Location.Country,OptOut\n"
    )
    body = "".join(
        f"{prefix}-{i:05d},EMAIL,{prefix}{i}@example.com,user-{prefix}-{i},Ann,shoes,hats,{i % 7},"
        f"Europe/Paris,FR,NONE\n"
        for i in range(start, start + n)
    )
    return header + body


def json_rows(ids: list[str]) -> str:
    return "".join(
        orjson.dumps(
            {
                "Id": eid,
                "ChannelType": "SMS",
                "Address": f"+1555{i:07d}",
                "Attributes": {"Plan": ["gold", "annual"]},
                "Location": {"Country": "CA", "Latitude": 49.26, "Longitude": -123.11},
                "User": {"UserId": f"u-{eid}", "UserAttributes": {"Age": ["42"]}},
                "Metrics": {"orders": 3.0},
            }
        ).decode()
        + "\n"
        for i, eid in enumerate(ids)
    )


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def folder(file_root: Path) -> Path:
    """A fresh folder per test under the shared file root."""
    path = file_root / secrets.token_hex(4)
    path.mkdir()
    return path


def start_import(pinpoint: Any, app_id: str, url: str, fmt: str = "CSV", **extra: Any) -> dict[str, Any]:
    request = {"Format": fmt, "S3Url": url, "RoleArn": ROLE, "RegisterEndpoints": True, **extra}
    if "SegmentId" not in extra and "DefineSegment" not in extra:
        request.update(DefineSegment=True, SegmentName=f"imported-{secrets.token_hex(2)}")
    resp = pinpoint.create_import_job(ApplicationId=app_id, ImportJobRequest=request)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    return dict(resp["ImportJobResponse"])


def wait_import(pinpoint: Any, app_id: str, job_id: str, timeout: float = 30) -> dict[str, Any]:
    return _wait(lambda: pinpoint.get_import_job(ApplicationId=app_id, JobId=job_id)["ImportJobResponse"], timeout)


def wait_export(pinpoint: Any, app_id: str, job_id: str, timeout: float = 30) -> dict[str, Any]:
    return _wait(lambda: pinpoint.get_export_job(ApplicationId=app_id, JobId=job_id)["ExportJobResponse"], timeout)


def _wait(get: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = dict(get())
        if job["JobStatus"] in DONE:
            return job
        assert time.monotonic() < deadline, f"job still {job['JobStatus']} after {timeout}s: {job}"
        time.sleep(0.05)


def run_import(pinpoint: Any, app_id: str, url: str, fmt: str = "CSV", **extra: Any) -> dict[str, Any]:
    job = start_import(pinpoint, app_id, url, fmt, **extra)
    return wait_import(pinpoint, app_id, job["Id"])


def members(stack: Stack, app_id: str, segment_id: str) -> set[str]:
    rows = stack.sql(
        "SELECT endpoint_id FROM segment_members WHERE app_id = $1 AND segment_id = $2", app_id, segment_id
    )
    return {r["endpoint_id"] for r in rows}


def segment_rows(stack: Stack, app_id: str, segment_id: str) -> list[Any]:
    return stack.sql(
        "SELECT s.segment_type, s.version, v.name, v.import_definition FROM segments s"
        " LEFT JOIN segment_versions v ON v.app_id = s.app_id AND v.segment_id = s.id AND v.version = s.version"
        " WHERE s.app_id = $1 AND s.id = $2",
        app_id,
        segment_id,
    )


def endpoint_ids(stack: Stack, app_id: str) -> list[str]:
    return [r["id"] for r in stack.sql("SELECT id FROM endpoints WHERE app_id = $1 ORDER BY id", app_id)]


def read_export(paths: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for data in paths for line in gzip.decompress(data).splitlines()]


# -- an https file server ---------------------------------------------------------------------


class _Files(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; honours `Range: bytes=N-` (so a resumed import skips what it read) and
    trickles files under /slow/ so that a test can stop the worker in the middle of one."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        slow = self.path.startswith("/slow/")
        path = Path(self.server.root) / self.path.removeprefix("/slow/").lstrip("/")  # type: ignore[attr-defined]
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if self.headers.get("Range", "").startswith("bytes="):
            start = int(self.headers["Range"][6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        view = memoryview(data)[start:]
        step = 4096 if slow else len(view) or 1
        try:
            for i in range(0, len(view), step):
                self.wfile.write(view[i : i + step])
                if slow:
                    time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the reader went away (a stopped worker)


@pytest.fixture(scope="module")
def https_root(tmp_path_factory: pytest.TempPathFactory, tls_cert: tuple[Path, Path]) -> Iterator[tuple[str, Path]]:
    root = Path(tmp_path_factory.mktemp("https"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    server.root = str(root)  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, tls_cert))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"imports-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=name)
    return name


# -- imports ----------------------------------------------------------------------------------


class TestImport:
    def test_csv_from_file_creates_endpoints_and_import_segment(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        path = write(folder(file_root), "people.csv", csv_rows(25))
        created = start_import(pinpoint, app_id, path.as_uri(), ExternalId="ext-1")
        assert created["JobStatus"] == "CREATED" and created["Type"] == "IMPORT"
        segment_id = created["Definition"]["SegmentId"]
        assert created["Definition"]["S3Url"] == path.as_uri() and created["Definition"]["ExternalId"] == "ext-1"

        job = wait_import(pinpoint, app_id, created["Id"])
        assert job["JobStatus"] == "COMPLETED", job
        assert (job["TotalPieces"], job["CompletedPieces"], job["FailedPieces"]) == (1, 1, 0)
        assert (job["TotalProcessed"], job["TotalFailures"]) == (25, 0)
        assert "Failures" not in job and job["CompletionDate"] >= job["CreationDate"]

        ep = pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="ep-00003")["EndpointResponse"]
        assert ep["Address"] == "ep3@example.com" and ep["ChannelType"] == "EMAIL"
        assert ep["Attributes"] == {"Interests": ["shoes", "hats"]}
        assert ep["User"] == {"UserId": "user-ep-3", "UserAttributes": {"FirstName": ["Ann"]}}
        assert ep["Metrics"] == {"sessions": 3.0}
        assert ep["Demographic"] == {"Timezone": "Europe/Paris"} and ep["Location"] == {"Country": "FR"}

        [seg] = segment_rows(stack, app_id, segment_id)
        assert (seg["segment_type"], seg["version"], seg["name"]) == ("IMPORT", 1, created["Definition"]["SegmentName"])
        assert orjson.loads(seg["import_definition"]) == {
            "ChannelCounts": {"EMAIL": 25},
            "ExternalId": "ext-1",
            "Format": "CSV",
            "RoleArn": ROLE,
            "S3Url": path.as_uri(),
            "Size": 25,
        }
        assert members(stack, app_id, segment_id) == {f"ep-{i:05d}" for i in range(25)}
        seg_resp = pinpoint.get_segment(ApplicationId=app_id, SegmentId=segment_id)["SegmentResponse"]
        assert (seg_resp["SegmentType"], seg_resp["Version"]) == ("IMPORT", 1)
        assert seg_resp["ImportDefinition"]["Size"] == 25 and seg_resp["ImportDefinition"]["Format"] == "CSV"

    def test_json_from_s3(self, pinpoint: Any, stack: Stack, app_id: str, s3: Any, bucket: str) -> None:
        ids = [f"js-{i}" for i in range(12)]
        s3.put_object(Bucket=bucket, Key="in/endpoints.json", Body=json_rows(ids).encode())
        job = run_import(pinpoint, app_id, f"s3://{bucket}/in/endpoints.json", "JSON")
        assert job["JobStatus"] == "COMPLETED" and job["TotalProcessed"] == 12, job
        ep = pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="js-4")["EndpointResponse"]
        assert ep["Attributes"] == {"Plan": ["gold", "annual"]} and ep["Metrics"] == {"orders": 3.0}
        assert ep["Location"] == {"Country": "CA", "Latitude": 49.3, "Longitude": -123.1}
        assert ep["User"] == {"UserId": "u-js-4", "UserAttributes": {"Age": ["42"]}}
        assert members(stack, app_id, job["Definition"]["SegmentId"]) == set(ids)

    def test_csv_over_https(self, pinpoint: Any, stack: Stack, app_id: str, https_root: tuple[str, Path]) -> None:
        base, root = https_root
        write(root, "web/list.csv", csv_rows(8, prefix="web"))
        job = run_import(pinpoint, app_id, f"{base}/web/list.csv")
        assert job["JobStatus"] == "COMPLETED" and job["TotalProcessed"] == 8, job
        assert members(stack, app_id, job["Definition"]["SegmentId"]) == {f"web-{i:05d}" for i in range(8)}

    def test_s3_folder_is_read_recursively_and_other_formats_skipped(
        self, pinpoint: Any, stack: Stack, app_id: str, s3: Any, bucket: str
    ) -> None:
        s3.put_object(Bucket=bucket, Key="drop/a.csv", Body=csv_rows(3, prefix="a").encode())
        s3.put_object(Bucket=bucket, Key="drop/2024/b.csv", Body=csv_rows(4, prefix="b").encode())
        s3.put_object(Bucket=bucket, Key="drop/c.json", Body=json_rows(["c-1"]).encode())
        s3.put_object(Bucket=bucket, Key="drop/README.txt", Body=b"not data")
        s3.put_object(Bucket=bucket, Key="dropped.csv", Body=csv_rows(2, prefix="x").encode())  # beside, not under
        job = run_import(pinpoint, app_id, f"s3://{bucket}/drop")
        assert job["JobStatus"] == "COMPLETED", job
        assert (job["TotalPieces"], job["CompletedPieces"], job["TotalProcessed"]) == (2, 2, 7)
        expected = {f"a-{i:05d}" for i in range(3)} | {f"b-{i:05d}" for i in range(4)}
        assert set(endpoint_ids(stack, app_id)) == expected
        assert members(stack, app_id, job["Definition"]["SegmentId"]) == expected

    def test_file_folder_with_mixed_formats(self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path) -> None:
        top = folder(file_root)
        write(top, "one.json", json_rows(["j-1", "j-2"]))
        write(top, "deeper/two.ndjson", json_rows(["j-3"]))
        write(top, "three.csv", csv_rows(5, prefix="skip"))
        job = run_import(pinpoint, app_id, top.as_uri(), "JSON")
        assert (job["JobStatus"], job["TotalPieces"], job["TotalProcessed"]) == ("COMPLETED", 2, 3), job
        assert endpoint_ids(stack, app_id) == ["j-1", "j-2", "j-3"]

    def test_bad_rows_are_reported_and_good_rows_imported(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        text = (
            "Id,ChannelType,Address,OptOut,Metrics.score\n"
            "ok-1,EMAIL,ok1@example.com,NONE,1\n"
            "bad-opt,EMAIL,b1@example.com,MAYBE,1\n"
            "ok-2,SMS,+15550000002,ALL,\n"
            "bad-metric,EMAIL,b2@example.com,NONE,lots\n"
            "bad-channel,FAX,+15550000003,,\n"
            ",EMAIL,,,\n"
            "short,EMAIL\n"
            "\n"
            ",EMAIL,new@example.com,,2\n"
        )
        path = write(folder(file_root), "mixed.csv", text)
        job = run_import(pinpoint, app_id, path.as_uri())
        url = path.as_uri()
        assert job["JobStatus"] == "COMPLETED", job
        assert (job["TotalProcessed"], job["TotalFailures"]) == (3, 5)
        assert job["Failures"] == [
            f"{url} row 3: Invalid value for OptOut: must be ALL or NONE.",
            f"{url} row 5: Invalid value for Metrics.score: 'lots' is not a number.",
            f"{url} row 6: Invalid value for ChannelType: 'FAX' is not a Pinpoint channel type.",
            f"{url} row 7: A new endpoint needs Address and ChannelType (or the Id of an existing endpoint).",
            f"{url} row 8: The row has 2 fields; the header has 5.",
        ]
        generated = generated_id("EMAIL", "new@example.com")
        assert endpoint_ids(stack, app_id) == sorted(["ok-1", "ok-2", generated])
        assert members(stack, app_id, job["Definition"]["SegmentId"]) == {"ok-1", "ok-2", generated}
        [seg] = segment_rows(stack, app_id, job["Definition"]["SegmentId"])
        # As Pinpoint counts them: the channels of the endpoint definitions that were imported.
        assert orjson.loads(seg["import_definition"])["ChannelCounts"] == {"EMAIL": 2, "SMS": 1}
        assert pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="ok-2")["EndpointResponse"]["OptOut"] == "ALL"

    def test_json_rows_with_wrong_types_are_reported(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        text = json_rows(["good"]) + '{"Id": "t", "Metrics": {"x": "y"}}\n[1, 2]\n{"Id": "u", "OptOut": "NO"}\n{oops\n'
        path = write(folder(file_root), "rows.json", text)
        job = run_import(pinpoint, app_id, path.as_uri(), "JSON")
        assert (job["JobStatus"], job["TotalProcessed"], job["TotalFailures"]) == ("COMPLETED", 1, 4), job
        url = path.as_uri()
        assert job["Failures"][0] == f"{url} row 2: Invalid value for Metrics.x: expected a number, got string."
        assert job["Failures"][1] == f"{url} row 3: The row is not a JSON object."
        assert job["Failures"][2] == f"{url} row 4: Invalid value for OptOut: must be ALL or NONE."
        assert job["Failures"][3].startswith(f"{url} row 5: The row is not JSON")

    def test_failure_messages_stop_at_100_but_all_are_counted(
        self, pinpoint: Any, app_id: str, file_root: Path
    ) -> None:
        text = "Id,ChannelType,Address,OptOut\n" + "".join(f"e{i},EMAIL,a{i}@x.com,BAD\n" for i in range(130))
        text += "fine,EMAIL,fine@x.com,NONE\n"
        job = run_import(pinpoint, app_id, write(folder(file_root), "many.csv", text).as_uri())
        assert (job["JobStatus"], job["TotalProcessed"], job["TotalFailures"]) == ("COMPLETED", 1, 130)
        assert len(job["Failures"]) == 100 and job["Failures"][-1].split(" row ")[1].startswith("101:")

    def test_rows_without_id_update_the_same_endpoints_when_imported_again(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        path = write(
            folder(file_root), "noid.csv", "ChannelType,Address,Attributes.Tier\nEMAIL,x@y.com,1\nSMS,+1555,2\n"
        )
        run_import(pinpoint, app_id, path.as_uri())
        path.write_text("ChannelType,Address,Attributes.Tier\nEMAIL,x@y.com,3\n")
        run_import(pinpoint, app_id, path.as_uri())
        assert endpoint_ids(stack, app_id) == sorted([generated_id("EMAIL", "x@y.com"), generated_id("SMS", "+1555")])
        ep = pinpoint.get_endpoint(ApplicationId=app_id, EndpointId=generated_id("EMAIL", "x@y.com"))
        assert ep["EndpointResponse"]["Attributes"] == {"Tier": ["3"]}

    def test_user_id_file_adds_each_users_endpoints(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        pinpoint.update_endpoints_batch(
            ApplicationId=app_id,
            EndpointBatchRequest={
                "Item": [
                    {"Id": "phone", "ChannelType": "SMS", "Address": "+15551", "User": {"UserId": "ann"}},
                    {"Id": "mail", "ChannelType": "EMAIL", "Address": "a@x.com", "User": {"UserId": "ann"}},
                    {"Id": "other", "ChannelType": "EMAIL", "Address": "b@x.com", "User": {"UserId": "bob"}},
                    {"Id": "lone", "ChannelType": "EMAIL", "Address": "c@x.com", "User": {"UserId": "cid"}},
                ]
            },
        )
        path = write(folder(file_root), "users.csv", "User.UserId\nann bob\nnobody\n")
        job = run_import(pinpoint, app_id, path.as_uri())
        assert (job["JobStatus"], job["TotalProcessed"], job["TotalFailures"]) == ("COMPLETED", 1, 1), job
        assert job["Failures"] == [f"{path.as_uri()} row 3: User nobody has no endpoints in this project."]
        assert members(stack, app_id, job["Definition"]["SegmentId"]) == {"phone", "mail", "other"}

    def test_import_into_existing_segment_adds_a_version(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        top = folder(file_root)
        first = run_import(pinpoint, app_id, write(top, "a.csv", csv_rows(3, prefix="a")).as_uri())
        segment_id = first["Definition"]["SegmentId"]
        second = run_import(
            pinpoint, app_id, write(top, "b.csv", csv_rows(2, prefix="b")).as_uri(), SegmentId=segment_id
        )
        assert second["JobStatus"] == "COMPLETED" and second["Definition"]["SegmentId"] == segment_id, second
        [seg] = segment_rows(stack, app_id, segment_id)
        assert seg["version"] == 2 and seg["name"] == first["Definition"]["SegmentName"]
        assert orjson.loads(seg["import_definition"])["Size"] == 5
        assert members(stack, app_id, segment_id) == {"a-00000", "a-00001", "a-00002", "b-00000", "b-00001"}
        # The staging segment that collected the second job's members is gone.
        assert len(stack.sql("SELECT id FROM segments WHERE app_id = $1", app_id)) == 1
        listed = pinpoint.get_segment_import_jobs(ApplicationId=app_id, SegmentId=segment_id)["ImportJobsResponse"]
        assert [j["Id"] for j in listed["Item"]] == [first["Id"], second["Id"]]

    def test_register_endpoints_false_only_names_existing_endpoints(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        pinpoint.update_endpoint(
            ApplicationId=app_id, EndpointId="known", EndpointRequest={"ChannelType": "EMAIL", "Address": "k@x.com"}
        )
        path = write(folder(file_root), "ids.csv", "Id,Attributes.Note\nknown,changed\nunknown,x\n")
        job = run_import(pinpoint, app_id, path.as_uri(), RegisterEndpoints=False)
        assert (job["JobStatus"], job["TotalProcessed"], job["TotalFailures"]) == ("COMPLETED", 1, 1), job
        assert members(stack, app_id, job["Definition"]["SegmentId"]) == {"known"}
        assert endpoint_ids(stack, app_id) == ["known"]
        assert "Attributes" not in pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="known")["EndpointResponse"]

    def test_register_only_creates_no_segment(self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path) -> None:
        path = write(folder(file_root), "plain.csv", csv_rows(4))
        job = run_import(pinpoint, app_id, path.as_uri(), DefineSegment=False)
        assert job["JobStatus"] == "COMPLETED" and "SegmentId" not in job["Definition"], job
        assert len(endpoint_ids(stack, app_id)) == 4
        assert stack.sql("SELECT id FROM segments WHERE app_id = $1", app_id) == []


class TestImportFailures:
    def test_missing_file_fails_and_leaves_no_segment(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        url = (folder(file_root) / "absent.csv").as_uri()
        job = run_import(pinpoint, app_id, url)
        assert job["JobStatus"] == "FAILED" and job["Failures"] == [f"{url} does not exist."], job
        assert segment_rows(stack, app_id, job["Definition"]["SegmentId"]) == []

    def test_unreadable_file_fails_the_piece(self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path) -> None:
        if os.geteuid() == 0:
            pytest.skip("root reads files whatever their mode")
        path = write(folder(file_root), "secret.csv", csv_rows(2))
        path.chmod(0)
        job = run_import(pinpoint, app_id, path.as_uri())
        assert (job["JobStatus"], job["FailedPieces"]) == ("FAILED", 1), job
        assert job["Failures"] == [f"{path.as_uri()} cannot be read: Permission denied."]
        assert segment_rows(stack, app_id, job["Definition"]["SegmentId"]) == []

    def test_missing_columns_fail_the_job(self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path) -> None:
        path = write(folder(file_root), "cols.csv", "Demographic.Platform,Attributes.Color\nios,red\n")
        job = run_import(pinpoint, app_id, path.as_uri())
        assert (job["JobStatus"], job["TotalPieces"], job["FailedPieces"]) == ("FAILED", 1, 1), job
        assert job["Failures"] == [
            f"{path.as_uri()} has no Id column, nor Address and ChannelType columns (nor User.UserId)."
        ]
        assert segment_rows(stack, app_id, job["Definition"]["SegmentId"]) == []

    def test_wrong_format_fails_the_job(self, pinpoint: Any, app_id: str, file_root: Path) -> None:
        path = write(folder(file_root), "really.json", csv_rows(3))
        job = run_import(pinpoint, app_id, path.as_uri(), "JSON")
        assert job["JobStatus"] == "FAILED", job
        assert job["Failures"][0].startswith(f"{path.as_uri()} is not newline-delimited JSON (row 1")

    def test_a_bad_file_discards_the_segment_the_good_ones_filled(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        top = folder(file_root)
        write(top, "a-good.csv", csv_rows(5, prefix="good"))
        write(top, "b-bad.csv", "Id,Colour\nx,red\n")
        job = run_import(pinpoint, app_id, top.as_uri())
        assert (job["JobStatus"], job["CompletedPieces"], job["FailedPieces"]) == ("FAILED", 1, 1), job
        assert job["Failures"] == [f"{(top / 'b-bad.csv').as_uri()} has an unknown column 'Colour'."]
        # Registered endpoints stay registered; the segment never appears, members and all.
        assert len(endpoint_ids(stack, app_id)) == 5
        segment_id = job["Definition"]["SegmentId"]
        assert segment_rows(stack, app_id, segment_id) == [] and members(stack, app_id, segment_id) == set()
        listed = pinpoint.get_segment_import_jobs(ApplicationId=app_id, SegmentId=segment_id)["ImportJobsResponse"]
        assert [j["Id"] for j in listed["Item"]] == [job["Id"]]

    def test_nothing_importable_fails(self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path) -> None:
        path = write(folder(file_root), "allbad.csv", "Id,ChannelType,Address,OptOut\ne,EMAIL,a@x.com,NO\n")
        job = run_import(pinpoint, app_id, path.as_uri())
        assert job["JobStatus"] == "FAILED" and job["Failures"][-1] == "None of the 1 rows could be imported.", job
        assert segment_rows(stack, app_id, job["Definition"]["SegmentId"]) == []

    def test_empty_s3_prefix_fails(self, pinpoint: Any, app_id: str, bucket: str) -> None:
        job = run_import(pinpoint, app_id, f"s3://{bucket}/nothing/")
        assert job["JobStatus"] == "FAILED" and job["Failures"] == [f"s3://{bucket}/nothing/ holds no CSV files."]

    def test_missing_bucket_fails(self, pinpoint: Any, app_id: str, s3: Any) -> None:
        job = run_import(pinpoint, app_id, "s3://no-such-bucket-here/x.csv")
        assert job["JobStatus"] == "FAILED" and "NoSuchBucket" in job["Failures"][0], job

    def test_https_404_fails(self, pinpoint: Any, app_id: str, https_root: tuple[str, Path]) -> None:
        job = run_import(pinpoint, app_id, f"{https_root[0]}/missing.csv")
        assert job["JobStatus"] == "FAILED", job
        assert job["Failures"] == [f"{https_root[0]}/missing.csv cannot be read: HTTP 404 Not Found."]


class TestBadRequests:
    @pytest.mark.parametrize(
        ("request_", "member"),
        [
            ({"S3Url": "ftp://example.com/x.csv"}, "ImportJobRequest.S3Url"),
            ({"S3Url": "http://127.0.0.1/x.csv"}, "ImportJobRequest.S3Url"),
            ({"S3Url": "s3:///no-bucket.csv"}, "ImportJobRequest.S3Url"),
            ({"S3Url": "file:///etc/passwd"}, "ImportJobRequest.S3Url"),
            ({"DefineSegment": True}, "ImportJobRequest.SegmentName"),
            ({"DefineSegment": True, "SegmentName": "x", "SegmentId": "abc"}, "ImportJobRequest"),
            ({"RegisterEndpoints": False}, "ImportJobRequest"),
        ],
    )
    def test_import_request(
        self, pinpoint: Any, app_id: str, file_root: Path, request_: dict[str, Any], member: str
    ) -> None:
        body = {"Format": "CSV", "RoleArn": ROLE, "S3Url": (file_root / "x.csv").as_uri(), **request_}
        with pytest.raises(ClientError) as e:
            pinpoint.create_import_job(ApplicationId=app_id, ImportJobRequest=body)
        assert e.value.response["Error"]["Code"] == "BadRequestException"
        assert member in e.value.response["Error"]["Message"]

    def test_file_url_escaping_the_root(self, pinpoint: Any, app_id: str, file_root: Path, tmp_path: Path) -> None:
        outside = write(tmp_path, "outside.csv", csv_rows(1))
        link = folder(file_root) / "link.csv"
        link.symlink_to(outside)
        for url in (f"{file_root.as_uri()}/../{tmp_path.name}/outside.csv", link.as_uri(), outside.as_uri()):
            with pytest.raises(ClientError) as e:
                start_import(pinpoint, app_id, url)
            assert e.value.response["Error"]["Code"] == "BadRequestException", url
            assert "ImportJobRequest.S3Url" in e.value.response["Error"]["Message"]
            assert "outside this server's file root" in e.value.response["Error"]["Message"]

    def test_link_to_outside_inside_a_folder_fails_the_job(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path, tmp_path: Path
    ) -> None:
        top = folder(file_root)
        write(top, "a.csv", csv_rows(1))
        (top / "b.csv").symlink_to(write(tmp_path, "elsewhere.csv", csv_rows(1, prefix="x")))
        job = run_import(pinpoint, app_id, top.as_uri())
        assert job["JobStatus"] == "FAILED" and "links outside this server's file root" in job["Failures"][0]
        assert endpoint_ids(stack, app_id) == []

    def test_file_urls_need_a_root(self) -> None:
        with pytest.raises(BadRequest, match="OPENPOINT_FILE_ROOT is not set"):
            parse_location("file:///data/x.csv", "ImportJobRequest.S3Url", None)

    def test_unknown_segment(self, pinpoint: Any, app_id: str, file_root: Path) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            start_import(pinpoint, app_id, (file_root / "x.csv").as_uri(), SegmentId="0" * 32)
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.create_export_job(
                ApplicationId=app_id,
                ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": file_root.as_uri(), "SegmentId": "0" * 32},
            )

    @pytest.mark.parametrize(
        ("request_", "member"),
        [
            ({"S3UrlPrefix": "https://example.com/out/"}, "ExportJobRequest.S3UrlPrefix"),
            ({"S3UrlPrefix": "file:///tmp/elsewhere/"}, "ExportJobRequest.S3UrlPrefix"),
            ({"SegmentVersion": 2}, "ExportJobRequest.SegmentVersion"),
        ],
    )
    def test_export_request(
        self, pinpoint: Any, app_id: str, file_root: Path, request_: dict[str, Any], member: str
    ) -> None:
        body = {"RoleArn": ROLE, "S3UrlPrefix": file_root.as_uri(), **request_}
        with pytest.raises(ClientError) as e:
            pinpoint.create_export_job(ApplicationId=app_id, ExportJobRequest=body)
        assert e.value.response["Error"]["Code"] == "BadRequestException"
        assert member in e.value.response["Error"]["Message"]

    def test_unknown_jobs_and_projects(self, pinpoint: Any, app_id: str) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_import_job(ApplicationId=app_id, JobId="f" * 32)
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_export_job(ApplicationId=app_id, JobId="f" * 32)
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_import_jobs(ApplicationId="0" * 32)
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_segment_export_jobs(ApplicationId=app_id, SegmentId="0" * 32)


# -- exports ----------------------------------------------------------------------------------


def seed(pinpoint: Any, app_id: str, n: int) -> list[str]:
    ids = [f"x-{i:04d}" for i in range(n)]
    for i in range(0, n, 100):
        pinpoint.update_endpoints_batch(
            ApplicationId=app_id,
            EndpointBatchRequest={
                "Item": [
                    {
                        "Id": eid,
                        "ChannelType": "EMAIL",
                        "Address": f"{eid}@example.com",
                        "Attributes": {"Team": ["red" if j % 2 else "blue"]},
                        "User": {"UserId": f"user-{eid}"},
                    }
                    for j, eid in enumerate(ids[i : i + 100])
                ]
            },
        )
    return ids


class TestExport:
    def test_all_endpoints_to_file(self, pinpoint: Any, app_id: str, file_root: Path) -> None:
        ids = seed(pinpoint, app_id, 150)
        out = folder(file_root)
        resp = pinpoint.create_export_job(
            ApplicationId=app_id, ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": out.as_uri() + "/exports/"}
        )
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
        created = resp["ExportJobResponse"]
        assert created["Type"] == "EXPORT" and created["JobStatus"] == "CREATED"
        job = wait_export(pinpoint, app_id, created["Id"])
        assert job["JobStatus"] == "COMPLETED", job
        assert (job["TotalProcessed"], job["TotalPieces"], job["CompletedPieces"]) == (150, 1, 1)
        files = sorted((out / "exports" / job["Id"]).iterdir())
        assert [f.name for f in files] == ["00001.gz"]  # no partial files left behind
        lines = read_export([f.read_bytes() for f in files])
        assert [e["Id"] for e in lines] == ids
        expected = pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="x-0007")["EndpointResponse"]
        assert lines[7] == expected

    def test_segment_to_s3(self, pinpoint: Any, stack: Stack, app_id: str, s3: Any, bucket: str) -> None:
        seed(pinpoint, app_id, 20)
        s3.put_object(Bucket=bucket, Key="seg.json", Body=json_rows(["js-a", "js-b", "js-c"]).encode())
        imported = run_import(pinpoint, app_id, f"s3://{bucket}/seg.json", "JSON")
        segment_id = imported["Definition"]["SegmentId"]
        resp = pinpoint.create_export_job(
            ApplicationId=app_id,
            ExportJobRequest={
                "RoleArn": ROLE,
                "S3UrlPrefix": f"s3://{bucket}/out",
                "SegmentId": segment_id,
                "SegmentVersion": 1,
            },
        )
        job = wait_export(pinpoint, app_id, resp["ExportJobResponse"]["Id"])
        assert job["JobStatus"] == "COMPLETED" and job["TotalProcessed"] == 3, job
        assert job["Definition"] == {
            "RoleArn": ROLE,
            "S3UrlPrefix": f"s3://{bucket}/out",
            "SegmentId": segment_id,
            "SegmentVersion": 1,
        }
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]]
        assert keys == [f"out/{job['Id']}/00001.gz"]
        lines = read_export([s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys])
        assert [e["Id"] for e in lines] == ["js-a", "js-b", "js-c"]
        assert lines[1] == pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="js-b")["EndpointResponse"]
        listed = pinpoint.get_segment_export_jobs(ApplicationId=app_id, SegmentId=segment_id)["ExportJobsResponse"]
        assert [j["Id"] for j in listed["Item"]] == [job["Id"]]

    def test_dimensional_segment_to_file(self, pinpoint: Any, app_id: str, file_root: Path) -> None:
        ids = seed(pinpoint, app_id, 30)
        segment_id = pinpoint.create_segment(
            ApplicationId=app_id,
            WriteSegmentRequest={
                "Name": "reds",
                "Dimensions": {"Attributes": {"Team": {"AttributeType": "INCLUSIVE", "Values": ["red"]}}},
            },
        )["SegmentResponse"]["Id"]
        out = folder(file_root)
        resp = pinpoint.create_export_job(
            ApplicationId=app_id,
            ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": out.as_uri(), "SegmentId": segment_id},
        )
        job = wait_export(pinpoint, app_id, resp["ExportJobResponse"]["Id"])
        assert (job["JobStatus"], job["TotalProcessed"]) == ("COMPLETED", 15), job
        lines = read_export([f.read_bytes() for f in sorted((out / job["Id"]).iterdir())])
        assert [e["Id"] for e in lines] == ids[1::2]  # seed() puts every other endpoint in team red

    def test_large_exports_split_into_files(
        self, pinpoint: Any, app_id: str, file_root: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ids = seed(pinpoint, app_id, 250)
        monkeypatch.setattr(job_exports, "FILE_ENDPOINTS", 100)
        monkeypatch.setattr(job_exports, "PAGE", 40)
        out = folder(file_root)
        resp = pinpoint.create_export_job(
            ApplicationId=app_id, ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": out.as_uri()}
        )
        job = wait_export(pinpoint, app_id, resp["ExportJobResponse"]["Id"])
        assert (job["JobStatus"], job["TotalPieces"], job["TotalProcessed"]) == ("COMPLETED", 3, 250), job
        files = sorted((out / job["Id"]).iterdir())
        assert [f.name for f in files] == ["00001.gz", "00002.gz", "00003.gz"]
        assert [e["Id"] for e in read_export([f.read_bytes() for f in files])] == ids

    def test_export_to_missing_bucket_fails(self, pinpoint: Any, app_id: str, s3: Any) -> None:
        seed(pinpoint, app_id, 1)
        resp = pinpoint.create_export_job(
            ApplicationId=app_id, ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": "s3://no-such-bucket-out/x/"}
        )
        job = wait_export(pinpoint, app_id, resp["ExportJobResponse"]["Id"])
        assert job["JobStatus"] == "FAILED" and "NoSuchBucket" in job["Failures"][0], job


# -- lists ------------------------------------------------------------------------------------


class TestLists:
    def test_import_jobs_page_by_token(self, pinpoint: Any, app_id: str, file_root: Path) -> None:
        path = write(folder(file_root), "tiny.csv", csv_rows(1))
        ids = [start_import(pinpoint, app_id, path.as_uri())["Id"] for _ in range(3)]
        first = pinpoint.get_import_jobs(ApplicationId=app_id, PageSize="2")["ImportJobsResponse"]
        assert [j["Id"] for j in first["Item"]] == ids[:2] and first["NextToken"]
        rest = pinpoint.get_import_jobs(ApplicationId=app_id, PageSize="2", Token=first["NextToken"])
        assert [j["Id"] for j in rest["ImportJobsResponse"]["Item"]] == ids[2:]
        assert "NextToken" not in rest["ImportJobsResponse"]
        for job_id in ids:
            wait_import(pinpoint, app_id, job_id)
        segment_id = pinpoint.get_import_job(ApplicationId=app_id, JobId=ids[1])["ImportJobResponse"]["Definition"][
            "SegmentId"
        ]
        scoped = pinpoint.get_segment_import_jobs(ApplicationId=app_id, SegmentId=segment_id, PageSize="5")
        assert [j["Id"] for j in scoped["ImportJobsResponse"]["Item"]] == [ids[1]]
        assert pinpoint.get_export_jobs(ApplicationId=app_id)["ExportJobsResponse"]["Item"] == []

    def test_export_jobs_page_by_token(self, pinpoint: Any, app_id: str, file_root: Path) -> None:
        out = folder(file_root).as_uri()
        ids = [
            pinpoint.create_export_job(ApplicationId=app_id, ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": out})[
                "ExportJobResponse"
            ]["Id"]
            for _ in range(3)
        ]
        first = pinpoint.get_export_jobs(ApplicationId=app_id, PageSize="1")["ExportJobsResponse"]
        second = pinpoint.get_export_jobs(ApplicationId=app_id, PageSize="1", Token=first["NextToken"])
        third = pinpoint.get_export_jobs(
            ApplicationId=app_id, PageSize="1", Token=second["ExportJobsResponse"]["NextToken"]
        )
        seen = [first["Item"][0]["Id"], second["ExportJobsResponse"]["Item"][0]["Id"]]
        seen.append(third["ExportJobsResponse"]["Item"][0]["Id"])
        assert seen == ids and "NextToken" not in third["ExportJobsResponse"]
        for job_id in ids:  # a project without endpoints exports no files, and says so
            job = wait_export(pinpoint, app_id, job_id)
            assert (job["JobStatus"], job["TotalProcessed"], job["TotalPieces"]) == ("COMPLETED", 0, 0)


# -- a worker that stops mid-import -----------------------------------------------------------


class TestRestart:
    def test_worker_restarted_mid_import_finishes_without_duplicates(
        self, pinpoint: Any, stack: Stack, app_id: str, https_root: tuple[str, Path]
    ) -> None:
        base, root = https_root
        rows = 5000
        write(root, f"big-{app_id}.csv", csv_rows(rows, prefix="big"))
        created = start_import(pinpoint, app_id, f"{base}/slow/big-{app_id}.csv")
        segment_id = created["Definition"]["SegmentId"]

        deadline = time.monotonic() + 20
        while True:  # progress is visible while the job runs
            job = pinpoint.get_import_job(ApplicationId=app_id, JobId=created["Id"])["ImportJobResponse"]
            if job["TotalProcessed"] >= 1000:
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.02)
        assert job["JobStatus"] == "PROCESSING" and job["TotalProcessed"] < rows, job
        assert (job["TotalPieces"], job["CompletedPieces"]) == (1, 0)
        # Mid-import the segment is staged but invisible: no version a reader could join.
        [seg] = segment_rows(stack, app_id, segment_id)
        assert seg["version"] == 0 and seg["name"] is None
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_segment(ApplicationId=app_id, SegmentId=segment_id)

        stack.restart_worker()

        job = wait_import(pinpoint, app_id, created["Id"], timeout=45)
        assert job["JobStatus"] == "COMPLETED", job
        assert (job["TotalProcessed"], job["TotalFailures"], job["CompletedPieces"]) == (rows, 0, 1)
        expected = [f"big-{i:05d}" for i in range(rows)]
        assert endpoint_ids(stack, app_id) == expected
        assert members(stack, app_id, segment_id) == set(expected)
        [seg] = segment_rows(stack, app_id, segment_id)
        assert seg["version"] == 1 and orjson.loads(seg["import_definition"])["Size"] == rows


# -- quotas and failed exports ----------------------------------------------------------------


class TestActiveImportQuota:
    def test_an_eleventh_active_import_is_throttled_until_one_finishes(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        # Ten jobs still running (as rows: real ones would finish before the test got going).
        for i in range(10):
            stack.sql(
                "INSERT INTO jobs (app_id, id, job_type, status, definition) VALUES ($1, $2, 'IMPORT', $3, '{}')",
                app_id,
                f"busy{i}",
                "CREATED" if i % 2 else "PROCESSING",
            )
        stack.sql(  # finished jobs and exports do not count
            "INSERT INTO jobs (app_id, id, job_type, status, definition) VALUES"
            " ($1, 'old', 'IMPORT', 'COMPLETED', '{}'), ($1, 'exp', 'EXPORT', 'PROCESSING', '{}')",
            app_id,
        )
        src = write(folder(file_root), "q.csv", csv_rows(3, prefix="q"))
        with pytest.raises(pinpoint.exceptions.TooManyRequestsException) as e:
            start_import(pinpoint, app_id, src.as_uri())
        assert "at most 10 import jobs" in e.value.response["Error"]["Message"]
        assert stack.sql("SELECT count(*) AS n FROM jobs WHERE app_id = $1", app_id)[0]["n"] == 12  # nothing written

        stack.sql("UPDATE jobs SET status = 'FAILED' WHERE app_id = $1 AND id = 'busy3'", app_id)
        job = wait_import(pinpoint, app_id, start_import(pinpoint, app_id, src.as_uri())["Id"])
        assert job["JobStatus"] == "COMPLETED", job


class TestFailedExport:
    def test_a_failed_export_removes_the_files_it_wrote(
        self, pinpoint: Any, app_id: str, file_root: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seed(pinpoint, app_id, 5)
        monkeypatch.setattr(job_exports, "FILE_ENDPOINTS", 2)
        monkeypatch.setattr(job_exports, "PAGE", 2)
        published: list[str] = []
        real_publish = job_sources.publish

        def publish_then_fail(*args: Any) -> str:
            # Files 1 and 2 are published; the store refuses file 3 (a full disk, a revoked key).
            if len(published) == 2:
                raise SourceError("the store refused the third file")
            published.append(real_publish(*args))
            return published[-1]

        monkeypatch.setattr(job_exports, "publish", publish_then_fail)
        out = folder(file_root)
        (out / "keep.txt").write_text("not the export's")  # someone else's file beside the export
        resp = pinpoint.create_export_job(
            ApplicationId=app_id, ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": out.as_uri()}
        )
        job = wait_export(pinpoint, app_id, resp["ExportJobResponse"]["Id"])
        assert job["JobStatus"] == "FAILED" and job["Failures"] == ["the store refused the third file"], job
        assert len(published) == 2
        assert not (out / job["Id"]).exists()  # the two files, the staging files and their folder
        assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]

    def test_a_failed_s3_export_removes_its_objects(
        self, pinpoint: Any, app_id: str, s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seed(pinpoint, app_id, 3)
        monkeypatch.setattr(job_exports, "FILE_ENDPOINTS", 1)
        monkeypatch.setattr(job_exports, "PAGE", 1)
        calls: list[int] = []
        real_publish = job_sources.publish

        def publish_then_fail(*args: Any) -> str:
            calls.append(1)
            if len(calls) == 3:
                raise SourceError("the bucket refused the third file")
            return real_publish(*args)

        monkeypatch.setattr(job_exports, "publish", publish_then_fail)
        s3.put_object(Bucket=bucket, Key="out/other.txt", Body=b"stays")
        resp = pinpoint.create_export_job(
            ApplicationId=app_id, ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": f"s3://{bucket}/out/"}
        )
        job = wait_export(pinpoint, app_id, resp["ExportJobResponse"]["Id"])
        assert job["JobStatus"] == "FAILED", job
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("Contents", [])]
        assert keys == ["out/other.txt"]
