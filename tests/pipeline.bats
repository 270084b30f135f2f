#!/usr/bin/env bats
# The whole toolkit end to end on a subset of Fashion-MNIST: ml-preprocess
# (through pipes) -> ml-init -> ml-train -> ml-eval -> ml-monitor and
# ml-showweights; and a shipped experiment file run as it is.

bats_require_minimum_version 1.5.0
load test_helper

F=/usr/share/datasets/fashion-mnist

setup() {
    [ -r "$F/train-images-idx3-ubyte.gz" ] && [ -r "$F/t10k-labels-idx1-ubyte.gz" ] ||
        skip "no $F (apt-get install dataset-fashion-mnist)"
    # a folder of its own: bats keeps files of its own in $BATS_TEST_TMPDIR
    T=$BATS_TEST_TMPDIR/w
    mkdir -p "$T"
    cd "$T"
}

# idx_head SRC.gz DST N: the first N items of a gzip-compressed IDX file as
# an uncompressed IDX file (its count set to N); reads only what it needs.
idx_head() {
    local src=$1 dst=$2 n=$3 ndim item=1 i b
    local -a h
    # magic (0, 0, type, ndim) and up to 3 big-endian dimensions
    h=($(gzip -dc "$src" 2> /dev/null | head -c 16 | od -An -tu1))
    ndim=${h[3]}
    for ((i = 2; i <= ndim; i++)); do
        item=$((item * ((h[4 * i] << 24) | (h[4 * i + 1] << 16) | (h[4 * i + 2] << 8) | h[4 * i + 3])))
    done
    local -a header=("${h[@]:0:4}" $(((n >> 24) & 255)) $(((n >> 16) & 255)) $(((n >> 8) & 255)) $((n & 255))
                     "${h[@]:8:$((4 * (ndim - 1)))}")
    {
        for b in "${header[@]}"; do
            printf "\\$(printf '%03o' "$b")"
        done
        gzip -dc "$src" 2> /dev/null | tail -c +$((4 + 4 * ndim + 1)) | head -c $((n * item))
    } > "$dst"
}

@test "Fashion-MNIST: import | split, init, train, eval well above chance, monitor, showweights" {
    idx_head "$F/train-images-idx3-ubyte.gz" train-images.idx 2000
    idx_head "$F/train-labels-idx1-ubyte.gz" train-labels.idx 2000
    idx_head "$F/t10k-images-idx3-ubyte.gz" test-images.idx 1000
    idx_head "$F/t10k-labels-idx1-ubyte.gz" test-labels.idx 1000
    [ "$(wc -c < train-images.idx)" -eq $((16 + 2000 * 784)) ]
    [ "$(wc -c < test-labels.idx)" -eq $((8 + 1000)) ]

    # import | split: 1500 train, 500 valid; the test set straight to a file
    ml-preprocess import idx train-images.idx train-labels.idx -o - |
        ml-preprocess split - --counts 1500,500 -o train.h5 -o valid.h5
    ml-preprocess import idx test-images.idx test-labels.idx |
        ml-preprocess split - --counts 1000 -o - > test.h5
    run -0 ml-preprocess info train.h5
    [[ "$output" == *"examples: 1500"* ]]
    [[ "$output" == *"X: float32 [1500, 784]"* ]]
    [[ "$output" == *"classes: 10"* ]]
    run -0 ml-preprocess info valid.h5
    [[ "$output" == *"examples: 500"* ]]
    run -0 ml-preprocess info test.h5
    [[ "$output" == *"examples: 1000"* ]]

    cat > mlp.yaml <<'EOF'
# 784 -> 100 ReLU -> 10-way Softmax, 5 epochs of batches of 50
!obj:pylearn2.train.Train {
    dataset: &train !obj:pylearn2.datasets.hdf5.HDF5Dataset { filename: '${PIPE_DATA}/train.h5' },
    model: !obj:pylearn2.models.mlp.MLP {
        nvis: 784,
        layers: [
            !obj:pylearn2.models.mlp.RectifiedLinear { layer_name: h0, dim: 100, irange: 0.05 },
            !obj:pylearn2.models.mlp.Softmax { layer_name: y, n_classes: 10, irange: 0.05 },
        ],
    },
    algorithm: !obj:pylearn2.training_algorithms.sgd.SGD {
        learning_rate: 0.1,
        batch_size: 50,
        learning_rule: !obj:pylearn2.training_algorithms.learning_rule.Momentum { init_momentum: 0.5 },
        monitoring_dataset: {
            train: *train,
            valid: !obj:pylearn2.datasets.hdf5.HDF5Dataset { filename: '${PIPE_DATA}/valid.h5' },
        },
        termination_criterion: !obj:pylearn2.termination_criteria.EpochCounter { max_epochs: 5 },
    },
    save_path: mlp.h5,
}
EOF
    export PIPE_DATA=.
    # ml-init, then ml-train from its weights
    ml-init --seed 1 mlp.yaml -o init.h5
    run -0 h5ls init.h5/params/h0/W
    [[ "$output" == *"Dataset {784, 100}"* ]]
    run -0 --separate-stderr ml-train --seed 1 --model init.h5 mlp.yaml
    [ "${#lines[@]}" -eq 7 ]
    [ "$(cut -f 1-3 <<< "${lines[6]}")" = "5	150	7500" ]
    [ "${stderr_lines[-1]}" = "ml-train: saved mlp.h5" ]

    # ml-eval on the 1000 test images: well above chance (0.1)
    run -0 --separate-stderr ml-eval mlp.h5 test.h5
    [ "${lines[0]}" = "examples	1000" ]
    acc=$(awk '$1 == "accuracy" { print $2 }' <<< "$output")
    awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }'
    [ "$(sed -n '/^true/,$p' <<< "$output" | wc -l)" -eq 11 ]
    # the model through a pipe, predictions as CSV
    run -0 --separate-stderr ml-eval -p - - test.h5 < mlp.h5
    [ "${lines[0]}" = "index,predicted,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9" ]
    [ "${#lines[@]}" -eq 1001 ]
    [ "${stderr_lines[1]}" = "accuracy	$acc" ]

    # ml-monitor and ml-showweights, where they are built
    if command -v ml-monitor > /dev/null; then
        run -0 ml-monitor mlp.h5
        [[ "$output" == *"valid_y_misclass"* ]]
        run -0 ml-monitor --plot p.png -c valid_y_misclass mlp.h5
        [ "$(head -c 8 p.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]
    fi
    if command -v ml-showweights > /dev/null; then
        run -0 ml-showweights mlp.h5 -o w.png
        [ "$(head -c 8 w.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]
    fi
}

@test "share/ml/softmax_regression.yaml runs as shipped" {
    idx_head "$F/train-images-idx3-ubyte.gz" images.idx 600
    idx_head "$F/train-labels-idx1-ubyte.gz" labels.idx 600
    mkdir data
    ml-preprocess import idx images.idx labels.idx |
        ml-preprocess split - --counts 500,100 -o data/train.h5 -o data/valid.h5
    ML_DATA=data run -0 --separate-stderr ml-train \
        -s algorithm.termination_criterion.max_epochs=1 \
        "$BATS_TEST_DIRNAME/../share/ml/softmax_regression.yaml"
    [ "${#lines[@]}" -eq 3 ]
    [[ "${lines[0]}" == *"	valid_y_misclass	"* ]]
    [[ "${lines[0]}" == *"	momentum	"* ]]
    # its save_path, in the current folder
    [ "${stderr_lines[-1]}" = "ml-train: saved softmax_regression.h5" ]
    run -0 h5ls softmax_regression.h5/params/y/W
    [[ "$output" == *"Dataset {784, 10}"* ]]
    run -0 ml-eval -q softmax_regression.h5 data/valid.h5
    [ "${lines[0]}" = "examples	100" ]
}

@test "the other shipped experiments build their models" {
    idx_head "$F/train-images-idx3-ubyte.gz" images.idx 20
    idx_head "$F/train-labels-idx1-ubyte.gz" labels.idx 20
    mkdir data
    ml-preprocess import idx images.idx labels.idx |
        ml-preprocess split - --counts 10,10 -o data/train.h5 -o data/valid.h5
    for f in "$BATS_TEST_DIRNAME"/../share/ml/*.yaml; do
        ML_DATA=data ml-init "$f" -o "$(basename "$f" .yaml).h5"
    done
    run -0 h5ls -r mlp.h5
    [[ "$output" == *"/params/h0/W             Dataset {784, 500}"* ]]
    run -0 h5ls -r conv.h5
    [[ "$output" == *"/params/c0/W             Dataset {32, 1, 5, 5}"* ]]
    [[ "$output" == *"/params/c1/W             Dataset {64, 32, 5, 5}"* ]]
    [[ "$output" == *"/params/h2/W             Dataset {3136, 1024}"* ]]
    run -0 h5ls -r conv_dropout.h5
    [[ "$output" == *"/params/y/W              Dataset {1024, 10}"* ]]
}
