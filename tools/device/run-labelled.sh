# run-labelled.sh — sourced by the device study scripts (h200-fidelity.sh, h200-fit.sh): run LABEL
# LIMIT cmd... runs cmd under a time limit with its output in $T/LABEL.out/.err, and appends its
# last JSON line, labelled with exit status and seconds, to $J (both set by the caller).
run() {
    local name=$1 lim=$2; shift 2
    local t0=$(date +%s)
    timeout "$lim" "$@" > "$T/$name.out" 2> "$T/$name.err"; local rc=$?
    local js=$(grep '^{' "$T/$name.out" | tail -1)
    echo "{\"label\":\"$name\",\"rc\":$rc,\"s\":$(( $(date +%s) - t0 )),\"r\":${js:-null}}" >> "$J"
    echo "$name rc=$rc $(( $(date +%s) - t0 ))s ${js:0:150}"
}
