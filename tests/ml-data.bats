#!/usr/bin/env bats
# Issue 4 (data): the MNIST component reading IDX files under
# ${PYLEARN2_DATA_PATH}/mnist, and SGD's train_iteration_mode values.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    T=$BATS_TEST_TMPDIR/w
    mkdir -p "$T/data/mnist"
    cd "$T"
    # train set gzip-compressed, test set raw: both names are accepted
    make_idx_images data/mnist/train-images-idx3-ubyte.gz 600 8 8
    make_idx_labels data/mnist/train-labels-idx1-ubyte.gz 600 10
    make_idx_images data/mnist/t10k-images-idx3-ubyte 100 8 8
    make_idx_labels data/mnist/t10k-labels-idx1-ubyte 100 10
    export PYLEARN2_DATA_PATH=$T/data
}

# write_mnist_experiment FILE [SGD-EXTRA] [MNIST-EXTRA]
write_mnist_experiment() {
    cat > "$1" <<YAML
!obj:pylearn2.train.Train {
    dataset: !obj:pylearn2.datasets.mnist.MNIST { which_set: 'train', start: 0, stop: 500 $3 },
    model: !obj:pylearn2.models.mlp.MLP {
        nvis: 64,
        layers: [ !obj:pylearn2.models.mlp.Softmax { layer_name: y, n_classes: 10, irange: 0.05 } ],
    },
    algorithm: !obj:pylearn2.training_algorithms.sgd.SGD {
        learning_rate: 0.01,
        batch_size: 50,
        monitoring_dataset: {
            valid: !obj:pylearn2.datasets.mnist.MNIST { which_set: 'train', start: 500, stop: 600 },
            test: !obj:pylearn2.datasets.mnist.MNIST { which_set: 'test' },
        },
        termination_criterion: !obj:pylearn2.termination_criteria.EpochCounter { max_epochs: 3 },
        $2
    },
}
YAML
}

@test "MNIST: trains a few epochs on IDX files under PYLEARN2_DATA_PATH (raw and .gz)" {
    write_mnist_experiment exp.yaml
    run -0 --separate-stderr ml-train exp.yaml
    [[ "${lines[0]}" == *valid_y_misclass* ]]
    [[ "${lines[0]}" == *test_y_misclass* ]]
    [ "${#lines[@]}" -eq 5 ] # header, epochs 0..3
}

@test "MNIST: center, shuffle, binarize, one_hot and path are accepted" {
    mv data elsewhere
    write_mnist_experiment exp.yaml "" ", center: true, shuffle: true, binarize: true, one_hot: true, path: '$T/elsewhere/mnist'"
    sed -i "s|which_set: 'test' }|which_set: 'test', one_hot: true, path: '$T/elsewhere/mnist' }|; s|start: 500, stop: 600 }|start: 500, stop: 600, one_hot: true, path: '$T/elsewhere/mnist' }|" exp.yaml
    run -0 --separate-stderr ml-train exp.yaml
    [ "${#lines[@]}" -eq 5 ]
    [[ "${lines[0]}" == *test_y_misclass* ]]
}

@test "MNIST: bad which_set, rows outside the set, missing files and no PYLEARN2_DATA_PATH" {
    write_mnist_experiment exp.yaml
    sed -i "s/which_set: 'train', start: 0, stop: 500/which_set: 'valid'/" exp.yaml
    run -1 ml-train exp.yaml
    [[ "$output" == *"must be 'train' or 'test', not 'valid'"* ]]
    write_mnist_experiment exp.yaml
    sed -i "s/start: 0, stop: 500/start: 0, stop: 5000/" exp.yaml
    run -1 ml-train exp.yaml
    [[ "$output" == *"do not lie in the 600 examples of the train set"* ]]
    write_mnist_experiment exp.yaml
    rm data/mnist/t10k-labels-idx1-ubyte
    run -1 ml-train exp.yaml
    [[ "$output" == *"t10k-labels-idx1-ubyte.gz can be read"* ]]
    unset PYLEARN2_DATA_PATH
    run -1 ml-train exp.yaml
    [[ "$output" == *"PYLEARN2_DATA_PATH is not set"* ]]
}

@test "SGD: every train_iteration_mode trains, and the same seed gives the same records" {
    for mode in sequential shuffled_sequential random_slice random_uniform batchwise_shuffled_sequential; do
        write_mnist_experiment exp.yaml "train_iteration_mode: $mode, monitoring_batches: 1,"
        ml-train exp.yaml > a.tsv 2>/dev/null
        ml-train exp.yaml > b.tsv 2>/dev/null
        [ "$(without_seconds a.tsv)" = "$(without_seconds b.tsv)" ] || { echo "$mode differs"; false; }
        [ "$(wc -l < a.tsv)" -eq 5 ]
    done
}

@test "SGD: an unknown train_iteration_mode names the five modes" {
    write_mnist_experiment exp.yaml "train_iteration_mode: shuffled,"
    run -1 ml-train exp.yaml
    [[ "$output" == *"'random_uniform' or 'batchwise_shuffled_sequential', not 'shuffled'"* ]]
}

@test "Conv2DSpace axes: b,0,1,c and c,0,1,b models train like b,c,0,1 (the rows are transposed in fprop)" {
    for axes in "'b', 'c', 0, 1" "'b', 0, 1, 'c'" "'c', 0, 1, 'b'"; do
        cat > conv.yaml <<YAML
!obj:Train {
    dataset: !obj:MNIST { which_set: 'train', stop: 200 },
    model: !obj:MLP {
        input_space: !obj:Conv2DSpace { shape: [8, 8], num_channels: 1, axes: [$axes] },
        layers: [
            !obj:ConvRectifiedLinear { layer_name: c0, output_channels: 2, kernel_shape: [3, 3], irange: 0.1 },
            !obj:Softmax { layer_name: y, n_classes: 10, irange: 0.05 },
        ],
    },
    algorithm: !obj:SGD {
        learning_rate: 0.01, batch_size: 20,
        monitoring_dataset: !obj:MNIST { which_set: 'test' },
        termination_criterion: !obj:EpochCounter { max_epochs: 2 },
    },
}
YAML
        ml-train conv.yaml > "run.tsv" 2>/dev/null
        without_seconds run.tsv > "axes-$(echo "$axes" | tr -dc 'bc01').tsv"
    done
    [ "$(wc -l < axes-bc01.tsv)" -eq 4 ]
    cmp axes-bc01.tsv axes-b01c.tsv
    cmp axes-bc01.tsv axes-c01b.tsv
    sed -i "s/axes: \[.*\]/axes: ['b', 1, 0, 'c']/" conv.yaml
    run -1 ml-train conv.yaml
    [[ "$output" == *"must be ['b', 'c', 0, 1], ['b', 0, 1, 'c'] or ['c', 0, 1, 'b']"* ]]
}

@test "TransformerDataset: a dataset seen through a trained model's hidden layer trains the next model" {
    cat > first.yaml <<'YAML'
!obj:Train {
    dataset: !obj:MNIST { which_set: 'train', stop: 300 },
    model: !obj:MLP {
        nvis: 64,
        layers: [
            !obj:RectifiedLinear { layer_name: h0, dim: 7, irange: 0.1 },
            !obj:Softmax { layer_name: y, n_classes: 10, irange: 0.05 },
        ],
    },
    algorithm: !obj:SGD { learning_rate: 0.01, batch_size: 20,
                          termination_criterion: !obj:EpochCounter { max_epochs: 1 } },
    save_path: first.h5,
}
YAML
    run -0 ml-train -q first.yaml
    cat > second.yaml <<'YAML'
!obj:Train {
    dataset: !obj:pylearn2.datasets.transformer_dataset.TransformerDataset {
        raw: !obj:MNIST { which_set: 'train', stop: 300 }, transformer: first.h5 },
    model: !obj:MLP { nvis: 7, layers: [ !obj:Softmax { layer_name: y, n_classes: 10, irange: 0.05 } ] },
    algorithm: !obj:SGD {
        learning_rate: 0.01, batch_size: 20,
        monitoring_dataset: { test: !obj:TransformerDataset { raw: !obj:MNIST { which_set: 'test' }, transformer: first.h5, layer: h0 } },
        termination_criterion: !obj:EpochCounter { max_epochs: 2 },
    },
}
YAML
    run -0 --separate-stderr ml-train second.yaml
    [ "${#lines[@]}" -eq 4 ]
    [[ "${lines[0]}" == *test_y_misclass* ]]
    sed -i 's/layer: h0/layer: h9/' second.yaml
    run -1 ml-train second.yaml
    [[ "$output" == *"first.h5 has no layer 'h9'"* ]]
}

@test "SGD: random_slice on fewer examples than a batch says why" {
    write_mnist_experiment exp.yaml "train_iteration_mode: random_slice,"
    sed -i 's/batch_size: 50/batch_size: 1000/' exp.yaml
    run -1 --separate-stderr ml-train exp.yaml
    [[ "$stderr" == *"random_slice batches of 1000 need at least 1000 examples, the training data has 500"* ]]
}

@test "MNIST: a preprocessor fitted on the training set through an anchor, applied to valid and test" {
    write_mnist_experiment exp.yaml "" ", preprocessor: &prep !obj:pylearn2.datasets.preprocessing.GlobalContrastNormalization { scale: 55 }, fit_preprocessor: true"
    sed -i "s|which_set: 'test' }|which_set: 'test', preprocessor: *prep }|; s|start: 500, stop: 600 }|start: 500, stop: 600, preprocessor: *prep }|" exp.yaml
    ml-train -q exp.yaml > gcn.tsv
    [ "$(wc -l < gcn.tsv)" -eq 5 ]
    write_mnist_experiment plain.yaml
    ml-train -q plain.yaml > plain.tsv
    [ "$(without_seconds gcn.tsv)" != "$(without_seconds plain.tsv)" ]
    # MNIST is always in memory: what can fail is applying a preprocessor nobody fitted
    write_mnist_experiment bad.yaml "" ""
    sed -i "s|start: 500, stop: 600 }|start: 500, stop: 600, preprocessor: !obj:Standardize {} }|" bad.yaml
    run -1 --separate-stderr ml-train bad.yaml
    [[ "$stderr" == *"'preprocessor' of MNIST"*"the Standardize preprocessor is not fitted"* ]]
}
