"""Tests for actwidgets.images: every input kind and error of load_image, the samples."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from actwidgets import images
from actwidgets.images import WORKING_SIDE, ImageError, ImageNotFoundError, load_image
from actwidgets.samples import FACE_EYES, SAMPLE_IMAGES, eye_mask, sample_image

FAST = settings(max_examples=50, deadline=None)


class FakeTensor:
    """Duck-typed stand-in for a torch tensor (detach/cpu/numpy)."""

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    def detach(self) -> FakeTensor:
        return self

    def cpu(self) -> FakeTensor:
        return self

    def numpy(self) -> np.ndarray:
        return self._a


@pytest.fixture()
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)


def _png_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def _check(out: np.ndarray, expected: np.ndarray) -> None:
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert out.flags.c_contiguous and out.flags.writeable
    np.testing.assert_array_equal(out, expected)


# --------------------------------------------------------------------------- inputs


def test_path_str_and_pathlib(tmp_path: Path, rgb: np.ndarray) -> None:
    p = tmp_path / "x.png"
    p.write_bytes(_png_bytes(rgb))
    _check(load_image(p), rgb)
    _check(load_image(str(p)), rgb)


def test_bytes(rgb: np.ndarray) -> None:
    data = _png_bytes(rgb)
    _check(load_image(data), rgb)
    _check(load_image(bytearray(data)), rgb)
    _check(load_image(memoryview(data)), rgb)


def test_jpeg_exif_orientation_is_applied(rgb: np.ndarray) -> None:
    im = Image.fromarray(rgb)  # 7 wide, 5 high
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buf = io.BytesIO()
    im.save(buf, format="JPEG", exif=exif.tobytes(), quality=95)
    out = load_image(buf.getvalue())
    assert out.shape == (7, 5, 3)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "LA", "CMYK", "1"])
def test_pil_any_mode(rgb: np.ndarray, mode: str) -> None:
    im = Image.fromarray(rgb).convert(mode)
    out = load_image(im)
    _check(out, np.asarray(im.convert("RGB")))


def test_pil_16bit() -> None:
    a = np.array([[0, 65535], [257, 32896]], dtype=np.uint16)
    out = load_image(Image.fromarray(a))
    np.testing.assert_array_equal(out[:, :, 0], [[0, 255], [1, 128]])


def test_array_gray_and_channels(rgb: np.ndarray) -> None:
    gray = rgb[:, :, 0]
    expected = np.repeat(gray[:, :, None], 3, axis=2)
    _check(load_image(gray), expected)
    _check(load_image(gray[:, :, None]), expected)
    _check(load_image(rgb), rgb)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    _check(load_image(rgba), rgb)  # opaque: the colours as they are
    rgba[..., 3] = 0
    _check(load_image(rgba), np.full_like(rgb, 255))  # transparent: white, as a viewer shows it


def test_array_float_in_unit_range() -> None:
    a = np.array([[0.0, 0.5], [1.0, 0.25]], dtype=np.float32)
    out = load_image(a)
    np.testing.assert_array_equal(out[:, :, 0], [[0, 128], [255, 64]])
    out64 = load_image(np.stack([a, a, a], axis=2).astype(np.float64))
    np.testing.assert_array_equal(out64, out)


def test_array_other_integers_in_range() -> None:
    out = load_image(np.array([[0, 255]], dtype=np.int64))
    np.testing.assert_array_equal(out[0, :, 1], [0, 255])


def test_returns_new_array(rgb: np.ndarray) -> None:
    out = load_image(rgb)
    assert not np.shares_memory(out, rgb)
    ro = rgb.copy()
    ro.flags.writeable = False
    out2 = load_image(ro)
    assert out2.flags.writeable and not ro.flags.writeable


def test_tensor_chw_and_hwc(rgb: np.ndarray) -> None:
    chw = np.moveaxis(rgb, 2, 0).astype(np.float32) / 255.0
    _check(load_image(FakeTensor(chw)), rgb)
    _check(load_image(FakeTensor(rgb.astype(np.float32) / 255.0)), rgb)
    _check(load_image(FakeTensor(chw[None])), rgb)  # a batch of one
    gray = chw[:1]
    _check(load_image(FakeTensor(gray)), np.repeat(rgb[:, :, :1], 3, axis=2))
    rgba = np.concatenate([chw, np.ones_like(chw[:1])], axis=0)  # float: 1.0 is opaque
    _check(load_image(FakeTensor(rgba)), rgb)  # opaque: the colours as they are


@FAST
@given(a=hnp.arrays(st.sampled_from([np.uint8, np.float32]),
                   hnp.array_shapes(min_dims=2, max_dims=3, max_side=6)))
def test_arrays_never_mutated(a: np.ndarray) -> None:
    if a.ndim == 3 and a.shape[2] not in (1, 3, 4):
        return
    if a.dtype == np.float32:
        a = np.nan_to_num(np.abs(a), posinf=1.0) % 1.0
    before = a.copy()
    writeable = a.flags.writeable
    out = load_image(a)
    assert out.shape == a.shape[:2] + (3,) and out.dtype == np.uint8
    np.testing.assert_array_equal(a, before)
    assert a.flags.writeable == writeable


# --------------------------------------------------------------------------- errors


def test_missing_path_names_it(tmp_path: Path) -> None:
    p = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(p)
    with pytest.raises(ValueError, match="nope.png"):  # also a ValueError
        load_image(str(p))
    assert issubclass(ImageNotFoundError, ValueError)


def test_not_an_image_names_path(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        load_image(p)
    with pytest.raises(ValueError, match="folder"):
        load_image(tmp_path)
    with pytest.raises(ValueError, match="not an image"):
        load_image(b"definitely not a png")
    with pytest.raises(ValueError, match="empty"):
        load_image(b"")


def test_float_out_of_range_says_what_to_do() -> None:
    with pytest.raises(ValueError, match="divide by 255"):
        load_image(np.full((2, 2), 200.0))
    with pytest.raises(ValueError, match="mat2gray"):
        load_image(np.full((2, 2), -0.5))
    with pytest.raises(ValueError, match="NaN"):
        load_image(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="divide by 255"):
        load_image(FakeTensor(np.full((3, 2, 2), 3.0, np.float32)))


def test_bad_arrays() -> None:
    with pytest.raises(TypeError, match="bool"):
        load_image(np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="empty"):
        load_image(np.zeros((0, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="channels"):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="moveaxis"):
        load_image(np.zeros((3, 8, 8), np.uint8))  # channels-first numpy array
    with pytest.raises(ValueError):
        load_image(np.zeros((2, 2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="0..255"):
        load_image(np.array([[0, 300]], dtype=np.int32))
    with pytest.raises(TypeError):
        load_image(np.zeros((2, 2), complex))
    with pytest.raises(TypeError, match="cannot load"):
        load_image(12345)


def _jpeg(w: int, h: int, **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(buf, format="JPEG", **save)
    return buf.getvalue()


def test_a_phone_photo_is_shrunk_as_it_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    path.write_bytes(_jpeg(8000, 6000, quality=50))  # 48 megapixels
    out = load_image(path)
    assert out.shape == (WORKING_SIDE * 3 // 4, WORKING_SIDE, 3)
    assert abs(int(out[500, 500, 0]) - 200) < 8  # the colour survives
    strip_ok = load_image(np.zeros((40, 1000), np.uint8))  # 25:1 is still a picture
    assert strip_ok.shape == (40, 1000, 3)


def test_absurd_shapes_and_bombs_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="strip"):
        load_image(np.broadcast_to(np.zeros((1, 1), np.uint8), (1, 40000)))  # no MemoryError
    strip = tmp_path / "strip.png"
    Image.new("L", (40000, 1)).save(strip)
    with pytest.raises(ImageError, match=r"strip.png.*strip more than") as info:
        load_image(strip)
    assert "damaged" not in str(info.value) and str(info.value).count("strip.png") == 1
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 megapixels, a few KB on disk
    with pytest.raises(ImageError, match="bomb.png.*decompression-bomb"):
        load_image(bomb)


def test_damaged_files_say_so_by_name(tmp_path: Path) -> None:
    good = _jpeg(300, 200)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(ImageError, match=r"truncated.jpg' is truncated.*Copy it again"):
        load_image(truncated)
    stub = tmp_path / "stub.png"
    stub.write_bytes(_png_bytes(np.zeros((64, 64, 3), np.uint8))[:60])
    with pytest.raises(ImageError, match=r"stub.png' is (truncated|damaged)"):
        load_image(stub)
    corrupt = tmp_path / "corrupt.png"
    data = bytearray(_png_bytes(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    data[80:120] = b"\x00" * 40  # inside the compressed picture data
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ImageError, match=r"corrupt.png' is (damaged|truncated)"):
        load_image(corrupt)
    with pytest.raises(ImageError, match="uploaded file"):
        load_image(good[:100])


def test_sample_names_urls_and_missing_paths() -> None:
    np.testing.assert_array_equal(load_image("cat"), sample_image("cat"))
    with pytest.raises(ImageError, match=r"web address.*urlretrieve"):
        load_image("https://example.com/x.jpg")
    with pytest.raises(ImageNotFoundError) as info:
        load_image("no/such/photo.jpg")
    message = str(info.value)
    assert "photo.jpg" in message and "face, face_eye_closed, cat, coffee" in message
    assert message.count("photo.jpg") == 1


def test_a_file_named_like_a_sample_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((4, 4, 3), 7, np.uint8)).save(tmp_path / "cat", format="PNG")
    assert load_image("cat").shape == (4, 4, 3)


def test_transparency_is_white_and_exif_turns_pil_images_upright(tmp_path: Path) -> None:
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[:, :3] = (255, 0, 0, 255)  # left half opaque red, right half transparent black
    out = load_image(_png_bytes(rgba))
    assert out[0, 0].tolist() == [255, 0, 0] and out[0, 5].tolist() == [255, 255, 255]
    np.testing.assert_array_equal(load_image(rgba), out)
    img = Image.new("RGB", (6, 4), (10, 20, 30))
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    path = tmp_path / "turned.jpg"
    img.save(path, exif=exif)
    with Image.open(path) as pil:
        assert load_image(pil).shape == load_image(path).shape == (6, 4, 3)


# --------------------------------------------------------------------------- samples


def test_sample_shapes_and_copies() -> None:
    shapes = {"face": (224, 224, 3), "face_eye_closed": (224, 224, 3), "cat": (300, 451, 3),
              "coffee": (400, 600, 3)}
    assert set(SAMPLE_IMAGES) == set(shapes)
    for name in SAMPLE_IMAGES:
        a = sample_image(name)
        assert a.shape == shapes[name] and a.dtype == np.uint8 and a.flags.writeable
        a[:] = 0  # ours to change...
        assert sample_image(name).any()  # ...without touching the cache


def test_sample_unknown_lists_names() -> None:
    with pytest.raises(ValueError, match="face_eye_closed"):
        sample_image("dog")


def test_face_is_astronaut_crop() -> None:
    from skimage import data

    face = sample_image("face")
    astro = data.astronaut()
    np.testing.assert_array_equal(face, astro[0:224, 116:340])


def _grow(box: tuple[int, int, int, int], by: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return x0 - by, y0 - by, x1 + by, y1 + by


def test_face_eye_closed_differs_only_near_left_eye() -> None:
    face = sample_image("face").astype(int)
    closed = sample_image("face_eye_closed").astype(int)
    changed = np.abs(face - closed).max(axis=2) > 0
    assert changed.sum() > 200  # the eye really was painted over
    x0, y0, x1, y1 = _grow(FACE_EYES["left"], 8)
    near = np.zeros_like(changed)
    near[y0:y1, x0:x1] = True
    assert changed[near].sum() / changed.sum() > 0.97
    assert not changed[~near].any()
    # the eye box itself changed a lot (dark iris replaced with skin)
    bx0, by0, bx1, by1 = FACE_EYES["left"]
    assert closed[by0:by1, bx0:bx1].mean() > face[by0:by1, bx0:bx1].mean() + 10
    # the other eye is untouched
    rx0, ry0, rx1, ry1 = FACE_EYES["right"]
    assert not changed[ry0:ry1, rx0:rx1].any()


def test_face_eyes_boxes_and_mask() -> None:
    assert set(FACE_EYES) == {"left", "right"}
    assert FACE_EYES["left"][0] > FACE_EYES["right"][0]  # her left eye is on the picture's right
    face = sample_image("face").astype(float).mean(axis=2)
    for x0, y0, x1, y1 in FACE_EYES.values():
        assert 0 <= x0 < x1 <= 224 and 0 <= y0 < y1 <= 224
        # an eye box holds the dark iris: clearly darker than the face around it
        assert face[y0:y1, x0:x1].min() < 0.5 * np.median(face[y1 : y1 + 15, x0:x1])
    both = eye_mask()
    assert both.dtype == np.bool_ and both.shape == (224, 224)
    np.testing.assert_array_equal(both, eye_mask("left") | eye_mask("right"))
    x0, y0, x1, y1 = FACE_EYES["left"]
    assert eye_mask("left").sum() == (x1 - x0) * (y1 - y0)
    with pytest.raises(ValueError, match="both"):
        eye_mask("middle")


def test_the_public_limits_are_the_ones_applied() -> None:
    """``MAX_ASPECT`` and ``WORKING_SIDE`` are the limits load_image applies, exactly at the
    boundary; a star import gives ``__all__`` and nothing else."""
    namespace: dict = {}
    exec("from actwidgets.images import *", namespace)
    assert sorted(n for n in namespace if n != "__builtins__") == sorted(images.__all__)
    assert namespace["load_image"] is load_image and issubclass(namespace["ImageNotFoundError"], ImageError)
    assert load_image(np.zeros((2, 2 * images.MAX_ASPECT), np.uint8)).shape == (2, 2 * images.MAX_ASPECT, 3)
    with pytest.raises(ImageError, match=rf"is 101×2 pixels: a strip more than {images.MAX_ASPECT} times"):
        load_image(np.zeros((2, 2 * images.MAX_ASPECT + 1), np.uint8))
    assert load_image(np.zeros((100, WORKING_SIDE), np.uint8)).shape == (100, WORKING_SIDE, 3)
    assert load_image(np.zeros((100, WORKING_SIDE + 2), np.uint8)).shape[1] == WORKING_SIDE


def test_damaged_pil_images_odd_paths_and_colour_keys(tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(photo)
    data = photo.read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[:len(data) // 2])
    with Image.open(tmp_path / "trunc.jpg") as lazy:  # opened, decoded only by load_image
        with pytest.raises(ImageError, match=r"the PIL image .* is truncated"):
            load_image(lazy)
    with pytest.raises(ImageError, match="cannot be a file's path"):
        load_image("x" * 300 + ".jpg")
    with pytest.raises(ImageError, match="the image path is empty.*face"):
        load_image("")
    key = tmp_path / "key.png"  # black is transparent by a colour key (PNG's tRNS chunk)
    Image.new("RGB", (4, 4), (0, 0, 0)).save(key, transparency=(0, 0, 0))
    assert load_image(key)[0, 0].tolist() == [255, 255, 255]


def test_a_symlink_loop_and_a_dangling_link_say_so(tmp_path: Path) -> None:
    loop, dangling = tmp_path / "loop.png", tmp_path / "gone.png"
    loop.symlink_to(loop)
    dangling.symlink_to(tmp_path / "deleted.png")
    with pytest.raises(ImageNotFoundError, match=r"'.*loop.png' is a symbolic link in a loop \(it "
                       r"leads back to itself, never to a file\); point it at an image file"):
        load_image(loop)
    with pytest.raises(ImageNotFoundError, match=r"'.*gone.png' is a symbolic link to '.*deleted.png', "
                       r"which does not exist"):
        load_image(str(dangling))


def test_an_animated_gif_uses_its_first_frame_and_says_so(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((12, 16, 3), v, np.uint8)) for v in (30, 220, 120)]
    path = tmp_path / "wave.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with pytest.warns(UserWarning, match=r"wave.gif' holds 3 frames \(an animation or a "
                      r"multi-page file\): its first frame is used"):
        first = load_image(path)
    assert first.shape == (12, 16, 3) and abs(int(first.mean()) - 30) <= 2
    with pytest.warns(UserWarning, match="holds 3 frames"):
        load_image(path.read_bytes())
    single = tmp_path / "still.gif"
    frames[1].save(single)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_image(single)  # one frame: nothing to say
