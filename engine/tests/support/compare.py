"""Decodes images with Pillow, a decoder Folio does not use, for the conversion tests.

Reads lines of tab-separated paths on standard input:
  compare A B   -> "ok W H MAX MEAN" : A against B, both over white, as RGB
  info A        -> "ok W H MODE FORMAT ICC_SHA256 FRAMES"
  frames A B    -> "ok FRAMES_A FRAMES_B MAX MEAN": frame i of A against frame i of B,
                   the largest difference and the largest mean over the frames
  upright A B   -> like compare, with A's EXIF orientation applied and B as it is
  baseline A B F -> "ok W H MAX MEAN PILLOW_MEAN": A against B, and Pillow's own encoding
                   of B in format F (JPEG or WebP at quality 75, AVIF at 50, GIF dithered
                   to 256 colours) against B: what a reference encoder loses on the same
                   pixels
and answers one line each, in order ("error MESSAGE" when Pillow cannot read a file).
"""
import hashlib
import io
import sys

from PIL import Image, ImageChops, ImageOps, ImageStat


def over_white(im):
    im.load()
    if im.mode in ("I;16", "I;16B", "I"):
        im = im.point(lambda v: v / 257).convert("L")
    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def compare(a, b):
    if a.size != b.size:
        return f"size {a.size[0]} {a.size[1]} vs {b.size[0]} {b.size[1]}"
    diff = ImageChops.difference(over_white(a), over_white(b))
    biggest = max(high for _, high in diff.getextrema())
    mean = sum(ImageStat.Stat(diff).mean) / 3
    return f"ok {a.size[0]} {a.size[1]} {biggest} {mean:.4f}"


def pillow_encoding(b, fmt):
    out = io.BytesIO()
    if fmt == "jpg":
        over_white(b).save(out, "JPEG", quality=75)
    elif fmt == "webp":
        b.convert("RGBA").save(out, "WEBP", quality=75, method=4)
    elif fmt == "avif":
        b.convert("RGBA").save(out, "AVIF", quality=50)
    else:
        # What a GIF can show: pixels under half opacity transparent, the others opaque,
        # blended over white first.
        rgba = b.convert("RGBA")
        alpha = rgba.getchannel("A")
        shown = over_white(rgba)
        mask = alpha.point(lambda a: 255 if a < 128 else 0)
        quantised = shown.quantize(255, dither=Image.Dither.FLOYDSTEINBERG).convert("RGBA")
        quantised.paste((255, 255, 255, 0), mask=mask)
        quantised.save(out, "PNG")
    out.seek(0)
    return Image.open(out)


for line in sys.stdin:
    parts = line.rstrip("\n").split("\t")
    try:
        if parts[0] == "compare":
            answer = compare(Image.open(parts[1]), Image.open(parts[2]))
        elif parts[0] == "upright":
            answer = compare(ImageOps.exif_transpose(Image.open(parts[1])), Image.open(parts[2]))
        elif parts[0] == "baseline":
            b = Image.open(parts[2])
            answer = compare(Image.open(parts[1]), b)
            if answer.startswith("ok"):
                ours = pillow_encoding(b, parts[3])
                answer += " " + compare(ours, Image.open(parts[2])).split()[4]
        elif parts[0] == "frames":
            a, b = Image.open(parts[1]), Image.open(parts[2])
            worst_max, worst_mean = 0, 0.0
            for i in range(min(a.n_frames, b.n_frames)):
                a.seek(i)
                b.seek(i)
                words = compare(a.convert("RGBA"), b.convert("RGBA")).split()
                if words[0] != "ok":
                    raise ValueError("frame %d: %s" % (i, " ".join(words)))
                worst_max = max(worst_max, int(words[3]))
                worst_mean = max(worst_mean, float(words[4]))
            answer = f"ok {a.n_frames} {b.n_frames} {worst_max} {worst_mean:.4f}"
        elif parts[0] == "info":
            im = Image.open(parts[1])
            icc = im.info.get("icc_profile")
            digest = hashlib.sha256(icc).hexdigest() if icc else "-"
            frames = getattr(im, "n_frames", 1)
            im.load()
            answer = f"ok {im.size[0]} {im.size[1]} {im.mode} {im.format} {digest} {frames}"
        else:
            answer = f"error unknown request {parts[0]}"
    except Exception as e:  # every failure is an answer: the test decides
        answer = "error " + " ".join(str(e).split())
    print(answer, flush=True)
