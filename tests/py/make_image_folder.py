"""Write Fashion-MNIST images as a real image folder (PNG and/or JPEG files) and,
for comparison, the same images as IDX files.

    /usr/bin/python3 tests/py/make_image_folder.py OUT --train N --test M
        [--format png|jpeg|mixed] [--idx DIR] [--rgb]

OUT/train/<class>/<index>.<ext> and OUT/test/<class>/<index>.<ext> from the first
N training and M test images of Debian's dataset-fashion-mnist; with --idx DIR the
same images are also written as DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte
so that the folder path and the IDX path can be trained on identical data.
Class folders are named "<digit>-<name>" so their sorted order is the IDX label
order. --rgb writes 3-channel images (the grey value in R, G and B).
"""
import argparse
import gzip
import os
import struct

from PIL import Image

SRC = "/usr/share/datasets/fashion-mnist"
NAMES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
         "Bag", "Ankle-boot"]


def read_idx(prefix, n):
    with gzip.open(os.path.join(SRC, prefix + "-images-idx3-ubyte.gz")) as f:
        _, count, h, w = struct.unpack(">IIII", f.read(16))
        n = min(n, count)
        pixels = f.read(n * h * w)
    with gzip.open(os.path.join(SRC, prefix + "-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        labels = f.read(n)
    return n, h, w, pixels, labels


def write_idx(path_prefix, n, h, w, pixels, labels):
    with open(path_prefix.replace("@", "images-idx3"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, h, w) + pixels)
    with open(path_prefix.replace("@", "labels-idx1"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=6000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--format", default="png", choices=["png", "jpeg", "mixed"])
    ap.add_argument("--idx")
    ap.add_argument("--rgb", action="store_true")
    a = ap.parse_args()
    for split, prefix, count in (("train", "train", a.train), ("test", "t10k", a.test)):
        if count <= 0:
            continue
        n, h, w, pixels, labels = read_idx(prefix, count)
        for c, name in enumerate(NAMES):
            os.makedirs(os.path.join(a.out, split, "%d-%s" % (c, name)), exist_ok=True)
        for i in range(n):
            img = Image.frombytes("L", (w, h), pixels[i * h * w:(i + 1) * h * w])
            if a.rgb:
                img = img.convert("RGB")
            fmt = a.format if a.format != "mixed" else ("png" if i % 2 == 0 else "jpeg")
            ext = "png" if fmt == "png" else "jpg"
            path = os.path.join(a.out, split, "%d-%s" % (labels[i], NAMES[labels[i]]),
                                "%05d.%s" % (i, ext))
            if fmt == "png":
                img.save(path, "PNG")
            else:
                img.save(path, "JPEG", quality=95)
        if a.idx:
            os.makedirs(a.idx, exist_ok=True)
            write_idx(os.path.join(a.idx, prefix + "-@-ubyte"), n, h, w, pixels, labels)


if __name__ == "__main__":
    main()
