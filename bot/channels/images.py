"""Evidence images re-encoded from their pixels, so nothing but the picture reaches storage.

A photo straight off a phone carries the worker's GPS position, the phone model and serial, the
time to the second, editing software, XMP history, ICC profile descriptions, PNG text chunks,
comments and an embedded thumbnail (which may show the picture *before* it was cropped). Any of
those can identify a reporter. Deleting known fields is a losing game, so :func:`sanitise_image`
decodes the file, turns the picture the right way up, converts it to sRGB and copies only its
pixels into a brand-new image, which is then encoded afresh. What was never copied cannot leak.

Output is always a baseline JPEG, quality 88, with full-resolution colour (4:4:4): one predictable
format for every reader, a fraction of a lossless PNG's size for photos, and no chroma blur on the
small coloured text of chat screenshots, which are a common kind of evidence. Transparency is
flattened onto white: fully transparent pixels still hold colour values, which could hide content
that a viewer does not show.

Decoding is CPU-bound and can take a second on a large photo: call it from a thread
(``await asyncio.to_thread(sanitise_image, data)``), never on the event loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BYTES = 20 * 2**20
JPEG_QUALITY = 88
JPEG_MAX_SIDE = 65_500  # the most libjpeg can encode in either direction
OUTPUT_MIME = "image/jpeg"
WHITE = (255, 255, 255)
# Pillow's format ids. JPEG includes multi-picture JPEGs (MPO: iPhone photos with depth maps), of
# which only the first picture is kept. HEIF is only there when a plugin such as pillow-heif
# registered it; AVIF (HEIF with AV1 inside) is built into Pillow 12 and later.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "HEIF", "AVIF")
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})

RejectReason = Literal["empty", "too_large", "too_many_pixels", "unsupported_format", "undecodable"]


class ImageRejected(ValueError):
    """The file is not an image we accept; ``reason`` is a short code, safe to log and count.

    The message never contains any of the file's bytes or metadata.
    """

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(f"image rejected: {reason}")
        self.reason: RejectReason = reason


@dataclass(frozen=True, repr=False)
class SanitisedImage:
    """A re-encoded image holding pixels only."""

    data: bytes
    mime: str
    width: int
    height: int

    def __repr__(self) -> str:
        return f"SanitisedImage({self.mime}, {self.width}x{self.height}, {len(self.data)} bytes)"


def sanitise_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int = DEFAULT_MAX_BYTES
) -> SanitisedImage:
    """Return the picture in ``data`` re-encoded from its pixels, or raise :class:`ImageRejected`.

    The size limits are checked before any pixel is decoded, so a decompression bomb (a small file
    declaring a huge picture) costs nothing. Pure and CPU-bound: run it in a thread.
    """
    if not data:
        raise ImageRejected("empty")
    if len(data) > max_bytes:
        raise ImageRejected("too_large")
    try:
        with Image.open(io.BytesIO(data), formats=_decodable_formats()) as opened:
            width, height = opened.size
            if width <= 0 or height <= 0 or width * height > max_pixels or max(width, height) > JPEG_MAX_SIDE:
                raise ImageRejected("too_many_pixels")
            opened.load()  # the first frame only, for animated GIF, WebP, PNG and MPO
            pixels = _pixels_only(_upright(opened))
        out = io.BytesIO()
        pixels.save(out, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True)
    except ImageRejected:
        raise
    except Image.DecompressionBombError:
        raise ImageRejected("too_many_pixels") from None
    except UnidentifiedImageError:
        raise ImageRejected("unsupported_format") from None
    except MemoryError:
        raise ImageRejected("too_many_pixels") from None
    except Exception:
        # Hostile files reach decoders that fail in many ways (OSError, SyntaxError, struct.error,
        # ValueError...); every one of them means the same thing to the worker and to the caller.
        raise ImageRejected("undecodable") from None
    return SanitisedImage(data=out.getvalue(), mime=OUTPUT_MIME, width=pixels.width, height=pixels.height)


def _decodable_formats() -> list[str]:
    """The accepted formats this Pillow can open; asked on each call, since a plugin (pillow-heif)
    may register after this module was imported, and Pillow refuses a list naming unknown ids."""
    Image.init()
    return [name for name in ACCEPTED_FORMATS if name in Image.OPEN]


def _upright(image: Image.Image) -> Image.Image:
    """The picture as the phone showed it: EXIF (or XMP) orientation applied to the pixels.

    A malformed EXIF block must not cost the worker their evidence, so the picture is then kept
    as stored rather than refused.
    """
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new RGB image holding only ``image``'s pixels, in sRGB, transparency flattened on white.

    ``Image.new`` starts with empty ``info`` and no EXIF, and ``paste`` copies pixel values only,
    so nothing the file carried besides the picture (EXIF, GPS, XMP, ICC, text chunks, comments,
    thumbnails, extra frames) can reach the encoder, which also reads some of ``info`` itself.
    """
    profile = image.info.get("icc_profile")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode not in ("RGB", "CMYK", "L"):
        image = image.convert("RGB")  # palette, 1-bit, 16-bit...: an embedded profile then still fits
    if isinstance(profile, bytes) and profile:
        image = _to_srgb(image, profile)
    if image.mode != "RGB":
        image = image.convert("RGB")
    clean = Image.new("RGB", image.size)
    clean.paste(image, (0, 0))
    return clean


def _to_srgb(image: Image.Image, profile: bytes) -> Image.Image:
    """Converts colours from the embedded profile to sRGB, so dropping the profile changes nothing
    visible (iPhone photos are Display P3, print scans often CMYK). A profile that does not parse
    or fit the pixels is ignored: the colours are then slightly off, never refused."""
    if image.mode not in ("RGB", "CMYK", "L"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        # Made per call: Little CMS profile handles are not meant to be shared between threads.
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image
