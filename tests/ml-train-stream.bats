#!/usr/bin/env bats
# ml-train on data larger than memory and through pipes: a dataset streamed
# from its file (HDF5Dataset storage: stream, or auto under little memory)
# trains the same model as the file read into memory when the batches are
# contiguous; shuffled batches stream too; a dataset read from a pipe ('-').

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    enter_blobs_workdir
}

@test "streamed sequential batches train the model the file in memory trains, bit for bit" {
    for mode in sequential batchwise_shuffled_sequential random_slice; do
        ml-train -q -s algorithm.train_iteration_mode=$mode -s dataset.storage=memory exp.yaml -o mem.h5 > mem.tsv
        ml-train -q -s algorithm.train_iteration_mode=$mode -s dataset.storage=stream exp.yaml -o str.h5 > str.tsv
        [ "$(without_seconds mem.tsv)" = "$(without_seconds str.tsv)" ]
        for p in /params/h0/W /params/h0/b /params/y/W /params/y/b; do
            [ "$(h5_data mem.h5 $p)" = "$(h5_data str.h5 $p)" ]
        done
    done
}

@test "shuffled batches stream from windows of the file and train" {
    run -0 ml-train -q -s dataset.storage=stream exp.yaml -o str.h5
    # every epoch a record, and the blobs are learnt
    [ "${#lines[@]}" -eq 5 ]
    misclass=$(awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "valid_y_misclass") c = i; next } END { print $c }' <<< "$output")
    awk -v m="$misclass" 'BEGIN { exit !(m < 0.2) }'
}

@test "storage: auto streams when the memory available is less than twice X" {
    ML_MEMORY_AVAILABLE=20000 run -0 --separate-stderr ml-train -v -s dataset.storage=auto exp.yaml -o a.h5
    [[ "$stderr" == *"train.h5:/X: streamed from the file"* ]]
    ML_MEMORY_AVAILABLE=100000000 run -0 --separate-stderr ml-train -v -s dataset.storage=auto exp.yaml -o b.h5
    [[ "$stderr" != *"streamed"* ]]
}

@test "a bad storage value names the key; a pipe cannot be streamed" {
    run -1 --separate-stderr ml-train -s dataset.storage=disk exp.yaml
    [[ "$stderr" == *"storage"*"must be auto, memory or stream, not 'disk'"* ]]
    [ ! -e model.h5 ]
    sed 's/filename: train.h5 }/filename: "-", storage: stream }/' exp.yaml > pipe.yaml
    run -1 --separate-stderr ml-train pipe.yaml < train.h5
    [[ "$stderr" == *"<stdin>: a dataset read from a pipe cannot be streamed; give its file"* ]]
    [ ! -e model.h5 ]
}

@test "a NaN in a streamed file stops training with file, row and column, and no model file" {
    /usr/bin/python3 - <<'PY' || skip "python3-h5py is not installed"
import h5py
with h5py.File("train.h5", "r+") as f:
    f["X"][97, 5] = float("nan")
PY
    run -1 --separate-stderr ml-train -q -s dataset.storage=stream -s algorithm.train_iteration_mode=sequential exp.yaml
    [[ "$stderr" == *"train.h5:/X: row 97 column 5 is NaN"* ]]
    [ ! -e model.h5 ]
}

@test "training data through a pipe: ml-preprocess ... -o - | ml-train with filename '-'" {
    sed 's/filename: train.h5 }/filename: "-" }/' exp.yaml > pipe.yaml
    ml-preprocess standardize --fit train.h5 -o std.h5
    ml-train -q pipe.yaml -o piped.h5 < std.h5 > piped.tsv
    ml-preprocess standardize --fit train.h5 -o - | ml-train -q pipe.yaml -o piped2.h5 > piped2.tsv
    sed 's/filename: train.h5 }/filename: std.h5 }/' exp.yaml > file.yaml
    ml-train -q file.yaml -o file.h5 > file.tsv
    [ "$(without_seconds piped.tsv)" = "$(without_seconds file.tsv)" ]
    [ "$(without_seconds piped2.tsv)" = "$(without_seconds file.tsv)" ]
    [ "$(h5_data piped2.h5 /params/h0/W)" = "$(h5_data file.h5 /params/h0/W)" ]
}
