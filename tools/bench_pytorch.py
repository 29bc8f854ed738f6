#!/usr/bin/env python3
"""PyTorch's rate on mahpo's benchmark networks: the peer that bench/bench_vs_pytorch runs beside.

Prints one JSON object per (network, batch, mode) line: images per second, the median of
--repetitions timed runs of --seconds each, and the minor page faults per image over those runs (the
mark of PyTorch's slow mode: glibc's malloc giving the step's buffers back to the kernel). The networks are the same as mahpo's:
classic_lenet5 (conv 5x5x6 valid, pool 2, conv 5x5x16, pool 2, dense 120, dense 84, output 10) and
paper_lenet's largest config (conv 7x7x6, pool 2, conv 7x7x16, pool 2, dense 1024 with dropout,
output 10); ReLU after every convolution and hidden dense layer; SGD with momentum 0.9.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn


def classic_lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def paper_lenet_largest(dropout):
    return nn.Sequential(
        nn.Conv2d(1, 6, 7), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 7), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 2 * 2, 1024), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(1024, 10))


def rate(model, batch, training, seconds, repetitions):
    images = torch.randn(4096, 1, 28, 28)
    labels = torch.randint(0, 10, (4096,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_function = nn.CrossEntropyLoss()
    model.train(training)
    cursor = 0

    def step():
        nonlocal cursor
        if cursor + batch > images.shape[0]:
            cursor = 0
        x, y = images[cursor:cursor + batch], labels[cursor:cursor + batch]
        cursor += batch
        if training:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(model(x), y)
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                model(x)

    for _ in range(20):
        step()
    rates, timed = [], 0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repetitions):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step()
            count += 1
        rates.append(count * batch / (time.perf_counter() - start))
        timed += count * batch
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return statistics.median(rates), faults / timed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--batches", default="32,256")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    networks = {"classic_lenet5": classic_lenet5, "paper_lenet_largest": lambda: paper_lenet_largest(args.dropout)}
    for name, build in networks.items():
        for batch in (int(b) for b in args.batches.split(",")):
            for mode in ("train", "evaluate"):
                value, faults = rate(build(), batch, mode == "train", args.seconds, args.repetitions)
                print(json.dumps({"framework": "pytorch", "network": name, "batch": batch, "mode": mode,
                                  "threads": args.threads, "images_per_second": round(value, 1),
                                  "minor_faults_per_image": round(faults, 3),
                                  "version": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
