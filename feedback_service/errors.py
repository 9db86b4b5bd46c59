"""Errors a client sees: a stable English ``code``, a German ``message``, the ``field``."""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field


@dataclass
class ApiError(Exception):
    status: int
    code: str
    message: str
    field: str | None = None
    headers: dict[str, str] = dataclass_field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class ValidationFailed(Exception):
    """One or more fields are invalid (422); the first error is the JSON answer."""

    def __init__(self, errors: list[ApiError]):
        super().__init__("; ".join(map(str, errors)))
        self.errors = errors


def field_error(code: str, message: str, field: str) -> ApiError:
    return ApiError(422, code, message, field)
