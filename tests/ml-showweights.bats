#!/usr/bin/env bats
# ml-showweights: grids of dense, colour and convolutional filters, the
# options of the grid, and the messages for bad input.
bats_require_minimum_version 1.5.0
load test_helper

setup() {
    # a folder of its own: bats keeps files of its own in $BATS_TEST_TMPDIR
    mkdir -p "$BATS_TEST_TMPDIR/w"
    cd "$BATS_TEST_TMPDIR/w"
    make_model_file m.h5
}

@test "--help prints the usage on stdout, --version the version" {
    run -0 --separate-stderr ml-showweights --help
    [ "${lines[0]}" = "Usage: ml-showweights [OPTIONS] MODEL" ]
    [[ "$output" == *"--scale MODE"* ]]
    [ -z "$stderr" ]
    run -0 ml-showweights --version
    [ "${lines[0]}" = "ml-showweights (ml) 0.1.0" ]
}

@test "the first layer of a dense model: a gray grid of its units" {
    run -0 --separate-stderr ml-showweights -v m.h5 -o w.png
    [ -z "$output" ]
    [ "$stderr" = "ml-showweights: wrote w.png: layer 'h0', 10 filters of 1x8x8 (101x76 pixels)" ]
    # 10 tiles of 8x8 drawn 3 times larger, 4 a row, 1-pixel borders
    [ "$(png_size w.png)" = "101 76 0" ]
    [ "$(ls -A)" = "$(printf 'm.h5\nw.png')" ]
}

@test "--cols, --zoom, --border, --scale and --range" {
    run -0 ml-showweights --cols 5 --zoom 2 m.h5 -o w.png
    [ "$(png_size w.png)" = "86 35 0" ]
    run -0 ml-showweights -c 10 -z 1 --border 0 --scale global --range minmax m.h5 -o w.png
    [ "$(png_size w.png)" = "80 8 0" ]
    run -0 ml-showweights -s individual --range symmetric --output w.png m.h5
    [ "$(png_size w.png)" = "101 76 0" ]
}

@test "colour inputs give an RGB grid" {
    make_model_file rgb.h5 rgb
    run -0 ml-showweights rgb.h5 -o rgb.png
    [ "$(png_size rgb.png)" = "76 51 2" ]
}

@test "a vector input of a square size gives square tiles" {
    make_model_file v.h5 vector
    run -0 ml-showweights v.h5 -o v.png
    [ "$(png_size v.png)" = "76 51 0" ]
}

@test "convolutional filters: gray, colour, and one row per filter for other channels" {
    make_model_file conv.h5 conv
    run -0 ml-showweights conv.h5 -o c0.png
    [ "$(png_size c0.png)" = "51 51 0" ]
    run -0 --separate-stderr ml-showweights -v --layer c1 conv.h5 -o c1.png
    [[ "$stderr" == *"6 filters of 4x3x3"* ]]
    # 6 filters x 4 channels: 4 tiles a row, 6 rows, 3x3 tiles zoomed 8 times
    [ "$(png_size c1.png)" = "101 151 0" ]
    make_model_file conv3.h5 conv3
    run -0 ml-showweights conv3.h5 -o c3.png
    [ "$(png_size c3.png)" = "76 51 2" ]
}

@test "the PNG to standard output" {
    ml-showweights m.h5 -o - > a.png
    [ "$(png_size a.png)" = "101 76 0" ]
    ml-showweights m.h5 > b.png
    cmp a.png b.png
    ml-showweights - -o c.png < m.h5
    cmp a.png c.png
}

@test "binary output to a terminal is refused" {
    command -v script > /dev/null || skip "no script(1)"
    run script -qec "ml-showweights m.h5 -o -" /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"ml-showweights: refusing to write binary data to a terminal"* ]]
    run script -qec "ml-showweights m.h5" /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"ml-showweights: no output file given (-o) and standard output is a terminal"* ]]
}

@test "layers that do not exist or are not images" {
    run -1 --separate-stderr ml-showweights --layer h9 m.h5 -o w.png
    [ "$stderr" = "ml-showweights: m.h5: no layer 'h9' (layers: h0, y)" ]
    run -1 --separate-stderr ml-showweights --layer y m.h5 -o w.png
    [ "$stderr" = "ml-showweights: m.h5: layer 'y': 10 inputs are not an image (neither an image input shape nor a perfect square)" ]
    make_model_file v50.h5 vector50
    run -1 --separate-stderr ml-showweights v50.h5 -o w.png
    [ "$stderr" = "ml-showweights: v50.h5: layer 'h0': 50 inputs are not an image (neither an image input shape nor a perfect square)" ]
    [ ! -e w.png ]
}

@test "missing file, non-HDF5 file, dataset file" {
    run -1 --separate-stderr ml-showweights nope.h5 -o w.png
    [ "$stderr" = "ml-showweights: nope.h5: cannot open: No such file or directory" ]
    echo "hello" > text.h5
    run -1 --separate-stderr ml-showweights text.h5 -o w.png
    [ "$stderr" = "ml-showweights: text.h5: not an HDF5 file" ]
    make_dataset_file d.h5
    run -1 --separate-stderr ml-showweights d.h5 -o w.png
    [ "$stderr" = "ml-showweights: d.h5: not an ml model file (ml_format is 'ml-dataset')" ]
    [ ! -e w.png ]
}

@test "usage errors exit 2" {
    run -2 --separate-stderr ml-showweights --foo m.h5
    [ "${stderr_lines[0]}" = "ml-showweights: unknown option '--foo'" ]
    [ "${stderr_lines[1]}" = "Try 'ml-showweights --help' for more information." ]
    run -2 --separate-stderr ml-showweights -o w.png
    [ "${stderr_lines[0]}" = "ml-showweights: missing MODEL operand" ]
    run -2 --separate-stderr ml-showweights m.h5 m.h5 -o w.png
    [ "${stderr_lines[0]}" = "ml-showweights: extra operand 'm.h5'" ]
    run -2 --separate-stderr ml-showweights --scale local m.h5 -o w.png
    [ "${stderr_lines[0]}" = "ml-showweights: invalid value 'local' for '--scale' (expected 'individual' or 'global')" ]
    run -2 --separate-stderr ml-showweights --zoom 0 m.h5 -o w.png
    [ "${stderr_lines[0]}" = "ml-showweights: invalid value '0' for '--zoom' (expected an integer from 1 to 64)" ]
    [ ! -e w.png ]
}

@test "an output directory that does not exist: exit 1, nothing created" {
    run -1 --separate-stderr ml-showweights m.h5 -o no/such/w.png
    [ "$stderr" = "ml-showweights: no/such/w.png: cannot create: No such file or directory" ]
    [ "$(ls -A)" = "m.h5" ]
}

@test "a failure leaves an existing output file unchanged" {
    echo "old image" > w.png
    run -1 ml-showweights --layer h9 m.h5 -o w.png
    [ "$(cat w.png)" = "old image" ]
    run -1 ml-showweights nope.h5 -o w.png
    [ "$(cat w.png)" = "old image" ]
    [ "$(ls -A | sort | tr '\n' ' ')" = "m.h5 w.png " ]
}

@test "the man page: lint, synopsis and options as in --help, examples run" {
    man="$BATS_TEST_DIRNAME/../man/man1/ml-showweights.1"
    if command -v mandoc > /dev/null; then
        run -0 mandoc -T lint -W warning "$man"
        [ -z "$output" ]
        synopsis=$(mandoc -T ascii "$man" | col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed -n 2p | sed 's/^ *//')
        [ "$synopsis" = "$(ml-showweights --help | sed -n '1s/^Usage: //p')" ]
    fi
    for opt in $(ml-showweights --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        grep -qF -- "\\${opt#-}" "$man" || { echo "missing $opt"; false; }
    done
    make_model_file model.h5
    make_model_file conv.h5 conv
    sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' "$man" | sed -n 's/^\.Dl //p' | sed 's/\\-/-/g' > examples.sh
    [ "$(wc -l < examples.sh)" -ge 3 ]
    run -0 bash -e examples.sh
    [ "$(png_size weights.png)" = "101 76 0" ]
    [ "$(png_size weights-global.png)" = "265 67 0" ]
    [ "$(png_size filters.png)" = "51 51 0" ]
}
