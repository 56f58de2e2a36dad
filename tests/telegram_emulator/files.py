"""Files as the Bot API presents them: file_id/file_unique_id, PhotoSize lists, Document objects.

Telegram keeps several JPEG sizes of every photo (longest side 90, 320, 800,
1280 px) and answers with one PhotoSize per size, smallest first. The emulator
makes the smaller sizes with Pillow and keeps the uploaded bytes verbatim as the
largest size, so a test can compare what it sent with what getFile serves. (The
real server re-encodes the largest size too: bot code must not rely on equal
bytes for photos; documents are served unchanged in both.)
"""

from __future__ import annotations

import base64
import hashlib
import io
import mimetypes
from typing import Any

from PIL import Image, UnidentifiedImageError

from .errors import bad_request
from .params import Upload
from .state import EmulatorState, StoredFile

JSON = dict[str, Any]
PHOTO_SIDES = (90, 320, 800, 1280)
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
_FILE_ID_PREFIX = {"photo": b"\x01\x00\x00\x00\x02", "document": b"\x01\x00\x00\x00\x05"}


def _make_ids(state: EmulatorState, kind: str, data: bytes, variant: str) -> tuple[str, str]:
    """An opaque file_id (unique per stored copy) and a file_unique_id derived from the content."""
    digest = hashlib.sha256(data + variant.encode()).digest()
    unique = base64.urlsafe_b64encode(b"\x02" + digest[:10]).decode().rstrip("=")
    serial = state.serial().to_bytes(8, "big")
    file_id = base64.urlsafe_b64encode(_FILE_ID_PREFIX[kind] + serial + digest[:40]).decode().rstrip("=")
    return "Ag" + file_id if kind == "photo" else "BQ" + file_id, "AQ" + unique


def store_photo(state: EmulatorState, data: bytes) -> list[JSON]:
    """Keep an uploaded photo and return its PhotoSize list, or Telegram's 400 for a bad image."""
    if len(data) > MAX_PHOTO_BYTES:
        raise bad_request("PHOTO_SAVE_FILE_INVALID")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
            source = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise bad_request("IMAGE_PROCESS_FAILED") from exc
    if width + height > 10_000 or max(width, height) > 20 * min(width, height):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    longest = max(width, height)
    sizes: list[JSON] = []
    for side in PHOTO_SIDES:
        if side >= longest:
            break
        scale = side / longest
        thumb = source.resize((max(1, round(width * scale)), max(1, round(height * scale))))
        buffer = io.BytesIO()
        thumb.save(buffer, format="JPEG", quality=80)
        sizes.append(_photo_size(state, buffer.getvalue(), thumb.width, thumb.height, f"s{side}"))
    sizes.append(_photo_size(state, data, width, height, "original"))
    for size in sizes:
        state.photo_sets[size["file_id"]] = sizes
    return sizes


def _photo_size(state: EmulatorState, data: bytes, width: int, height: int, variant: str) -> JSON:
    file_id, unique = _make_ids(state, "photo", data, variant)
    path = f"photos/file_{state.serial()}.jpg"
    state.store_file(StoredFile(file_id, unique, "photo", data, path, width=width, height=height))
    return {
        "file_id": file_id,
        "file_unique_id": unique,
        "file_size": len(data),
        "width": width,
        "height": height,
    }


def store_document(state: EmulatorState, data: bytes, file_name: str | None, mime_type: str | None = None) -> JSON:
    """Keep an uploaded document unchanged and return its Document object."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise bad_request("file is too big")
    if not data:
        raise bad_request("file must be non-empty")
    name = file_name or "document"
    guessed = mime_type if mime_type and mime_type != "application/octet-stream" else None
    mime = guessed or mimetypes.guess_type(name)[0] or "application/octet-stream"
    file_id, unique = _make_ids(state, "document", data, "document")
    suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
    path = f"documents/file_{state.serial()}.{suffix}"
    state.store_file(StoredFile(file_id, unique, "document", data, path, file_name=name, mime_type=mime))
    return document_object(state.files[file_id])


def document_object(stored: StoredFile) -> JSON:
    data: JSON = {
        "file_name": stored.file_name,
        "mime_type": stored.mime_type,
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
    }
    return data


def photo_sizes_for(state: EmulatorState, file_id: str) -> list[JSON]:
    """The PhotoSize list to answer with when a photo is re-sent by file_id: all its sizes, as stored."""
    stored = reuse_file(state, file_id, "photo")
    return [dict(size) for size in state.photo_sets[stored.file_id]]


def reuse_file(state: EmulatorState, file_id: str, kind: str) -> StoredFile:
    """Resolve a file_id being re-sent; Telegram refuses unknown ids and the wrong media type."""
    stored = state.files.get(file_id.strip())
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    if stored.kind != kind:
        raise bad_request(f"can't use file of type {stored.kind.capitalize()} as {kind.capitalize()}")
    return stored


def resolve_upload(state: EmulatorState, value: Upload | str, kind: str) -> Upload | StoredFile:
    """An upload, or a stored file for a file_id. URLs are refused: the emulator has no internet."""
    if isinstance(value, Upload):
        return value
    if value.startswith(("http://", "https://")):
        raise bad_request("wrong file identifier/HTTP URL specified")
    return reuse_file(state, value, kind)
