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
