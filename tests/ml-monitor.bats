#!/usr/bin/env bats
# ml-monitor: channel tables, records, TSV, plots, --follow on a stream,
# ranking runs, and the messages for bad input.
bats_require_minimum_version 1.5.0
load test_helper

setup() {
    # a folder of its own: bats keeps files of its own in $BATS_TEST_TMPDIR
    mkdir -p "$BATS_TEST_TMPDIR/w"
    cd "$BATS_TEST_TMPDIR/w"
    make_model_file m.h5
}

T=$'\t'

# A monitor stream as ml-train writes it.
write_stream() {
    cat > "$1" <<EOF
# ml-train: a comment line
epoch${T}batches${T}examples${T}seconds${T}train_objective${T}valid_y_misclass${T}learning_rate
0${T}0${T}0${T}0${T}2.3${T}0.9${T}0.01
1${T}10${T}1000${T}1.5${T}1.2${T}${T}0.01
2${T}20${T}2000${T}3${T}0.8${T}0.3${T}0.01
EOF
}

squeeze() { tr -s ' ' <<< "$1"; }

@test "--help prints the usage on stdout, --version the version" {
    run -0 --separate-stderr ml-monitor --help
    [ "${lines[0]}" = "Usage: ml-monitor [OPTIONS] MODEL..." ]
    [[ "$output" == *"--follow"* && "$output" == *"--rank CHANNEL"* ]]
    [ -z "$stderr" ]
    run -0 ml-monitor -V
    [ "${lines[0]}" = "ml-monitor (ml) 0.1.0" ]
}

@test "one model: a table of its channels with last and best values" {
    run -0 --separate-stderr ml-monitor m.h5
    [ "$(squeeze "${lines[0]}")" = "channel records last best best_epoch" ]
    [ "${#lines[@]}" -eq 9 ]
    [[ "$(squeeze "$output")" == *"valid_y_misclass 6 0.22 0.2 3"* ]]
    # *accuracy channels: the best is the largest
    [[ "$(squeeze "$output")" == *"valid_y_accuracy 6 0.78 0.8 3"* ]]
    [[ "$(squeeze "$output")" == *"train_objective 6 0.45 0.45 5"* ]]
    [ -z "$stderr" ]
}

@test "--tsv: tab-separated table with a header line" {
    run -0 ml-monitor --tsv m.h5
    [ "${lines[0]}" = "channel${T}records${T}last${T}best${T}best_epoch" ]
    [ "${lines[4]}" = "valid_y_misclass${T}6${T}0.22${T}0.2${T}3" ]
}

@test "-c: the records of a channel" {
    run -0 ml-monitor -c valid_y_misclass m.h5
    [ "${#lines[@]}" -eq 7 ]
    [ "$(squeeze "${lines[0]}")" = "epoch batches examples seconds value" ]
    [ "$(squeeze "${lines[6]}")" = " 5 50 5000 7.5 0.22" ]
    run -0 ml-monitor --tsv --channel valid_y_misclass m.h5
    [ "${lines[0]}" = "epoch${T}batches${T}examples${T}seconds${T}value" ]
    [ "${lines[4]}" = "3${T}30${T}3000${T}4.5${T}0.2" ]
}

@test "-c twice: a channel column first" {
    run -0 ml-monitor --tsv -c valid_y_misclass -c learning_rate m.h5
    [ "${#lines[@]}" -eq 13 ]
    [ "${lines[0]}" = "channel${T}epoch${T}batches${T}examples${T}seconds${T}value" ]
    [ "${lines[12]}" = "learning_rate${T}5${T}50${T}5000${T}7.5${T}0.01" ]
}

@test "a model from standard input" {
    run -0 ml-monitor --tsv -c valid_y_misclass - < m.h5
    [ "${lines[6]}" = "5${T}50${T}5000${T}7.5${T}0.22" ]
}

@test "several models without --rank: one table each" {
    make_model_file b.h5 mlp 0.1
    run -0 ml-monitor m.h5 b.h5
    [ "${lines[0]}" = "==> m.h5 <==" ]
    [[ "$output" == *"==> b.h5 <=="* ]]
}

@test "--plot: a PNG of the default channels" {
    run -0 --separate-stderr ml-monitor --plot plot.png m.h5
    [ -z "$output" ] && [ -z "$stderr" ]
    [ "$(png_size plot.png)" = "800 500 2" ]
    run -0 --separate-stderr ml-monitor -v -c learning_rate -c momentum --size 640x400 \
        --title "rates" --ylabel rate --log-y -p small.png m.h5
    [ "$(png_size small.png)" = "640 400 2" ]
    [[ "$stderr" == *"wrote small.png (640x400, 2 series)"* ]]
    # to standard output, redirected to a file
    ml-monitor --plot - m.h5 > out.png
    [ "$(png_size out.png)" = "800 500 2" ]
    # nothing left but the outputs
    [ "$(ls -A | sort | tr '\n' ' ')" = "m.h5 out.png plot.png small.png " ]
}

@test "--plot with several models: file:channel series" {
    make_model_file a.h5 mlp 0.1
    make_model_file b.h5 mlp 0
    run -0 ml-monitor -v -c valid_y_misclass --plot runs.png a.h5 b.h5
    [ "$(png_size runs.png)" = "800 500 2" ]
    [[ "$output" == *"2 series"* ]]
}

@test "--follow: one line per record, then the best values" {
    write_stream stream.tsv
    run -0 --separate-stderr ml-monitor --follow < stream.tsv
    [ "${lines[0]}" = "epoch 0  train_objective 2.3  valid_y_misclass 0.9" ]
    [ "${lines[1]}" = "epoch 1  train_objective 1.2" ]
    [ "${lines[2]}" = "epoch 2  train_objective 0.8  valid_y_misclass 0.3" ]
    [ "$(squeeze "${lines[3]}")" = "channel records last best best_epoch" ]
    [ "$(squeeze "${lines[4]}")" = "train_objective 3 0.8 0.8 2" ]
    [ "$(squeeze "${lines[5]}")" = "valid_y_misclass 2 0.3 0.3 2" ]
    [ -z "$stderr" ]
}

@test "--follow on a here-doc, with -c, --tsv and --plot" {
    run -0 ml-monitor -f --tsv -c learning_rate -c valid_y_misclass <<EOF
epoch${T}batches${T}examples${T}seconds${T}train_objective${T}valid_y_misclass${T}learning_rate
0${T}0${T}0${T}0${T}2.3${T}0.9${T}0.01
1${T}10${T}1000${T}1.5${T}1.2${T}${T}0.005
EOF
    [ "${#lines[@]}" -eq 3 ]
    [ "${lines[0]}" = "epoch${T}learning_rate${T}valid_y_misclass" ]
    [ "${lines[2]}" = "1${T}0.005${T}" ]
    write_stream stream.tsv
    run -0 ml-monitor -f -q --plot follow.png < stream.tsv
    [ "$(squeeze "${lines[0]}")" = "channel records last best best_epoch" ]
    [ "$(png_size follow.png)" = "800 500 2" ]
}

@test "--follow prints each record before the stream ends" {
    # the writer sends the second record only once the first one was printed
    {
        printf 'epoch\tbatches\texamples\tseconds\ttrain_objective\n0\t0\t0\t0\t1.5\n'
        for _ in $(seq 100); do [ -s out.txt ] && break; sleep 0.05; done
        [ -s out.txt ] && touch seen
        printf '1\t1\t1\t1\t0.5\n'
    } | ml-monitor --follow > out.txt
    [ -e seen ]
    [ "$(sed -n 1p out.txt)" = "epoch 0  train_objective 1.5" ]
    [ "$(sed -n 2p out.txt)" = "epoch 1  train_objective 0.5" ]
}

@test "--follow: bad streams are errors" {
    run -1 --separate-stderr ml-monitor --follow <<< "not a stream"
    [ "$stderr" = "ml-monitor: <stdin>:1: a record before the header line" ]
    : > empty.txt
    run -1 --separate-stderr ml-monitor --follow < empty.txt
    [ "$stderr" = "ml-monitor: <stdin>: not a monitor stream (no header line starting with 'epoch')" ]
    write_stream stream.tsv
    printf '3\t30\n' >> stream.tsv
    run -1 --separate-stderr ml-monitor --follow < stream.tsv
    [ "$stderr" = "ml-monitor: <stdin>:6: expected 7 fields, found 2" ]
    run -1 --separate-stderr ml-monitor --follow -c valid_y_missclass < stream.tsv
    [ "$stderr" = "ml-monitor: <stdin>:2: no channel 'valid_y_missclass' (did you mean 'valid_y_misclass'?)" ]
    run -2 --separate-stderr ml-monitor --follow m.h5
    [ "${stderr_lines[0]}" = "ml-monitor: --follow reads standard input: unexpected operand 'm.h5'" ]
}

@test "--rank: three runs ranked by their best value" {
    make_model_file a.h5 mlp 0.1
    make_model_file b.h5 mlp 0
    make_model_file c.h5 mlp 0.05
    run -0 ml-monitor --rank valid_y_misclass a.h5 b.h5 c.h5
    [ "$(squeeze "${lines[0]}")" = "rank file best best_epoch last epochs" ]
    [ "$(squeeze "${lines[1]}")" = " 1 b.h5 0.2 3 0.22 5" ]
    [ "$(squeeze "${lines[2]}")" = " 2 c.h5 0.25 3 0.27 5" ]
    [ "$(squeeze "${lines[3]}")" = " 3 a.h5 0.3 3 0.32 5" ]
    # several files and one -c: the same ranking; accuracy ranks descending
    run -0 ml-monitor --tsv -c valid_y_accuracy a.h5 b.h5 c.h5
    [ "${lines[1]}" = "1${T}b.h5${T}0.8${T}3${T}0.78${T}5" ]
    [ "${lines[3]}" = "3${T}a.h5${T}0.7${T}3${T}0.68${T}5" ]
}

# three_runs: a.h5, b.h5 and c.h5 trained by ml-train from the same small
# experiment with different -s overrides (a second or so each).
three_runs() {
    make_blobs_train_valid
    write_blobs_experiment exp.yaml
    ml-train -q -o a.h5 exp.yaml > /dev/null
    ml-train -q -s algorithm.learning_rate=0.01 -s model.layers.0.dim=5 -o b.h5 exp.yaml > /dev/null
    ml-train -q -s algorithm.learning_rate=0.5 \
        -s 'algorithm.learning_rule=!obj:Momentum {init_momentum: 0.5}' -o c.h5 exp.yaml > /dev/null
}

@test "--rank: trained runs ranked, with the hyperparameters that differ as columns" {
    three_runs
    run -0 --separate-stderr ml-monitor --tsv --rank valid_objective a.h5 b.h5 c.h5
    [ -z "$stderr" ]
    [ "${#lines[@]}" -eq 4 ]
    # the fixed columns, then the -s paths of what differs, in the experiment's order
    [ "${lines[0]}" = "rank${T}file${T}best${T}best_epoch${T}last${T}epochs${T}model.layers.0.dim${T}algorithm.learning_rate${T}algorithm.learning_rule${T}algorithm.learning_rule.init_momentum" ]
    # c (0.5 with momentum) learns fastest, b (0.01) slowest
    [[ "${lines[1]}" == "1${T}c.h5${T}"*"${T}3${T}10${T}0.5${T}!obj:Momentum${T}0.5" ]]
    [[ "${lines[2]}" == "2${T}a.h5${T}"*"${T}3${T}10${T}0.1${T}${T}" ]]
    [[ "${lines[3]}" == "3${T}b.h5${T}"*"${T}3${T}5${T}0.01${T}${T}" ]]
    # what the runs share is not shown
    [[ "${lines[0]}" != *batch_size* && "${lines[0]}" != *nvis* && "${lines[0]}" != *filename* ]]
    [[ "${lines[0]}" != *layer_name* && "${lines[0]}" != *max_epochs* && "${lines[0]}" != *irange* ]]
    # awk reads it: the best run's file, and the best value of each learning rate
    [ "$(ml-monitor --tsv --rank valid_objective a.h5 b.h5 c.h5 | awk -F '\t' 'NR == 2 { print $2 }')" = "c.h5" ]
    run -0 ml-monitor --tsv --rank valid_objective b.h5 c.h5 a.h5
    [ "$(cut -f 2 <<< "$output" | tr '\n' ' ')" = "file c.h5 a.h5 b.h5 " ]
    # aligned: one word per cell, '-' where a run lacks the key
    run -0 ml-monitor --rank valid_objective a.h5 b.h5 c.h5
    [ "$(squeeze "${lines[0]}")" = "rank file best best_epoch last epochs model.layers.0.dim algorithm.learning_rate algorithm.learning_rule algorithm.learning_rule.init_momentum" ]
    [ "$(awk 'NR == 3 { print $2, $7, $8, $9, $10 }' <<< "$output")" = "a.h5 10 0.1 - -" ]
    [ "$(awk 'NR > 1 { print NF }' <<< "$output" | sort -u)" = "10" ]
    # two runs that differ only in the learning rate: one extra column
    run -0 ml-monitor --tsv -c valid_y_misclass a.h5 b.h5
    [[ "${lines[0]}" == *"${T}epochs${T}model.layers.0.dim${T}algorithm.learning_rate" ]]
    # one run: nothing differs
    run -0 ml-monitor --tsv --rank valid_objective a.h5
    [ "${lines[0]}" = "rank${T}file${T}best${T}best_epoch${T}last${T}epochs" ]
}

@test "--rank: files that cannot be ranked are reported and left out, exit 1" {
    three_runs
    ml-init exp.yaml -o init.h5
    make_dataset_file d.h5
    echo "hello" > text.h5
    run -1 --separate-stderr ml-monitor --tsv --rank valid_objective a.h5 init.h5 d.h5 text.h5 nope.h5 b.h5
    [ "${stderr_lines[0]}" = "ml-monitor: init.h5: no channel 'valid_objective' (there are no monitor records)" ]
    [ "${stderr_lines[1]}" = "ml-monitor: d.h5: not an ml model file (ml_format is 'ml-dataset')" ]
    [ "${stderr_lines[2]}" = "ml-monitor: text.h5: not an HDF5 file" ]
    [ "${stderr_lines[3]}" = "ml-monitor: nope.h5: cannot open: No such file or directory" ]
    [ "${#stderr_lines[@]}" -eq 4 ]
    # the others are still ranked
    [ "${#lines[@]}" -eq 3 ]
    [[ "${lines[1]}" == "1${T}a.h5${T}"* && "${lines[2]}" == "2${T}b.h5${T}"* ]]
    # an /experiment that is not YAML: where it goes wrong
    cp a.h5 bad.h5
    "$(h5py_python)" -c 'import h5py, sys
with h5py.File(sys.argv[1], "a") as f:
    del f["experiment"]
    f["experiment"] = "!obj:Train {\n  a: 1,\n  b: [1, 2\n}\n"' bad.h5
    run -1 --separate-stderr ml-monitor --rank valid_objective bad.h5 b.h5
    [ "$stderr" = "ml-monitor: bad.h5:/experiment:4:1: did not find expected ',' or ']'" ]
    [[ "${lines[1]}" == *" b.h5 "* ]]
    # a misspelt channel: the nearest name, and no table when nothing is left
    run -1 --separate-stderr ml-monitor --rank valid_objectiv a.h5 b.h5
    [ "${stderr_lines[0]}" = "ml-monitor: a.h5: no channel 'valid_objectiv' (did you mean 'valid_objective'?)" ]
    [ "${stderr_lines[1]}" = "ml-monitor: b.h5: no channel 'valid_objectiv' (did you mean 'valid_objective'?)" ]
    [ -z "$output" ]
}

@test "missing file, non-HDF5 file, dataset file" {
    run -1 --separate-stderr ml-monitor nope.h5
    [ "$stderr" = "ml-monitor: nope.h5: cannot open: No such file or directory" ]
    echo "hello" > text.h5
    run -1 --separate-stderr ml-monitor text.h5
    [ "$stderr" = "ml-monitor: text.h5: not an HDF5 file" ]
    make_dataset_file d.h5
    run -1 --separate-stderr ml-monitor d.h5
    [ "$stderr" = "ml-monitor: d.h5: not an ml model file (ml_format is 'ml-dataset')" ]
    [ -z "$output" ]
}

@test "unknown channel: the nearest name is suggested" {
    run -1 --separate-stderr ml-monitor -c valid_y_missclass m.h5
    [ "$stderr" = "ml-monitor: m.h5: no channel 'valid_y_missclass' (did you mean 'valid_y_misclass'?)" ]
    [ -z "$output" ]
    run -1 --separate-stderr ml-monitor --rank zzz m.h5
    [[ "$stderr" == "ml-monitor: m.h5: no channel 'zzz' (channels: train_objective, "* ]]
}

@test "usage errors exit 2" {
    run -2 --separate-stderr ml-monitor --foo m.h5
    [ "${stderr_lines[0]}" = "ml-monitor: unknown option '--foo'" ]
    [ "${stderr_lines[1]}" = "Try 'ml-monitor --help' for more information." ]
    [ "${#stderr_lines[@]}" -eq 2 ]
    [ -z "$output" ]
    run -2 --separate-stderr ml-monitor
    [ "${stderr_lines[0]}" = "ml-monitor: missing MODEL operand" ]
    run -2 --separate-stderr ml-monitor --rank
    [ "${stderr_lines[0]}" = "ml-monitor: option '--rank' requires an argument" ]
    run -2 --separate-stderr ml-monitor --size 10x10 m.h5
    [ "${stderr_lines[0]}" = "ml-monitor: invalid value '10x10' for '--size' (expected WxH, from 200x150 to 8000x8000)" ]
    run -2 --separate-stderr ml-monitor --rank a -c b m.h5
    [[ "${stderr_lines[0]}" == "ml-monitor: --rank and --channel do not go together"* ]]
}

@test "a plot into a missing directory fails and creates nothing" {
    run -1 --separate-stderr ml-monitor --plot no/such/dir/p.png m.h5
    [ "$stderr" = "ml-monitor: no/such/dir/p.png: cannot create: No such file or directory" ]
    [ ! -e no ]
    [ "$(ls -A)" = "m.h5" ]
}

@test "a failure leaves an existing plot file unchanged" {
    echo "old plot" > p.png
    run -1 ml-monitor -c valid_y_missclass --plot p.png m.h5
    [ "$(cat p.png)" = "old plot" ]
    run -1 ml-monitor --plot p.png nope.h5
    [ "$(cat p.png)" = "old plot" ]
    [ "$(ls -A | sort | tr '\n' ' ')" = "m.h5 p.png " ]
}

@test "a plot to a terminal is refused" {
    command -v script > /dev/null || skip "no script(1)"
    run script -qec "ml-monitor --plot - m.h5" /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"ml-monitor: refusing to write binary data to a terminal"* ]]
}

@test "the man page: lint, synopsis and options as in --help, examples run" {
    man="$BATS_TEST_DIRNAME/../man/man1/ml-monitor.1"
    if command -v mandoc > /dev/null; then
        run -0 mandoc -T lint -W warning "$man"
        [ -z "$output" ]
        synopsis=$(mandoc -T ascii "$man" | col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed -n '2,3p' | sed 's/^ *//')
        usage=$(ml-monitor --help | sed -n '1,2p' | sed -e 's/^Usage: //' -e 's/^ *//')
        [ "$synopsis" = "$usage" ]
    fi
    for opt in $(ml-monitor --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        grep -qF -- "\\${opt#-}" "$man" || { echo "missing $opt"; false; }
    done
    # EXAMPLES, with a stand-in for ml-train that prints a monitor stream
    make_model_file model.h5
    make_model_file run-1.h5 mlp 0.1
    make_model_file run-2.h5 mlp 0
    write_stream stream.tsv
    ml-train() { cat "$BATS_TEST_TMPDIR/w/stream.tsv"; }
    export -f ml-train
    sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' "$man" | sed -n 's/^\.Dl //p' | sed 's/\\-/-/g' > examples.sh
    [ "$(wc -l < examples.sh)" -ge 5 ]
    run -0 bash -e examples.sh
    [ "$(png_size runs.png)" = "800 500 2" ]
    [ "$(png_size loss.png)" = "800 500 2" ]
    [ "$(png_size progress.png)" = "800 500 2" ]
}
