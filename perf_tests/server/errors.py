"""API errors as the KFP API server reports them: a gRPC status code mapped to an HTTP status.

Handlers raise :class:`ApiError`; the HTTP layer turns it into the grpc-gateway error body
``{"error": ..., "code": ..., "message": ..., "details": [...]}`` with the matching HTTP status.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ApiError", "GrpcCode"]


class GrpcCode(IntEnum):
    """The gRPC status codes the simulator uses (numbers as in ``google.rpc.Code``)."""

    OK = 0
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    FAILED_PRECONDITION = 9
    ABORTED = 10
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16

    @property
    def http_status(self) -> int:
        """The HTTP status grpc-gateway answers for this code."""
        return _HTTP_STATUS[self]


_HTTP_STATUS: dict[GrpcCode, int] = {
    GrpcCode.OK: 200,
    GrpcCode.UNKNOWN: 500,
    GrpcCode.INVALID_ARGUMENT: 400,
    GrpcCode.NOT_FOUND: 404,
    GrpcCode.ALREADY_EXISTS: 409,
    GrpcCode.PERMISSION_DENIED: 403,
    GrpcCode.FAILED_PRECONDITION: 400,
    GrpcCode.ABORTED: 409,
    GrpcCode.UNIMPLEMENTED: 501,
    GrpcCode.INTERNAL: 500,
    GrpcCode.UNAVAILABLE: 503,
    GrpcCode.UNAUTHENTICATED: 401,
}
"""grpc-gateway's ``runtime.HTTPStatusFromCode``."""


class ApiError(Exception):
    """An error answered to the client; ``message`` says what was wrong with the request."""

    def __init__(self, code: GrpcCode, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status if http_status is not None else code.http_status

    @classmethod
    def invalid(cls, message: str) -> ApiError:
        """INVALID_ARGUMENT (HTTP 400): a malformed body, parameter, filter or package."""
        return cls(GrpcCode.INVALID_ARGUMENT, message)

    @classmethod
    def not_found(cls, kind: str, ident: str) -> ApiError:
        """NOT_FOUND (HTTP 404) for an unknown id."""
        return cls(GrpcCode.NOT_FOUND, f"{kind} {ident} not found")

    @classmethod
    def already_exists(cls, message: str) -> ApiError:
        """ALREADY_EXISTS (HTTP 409), e.g. a duplicate pipeline name."""
        return cls(GrpcCode.ALREADY_EXISTS, message)

    @classmethod
    def aborted(cls, message: str) -> ApiError:
        """ABORTED (HTTP 409): what KFP's ``util.NewBadRequestError`` answers (e.g. retrying a running run)."""
        return cls(GrpcCode.ABORTED, message)

    @classmethod
    def failed_precondition(cls, message: str) -> ApiError:
        """FAILED_PRECONDITION (HTTP 400): the request is valid but not in the resource's current state."""
        return cls(GrpcCode.FAILED_PRECONDITION, message)
