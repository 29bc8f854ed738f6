#!/usr/bin/env python3
"""Turns the journals of scripts/learning_curves.sh (random paper_lenet configs trained 9 epochs,
validation accuracy after each) into the CSV that mahpo::problems::LearningCurves replays:
the config's parameters, status, seconds_per_epoch (training and evaluation), epoch_1 .. epoch_K.

    tools/learning_curves_csv.py curves/mnist.jsonl > bench/data/learning_curves_mnist.csv

Only finished trials are written (a run still going is cut at its last tell); a gzipped journal is
read as it is."""
import gzip
import json
import sys

PARAMETERS = ["conv1.conv_size", "conv2.conv_size", "fc1.hidden_size", "fc1.dropout_rate",
              "training.batch_size", "training.learning_rate"]


def records(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as lines:
        for line in lines:
            line = line.strip()
            if line:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:  # a line cut by a crash
                    return


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asks, rows, epochs = {}, [], 0
    for record in records(sys.argv[1]):
        if record.get("event") == "ask":
            asks[record["id"]] = record
        elif record.get("event") == "tell":
            ask = asks[record["id"]]
            metrics = record.get("metrics", {})
            trained = metrics.get("epochs") or ask["budget"]["epochs"]
            seconds = (metrics.get("training_seconds", 0.0) + metrics.get("evaluation_seconds", 0.0)) / trained
            curve = [v for v in record.get("intermediate", []) if v is not None]
            epochs = max(epochs, len(curve))
            rows.append((ask["config"], record["status"], seconds, curve))
    print(",".join(PARAMETERS + ["status", "seconds_per_epoch"] + [f"epoch_{k + 1}" for k in range(epochs)]))
    for config, status, seconds, curve in rows:
        cells = [repr(config[name]) for name in PARAMETERS] + [status, f"{seconds:.4f}"]
        cells += [f"{value:.4f}" for value in curve] + [""] * (epochs - len(curve))
        print(",".join(cells))


if __name__ == "__main__":
    main()
