# Shared by reap.bats (run inside netns-run); builds on census_helpers.
load census_helpers

# wait_count N STATE FILTER...: until exactly N such sockets exist (10 s at
# most, times CW_TEST_SLACK).
wait_count() {
	local n=$1 i
	shift
	for i in $(seq 1 $((500 * ${CW_TEST_SLACK:-1}))); do
		[ "$(count_state "$@")" -eq "$n" ] && return 0
		sleep 0.02
	done
	echo "$* : $(count_state "$@") sockets, want $n" >&2
	return 1
}

# wait_line FILE REGEX: until a line of FILE matches (10 s at most, times
# CW_TEST_SLACK).
wait_line() {
	local i
	for i in $(seq 1 $((500 * ${CW_TEST_SLACK:-1}))); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.02
	done
	echo "no line matching '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}

# out_rsts: the namespace's TcpOutRsts counter (absolute; nstat's history untouched).
out_rsts() { nstat -asz TcpOutRsts | awk '$1 == "TcpOutRsts" { print $2 }'; }

# as_nobody CMD...: runs CMD as uid/gid 65534 with no capabilities at all.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all -- "$@"
}
