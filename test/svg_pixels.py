#!/usr/bin/env python3
"""svg_pixels.py: check a rendered traffic_svg picture pixel by pixel.

Used by test/svg.sh and test/demo-browser.sh; standard library only (the PNG
is decoded with zlib and struct).

  svg_pixels.py columns SVG PNG FLAGS
      FLAGS has one character per hour of the chart: 1 = the hour had
      traffic, 0 = it had none.  The hour's column in the plot area (found
      in the SVG: rect class="plot-area") must hold bar-coloured pixels for
      1 and none for 0.  Prints one line per hour that is wrong; exits 1 if
      any is.
  svg_pixels.py error SVG PNG HOUR NHOURS
      the error mark under hour HOUR (0-based, of NHOURS) is red.
  svg_pixels.py count PNG
      prints how many pixels have the bar colour (any size of picture).
"""
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

BAR = (0x4E, 0x79, 0xA7)
SVG_NS = "{http://www.w3.org/2000/svg}"


def read_png(path):
    """(width, height, rows) with rows[y][x] = (r, g, b)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos = 8
    idat = b""
    width = height = depth = ctype = interlace = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if depth != 8 or ctype not in (2, 6) or interlace != 0:
        raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        ftype = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append([composite(line[x * bpp:x * bpp + bpp]) for x in range(width)])
        prev = line
    return width, height, rows


def composite(px):
    """An RGB(A) pixel over white."""
    if len(px) == 3:
        return tuple(px)
    alpha = px[3] / 255.0
    return tuple(round(px[k] * alpha + 255 * (1 - alpha)) for k in range(3))


def near(px, colour, tol=14):
    return all(abs(px[k] - colour[k]) <= tol for k in range(3))


def plot_area(svg):
    for el in ET.parse(svg).iter(SVG_NS + "rect"):
        if el.get("class") == "plot-area":
            return tuple(float(el.get(k)) for k in ("x", "y", "width", "height"))
    raise SystemExit(f"{svg}: no plot-area rect")


def columns(svg, png, flags):
    x0, top, w, h = plot_area(svg)
    _, _, rows = read_png(png)
    slot = w / len(flags)
    bad = 0
    for i, flag in enumerate(flags):
        cx = int(x0 + (i + 0.5) * slot)
        hits = sum(1 for y in range(int(top) + 1, int(top + h) - 1) if near(rows[y][cx], BAR))
        if flag == "1" and hits < 20:
            print(f"hour {i}: traffic, but only {hits} bar pixels at x={cx}")
            bad += 1
        elif flag == "0" and hits > 0:
            print(f"hour {i}: no traffic, but {hits} bar pixels at x={cx}")
            bad += 1
    return 1 if bad else 0


def error_mark(svg, png, hour, nhours):
    x0, top, w, h = plot_area(svg)
    _, _, rows = read_png(png)
    # the error strip is 3 to 8 px under the traffic panel's base
    px = rows[int(top + h + 5)][int(x0 + (hour + 0.5) * w / nhours)]
    # the mark is more opaque the higher the error rate: red over white
    if not (px[0] >= 180 and px[0] - px[1] > 40 and px[0] - px[2] > 40):
        print(f"no red error mark under hour {hour}: pixel {px}")
        return 1
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "columns":
        return columns(argv[2], argv[3], argv[4])
    if len(argv) == 6 and argv[1] == "error":
        return error_mark(argv[2], argv[3], int(argv[4]), int(argv[5]))
    if len(argv) == 3 and argv[1] == "count":
        _, _, rows = read_png(argv[2])
        print(sum(1 for row in rows for px in row if near(px, BAR)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
