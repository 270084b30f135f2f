#!/usr/bin/env bats
# The manual pages: mandoc has nothing to warn about in any of them, each
# program's page names exactly the long options of its --help, and
# ml-experiment(5) says what the parameter tables of the code say.

bats_require_minimum_version 1.5.0
load test_helper

ROOT="$BATS_TEST_DIRNAME/.."
MAN="$ROOT/man"

setup() {
    command -v mandoc >/dev/null || {
        echo "mandoc is not installed (apt-get install mandoc)" >&2
        return 1
    }
}

# The long options of PROGRAM's --help: the option table's lines, indented,
# that start with "-x, --name" or "--name".
help_options() {
    "$1" --help | sed -n -E 's/^ +(-[A-Za-z0-9], )?(--[a-z][a-z0-9-]*).*/\2/p' | sort -u
}

# The long options named in the SYNOPSIS and OPTIONS sections of a page, as
# mandoc renders them.
page_options() {
    mandoc -T ascii -O width=1000 "$1" | sed -e 's/.\x08//g' |
        awk '/^[A-Z]/ { keep = ($0 == "SYNOPSIS" || $0 == "OPTIONS") } keep' |
        grep -o -E -e '--[a-z][a-z0-9-]*' | sort -u
}

# The OPTIONS section of a page as text.
page_options_section() {
    mandoc -T ascii -O width=1000 "$1" | sed -e 's/.\x08//g' |
        awk '/^[A-Z]/ { keep = ($0 == "OPTIONS") } keep'
}

# check_page PROGRAM [PAGE]: its --help and its page (man/man1/PROGRAM.1)
# name the same long options, and each "-x, --name" pair of --help is in the
# page's OPTIONS.
check_page() {
    local prog=$1 page=${2:-$MAN/man1/$1.1} help in_page status=0
    [ -f "$page" ] || { echo "no page $page"; return 1; }
    help=$(help_options "$prog")
    in_page=$(page_options "$page")
    [ -n "$help" ] || { echo "$prog --help lists no long option"; return 1; }
    local missing extra
    missing=$(comm -23 <(echo "$help") <(echo "$in_page"))
    extra=$(comm -13 <(echo "$help") <(echo "$in_page"))
    if [ -n "$missing" ]; then
        echo "in '$prog --help' but not in the SYNOPSIS or OPTIONS of $page:" $missing
        status=1
    fi
    if [ -n "$extra" ]; then
        echo "in the SYNOPSIS or OPTIONS of $page but not in '$prog --help':" $extra
        status=1
    fi
    local section pair
    section=$(page_options_section "$page")
    while read -r pair; do
        [ -n "$pair" ] || continue
        if ! grep -q -F -e "$pair" <<<"$section"; then
            echo "'$pair' of '$prog --help' is not in the OPTIONS of $page"
            status=1
        fi
    done < <("$prog" --help | sed -n -E 's/^ +(-[A-Za-z0-9], --[a-z][a-z0-9-]*).*/\1/p')
    return $status
}

@test "every program has a page, and every page of the manual exists" {
    local p
    for p in "$ROOT"/cmd/ml-*.c; do
        p=$(basename "$p" .c)
        [ -f "$MAN/man1/$p.1" ] || { echo "no page man/man1/$p.1"; return 1; }
    done
    for p in man5/ml-experiment.5 man5/ml-files.5 man7/ml.7; do
        [ -f "$MAN/$p" ] || { echo "no page man/$p"; return 1; }
    done
}

@test "mandoc -T lint -W warning finds nothing in any page" {
    local page out status=0
    for page in "$MAN"/man*/*.[1-9]; do
        out=$(mandoc -T lint -W warning "$page" 2>&1) || status=1
        if [ -n "$out" ]; then
            echo "$out"
            status=1
        fi
    done
    return $status
}

@test "groff -mandoc -ww finds nothing in any page" {
    command -v groff >/dev/null || skip "groff is not installed"
    local page out status=0
    for page in "$MAN"/man*/*.[1-9]; do
        out=$(groff -mandoc -ww -z "$page" 2>&1) || status=1
        if [ -n "$out" ]; then
            echo "$page: $out"
            status=1
        fi
    done
    return $status
}

@test "the pages refer only to pages that exist" {
    local page ref status=0
    for page in "$MAN"/man*/*.[1-9]; do
        while read -r ref; do
            local name=${ref% *} section=${ref#* }
            if [ ! -f "$MAN/man$section/$name.$section" ]; then
                echo "$page refers to $name($section), which is not in man/"
                status=1
            fi
        done < <(grep -o -E 'Xr ml(-[a-z]+)? [1-9]' "$page" | sed 's/^Xr //' | sort -u)
    done
    return $status
}

@test "ml-preprocess(1) names the options of ml-preprocess --help" {
    check_page ml-preprocess
}

@test "ml-init(1) names the options of ml-init --help" {
    check_page ml-init
}

@test "ml-train(1) names the options of ml-train --help" {
    check_page ml-train
}

@test "ml-eval(1) names the options of ml-eval --help" {
    check_page ml-eval
}

@test "ml-monitor(1) names the options of ml-monitor --help" {
    check_page ml-monitor
}

@test "ml-showweights(1) names the options of ml-showweights --help" {
    check_page ml-showweights
}

@test "the option check catches an option missing from a page, or one too many" {
    grep -v -e 'Fl -seed' "$MAN/man1/ml-init.1" > "$BATS_TEST_TMPDIR/ml-init.1"
    run -1 check_page ml-init "$BATS_TEST_TMPDIR/ml-init.1"
    [[ "$output" == *"not in the SYNOPSIS or OPTIONS"*--seed* ]]
    sed -e 's/^\.It Fl -device Ar dev$/.It Fl -bogus\n&/' "$MAN/man1/ml-init.1" > "$BATS_TEST_TMPDIR/ml-init.1"
    run -1 check_page ml-init "$BATS_TEST_TMPDIR/ml-init.1"
    [[ "$output" == *"not in 'ml-init --help': --bogus"* ]]
    sed -e 's/^\.It Fl o , -output Ar file$/.It Fl -output Ar file/' "$MAN/man1/ml-init.1" > "$BATS_TEST_TMPDIR/ml-init.1"
    run -1 check_page ml-init "$BATS_TEST_TMPDIR/ml-init.1"
    [[ "$output" == *"'-o, --output' of 'ml-init --help' is not in the OPTIONS"* ]]
}

@test "ml-experiment(5) is up to date with the component tables (make man)" {
    local gen="$ROOT/tools/ml-reference"
    [ -x "$gen" ] || { echo "$gen is not built: run 'make tools/ml-reference'"; return 1; }
    "$gen" > "$BATS_TEST_TMPDIR/components"
    [ -s "$BATS_TEST_TMPDIR/components" ]
    grep -q -x '@COMPONENTS@' "$MAN/man5/ml-experiment.5.in"
    awk -v ref="$BATS_TEST_TMPDIR/components" \
        '$0 == "@COMPONENTS@" { while ((getline line < ref) > 0) print line; next } { print }' \
        "$MAN/man5/ml-experiment.5.in" > "$BATS_TEST_TMPDIR/ml-experiment.5"
    run diff -u "$MAN/man5/ml-experiment.5" "$BATS_TEST_TMPDIR/ml-experiment.5"
    if [ "$status" -ne 0 ]; then
        echo "$output"
        echo "man/man5/ml-experiment.5 is out of date: run 'make man'"
        return 1
    fi
}

@test "ml-experiment(5) lists every component and parameter" {
    local text
    text=$(mandoc -T ascii -O width=1000 "$MAN/man5/ml-experiment.5" | sed -e 's/.\x08//g')
    # Every component of the plain-text reference, by name, and each of its
    # parameters with its type, as the page shows them.
    local line name status=0 n=0
    while IFS= read -r line; do
        if [[ "$line" =~ ^([A-Za-z0-9]+)\ \[ ]]; then
            name=${BASH_REMATCH[1]}
            n=$((n + 1))
            grep -q -E "^ +$name( |$)" <<<"$text" || { echo "no component $name in the page"; status=1; }
        elif [[ "$line" =~ ^\ {4}([A-Za-z_][A-Za-z0-9_]*)\ +([^,]+), ]]; then
            grep -q -F -e "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}" <<<"$text" ||
                { echo "no parameter '${BASH_REMATCH[1]} ${BASH_REMATCH[2]}' ($name) in the page"; status=1; }
        fi
    done < <("$ROOT/tools/ml-reference" --text)
    [ "$n" -ge 20 ] || { echo "only $n components in ml-reference --text"; status=1; }
    return $status
}
