"""Evidence images keep their pixels and lose everything else: EXIF, GPS, XMP, ICC, text, comments.

Every test image is built here with canaries planted in each metadata carrier; each test first
checks the canary is really in the input, so a test can only pass because sanitising removed it.
"""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageChops, ImageCms, PngImagePlugin

from bot.channels.images import ImageRejected, sanitise_image

GPS_CANARY = "GPS-CANARY"
EXIF_CANARY = "EXIF-CANARY"
XMP_CANARY = "XMP-CANARY"
ICC_CANARY = "ICC-CANARY-01"  # as long as lcms's "sRGB built-in", so it replaces it in place
TEXT_CANARY = "TEXT-CANARY"
COMMENT_CANARY = "COM-CANARY"
CANARIES = (GPS_CANARY, EXIF_CANARY, XMP_CANARY, ICC_CANARY, TEXT_CANARY, COMMENT_CANARY)
XMP_PACKET = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
    f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>{XMP_CANARY}</dc:creator></rdf:Description>'
    '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
).encode()
METADATA_KEYS = {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "Comment", "Description", "gps"}
JFIF_KEYS = {"jfif", "jfif_version", "jfif_unit", "jfif_density"}
# JPEG markers a bare re-encode may contain: SOI, APP0 (JFIF), DQT, SOF0, DHT, SOS. No APPn for
# n >= 1 (EXIF, XMP, ICC, Photoshop IRB, MPF), no COM.
ALLOWED_MARKERS = {0xD8, 0xE0, 0xDB, 0xC0, 0xC4, 0xDA}


def picture(size: tuple[int, int] = (160, 120)) -> Image.Image:
    """Four coloured quadrants and a gradient band: easy to recognise after a lossy re-encode."""
    width, height = size
    image = Image.new("RGB", size, (240, 240, 240))
    image.paste((200, 30, 30), (0, 0, width // 2, height // 2))
    image.paste((30, 160, 40), (width // 2, 0, width, height // 2))
    image.paste((20, 40, 190), (0, height // 2, width // 2, height))
    for x in range(width):
        image.paste((x * 255 // width, 200, 255 - x * 255 // width), (x, height - 12, x + 1, height))
    return image


def icc_with_canary() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = "sRGB built-in".encode("utf-16-be")
    assert original in profile
    return profile.replace(original, ICC_CANARY.encode("utf-16-be"))


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010E] = EXIF_CANARY  # ImageDescription
    exif[0x010F] = "CanaryPhone"  # Make
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (22.0, 32.0, 51.5)  # latitude
    gps[3], gps[4] = "E", (113.0, 56.0, 2.25)  # longitude
    gps[0x12] = GPS_CANARY  # GPSMapDatum
    return exif


def loaded_jpeg() -> bytes:
    out = io.BytesIO()
    picture().save(
        out,
        "JPEG",
        quality=95,
        exif=exif_with_gps(),
        icc_profile=icc_with_canary(),
        xmp=XMP_PACKET,
        comment=COMMENT_CANARY,
    )
    return out.getvalue()


def loaded_png() -> bytes:
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Comment", f"tEXt {TEXT_CANARY}")
    chunks.add_text("Description", f"zTXt {TEXT_CANARY}", zip=True)
    chunks.add_itxt("Title", f"iTXt {TEXT_CANARY}", lang="en", tkey="Title")
    chunks.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode())
    out = io.BytesIO()
    picture().save(out, "PNG", pnginfo=chunks, exif=exif_with_gps(), icc_profile=icc_with_canary())
    return out.getvalue()


def loaded_webp() -> bytes:
    out = io.BytesIO()
    picture().save(out, "WEBP", quality=95, exif=exif_with_gps(), icc_profile=icc_with_canary(), xmp=XMP_PACKET)
    return out.getvalue()


def canaries_in(data: bytes) -> set[str]:
    """Canaries in raw bytes, as UTF-8 or as UTF-16 (ICC descriptions)."""
    return {c for c in CANARIES if c.encode() in data or c.encode("utf-16-be") in data}


def planted_in(original: bytes) -> set[str]:
    """Canaries an input carries, in its raw bytes or inside compressed chunks (PNG iCCP, zTXt)."""
    found = canaries_in(original)
    with Image.open(io.BytesIO(original)) as image:
        for value in image.info.values():
            if isinstance(value, bytes | str):
                found |= canaries_in(value.encode() if isinstance(value, str) else value)
    return found


def jpeg_markers(data: bytes) -> list[int]:
    """The marker of every segment before the entropy-coded data."""
    assert data[:2] == b"\xff\xd8"
    markers, offset = [0xD8], 2
    while offset < len(data):
        assert data[offset] == 0xFF, "malformed JPEG"
        marker = data[offset + 1]
        markers.append(marker)
        if marker == 0xDA:
            return markers
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        offset += 2 + length
    raise AssertionError("no SOS segment")


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    small = (32, 24)
    diff = ImageChops.difference(a.convert("RGB").resize(small), b.convert("RGB").resize(small))
    raw = diff.tobytes()
    return sum(raw) / len(raw)


@pytest.mark.parametrize("make", [loaded_jpeg, loaded_png, loaded_webp], ids=["jpeg", "png", "webp"])
def test_no_metadata_survives_and_pixels_do(make: object) -> None:
    assert callable(make)
    original: bytes = make()
    planted = planted_in(original)
    expected = {GPS_CANARY, EXIF_CANARY, XMP_CANARY, ICC_CANARY}
    expected |= {TEXT_CANARY} if make is loaded_png else set()
    expected |= {COMMENT_CANARY} if make is loaded_jpeg else set()
    assert planted == expected, "the test image must carry every canary it is meant to"
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(0x8825), "the input must carry a GPS IFD"
        assert "icc_profile" in before.info

    result = sanitise_image(original)

    assert canaries_in(result.data) == set()
    assert result.mime == "image/jpeg" and (result.width, result.height) == (160, 120)
    assert set(jpeg_markers(result.data)) <= ALLOWED_MARKERS
    with Image.open(io.BytesIO(result.data)) as after:
        assert after.format == "JPEG"
        assert set(after.info) <= JFIF_KEYS, f"unexpected info keys {set(after.info) - JFIF_KEYS}"
        assert not METADATA_KEYS & set(after.info)
        assert len(after.getexif()) == 0 and not after.getexif().get_ifd(0x8825)
        assert mean_difference(after, picture()) < 4


def test_exif_orientation_is_applied_to_the_pixels() -> None:
    stored = Image.new("RGB", (60, 40), (220, 20, 20))  # red left half, blue right half, as stored
    stored.paste((20, 20, 220), (30, 0, 60, 40))
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=95, exif=exif_with_gps(orientation=6))  # "rotate 90° clockwise to view"

    result = sanitise_image(out.getvalue())

    assert (result.width, result.height) == (40, 60)
    with Image.open(io.BytesIO(result.data)) as upright:
        top, bottom = upright.getpixel((20, 10)), upright.getpixel((20, 50))
        assert upright.getexif().get(0x0112) is None, "no orientation tag may remain to rotate it twice"
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 and top[2] < 80, "the stored left (red) half must be on top"
    assert bottom[2] > 150 and bottom[0] < 80, "the stored right (blue) half must be at the bottom"


def test_transparent_pixels_are_flattened_on_white_and_hidden_colour_is_gone() -> None:
    hidden = Image.new("RGBA", (50, 50), (255, 0, 0, 0))  # red, but fully transparent
    hidden.paste((0, 0, 0, 255), (0, 0, 10, 10))
    out = io.BytesIO()
    hidden.save(out, "PNG")

    with Image.open(io.BytesIO(sanitise_image(out.getvalue()).data)) as result:
        assert result.mode == "RGB"
        corner, rest = result.getpixel((2, 2)), result.getpixel((40, 40))
    assert isinstance(corner, tuple) and max(corner) < 30
    assert isinstance(rest, tuple) and min(rest) > 245, "transparent red must come out white, not red"


def test_animated_gif_keeps_only_its_first_frame() -> None:
    frames = [Image.new("RGB", (30, 30), colour) for colour in ((230, 10, 10), (10, 10, 230))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], comment=COMMENT_CANARY.encode())
    assert COMMENT_CANARY.encode() in out.getvalue()

    result = sanitise_image(out.getvalue())

    assert COMMENT_CANARY.encode() not in result.data
    with Image.open(io.BytesIO(result.data)) as first:
        pixel = first.getpixel((15, 15))
        assert getattr(first, "n_frames", 1) == 1
    assert isinstance(pixel, tuple) and pixel[0] > 200 and pixel[2] < 50


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height``: a decompression bomb's calling card."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("width", "height"),
    [(100_000, 100_000), (8_000, 8_000), (70_000, 10)],
    ids=["past-pillow-limit", "past-our-limit", "past-jpeg-width"],
)
def test_decompression_bombs_are_refused_before_decoding(width: int, height: int) -> None:
    with pytest.raises(ImageRejected) as refused:
        sanitise_image(png_declaring(width, height))
    assert refused.value.reason == "too_many_pixels"


def test_pixel_and_byte_limits_are_the_callers() -> None:
    out = io.BytesIO()
    Image.new("L", (1200, 1000), 255).save(out, "PNG")
    with pytest.raises(ImageRejected) as refused:
        sanitise_image(out.getvalue(), max_pixels=1_000_000)
    assert refused.value.reason == "too_many_pixels"
    assert sanitise_image(out.getvalue(), max_pixels=1_200_000).width == 1200
    with pytest.raises(ImageRejected) as refused:
        sanitise_image(out.getvalue(), max_bytes=len(out.getvalue()) - 1)
    assert refused.value.reason == "too_large"


def tiff() -> bytes:
    out = io.BytesIO()
    picture().save(out, "TIFF")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"GIF89a but not really" + bytes(range(256)), "unsupported_format"),
        (bytes(range(256)) * 40, "unsupported_format"),
        (b"%PDF-1.7\n" + b"0" * 500, "unsupported_format"),
        (tiff(), "unsupported_format"),
        (loaded_jpeg()[:-400], "undecodable"),
    ],
    ids=["empty", "fake-gif", "garbage", "pdf", "tiff", "truncated-jpeg"],
)
def test_what_is_not_an_accepted_image_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected) as refused:
        sanitise_image(data)
    assert refused.value.reason == reason
    assert str(refused.value) == f"image rejected: {reason}"


def test_repr_shows_no_content() -> None:
    result = sanitise_image(loaded_png())
    assert repr(result).startswith("SanitisedImage(image/jpeg, 160x120, ")
    assert "\\x" not in repr(result)
