"""API key pairs: who a key is (Principal), new pairs and the development pair. Storing and
looking them up is store/access_keys.py."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from openpoint.settings import Settings
from openpoint.vault import Vault

PURPOSE = "access-key:"  # the vault purpose of a key's secret, followed by its id


@dataclass(frozen=True)
class Principal:
    access_key_id: str
    project_ids: frozenset[str] | None  # None: every project

    def may_touch(self, app_id: str) -> bool:
        return self.project_ids is None or app_id in self.project_ids


def new_key_pair() -> tuple[str, str]:
    key_id = "OP" + base64.b32encode(secrets.token_bytes(10)).decode()[:18]
    secret = base64.b64encode(secrets.token_bytes(30)).decode()
    return key_id, secret


def dev_key_pair(settings: Settings, vault: Vault) -> tuple[str, str]:
    key_id = settings.access_key_id or ("OPDEV" + base64.b32encode(vault.derive("dev-access-key-id")).decode()[:15])
    secret = settings.secret_access_key or base64.b64encode(vault.derive("dev-secret")).decode()[:40]
    return key_id, secret
