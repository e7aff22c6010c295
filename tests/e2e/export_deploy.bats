#!/usr/bin/env bats
# What contrib/ ships to run closewait export: the systemd unit (verified and
# rated by systemd-analyze; the exporter run with its user and exactly its
# capabilities, naming the owner of another user's leaked sockets; every
# system call, socket family and namespace the exporter uses allowed by it)
# and the Kubernetes DaemonSet with its Prometheus scrape config (fields
# checked). Everything is read from the shipped files, so the tests follow
# them. systemd is not needed as PID 1: systemd-analyze verify and security
# --offline read unit files alone.

load prom_fixture

UNIT=$CW_SRC/contrib/systemd/closewait-exporter.service
KUBE=$CW_SRC/contrib/kubernetes/closewait-exporter.yaml

# The exposure systemd-analyze security gives the unit (0 best, 10 worst).
# It cannot go lower: what is left is what the census needs (the list in
# the exposure test, each with its reason).
EXPOSURE_MAX=2.2

# The label names the exporter uses (docs/export.md): no target label of the
# scrape config may be one of them.
EXPORTER_LABELS="state netns destination kind why owner systemd_unit container_id container_runtime pod_uid command pid local_port other"

setup() { DEPLOY_DIR=; }
teardown() {
	kill_bg
	[ -z "$DEPLOY_DIR" ] || rm -rf "$DEPLOY_DIR"
}

# unit_values KEY: the values of every KEY= line of the unit, one a line.
unit_values() { sed -n "s/^$1=//p" "$UNIT"; }

# unit_caps: the unit's ambient capabilities as setpriv names them
# (sys_ptrace,dac_read_search,...), sorted, comma-separated.
unit_caps() { unit_values AmbientCapabilities | tr ' ' '\n' | sed -n 's/^CAP_//p' | tr 'A-Z' 'a-z' | sort | paste -sd, -; }

# unit_exec_args: the arguments of the unit's ExecStart after
# "/usr/bin/closewait export".
unit_exec_args() { unit_values ExecStart | sed -n 's#^/usr/bin/closewait export ##p'; }

# cap_mask NAMES: the capability mask (16 hex digits, as /proc/PID/status
# shows it) of comma-separated names (sys_ptrace,...), numbered by the
# kernel's header.
cap_mask() {
	local m=0 c n
	for c in ${1//,/ }; do
		n=$(awk -v c="CAP_${c^^}" '$1 == "#define" && $2 == c { print $3 }' /usr/include/linux/capability.h)
		[ -n "$n" ] || return 1
		m=$((m | (1 << n)))
	done
	printf '%016x\n' "$m"
}

# proc_field PID NAME: a field of /proc/PID/status, whitespace squeezed.
proc_field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }

# deploy_dir: a directory any user may enter and run from (the tests' own
# temporary directories are root's alone), removed by teardown.
deploy_dir() {
	DEPLOY_DIR=$(mktemp -d /tmp/cw-deploy.XXXXXX)
	chmod 755 "$DEPLOY_DIR"
}

# unit_setpriv CAPS: sets SETPRIV to the setpriv options that run a command
# as the unit runs it: user and group 65534 (standing in for the unit's
# DynamicUser=: a uid no process of the test has), no supplementary groups,
# CAPS (setpriv names, comma-separated; empty: none) as the inheritable,
# ambient and bounding sets, and no_new_privs when the unit sets it.
unit_setpriv() {
	local plus=
	[ -z "$1" ] || plus=,+${1//,/,+}
	SETPRIV=(--reuid=65534 --regid=65534 --clear-groups --inh-caps="-all$plus" --bounding-set="-all$plus")
	[ -z "$1" ] || SETPRIV+=(--ambient-caps="${plus#,}")
	[ "$(unit_values NoNewPrivileges)" != yes ] || SETPRIV+=(--no-new-privs)
}

# kube_json FILE: the YAML documents of FILE as one JSON array.
kube_json() {
	python3 -c 'import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)' "$1"
}

@test "systemd-analyze verify: the unit draws no complaint (ExecStart pointed at the built binary)" {
	# the shipped command, the one the copy replaces
	[ "$(unit_values ExecStart | grep -c '^/usr/bin/closewait export ')" -eq 1 ]
	u=$BATS_TEST_TMPDIR/closewait-exporter.service
	sed "s#^ExecStart=/usr/bin/closewait #ExecStart=$CW #" "$UNIT" >"$u"
	[ "$(grep -c "^ExecStart=$CW export " "$u")" -eq 1 ]
	# --man=no: Documentation= names the man page, installed with the
	# package, not in a build tree
	run systemd-analyze verify --man=no "$u"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# verify says what it does not know (it exits 0 on it: the empty
	# output above is the check)
	echo "ProtectSytem=strict" >>"$u"
	run systemd-analyze verify --man=no "$u"
	[[ "$output" == *"Unknown key 'ProtectSytem'"* ]]
}

@test "systemd-analyze security --offline: exposure at most $EXPOSURE_MAX, and every exposure left is one the census needs" {
	run systemd-analyze security --offline=true "$UNIT"
	echo "$output"
	[ "$status" -eq 0 ]
	e=$(sed -n 's/^.*Overall exposure level for closewait-exporter\.service: \([0-9.]*\) .*$/\1/p' <<<"$output")
	[ -n "$e" ]
	awk -v e="$e" -v m="$EXPOSURE_MAX" 'BEGIN { exit !(e <= m) }'
	# What is left, and why nothing less will do:
	#   AmbientCapabilities=, CAP_SYS_PTRACE, CAP_DAC_*: other users' fd tables;
	#   CAP_SYS_ADMIN, RestrictNamespaces=~net: entering network namespaces;
	#   PrivateNetwork=, PrivateUsers=: the host's sockets, the host's capabilities;
	#   ProtectProc=: every /proc/PID (CAP_SYS_PTRACE bypasses hidepid anyway, and
	#     hiding would hide the count of unreadable processes too);
	#   ProcSubset=: /proc/sys/net (each namespace's ephemeral port range);
	#   AF_NETLINK, AF_INET/AF_INET6: sock_diag, the listener;
	#   IPAddressDeny=: localhost is allowed (Prometheus on the host scrapes it);
	#   DeviceAllow=: char-rtc read, which ProtectClock=yes itself adds;
	#   RootDirectory=: the exporter runs from the host's /usr.
	want="RootDirectory=/RootImage=
AmbientCapabilities=
CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)
CapabilityBoundingSet=~CAP_SYS_PTRACE
CapabilityBoundingSet=~CAP_SYS_ADMIN
RestrictNamespaces=~net
RestrictAddressFamilies=~AF_NETLINK
RestrictAddressFamilies=~AF_(INET|INET6)
PrivateNetwork=
PrivateUsers=
ProtectProc=
ProcSubset=
IPAddressDeny=
DeviceAllow="
	got=$(sed -n 's/^✗ \([^ ]*\) .*$/\1/p' <<<"$output" | sort)
	diff <(sort <<<"$want") <(echo "$got")
}

@test "as the unit runs it (uid 65534, exactly its capabilities): another user's leaked sockets are named, here and in another namespace; without the capabilities they are owner=\"unknown\"" {
	caps=$(unit_caps)
	[ -n "$caps" ]
	# the bounding set is the ambient set: nothing more can be gained
	[ "$(unit_values CapabilityBoundingSet | tr ' ' '\n' | sort | paste -sd, -)" = "$(unit_values AmbientCapabilities | tr ' ' '\n' | sort | paste -sd, -)" ]
	args=$(unit_exec_args)
	[[ "$args" == *"--listen 127.0.0.1:9848"* ]]
	deploy_dir
	cp "$CW" "$DEPLOY_DIR/closewait"
	cp "$CW" "$DEPLOY_DIR/cw-leak-here"
	cp "$CW" "$DEPLOY_DIR/cw-leak-netns"
	shell_fds=$(fd_count $$)
	# root's leaking servers: one in this namespace, one in a namespace of its own
	bg "$DEPLOY_DIR/cw-leak-here" serve --leak --quiet --port 8100
	here=$LAST_PID
	bg unshare --net sh -c 'ip link set lo up && exec "$0" serve --leak --quiet --port 8101' "$DEPLOY_DIR/cw-leak-netns"
	there=$LAST_PID
	wait_listen 8100
	wait_until "$(slack_ms 5000)" '[ -n "$(nsenter --net=/proc/'"$there"'/ns/net ss -Htln "sport = :8101")" ]'
	base_here=$(fd_count "$here")
	base_there=$(fd_count "$there")
	"$T/cw_clients" 127.0.0.1 8100 5 --send hello >/dev/null
	nsenter --net="/proc/$there/ns/net" "$T/cw_clients" 127.0.0.1 8101 3 --send hello >/dev/null
	wait_until "$(slack_ms 5000)" '[ "$(count_state close-wait "( sport = :8100 )")" -eq 5 ]'
	wait_until "$(slack_ms 5000)" '[ "$(nsenter --net=/proc/'"$there"'/ns/net ss -Htan state close-wait "( sport = :8101 )" | wc -l)" -eq 3 ]'
	# The unit's command as its user with its capabilities. --by process:
	# the servers' own group wherever this runs (--by auto would name the
	# systemd unit a CI job runs in).
	# shellcheck disable=SC2086 # the unit's arguments, split as systemd splits them
	unit_setpriv "$caps"
	bg setpriv "${SETPRIV[@]}" "$DEPLOY_DIR/closewait" export $args --by process
	exp=$LAST_PID
	wait_listen 9848
	[ "$(proc_field "$exp" Uid)" = "65534 65534 65534 65534" ]
	[ "$(proc_field "$exp" NoNewPrivs)" = 1 ]
	mask=$(cap_mask "$caps")
	[ "$(proc_field "$exp" CapEff)" = "$mask" ]
	[ "$(proc_field "$exp" CapPrm)" = "$mask" ]
	[ "$(proc_field "$exp" CapAmb)" = "$mask" ]
	[ "$(proc_field "$exp" CapBnd)" = "$mask" ]
	m=$BATS_TEST_TMPDIR/caps.prom
	curl -fsS --max-time 10 -o "$m" http://127.0.0.1:9848/metrics
	[ "$(sample "$m" closewait_close_wait_sockets owner=process command=cw-leak-here pid="$here")" = 5 ]
	[ "$(sample "$m" closewait_close_wait_sockets owner=process command=cw-leak-netns pid="$there")" = 3 ]
	[ "$(sample "$m" closewait_up)" = 1 ]
	# nothing unreadable but what root cannot read either (a sandbox's pid 1
	# may keep its fd links from everyone)
	# root's scan walks /proc as the unit's exporter does (it has no CAP_BPF for the iterator)
	[ "$(sample "$m" closewait_unreadable_processes)" = "$(CLOSEWAIT_OWNERS=proc "$CW" scan --json | jq .unreadable_processes)" ]
	prom_stop "$exp"
	# The same without capabilities: the fds of root's processes cannot be
	# read, other namespaces not entered; this namespace's 5 are unknown.
	unit_setpriv ""
	# shellcheck disable=SC2086
	bg setpriv "${SETPRIV[@]}" "$DEPLOY_DIR/closewait" export $args --by process
	exp=$LAST_PID
	wait_listen 9848
	[ "$(proc_field "$exp" CapEff)" = 0000000000000000 ]
	[ "$(proc_field "$exp" CapBnd)" = 0000000000000000 ]
	m=$BATS_TEST_TMPDIR/nocaps.prom
	curl -fsS --max-time 10 -o "$m" http://127.0.0.1:9848/metrics
	[ "$(sample "$m" closewait_close_wait_sockets owner=unknown)" = 5 ]
	[ -z "$(sample "$m" closewait_close_wait_sockets command=cw-leak-here)" ]
	[ -z "$(sample "$m" closewait_close_wait_sockets command=cw-leak-netns)" ]
	[ "$(sample "$m" closewait_unreadable_processes)" -gt 0 ]
	prom_stop "$exp"
	[ "$(fd_count "$here")" -eq $((base_here + 5)) ]
	[ "$(fd_count "$there")" -eq $((base_there + 3)) ]
	[ "$(fd_count $$)" -eq "$shell_fds" ] # this shell: fds measured alike (wait_fds adds its own redirections)
}

# expand GROUP|NAME...: the system call names of systemd's groups (nested
# groups expanded), one a line.
expand() {
	local g s
	for g in "$@"; do
		case "$g" in
		@*)
			systemd-analyze syscall-filter "$g" 2>/dev/null | sed 's/#.*//; s/^[[:space:]]*//; s/[[:space:]]*$//' |
				sed 1d | grep -v '^$' | while read -r s; do expand "$s"; done
			;;
		*) echo "$g" ;;
		esac
	done
}

@test "every system call, socket family and namespace the exporter uses is one the unit allows (strace of the unit's command serving a scrape)" {
	# LeakSanitizer cannot work under ptrace (the sanitizer pass): this
	# command's leaks are the other tests' to find
	# shellcheck disable=SC2086 # the unit's arguments, split as systemd splits them
	# with the unit's capabilities (CapabilityBoundingSet=), as systemd would
	# start it: what it may do decides what it tries (no eBPF without CAP_BPF)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		bg setpriv --bounding-set="-all,$(unit_values CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g; s/^/+/')" \
		strace -f -qq -o "$BATS_TEST_TMPDIR/strace" "$CW" export $(unit_exec_args)
	tracer=$LAST_PID
	wait_listen 9848
	curl -fsS --max-time 10 -o "$BATS_TEST_TMPDIR/m.prom" http://127.0.0.1:9848/metrics
	[ "$(series "$BATS_TEST_TMPDIR/m.prom" closewait_up)" = "closewait_up 1" ]
	curl -fsS --max-time 10 -o /dev/null http://127.0.0.1:9848/
	exp=$(pgrep -P "$tracer")
	prom_stop "$exp"
	wait "$tracer"
	log=$BATS_TEST_TMPDIR/strace
	# SystemCallFilter=: an allow list, then ~ lists taken out of it
	: >"$BATS_TEST_TMPDIR/allow"
	: >"$BATS_TEST_TMPDIR/deny"
	while read -r v; do
		# shellcheck disable=SC2086 # a list of groups and names
		case "$v" in
		"~"*) expand ${v#\~} >>"$BATS_TEST_TMPDIR/deny" ;;
		*) expand $v >>"$BATS_TEST_TMPDIR/allow" ;;
		esac
	done < <(unit_values SystemCallFilter)
	[ "$(grep -cx setns "$BATS_TEST_TMPDIR/allow")" -eq 1 ]
	allowed=$(grep -vxF -f "$BATS_TEST_TMPDIR/deny" "$BATS_TEST_TMPDIR/allow" | sort -u)
	used=$(sed -n 's/^[0-9]\{1,\} \{1,\}\([a-z0-9_]\{1,\}\)(.*$/\1/p' "$log" | sort -u)
	[ "$(grep -cx execve <<<"$used")" -eq 1 ]
	[ "$(grep -cx setns <<<"$used")" -eq 1 ]
	comm -23 <(echo "$used") <(echo "$allowed") >"$BATS_TEST_TMPDIR/refused"
	cat "$BATS_TEST_TMPDIR/refused"
	[ ! -s "$BATS_TEST_TMPDIR/refused" ]
	# RestrictAddressFamilies=: every socket() of the exporter
	fams=$(sed -n 's/^[0-9]\{1,\} \{1,\}socket(\(AF_[A-Z0-9]*\),.*$/\1/p' "$log" | sort -u)
	[ "$(grep -cx AF_NETLINK <<<"$fams")" -eq 1 ]
	comm -23 <(echo "$fams") <(unit_values RestrictAddressFamilies | tr ' ' '\n' | sort -u) >"$BATS_TEST_TMPDIR/families"
	cat "$BATS_TEST_TMPDIR/families"
	[ ! -s "$BATS_TEST_TMPDIR/families" ]
	# RestrictNamespaces=net: setns into network namespaces, nothing unshared
	[ "$(unit_values RestrictNamespaces)" = net ]
	[ "$(grep -cE '^[0-9]+ +setns\(' "$log")" -gt 0 ]
	[ "$(grep -E '^[0-9]+ +setns\(' "$log" | grep -cv 'CLONE_NEWNET')" -eq 0 ]
	[ "$(grep -cE '^[0-9]+ +(unshare\(|clone3?\(.*CLONE_NEW)' "$log")" -eq 0 ]
	# MemoryDenyWriteExecute=: no memory both writable and executable;
	# ProtectSystem=strict: nothing opened for writing
	[ "$(unit_values MemoryDenyWriteExecute)" = yes ]
	[ "$(grep -cE '^[0-9]+ +(mmap|mprotect)\(.*(PROT_WRITE\|PROT_EXEC|PROT_EXEC\|PROT_WRITE)' "$log")" -eq 0 ]
	[ "$(unit_values ProtectSystem)" = strict ]
	[ "$(grep -cE '^[0-9]+ +(open|openat|creat)\(.*(O_WRONLY|O_RDWR|O_CREAT)' "$log")" -eq 0 ]
}

@test "the DaemonSet: hostPID, the unit's capabilities and no privileged, read-only mounts of /run/netns (HostToContainer) and /sys/fs/cgroup, requests and limits, readiness on /metrics, --all-netns on 0.0.0.0:9848" {
	j=$BATS_TEST_TMPDIR/kube.json
	kube_json "$KUBE" >"$j"
	[ "$(jq '[.[] | select(.kind == "DaemonSet")] | length' "$j")" -eq 1 ]
	ds() { jq -c "first(.[] | select(.kind == \"DaemonSet\")) | $1" "$j"; }
	c() { ds ".spec.template.spec.containers[0] | $1"; }
	[ "$(ds '.apiVersion')" = '"apps/v1"' ]
	[ "$(ds '.spec.template.spec.containers | length')" -eq 1 ]
	[ "$(ds '.spec.template.spec.hostPID')" = true ]
	[ "$(ds '.spec.template.spec.hostNetwork // false')" = false ]
	# privileged nowhere (pod or container), and no escalation
	[ "$(ds '[.. | objects | select(has("privileged")) | .privileged] | all(. == false)')" = true ]
	[ "$(c '.securityContext.allowPrivilegeEscalation')" = false ]
	[ "$(c '.securityContext.readOnlyRootFilesystem')" = true ]
	# the unit's capabilities, exactly, and every other dropped
	[ "$(c '.securityContext.capabilities.drop')" = '["ALL"]' ]
	want=$(unit_values AmbientCapabilities | tr ' ' '\n' | sed 's/^CAP_//' | sort | paste -sd, -)
	[ "$(c '.securityContext.capabilities.add | sort | join(",")')" = "\"$want\"" ]
	# the mounts: each volume's host path, where it is mounted, and how
	mnt() { ds "(.spec.template.spec.volumes[] | select(.hostPath.path == \"$1\") | .name) as \$v | .spec.template.spec.containers[0].volumeMounts[] | select(.name == \$v) | $2"; }
	[ "$(mnt /run/netns '.mountPath')" = '"/run/netns"' ]
	[ "$(mnt /run/netns '.readOnly')" = true ]
	[ "$(mnt /run/netns '.mountPropagation')" = '"HostToContainer"' ]
	[ "$(mnt /sys/fs/cgroup '.mountPath')" = '"/sys/fs/cgroup"' ]
	[ "$(mnt /sys/fs/cgroup '.readOnly')" = true ]
	# requests and limits of both
	[ "$(c '[.resources.requests.cpu, .resources.requests.memory, .resources.limits.cpu, .resources.limits.memory] | map(select(. != null)) | length')" -eq 4 ]
	# the unit's program; --all-netns; listening where Prometheus reaches it,
	# on the port the container declares and the probe asks
	[ "$(c '.command')" = '["/usr/bin/closewait","export"]' ]
	[ "$(c '.args | index("--all-netns") != null')" = true ]
	[ "$(c '.args as $a | $a[($a | index("--listen")) + 1]')" = '"0.0.0.0:9848"' ]
	port=$(c '.ports[] | select(.containerPort == 9848) | .name')
	[ "$port" = '"metrics"' ]
	[ "$(c '.readinessProbe.httpGet.path')" = '"/metrics"' ]
	[ "$(c '.readinessProbe.httpGet.port')" = "$port" ]
}

@test "the scrape config example: keeps the DaemonSet's pods on their metrics port, and attaches no label the exporter uses (nor namespace, pod, container)" {
	j=$BATS_TEST_TMPDIR/kube.json
	kube_json "$KUBE" >"$j"
	jq -r 'first(.[] | select(.kind == "ConfigMap")) | .data["prometheus.yml"]' "$j" >"$BATS_TEST_TMPDIR/prometheus.yml"
	p=$BATS_TEST_TMPDIR/prometheus.json
	kube_json "$BATS_TEST_TMPDIR/prometheus.yml" | jq '.[0].scrape_configs' >"$p"
	[ "$(jq 'length' "$p")" -eq 1 ]
	[ "$(jq '.[0].honor_labels // false' "$p")" = false ]
	# every label the relabelling writes is named (no labelmap); with
	# Prometheus's own instance and job, none is the exporter's
	[ "$(jq '[.[0].relabel_configs[] | select(.action == "labelmap")] | length' "$p")" -eq 0 ]
	targets=$(jq -r '.[0].relabel_configs[] | select((.action // "replace") == "replace") | .target_label' "$p" | sort -u)
	[ -n "$targets" ]
	for l in $EXPORTER_LABELS namespace pod container; do
		[ "$(grep -cx "$l" <<<"$targets")" -eq 0 ]
	done
	# the job's keep rules, applied to the meta labels Kubernetes service
	# discovery gives the DaemonSet's pod on its metrics port: it is kept;
	# another port of it, and another pod, are not
	[ "$(jq -r '.[0].kubernetes_sd_configs[0].role' "$p")" = pod ]
	ns=$(jq -r 'first(.[] | select(.kind == "DaemonSet")) | .metadata.namespace' "$j")
	[ "$(jq --arg ns "$ns" '.[0].kubernetes_sd_configs[0].namespaces.names | index($ns) != null' "$p")" = true ]
	meta=$(jq -c 'first(.[] | select(.kind == "DaemonSet")) | .spec.template as $t |
		($t.metadata.labels | with_entries(.key |= "__meta_kubernetes_pod_label_" + gsub("[^a-zA-Z0-9_]"; "_")))
		+ {__meta_kubernetes_pod_container_port_name: ($t.spec.containers[0].ports[0].name),
		   __meta_kubernetes_pod_node_name: "node-1"}' "$j")
	kept() {
		jq --argjson t "$1" 'reduce (.[0].relabel_configs[] | select(.action == "keep" or .action == "drop")) as $r (true;
			. and ([$r.source_labels[] as $s | $t[$s] // ""] | join($r.separator // ";") | test("^(?:" + ($r.regex // "(.*)") + ")$")) == ($r.action == "keep"))' "$p"
	}
	[ "$(jq -c '[.[0].relabel_configs[] | select(.action == "keep")] | length' "$p")" -ge 2 ]
	[ "$(kept "$meta")" = true ]
	[ "$(kept "$(jq -c '.__meta_kubernetes_pod_container_port_name = "http"' <<<"$meta")")" = false ]
	[ "$(kept "$(jq -c 'with_entries(select(.key | startswith("__meta_kubernetes_pod_label_") | not))' <<<"$meta")")" = false ]
}
