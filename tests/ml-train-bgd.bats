#!/usr/bin/env bats
# ml-train with BGD (batch gradient descent with line searches): an experiment
# end to end (the monitor stream with alpha, the model file), conjugate
# directions and accumulated minibatches, and bad settings named by their key.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    T=$BATS_TEST_TMPDIR/w
    mkdir -p "$T"
    cd "$T"
    make_blobs_train_valid
    cat > bgd.yaml <<'YAML'
# softmax regression on the blobs with batch gradient descent
!obj:pylearn2.train.Train {
    dataset: &train !obj:pylearn2.datasets.hdf5.HDF5Dataset { filename: train.h5 },
    model: !obj:pylearn2.models.mlp.MLP {
        nvis: 64,
        layers: [
            !obj:pylearn2.models.mlp.Softmax { layer_name: y, n_classes: 3, irange: 0.05 },
        ],
    },
    algorithm: !obj:pylearn2.training_algorithms.bgd.BGD {
        batch_size: 50,
        batches_per_iter: 3,
        updates_per_batch: 4,
        conjugate: 1,
        line_search_mode: exhaustive,
        monitoring_dataset: {
            train: *train,
            valid: !obj:pylearn2.datasets.hdf5.HDF5Dataset { filename: valid.h5 },
        },
        termination_criterion: !obj:pylearn2.termination_criteria.EpochCounter { max_epochs: 3 },
        cost: !obj:pylearn2.costs.cost.SumOfCosts { costs: [
            !obj:pylearn2.costs.mlp.Default {},
            !obj:pylearn2.costs.mlp.WeightDecay { coeffs: [0.01] },
        ] },
    },
    save_path: model.h5,
}
YAML
}

# The value of channel $1 in record line $2 of the monitor stream in $output.
channel() {
    awk -F '\t' -v ch="$1" -v rec="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == ch) col = i }
        NR == rec + 2 { print $col }' <<< "$output"
}

@test "BGD trains: the monitor stream with alpha, the model file" {
    run -0 --separate-stderr ml-train bgd.yaml
    [ "${#lines[@]}" -eq 5 ]
    for ch in train_objective train_y_nll train_y_misclass valid_objective valid_y_misclass alpha; do
        [[ "${lines[0]}" == *"	$ch	"* || "${lines[0]}" == *"	$ch" ]]
    done
    [[ "${lines[0]}" != *"learning_rate"* ]]
    # one group of 3 minibatches of 50 an epoch
    [ "$(cut -f 1-3 <<< "$output" | tail -n +2 | tr '\t\n' ', ')" = "0,0,0 1,3,150 2,6,300 3,9,450 " ]
    # the objective (NLL plus weight decay) falls every epoch, alpha is a
    # positive step, the blobs are learnt
    for e in 1 2 3; do
        awk -v a="$(channel train_objective $((e - 1)))" -v b="$(channel train_objective $e)" 'BEGIN { exit !(b < a) }'
    done
    awk -v a="$(channel alpha 3)" 'BEGIN { exit !(a > 0) }'
    [ "$(channel valid_y_misclass 3)" = "0" ]
    [ "${stderr_lines[4]}" = "ml-train: saved model.h5" ]
    run -0 h5ls -r model.h5
    [[ "$output" == *"/params/y/W              Dataset {64, 3}"* ]]
    [[ "$output" == *"/monitor/alpha           Dataset {4, 5}"* ]]
    [[ "$output" == *"/monitor/valid_y_misclass Dataset {4, 5}"* ]]
    # the model evaluates
    run -0 ml-eval model.h5 valid.h5
}

@test "BGD: steepest descent, backtracking, Pylearn2's short name and -s" {
    run -0 ml-train -q -s algorithm.conjugate=0 -s algorithm.line_search_mode=backtracking -o bt.h5 bgd.yaml
    [ "$(cut -f 1-3 <<< "$output" | tail -n 1 | tr '\t' ',')" = "3,9,450" ]
    sed 's/pylearn2.training_algorithms.bgd.BGD/BGD/' bgd.yaml > short.yaml
    run -0 ml-train -q -s algorithm.batch_size=150 -s algorithm.batches_per_iter=1 -o short.h5 short.yaml
    [ "$(cut -f 1-3 <<< "$output" | tail -n 1 | tr '\t' ',')" = "3,3,450" ]
}

@test "BGD: bad settings give one line naming the key, and no model file" {
    run -1 --separate-stderr ml-train -s algorithm.batch_size=0 bgd.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: -s algorithm.batch_size: 'batch_size' of BGD must be at least 1" ]
    sed 's/line_search_mode: exhaustive/line_search_mode: golden/' bgd.yaml > bad.yaml
    run -1 --separate-stderr ml-train bad.yaml
    [ "$stderr" = "ml-train: bad.yaml:15:27: 'line_search_mode' of BGD must be 'exhaustive' or 'backtracking', not 'golden'" ]
    run -1 --separate-stderr ml-train -s algorithm.updates_per_batch=-2 bgd.yaml
    [ "$stderr" = "ml-train: -s algorithm.updates_per_batch: 'updates_per_batch' of BGD must be at least 1" ]
    run -1 --separate-stderr ml-train -s algorithm.train_iteration_mode=random_uniform bgd.yaml
    [[ "$stderr" == "ml-train: -s algorithm.train_iteration_mode: 'train_iteration_mode' of BGD must be "* ]]
    [ "${#stderr_lines[@]}" -eq 1 ]
    run -1 --separate-stderr ml-train -s algorithm.learning_rate=0.1 bgd.yaml
    [[ "$stderr" == "ml-train: -s algorithm.learning_rate: "*"BGD has no parameter 'learning_rate'"* ]]
    [ ! -e model.h5 ]
}
