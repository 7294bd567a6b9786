"""Draw the P6 product images shipped in catalog/seed/images (run once; the PNGs are committed).

    python catalog/seed/draw_images.py

Flat drawings made with Pillow: garment silhouettes with the P6 mark and a rainbow band, so the
catalogue has images without downloading anything.
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent / "images"
SIZE = 600
RAINBOW = ["#e40303", "#ff8c00", "#ffed00", "#008026", "#24408e", "#732982"]


def font(size):
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def mark(draw, cx, cy, scale, ink):
    f = font(int(90 * scale))
    draw.text((cx, cy), "P6", font=f, fill=ink, anchor="mm")
    band_w, band_h = int(160 * scale), max(3, int(8 * scale))
    top = cy + int(55 * scale)
    for i, colour in enumerate(RAINBOW):
        draw.rectangle([cx - band_w // 2, top + i * band_h, cx + band_w // 2, top + (i + 1) * band_h - 1], fill=colour)


def canvas():
    img = Image.new("RGB", (SIZE, SIZE), "#f4f4f4")
    return img, ImageDraw.Draw(img)


def tee(path, body, ink):
    img, d = canvas()
    d.polygon([(150, 110), (240, 80), (360, 80), (450, 110), (540, 210), (470, 260), (440, 230),
               (440, 530), (160, 530), (160, 230), (130, 260), (60, 210)], fill=body, outline="#333", width=3)
    d.ellipse([255, 62, 345, 112], fill="#f4f4f4", outline="#333", width=3)
    mark(d, 300, 270, 1.0, ink)
    img.save(path)


def hoodie(path, body, ink):
    img, d = canvas()
    d.polygon([(150, 130), (230, 95), (370, 95), (450, 130), (520, 470), (450, 480), (430, 260),
               (430, 550), (170, 550), (170, 260), (150, 480), (80, 470)], fill=body, outline="#222", width=3)
    d.ellipse([225, 40, 375, 150], fill=body, outline="#222", width=3)
    d.ellipse([255, 70, 345, 140], fill="#1b1b1b")
    d.line([(300, 150), (300, 550)], fill="#999", width=3)
    mark(d, 300, 300, 0.8, ink)
    img.save(path)


def tank(path, body, ink):
    img, d = canvas()
    d.polygon([(200, 80), (250, 80), (270, 150), (330, 150), (350, 80), (400, 80), (420, 220),
               (450, 540), (150, 540), (180, 220)], fill=body, outline="#333", width=3)
    mark(d, 300, 290, 0.9, ink)
    img.save(path)


def tote(path):
    img, d = canvas()
    d.arc([220, 60, 380, 260], 180, 360, fill="#c8b68f", width=16)
    d.rectangle([130, 160, 470, 540], fill="#e9dfc7", outline="#8c7b55", width=3)
    mark(d, 300, 300, 1.2, "#1b1b1b")
    img.save(path)


def pin(path):
    img, d = canvas()
    d.ellipse([120, 120, 480, 480], fill="#1b1b1b", outline="#c9a227", width=14)
    mark(d, 300, 260, 1.3, "#ffffff")
    img.save(path)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tee(OUT / "p6-tee.png", "#1b1b1b", "#ffffff")
    hoodie(OUT / "p6-hoodie.png", "#1f2a44", "#ffffff")
    tank(OUT / "p6-tank.png", "#ffffff", "#1b1b1b")
    tote(OUT / "p6-tote.png")
    pin(OUT / "p6-pin.png")


if __name__ == "__main__":
    main()
