#!/usr/bin/env bats
# closewait watch --all-netns --by pod: two pods, each in its own network
# namespace and cgroup. TIMING: the verdicts depend on what happens between
# censuses taken 1 s apart.

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

@test "the fixture leaves nothing behind: processes, cgroups, /run/netns names" {
	fx_cleanup
	fx_check_gone
}
