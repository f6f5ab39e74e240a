"""What request handlers share: built once in the lifespan, disposed of at shutdown."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities.triggers import Triggers
from openpoint.keys import KeyStore
from openpoint.settings import Settings
from openpoint.vault import Vault


@dataclass
class Context:
    settings: Settings
    engine: AsyncEngine
    vault: Vault
    keys: KeyStore
    _temporal: Client | None = None
    _temporal_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _triggers: Triggers | None = None

    @property
    def triggers(self) -> Triggers:
        """Event-triggered campaigns, with this process's cache of them."""
        if self._triggers is None:
            self._triggers = Triggers(self.engine, self.temporal, self.settings.task_queue)
        return self._triggers

    async def temporal(self) -> Client:
        """Connected on first use, so that the gateway serves data operations even while the
        engine is still starting."""
        if self._temporal is None:
            async with self._temporal_lock:
                if self._temporal is None:
                    self._temporal = await Client.connect(
                        self.settings.temporal_address, namespace=self.settings.temporal_namespace
                    )
        return self._temporal
