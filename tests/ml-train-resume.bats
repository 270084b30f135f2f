#!/usr/bin/env bats
# ml-train --resume: a run stopped and resumed ends with the parameters of a
# run that never stopped, byte for byte, whether it was stopped between epochs
# (a checkpoint), in the middle of one (SIGINT, SIGTERM) or killed outright
# (SIGKILL: it goes on from the last checkpoint); every file left is whole;
# a diverging run keeps its last good checkpoint.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    enter_blobs_workdir
}


# Training state that resumes: Momentum, Dropout masks, MonitorBased, and a
# learning rate decaying by the batch.  $1: epochs (default 4).
write_rich_experiment() {
    sed -e 's|batch_size: 10,|batch_size: 7,\n        learning_rule: !obj:Momentum { init_momentum: 0.5 },\n        cost: !obj:Dropout { input_include_probs: { h0: 0.8 } },\n        update_callbacks: [ !obj:ExponentialDecay { decay_factor: 1.01, min_lr: 0.01 } ],|' \
        -e 's|termination_criterion: .*|termination_criterion: !obj:And { criteria: [ !obj:EpochCounter { max_epochs: '"${1:-4}"' }, !obj:MonitorBased { channel_name: valid_y_nll, N: 1000 } ] },|' \
        exp.yaml > rich.yaml
    sed -i 's|save_path: model.h5,|save_path: model.h5,\n    save_freq: 1,\n    extensions: [ !obj:MomentumAdjustor { start: 1, saturate: 3, final_momentum: 0.9 } ],|' rich.yaml
}

@test "4 epochs straight, or 2 then --resume for 2 more: the same parameters, byte for byte" {
    write_rich_experiment
    ml-train -q rich.yaml -o straight.h5 > straight.tsv
    ml-train -q -s algorithm.termination_criterion.criteria.0.max_epochs=2 rich.yaml -o run.h5 > first.tsv
    ml-train -q --resume run.h5 -s algorithm.termination_criterion.criteria.0.max_epochs=4 > second.tsv
    same_params straight.h5 run.h5
    # the records of the resumed epochs are those of the straight run
    [ "$(without_seconds straight.tsv | sed -n '5,6p')" = "$(without_seconds second.tsv | sed -n '2,3p')" ]
    # and the file holds all five records
    run -0 h5ls run.h5/monitor/valid_y_nll
    [[ "$output" == *"{5, 5}"* ]]
}

@test "every learning rule resumes exactly" {
    for rule in "Momentum { init_momentum: 0.9, nesterov_momentum: true }" "AdaGrad {}" "RMSProp {}" \
                "AdaDelta {}" "Adam {}" "Adamax {}" "Nadam {}"; do
        sed "s|batch_size: 10,|batch_size: 10,\n        learning_rule: !obj:$rule,|" exp.yaml > r.yaml
        ml-train -q r.yaml -o straight.h5 > /dev/null
        ml-train -q -s algorithm.termination_criterion.max_epochs=1 r.yaml -o run.h5 > /dev/null
        ml-train -q --resume run.h5 -s algorithm.termination_criterion.max_epochs=3 > /dev/null
        same_params straight.h5 run.h5 || { echo "differs: $rule"; false; }
    done
}

# A longer run for the signals to fall in: 40 epochs of 3000 examples in
# long.yaml, and the seconds it takes without interruption in $run_ns.
write_long_experiment() {
    make_blobs_dataset big.h5 3000
    write_rich_experiment 40
    sed -e 's|filename: train.h5|filename: big.h5|' rich.yaml > long.yaml
    local t0=$(date +%s%N)
    ml-train -q long.yaml -o straight.h5 > /dev/null
    run_ns=$(( $(date +%s%N) - t0 ))
}

# Runs long.yaml to its end through interruptions by signal $1 at random
# moments, resuming each time from what was saved (or from the start when
# nothing was), and checks every file left behind is whole.  Prints how many
# runs it took and how many were stopped by the signal.
interrupted_run() {
    local sig=$1 tries=0 stopped=0
    rm -f model.h5
    while :; do
        tries=$((tries + 1))
        if [ -e model.h5 ]; then
            ml-train -q --resume model.h5 > /dev/null 2>> err.txt &
        else
            ml-train -q long.yaml > /dev/null 2>> err.txt &
        fi
        pid=$!
        # somewhere in the first three quarters of an uninterrupted run
        sleep "$(awk -v ns="$run_ns" -v r=$RANDOM 'BEGIN { printf "%.3f", ns * 0.75e-9 * r / 32768 }')"
        kill -"$sig" "$pid" 2> /dev/null || true
        status=0
        wait "$pid" || status=$?
        [ "$status" -ne 0 ] && stopped=$((stopped + 1))
        # the model file (if any) is whole and resumable; SIGINT and SIGTERM leave no temporary
        if [ -e model.h5 ]; then h5ls -r model.h5/train_state > /dev/null; fi
        if [ "$sig" != KILL ]; then [ -z "$(ls -A | grep '^\.model\.h5\.tmp' || true)" ]; fi
        [ "$status" -eq 0 ] && break
        [ "$tries" -lt 100 ]
    done
    echo "$tries runs, $stopped stopped by SIG$sig"
}

@test "SIGINT and SIGTERM at random moments, then --resume: the parameters of an uninterrupted run" {
    write_long_experiment
    for sig in INT TERM; do
        result=$(interrupted_run $sig)
        same_params straight.h5 model.h5
        echo "# $result" >&3
    done
}

@test "SIGKILL at random moments loses at most an epoch, leaves no broken file nor temporaries, and resumes exactly" {
    write_long_experiment
    result=$(interrupted_run KILL)
    same_params straight.h5 model.h5
    # the temporaries of killed runs are removed by the next write of the file
    [ -z "$(ls -A | grep '^\.model\.h5\.tmp' || true)" ]
    echo "# $result" >&3
}

@test "a diverging run stops naming epoch and batch and keeps its last good checkpoint" {
    write_rich_experiment
    ml-train -q -s algorithm.termination_criterion.criteria.0.max_epochs=2 rich.yaml > /dev/null
    before=$(file_digest model.h5)
    run -1 --separate-stderr ml-train -q --resume model.h5 -s algorithm.learning_rate=1e30 \
        -s algorithm.termination_criterion.criteria.0.max_epochs=4
    [[ "$stderr" =~ "ml-train: epoch 3, batch "[0-9]+": the objective is "(NaN|infinite) ]]
    [ "$(file_digest model.h5)" = "$before" ]
    ml-train -q --resume model.h5 > /dev/null
}

@test "--resume: bad uses" {
    run -2 --separate-stderr ml-train --resume model.h5 exp.yaml
    [[ "$stderr" == *"--resume takes the experiment from the model file: give no experiment file"* ]]
    run -2 --separate-stderr ml-train --resume a.h5 --model b.h5
    [[ "$stderr" == *"--resume and --model both give the parameters"* ]]
    run -1 --separate-stderr ml-train --resume missing.h5
    [[ "$stderr" == "ml-train: missing.h5: "* ]]
    run -1 --separate-stderr ml-train --resume train.h5
    [[ "$stderr" == *"train.h5: no /experiment: not a model file saved by ml-train"* ]]
    ml-init exp.yaml -o init.h5
    run -1 --separate-stderr ml-train --resume init.h5
    [ -n "$stderr" ]
    ml-train -q -s algorithm.termination_criterion.max_epochs=1 exp.yaml -o one.h5 > /dev/null
    sed -i 's|batch_size: 10,|batch_size: 10, learning_rule: !obj:Adam {},|' exp.yaml
    ml-train -q -s algorithm.termination_criterion.max_epochs=1 exp.yaml -o adam.h5 > /dev/null
    run -1 --separate-stderr ml-train --resume one.h5 -s 'algorithm.learning_rule=!obj:Adam {}'
    [[ "$stderr" == *"trained with another learning rule"* ]]
}
