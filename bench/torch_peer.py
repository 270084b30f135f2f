#!/usr/bin/python3
"""The same nets as share/ml/*.yaml in PyTorch, timed the way ml-train times
an epoch (the training loop only: shuffle, batch gather, forward, backward,
momentum update).  Prints one line: `seconds_per_epoch S` (the best epoch).

Thread pools are sized before torch loads (OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS); --threads 0 leaves torch's own defaults, which is its
fastest setting on two cores.
"""
import argparse
import gzip
import os
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--model", choices=["softmax", "mlp", "conv"], required=True)
parser.add_argument("--rows", type=int, default=60000, help="training rows per epoch")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--threads", type=int, default=0)
parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
parser.add_argument("--device", default="cpu", help="cpu or cuda (the data then lives on the GPU, as ml's does)")
args = parser.parse_args()
if args.threads > 0:
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

if args.threads > 0:
    torch.set_num_threads(args.threads)


def read_idx(path, header_bytes):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read()[header_bytes:], dtype=np.uint8)


images = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"), 16)
labels = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"), 8)
x_all = torch.from_numpy(images.reshape(-1, 784)[: args.rows].astype(np.float32) / 255.0)
y_all = torch.from_numpy(labels[: args.rows].astype(np.int64))

torch.manual_seed(0)
if args.model == "softmax":
    net = torch.nn.Linear(784, 10)
    lr = 0.1
elif args.model == "mlp":
    net = torch.nn.Sequential(torch.nn.Linear(784, 500), torch.nn.ReLU(), torch.nn.Linear(500, 500),
                              torch.nn.ReLU(), torch.nn.Linear(500, 10))
    lr = 0.05
else:
    net = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 28, 28)),
        torch.nn.Conv2d(1, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(3136, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10))
    lr = 0.01
device = torch.device(args.device)
net = net.to(device)
x_all = x_all.to(device)
y_all = y_all.to(device)
optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
batch = 100
best = float("inf")
for epoch in range(args.epochs):
    start = time.perf_counter()
    order = torch.randperm(args.rows, device=device)
    for i in range(0, args.rows, batch):
        idx = order[i:i + batch]
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x_all[idx]), y_all[idx])
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    best = min(best, time.perf_counter() - start)
print("seconds_per_epoch %.4f" % best)
sys.stdout.flush()
