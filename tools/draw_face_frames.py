"""Draws a short recording of a cartoon face (640x480 colour PNGs) for the README's window screenshot: no
dataset image goes into the repository, and anyone can redo the screenshot. Each colour has about the
gray level the face was first drawn in, so what the network sees is what it saw then.

    python tools/draw_face_frames.py face-frames               # needs Pillow
    xvfb-run -a -s "-screen 0 1280x1024x24" .build/release/fer-live replay face-frames \
        --screenshot docs/window.png --frames 8
"""
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "face-frames"
    os.makedirs(folder, exist_ok=True)
    random.seed(1)
    for i in range(10):
        image = Image.new("RGB", (640, 480), (70, 95, 120))   # a blue-gray wall
        draw = ImageDraw.Draw(image)
        for _ in range(300):   # a speckled background, like a room out of focus
            x, y = random.randrange(640), random.randrange(480)
            level = random.randrange(70, 120)
            draw.rectangle([x, y, x + 6, y + 6], fill=(int(level * 0.8), level, int(level * 1.25)))
        cx, cy = 320 + i, 250   # the face drifts a pixel per frame
        draw.ellipse([cx - 150, cy - 190, cx + 150, cy + 190], fill=(232, 196, 160))   # skin
        draw.ellipse([cx - 80, cy - 70, cx - 30, cy - 40], fill=(50, 38, 30))           # eyes
        draw.ellipse([cx + 30, cy - 70, cx + 80, cy - 40], fill=(50, 38, 30))
        draw.line([cx - 80, cy - 100, cx - 30, cy - 95], fill=(70, 55, 45), width=8)   # brows
        draw.line([cx + 30, cy - 95, cx + 80, cy - 100], fill=(70, 55, 45), width=8)
        draw.polygon([(cx, cy - 30), (cx - 15, cy + 30), (cx + 15, cy + 30)], fill=(215, 160, 130))
        draw.chord([cx - 85, cy + 20, cx + 85, cy + 130], 0, 180, fill=(110, 30, 40))   # the open mouth
        draw.chord([cx - 65, cy + 40, cx + 65, cy + 80], 0, 180, fill=(240, 236, 225))  # teeth
        image.filter(ImageFilter.GaussianBlur(2)).save(os.path.join(folder, f"frame{i}.png"))


if __name__ == "__main__":
    main()
