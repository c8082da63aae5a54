#!/usr/bin/env bash
# The structure lint (`make lint`): imports run one way, files stay small, and the drawing in
# src/lib.rs names every module.
#
# 1. Every file under src/ is a module (src/relay/hang.rs is relay::hang, src/relay/mod.rs is
#    relay, src/relay/pump/mod.rs is relay::pump). Each `crate::a::b::Item` path a file names is
#    an import of the longest module prefix (relay::pump). tsort(1) fails on a cycle, so a module importing one that imports it, however
#    far round, fails the lint; so does a cycle between rooms (relay, front_door, operator and the
#    top-level files), which keeps each room's imports pointing one way.
# 2. No file under src/ reaches 300 lines.
# 3. Every `mod NAME;` is in the drawing (the ```text block of src/lib.rs's docs): a top-level
#    module anywhere in it, a module of a room (src/relay/**) in that room's part of the drawing
#    (from `└─▶ relay` to the next `└─▶`). A room inside a room (src/relay/channel/) is also named
#    in its parent's `//!` docs. Test modules (`mod tests`, and what they declare) are exempt.
set -euo pipefail
cd "$(dirname "$0")/.."

modules=$(find src -name '*.rs' ! -name main.rs ! -name lib.rs |
    sed -e 's|^src/||' -e 's|/mod\.rs$||' -e 's|\.rs$||' -e 's|/|::|g' | sort)

module_of() { # src/relay/pump/mod.rs -> relay::pump
    local m=${1#src/}
    m=${m%/mod.rs}; m=${m%.rs}
    echo "${m//\//::}"
}

# The longest known module that is a prefix of a crate path.
resolve() {
    local path=$1 best=""
    for m in $modules; do
        case "$path::" in "$m::"*) [ ${#m} -gt ${#best} ] && best=$m ;; esac
    done
    echo "$best"
}

edges=$(mktemp) rooms=$(mktemp)
trap 'rm -f "$edges" "$rooms"' EXIT
for file in $(find src -name '*.rs' ! -name main.rs ! -name lib.rs); do
    from=$(module_of "$file")
    # crate::a::b::c and crate::a::{b, c}: one path per name inside the braces. Comments
    # (doc links among them) are not imports.
    grep -vE '^\s*//' "$file" | grep -oE 'crate::[a-z_:]+(\{[a-zA-Z_, ]*\})?' | sed -e 's/^crate:://' |
        while read -r path; do
            if [[ $path == *"{"* ]]; then
                base=${path%%\{*}
                for name in $(echo "${path#*\{}" | tr -d '}' | tr ',' ' '); do
                    [ "$name" = self ] && echo "${base%::}" || echo "$base$name"
                done
            else
                echo "$path"
            fi
        done | while read -r path; do
            to=$(resolve "$path")
            [ -n "$to" ] && [ "$to" != "$from" ] && echo "$from $to" >>"$edges"
            [ -n "$to" ] && [ "${to%%::*}" != "${from%%::*}" ] && echo "${from%%::*} ${to%%::*}" >>"$rooms"
        done || true
done

status=0
for graph in "$edges:modules" "$rooms:rooms"; do
    file=${graph%%:*} what=${graph##*:}
    if ! sort -u "$file" | tsort >/dev/null 2>"$file.err"; then
        echo "import cycle between $what:"; sed 's/^/  /' "$file.err"; status=1
    fi
    rm -f "$file.err"
done

for file in $(find src -name '*.rs'); do
    lines=$(wc -l <"$file")
    if [ "$lines" -ge 300 ]; then
        echo "$file has $lines lines: split it by what it owns (every file under src/ stays under 300)"
        status=1
    fi
done
# The drawing, one line per arrow: "relay lifecycle → pair → …" up to the next room.
drawing=$(sed -n '/^\/\/! ```text/,/^\/\/! ```$/p' src/lib.rs | sed 's|^//!||' | tr '\n' ' ' |
    sed 's/└─▶/\n/g')
drawn=0
while IFS=: read -r file decl; do
    name=$(echo "$decl" | sed -E 's/.*mod ([a-z_0-9]+);.*/\1/')
    case "$file" in */tests.rs | */tests/*) continue ;; esac
    [ "$name" = tests ] && continue
    drawn=$((drawn + 1))
    room=${file#src/}; room=${room%%/*}
    if [ "$file" = src/lib.rs ]; then
        part=$drawing
    else
        part=$(echo "$drawing" | awk -v room="$room" '$1 == room')
    fi
    if ! echo "$part" | grep -qw -- "$name"; then
        echo "$file declares mod $name, which the drawing in src/lib.rs does not name${room:+ under $room}"
        status=1
    fi
    dir=$(dirname "$file")
    if [ "$file" != src/lib.rs ] && [ -f "$dir/$name/mod.rs" ] &&
        ! grep '^//!' "$file" | grep -qw -- "$name"; then
        echo "$file declares the room $name/ but its //! docs do not name it"
        status=1
    fi
done < <(grep -rHE '^\s*(pub(\([a-z]+\))? )?mod [a-z_0-9]+;' src --include='*.rs')

[ $status -eq 0 ] && echo "structure: $(sort -u "$edges" | wc -l) imports between $(echo "$modules" | wc -w) modules, no cycle; every file under 300 lines; all $drawn modules in the drawing"
exit $status
