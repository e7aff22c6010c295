# Reading what `closewait lab --json NAME` printed: for lab.bats and
# lab_timewait.bats.

# lab_json NAME: runs the scenario with --json into $BATS_TEST_TMPDIR/NAME.json;
# fails when it does not exit 0.
lab_json() {
	"$CLOSEWAIT" lab --json "$1" >"$BATS_TEST_TMPDIR/$1.json"
}

# step NAME ID: the JSON line of step ID.
step() { jq -c --arg id "$2" 'select(.id == $id)' "$BATS_TEST_TMPDIR/$1.json"; }
# sock NAME ID ROLE FIELD: FIELD of the socket with ROLE in step ID ("" if none).
sock() {
	step "$1" "$2" | jq -r --arg r "$3" --arg f "$4" '.sockets[] | select(.role == $r) | .[$f] // "null"'
}
# count NAME ID ROLE: how many sockets with ROLE step ID shows.
count() { step "$1" "$2" | jq --arg r "$3" '[.sockets[] | select(.role == $r)] | length'; }
# counter NAME ID COUNTER: its change in step ID (0 when it did not move).
counter() { step "$1" "$2" | jq --arg c "$3" '.counters[$c] // 0'; }
# fact NAME ID KEY
fact() { step "$1" "$2" | jq -r --arg k "$3" '.facts[$k]'; }
# states_in NAME ID: "SERVER CLIENT", the states of the first server and
# client sockets of step ID (- for none).
states_in() {
	step "$1" "$2" | jq -r '[(.sockets | map(select(.role == "server")) | .[0].state // "-"),
		(.sockets | map(select(.role == "client")) | .[0].state // "-")] | join(" ")'
}
