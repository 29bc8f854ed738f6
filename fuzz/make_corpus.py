#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (the files are committed;
run this again after changing it). Deterministic: the same files every time.

idx:    small MNIST-shaped IDX files, raw and gzipped, whole and damaged.
config: configs of fuzz_config.cpp's space, good and bad.
"""
import gzip
import json
import pathlib
import shutil
import struct

root = pathlib.Path(__file__).resolve().parent / "corpus"


def write(target, name, data):
    folder = root / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / name).write_bytes(data)


def idx(shape, elements, type_code=0x08):
    return bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", n) for n in shape) + bytes(elements)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def digit_images(count, side):
    """`count` images of a ring of different radius each: MNIST-like strokes on a black ground."""
    pixels = []
    for k in range(count):
        radius = side * (0.2 + 0.1 * k)
        for y in range(side):
            for x in range(side):
                d = ((x - side / 2) ** 2 + (y - side / 2) ** 2) ** 0.5
                pixels.append(max(0, 255 - int(abs(d - radius) * 120)))
    return pixels


def make_idx_corpus():
    images = idx([2, 28, 28], digit_images(2, 28))
    small = idx([3, 8, 8], digit_images(3, 8))
    labels = idx([10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    write("idx", "images_2x28x28", images)
    write("idx", "images_3x8x8", small)
    write("idx", "labels_10", labels)
    write("idx", "matrix_2x3", idx([2, 3], [1, 2, 3, 4, 5, 6]))
    write("idx", "empty_0", idx([0], []))
    write("idx", "empty_4x0x5", idx([4, 0, 5], []))
    write("idx", "images_3x8x8.gz", gz(small))
    write("idx", "labels_10.gz", gz(labels))
    write("idx", "images_2x28x28.gz", gz(images))
    write("idx", "two_members.gz", gz(labels[:9]) + gz(labels[9:]))  # zlib reads on across gzip members
    write("idx", "truncated_stream.gz", gz(small)[:-12])
    write("idx", "trailing_garbage.gz", gz(labels) + b"garbage")
    write("idx", "truncated_header", labels[:6])
    write("idx", "truncated_elements", small[:-5])
    write("idx", "extra_byte", labels + b"\x00")
    write("idx", "float_elements", idx([2], [0] * 8, type_code=0x0D))
    write("idx", "bad_magic", b"\x1f\x00\x08\x01" + labels[4:])
    write("idx", "rank_0", bytes([0, 0, 8, 0]))
    write("idx", "huge_count", bytes([0, 0, 8, 1, 0xFF, 0xFF, 0xFF, 0xFF]))  # issue 15: sized from the header


INSIDE = {
    "batch_size": 256, "hidden_size": 91, "dropout_rate": 0.45, "learning_rate": 0.0031622776601683794,
    "shift": 0.0, "activation": "tanh", "kernel_size": 5, "decay": 0.9, "bias": False,
    "filters": 6, "optimizer": "sgd", "momentum": 0.9,
}


def make_config_corpus():
    def config(**changes):
        c = dict(INSIDE)
        for key, value in changes.items():
            if value is None:
                c.pop(key, None)
            else:
                c[key] = value
        return json.dumps(c)

    write("config", "inside.json", config())
    write("config", "lower_bounds.json", config(batch_size=1, hidden_size=8, dropout_rate=0.0, learning_rate=1e-5,
                                                shift=-1.0, activation="relu", kernel_size=3, decay=0.5, bias=True))
    write("config", "upper_bounds.json", config(batch_size=512, hidden_size=1024, dropout_rate=0.9, learning_rate=1.0,
                                                shift=1.0, activation="sigmoid", kernel_size=7, decay=0.99))
    write("config", "fixed_left_out.json", config(filters=None, optimizer=None, momentum=None))
    write("config", "missing_and_unknown.json", config(batch_size=None, epochs=3))
    write("config", "wrong_types.json", config(batch_size=32.5, activation=1, bias="yes", kernel_size="5", decay="0.9"))
    write("config", "out_of_range.json", config(batch_size=513, learning_rate=0.0, shift=-1.5, kernel_size=4))
    write("config", "fixed_changed.json", config(filters=7, optimizer="adam", momentum=0.5))
    write("config", "big_numbers.json",
          '{"batch_size":18446744073709551615,"hidden_size":-9223372036854775808,"dropout_rate":1e308,'
          '"learning_rate":4.9e-324,"shift":-0.0}')
    write("config", "nested.json", config(activation=[[[{"a": None}]]], kernel_size={"value": 5}))
    write("config", "unicode_key.json", '{"batch\\u005fsize":16,"activ\\u00e9tion":"relu"}')
    write("config", "not_an_object.json", "[16, 0.001, \"relu\"]")
    write("config", "empty_object.json", "{}")


def main():
    for target in ("idx", "config"):
        shutil.rmtree(root / target, ignore_errors=True)
    make_idx_corpus()
    make_config_corpus()


if __name__ == "__main__":
    main()
