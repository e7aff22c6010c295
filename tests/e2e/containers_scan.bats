#!/usr/bin/env bats
# closewait scan across network namespaces and cgroups: 20 namespaces, each
# with a leaky server (closewait serve --leak) in a cgroup shaped like a
# systemd service, a Docker scope, a containerd pod container, a
# cgroupfs-driver pod container or a Podman scope; and one namespace per way
# of being found (a /run/netns mount with no process in it, a mount made in
# another mount namespace, a thread, an fd). Built once in setup_file.

load containers_fixture

# expect NAME PID PORT LEAKS CGROUP_REL UNIT RUNTIME ID POD QOS: one server's
# truth, a JSON line of $FX_DIR/servers.jsonl ("" is null).
expect() {
	jq -nc --arg name "$1" --argjson pid "$2" --argjson netns "$(fx_netns_ino "$2")" \
		--argjson port "$3" --argjson leaks "$4" --arg cgroup "${CG_PARENT#"$CG_MOUNT"}/$5" \
		--argjson fds "$(fd_count "$2")" \
		--arg unit "$6" --arg rt "$7" --arg id "$8" --arg pod "$9" --arg qos "${10}" '
		def n: if . == "" then null else . end;
		{name: $name, pid: $pid, netns: $netns, port: $port, leaks: $leaks, fds: $fds,
		 cgroup: $cgroup, systemd_unit: ($unit | n), container_runtime: ($rt | n),
		 container_id: ($id | n), pod_uid: ($pod | n), pod_qos: ($qos | n)}' \
		>>"$FX_DIR/servers.jsonl"
}

setup_file() {
	fx_init --cgroups
	: >"$FX_DIR/servers.jsonl"
	local i rel unit rt id pod qos pids=() args=()
	# 20 namespaces, each held by its server; namespace i leaks i+1 sockets
	for i in $(seq 0 19); do
		unit= rt= id= pod= qos=
		case $((i % 5)) in
		0)
			unit=leaky-$i.service
			rel=system.slice/$unit
			;;
		1) # Docker: systemd cgroup driver, or (namespace 16) its cgroupfs driver
			id=$(fx_hex64) rt=docker
			rel=system.slice/docker-$id.scope
			[ "$i" -ne 16 ] || rel=docker/$id
			;;
		2) # a pod, the kubelet's systemd driver (no QoS level: guaranteed); CRI-O in 17
			pod=$(fx_uuid) id=$(fx_hex64) rt=containerd
			qos=$(echo "burstable besteffort guaranteed burstable" | cut -d' ' -f$((i / 5 + 1)))
			if [ "$qos" = guaranteed ]; then
				rel=kubepods.slice/kubepods-pod${pod//-/_}.slice
			else
				rel=kubepods.slice/kubepods-$qos.slice/kubepods-$qos-pod${pod//-/_}.slice
			fi
			if [ "$i" -eq 17 ]; then
				rt=cri-o rel=$rel/crio-$id.scope
			else
				rel=$rel/cri-containerd-$id.scope
			fi
			;;
		3) # a pod, the kubelet's cgroupfs driver: the runtime is not named
			pod=$(fx_uuid) id=$(fx_hex64)
			qos=$(echo "besteffort burstable guaranteed besteffort" | cut -d' ' -f$((i / 5 + 1)))
			rel=kubepods/$qos/pod$pod/$id
			[ "$qos" != guaranteed ] || rel=kubepods/pod$pod/$id
			;;
		4)
			id=$(fx_hex64) rt=podman
			rel=machine.slice/libpod-$id.scope
			;;
		esac
		fx_cgroup "$rel"
		fx_bg "srv$i" "$rel" new "$CW" serve --leak --quiet --port 8000
		pids[i]=$FX_PID
		args[i]="$rel|$unit|$rt|$id|$pod|$qos"
	done
	# a second container of namespace 2's pod, in the pod's namespace (a
	# sidecar: a pod's containers share one), on port 8001
	IFS='|' read -r rel unit rt id pod qos <<<"${args[2]}"
	spod=$pod sid=$(fx_hex64)
	srel="${rel%/*}/cri-containerd-$sid.scope"
	fx_cgroup "$srel"
	fx_bg sidecar "$srel" "${pids[2]}" "$CW" serve --leak --quiet --port 8001
	sidecar=$FX_PID
	for i in $(seq 0 19); do
		fx_wait_listen "${pids[i]}" 8000
		fx_leak "${pids[i]}" 8000 $((i + 1))
		IFS='|' read -r rel unit rt id pod qos <<<"${args[i]}"
		expect "srv$i" "${pids[i]}" 8000 $((i + 1)) "$rel" "$unit" "$rt" "$id" "$pod" "$qos"
	done
	fx_wait_listen "$sidecar" 8001
	fx_leak "$sidecar" 8001 3
	expect sidecar "$sidecar" 8001 3 "$srel" "" containerd "$sid" "$spod" burstable

	# one namespace per way of being found, each with its own leak (port 9000)
	: >"$FX_DIR/found.jsonl"
	fx_ipnetns x
	fx_bg via-mount - - "$T/cwt-nsleak" enter 9000 2 "/run/netns/$FX_NETNS"
	fx_wait_ready via-mount
	jq -nc --argjson netns "$READY_INO" --argjson pid "$FX_PID" --arg name "$FX_NETNS" \
		'{way: "mount", netns: $netns, holder: $pid, leaks: 2, netns_name: $name,
		  path: ("/run/netns/" + $name), found_pid: null}' >>"$FX_DIR/found.jsonl"
	touch "$FX_DIR/nsmnt"
	fx_bg mntns - - unshare -m --propagation private sh -c 'unshare --net="$1" true && exec sleep 3600' fx-mntns "$FX_DIR/nsmnt"
	mntns=$FX_PID
	wait_until "$(slack_ms 5000)" "grep -q ' $FX_DIR/nsmnt .* nsfs ' /proc/$mntns/mountinfo"
	fx_bg via-mntns - - "$T/cwt-nsleak" enter 9000 3 "/proc/$mntns/root$FX_DIR/nsmnt"
	fx_wait_ready via-mntns
	jq -nc --argjson netns "$READY_INO" --argjson pid "$FX_PID" --argjson mntns "$mntns" --arg path "$FX_DIR/nsmnt" \
		'{way: "mount", netns: $netns, holder: $pid, leaks: 3, netns_name: null, path: $path,
		  found_pid: $mntns}' >>"$FX_DIR/found.jsonl"
	fx_bg via-thread - - "$T/cwt-nsleak" thread 9000 4
	fx_wait_ready via-thread
	jq -nc --argjson netns "$READY_INO" --argjson pid "$FX_PID" --argjson tid "$READY_TID" \
		'{way: "thread", netns: $netns, holder: $pid, tid: $tid, leaks: 4, netns_name: null, path: null,
		  found_pid: $pid}' >>"$FX_DIR/found.jsonl"
	fx_bg via-fd - - "$T/cwt-nsleak" fd 9000 5
	fx_wait_ready via-fd
	jq -nc --argjson netns "$READY_INO" --argjson pid "$FX_PID" \
		'{way: "fd", netns: $netns, holder: $pid, leaks: 5, netns_name: null, path: null,
		  found_pid: $pid}' >>"$FX_DIR/found.jsonl"
}

teardown_file() { fx_cleanup; }

# scan_all FILE ARGS...: `scan --all-netns --json ARGS...` into FILE; exit 1
# (CLOSE_WAIT among the results) expected. FILE.mine: the same, but only the
# sockets and namespaces of this file (a socket whose namespace is one made
# here or whose first owner is a process started here): other tests run in
# parallel, and the host's other sockets (20 000 during a benchmark) would be
# parsed again by every query.
scan_all() {
	local f=$1
	shift
	run "$CW" scan --all-netns --json "$@"
	echo "$output" >"$f"
	[ "$status" -eq 1 ]
	jq -c --slurpfile s "$FX_DIR/servers.jsonl" --slurpfile w "$FX_DIR/found.jsonl" '
		(($s + $w) | map(.netns)) as $ns | (($s | map(.pid)) + ($w | map(.holder))) as $ps |
		.sockets |= map(select((.netns | IN($ns[])) or (.owners[0].pid // 0 | IN($ps[])))) |
		.namespaces |= map(select(.netns | IN($ns[])))' "$f" >"$f.mine"
}

@test "20 namespaces, five cgroup shapes: scan --all-netns --json finds every leaked socket with its netns, pid, unit, container and pod" {
	me=$BASHPID
	fd0=$(shell_fds "$me")
	j=$BATS_TEST_TMPDIR/all.json
	scan_all "$j"
	[ "$(jq -r .netns_selection "$j.mine")" = all ]
	[ "$(wc -l <"$FX_DIR/servers.jsonl")" -eq 21 ]
	# one row per server: how many of its leaked sockets (CLOSE_WAIT, first
	# owner its pid) have each property, and how its namespace is listed
	jq -r --slurpfile s "$FX_DIR/servers.jsonl" '
		. as $d | $s[] as $e |
		[$d.sockets[] | select(.state == "close-wait" and .owners[0].pid == $e.pid)] as $m |
		def has($f): $m | map(select(.[$f] == $e[$f] and .owners[0][$f] == $e[$f])) | length;
		[$e.name, $e.pid, $e.fds, $e.leaks, ($m | length),
		 ($m | map(select(.netns == $e.netns and .netns_name == null)) | length),
		 ($m | map(select(.local == "127.0.0.1:\($e.port)" and .owner == "process")) | length),
		 ([$d.sockets[] | select(.netns == $e.netns and .state == "close-wait" and .local == "127.0.0.1:\($e.port)")] | length),
		 has("cgroup"), has("systemd_unit"), has("container_runtime"), has("container_id"), has("pod_uid"), has("pod_qos"),
		 ([$d.namespaces[] | select(.netns == $e.netns and .found == "process" and .error == null)] | length)] | @tsv' \
		"$j.mine" >"$j.rows"
	[ "$(wc -l <"$j.rows")" -eq 21 ]
	while IFS=$'\t' read -r name pid fds n all netns local port cg unit rt id pod qos listed; do
		echo "$name: pid $pid, $n leaked: $all found, $netns in its netns, $local on its port, $port there in all;" \
			"right cgroup $cg, unit $unit, runtime $rt, container $id, pod $pod, qos $qos; netns listed $listed" >&2
		[ "$all" -eq "$n" ]
		[ "$netns" -eq "$n" ]
		[ "$local" -eq "$n" ]
		[ "$port" -eq "$n" ]
		[ "$cg" -eq "$n" ]
		[ "$unit" -eq "$n" ]
		[ "$rt" -eq "$n" ]
		[ "$id" -eq "$n" ]
		[ "$pod" -eq "$n" ]
		[ "$qos" -eq "$n" ]
		[ "$listed" -eq 1 ]
		# the server holds what it held before the scan
		[ "$(fd_count "$pid")" -eq "$fds" ]
	done <"$j.rows"
	# each namespace is listed once
	[ "$(jq '[.namespaces[].netns] | length == (unique | length)' "$j")" = true ]
	[ "$(shell_fds "$me")" = "$fd0" ]
}

@test "--by pod sums each pod's CLOSE_WAIT over its containers; the other sockets form one group with pod_uid null" {
	j=$BATS_TEST_TMPDIR/pods.json
	scan_all "$j" --by pod
	pods=$(jq -sc 'map(select(.pod_uid != null)) | group_by(.pod_uid) |
		map({pod_uid: .[0].pod_uid, pod_qos: .[0].pod_qos, close_wait: (map(.leaks) | add), listen: length})' \
		"$FX_DIR/servers.jsonl")
	[ "$(jq length <<<"$pods")" -eq 8 ]
	# the pod with the sidecar: two containers, 3 + 3 leaked
	[ "$(jq 'map(select(.listen == 2)) | .[0].close_wait' <<<"$pods")" -eq 6 ]
	# the groups of these pods, and the group of no pod, from the host's
	g=$BATS_TEST_TMPDIR/groups.json
	jq -c --argjson pods "$pods" '[.groups[] | select(.pod_uid == null or (.pod_uid | IN($pods[].pod_uid)))]' "$j" >"$g"
	jq -c '.[]' "$g" >&2
	while read -r p; do
		echo "pod: $p" >&2
		[ "$(jq --argjson p "$p" '[.[] | select(.pod_uid == $p.pod_uid)] | length' "$g")" -eq 1 ]
		[ "$(jq --argjson p "$p" '.[] | select(.pod_uid == $p.pod_uid) | .close_wait' "$g")" -eq "$(jq .close_wait <<<"$p")" ]
		[ "$(jq -r --argjson p "$p" '.[] | select(.pod_uid == $p.pod_uid) | .pod_qos' "$g")" = "$(jq -r .pod_qos <<<"$p")" ]
		# listeners and leaked sockets: nothing else of the pod's
		[ "$(jq --argjson p "$p" '.[] | select(.pod_uid == $p.pod_uid) | .total' "$g")" -eq "$(jq '.close_wait + .listen' <<<"$p")" ]
	done < <(jq -c '.[]' <<<"$pods")
	# the servers of no pod (units, Docker, Podman) are in the one null group
	[ "$(jq '[.[] | select(.pod_uid == null)] | length' "$g")" -eq 1 ]
	nopod=$(jq -s 'map(select(.pod_uid == null) | .leaks) | add' "$FX_DIR/servers.jsonl")
	[ "$(jq '.[] | select(.pod_uid == null) | .close_wait' "$g")" -ge "$nopod" ]
}

@test "--pod, --container (12 hex digits) and --unit select one workload's sockets, in whichever namespace" {
	sidecar=$(jq -c 'select(.name == "sidecar")' "$FX_DIR/servers.jsonl")
	pod=$(jq -r .pod_uid <<<"$sidecar")
	j=$BATS_TEST_TMPDIR/pod.json
	scan_all "$j" --pod "$pod"
	# both containers of the pod, nothing else
	[ "$(jq '[.sockets[] | select(.state == "close-wait")] | length' "$j")" -eq 6 ]
	[ "$(jq --arg p "$pod" '[.sockets[] | select(.state == "close-wait" and .pod_uid == $p)] | length' "$j")" -eq 6 ]
	[ "$(jq '[.sockets[] | select(.state == "close-wait") | .owners[0].pid] | unique | length' "$j")" -eq 2 ]
	# --pod alone (no --all-netns) reads every namespace too: a pod is nearly always in one of its own
	run "$CW" scan --pod "$pod" --json
	[ "$status" -eq 1 ]
	[ "$(jq -r .netns_selection <<<"$output")" = all ]
	[ "$(jq --arg p "$pod" --argjson ino "$(jq .netns <<<"$sidecar")" '[.sockets[] | select(.state == "close-wait" and .pod_uid == $p and .netns == $ino)] | length' <<<"$output")" -eq 6 ]
	# the sidecar alone, by a 12-digit prefix of its id
	j=$BATS_TEST_TMPDIR/container.json
	scan_all "$j" --container "$(jq -r '.container_id[:12]' <<<"$sidecar")"
	[ "$(jq '[.sockets[] | select(.state == "close-wait")] | length' "$j")" -eq 3 ]
	[ "$(jq --argjson e "$sidecar" '[.sockets[] | select(.state == "close-wait" and .owners[0].pid == $e.pid and .container_id == $e.container_id and .netns == $e.netns)] | length' "$j")" -eq 3 ]
	# a Docker container (namespace 6: 7 leaked) by its prefix
	docker=$(jq -c 'select(.name == "srv6")' "$FX_DIR/servers.jsonl")
	[ "$(jq -r .container_runtime <<<"$docker")" = docker ]
	j=$BATS_TEST_TMPDIR/docker.json
	scan_all "$j" --container "$(jq -r '.container_id[:12]' <<<"$docker")"
	[ "$(jq '[.sockets[] | select(.state == "close-wait")] | length' "$j")" -eq 7 ]
	[ "$(jq --argjson e "$docker" '[.sockets[] | select(.state == "close-wait" and .owners[0].pid == $e.pid and .netns == $e.netns)] | length' "$j")" -eq 7 ]
	# a systemd unit (namespace 10: 11 leaked)
	j=$BATS_TEST_TMPDIR/unit.json
	scan_all "$j" --unit leaky-10.service
	unit=$(jq -c 'select(.name == "srv10")' "$FX_DIR/servers.jsonl")
	[ "$(jq '[.sockets[] | select(.state == "close-wait")] | length' "$j")" -eq 11 ]
	[ "$(jq --argjson e "$unit" '[.sockets[] | select(.state == "close-wait" and .owners[0].pid == $e.pid and .systemd_unit == "leaky-10.service")] | length' "$j")" -eq 11 ]
	# a pod that does not exist: nothing, exit 0
	run "$CW" scan --all-netns --json --pod "$(fx_uuid)"
	[ "$status" -eq 0 ]
	[ "$(jq '[.sockets[] | select(.state == "close-wait")] | length' <<<"$output")" -eq 0 ]
}

@test "--container takes an id or a prefix of 12 or more lowercase hex digits: a shorter one or an uppercase one is refused (exit 2), saying why" {
	want='is not a container id (at least 12 lowercase hex digits)'
	usage_error "--container: \"abc123\" $want" "$CW" scan --container abc123
	# 11 digits of a real id: one short
	id=$(jq -r 'select(.name == "srv6") | .container_id' "$FX_DIR/servers.jsonl")
	usage_error "--container: \"${id:0:11}\" $want" "$CW" scan --all-netns --container "${id:0:11}"
	# the same id in capitals: not taken for it
	usage_error "--container: \"${id^^}\" $want" "$CW" scan --all-netns --container "${id^^}"
	usage_error "--container: \"${id:0:12}G\" $want" "$CW" scan --container "${id:0:12}G"
	# reap and watch read the option the same way, before acting on anything
	usage_error "closewait reap: --container: \"${id^^}\" $want" "$CW" reap --container "${id^^}" --mode rst --yes
	usage_error "closewait watch: --container: \"abc123\" $want" "$CW" watch --container abc123 --count 1
}

# group_rows FILE KEY WANT: for each line of WANT (servers.jsonl's), a row
# "VALUE LEAKS N RUNTIME_OK CLOSE_WAIT LISTEN TOTAL": its KEY (systemd_unit,
# container_id), its leaks, and what FILE's groups[] say of it: how many
# groups have that KEY, whether the first has its container_runtime, and
# that group's counts.
group_rows() {
	jq -r --arg k "$2" --slurpfile w "$3" '[.groups[] | select(.[$k] != null)] as $g | $w[] as $e |
		[$g[] | select(.[$k] == $e[$k])] as $m |
		[$e[$k], $e.leaks, ($m | length), ($m[0].container_runtime == $e.container_runtime),
		 $m[0].close_wait, $m[0].listen, $m[0].total] | @tsv' "$1"
}

# table_row FILE KEY HEADING...: in the summary table of FILE, the row whose
# first column is KEY: its columns under these HEADINGs (the columns of the
# states present vary with what else runs on the host), one line per such row.
table_row() {
	local f=$1 k=$2
	shift 2
	awk -v k="$k" -v want="$*" '
		!h && $0 ~ /^[A-Z]/ && / CLOSE-WAIT / {
			h = 1
			n = split(want, w, " ")
			for (i = 1; i <= NF; i++)
				for (j = 1; j <= n; j++)
					if ($i == w[j]) c[j] = i
			next
		}
		h && $1 == k { out = ""; for (j = 1; j <= n; j++) out = out (j > 1 ? " " : "") $(c[j]); print out }' "$f"
}

@test "--by unit: one group per leaky-N.service, its CLOSE_WAIT and its listener; the containers' servers are in the group of no unit" {
	j=$BATS_TEST_TMPDIR/units.json
	scan_all "$j" --by unit
	[ "$(jq -r .by "$j")" = unit ]
	jq -c 'select(.systemd_unit != null)' "$FX_DIR/servers.jsonl" >"$j.want"
	[ "$(wc -l <"$j.want")" -eq 4 ]
	run "$CW" scan --all-netns --by unit
	[ "$status" -eq 1 ]
	echo "$output" >"$j.txt"
	[ "$(grep -c '^UNIT  .*  CLOSE-WAIT  ' "$j.txt")" -eq 1 ]
	group_rows "$j" systemd_unit "$j.want" >"$j.rows"
	[ "$(wc -l <"$j.rows")" -eq 4 ]
	while IFS=$'\t' read -r unit n groups _ cw listen total; do
		echo "$unit: $n leaked; $groups groups: close_wait $cw, listen $listen, total $total" >&2
		[ "$groups" -eq 1 ]
		[ "$cw" -eq "$n" ]
		[ "$listen" -eq 1 ]
		[ "$total" -eq $((n + 1)) ]
		# the table's row: the unit, its CLOSE-WAIT count
		[ "$(table_row "$j.txt" "$unit" CLOSE-WAIT)" = "$n" ]
	done <"$j.rows"
	# a container's scope is no unit: no group is named after one
	[ "$(jq --slurpfile s "$FX_DIR/servers.jsonl" '[.groups[].systemd_unit // empty | select(contains($s[].container_id // "-"))] | length' "$j")" -eq 0 ]
	[ "$(jq '[.groups[] | select(.systemd_unit == null)] | length' "$j")" -eq 1 ]
	nounit=$(jq -s 'map(select(.systemd_unit == null) | .leaks) | add' "$FX_DIR/servers.jsonl")
	[ "$(jq '.groups[] | select(.systemd_unit == null) | .close_wait' "$j")" -ge "$nounit" ]
}

@test "--by container: one group per container (Docker, Podman, containerd, CRI-O, the cgroupfs pods'), with its runtime and counts; the units' servers in the group of none" {
	j=$BATS_TEST_TMPDIR/containers.json
	scan_all "$j" --by container
	[ "$(jq -r .by "$j")" = container ]
	jq -c 'select(.container_id != null)' "$FX_DIR/servers.jsonl" >"$j.want"
	[ "$(wc -l <"$j.want")" -eq 17 ]
	[ "$(jq -s 'map(select(.container_runtime == "docker" or .container_runtime == "podman")) | length' "$j.want")" -eq 8 ]
	run "$CW" scan --all-netns --by container
	[ "$status" -eq 1 ]
	echo "$output" >"$j.txt"
	[ "$(grep -c '^CONTAINER  *RUNTIME  .*  CLOSE-WAIT  ' "$j.txt")" -eq 1 ]
	group_rows "$j" container_id "$j.want" >"$j.rows"
	[ "$(wc -l <"$j.rows")" -eq 17 ]
	while IFS=$'\t' read -r id n groups runtime cw listen total; do
		rt=$(jq -r --arg id "$id" 'select(.container_id == $id) | .container_runtime // "-"' "$j.want")
		echo "$id ($rt): $n leaked; $groups groups, its runtime $runtime: close_wait $cw, listen $listen, total $total" >&2
		[ "$groups" -eq 1 ]
		[ "$runtime" = true ]
		[ "$cw" -eq "$n" ]
		[ "$listen" -eq 1 ]
		[ "$total" -eq $((n + 1)) ]
		# the table's row: the whole id, the runtime (- when the path names none), the count
		[ "$(table_row "$j.txt" "$id" RUNTIME CLOSE-WAIT)" = "$rt $n" ]
	done <"$j.rows"
	[ "$(jq '[.groups[] | select(.container_id == null)] | length' "$j")" -eq 1 ]
	[ "$(jq '.groups[] | select(.container_id == null) | .container_runtime' "$j")" = null ]
	none=$(jq -s 'map(select(.container_id == null) | .leaks) | add' "$FX_DIR/servers.jsonl")
	[ "$(jq '.groups[] | select(.container_id == null) | .close_wait' "$j")" -ge "$none" ]
}

@test "one namespace per way of being found: a /run/netns mount with no process, a mount in another mount namespace, a thread, an fd" {
	j=$BATS_TEST_TMPDIR/found.json
	scan_all "$j"
	[ "$(wc -l <"$FX_DIR/found.jsonl")" -eq 4 ]
	while read -r e; do
		echo "namespace: $e" >&2
		ns='[.namespaces[] | select(.netns == $e.netns)]'
		[ "$(jq --argjson e "$e" "$ns | length" "$j.mine")" -eq 1 ]
		[ "$(jq -r --argjson e "$e" "$ns | .[0].found" "$j.mine")" = "$(jq -r .way <<<"$e")" ]
		[ "$(jq --argjson e "$e" "$ns | .[0].error == null" "$j.mine")" = true ]
		[ "$(jq --argjson e "$e" "$ns | .[0].netns_name == \$e.netns_name" "$j.mine")" = true ]
		[ "$(jq --argjson e "$e" "$ns | .[0].path == \$e.path" "$j.mine")" = true ]
		# the pid that leads to it (a mount in our mount namespace: any pid of it)
		[ "$(jq --argjson e "$e" "$ns | .[0] | \$e.found_pid == null or .pid == \$e.found_pid" "$j.mine")" = true ]
		# its sockets, held by a process that is not in it
		sel='[.sockets[] | select(.netns == $e.netns and .state == "close-wait")]'
		[ "$(jq --argjson e "$e" "$sel | length" "$j.mine")" -eq "$(jq .leaks <<<"$e")" ]
		[ "$(jq --argjson e "$e" "$sel | map(select(.owners[0].pid == \$e.holder and .owners[0].command == \"cwt-nsleak\" and .netns_name == \$e.netns_name)) | length" "$j.mine")" -eq "$(jq .leaks <<<"$e")" ]
		[ "$(fx_netns_ino "$(jq .holder <<<"$e")")" -ne "$(jq .netns <<<"$e")" ]
	done <"$FX_DIR/found.jsonl"
	# the table names them: the /run/netns one by name, the others by inode
	run "$CW" scan --all-netns --comm cwt-nsleak
	[ "$status" -eq 1 ]
	[ "$(grep -c "cwt-nsleak\[[0-9]*\]:[0-9]* .* closewait-test-$FX_RUN-x\$" <<<"$output")" -eq 2 ]
	[ "$(grep -c "cwt-nsleak\[[0-9]*\]:[0-9]* .* netns $(jq -rs 'map(select(.way == "fd"))[0].netns' "$FX_DIR/found.jsonl")\$" <<<"$output")" -eq 5 ]
}

@test "from a pid namespace of its own (unshare -p --mount-proc): sockets whose holder is in the host's pid namespace have owner unknown and no pid, owners_hidden is true, the note is said once" {
	mount=$(jq -c 'select(.netns_name != null)' "$FX_DIR/found.jsonl")
	name=$(jq -r .netns_name <<<"$mount")
	holder=$(jq .holder <<<"$mount")
	j=$BATS_TEST_TMPDIR/hidden.json
	# from the host's pid namespace: the holder, nothing hidden
	run "$CW" scan --net "$name" --json
	[ "$status" -eq 1 ]
	[ "$(jq .owners_hidden <<<"$output")" = false ]
	[ "$(jq --argjson p "$holder" '[.sockets[] | select(.state == "close-wait" and .owner == "process" and .owners[0].pid == $p)] | length' <<<"$output")" -eq 2 ]

	run unshare -p -f --mount-proc "$CW" scan --all-netns --json
	[ "$status" -eq 1 ]
	echo "$output" >"$j"
	[ "$(jq .owners_hidden "$j")" = true ]
	# still found (by its /run/netns mount), still read
	[ "$(jq --argjson e "$mount" '[.namespaces[] | select(.netns == $e.netns and .found == "mount" and .error == null)] | length' "$j")" -eq 1 ]
	sel='[.sockets[] | select(.netns == $e.netns and .state == "close-wait")]'
	[ "$(jq --argjson e "$mount" "$sel | length" "$j")" -eq 2 ]
	# never a wrong owner: none at all
	[ "$(jq --argjson e "$mount" "$sel | map(select(.owner == \"unknown\" and .owners == [] and .pid == null and .inode > 0)) | length" "$j")" -eq 2 ]
	[ "$(jq --argjson p "$holder" '[.. | objects | select(.pid? == $p)] | length' "$j")" -eq 0 ]

	run unshare -p -f --mount-proc "$CW" scan --all-netns
	[ "$status" -eq 1 ]
	[ "$(grep -c "^Processes of other pid namespaces are not visible from here: sockets of other network namespaces may show no owner (run closewait in the host's pid namespace)\.\$" <<<"$output")" -eq 1 ]
	[ "$(grep -c "not visible" <<<"$output")" -eq 1 ]
	[ "$(grep -c "^close-wait .* (unknown) .* $name\$" <<<"$output")" -eq 2 ]
	[ "$(grep -c "cwt-nsleak" <<<"$output")" -eq 0 ]
}

@test "--net NAME, --net PATH, --net pid:PID and --pid read only the namespaces they name" {
	mount=$(jq -c 'select(.netns_name != null)' "$FX_DIR/found.jsonl")
	run "$CW" scan --net "$(jq -r .netns_name <<<"$mount")" --json
	[ "$status" -eq 1 ]
	[ "$(jq -r .netns_selection <<<"$output")" = one ]
	[ "$(jq '.namespaces | length' <<<"$output")" -eq 1 ]
	[ "$(jq -r '.namespaces[0].found' <<<"$output")" = given ]
	[ "$(jq --argjson e "$mount" '.namespaces[0].netns == $e.netns' <<<"$output")" = true ]
	[ "$(jq --argjson e "$mount" '[.sockets[] | select(.state == "close-wait" and .netns == $e.netns and .owners[0].pid == $e.holder)] | length' <<<"$output")" -eq 2 ]
	[ "$(jq '[.sockets[] | select(.state == "close-wait")] | length' <<<"$output")" -eq 2 ]
	# a bind mount in another mount namespace, by a path through /proc
	mntns=$(jq -c 'select(.way == "mount" and .netns_name == null)' "$FX_DIR/found.jsonl")
	run "$CW" scan --net "/proc/$(jq .found_pid <<<"$mntns")/root$FX_DIR/nsmnt" --json
	[ "$status" -eq 1 ]
	[ "$(jq --argjson e "$mntns" '[.namespaces[] | select(.netns == $e.netns)] | length' <<<"$output")" -eq 1 ]
	[ "$(jq '[.sockets[] | select(.state == "close-wait")] | length' <<<"$output")" -eq 3 ]
	# pid:PID: that process's namespace (a leaky server's)
	srv=$(jq -c 'select(.name == "srv4")' "$FX_DIR/servers.jsonl")
	run "$CW" scan --net "pid:$(jq .pid <<<"$srv")" --json
	[ "$status" -eq 1 ]
	[ "$(jq '.namespaces | length' <<<"$output")" -eq 1 ]
	[ "$(jq --argjson e "$srv" '[.sockets[] | select(.state == "close-wait" and .netns == $e.netns and .owners[0].pid == $e.pid)] | length' <<<"$output")" -eq 5 ]
	[ "$(jq '[.sockets[] | select(.state == "close-wait")] | length' <<<"$output")" -eq 5 ]
	# --pid alone: the namespaces of its threads (the leader's, and the one a thread sits in)
	th=$(jq -c 'select(.way == "thread")' "$FX_DIR/found.jsonl")
	run "$CW" scan --pid "$(jq .holder <<<"$th")" --json
	[ "$status" -eq 1 ]
	[ "$(jq -r .netns_selection <<<"$output")" = pid ]
	[ "$(jq --argjson e "$th" '[.namespaces[] | select(.netns == $e.netns and .found == "thread")] | length' <<<"$output")" -eq 1 ]
	[ "$(jq --argjson e "$th" '[.sockets[] | select(.state == "close-wait" and .netns == $e.netns and .owners[0].pid == $e.holder)] | length' <<<"$output")" -eq 4 ]
	[ "$(jq '[.sockets[] | select(.state == "close-wait")] | length' <<<"$output")" -eq 4 ]
}

@test "strace: scan --all-netns opens /proc/PID/cgroup at most once per owner process" {
	tr=$BATS_TEST_TMPDIR/strace
	# LeakSanitizer cannot run under ptrace (the sanitizer pass): leaks are the other tests' job
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		run strace -f -qq -y -e trace=open,openat,openat2 -o "$tr" "$CW" scan --all-netns --json
	[ "$status" -eq 1 ]
	# "/proc/123/cgroup" from anywhere, or "cgroup" relative to a /proc/123 directory fd
	sed -n -e 's|.*"/proc/\([0-9]*\)/cgroup".*|\1|p' -e 's|.*open[at2]*([0-9]*</proc/\([0-9]*\)>, "cgroup".*|\1|p' "$tr" |
		sort | uniq -c | sort -rn >"$tr.count"
	head -n3 "$tr.count" >&2
	# read for every leaky server (each owns sockets) ...
	while read -r pid; do
		[ "$(awk -v p="$pid" '$2 == p { print $1 }' "$tr.count")" = 1 ]
	done < <(jq .pid "$FX_DIR/servers.jsonl")
	# ... and for no process more than once
	[ "$(awk 'NR == 1 { print $1 }' "$tr.count")" -eq 1 ]
}

@test "the fixture leaves nothing behind: processes, cgroups, /run/netns names, mounts" {
	fx_cleanup
	fx_check_gone
}
