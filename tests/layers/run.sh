#!/usr/bin/env bash
# Tests of tools/check-layers.py: the real tree passes, and each planted
# mistake (a later stage's include, a sibling's, a cycle, a call upward, a
# shim that includes the daemon, a name used twice) fails with its place.
set -euo pipefail
cd "$(dirname "$0")/../.."
CHECK="python3 $PWD/tools/check-layers.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

fresh() {	# a copy of the sources only
	rm -rf "$tmp/t" && mkdir -p "$tmp/t"
	cp -r user preload bpf include "$tmp/t/"
}

# expect NAME WANT_RC PATTERN [check args...]: the check's exit code and a line of its output
expect() {
	local name=$1 want=$2 pattern=$3 rc=0
	shift 3
	$CHECK --root "$tmp/t" "$@" > "$tmp/out" 2>&1 || rc=$?
	if [ "$rc" = "$want" ] && grep -qF -- "$pattern" "$tmp/out"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name: exit $rc (want $want), output:"; sed 's/^/    /' "$tmp/out"
		echo "    (wanted a line with: $pattern)"
	fi
}

# plant FILE LINE TEXT: inserts TEXT as line LINE of FILE
plant() { sed -i "$2i $3" "$tmp/t/$1"; }

fresh
expect "the tree as it is" 0 "includes one way, no cycles"

fresh
plant user/2-http/http1.c 3 '#include "store.h"'
expect "http includes the store" 1 'user/2-http/http1.c:3: #include "store.h": 6-store is a later stage than 2-http'

fresh
plant user/0-common/log.c 2 '#include "provider.h"'
expect "common includes llm" 1 'user/0-common/log.c:2: #include "provider.h": 3-llm is a later stage than 0-common'

fresh
plant user/7-cli/cli.c 2 '#include "priv.h"'
expect "cli includes the daemon's" 1 '7-daemon is a sibling stage than 7-cli'

fresh
plant preload/shim.c 2 '#include "stats.h"'
expect "the shim includes the daemon's" 1 'preload/shim.c:2: #include "stats.h": preload/ may include only preload/ and include/'

fresh
printf '#include "ring_b.h"\n' > "$tmp/t/user/3-llm/ring_a.h"
printf '#include "ring_a.h"\n' > "$tmp/t/user/3-llm/ring_b.h"
expect "two headers include each other" 1 "include cycle: user/3-llm/ring_a.h <-> user/3-llm/ring_b.h"

fresh
cp "$tmp/t/user/2-http/sse.h" "$tmp/t/user/3-llm/sse.h"
expect "a header name used twice" 1 "user/3-llm/sse.h: header name also used by user/2-http/sse.h"

fresh
printf 'int x;\n' > "$tmp/t/user/loose.c"
expect "a file outside the stages" 1 "user/loose.c: user/ holds stage folders only"

fresh
plant user/2-http/sse.c 2 '#include "no_such_header.h"'
expect "an include that names nothing" 1 'user/2-http/sse.c:2: #include "no_such_header.h": not found'

# The linker's view: objects built from planted files.
fresh
mkdir -p "$tmp/o/user/3-llm" "$tmp/o/user/2-http"
printf 'int pong(int);\nint ping(int n) { return n ? pong(n - 1) : 0; }\n' > "$tmp/ping.c"
printf 'int ping(int);\nint pong(int n) { return n ? ping(n - 1) : 1; }\n' > "$tmp/pong.c"
cc -c "$tmp/ping.c" -o "$tmp/o/user/3-llm/ping.o"
cc -c "$tmp/pong.c" -o "$tmp/o/user/3-llm/pong.o"
expect "two files call each other" 1 "call cycle: user/3-llm/ping <-> user/3-llm/pong" --objects "$tmp/o"

rm -rf "$tmp/o" && mkdir -p "$tmp/o/user/3-llm" "$tmp/o/user/2-http"
printf 'int price(int);\nint parse(int n) { return price(n); }\n' > "$tmp/parse.c"
printf 'int price(int n) { return 2 * n; }\n' > "$tmp/price.c"
cc -c "$tmp/parse.c" -o "$tmp/o/user/2-http/parse.o"
cc -c "$tmp/price.c" -o "$tmp/o/user/3-llm/price.o"
expect "http calls into llm" 1 "user/2-http/parse.c: calls price of user/3-llm/price.c, in 3-llm, not earlier than 2-http" --objects "$tmp/o"

echo "layers: $pass passed, $fail failed"
[ "$fail" = 0 ]
