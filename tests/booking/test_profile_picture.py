"""The host's picture: uploaded on the owner's profile form, made a small square with no metadata,
kept in PostgreSQL, served at an address that names its content, and shown to attendees (the
initials in its place when there is none)."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import ExifTags, Image

from booking.models import Profile, ProfilePicture
from booking.pictures import MAX_UPLOAD_BYTES, SIDE, square_picture
from booking.services.profiles import profile_save
from tests.booking.pages import make_host
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_rate_limits")]

PROFILE_URL = "/booking/profile/"
GPS_LATITUDE = (52.0, 31.0, 12.5)


@pytest.fixture
def signed_in(owner) -> Client:
    browser = Client()
    browser.login(email=owner.email, password=DEFAULT_PASSWORD)
    return browser


def photo(
    size: tuple[int, int] = (800, 600),
    *,
    file_format: str = "JPEG",
    gps: bool = True,
    orientation: int | None = None,
    colours: tuple[str, str] = ("red", "blue"),
    mode: str = "RGB",
) -> bytes:
    """An image whose top half is ``colours[0]`` and bottom half ``colours[1]``, with a camera's
    EXIF: a GPS position, a maker and a comment, and an ``orientation`` when given."""
    width, height = size
    image = Image.new(mode, size, colours[1])
    image.paste(colours[0], (0, 0, width, height // 2))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone maker"
    exif[ExifTags.Base.ImageDescription] = "At home"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.Base.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: GPS_LATITUDE,
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (13.0, 24.0, 1.0),
        }
    buffer = io.BytesIO()
    image.save(buffer, file_format, exif=exif.tobytes())
    return buffer.getvalue()


def upload(data: bytes, name: str = "me.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def post_profile(browser: Client, **fields: object):
    return browser.post(
        PROFILE_URL, {"handle": "ada-host", "display_name": "Ada Host", **fields}, follow=False
    )


def stored(owner) -> tuple[Profile, Image.Image, bytes]:
    profile = Profile.objects.get(user=owner)
    data = bytes(ProfilePicture.objects.get(profile=profile).image)
    return profile, Image.open(io.BytesIO(data)), data


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG of a few bytes whose header says ``width`` x ``height``: a decompression bomb's
    shape (its pixels are never there to decode, which is the point of checking first)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_the_test_photo_really_carries_a_gps_position():
    exif = Image.open(io.BytesIO(photo())).getexif()

    assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] == GPS_LATITUDE
    assert exif[ExifTags.Base.Make] == "Phone maker"


def test_an_uploaded_photo_becomes_a_small_square_webp_without_its_metadata(owner, signed_in):
    original = photo((1600, 1200))

    response = post_profile(signed_in, picture=upload(original))

    assert response.status_code == 302
    profile, image, data = stored(owner)
    assert image.format == "WEBP"
    assert image.size == (SIDE, SIDE)
    assert not image.getexif()
    assert not image.info.get("exif") and not image.info.get("xmp")
    assert not image.info.get("icc_profile")
    for trace in (b"Exif", b"GPS", b"Phone maker", b"At home"):
        assert trace not in data
    assert len(profile.picture_digest) == 64
    assert profile.picture_digest != ""
    assert len(data) < len(original)


def test_a_small_picture_is_cropped_square_but_never_enlarged(owner, signed_in):
    post_profile(signed_in, picture=upload(photo((120, 90), file_format="PNG"), "me.png"))

    _profile, image, _data = stored(owner)
    assert image.size == (90, 90)


def test_a_photo_taken_sideways_is_turned_upright_before_it_is_cropped(owner, signed_in):
    # Stored 400x200, red above blue; EXIF orientation 6: shown turned a quarter clockwise, so
    # upright it is 200x400 with red on the right and blue on the left.
    post_profile(signed_in, picture=upload(photo((400, 200), orientation=6)))

    _profile, image, _data = stored(owner)
    left, right = (
        image.convert("RGB").getpixel((20, 100)),
        image.convert("RGB").getpixel((180, 100)),
    )
    assert left[2] > 200 and left[0] < 60, left  # blue
    assert right[0] > 200 and right[2] < 60, right  # red


def test_a_transparent_gif_keeps_its_transparency(owner, signed_in):
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (16, 16, 48, 48))
    buffer = io.BytesIO()
    image.save(buffer, "GIF")

    post_profile(signed_in, picture=upload(buffer.getvalue(), "me.gif", "image/gif"))

    _profile, stored_image, _data = stored(owner)
    assert stored_image.mode == "RGBA"
    assert stored_image.getpixel((1, 1))[3] == 0
    red, green, blue, alpha = stored_image.getpixel((32, 32))
    assert (alpha, red > 240, green < 15, blue < 15) == (255, True, True, True)


@pytest.mark.parametrize(
    ("data", "name", "says"),
    [
        (b"Dear host,\nthis is not a picture.\n", "letter.jpg", "not a picture we can read"),
        (photo(file_format="BMP", gps=False), "me.bmp", "not a picture we can read"),
        (photo()[:400], "cut.jpg", "not a picture we can read"),
        (png_claiming(7_000, 7_000), "bomb.png", "too many pixels"),
        (png_claiming(100_000, 100_000), "bigger-bomb.png", "too many pixels"),
        (b"\xff\xd8" + b"\0" * MAX_UPLOAD_BYTES, "huge.jpg", "larger than 5 MB"),
    ],
    ids=["text-file", "bmp", "truncated", "bomb", "bomb-past-pillows-limit", "over-5-mb"],
)
def test_a_file_that_cannot_be_a_picture_is_a_field_error_and_loses_nothing(
    owner, signed_in, data, name, says
):
    response = post_profile(
        signed_in, display_name="Ada Lovelace", picture=upload(data, name, "image/jpeg")
    )

    assert response.status_code == 200
    errors = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', response.text, re.S)
    assert errors and says in errors[1]
    assert 'value="Ada Lovelace"' in response.text
    assert 'value="ada-host"' in response.text
    assert not ProfilePicture.objects.exists()
    assert not Profile.objects.filter(user=owner).exists()


def test_a_new_picture_replaces_the_old_and_the_old_address_is_gone(owner, signed_in):
    host = Client()
    post_profile(signed_in, picture=upload(photo(colours=("red", "blue"))))
    first = Profile.objects.get(user=owner).picture_digest
    old_address = f"/book/ada-host/picture/{first}.webp"
    assert host.get(old_address).status_code == 200

    post_profile(signed_in, picture=upload(photo(colours=("green", "yellow"))))

    second = Profile.objects.get(user=owner).picture_digest
    assert second != first
    assert ProfilePicture.objects.count() == 1
    assert host.get(old_address).status_code == 404
    assert host.get(f"/book/ada-host/picture/{second}.webp").status_code == 200


def test_remove_picture_takes_it_away_and_the_initials_come_back(owner, signed_in):
    post_profile(signed_in, picture=upload(photo()))
    digest = Profile.objects.get(user=owner).picture_digest
    form = signed_in.get(PROFILE_URL)
    assert "Remove picture" in form.text
    assert f"/book/ada-host/picture/{digest}.webp" in form.text

    post_profile(signed_in, remove_picture="on")

    assert Profile.objects.get(user=owner).picture_digest == ""
    assert not ProfilePicture.objects.exists()
    assert Client().get(f"/book/ada-host/picture/{digest}.webp").status_code == 404
    assert "Remove picture" not in signed_in.get(PROFILE_URL).text
    public = Client().get("/book/ada-host/").text
    assert 'data-initials="AH"' in public
    assert "/picture/" not in public


def test_saving_the_name_alone_keeps_the_picture(owner, signed_in):
    post_profile(signed_in, picture=upload(photo()))
    digest = Profile.objects.get(user=owner).picture_digest

    post_profile(signed_in, display_name="Ada L. Host")

    profile = Profile.objects.get(user=owner)
    assert (profile.display_name, profile.picture_digest) == ("Ada L. Host", digest)


def test_the_picture_is_served_for_good_as_an_image_and_nothing_else(owner, signed_in):
    post_profile(signed_in, picture=upload(photo()))
    digest = Profile.objects.get(user=owner).picture_digest

    response = Client().get(f"/book/ada-host/picture/{digest}.webp")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    cache = response["Cache-Control"]
    assert "public" in cache and "max-age=31536000" in cache and "immutable" in cache
    assert response.content == bytes(ProfilePicture.objects.get().image)
    assert Client().head(f"/book/ada-host/picture/{digest}.webp").status_code == 200
    assert Client().post(f"/book/ada-host/picture/{digest}.webp").status_code == 405


def test_another_hosts_address_or_a_guessed_digest_is_not_found(
    radicale_server, owner, second_user, signed_in
):
    post_profile(signed_in, picture=upload(photo()))
    digest = Profile.objects.get(user=owner).picture_digest
    other = Profile.objects.create(user=second_user, handle="someone-else", display_name="Else")
    visitor = Client()

    assert visitor.get(f"/book/someone-else/picture/{digest}.webp").status_code == 404
    assert visitor.get(f"/book/ada-host/picture/{'0' * 64}.webp").status_code == 404
    assert visitor.get(f"/book/ada-host/picture/{digest[:-1]}.webp").status_code == 404
    assert visitor.get(f"/book/nobody/picture/{digest}.webp").status_code == 404
    # A host without a picture has no picture address at all, not even an empty one.
    assert other.picture_digest == ""
    assert visitor.get("/book/someone-else/picture/.webp").status_code == 404


def test_attendees_see_the_picture_beside_the_hosts_name_on_every_page(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner)
    profile = Profile.objects.get(user=owner)
    buffer = io.BytesIO(photo())
    picture_address = _save_picture(profile, buffer)

    for url in (f"/book/{host.handle}/", host.path):
        text = client.get(url).text
        header = re.search(r'<header class="site-header[^"]*">(.*?)</header>', text, re.S)[1]
        assert f'src="{picture_address}"' in header, url
        assert "Ada Host" in header, url
        assert 'alt=""' in header, url  # the name beside it says who it is
    profile_page = client.get(f"/book/{host.handle}/").text
    assert profile_page.count(f'src="{picture_address}"') == 2  # and large beside the heading


def test_without_a_picture_the_initials_stand_in_hidden_from_screen_readers(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner)

    text = client.get(host.path).text

    avatar = re.search(r'<span class="host-picture[^"]*"[^>]*>', text)[0]
    assert 'data-initials="AH"' in avatar
    assert 'aria-hidden="true"' in avatar
    assert "<img" not in re.search(r"<header.*?</header>", text, re.S)[0]


@pytest.mark.parametrize(
    ("name", "handle", "initials"),
    [("Ada Lovelace", "ada", "AL"), ("Ada", "ada", "A"), ("ada  byron lovelace", "x", "AL")],
)
def test_initials_are_the_first_letters_of_the_first_and_last_names(name, handle, initials):
    assert Profile(handle=handle, display_name=name).initials == initials


def test_the_profile_form_of_someone_without_a_profile_offers_a_picture_but_no_removal(
    owner, signed_in
):
    form = signed_in.get(PROFILE_URL)

    assert 'enctype="multipart/form-data"' in form.text
    assert 'type="file" name="picture"' in form.text
    assert 'accept="image/jpeg,image/png,image/webp,image/gif"' in form.text
    assert "Remove picture" not in form.text


def _save_picture(profile: Profile, upload_file: io.BytesIO) -> str:
    profile_save(
        user=profile.user,
        handle=profile.handle,
        display_name=profile.display_name,
        picture=square_picture(upload_file),
    )
    profile.refresh_from_db()
    return f"/book/{profile.handle}/picture/{profile.picture_digest}.webp"


def test_the_readme_has_the_proxy_accept_a_whole_upload_and_names_the_real_limit():
    """An upload the proxy refuses never reaches us: the deployment notes must ask for more than
    the largest picture we take, with room for the form's other fields, and state that limit."""
    readme = " ".join((Path(settings.BASE_DIR) / "README.md").read_text().split())
    allowed = re.search(r"client_max_body_size (\d+)m;", readme)

    assert allowed, "the README gives nginx's setting"
    assert int(allowed.group(1)) * 1024 * 1024 >= MAX_UPLOAD_BYTES + 512 * 1024
    assert f"files up to {MAX_UPLOAD_BYTES // (1024 * 1024)} MB" in readme
    assert "413" in readme  # and what the host sees when a proxy refuses anyway
