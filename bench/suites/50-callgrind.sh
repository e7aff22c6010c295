#!/bin/sh
# Callgrind profiles of the hot path: instructions per message for closewait,
# the bare loop and libuv under the same ping-pong load, and where
# closewait's go. Hardware counters are not available to perf here; callgrind
# counts instructions (Ir) exactly, whatever else runs on the machine.
set -eu
. "$(dirname "$0")/../lib.sh"
bench_init "$0" "$@"
command -v valgrind >/dev/null || die "valgrind is missing (scripts/bootstrap bench installs it)"

if [ $SMOKE = 1 ]; then
	LIST="closewait bare" CONNS="50" SECS=0.5
else
	LIST="closewait cwtimers bare libuv" CONNS="1 50" SECS=3
fi
SIZE=64

# Collection is on only inside the loop: from cw_loop_run (closewait), uv_run
# (libuv), main (bare: its loop is main; setup before it is a few thousand
# instructions). The application's own work, the uppercase loop, is on_data
# (closewait) or upcase (the peers).
profile() {
	s=$1 c=$2 port=$3
	out=$TMPD/cg.$s.$c
	case $s in
	closewait) set -- --toggle-collect=cw_loop_run "$CWRUN" serve --bind 0.0.0.0 --port "$port" --quiet ;;
	cwtimers) set -- --toggle-collect=cw_loop_run "$CWRUN" serve --bind 0.0.0.0 --port "$port" --quiet \
		--idle 300s --heartbeat 30s ;;
	bare) set -- --toggle-collect=main "$BIN/peer_bare" "$port" ;;
	libuv) set -- --toggle-collect=uv_run "$BIN/peer_uv" "$port" ;;
	esac
	valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$TMPD/vg.$s.$c" &
	vpid=$!
	SERVERS="$SERVERS $vpid"
	wait_listen "$port"
	line=$("$BIN/loadgen" --port "$port" --conns "$c" --size $SIZE --time $SECS --warmup 0) ||
		die "loadgen against $s under callgrind failed"
	stop_server "$vpid"
	[ -s "$out" ] || die "callgrind wrote no profile for $s: $(tail -3 "$TMPD/vg.$s.$c")"
	callgrind_annotate --threshold=100 "$out" 2>/dev/null | tr -d ',' >"$out.txt"
	echo $(( $(kv total "$line") + c ))
}

# self Ir of functions whose name matches $2 in annotate output $1.
self_ir() {
	awk -v f="$2" '$0 ~ ":" f "([.][a-z0-9.]+)? \\[" { s += $1 } END { print s + 0 }' "$1"
}

echo "## Callgrind: instructions per message on the hot path"
echo
echo "\`valgrind --tool=callgrind --toggle-collect=LOOP SERVER\` under \`loadgen --conns N --size $SIZE"
echo "--time $SECS --warmup 0\`; Ir = instructions executed in user space inside the loop"
echo "(cw_loop_run, uv_run, or the bare loop's main), divided by every message handled. The"
echo "application's work (the same uppercase loop: closewait's on_data, the peers' upcase) is"
echo "shown apart; \"loop\" is everything else: the event loop, the library, libc wrappers."
echo "closewait runs twice: with its defaults (no timeouts), and with an idle timeout and"
echo "heartbeats on, so every connection has a timer armed (re-armed lazily, not per message)."
echo
port=9500
for c in $CONNS; do
	for s in $LIST; do
		msgs=$(profile "$s" "$c" $port)
		port=$((port + 1))
		f=$TMPD/cg.$s.$c.txt
		tot=$(awk '/PROGRAM TOTALS/ { print $1 }' "$f")
		app=$(self_ir "$f" on_data)
		case $s in bare | libuv) app=$(self_ir "$f" upcase) ;; esac
		eval "msgs_${s}_$c=$msgs tot_${s}_$c=$(calc "$tot / $msgs") app_${s}_$c=$(calc "$app / $msgs")"
		eval "lp_${s}_$c=$(calc "($tot - $app) / $msgs")"
	done
done
echo "| server | conns | messages | Ir per message | application Ir/msg | loop Ir/msg | loop Ir/msg vs bare |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for c in $CONNS; do
	for s in $LIST; do
		eval "m=\$msgs_${s}_$c per=\$tot_${s}_$c app=\$app_${s}_$c lp=\$lp_${s}_$c lb=\$lp_bare_$c"
		name=$s
		[ $s = cwtimers ] && name="closewait --idle 300s --heartbeat 30s"
		echo "| $name | $c | $m | $(fmt "$per" 0) | $(fmt "$app" 0) | $(fmt "$lp" 0) | $(ratio "$lp" "$lb") |"
		summary "callgrind $s $c conns: $(fmt "$per" 0) Ir/msg, loop $(fmt "$lp" 0) Ir/msg"
	done
done
echo
for c in $CONNS; do
	f=$TMPD/cg.closewait.$c.txt
	eval "m=\$msgs_closewait_$c"
	echo "closewait at $c connection(s), self Ir per message of the top functions:"
	echo
	echo '```'
	sed -n '/file:function/,/^$/p' "$f" | awk -v m="$m" '$1 ~ /^[0-9]+$/ {
		fn = $0; sub(/^[^:]*:/, "", fn); sub(/ \[.*/, "", fn)
		if (n++ < 12) printf "%10.1f  %s\n", $1 / m, fn }'
	echo '```'
	echo
	eval "wn_$c=$(calc "$(self_ir "$f" wheel_next) / $m")"
	w=0
	for fn in conn_watch loop_io_mod cw_loop_now loop_rbuf; do
		w=$(calc "$w + $(self_ir "$f" $fn)")
	done
	eval "cw_$c=$(calc "$w / $m")"
	w=0
	for fn in malloc _int_malloc calloc free _int_free epoll_ctl; do
		w=$(calc "$w + $(self_ir "$f" $fn)")
	done
	eval "al_$c=$(calc "$w / $m")"
done
first=${CONNS%% *}
eval "wn=\$wn_$first cwx=\$cw_$first al=\$al_$first"
echo "What the profiles of this run show (what earlier profiles changed in the code: README.md,"
echo "\"The library\"):"
echo
if ge "$wn" 50; then
	echo "- \`wheel_next\` scans the pending bitmaps of all 8 wheel levels, and the loop calls it twice"
	echo "  per iteration (for the epoll_wait timeout, then in wheel_advance), even with no timer"
	echo "  armed: $(fmt "$wn" 0) Ir per message at $first connection(s), where every message is a loop"
	echo "  iteration. Remedy: return at once when nothing is armed, and keep the next expiry cached"
	echo "  (recomputed when a timer is armed earlier than it, or when it fires)."
else
	echo "- \`wheel_next\` costs $(fmt "$wn" 0) Ir per message at $first connection(s): the wheel is off the hot path."
fi
echo "- \`conn_watch\` (interest recomputed and compared after every event) and the out-of-line"
echo "  accessors \`cw_loop_now\`/\`loop_rbuf\`: $(fmt "$cwx" 0) Ir per message at $first connection(s)."
if [ -f "$TMPD/cg.cwtimers.50.txt" ]; then
	f=$TMPD/cg.cwtimers.50.txt
	eval "m=\$msgs_cwtimers_50"
	w=0
	for fn in wheel_arm wheel_cancel place unlink_entry slot_index conn_schedule conn_deadline conn_on_timer; do
		w=$(calc "$w + $(self_ir "$f" $fn)")
	done
	echo "- With --idle 300s --heartbeat 30s every connection has its timer armed, and activity"
	echo "  only moves timestamps: arming, re-arming and deadline computation together cost"
	echo "  $(fmt "$(calc "$w / $m")" 2) Ir per message at 50 connections (the arms at connection setup)."
fi
if le "$al" 1; then
	echo "- No allocation and no epoll_ctl on the echo path: malloc, free and epoll_ctl together"
	echo "  cost $(fmt "$al" 2) Ir per message (connection setup only)."
else
	echo "- malloc/free/epoll_ctl on the echo path: $(fmt "$al" 1) Ir per message."
fi
echo
# A profile, not a goal: reported with no threshold.
if [ $SMOKE = 0 ]; then
	r=$(ratio "$lp_closewait_50" "$lp_bare_50")
	report "callgrind hot path (50 conns, 64 B)" "$(fmt "$tot_closewait_50" 0) Ir/msg (loop $(fmt "$lp_closewait_50" 0))" \
		"bare $(fmt "$tot_bare_50" 0) (loop $(fmt "$lp_bare_50" 0)); libuv $(fmt "$tot_libuv_50" 0) (loop $(fmt "$lp_libuv_50" 0))" \
		"$r" "ratio of loop Ir/msg"
else
	report "callgrind hot path (smoke)" "$(fmt "$tot_closewait_50" 0) Ir/msg" "bare $(fmt "$tot_bare_50" 0)" ""
fi
