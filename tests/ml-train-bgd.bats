#!/usr/bin/env bats
# ml-train with BGD (batch gradient descent with line searches): an experiment
# end to end (the monitor stream with alpha, the model file), conjugate
# directions and accumulated minibatches, bad settings named by their key, and
# --resume: a run stopped between epochs or by SIGINT between two groups goes
# on to the parameters of a run that never stopped, byte for byte.

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

# ---- --resume: a BGD run stopped and resumed ends as if it had never stopped


# The value of attribute $3 of object $2 in file $1.
h5_attr() {
    h5dump -a "$2/$3" "$1" | awk '$1 == "(0):" { print $2 }'
}

# write_resume_experiment FILE DATA DIM COST: an MLP 64 -> DIM -> 3 trained by
# BGD on DATA in groups of one minibatch (so the order of the groups matters),
# alpha carried from group to group (reset_alpha false) and, with conjugate,
# the conjugate directions too (reset_conjugate false); 4 epochs.
write_resume_experiment() {
    cat > "$1" <<YAML
!obj:pylearn2.train.Train {
    dataset: &train !obj:pylearn2.datasets.hdf5.HDF5Dataset { filename: $2 },
    model: !obj:pylearn2.models.mlp.MLP {
        nvis: 64,
        layers: [
            !obj:pylearn2.models.mlp.RectifiedLinear { layer_name: h0, dim: $3, irange: 0.1 },
            !obj:pylearn2.models.mlp.Softmax { layer_name: y, n_classes: 3, irange: 0.05 },
        ],
    },
    algorithm: !obj:pylearn2.training_algorithms.bgd.BGD {
        batch_size: 50,
        batches_per_iter: 1,
        updates_per_batch: 4,
        conjugate: true,
        reset_conjugate: false,
        reset_alpha: false,
        monitoring_dataset: {
            train: *train,
            valid: !obj:pylearn2.datasets.hdf5.HDF5Dataset { filename: valid.h5 },
        },
        termination_criterion: !obj:pylearn2.termination_criteria.EpochCounter { max_epochs: 4 },
        cost: $4,
    },
    save_path: model.h5,
}
YAML
}

@test "BGD: 4 epochs straight, or 2 then --resume for 2 more: the same parameters, byte for byte" {
    decay='!obj:pylearn2.costs.cost.SumOfCosts { costs: [ !obj:pylearn2.costs.mlp.Default {}, !obj:pylearn2.costs.mlp.WeightDecay { coeffs: [0.01, 0.01] } ] }'
    write_resume_experiment r.yaml train.h5 20 "$decay"
    write_resume_experiment d.yaml train.h5 20 '!obj:Dropout { input_include_probs: { h0: 0.8 } }'
    for run in "r.yaml conjugate=true" "r.yaml conjugate=false" "r.yaml line_search_mode=backtracking" \
               "d.yaml conjugate=true"; do
        set -- $run
        ml-train -q -s algorithm.$2 "$1" -o straight.h5 > straight.tsv
        ml-train -q -s algorithm.$2 -s algorithm.termination_criterion.max_epochs=2 "$1" -o run.h5 > first.tsv
        # the state of the run: the common counters and BGD's own, no learning rule
        run -0 h5ls -r run.h5/train_state
        [[ "$output" == *"/bgd/dir/h0/W"*"/bgd/order_rng"*"/bgd/prev/y/b"* ]]
        [[ "$output" != *"/rule"* ]]
        [ "$(h5_attr run.h5 /train_state epoch)" = 2 ]
        [ "$(h5_attr run.h5 /train_state in_epoch)" = 0 ]
        ml-train -q --resume run.h5 -s algorithm.termination_criterion.max_epochs=4 > second.tsv
        same_params straight.h5 run.h5 || { echo "differs: $run"; false; }
        # the records of the resumed epochs (alpha included) are those of the straight run
        [ "$(without_seconds straight.tsv | sed -n '5,6p')" = "$(without_seconds second.tsv | sed -n '2,3p')" ]
    done
    run -0 h5ls run.h5/monitor/alpha
    [[ "$output" == *"{5, 5}"* ]]
}

@test "BGD: SIGINT between two groups of an epoch, then --resume: the parameters of an uninterrupted run" {
    make_blobs_dataset big.h5 6000
    write_resume_experiment long.yaml big.h5 200 '!obj:pylearn2.costs.mlp.Default {}'
    local t0=$(date +%s%N)
    ml-train -q long.yaml -o straight.h5 > /dev/null
    local run_ns=$(( $(date +%s%N) - t0 )) tries=0 status=0
    # until a signal falls inside an epoch (after its first group): most do
    while :; do
        tries=$((tries + 1))
        [ "$tries" -le 10 ]
        rm -f model.h5
        ml-train -q long.yaml > /dev/null 2>> err.txt &
        pid=$!
        sleep "$(awk -v ns="$run_ns" -v r=$RANDOM 'BEGIN { printf "%.3f", ns * (0.2 + 0.6 * r / 32768) * 1e-9 }')"
        kill -INT "$pid" 2> /dev/null || true
        status=0
        wait "$pid" || status=$?
        [ "$status" -eq 130 ] && [ -e model.h5 ] && [ "$(h5_attr model.h5 /train_state in_epoch)" = 1 ] && break
    done
    done_groups=$(h5_attr model.h5 /train_state/bgd epoch_groups_done)
    [ "$done_groups" -ge 1 ] && [ "$done_groups" -le 120 ]
    echo "# stopped in epoch $(( $(h5_attr model.h5 /train_state epoch) + 1 )) after $done_groups of 120 groups ($tries tries)" >&3
    ml-train -q --resume model.h5 > /dev/null
    same_params straight.h5 model.h5
}

@test "BGD: --resume goes on with the experiment of the file; a file of the other algorithm is refused, naming both" {
    write_blobs_experiment sgd.yaml
    ml-train -q -s algorithm.termination_criterion.max_epochs=1 sgd.yaml -o sgd.h5 > /dev/null
    ml-train -q -s algorithm.termination_criterion.max_epochs=1 bgd.yaml -o bgd.h5 > /dev/null
    run -1 --separate-stderr ml-train --resume sgd.h5 -s 'algorithm=!obj:BGD { batch_size: 50 }'
    [ "$stderr" = "ml-train: sgd.h5:/train_state: the file was trained with SGD, the experiment says BGD" ]
    run -1 --separate-stderr ml-train --resume bgd.h5 -s 'algorithm=!obj:SGD { batch_size: 50, learning_rate: 0.1 }'
    [ "$stderr" = "ml-train: bgd.h5:/train_state: the file was trained with BGD, the experiment says SGD" ]
    run -0 ml-train -q --resume bgd.h5 -s algorithm.termination_criterion.max_epochs=2
    [ "$(cut -f 1-3 <<< "$output" | tail -n 1 | tr '\t' ',')" = "2,6,300" ]
}
