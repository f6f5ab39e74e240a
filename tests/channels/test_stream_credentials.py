"""The credentials the streamer hands the event-stream sender (worker/streamer.py): the stream's
own, decrypted in the worker, with its RoleArn and ExternalId; the environment's when it holds
none; and a stored secret that does not decrypt is a stream error that says how to mend it, not
a crash or a silent fall back to the environment's."""

from __future__ import annotations

import secrets
from typing import Any, cast

import orjson
import pytest

from channels.aws import Credentials
from channels.event_streams import ENVIRONMENT, StreamSender, StreamUnavailable
from openpoint.settings import Settings
from openpoint.vault import Vault
from store import event_streams as store
from worker.streamer import Streamer

VAULT = Vault(secrets.token_bytes(32))
ROLE = "arn:aws:iam::123456789012:role/pinpoint-events"
OWN = {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "s" * 40, "Region": "eu-west-1"}


def streamer(vault: Vault | None = VAULT) -> Streamer:
    return Streamer(cast(Any, None), StreamSender(Settings()), "123456789012", vault=vault)


def row(app_id: str = "app1", ciphertext: bytes | None = None, role: str = ROLE) -> dict[str, Any]:
    return {"app_id": app_id, "secret_ciphertext": ciphertext, "role_arn": role, "external_id": "ext"}


def sealed(app_id: str, values: dict[str, str], vault: Vault = VAULT) -> bytes:
    return vault.encrypt(orjson.dumps(values), purpose=f"event-stream:{app_id}")


def test_the_streams_own_keys_and_role() -> None:
    assert streamer()._credentials(row(ciphertext=sealed("app1", OWN))) == Credentials(
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        secret_access_key="s" * 40,
        region="eu-west-1",
        role_arn=ROLE,
        external_id="ext",
    )
    assert store.credentials(VAULT, "app1", sealed("app1", OWN)) == OWN


def test_none_stored_is_the_environments() -> None:
    assert streamer()._credentials(row()) == Credentials(role_arn=ROLE, external_id="ext")
    assert streamer(None)._credentials(row(role="")) == Credentials(external_id="ext")
    assert ENVIRONMENT == Credentials()


@pytest.mark.parametrize(
    "ciphertext",
    [
        sealed("other-app", OWN),  # copied from another project's stream
        sealed("app1", OWN, Vault(secrets.token_bytes(32))),  # another master key
    ],
)
def test_what_does_not_decrypt_is_a_stream_error(ciphertext: bytes) -> None:
    with pytest.raises(StreamUnavailable, match="openpoint streams credentials") as refused:
        streamer()._credentials(row(ciphertext=ciphertext))
    assert "s" * 40 not in str(refused.value)


def test_a_worker_without_a_vault_does_not_fall_back() -> None:
    with pytest.raises(StreamUnavailable, match="no vault"):
        streamer(None)._credentials(row(ciphertext=sealed("app1", OWN)))
