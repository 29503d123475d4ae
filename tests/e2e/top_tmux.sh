#!/usr/bin/env bash
# `llmobs top` in a real terminal (tmux), and as plain lines in a pipe.
#
# A database with the corpus's exchanges in the last 30 s (corpus_db
# RECENT_S), then: top draws its screen (title, summary, the costliest
# row first, as the plain output says), a key changes the sort, q quits
# (the tmux session ends); piped, it prints one block of plain lines per
# refresh and stops after --iterations. The screen is kept in
# $OUT/top/screen.txt; SCREENSHOT=docs/llmobs-top.txt copies it there.
# Env: E2E_OUTPUT (build dir, default .output), CORPUS.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${E2E_OUTPUT:-$root/.output}
CORPUS=${CORPUS:-$root/../shared/corpus/exchanges.jsonl}
dir=$OUT/top
rm -rf "$dir" && mkdir -p "$dir"
command -v tmux >/dev/null || { echo "top_tmux: no tmux (tools/install-deps.sh installs it)" >&2; exit 1; }
db=$dir/live.db
"$OUT/tests/corpus_db" "$CORPUS" "$db" 1 30 >/dev/null
llmobs=$OUT/llmobs
fail=0
say() { echo "top_tmux: FAIL $*"; fail=1; }

# plain lines in a pipe: one block per refresh, exactly --iterations
"$llmobs" top --db "$db" --iterations 2 --interval 0.2 | cat > "$dir/plain.txt"
blocks=$(grep -c 'exchanges/s' "$dir/plain.txt" || true)
[ "$blocks" -eq 2 ] || say "plain: $blocks blocks, want 2"
grep -q $'\033' "$dir/plain.txt" && say "plain output has escape sequences"
first=$(awk '/^  APP/{getline; print $1, $2; exit}' "$dir/plain.txt")
[ -n "$first" ] || say "plain: no rows"

sess=llmobs-top-$$
tmux kill-session -t "$sess" 2>/dev/null || true
tmux new-session -d -s "$sess" -x 100 -y 24 "$llmobs top --db $db"
trap 'tmux kill-session -t "$sess" 2>/dev/null || true' EXIT
sleep 1.5
tmux capture-pane -p -t "$sess" > "$dir/screen.txt"
grep -q '^llmobs top - .*sorted by cost' "$dir/screen.txt" || say "no title line"
grep -q 'exchanges/s .* tokens/s .* \$/h' "$dir/screen.txt" || say "no summary"
row=$(awk '/^APP /{getline; print $1, $2; exit}' "$dir/screen.txt")
[ "$row" = "$first" ] || say "first row on screen '$row', plain says '$first'"
grep -q '^q quit' "$dir/screen.txt" || say "no key help"
tmux send-keys -t "$sess" x
sleep 1.5
tmux capture-pane -p -t "$sess" > "$dir/screen-x.txt"
grep -q 'sorted by exchanges' "$dir/screen-x.txt" || say "key x did not sort by exchanges"
tmux send-keys -t "$sess" q
for _ in 1 2 3 4 5 6 7 8 9 10; do
  tmux has-session -t "$sess" 2>/dev/null || break
  sleep 0.3
done
tmux has-session -t "$sess" 2>/dev/null && say "q did not quit"
if [ -n "${SCREENSHOT:-}" ]; then
  sed -e 's/[[:space:]]*$//' "$dir/screen.txt" > "$root/$SCREENSHOT"
  echo "top_tmux: screen in $SCREENSHOT"
fi
[ "$fail" -eq 0 ] && echo "top_tmux: ok ($dir)"
exit "$fail"
