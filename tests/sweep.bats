#!/usr/bin/env bats
# examples/fashion-mnist/sweep.mk: a grid of ml-train runs as file targets,
# then ml-monitor --rank; on a tiny stand-in for Fashion-MNIST (IDX files of
# 120 random 28 x 28 images of 10 classes) so that a run takes a moment.
bats_require_minimum_version 1.5.0
load test_helper

setup() {
    command -v make > /dev/null || skip "no make"
    # not a sub-make of `make test`: no "Entering directory" lines, no jobserver
    unset MAKEFLAGS MFLAGS MAKELEVEL
    mkdir -p "$BATS_TEST_TMPDIR/w"
    cd "$BATS_TEST_TMPDIR/w"
    mkdir data
    make_idx_images data/train-images-idx3-ubyte.gz 120 28 28
    make_idx_labels data/train-labels-idx1-ubyte.gz 120 10
    EX="$BATS_TEST_DIRNAME/../examples/fashion-mnist"
    # the programs and experiments of this tree, the tiny data split 80 / 40
    VARS=(ML_BIN="$BATS_TEST_DIRNAME/../cmd" SHARE="$BATS_TEST_DIRNAME/../share/ml"
          DATA=data SPLIT=80,40 EPOCHS=1 SET=algorithm.batch_size=20)
}

squeeze() { tr -s ' ' <<< "$1"; }

@test "sweep.mk -n: one ml-train per point of the grid, then the ranking" {
    run -0 make -n -f "$EX/sweep.mk" "${VARS[@]}"
    [ "$(grep -c '^ml-train ' <<< "$output")" -eq 8 ]
    for lr in 0.1 0.02; do
        for mom in 0.5 0.9; do
            for h in 100 400; do
                [[ "$output" == *"ml-train --quiet -o runs/lr=${lr}_mom=${mom}_h=${h}.h5"* ]]
            done
        done
    done
    [[ "$output" == *"-s algorithm.learning_rule.init_momentum=0.9"* ]]
    [[ "$output" == *"-s model.layers.1.dim=400"* ]]
    [[ "$output" == *"-s algorithm.termination_criterion.max_epochs=1"* ]]
    # the data come from the included Makefile's targets
    [[ "$output" == *"ml-preprocess split --counts 80,40 out/all.h5 -o out/train.h5 -o out/valid.h5"* ]]
    [[ "${lines[-1]}" == "ml-monitor --rank valid_y_misclass runs/lr=0.1_mom=0.5_h=100.h5 "* ]]
    [ ! -e runs ] && [ ! -e out ]
}

@test "sweep.mk -j2: a tiny grid trained and ranked; a second make trains nothing" {
    run -0 --separate-stderr make -s -j2 -f "$EX/sweep.mk" "${VARS[@]}" \
        LR='0.1 0.01' MOMENTUM='0.5 0.9' HIDDEN=8
    [ "$(ls runs/*.h5 | wc -l)" -eq 4 ]
    [ -s runs/lr=0.01_mom=0.9_h=8.tsv ]
    # the ranking: the hidden size is the same in every run, so no column for it
    [ "${#lines[@]}" -eq 5 ]
    [ "$(squeeze "${lines[0]}")" = "rank file best best_epoch last epochs algorithm.learning_rate algorithm.learning_rule.init_momentum" ]
    [ "$(awk 'NR > 1 { print $7, $8 }' <<< "$output" | sort | tr '\n' ' ')" = "0.01 0.5 0.01 0.9 0.1 0.5 0.1 0.9 " ]
    [ "$(awk 'NR > 1 { print $1 }' <<< "$output" | tr '\n' ' ')" = "1 2 3 4 " ]
    # every run's file name says its own settings
    awk 'NR > 1 && index($2, "lr=" $7 "_mom=" $8 "_h=8.h5") == 0 { exit 1 }' <<< "$output"
    # up to date: only the ranking runs again
    run -0 make -n -f "$EX/sweep.mk" "${VARS[@]}" LR='0.1 0.01' MOMENTUM='0.5 0.9' HIDDEN=8
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "ml-monitor --rank valid_y_misclass "* ]]
}
