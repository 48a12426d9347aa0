"""The host's picture: whatever image the owner uploads becomes a small square we encoded ourselves.

Only JPEG, PNG, WebP and GIF are opened, and Pillow is told so: no other decoder (EPS through
Ghostscript, say) ever sees an upload. The size is read from the header and checked before a
single pixel is decoded, so a small file that would unpack to gigabytes (a decompression bomb) is
refused cheaply. What we keep is written afresh from the pixels alone, turned upright by its EXIF
orientation first: no EXIF (a phone's GPS position, its serial number), XMP, colour profile or
comment of the upload survives.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# What an owner may upload: a phone's photo fits, a raw camera file does not need to.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Decoded, this many pixels take some 160 MB at most; a 24-megapixel camera's photo fits.
MAX_PIXELS = 40_000_000
# The stored square's side at most: shown at up to 128 CSS pixels, it stays sharp on 2x screens.
SIDE = 256
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# The same, as the upload field's ``accept`` offers them in the browser's file chooser.
ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
CONTENT_TYPE = "image/webp"
_QUALITY = 85

NOT_AN_IMAGE = _("This file is not a picture we can read. Upload a JPEG, PNG, WebP or GIF.")
TOO_LARGE = _("This picture has too many pixels (at most 40 megapixels). Upload a smaller one.")
TOO_BIG_A_FILE = _("This file is larger than 5 MB. Upload a smaller picture.")
# What a damaged or hostile file makes Pillow's decoders raise; any of them: not a picture.
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error)


class PictureRefused(ValueError):
    """The upload cannot become a picture; ``message`` says why, in words for the owner."""

    def __init__(self, message: StrOrPromise) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class SquarePicture:
    """A picture as stored: WebP bytes, their SHA-256 in hex, and the square's side in pixels."""

    data: bytes
    digest: str
    side: int


def square_picture(upload: IO[bytes], *, size: int | None = None) -> SquarePicture:
    """``upload`` cropped to its middle square, at most ``SIDE`` pixels wide (never enlarged),
    re-encoded as WebP without any of its metadata; ``PictureRefused`` when it is too big a file
    (``size``, in bytes, when known), not an image of the formats above, too many pixels, or
    broken."""
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise PictureRefused(TOO_BIG_A_FILE)
    pixels = _upright_pixels(upload)
    side = min(SIDE, *pixels.size)
    square = ImageOps.fit(pixels, (side, side), method=Image.Resampling.LANCZOS)
    data = _encode(square)
    return SquarePicture(data=data, digest=hashlib.sha256(data).hexdigest(), side=side)


def _upright_pixels(upload: IO[bytes]) -> Image.Image:
    """The upload's first frame, decoded and turned upright, in RGB (RGBA when it has
    transparency). Pillow's own bomb check is made an error too (it only warns below twice its
    limit), though ours comes first."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(upload, formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise PictureRefused(TOO_LARGE) from error
        except (UnidentifiedImageError, *_UNREADABLE) as error:
            raise PictureRefused(NOT_AN_IMAGE) from error
        with image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PictureRefused(TOO_LARGE)
            try:
                # A JPEG decodes at 1/2, 1/4 or 1/8 of its size when that still covers the square.
                image.draft("RGB", (SIDE, SIDE))
                image.seek(0)
                upright = ImageOps.exif_transpose(image)
                return upright.convert("RGBA" if _has_alpha(upright) else "RGB")
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
                raise PictureRefused(TOO_LARGE) from error
            except _UNREADABLE as error:
                raise PictureRefused(NOT_AN_IMAGE) from error


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _encode(square: Image.Image) -> bytes:
    """WebP from the pixels alone: a new image holds nothing but them, so no metadata carried in
    ``info`` can reach the file."""
    bare = Image.frombytes(square.mode, square.size, square.tobytes())
    buffer = io.BytesIO()
    bare.save(buffer, "WEBP", quality=_QUALITY)
    return buffer.getvalue()
