#!/usr/bin/env bats
# closewait watch --all-netns --by pod: two pods, each in its own network
# namespace and cgroup; and watch's sparkline on a terminal. TIMING: the
# verdicts and the sparkline depend on what happens between censuses taken
# 1 s apart.

load containers_fixture

setup_file() {
	fx_init --cgroups
	# a leaking pod (containerd, systemd driver) and a healthy one (cgroupfs
	# driver) whose server closes each connection 500 ms after its peer (never seen by two censuses 1 s apart)
	export LEAKY_POD HEALTHY_POD LEAKY HEALTHY
	LEAKY_POD=$(fx_uuid)
	HEALTHY_POD=$(fx_uuid)
	rel=kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${LEAKY_POD//-/_}.slice/cri-containerd-$(fx_hex64).scope
	fx_cgroup "$rel"
	fx_bg leaky "$rel" new "$CW" serve --leak --quiet --port 8000
	LEAKY=$FX_PID
	rel=kubepods/besteffort/pod$HEALTHY_POD/$(fx_hex64)
	fx_cgroup "$rel"
	fx_bg healthy "$rel" new "$T/cwt-slowclose" 8000 500
	HEALTHY=$FX_PID
	fx_wait_listen "$LEAKY" 8000
	fx_wait_listen "$HEALTHY" 8000
}

teardown_file() { fx_cleanup; }

@test "watch --all-netns --by pod --json: leaking for the pod whose leak grows, ok for the one whose CLOSE_WAIT come and go" {
	me=$BASHPID
	fd0=$(shell_fds "$me")
	lbase=$(fd_count "$LEAKY")
	hbase=$(fd_count "$HEALTHY")
	stop=$BATS_TEST_TMPDIR/stop
	# a new leaked connection about every 200 ms (until told to stop, 10 s at most)
	fx_bg leak-clients - "$LEAKY" sh -c "for i in \$(seq 1 50); do [ -e '$stop' ] && break; '$T/cw_clients' 127.0.0.1 8000 1 --send hi >/dev/null; sleep 0.2; done"
	lc=$FX_PID
	fx_bg healthy-clients - "$HEALTHY" sh -c "for i in \$(seq 1 50); do [ -e '$stop' ] && break; '$T/cwt-knock' 8000 1; sleep 0.2; done"
	hc=$FX_PID
	sleep 0.5
	run "$CW" watch --all-netns --by pod --json --count 3 --interval 1s
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	touch "$stop"
	last=${lines[2]}
	[ "$(jq -r --arg p "$LEAKY_POD" '.groups[] | select(.pod_uid == $p) | .verdict' <<<"$last")" = leaking ]
	[ "$(jq -r --arg p "$LEAKY_POD" '.groups[] | select(.pod_uid == $p) | .pod_qos' <<<"$last")" = burstable ]
	[ "$(jq --arg p "$LEAKY_POD" '.groups[] | select(.pod_uid == $p) | .close_wait' <<<"$last")" -ge 5 ]
	[ "$(jq --arg p "$LEAKY_POD" '.groups[] | select(.pod_uid == $p) | .growth_per_min > 0' <<<"$last")" = true ]
	# the healthy pod had CLOSE_WAIT sockets at (nearly) every census, and each time it was ok
	seen=0
	for l in "${lines[@]}"; do
		v=$(jq -r --arg p "$HEALTHY_POD" '.groups[] | select(.pod_uid == $p and .close_wait > 0) | .verdict' <<<"$l")
		echo "healthy pod: ${v:-absent}" >&2
		if [ -n "$v" ]; then
			seen=$((seen + 1))
			[ "$v" = ok ]
		fi
	done
	[ "$seen" -ge 2 ]
	wait "$lc" || true
	wait "$hc" || true
	# the healthy server closed everything; the leaky one holds one fd per leak
	wait_fds "$HEALTHY" "$hbase"
	n=$(fx_count "$LEAKY" close-wait "sport = :8000")
	[ "$(fd_count "$LEAKY")" -eq $((lbase + n)) ]
	[ "$(shell_fds "$me")" = "$fd0" ]
}

# frames FILE: what cw_pty copied from watch, one line per line of its
# frames, terminal controls and carriage returns taken out, and the sparkline
# bars ▁▂▃▄▅▆▇█ written as the digits 0 to 7.
frames() {
	sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' \
		-e 's/▁/0/g; s/▂/1/g; s/▃/2/g; s/▄/3/g; s/▅/4/g; s/▆/5/g; s/▇/6/g; s/█/7/g' "$1"
}

@test "watch on a terminal: a HISTORY column whose bars rise with a pod's growing leak; none when stdout is not a terminal, even with stdin one" {
	me=$BASHPID
	fd0=$(shell_fds "$me")
	pod=$(fx_uuid)
	rel=kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${pod//-/_}.slice/cri-containerd-$(fx_hex64).scope
	fx_cgroup "$rel"
	fx_bg spark "$rel" new "$CW" serve --leak --quiet --port 8000
	srv=$FX_PID
	fx_wait_listen "$srv" 8000
	base=$(fd_count "$srv")
	fx_leak "$srv" 8000 2
	# on a pseudo-terminal (stdin and stdout); cw_pty types nothing: its EXPECT never comes
	fx_bg pty - - "$T/cw_pty" "never printed" "" "$CW" watch --pod "$pod" --by pod --interval 1s --count 3
	pty=$FX_PID
	out=$FX_DIR/pty.log
	# two more leaked after each of the first two frames: 2, 4, 6 (TIMING: each
	# leak is over before the next census, 1 s later)
	for k in 1 2; do
		wait_until "$(slack_ms 5000)" "[ \$(grep -c 'closewait watch  every' '$out') -ge $k ]"
		fx_leak "$srv" 8000 2
	done
	wait "$pty"
	frames "$out" >"$out.txt"
	cat "$out.txt" >&2
	[ "$(grep -c 'closewait watch  every 1.0s' "$out.txt")" -eq 3 ]
	[ "$(grep -c '^POD  *CLOSE-WAIT  *GROWTH/MIN  *OLDEST  *VERDICT  *HISTORY' "$out.txt")" -eq 3 ]
	# the pod's row in each frame: its count, then the sparkline last, one bar per census so far
	grep "^$pod (besteffort) " "$out.txt" | awk '{ print $3, $NF }' >"$out.rows"
	[ "$(wc -l <"$out.rows")" -eq 3 ]
	[ "$(sed -n 1p "$out.rows")" = "2 7" ]
	[ "$(awk 'NR == 2 { print length($2) }' "$out.rows")" -eq 2 ]
	read -r n spark < <(sed -n 3p "$out.rows")
	[ "$n" -eq 6 ]
	[ "${#spark}" -eq 3 ]
	# rising: each bar at least the one before, the last the highest, the first lower
	[ "$(grep -o . <<<"$spark" | sort -n | tr -d '\n')" = "$spark" ]
	[ "${spark:2:1}" -eq 7 ]
	[ "${spark:0:1}" -lt 7 ]

	# stdout a pipe, stdin still the terminal: one line per census, no sparkline
	run "$T/cw_pty" "never printed" "" sh -c '"$0" watch --pod "$1" --by pod --interval 100ms --count 2 | cat' "$CW" "$pod"
	[ "$status" -eq 0 ]
	echo "$output" >"$out.pipe"
	[ "$(frames "$out.pipe" | grep -c "^[0-9:]* $pod (besteffort) close-wait=6 growth=")" -eq 2 ]
	[ "$(grep -c -F -e HISTORY -e 'closewait watch  every' -e ▁ -e ▂ -e ▃ -e ▄ -e ▅ -e ▆ -e ▇ -e █ "$out.pipe")" -eq 0 ]
	[ "$(grep -c $'\x1b' "$out.pipe")" -eq 0 ]
	[ "$(fd_count "$srv")" -eq $((base + 6)) ]
	[ "$(shell_fds "$me")" = "$fd0" ]
}

@test "the fixture leaves nothing behind: processes, cgroups, /run/netns names" {
	fx_cleanup
	fx_check_gone
}
