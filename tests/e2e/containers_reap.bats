#!/usr/bin/env bats
# Sockets no process holds yet (unaccepted: waiting in a listener's accept
# queue) and reap in another network namespace than closewait's. Each test
# makes its own namespaces; setup_file the cgroup parent.

load containers_fixture

setup_file() { fx_init --cgroups; }
teardown_file() { fx_cleanup; }

# out_rsts PID: TcpOutRsts of PID's namespace (absolute; nstat's history untouched).
out_rsts() { nsenter -t "$1" -n nstat -asz TcpOutRsts | awk '$1 == "TcpOutRsts" { print $2 }'; }
# listen_recvq PID PORT: Recv-Q of the listener on PORT in PID's namespace (its accept queue).
listen_recvq() { nsenter -t "$1" -n ss -Htln "sport = :$2" | awk '{ print $2 }'; }

@test "unaccepted: 5 CLOSE_WAIT in the accept queue of a listener that never accepts: attributed to it; fin cannot; rst resets the peers, the queue stays 5" {
	me=$BASHPID
	fd0=$(shell_fds "$me")
	pod=$(fx_uuid)
	rel=kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${pod//-/_}.slice/cri-containerd-$(fx_hex64).scope
	fx_cgroup "$rel"
	fx_bg listener "$rel" new "$T/cwt-listen" 8500
	lst=$FX_PID
	fx_wait_listen "$lst" 8500
	lbase=$(fd_count "$lst")
	ino=$(fx_netns_ino "$lst")
	nsenter -t "$lst" -n "$T/cwt-knock" 8500 5
	fx_wait_count "$lst" 5 close-wait "sport = :8500"
	[ "$(listen_recvq "$lst" 8500)" -eq 5 ]

	run "$CW" scan --all-netns --json
	[ "$status" -eq 1 ]
	# this namespace's CLOSE_WAIT sockets (the host's others left out once)
	jq -c --argjson ino "$ino" '[.sockets[] | select(.netns == $ino and .state == "close-wait")]' <<<"$output" >"$BATS_TEST_TMPDIR/mine.json"
	m=$BATS_TEST_TMPDIR/mine.json
	[ "$(jq length "$m")" -eq 5 ]
	[ "$(jq 'map(select(.owner == "unaccepted" and .why == "unaccepted")) | length' "$m")" -eq 5 ]
	[ "$(jq --argjson p "$lst" 'map(select(.owners[0].pid == $p and .owners[0].command == "cwt-listen")) | length' "$m")" -eq 5 ]
	[ "$(jq 'map(select(.listeners[0].local == "0.0.0.0:8500" and .listeners[0].queued == 5)) | length' "$m")" -eq 5 ]
	# the listener's workload: its pod
	[ "$(jq --arg pod "$pod" 'map(select(.pod_uid == $pod and .pod_qos == "besteffort")) | length' "$m")" -eq 5 ]
	run "$CW" scan --all-netns --pod "$pod"
	[ "$status" -eq 1 ]
	[[ "$output" == *"pid $lst (cwt-listen) is not accepting: 5 connections in the accept queue of 0.0.0.0:8500 are in CLOSE_WAIT"* ]]

	# fin needs an fd, and an unaccepted connection has none: nothing done, said why
	run "$CW" reap --pid "$lst" --mode fin --yes --json
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(jq '[.sockets[] | select(.result == "unaccepted")] | length' <<<"$output")" -eq 5 ]
	[ "$(jq '[.sockets[] | select(.detail | test("accept queue with no fd") and test("--mode rst"))] | length' <<<"$output")" -eq 5 ]
	[ "$(fx_count "$lst" close-wait "sport = :8500")" -eq 5 ]

	# rst: the peers are reset, the sockets leave the table, the queue does not drop
	rsts=$(out_rsts "$lst")
	[ "$(fx_count "$lst" fin-wait-2 "dport = :8500")" -eq 5 ]
	run "$CW" reap --all-netns --pod "$pod" --mode rst --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq .results.destroyed <<<"$output")" -eq 5 ]
	[ "$(jq --argjson ino "$ino" '[.sockets[] | select(.netns == $ino and .owner == "unaccepted" and .result == "destroyed")] | length' <<<"$output")" -eq 5 ]
	# and says what that does not free: the entry stays in the accept queue
	[ "$(jq '[.sockets[] | select(.detail | test("stays in the listener.s accept queue until the program accepts it"))] | length' <<<"$output")" -eq 5 ]
	[ "$(fx_count "$lst" close-wait "sport = :8500")" -eq 0 ]
	[ "$(( $(out_rsts "$lst") - rsts ))" -eq 5 ]
	# each client's end (an orphaned FIN_WAIT_2, kept 60 s otherwise) died of its RST
	fx_wait_count "$lst" 0 fin-wait-2 "dport = :8500"
	[ "$(listen_recvq "$lst" 8500)" -eq 5 ]
	[ "$(fd_count "$lst")" -eq "$lbase" ]
	[ "$(shell_fds "$me")" = "$fd0" ]
}

# leaky_elsewhere NAME N: serve --leak in a new namespace, N leaked; sets
# SRV, SRV_INO, SRV_BASE (its fds before the leak).
leaky_elsewhere() {
	fx_bg "$1" - new "$CW" serve --leak --quiet --port 8000
	SRV=$FX_PID
	fx_wait_listen "$SRV" 8000
	SRV_INO=$(fx_netns_ino "$SRV")
	SRV_BASE=$(fd_count "$SRV")
	fx_leak "$SRV" 8000 "$2"
	[ "$(fx_netns_ino $BASHPID)" -ne "$SRV_INO" ]
}

@test "reap --pid P --mode fin, P in another namespace (no --all-netns): its CLOSE_WAIT end gracefully, the peers reach TIME_WAIT" {
	me=$BASHPID
	fd0=$(shell_fds "$me")
	leaky_elsewhere fin 12
	fx_wait_count "$SRV" 12 fin-wait-2 "dport = :8000"
	run "$CW" reap --pid "$SRV" --mode fin --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq .selected <<<"$output")" -eq 12 ]
	[ "$(jq .results.clean <<<"$output")" -eq 12 ]
	[ "$(jq --argjson ino "$SRV_INO" --argjson p "$SRV" '[.sockets[] | select(.netns == $ino and .owner == "process" and .pid == $p and .result == "clean")] | length' <<<"$output")" -eq 12 ]
	# our FIN went out (LAST_ACK), the peers acknowledged it: gone, the peers in TIME_WAIT
	fx_wait_count "$SRV" 0 last-ack "sport = :8000"
	[ "$(fx_count "$SRV" close-wait "sport = :8000")" -eq 0 ]
	[ "$(fx_count "$SRV" time-wait "dport = :8000")" -eq 12 ]
	# the fds stay open in the server
	[ "$(fd_count "$SRV")" -eq $((SRV_BASE + 12)) ]
	[ "$(shell_fds "$me")" = "$fd0" ]
}

@test "reap --pid P --mode rst, P in another namespace (no --all-netns): destroyed there, its RSTs counted there" {
	me=$BASHPID
	fd0=$(shell_fds "$me")
	leaky_elsewhere rst 9
	rsts=$(out_rsts "$SRV")
	run "$CW" reap --pid "$SRV" --mode rst --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq .results.destroyed <<<"$output")" -eq 9 ]
	[ "$(jq --argjson ino "$SRV_INO" '[.sockets[] | select(.netns == $ino and .result == "destroyed")] | length' <<<"$output")" -eq 9 ]
	# gone from that namespace's table: only the listener is left on the port
	[ "$(fx_count "$SRV" close-wait "sport = :8000")" -eq 0 ]
	[ "$(fx_ss "$SRV" "sport = :8000" | wc -l)" -eq 1 ]
	[ "$(( $(out_rsts "$SRV") - rsts ))" -eq 9 ]
	# and the peers' orphaned ends died of the RSTs
	fx_wait_count "$SRV" 0 fin-wait-2 "dport = :8000"
	[ "$(fd_count "$SRV")" -eq $((SRV_BASE + 9)) ]
	[ "$(shell_fds "$me")" = "$fd0" ]
}

@test "reap --unit NAME --mode fin and --container ID --mode rst, no --all-netns: each acts on that workload's sockets in its own namespace (they read every namespace), unless --net names another" {
	me=$BASHPID
	fd0=$(shell_fds "$me")
	# a unit and a Docker container, each with its leaky server in a new namespace
	unit=closewait-reap-$FX_RUN.service
	fx_cgroup "system.slice/$unit"
	fx_bg unit-srv "system.slice/$unit" new "$CW" serve --leak --quiet --port 8000
	usrv=$FX_PID
	id=$(fx_hex64)
	fx_cgroup "system.slice/docker-$id.scope"
	fx_bg docker-srv "system.slice/docker-$id.scope" new "$CW" serve --leak --quiet --port 8000
	dsrv=$FX_PID
	fx_wait_listen "$usrv" 8000
	fx_wait_listen "$dsrv" 8000
	ubase=$(fd_count "$usrv")
	dbase=$(fd_count "$dsrv")
	fx_leak "$usrv" 8000 4
	fx_leak "$dsrv" 8000 6
	uino=$(fx_netns_ino "$usrv")
	dino=$(fx_netns_ino "$dsrv")
	[ "$(fx_netns_ino $BASHPID)" -ne "$uino" ]
	[ "$(fx_netns_ino $BASHPID)" -ne "$dino" ]

	# --net naming our own namespace: the unit has no socket here, nothing is done
	run "$CW" reap --unit "$unit" --net "pid:$BASHPID" --mode fin --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq .selected <<<"$output")" -eq 0 ]
	[ "$(fx_count "$usrv" close-wait "sport = :8000")" -eq 4 ]

	run "$CW" reap --unit "$unit" --mode fin --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq .selected <<<"$output")" -eq 4 ]
	[ "$(jq .results.clean <<<"$output")" -eq 4 ]
	[ "$(jq --argjson ino "$uino" --argjson p "$usrv" '[.sockets[] | select(.netns == $ino and .pid == $p and .result == "clean")] | length' <<<"$output")" -eq 4 ]
	fx_wait_count "$usrv" 0 last-ack "sport = :8000"
	[ "$(fx_count "$usrv" close-wait "sport = :8000")" -eq 0 ]
	[ "$(fx_count "$usrv" time-wait "dport = :8000")" -eq 4 ]
	# the container's sockets were not the unit's: untouched
	[ "$(fx_count "$dsrv" close-wait "sport = :8000")" -eq 6 ]

	rsts=$(out_rsts "$dsrv")
	run "$CW" reap --container "${id:0:12}" --mode rst --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq .selected <<<"$output")" -eq 6 ]
	[ "$(jq .results.destroyed <<<"$output")" -eq 6 ]
	[ "$(jq --argjson ino "$dino" --argjson p "$dsrv" '[.sockets[] | select(.netns == $ino and .pid == $p and .result == "destroyed")] | length' <<<"$output")" -eq 6 ]
	[ "$(fx_count "$dsrv" close-wait "sport = :8000")" -eq 0 ]
	[ "$(( $(out_rsts "$dsrv") - rsts ))" -eq 6 ]
	fx_wait_count "$dsrv" 0 fin-wait-2 "dport = :8000"
	# both reaps leave the servers' fds open (fin and rst act on the connection, not the fd)
	[ "$(fd_count "$usrv")" -eq $((ubase + 4)) ]
	[ "$(fd_count "$dsrv")" -eq $((dbase + 6)) ]
	[ "$(shell_fds "$me")" = "$fd0" ]
}

@test "the fixture leaves nothing behind: processes, cgroups, /run/netns names" {
	fx_cleanup
	fx_check_gone
}
