"""Decoding Bot API parameters the way the real server does.

Telegram accepts the query string, `application/x-www-form-urlencoded`,
`application/json` and `multipart/form-data` alike. Form fields are strings, so
numbers, booleans and objects (reply_markup, allowed_updates) arrive as text and
must be converted on read: PTB's HTTPXRequest sends every non-string value
JSON-encoded inside a form field.

Multipart is parsed with the standard library so the emulator needs nothing that
the project does not already install (Starlette's own form parser would need
python-multipart).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from .errors import ApiError, bad_request, required


@dataclass(frozen=True)
class Upload:
    """One uploaded file from a multipart request."""

    data: bytes
    file_name: str | None
    content_type: str | None


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Split a request body into plain values and uploaded files."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}, {}
    if media_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise bad_request("can't parse JSON encoded request body") from exc
        if not isinstance(decoded, dict):
            raise bad_request("can't parse JSON encoded request body")
        return decoded, {}
    if media_type == "multipart/form-data":
        return _parse_multipart(content_type, body)
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)), {}


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, Upload]]:
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message: EmailMessage = BytesParser(policy=HTTP).parsebytes(header + body)
    values: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        file_name = part.get_filename()
        if file_name is not None or part.get_content_type() not in ("text/plain",):
            files[name] = Upload(data, file_name, part.get_content_type())
        else:
            values[name] = data.decode(part.get_content_charset() or "utf-8", "replace")
    return values, files


class Params:
    """Typed, forgiving access to one call's parameters, as Telegram converts them."""

    def __init__(self, values: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.files = files or {}

    def has(self, name: str) -> bool:
        value = self.values.get(name)
        return (value is not None and value != "") or name in self.files

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, error: ApiError | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if error is not None:
                raise error
            return None
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise error or bad_request(f'field "{name}" must be of type Integer') from exc

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise bad_request(f'field "{name}" must be of type Number') from exc

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def structured(self, name: str, error: str) -> Any:
        """A JSON object or array, given natively (JSON body) or as JSON text (form field)."""
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError as exc:
                raise bad_request(error) from exc
        return value

    def chat_id(self) -> int | str:
        """An integer chat id or an "@username"; Telegram's own wording when it is missing."""
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            return text

    def input_file(self, name: str) -> Upload | str:
        """An uploaded file (by field name or `attach://`), or a file_id/URL string."""
        if name in self.files:
            return self.files[name]
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            attached = self.files.get(value.removeprefix("attach://"))
            if attached is None:
                raise bad_request(f"file {value!r} not found in the request")
            return attached
        if not value:
            raise required(name)
        return str(value)

    def for_log(self) -> dict[str, Any]:
        """The parameters as JSON-safe values, uploads summarised, for the call log."""
        logged: dict[str, Any] = dict(self.values)
        for name, upload in self.files.items():
            logged[name] = {"upload": True, "file_name": upload.file_name, "size": len(upload.data)}
        return logged
