"""Reading text from pictures by OCR: scanned PDF pages (for :mod:`qa.formats.pdf`) and image
files (``.png``, ``.jpg``, ``.jpeg``, ``.tif``, ``.tiff``), into :class:`~qa.formats.base.Line` s
that :mod:`qa.formats.layout` turns into paragraphs like a PDF text layer.

The engine is RapidOCR (PaddleOCR's PP-OCR models run by onnxruntime). It is created once per
process on first use; calls are serialised by a lock (RapidOCR's ``__call__`` updates shared
state, and on two cores two pages at once only contend for the same cores).

Choice of engine (checked 2026-11 on this 2-core machine; numbers from bench/bench_ocr.py)::

    rapidocr 3.10.0         27.3 MB wheel; ships PP-OCRv6 "small" det + rec and the v2 angle
                            classifier inside the wheel (rapidocr/models/*.onnx, SHA-checked):
                            nothing is downloaded at run time (other languages/sizes would
                            be). Depends on opencv-python-headless; onnxruntime is NOT a
                            dependency of it (add it). Python 3.8-3.13. Also pulls omegaconf
                            (0.25 MB, needs only PyYAML), colorlog, requests (never used here:
                            we pass arrays, not URLs).
    rapidocr-onnxruntime    14.9 MB wheel; ships PP-OCRv4 mobile det + rec; frozen at 1.4.4
      1.4.4                 (superseded by rapidocr 3.x); Requires-Python <3.13; requires
                            opencv-python (the GUI build). It runs with opencv-python-headless
                            (tried with --no-deps), but pip would still pull opencv-python.
    easyocr / paddleocr     download their weights at run time (easyocr from GitHub releases
                            into ~/.EasyOCR, paddleocr 3.x via paddlex from its model hosts):
                            impossible offline; paddleocr also needs paddlepaddle (~100+ MB).
    tesseract               Debian packages (tesseract-ocr 5.3.0 + tesseract-ocr-chi-sim, ~3.6
                            MB download), not on PyPI: pip cannot install it (not measured).

    On the 6-page scanned report (scanned at 300 dpi, rendered at 150 dpi, 1 thread, the text
    qa gets after the layout step): PP-OCRv6 small CER 0.60% (4.8 CPU-s/page) against
    PP-OCRv4 3.0% (5.0 CPU-s/page): v4 misreads 谆谆, ellipses and dashes, and 」 as ] in
    the running headers, which are then not seen as repeated.

    Wheel sizes (Linux x86-64, cp311): onnxruntime 1.32.0 27.8 MB; opencv-python-headless
    5.0.0.93 61.2 MB vs opencv-python 73.8 MB (bundles Qt5 and needs the system's libGL.so.1,
    libX11 etc.: ``import cv2`` fails on a slim server without libgl1); shapely 2.2.0 2.3 MB;
    pyclipper 1.4.0 1.0 MB; plus numpy, Pillow, PyYAML, six, tqdm.

    Depend on: rapidocr==3.10.0, onnxruntime (1.32.0 tested), opencv-python-headless (never both
    opencv builds: they share the cv2 folder and uninstalling one breaks the other).
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.corpus import UnreadableError
from qa.formats.base import READER_OCR, Extracted, Line, PageProgress
from qa.settings import DEFAULTS, Settings

if TYPE_CHECKING:
    import numpy as np
    import pypdfium2
    from PIL import Image

log = logging.getLogger("qa")

# ----------------------------------------------------------------------------- tunables
# Measured with bench/bench_ocr.py on the scanned report (see the numbers there).

#: PDF pages are rendered at this resolution for OCR. PP-OCRv6 reads best at modest sizes:
#: CER of the report (14 pt body) 0.57% at 100 dpi, 0.55% at 120, 0.68% at 150, 0.65% at 200;
#: printed at 9 pt 0.42%, 0.47%, 0.55%, 0.78%; 120 dpi costs 6.1 CPU-s a page against 8.5 at
#: 150 and 10.5 at 200 (9 pt). 120 rather than 100 keeps a margin for smaller print (7 pt at
#: 120 dpi is as many pixels as 9 pt at 100 dpi).
OCR_DPI = 120
#: At most this many pixels go to the text detector (a page rendered at OCR_DPI is reduced to
#: it, an image is scaled down to it): an A4/Letter page at 200 dpi. Detection time and memory
#: grow with the pixels; larger pages (posters) lose their small print.
OCR_MAX_PIXELS = 4_000_000
#: Pictures whose shorter side is under MIN_SHORT_SIDE pixels are enlarged towards it (small
#: text is found better larger: RapidOCR's own rule, 736), but at most MAX_ENLARGE times: its
#: rule made a 1100 x 116 strip of one line 6979 x 736, as slow as a page.
MIN_SHORT_SIDE = 736
MAX_ENLARGE = 2.0
#: onnxruntime threads per session (intra-op; inter-op is 1: the graphs run sequentially); 0
#: lets onnxruntime choose. 2 on this 2-core machine: interleaved A/B on the same pages with
#: another process busy on one core, 2 threads took 5.08 s a page against 5.60 for 1, at 6.45
#: against 5.60 CPU-s (onnxruntime's spinning threads); with both cores free 2 threads gain
#: more. Where OCR shares the cores with other work (embedding) 1 thread wastes less.
OCR_THREADS = 2
#: Run the text-angle classifier (turns text lines it finds upside down round). Off: on the
#: upright scanned report it turned real lines over (read as junk, then dropped): CER 4.4%
#: with it, 0.68% without, for no gain in speed (4.9 CPU-s/page either way).
USE_ANGLE_CLASSIFIER = False
#: Recognised lines scoring below this are dropped. Measured: the report's lines scanned at
#: 150 dpi all score 0.87+; on pages degraded (72-110 dpi, blur, noise) lines under 0.6 are
#: 68% wrong characters on average (URLs and dates read as garbage), 0.6-0.7 about 45%, 0.7+
#: 10% or less; shapes on synthetic pictures (noise, blobs, fractal) read as "●" 0.80, "■" 0.74,
#: "0" 0.66, "Sn" 0.24.
MIN_SCORE = 0.6
#: A picture is read upside down as well when the detector found at least this many text boxes
#: and fewer than half of them read as text (upside-down text scores low: junk). The detector
#: finds few boxes in upside-down text (1 in three upside-down lines of the report), so one
#: is enough; a picture with no text costs a second detection then.
_UPSIDE_DOWN_MIN_BOXES = 1

#: Packages OCR needs (the pip names) and the import names they provide.
_PACKAGES = "rapidocr onnxruntime opencv-python-headless"
_MODULES = ("onnxruntime", "cv2", "rapidocr")
#: Image formats read (Pillow's names): never let Pillow hand a file to a plugin that runs an
#: external program (EPS runs Ghostscript). Camera JPEGs with a preview open as "MPO" through
#: the JPEG opener.
_FORMATS = ("PNG", "JPEG", "TIFF", "GIF", "BMP", "WEBP")

_NOT_IMAGE = "not an image (or an image format that cannot be read)"
_DAMAGED = "truncated or damaged image: {}"
_TOO_LARGE = "image too large: over {:,} pixels (Settings.max_image_pixels)"
_TOO_MANY = "image with {} pages: over the limit of {} (Settings.max_pages)"
_NO_TEXT = "no text found by OCR"
_OCR_OFF = "OCR is turned off (--no-ocr, Settings.ocr): images are read by OCR"

#: The EXIF tag of the orientation.
_ORIENTATION = 0x0112

_engine: Any = None
_create_lock = threading.Lock()
_call_lock = threading.Lock()
#: Pillow's pixel guard is a global: set it and read images one at a time.
_open_lock = threading.Lock()


# ----------------------------------------------------------------------------- engine


@lru_cache(maxsize=1)
def ocr_missing() -> str | None:
    """None if OCR can run here, else a one-line reason that says how to install it."""
    import importlib

    for name in _MODULES:
        try:
            importlib.import_module(name)
        except (ImportError, OSError) as err:  # OSError: a shared library missing
            return f"OCR is not installed ({err}): pip install {_PACKAGES}"
    missing = [p.name for p in _model_paths() if not p.is_file()]
    if missing:
        return f"OCR models missing from the rapidocr package ({', '.join(missing)}): reinstall it"
    return None


def _model_paths() -> list[Path]:
    import rapidocr

    models = Path(rapidocr.__file__).parent / "models"
    names = ["PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx"]
    if USE_ANGLE_CLASSIFIER:
        names.append("ch_ppocr_mobile_v2.0_cls_mobile.onnx")
    return [models / n for n in names]


def _get_engine() -> Any:
    """The process's one RapidOCR engine, created on first use."""
    global _engine
    if _engine is None:
        with _create_lock:
            if _engine is None:
                _engine = _create_engine(OCR_THREADS, USE_ANGLE_CLASSIFIER)
    return _engine


def _create_engine(threads: int, angle_classifier: bool) -> Any:
    """A RapidOCR engine on the models shipped in its wheel (nothing is downloaded)."""
    from rapidocr import RapidOCR

    side = int(math.sqrt(OCR_MAX_PIXELS) * 3)  # our pixel budget rules, not RapidOCR's side cap
    params: dict[str, Any] = {
        "Global.log_level": "error",
        "Global.use_cls": angle_classifier,
        "Global.text_score": 0.0,  # filtered here (MIN_SCORE)
        "Global.max_side_len": side,
        # the detector's own "shortest side at least 736" rule would blow a strip of one line
        # up 6-fold (a page's cost); small pictures are enlarged here instead (_enlarged)
        "Det.limit_side_len": 32,
        "EngineConfig.onnxruntime.intra_op_num_threads": threads or -1,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    log.info("OCR engine: RapidOCR, PP-OCRv6 small, %s onnxruntime threads", threads or "auto")
    return RapidOCR(params=params)


# ----------------------------------------------------------------------------- lines


def ocr_lines(image: Image.Image) -> list[Line]:
    """The text lines OCR finds in ``image``, with their boxes in the image's pixels (y
    downwards), low-confidence junk dropped, in reading order (rows top to bottom, each left to
    right). An image upside down is read turned upright (the boxes then are on the image
    turned round)."""
    return _ocr_array(_bgr_array(image))


def _ocr_array(array: np.ndarray) -> list[Line]:
    """:func:`ocr_lines` of an 8-bit grey (2-D) or BGR array. A picture most of whose text
    boxes read as junk is tried upside down too (a page scanned the wrong way round): if that
    reads more, its lines are given with boxes on the picture turned upright (same size)."""
    import numpy as np

    array, fx, fy = _enlarged(array)
    lines, found = _recognise(array)
    if found >= _UPSIDE_DOWN_MIN_BOXES and len(lines) < found / 2:
        turned, _ = _recognise(np.ascontiguousarray(array[::-1, ::-1]))
        if _chars(turned) > _chars(lines):
            lines = turned  # boxes on the picture turned upright: read top to bottom
    return reading_order(
        [Line(ln.text, ln.left / fx, ln.top / fy, ln.right / fx, ln.bottom / fy) for ln in lines]
    )


def _recognise(array: np.ndarray) -> tuple[list[Line], int]:
    """The lines of ``array`` scoring at least MIN_SCORE (boxes in its pixels) and how many
    text boxes the detector found."""
    engine = _get_engine()
    with _call_lock:
        out = engine(array)
    if out.boxes is None or out.txts is None or out.scores is None:
        return [], 0
    lines = []
    for box, text, score in zip(out.boxes, out.txts, out.scores, strict=True):
        text = text.strip()
        if text and score >= MIN_SCORE:
            xs, ys = box[:, 0], box[:, 1]
            lines.append(
                Line(text, float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
            )
    return lines, len(out.boxes)


def _chars(lines: list[Line]) -> int:
    return sum(len(ln.text) for ln in lines)


def _enlarged(array: np.ndarray) -> tuple[np.ndarray, float, float]:
    """A small picture enlarged (at most :data:`MAX_ENLARGE` times, within
    :data:`OCR_MAX_PIXELS`) so that its shorter side reaches :data:`MIN_SHORT_SIDE`, and the
    factors applied to x and y."""
    h, w = array.shape[:2]
    factor = min(MAX_ENLARGE, MIN_SHORT_SIDE / max(1, min(h, w)))
    factor = min(factor, math.sqrt(OCR_MAX_PIXELS / max(1, h * w)))
    if factor <= 1.0:
        return array, 1.0, 1.0
    import cv2

    size = (round(w * factor), round(h * factor))
    return cv2.resize(array, size, interpolation=cv2.INTER_CUBIC), size[0] / w, size[1] / h


def _bgr_array(image: Image.Image) -> np.ndarray:
    """``image`` as the 8-bit array RapidOCR takes: grey (2-D) or BGR."""
    import numpy as np

    image = _eight_bit(image)
    if image.mode == "L":
        return np.asarray(image)
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


def _eight_bit(image: Image.Image) -> Image.Image:
    """``image`` in mode "L" or "RGB": transparency laid on white, 16-bit and float grey
    stretched to 0-255, every other mode converted."""
    from PIL import Image

    if image.mode in ("L", "RGB"):
        return image
    if image.mode == "1":
        return image.convert("L")
    if image.mode.startswith("I") or image.mode == "F":
        return _stretch(image)
    if "A" in image.mode or "a" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV


def _stretch(image: Image.Image) -> Image.Image:
    """A 16/32-bit or float grey image as 8-bit grey, its value range stretched to 0-255."""
    import numpy as np
    from PIL import Image

    a = np.asarray(image if image.mode == "F" else image.convert("F"), dtype=np.float32)
    lo, hi = float(a.min()), float(a.max())
    scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return Image.fromarray(scaled.astype(np.uint8), "L")


def reading_order(lines: Sequence[Line]) -> list[Line]:
    """``lines`` row by row top to bottom, each row left to right (:func:`layout.rows_of`)."""
    from qa.formats.layout import rows_of

    return [ln for row in rows_of(lines) for ln in row]


# ----------------------------------------------------------------------------- PDF pages


def ocr_pdf_page(page: pypdfium2.PdfPage, settings: Settings = DEFAULTS) -> list[Line]:
    """The text lines OCR finds on a PDF page, boxes in PDF points from the top-left of the
    page as displayed (crop box and /Rotate applied, y downwards), like a text layer's. The
    page is rendered at :data:`OCR_DPI`, less if that exceeds :data:`OCR_MAX_PIXELS` or
    ``settings.max_image_pixels``. Raises :class:`UnreadableError` if an image drawn on the
    page is itself over ``settings.max_image_pixels`` (rendering would decode all of it)."""
    import numpy as np

    width, height = page.get_size()
    if width <= 0 or height <= 0:
        return []
    _check_page_images(page, settings.max_image_pixels)
    scale = render_scale(width, height, settings.max_image_pixels)
    bitmap = page.render(scale=scale, may_draw_forms=True)  # BGR on white
    try:
        array = bitmap.to_numpy()
        if array.ndim == 3 and array.shape[2] == 4:  # BGRx/BGRA
            array = array[:, :, :3]
        lines = _ocr_array(np.ascontiguousarray(array))
        sx, sy = width / bitmap.width, height / bitmap.height
    finally:
        bitmap.close()
    return [Line(ln.text, ln.left * sx, ln.top * sy, ln.right * sx, ln.bottom * sy) for ln in lines]


def render_scale(width: float, height: float, max_pixels: int) -> float:
    """The render scale (pixels per point) for OCR of a ``width`` x ``height`` pt page:
    :data:`OCR_DPI`, or less to stay within :data:`OCR_MAX_PIXELS` and ``max_pixels``."""
    scale = OCR_DPI / 72
    budget = min(OCR_MAX_PIXELS, max_pixels)
    if width * height * scale * scale > budget:
        scale = math.sqrt(budget / (width * height))
    return scale


def _check_page_images(page: pypdfium2.PdfPage, max_pixels: int) -> None:
    """Raise :class:`UnreadableError` if an image on the page has over ``max_pixels``."""
    import pypdfium2.raw as pdfium_c

    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
        try:
            w, h = obj.get_px_size()
        except Exception:  # an image PDFium cannot size: rendering skips it too
            continue
        if w * h > max_pixels:
            raise UnreadableError(
                f"a scanned page's image is too large: {w} x {h} pixels, over {max_pixels:,} "
                "(Settings.max_image_pixels)"
            )


# ----------------------------------------------------------------------------- image files


def read_image(
    path: Path, settings: Settings = DEFAULTS, progress: PageProgress | None = None
) -> Extracted:
    """The text of an image file by OCR: each frame of a multi-page TIFF is a page (running
    headers and footers dropped as in a PDF), any other image is one page; EXIF orientation is
    applied. ``progress(done, total, "ocr")`` after each page. Raises
    :class:`UnreadableError` for a file that is not an image or is truncated, an image over
    ``settings.max_image_pixels`` (decompression bombs included) or with more frames than
    ``settings.max_pages``, an image with no text, and when OCR is off or not installed."""
    from qa.formats.layout import iter_without_margins, page_text

    if not settings.ocr:
        raise UnreadableError(_OCR_OFF)
    missing = ocr_missing()
    if missing:
        raise UnreadableError(missing)
    with _open_image(Path(path), settings.max_image_pixels) as image:
        total = _page_count(image)
        if total > settings.max_pages:
            raise UnreadableError(_TOO_MANY.format(total, settings.max_pages))
        pages = _ocr_frames(image, total, settings.max_image_pixels, progress)
        texts = tuple(page_text(lines) for lines in iter_without_margins(pages, total))
    if not any(t.strip() for t in texts):
        raise UnreadableError(_NO_TEXT)
    return Extracted(pages=texts, paged=True, reader=READER_OCR, ocr_pages=total)


@contextmanager
def _open_image(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """The image at ``path`` opened (not decoded yet) under Pillow's decompression-bomb guard
    set to ``max_pixels``; closed on exit."""
    from PIL import Image, UnidentifiedImageError

    with _open_lock:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(path, formats=_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise UnreadableError(_TOO_LARGE.format(max_pixels)) from err
        except UnidentifiedImageError as err:
            raise UnreadableError(_NOT_IMAGE) from err
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            raise UnreadableError(_DAMAGED.format(_reason(err))) from err
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    try:
        yield image
    finally:
        image.close()


def _reason(err: BaseException) -> str:
    return (str(err) or type(err).__name__).splitlines()[0][:200]


def _page_count(image: Image.Image) -> int:
    """Pages of an image file: the frames of a TIFF; other formats' extra frames (an animated
    PNG or GIF, a camera JPEG's preview) are not pages."""
    return int(getattr(image, "n_frames", 1)) if image.format == "TIFF" else 1


def _ocr_frames(
    image: Image.Image, total: int, max_pixels: int, progress: PageProgress | None
) -> Iterator[tuple[list[Line], float]]:
    """``(lines, height)`` of each page, OCR'd as it is asked for."""
    for i in range(total):
        frame = _frame(image, i, max_pixels)
        lines = ocr_lines(frame)
        if progress is not None:
            progress(i + 1, total, "ocr")
        yield lines, float(frame.height)


def _frame(image: Image.Image, index: int, max_pixels: int) -> Image.Image:
    """Frame ``index`` decoded, upright (EXIF orientation), 8-bit, at most OCR_MAX_PIXELS."""
    from PIL import Image, ImageOps

    try:
        if index:
            image.seek(index)
        width, height = image.size
        if width * height > max_pixels:  # Pillow checks the first frame only
            raise UnreadableError(_TOO_LARGE.format(max_pixels))
        if image.format in ("JPEG", "MPO") and width * height > OCR_MAX_PIXELS:
            f = math.sqrt(OCR_MAX_PIXELS / (width * height))
            image.draft(None, (math.ceil(width * f), math.ceil(height * f)))  # decode smaller
        image.load()
        frame: Image.Image = image
        if image.getexif().get(_ORIENTATION, 1) in range(2, 9):
            frame = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise UnreadableError(_DAMAGED.format(_reason(err))) from err
    frame = _eight_bit(frame)
    width, height = frame.size
    if width * height > OCR_MAX_PIXELS:
        f = math.sqrt(OCR_MAX_PIXELS / (width * height))
        size = (max(1, round(width * f)), max(1, round(height * f)))
        frame = frame.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return frame
