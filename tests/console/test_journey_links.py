"""The journey pages' pure pieces (no browser, no stack): the Temporal Web UI link of a
participant's workflow, the setting `make run` passes to the gateway, and the test-run form as the
body POST .../test-runs takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from console.journey_tests import endpoint_ids, run_request, workflow_url
from launch.dev import DevStack
from launch.temporal import TemporalDevServer
from openpoint.settings import Settings


def _settings(**values: Any) -> Settings:
    return Settings.model_validate({"DATABASE_URL": "postgresql://x/y", "TEMPORAL_ADDRESS": "127.0.0.1:7233", **values})


def test_a_workflow_link_needs_the_ui_url() -> None:
    assert workflow_url(_settings(), "journey-a-b") is None
    ui = _settings(temporal_ui_url="http://127.0.0.1:8233/", temporal_namespace="dev space")
    assert (
        workflow_url(ui, "journey-a/b c") == "http://127.0.0.1:8233/namespaces/dev%20space/workflows/journey-a%2Fb%20c"
    )
    assert workflow_url(ui, None) is None


def test_make_run_passes_the_embedded_ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENPOINT_TEMPORAL_UI_URL", raising=False)
    dev = DevStack(_settings(data_dir=str(tmp_path)))
    assert dev._temporal_ui_env() == {}  # an external Temporal: its own UI, unknown here
    dev.temporal = TemporalDevServer(tmp_path / "t.db", port=7299, ui_port=8299, namespace="default")
    assert dev._temporal_ui_env() == {"OPENPOINT_TEMPORAL_UI_URL": "http://127.0.0.1:8299"}
    monkeypatch.setenv("OPENPOINT_TEMPORAL_UI_URL", "https://temporal.example")
    assert dev._temporal_ui_env() == {}  # given by the caller: kept as it is


def test_the_test_run_form_as_the_api_body() -> None:
    assert endpoint_ids(" e0, e1\ne2  e3 ,") == ["e0", "e1", "e2", "e3"]
    assert run_request({"endpoints": "e0 e1", "waits": "SKIP", "seconds": "9", "delivery": "RECORD"}) == {
        "EndpointIds": ["e0", "e1"],
        "Waits": "SKIP",
        "Delivery": "RECORD",
    }
    shorten = run_request({"endpoints": "e0", "waits": "SHORTEN", "seconds": "5", "delivery": "SEND"})
    assert shorten == {"EndpointIds": ["e0"], "Waits": "SHORTEN", "WaitSeconds": 5, "Delivery": "SEND"}
    # What the API refuses stays as typed, so its own message says why.
    assert run_request({"endpoints": "", "waits": "SHORTEN", "seconds": "soon"})["WaitSeconds"] == "soon"
