#!/usr/bin/env bash
# Driver of the fuzzing recipes (Justfile section "fuzzing"). Run from anywhere; paths are relative
# to the repository. Nightly is used only here (cargo +nightly fuzz); the replay tool builds on stable.
#
#   fuzz.sh corpus                      seed fuzz/corpus/<target>/ from vectors/
#   fuzz.sh build [TARGET]              build the cargo-fuzz targets (all by default)
#   fuzz.sh run TARGET [SECONDS]        one cargo-fuzz target (default 60 s)
#   fuzz.sh go TARGET [SECONDS]         one Go native fuzz target (FuzzRojSeeded, FuzzKorSeeded, FuzzCtlSeeded)
#   fuzz.sh smoke                       every target briefly (bounded runs): proves they build and run
#   fuzz.sh overnight [SLICE] [ROUNDS]  all targets time-sliced, then merge/minimise corpora, minimise
#                                       findings, cross-check corpora through the Go node, summary
#   fuzz.sh replay FILE...              every parser's verdict on each file (Go corpus files too)
#   fuzz.sh crosscheck                  replay every differential corpus entry through all parsers
#                                       (incl. Go); prints only the inputs they disagree on
#
# Every cargo-fuzz build goes through tools/rustc-cov-scope.sh: the crates in EKC_FUZZ_UNCOVERED
# (default: the JSON Schema validator's dependency tree) get no coverage counters, which keeps
# libFuzzer's per-execution counter scan small (README.md, "Coverage scope"). Cargo does not see
# the wrapper in its fingerprints, so scoped builds have their own target folders (fuzz/target/scoped,
# fuzz/target/scoped-none); after editing the list, delete them. EKC_FUZZ_UNCOVERED= (empty)
# instruments every crate and builds where a plain `cargo fuzz run` does (fuzz/target).
#
# EKC_FUZZ_SANITIZER=none (run and build) builds without ASan/UBSan (`cargo fuzz -s none`, coverage
# feedback kept): the throughput build. The default is address (ASan, and UBSan in trap mode for the
# C code), which every other command uses.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fuzz="$root/fuzz"
targets=(roj_judge kor_frame vv_lww ctl_request diff_roj diff_kor pcap_ingest c_mdns)
go_targets=(FuzzRojSeeded FuzzKorSeeded FuzzCtlSeeded)
go_dir="$root/reference-impls/go"
go_env=(env GO111MODULE=off GOPROXY=off GOFLAGS= "GOPATH=$go_dir/bin/gopath:/usr/share/gocode" "GOCACHE=$fuzz/target/go-cache")
replay_target=${EKC_FUZZ_REPLAY_TARGET:-$fuzz/target/replay}
sanitizer=${EKC_FUZZ_SANITIZER:-address}
# Third-party crates that only the JSON Schema validator uses: not the code under test, and 97% of
# an EK-ROJ target's coverage counters (tools/rustc-cov-scope.sh).
uncovered_default="jsonschema jsonschema_regex jsonschema_value referencing regex regex_automata regex_syntax
    aho_corasick memchr fancy_regex data_encoding email_address fluent_uri borrow_or_share fraction num
    num_bigint num_rational num_complex num_integer num_iter num_cmp bit_set bit_vec bytecount uuid_simd
    outref micromap"
uncovered=$(echo ${EKC_FUZZ_UNCOVERED-$uncovered_default})

die() { echo "fuzz: $*" >&2; exit 1; }

max_len() {
    case "$1" in
        kor_frame|diff_kor) echo 128 ;;   # frames are <= 64 bytes (KOR-WIRE-2); room to go over
        vv_lww) echo 512 ;;
        pcap_ingest) echo 16384 ;;     # a few dozen packets per capture
        *) echo 1500 ;;                   # EK-ROJ/control datagrams are <= 1400 bytes (ROJ-WIRE-2)
    esac
}

# libFuzzer dictionary flags of a target (spec member names and edge numbers).
dict_flags() {
    case "$1" in
        roj_judge|diff_roj) echo "-dict=$fuzz/dict/roj.dict" ;;
        ctl_request) echo "-dict=$fuzz/dict/ctl.dict" ;;
    esac
}

need_tools() {
    command -v cargo-fuzz >/dev/null || die "cargo-fuzz is missing (tools/setup.sh installs it)"
    rustup toolchain list | grep -q '^nightly' || die "the nightly toolchain is missing (tools/setup.sh installs it)"
}

corpus() { python3 "$fuzz/tools/seed_corpus.py" "$root/vectors" "$fuzz/corpus"; }

valid_target() {
    local t
    for t in "${targets[@]}"; do [[ $t == "$1" ]] && return 0; done
    die "unknown target '$1' (targets: ${targets[*]})"
}

# cargo +nightly fuzz with the coverage scope (run from fuzz/).
cargo_fuzz() {
    if [[ -n $uncovered ]]; then
        EKC_FUZZ_INNER_WRAPPER=${RUSTC_WRAPPER:-} RUSTC_WRAPPER="$fuzz/tools/rustc-cov-scope.sh" \
            EKC_FUZZ_UNCOVERED="$uncovered" cargo +nightly fuzz "$@"
    else
        cargo +nightly fuzz "$@"
    fi
}

# cargo fuzz build flags (sanitizer, target folder) and log suffix of the build (EKC_FUZZ_SANITIZER,
# EKC_FUZZ_UNCOVERED).
san_flags() {
    local dir
    if [[ -n $uncovered ]]; then dir=target/scoped; else dir=target; fi
    case "$sanitizer" in
        address) echo "--target-dir $dir" ;;
        none) echo "-s none --target-dir $dir-none" ;;
    esac
}
log_suffix() { [[ $sanitizer == address ]] || echo "-$sanitizer"; }

# run TARGET SECONDS [extra libFuzzer flags]: prints libFuzzer's output, keeps a log for the summary.
run_target() {
    local target=$1 seconds=$2; shift 2
    mkdir -p "$fuzz/target/logs" "$fuzz/corpus/$target"
    (cd "$fuzz" && cargo_fuzz run $(san_flags) "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -print_final_stats=1 \
        -timeout=10 -rss_limit_mb=2048 $(dict_flags "$target") "$@") 2>&1 | tee "$fuzz/target/logs/$target$(log_suffix).log"
}

go_gopath() {
    test -d /usr/share/gocode/src/github.com/hashicorp/mdns || die "Debian package golang-github-hashicorp-mdns-dev is missing"
    mkdir -p "$go_dir/bin/gopath/src" && ln -sfn "$go_dir" "$go_dir/bin/gopath/src/ekcnode"
}

run_go() {
    local target=$1 seconds=$2
    go_gopath
    mkdir -p "$fuzz/target/logs"
    (cd "$go_dir/bin/gopath/src/ekcnode" && "${go_env[@]}" go test -run '^$' -fuzz "^$target\$" \
        -fuzztime="${seconds}s" -parallel=1 ./codec/) 2>&1 | tee "$fuzz/target/logs/go-$target.log"
}

build_replay() {
    go_gopath
    (cd "$fuzz/go-replay" && "${go_env[@]}" go build -o "$replay_target/go-replay" .)
    CARGO_TARGET_DIR="$replay_target" cargo build --quiet --release --manifest-path "$fuzz/Cargo.toml" \
        --features replay --bin fuzz-replay
}

replay() {
    build_replay
    EKC_GO_REPLAY="$replay_target/go-replay" "$replay_target/release/fuzz-replay" "$@"
}

crosscheck() {
    build_replay
    local files=() t
    for t in diff_roj diff_kor; do
        [[ -d $fuzz/corpus/$t ]] && while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$fuzz/corpus/$t" -type f -print0)
    done
    ((${#files[@]})) || die "no corpus under fuzz/corpus/diff_{roj,kor}: run 'just fuzz-corpus' or fuzz first"
    local protocol bad=0 f
    for t in diff_roj diff_kor; do
        protocol=${t#diff_}
        local group=()
        for f in "${files[@]}"; do [[ $f == */$t/* ]] && group+=("$f"); done
        ((${#group[@]})) || continue
        # Chunks keep the command line short; fuzz-replay exits 1 on any disagreement.
        local i
        for ((i = 0; i < ${#group[@]}; i += 500)); do
            EKC_GO_REPLAY="$replay_target/go-replay" "$replay_target/release/fuzz-replay" --quiet \
                --protocol "$protocol" "${group[@]:i:500}" || bad=1
        done
        echo "crosscheck $t: ${#group[@]} inputs through oracle, Rust node, C node, Go node"
    done
    return $bad
}

smoke() {
    need_tools
    sanitizer=address
    mkdir -p "$fuzz/target" # the per-target logs go here before cargo has created it (fresh clone)
    corpus >/dev/null
    local t failed=()
    for t in "${targets[@]}"; do
        echo "== smoke $t"
        # Every seed, then 20000 mutations; a crash, leak or disagreement fails the run.
        if ! (cd "$fuzz" && cargo_fuzz run $(san_flags) "$t" "corpus/$t" -- -runs=20000 \
                -max_len="$(max_len "$t")" -timeout=10 $(dict_flags "$t")) >"$fuzz/target/smoke-$t.log" 2>&1; then
            tail -40 "$fuzz/target/smoke-$t.log" >&2
            failed+=("$t")
        else
            grep -E '^Done|^#[0-9]+.*DONE' "$fuzz/target/smoke-$t.log" | tail -1
        fi
    done
    go_gopath
    for t in "${go_targets[@]}"; do
        echo "== smoke go $t"
        if ! (cd "$go_dir/bin/gopath/src/ekcnode" && "${go_env[@]}" go test -run '^$' -fuzz "^$t\$" \
                -fuzztime=3000x -parallel=1 ./codec/) >"$fuzz/target/smoke-go-$t.log" 2>&1; then
            tail -40 "$fuzz/target/smoke-go-$t.log" >&2
            failed+=("go:$t")
        else
            tail -1 "$fuzz/target/smoke-go-$t.log"
        fi
    done
    ((${#failed[@]} == 0)) || die "smoke failed: ${failed[*]} (logs in fuzz/target/smoke-*.log)"
    echo "fuzz smoke: ${#targets[@]} cargo-fuzz targets and ${#go_targets[@]} Go targets ran clean"
}

# Final stats of a libFuzzer log: coverage (cov/ft of the last status line), execs/s, new units.
stats_of() {
    local log=$1
    local last; last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    local cov ft eps
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
    eps=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -1)
    echo "cov=${cov:-?} ft=${ft:-?} exec/s=${eps:-?}"
}

overnight() {
    need_tools
    local slice=${1:-1800} rounds=${2:-4} t r
    sanitizer=address
    corpus
    declare -A before
    for t in "${targets[@]}"; do before[$t]=$(find "$fuzz/corpus/$t" -type f | wc -l); done
    local summary="$fuzz/target/overnight-summary.txt"
    mkdir -p "$fuzz/target/logs"
    : >"$summary"
    for ((r = 1; r <= rounds; r++)); do
        for t in "${targets[@]}"; do
            echo "== round $r/$rounds: $t for ${slice}s"
            run_target "$t" "$slice" >/dev/null || echo "$t: round $r stopped on a finding (see fuzz/artifacts/$t)" | tee -a "$summary"
            echo "round $r $t: $(stats_of "$fuzz/target/logs/$t.log")" >>"$summary"
        done
        for t in "${go_targets[@]}"; do
            echo "== round $r/$rounds: go $t for $((slice / 4))s"
            run_go "$t" $((slice / 4)) >/dev/null || echo "go $t: round $r stopped on a finding (see reference-impls/go/codec/testdata/fuzz/$t)" | tee -a "$summary"
        done
    done
    echo "== merge and minimise corpora"
    for t in "${targets[@]}"; do
        (cd "$fuzz" && cargo_fuzz cmin $(san_flags) "$t" "corpus/$t" -- -max_len="$(max_len "$t")") >"$fuzz/target/logs/cmin-$t.log" 2>&1 || echo "$t: cmin failed" >>"$summary"
    done
    echo "== minimise findings"
    local findings=0 a
    for t in "${targets[@]}"; do
        [[ -d $fuzz/artifacts/$t ]] || continue
        for a in "$fuzz"/artifacts/"$t"/crash-* "$fuzz"/artifacts/"$t"/leak-* "$fuzz"/artifacts/"$t"/timeout-*; do
            [[ -f $a ]] || continue
            findings=$((findings + 1))
            (cd "$fuzz" && cargo_fuzz tmin $(san_flags) "$t" "$a" -- -runs=20000) >"$fuzz/target/logs/tmin-$(basename "$a").log" 2>&1 || true
            echo "finding: $t $a (minimised: $(ls -t "$fuzz"/artifacts/"$t"/minimized-from-"$(basename "$a" | sed 's/^[a-z]*-//')"* 2>/dev/null | head -1))" >>"$summary"
        done
    done
    local go_findings
    go_findings=$(find "$go_dir/codec/testdata/fuzz" -type f 2>/dev/null | wc -l)
    echo "== cross-check corpora through the Go node"
    crosscheck >"$fuzz/target/logs/crosscheck.log" 2>&1 || echo "crosscheck: disagreements (fuzz/target/logs/crosscheck.log)" >>"$summary"
    {
        echo "---- corpus growth (files before -> after merge) and final coverage"
        for t in "${targets[@]}"; do
            echo "$t: ${before[$t]} -> $(find "$fuzz/corpus/$t" -type f | wc -l); last slice $(stats_of "$fuzz/target/logs/$t.log")"
        done
        echo "findings: $findings cargo-fuzz artifact(s), $go_findings Go failing input(s)"
        echo "replay one: just fuzz-replay FILE; turn a minimised finding into a vector: fuzz/README.md"
    } >>"$summary"
    cat "$summary"
}

cmd=${1:-}; shift || true
[[ $sanitizer == address || $sanitizer == none ]] || die "EKC_FUZZ_SANITIZER must be address or none, not '$sanitizer'"
case "$cmd" in
    corpus) corpus ;;
    run) need_tools; valid_target "${1:?target}"; corpus >/dev/null; run_target "$1" "${2:-60}" ;;
    build) need_tools; (cd "$fuzz" && cargo_fuzz build $(san_flags) "$@") ;;
    go) run_go "${1:?Go fuzz target}" "${2:-60}" ;;
    smoke) smoke ;;
    overnight) overnight "$@" ;;
    replay) (($#)) || die "replay needs FILE..."; replay "$@" ;;
    crosscheck) crosscheck ;;
    *) die "usage: fuzz.sh corpus|run|go|smoke|overnight|replay|crosscheck (see the header)" ;;
esac
