"""The gateway's checks of the Lambda functions that campaigns, journeys and project settings
name: a function in another partition is refused when written, and the journey review (and
publishing) asks Lambda whether each function can be invoked (a DryRun: nothing runs)."""

from __future__ import annotations

import logging
from typing import Any

from api.context import Context
from channels.aws import Credentials
from channels.lambda_functions import FunctionFailed, FunctionUnavailable
from rules.lambdas import check_partition, function_refs
from store import channels as channels_store

log = logging.getLogger(__name__)


def check_functions(ctx: Context, document: dict[str, Any], field: str) -> None:
    """BadRequest naming the member when a function ARN is in a partition OpenPoint cannot reach."""
    check_partition(document, field, ctx.functions().partition)


async def invocation_problems(ctx: Context, app_id: str, definition: dict[str, Any]) -> dict[str, str]:
    """Function reference -> why it cannot be invoked, for the functions Lambda refused. A
    function Lambda could not be asked about (unreachable) is left out: a review must not fail
    because the network did, and the send records its own failure if it persists."""
    refs = {ref.reference: ref for _, ref in function_refs(definition, "")}
    if not refs:
        return {}
    async with ctx.engine.connect() as conn:
        config = await channels_store.config(conn, ctx.vault, app_id, "CUSTOM")
    credentials = Credentials.from_secrets(config.secrets if config else {})
    problems: dict[str, str] = {}
    for reference, ref in sorted(refs.items()):
        try:
            await ctx.functions().check(ref, credentials)
        except FunctionFailed as e:
            problems[reference] = e.message
        except FunctionUnavailable as e:
            log.warning("could not check the Lambda function %s: %s", reference, e.message)
    return problems
