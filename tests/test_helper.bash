# Shared setup of the Bats tests (load test_helper): the programs built in
# cmd/ come first on PATH, the C locale, one thread.
PATH="$BATS_TEST_DIRNAME/../cmd:$PATH"
export PATH
export LC_ALL=C
export ML_THREADS=1
export OMP_NUM_THREADS=1

# ---- ml-monitor, ml-showweights --------------------------------------------

# A Python with h5py for the fixtures: $ML_TEST_PYTHON, python3 on PATH or the
# system's /usr/bin/python3 (Debian: python3-h5py).  Skips the test when none
# has h5py.
h5py_python() {
    local py
    for py in "${ML_TEST_PYTHON:-}" python3 /usr/bin/python3; do
        [ -n "$py" ] || continue
        if "$py" -c 'import h5py, numpy' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

# make_model_file PATH [KIND [OFFSET]]: a small model file as ml-init and
# ml-train write it (ml-files(5)), with six epochs (0..5) of monitor records.
# OFFSET (default 0) is added to every *_objective and *_y_misclass value, so
# files made with different offsets rank in the order of their offsets.
# valid_y_misclass is 0.9 0.5 0.3 0.2 0.25 0.22 (+ OFFSET): best 0.2 at epoch 3.
# KIND (the first layer's weights):
#   mlp      input [1, 8, 8]; h0 W [64, 10], y W [10, 3]   (default)
#   rgb      input [3, 8, 8]; h0 W [192, 6], y W [6, 2]
#   vector   input [64];      h0 W [64, 5],  y W [5, 2]    (64 = 8 x 8)
#   vector50 input [50];      h0 W [50, 4],  y W [4, 2]    (not a square)
#   conv     input [1, 8, 8]; c0 W [4, 1, 3, 3], c1 W [6, 4, 3, 3], y W [96, 3]
#   conv3    input [3, 8, 8]; c0 W [5, 3, 3, 3], y W [180, 2]
make_model_file() {
    local py
    py=$(h5py_python) || skip "no python3 with h5py (apt-get install python3-h5py)"
    "$py" - "$1" "${2:-mlp}" "${3:-0}" <<'PY'
import sys
import numpy as np
import h5py

path, kind, offset = sys.argv[1], sys.argv[2], float(sys.argv[3])

def pattern(n_out, c, h, w):
    """Unit j: a grating at angle j*pi/n_out, one phase per channel; [c*h*w, n_out]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cols = []
    for j in range(n_out):
        a = np.pi * j / n_out
        chans = [np.sin((xx * np.cos(a) + yy * np.sin(a)) * 1.3 + k) * (1 + 0.3 * k) for k in range(c)]
        cols.append(np.stack(chans).reshape(-1))
    return np.stack(cols, axis=1).astype(np.float32)

layers = {
    "mlp": ([1, 8, 8], [("h0", pattern(10, 1, 8, 8)), ("y", np.ones((10, 3), np.float32))]),
    "rgb": ([3, 8, 8], [("h0", pattern(6, 3, 8, 8)), ("y", np.ones((6, 2), np.float32))]),
    "vector": ([64], [("h0", pattern(5, 1, 8, 8)), ("y", np.ones((5, 2), np.float32))]),
    "vector50": ([50], [("h0", np.ones((50, 4), np.float32)), ("y", np.ones((4, 2), np.float32))]),
    "conv": ([1, 8, 8], [("c0", pattern(4, 1, 3, 3).T.reshape(4, 1, 3, 3)),
                         ("c1", pattern(6, 4, 3, 3).T.reshape(6, 4, 3, 3)),
                         ("y", np.ones((96, 3), np.float32))]),
    "conv3": ([3, 8, 8], [("c0", pattern(5, 3, 3, 3).T.reshape(5, 3, 3, 3)),
                          ("y", np.ones((180, 2), np.float32))]),
}
input_shape, params = layers[kind]

epochs = np.arange(6, dtype=np.float64)
channels = {
    "train_objective": np.array([2.3, 1.2, 0.8, 0.6, 0.5, 0.45]) + offset,
    "train_y_misclass": np.array([0.9, 0.4, 0.25, 0.15, 0.1, 0.08]) + offset,
    "valid_objective": np.array([2.3, 1.3, 0.9, 0.7, 0.75, 0.72]) + offset,
    "valid_y_misclass": np.array([0.9, 0.5, 0.3, 0.2, 0.25, 0.22]) + offset,
    "valid_y_accuracy": 1 - (np.array([0.9, 0.5, 0.3, 0.2, 0.25, 0.22]) + offset),
    "learning_rate": np.full(6, 0.01),
    "momentum": np.linspace(0.5, 0.9, 6),
    "total_seconds_last_epoch": np.array([0.0, 1.5, 1.4, 1.6, 1.5, 1.5]),
}

with h5py.File(path, "w", track_order=True) as f:
    f.attrs["ml_format"] = "ml-model"
    f.attrs["ml_format_version"] = np.int64(1)
    f.attrs["ml_version"] = "0.1.0"
    f.attrs["layer_names"] = [name for name, _ in params]
    f.attrs["input_shape"] = np.array(input_shape, dtype=np.int64)
    for name, W in params:
        g = f.create_group("params/" + name)
        g.attrs["weight_names"] = ["W", "b"]
        g["W"] = W
        g["b"] = np.zeros(W.shape[0] if W.ndim == 4 else W.shape[1], np.float32)
    mon = f.create_group("monitor", track_order=True)
    for name, values in channels.items():
        rec = np.stack([epochs, epochs * 10, epochs * 1000, epochs * 1.5, values], axis=1)
        d = mon.create_dataset(name, data=rec.astype(np.float64))
        d.attrs["columns"] = "epoch batches examples seconds value"
    f["experiment"] = "!obj:pylearn2.train.Train {}\n"
PY
}

# make_dataset_file PATH: a small dataset file (ml_format "ml-dataset").
make_dataset_file() {
    local py
    py=$(h5py_python) || skip "no python3 with h5py (apt-get install python3-h5py)"
    "$py" - "$1" <<'PY'
import sys
import numpy as np
import h5py
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["ml_format"] = "ml-dataset"
    f.attrs["ml_format_version"] = np.int64(1)
    f["X"] = np.zeros((4, 3), np.float32)
    f["y"] = np.zeros(4, np.int32)
PY
}

# png_size FILE: "WIDTH HEIGHT COLOURTYPE" from the IHDR of a PNG file, or
# nothing when its first 8 bytes are not the PNG signature.
png_size() {
    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || return 1
    local h
    h=$(od -An -tu1 -j 16 -N 10 "$1" | tr -s ' \n' ' ')
    set -- $h
    echo "$(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 )) $(( ($5 << 24) | ($6 << 16) | ($7 << 8) | $8 )) ${10}"
}

# ---- ml-preprocess ---------------------------------------------------------

# make_idx_images FILE N [H W]: N images of H x W (default 4 x 4) unsigned
# bytes in an IDX file, gzip-compressed when FILE ends in .gz; pixel p of
# image i is (7*i + p) % 256.
make_idx_images() {
    python3 - "$1" "$2" "${3:-4}" "${4:-4}" <<'PY'
import gzip, struct, sys
path, n, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = struct.pack(">IIII", 0x803, n, h, w) + bytes((7 * i + p) % 256 for i in range(n) for p in range(h * w))
(gzip.open if path.endswith(".gz") else open)(path, "wb").write(data)
PY
}

# make_idx_labels FILE N [K]: N labels i % K (default 3) in an IDX file,
# gzip-compressed when FILE ends in .gz.
make_idx_labels() {
    python3 - "$1" "$2" "${3:-3}" <<'PY'
import gzip, struct, sys
path, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = struct.pack(">II", 0x801, n) + bytes(i % k for i in range(n))
(gzip.open if path.endswith(".gz") else open)(path, "wb").write(data)
PY
}

# make_idx_pair DIR N: DIR/images-idx3-ubyte.gz (N images of 4 x 4) and
# DIR/labels-idx1-ubyte.gz (N labels, i % 3).
make_idx_pair() {
    mkdir -p "$1"
    make_idx_images "$1/images-idx3-ubyte.gz" "$2"
    make_idx_labels "$1/labels-idx1-ubyte.gz" "$2"
}

# make_idx_dataset FILE N: an ml dataset file of N examples imported from a
# fresh IDX pair (4 x 4 images, 3 classes).
make_idx_dataset() {
    local d
    d=$(mktemp -d "$BATS_TEST_TMPDIR/idx.XXXXXX")
    make_idx_pair "$d" "$2"
    ml-preprocess import idx "$d/images-idx3-ubyte.gz" "$d/labels-idx1-ubyte.gz" -o "$1"
}

# file_digest FILE: a checksum of FILE (to show it did not change).
file_digest() {
    cksum < "$1"
}

# ---- ml-train, ml-init, ml-eval --------------------------------------------

# make_blobs_dataset PATH N [K [SIDE]]: an ml dataset file of N examples
# imported with ml-preprocess from generated IDX files: SIDE x SIDE images
# (default 8 x 8, so 64 features) of K classes (default 3), example i of
# class i % K.  Class c is a bright vertical band (pixels 200..255) in the
# c-th of K strips of columns, the rest dark (0..59): separable in one epoch.
# The noise is a fixed Park-Miller sequence, so a file is the same on every
# run.  (awk, not Python: it starts in milliseconds.)
make_blobs_dataset() {
    local d
    d=$(mktemp -d "$BATS_TEST_TMPDIR/blobs.XXXXXX")
    LC_ALL=C awk -v n="$2" -v k="${3:-3}" -v side="${4:-8}" \
        -v images="$d/images.idx" -v labels="$d/labels.idx" '
        function be32(x, f) {
            printf "%c%c%c%c", int(x / 16777216) % 256, int(x / 65536) % 256,
                int(x / 256) % 256, x % 256 > f
        }
        BEGIN {
            be32(2051, images); be32(n, images); be32(side, images); be32(side, images)
            be32(2049, labels); be32(n, labels)
            state = 12345
            for (i = 0; i < n; i++) {
                printf "%c", i % k > labels
                for (p = 0; p < side * side; p++) {
                    state = (state * 16807) % 2147483647
                    noise = int(state / 65536)
                    if (int((p % side) * k / side) == i % k)
                        printf "%c", 200 + noise % 56 > images
                    else
                        printf "%c", noise % 60 > images
                }
            }
        }'
    ml-preprocess import idx "$d/images.idx" "$d/labels.idx" -o "$1"
    rm -rf "$d"
}

# make_blobs_train_valid: train.h5 (150 examples) and valid.h5 (60 other
# examples) of make_blobs_dataset (8 x 8, 3 classes) in the current directory.
make_blobs_train_valid() {
    make_blobs_dataset all.h5 210
    ml-preprocess split all.h5 --counts 150,60 -o train.h5 -o valid.h5
    rm -f all.h5
}

# write_blobs_experiment FILE: a small experiment on train.h5 and valid.h5 of
# the current directory: an MLP 64 -> 10 RectifiedLinear (h0) -> 3-way Softmax
# (y), SGD with learning rate 0.1 on batches of 10, 3 epochs (EpochCounter),
# channels train_* and valid_*, saved to model.h5.
write_blobs_experiment() {
    cat > "$1" <<'YAML'
# a small MLP on the blobs of make_blobs_dataset
!obj:pylearn2.train.Train {
    dataset: &train !obj:pylearn2.datasets.hdf5.HDF5Dataset { filename: train.h5 },
    model: !obj:pylearn2.models.mlp.MLP {
        nvis: 64,
        layers: [
            !obj:pylearn2.models.mlp.RectifiedLinear { layer_name: h0, dim: 10, irange: 0.1 },
            !obj:pylearn2.models.mlp.Softmax { layer_name: y, n_classes: 3, irange: 0.1 },
        ],
    },
    algorithm: !obj:pylearn2.training_algorithms.sgd.SGD {
        learning_rate: 0.1,
        batch_size: 10,
        monitoring_dataset: {
            train: *train,
            valid: !obj:pylearn2.datasets.hdf5.HDF5Dataset { filename: valid.h5 },
        },
        termination_criterion: !obj:pylearn2.termination_criteria.EpochCounter { max_epochs: 3 },
    },
    save_path: model.h5,
}
YAML
}

# enter_blobs_workdir: a folder of the test's own (bats keeps files of its own
# in $BATS_TEST_TMPDIR) as the current directory, with train.h5, valid.h5 and
# exp.yaml of make_blobs_train_valid and write_blobs_experiment.
enter_blobs_workdir() {
    T=$BATS_TEST_TMPDIR/w
    mkdir -p "$T"
    cd "$T"
    make_blobs_train_valid
    write_blobs_experiment exp.yaml
}

# same_params A.h5 B.h5: whether two model files hold the same parameters,
# byte for byte (every dataset under /params).
same_params() {
    local p n=0
    for p in $(h5ls -r "$1/params" | awk '$2 == "Dataset" { print "/params" $1 }'); do
        [ "$(h5_data "$1" "$p")" = "$(h5_data "$2" "$p")" ] || return 1
        n=$((n + 1))
    done
    [ "$n" -gt 0 ]
}

# without_seconds FILE: ml-train's monitor stream in FILE without the columns
# that measure time (their names contain "seconds"), to compare two runs.
without_seconds() {
    awk -F '\t' -v OFS='\t' '
        NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i !~ /seconds/ }
        { line = ""; sep = ""
          for (i = 1; i <= NF; i++) if (keep[i]) { line = line sep $i; sep = OFS }
          print line }' "$1"
}

# h5_data FILE DATASET: the values of a dataset of an HDF5 file as h5dump
# prints them, without the line that names the file (to compare two files).
h5_data() {
    h5dump -d "$2" "$1" | tail -n +2
}
