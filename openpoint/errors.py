"""Pinpoint's modeled errors, raised anywhere below the wire and mapped onto it by the gateway.

Handlers raise these; one exception handler turns them into the wire form botocore maps back
onto `client.exceptions.<Name>`: a `{Message, RequestID}` body plus the `X-Amzn-ErrorType`
header (botocore reads the header first).
"""

from __future__ import annotations


class PinpointError(Exception):
    code: str = "InternalServerErrorException"
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PinpointError):
    code, status = "BadRequestException", 400


class Forbidden(PinpointError):
    code, status = "ForbiddenException", 403


class NotFound(PinpointError):
    code, status = "NotFoundException", 404


# Pinpoint's words for what a request's path names but does not exist [I]: "Application not
# found" for a project, "Resource not found" for anything in it (endpoints, users, segments,
# campaigns, journeys, templates, jobs, channels). Clients written against Pinpoint compare them;
# the ids are in the request path already. References inside a request body (a campaign's
# SegmentId, a journey's TemplateName) keep OpenPoint's message naming the member.
APP_NOT_FOUND = "Application not found"
RESOURCE_NOT_FOUND = "Resource not found"


class MethodNotAllowed(PinpointError):
    code, status = "MethodNotAllowedException", 405


class Conflict(PinpointError):
    code, status = "ConflictException", 409


class PayloadTooLarge(PinpointError):
    code, status = "PayloadTooLargeException", 413


class TooManyRequests(PinpointError):
    code, status = "TooManyRequestsException", 429


class InternalServerError(PinpointError):
    code, status = "InternalServerErrorException", 500


class Unavailable(InternalServerError):
    """A dependency (PostgreSQL, Temporal) cannot be reached: nothing is wrong with the request,
    and the same request later will likely succeed.

    Pinpoint models no 503, so this is its modeled InternalServerErrorException (what botocore
    raises as `client.exceptions.InternalServerErrorException`) sent with HTTP 503 Service
    Unavailable: the AWS SDKs' standard, adaptive and legacy retry modes all retry 5xx answers, and
    load balancers and monitoring tell it from a bug's 500. (TooManyRequestsException would be
    retried too, but would tell the caller it is sending too much, and adaptive mode would slow it
    down for something that is not its doing.)"""

    status = 503
    what = "A service OpenPoint depends on"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or f"{self.what} is unavailable; retry the request.")


class DatabaseUnavailable(Unavailable):
    what = "The database"


class EngineUnavailable(Unavailable):
    what = "The workflow engine (Temporal)"
