#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (the files are committed;
run this again after changing it). Deterministic: the same files every time.

idx:    small MNIST-shaped IDX files, raw and gzipped, whole and damaged.
config: configs of fuzz_config.cpp's space, good and bad.
journal: journals as fuzz_journal.cpp takes them: a control byte (the searcher: 0 random, 1 Hyperband,
         2 TPE; bits 2-5 the trial limit; bit 7: the input brings its own header), then records, one
         a line, that the harness signs (a line starting with '!' is written as it is).
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


def make_journal_corpus():
    random, hyperband, tpe = 0, 1, 2

    def control(searcher, trials, own_header=False):
        return bytes([searcher | ((trials - 1) << 2) | (0x80 if own_header else 0)])

    def line(record):
        return json.dumps(record, separators=(",", ":")) + "\n"

    def ask(i, units, x, rate, activation, epochs=1.0, elapsed=None):
        config = {"units": units, "x": x, "rate": rate, "activation": activation, "filters": 6}
        return line({"event": "ask", "id": i, "config": config, "budget": {"epochs": epochs, "iterations": 0},
                     "elapsed": 0.01 + i if elapsed is None else elapsed})

    def tell(i, value, status="ok", message=""):
        return line({"event": "tell", "id": i, "value": value, "status": status,
                     "intermediate": [None if value is None else value + 1.0, value], "metrics": {"activation": "relu"},
                     "message": message, "seconds": 0.5, "worker": 0, "elapsed": 0.6 + i})

    trials = [(3, 1.5, 0.01, "relu"), (40, -2.25, 0.3, "tanh"), (13, 9.5, 1e-4, "relu"), (64, 0.0, 1.0, "tanh")]

    def study(searcher, limit, epochs=1.0):
        text = b""
        for i, (units, x, rate, activation) in enumerate(trials):
            text += (ask(i, units, x, rate, activation, epochs) + tell(i, x * x + rate)).encode()
        return control(searcher, limit) + text

    write("journal", "random_4_told", study(random, 6))
    write("journal", "tpe_4_told", study(tpe, 8))
    write("journal", "hyperband_4_told", study(hyperband, 6, epochs=1.0 / 9.0))
    write("journal", "header_only", control(random, 2))
    pending = ask(0, *trials[0]) + tell(0, 3.0) + ask(1, *trials[1]) + ask(2, *trials[2])
    write("journal", "random_pending", control(random, 4) + pending.encode())
    write("journal", "tpe_pending", control(tpe, 4) + pending.encode())
    cut = ask(0, *trials[0]) + tell(0, 2.0)
    write("journal", "random_cut_last_line", control(random, 3) + cut.encode() + ask(1, *trials[1])[:-15].encode())
    write("journal", "failed_and_null", control(random, 4) + (
        ask(0, *trials[0]) + tell(0, None, "failed", "unlucky units") + ask(1, *trials[1]) + tell(1, None)).encode())
    write("journal", "tell_before_ask", control(random, 3) + (tell(0, 1.0) + ask(0, *trials[0])).encode())
    write("journal", "told_twice", control(tpe, 3) + (ask(0, *trials[0]) + tell(0, 1.0) + tell(0, 2.0)).encode())
    write("journal", "bad_fields", control(random, 3) + (
        ask(0, *trials[0]) + line({"event": "tell", "id": "0", "value": "1", "status": 3, "intermediate": {},
                                   "metrics": [], "message": None, "elapsed": -1})).encode())
    write("journal", "out_of_range_config", control(random, 3) + ask(0, 65, 11.0, 0.0, "sigmoid").encode())
    write("journal", "wrong_budget", control(hyperband, 3) + ask(0, *trials[0], epochs=1.0).encode())
    write("journal", "unknown_event", control(random, 2) + line({"event": "pause", "id": 0}).encode())
    write("journal", "not_json", control(random, 2) + b"{not json\n[1,2]\n\"text\"\n")
    write("journal", "raw_bad_crc", control(random, 2) + b"!" + ask(0, *trials[0])[:-2].encode() +
          b',"crc":"00000000"}\n')
    write("journal", "own_header", control(random, 3, own_header=True) + (
        line({"event": "study", "format": 2, "mahpo": "0.1.0", "searcher": "random", "options": None, "seed": 7,
              "goal": "minimize", "budget": {"epochs": 1.0, "iterations": 0}, "space": "?", "context": {}}) +
        ask(0, *trials[0])).encode())
    write("journal", "old_format_header", control(random, 2, own_header=True) + (
        "!" + line({"event": "study", "format": 1, "searcher": "random", "seed": 7, "goal": "minimize"})).encode())


def main():
    for target in ("idx", "config", "journal"):
        shutil.rmtree(root / target, ignore_errors=True)
    make_idx_corpus()
    make_config_corpus()
    make_journal_corpus()


if __name__ == "__main__":
    main()
