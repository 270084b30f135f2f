#!/usr/bin/env bats
# ml-preprocess gcn, remove-mean, zca, pca and apply: fit, save, apply again
# (the same numbers), another number of features refused with no output, and,
# when /usr/bin/python3 has numpy, the outputs checked against numpy: GCN rows
# with zero mean and norm --scale, columns with zero mean after remove-mean,
# the ZCA-whitened covariance equal to V diag(l / (l + filter_bias)) V^T of the
# input's covariance, and orthonormal PCA components.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    T=$BATS_TEST_TMPDIR
    cd "$T"
}

# make_random_dataset FILE N [SEED]: N random 5 x 5 byte images (a full-rank
# covariance), imported (pixels scaled to [0, 1]).
make_random_dataset() {
    python3 - "$T/rand.$3.idx" "$2" "${3:-1}" <<'PY'
import random, struct, sys
path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(seed)
data = bytearray(struct.pack(">IIII", 0x803, n, 5, 5))
for i in range(n):
    base = r.randrange(0, 128)
    data += bytes(min(255, base + r.randrange(0, 128) * ((p % 3) + 1) // 3) for p in range(25))
open(path, "wb").write(bytes(data))
PY
    ml-preprocess import idx "$T/rand.$3.idx" -o "$1"
}

# numpy_python: /usr/bin/python3 (or python3) when it imports numpy; skips otherwise.
numpy_python() {
    local py
    for py in /usr/bin/python3 python3; do
        if "$py" -c 'import numpy' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

# dump FILE DATASET OUT: the values of DATASET as text, one row per line.
dump() {
    h5dump -y -w 0 -d "$2" -o "$3" "$1" > /dev/null
}

no_temporaries() {
    [ -z "$(find "$T" -name '.*.tmp.*')" ]
}

@test "gcn, remove-mean, zca, pca: fit, save, and the saved transform gives the same numbers" {
    make_random_dataset d.h5 60 1
    local cmd opts
    for cmd in gcn remove-mean zca pca; do
        case $cmd in
            gcn) opts="--scale 2 --sqrt-bias 0.5" ;;
            zca) opts="--filter-bias 0.01 --store-inverse" ;;
            pca) opts="--num-components 7 --whiten" ;;
            *) opts="" ;;
        esac
        run -0 ml-preprocess $cmd --fit $opts --save-transform $cmd.t.h5 d.h5 -o $cmd.fit.h5
        run -0 ml-preprocess info $cmd.t.h5
        [[ "$output" == *"transform: $cmd"* ]]
        [[ "$output" == *"features: 25"* ]]
        [[ "$output" == *"fitted on: 60 examples"* ]]
        run -0 ml-preprocess $cmd --transform $cmd.t.h5 d.h5 -o $cmd.again.h5
        run -0 ml-preprocess apply $cmd.t.h5 d.h5 -o $cmd.apply.h5
        dump $cmd.fit.h5 /X a.txt
        dump $cmd.again.h5 /X b.txt
        dump $cmd.apply.h5 /X c.txt
        cmp a.txt b.txt
        cmp a.txt c.txt
        run -0 ml-preprocess info $cmd.apply.h5
        [[ "$output" == *"  ml-preprocess apply $cmd.t.h5 d.h5 -o $cmd.apply.h5"* ]]
    done
    run -0 ml-preprocess info gcn.t.h5
    [[ "$output" == *"scale: 2"* && "$output" == *"sqrt_bias: 0.5"* && "$output" == *"use_std: 0"* ]]
    run -0 ml-preprocess info zca.t.h5
    [[ "$output" == *"filter_bias: 0.01"* && "$output" == *"store_inverse: 1"* ]]
    run -0 ml-preprocess info pca.t.h5
    [[ "$output" == *"outputs: 7"* && "$output" == *"whiten: 1"* ]]
    run -0 ml-preprocess info pca.fit.h5
    [[ "$output" == *"X: float32 [60, 7]"* ]]
    h5dump -H -d /W zca.t.h5 | grep -q 'DATASPACE  SIMPLE { ( 25, 25 )'
    h5dump -H -d /W_inv zca.t.h5 | grep -q 'DATASPACE  SIMPLE { ( 25, 25 )'
    h5dump -H -d /W pca.t.h5 | grep -q 'DATASPACE  SIMPLE { ( 25, 7 )'
    no_temporaries
}

@test "a transform fitted on another number of features is refused, with no output" {
    make_random_dataset d.h5 40 2
    make_idx_dataset other.h5 10
    local cmd
    for cmd in gcn remove-mean zca pca; do
        ml-preprocess $cmd --fit --save-transform $cmd.t.h5 d.h5 -o /dev/null
        run -1 --separate-stderr ml-preprocess $cmd --transform $cmd.t.h5 other.h5 -o out.h5
        [ "$stderr" = "ml-preprocess: other.h5: transform $cmd.t.h5 was fitted on 25 features, the data has 16" ]
        [ ! -e out.h5 ]
        run -1 --separate-stderr ml-preprocess apply $cmd.t.h5 other.h5 -o out.h5
        [ "$stderr" = "ml-preprocess: other.h5: transform $cmd.t.h5 was fitted on 25 features, the data has 16" ]
        [ ! -e out.h5 ]
    done
    no_temporaries
}

@test "usage errors: a transform of another kind, options of another command, bad values" {
    make_random_dataset d.h5 20 3
    ml-preprocess pca --fit --save-transform p.h5 d.h5 -o /dev/null
    run -1 --separate-stderr ml-preprocess zca --transform p.h5 d.h5 -o out.h5
    [ "$stderr" = "ml-preprocess: p.h5: a pca transform, not zca (use 'ml-preprocess apply')" ]
    [ ! -e out.h5 ]
    run -2 --separate-stderr ml-preprocess zca --fit --whiten d.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: option '--whiten' does not apply to 'zca'" ]
    run -2 --separate-stderr ml-preprocess gcn d.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: gcn: give either --fit or --transform T" ]
    run -2 --separate-stderr ml-preprocess zca --transform p.h5 --filter-bias 1 d.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: zca: '--filter-bias' goes with --fit, not --transform" ]
    run -2 --separate-stderr ml-preprocess gcn --fit --scale 0 d.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: invalid value '0' for '--scale' (expected a positive number)" ]
    run -2 --separate-stderr ml-preprocess pca --fit --num-components 0 d.h5 -o out.h5
    [[ "${stderr_lines[0]}" == "ml-preprocess: invalid value '0' for '--num-components'"* ]]
    run -2 --separate-stderr ml-preprocess apply p.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: apply: missing T and IN" ]
    run -1 --separate-stderr ml-preprocess pca --fit --num-components 26 d.h5 -o out.h5
    [ "$stderr" = "ml-preprocess: d.h5: pca asks for 26 components, the data has 25 features" ]
    [ ! -e out.h5 ]
}

@test "the pipe: import | zca --fit - | apply" {
    make_random_dataset d.h5 30 4
    ml-preprocess zca --fit --save-transform z.h5 d.h5 -o z1.h5
    ml-preprocess shuffle --seed 0 d.h5 -o - | ml-preprocess shuffle --seed 0 - -o - > /dev/null
    cat d.h5 | ml-preprocess apply z.h5 - -o z2.h5
    dump z1.h5 /X a.txt
    dump z2.h5 /X b.txt
    cmp a.txt b.txt
}

@test "numpy: gcn rows have zero mean and norm --scale; remove-mean columns zero mean" {
    py=$(numpy_python) || skip "no /usr/bin/python3 with numpy (apt-get install python3-numpy)"
    make_random_dataset d.h5 50 5
    ml-preprocess gcn --fit --scale 3 d.h5 -o g.h5
    ml-preprocess gcn --fit --use-std --scale 2 --sqrt-bias 0.1 d.h5 -o gs.h5
    ml-preprocess remove-mean --fit d.h5 -o r.h5
    dump d.h5 /X x.txt
    dump g.h5 /X g.txt
    dump gs.h5 /X gs.txt
    dump r.h5 /X r.txt
    "$py" - <<'PY'
import numpy as np
load = lambda p: np.array(open(p).read().replace(",", " ").split(), dtype=np.float64).reshape(-1, 25)
x, g, gs, r = load("x.txt"), load("g.txt"), load("gs.txt"), load("r.txt")
assert np.abs(g.mean(axis=1)).max() < 1e-5, g.mean(axis=1)
assert np.abs(np.linalg.norm(g, axis=1) - 3).max() < 1e-4
c = x - x.mean(axis=1, keepdims=True)
want = c / (np.sqrt(0.1 + c.var(axis=1, ddof=1)) / 2)[:, None]
assert np.abs(gs - want).max() < 1e-4, np.abs(gs - want).max()
assert np.abs(r - (x - x.mean(axis=0))).max() < 1e-5
assert np.abs(r.mean(axis=0)).max() < 1e-5
PY
}

@test "numpy: the ZCA-whitened covariance is V diag(l / (l + b)) V^T, PCA components orthonormal" {
    py=$(numpy_python) || skip "no /usr/bin/python3 with numpy (apt-get install python3-numpy)"
    make_random_dataset d.h5 400 6
    ml-preprocess zca --fit --filter-bias 0.05 d.h5 -o z.h5
    ml-preprocess pca --fit --num-components 10 --save-transform p.h5 d.h5 -o p.h5out
    ml-preprocess pca --fit --num-components 10 --whiten d.h5 -o pw.h5
    dump d.h5 /X x.txt
    dump z.h5 /X z.txt
    dump p.h5 /W w.txt
    dump pw.h5 /X pw.txt
    "$py" - <<'PY'
import numpy as np
load = lambda p, k: np.array(open(p).read().replace(",", " ").split(), dtype=np.float64).reshape(-1, k)
x, z, w, pw = load("x.txt", 25), load("z.txt", 25), load("w.txt", 10), load("pw.txt", 10)
c = np.cov(x, rowvar=False, bias=True)
l, v = np.linalg.eigh(c)
want = v @ np.diag(l / (l + 0.05)) @ v.T
got = np.cov(z, rowvar=False, bias=True)
assert np.abs(got - want).max() < 1e-3, np.abs(got - want).max()
assert np.abs(w.T @ w - np.eye(10)).max() < 1e-4
# the top 10 eigenvalues, and whitened PCA output has identity covariance
top = l[::-1][:10]
assert np.abs(np.diag(w.T @ c @ w) - top).max() < 1e-4 * top[0]
assert np.abs(np.cov(pw, rowvar=False, bias=True) - np.eye(10)).max() < 1e-3
PY
}

@test "lcn: images only; fit, save, apply again; another image size refused" {
    make_random_dataset d.h5 12 7
    run -0 ml-preprocess lcn --fit --kernel-size 3 --save-transform l.h5 d.h5 -o l1.h5
    run -0 ml-preprocess info l.h5
    [[ "$output" == *"transform: lcn"* && "$output" == *"kernel_size: 3"* ]]
    [[ "$output" == *"image shape: 1 x 5 x 5 (C x H x W)"* ]]
    run -0 ml-preprocess apply l.h5 d.h5 -o l2.h5
    dump l1.h5 /X a.txt
    dump l2.h5 /X b.txt
    cmp a.txt b.txt
    run -2 --separate-stderr ml-preprocess lcn --fit --kernel-size 4 d.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: invalid value '4' for '--kernel-size' (expected an odd number)" ]
    make_idx_dataset other.h5 5
    run -1 --separate-stderr ml-preprocess apply l.h5 other.h5 -o out.h5
    [ "$stderr" = "ml-preprocess: other.h5: transform l.h5 was fitted on 25 features, the data has 16" ]
    ml-preprocess pca --fit --num-components 3 d.h5 -o flat.h5
    run -1 --separate-stderr ml-preprocess lcn --fit flat.h5 -o out.h5
    [ "$stderr" = "ml-preprocess: flat.h5: lcn needs images (the file has no image shape)" ]
    [ ! -e out.h5 ]
}

@test "numpy: lcn is Pylearn2's lecun_lcn" {
    py=$(numpy_python) || skip "no /usr/bin/python3 with numpy (apt-get install python3-numpy)"
    make_random_dataset d.h5 6 8
    ml-preprocess lcn --fit d.h5 -o l.h5
    dump d.h5 /X x.txt
    dump l.h5 /X l.txt
    "$py" - <<'PY'
import numpy as np
load = lambda p: np.array(open(p).read().replace(",", " ").split(), dtype=np.float64).reshape(-1, 5, 5)
x, got = load("x.txt"), load("l.txt")
k, mid = 7, 3
g = np.array([[np.exp(-((a - mid) ** 2 + (b - mid) ** 2) / 8.0) for b in range(k)] for a in range(k)])
g /= g.sum()
def full_conv_mid(img):
    out = np.zeros((img.shape[0] + k - 1, img.shape[1] + k - 1))
    for p in range(img.shape[0]):
        for q in range(img.shape[1]):
            out[p:p + k, q:q + k] += img[p, q] * g[::-1, ::-1]
    return out[mid:-mid, mid:-mid]
for img, y in zip(x, got):
    centered = img - full_conv_mid(img)
    denom = np.sqrt(full_conv_mid(img ** 2))
    divisor = np.maximum(np.maximum(denom.mean(), denom), 1e-4)
    assert np.abs(centered / divisor - y).max() < 1e-5, np.abs(centered / divisor - y).max()
PY
}

@test "patches: random patches of the images, the same for the same seed, with labels" {
    make_idx_dataset d.h5 6
    run -0 ml-preprocess patches --fit --patch-shape 2x3 --num-patches 25 --seed 5 --save-transform p.h5 d.h5 -o a.h5
    run -0 ml-preprocess info a.h5
    [[ "$output" == *"examples: 25"* ]]
    [[ "$output" == *"X: float32 [25, 6]"* ]]
    [[ "$output" == *"image shape: 1 x 2 x 3 (C x H x W)"* ]]
    [[ "$output" == *"y: int32 [25]"* ]]
    run -0 ml-preprocess info p.h5
    [[ "$output" == *"patch_shape: 2 x 3"* && "$output" == *"num_patches: 25"* && "$output" == *"seed: 5"* ]]
    ml-preprocess apply p.h5 d.h5 -o b.h5
    ml-preprocess patches --fit --patch-shape 2x3 --num-patches 25 --seed 5 d.h5 -o c.h5
    ml-preprocess patches --fit --patch-shape 2x3 --num-patches 25 --seed 6 d.h5 -o e.h5
    dump a.h5 /X a.txt
    dump b.h5 /X b.txt
    dump c.h5 /X c.txt
    dump e.h5 /X e.txt
    cmp a.txt b.txt
    cmp a.txt c.txt
    ! cmp -s a.txt e.txt
    run -2 --separate-stderr ml-preprocess patches --fit --patch-shape 2x3 d.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: patches: --fit needs --num-patches" ]
    run -1 --separate-stderr ml-preprocess patches --fit --patch-shape 5x3 --num-patches 2 d.h5 -o out.h5
    [ "$stderr" = "ml-preprocess: d.h5: patches of 5 x 3 do not fit images of 4 x 4" ]
    [ ! -e out.h5 ]
}

@test "pipeline: transforms joined into one file that apply applies in order" {
    make_random_dataset d.h5 50 9
    ml-preprocess remove-mean --fit --save-transform r.h5 d.h5 -o r.out.h5
    ml-preprocess pca --fit --num-components 6 --whiten --save-transform p.h5 r.out.h5 -o p.out.h5
    ml-preprocess gcn --fit --scale 2 --save-transform g.h5 p.out.h5 -o g.out.h5
    run -0 ml-preprocess pipeline r.h5 p.h5 g.h5 -o all.h5
    run -0 ml-preprocess info all.h5
    [[ "$output" == *"transform: pipeline"* ]]
    [[ "$output" == *"features: 25"* && "$output" == *"outputs: 6"* ]]
    [[ "$output" == *"item 1:"*"  transform: pca"* ]]
    [[ "$output" == *"  ml-preprocess pipeline r.h5 p.h5 g.h5 -o all.h5"* ]]
    run -0 ml-preprocess apply all.h5 d.h5 -o all.out.h5
    dump g.out.h5 /X a.txt
    dump all.out.h5 /X b.txt
    cmp a.txt b.txt
    h5dump -H -d /1/W all.h5 | grep -q 'DATASPACE  SIMPLE { ( 25, 6 )'
    # a pipeline of pipelines
    ml-preprocess pipeline all.h5 -o nested.h5
    ml-preprocess apply nested.h5 d.h5 -o nested.out.h5
    dump nested.out.h5 /X c.txt
    cmp a.txt c.txt
    # items that do not fit together
    run -1 --separate-stderr ml-preprocess pipeline p.h5 r.h5 -o bad.h5
    [ "$stderr" = "ml-preprocess: pipeline item 1 (remove-mean) takes 25 features, item 0 (pca) gives 6" ]
    [ ! -e bad.h5 ]
    run -1 --separate-stderr ml-preprocess apply all.h5 p.out.h5 -o out.h5
    [ "$stderr" = "ml-preprocess: p.out.h5: transform all.h5 was fitted on 25 features, the data has 6" ]
    [ ! -e out.h5 ]
    no_temporaries
}
