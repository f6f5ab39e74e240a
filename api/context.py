"""What request handlers share: built once in the lifespan, disposed of at shutdown."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RetryConfig

from channels.lambda_functions import LambdaInvoker
from openpoint.errors import EngineUnavailable
from openpoint.settings import Settings
from openpoint.vault import Vault
from store.access_keys import KeyStore
from store.clickhouse import ClickHouse
from store.outbox import TriggerIndex


@dataclass
class Context:
    settings: Settings
    engine: AsyncEngine
    vault: Vault
    keys: KeyStore
    _temporal: Client | None = None
    _temporal_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # What events trigger (event campaigns, event-started journeys, waiting participants),
    # cached per project for a second by this process.
    triggers: TriggerIndex = field(default_factory=TriggerIndex)
    _functions: LambdaInvoker | None = None
    # The analytics pages' ClickHouse (OPENPOINT_ANALYTICS_URL), None: PostgreSQL's rollups.
    clickhouse: ClickHouse | None = None

    def functions(self) -> LambdaInvoker:
        """Lambda, for checking the functions campaigns and journeys name (made on first use)."""
        if self._functions is None:
            self._functions = LambdaInvoker(self.settings)
        return self._functions

    async def temporal(self) -> Client:
        """Connected on first use, so that the gateway serves data operations even while the
        engine is still starting; until a connect succeeds, each use tries again. Once connected
        the client reconnects by itself after a Temporal restart."""
        if self._temporal is None:
            async with self._temporal_lock:
                if self._temporal is None:
                    try:
                        self._temporal = await Client.connect(
                            self.settings.temporal_address,
                            namespace=self.settings.temporal_namespace,
                            # A call Temporal does not take is retried this long (the default is
                            # 10 s), then the caller gets the retryable EngineUnavailable.
                            retry_config=RetryConfig(
                                max_elapsed_time_millis=int(self.settings.temporal_retry_seconds * 1000)
                            ),
                        )
                    except RuntimeError as e:  # "Failed client connect: ..." (refused, unreachable)
                        raise EngineUnavailable() from e
        return self._temporal
