#!/usr/bin/env bash
# LlmStack bootstrap: finds dotnet, rebuilds the build project only when its inputs changed, then runs it.
#   ./build.sh <Target> [--parameter value ...]      e.g. ./build.sh StartAi --environment staging
set -eo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT="$ROOT/build/_build.csproj"
OUT="$ROOT/build/bin/Release/net10.0"
STAMP="$ROOT/.nuke/temp/build.stamp"
INPUTS=(build src tests/LlmStack.Benchmarks global.json Directory.Build.props Directory.Packages.props nuget.config)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

find_dotnet() {
    if [[ -n "$DOTNET_EXE" && -x "$DOTNET_EXE" ]]; then echo "$DOTNET_EXE"; return; fi
    if command -v dotnet >/dev/null 2>&1; then command -v dotnet; return; fi
    for candidate in "$DOTNET_ROOT/dotnet" "$HOME/.dotnet/dotnet" /usr/share/dotnet/dotnet /usr/lib/dotnet/dotnet; do
        if [[ -x "$candidate" ]]; then echo "$candidate"; return; fi
    done
    return 1
}

# Content hash of everything the build program is compiled from (paths included, so renames count): build/, src/, the
# benchmarks project it references under tests/, and the root build files.
inputs_hash() {
    cd "$ROOT" && find "${INPUTS[@]}" -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name '*.json' -o -name '*.config' \) \
        -not -path '*/bin/*' -not -path '*/obj/*' -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

up_to_date() {
    [[ -f "$STAMP" && -x "$OUT/_build" ]] || return 1
    # Fast path: nothing (files or directories, so additions and deletions count) is newer than the stamp.
    # (bin/ and obj/ are pruned, not walked: they hold more files than the sources.)
    if [[ -z "$(cd "$ROOT" && find "${INPUTS[@]}" \( -name bin -o -name obj \) -prune -o -newer "$STAMP" -print -quit 2>/dev/null)" ]]; then
        return 0
    fi
    # Something was touched: compare contents.
    if [[ "$(inputs_hash)" == "$(cat "$STAMP")" ]]; then touch "$STAMP"; return 0; fi
    return 1
}

if ! up_to_date; then
    if ! DOTNET="$(find_dotnet)"; then
        echo "error: dotnet not found: install the .NET 10 SDK (https://dot.net/download) or set DOTNET_EXE" >&2
        exit 1
    fi
    hash="$(inputs_hash)"
    echo "Building the build project (inputs changed)..." >&2
    # ReadyToRun (precompiled for this machine's runtime) starts in a fraction of the JIT's time; where the compiler
    # package cannot be had (no NuGet access), a plain build runs the same program, only slower to start.
    if ! "$DOTNET" publish "$PROJECT" --configuration Release --use-current-runtime --self-contained false -p:PublishReadyToRun=true \
            -o "$OUT" -nologo -clp:NoSummary --verbosity quiet >&2; then
        echo "note: ReadyToRun publish failed; building without it" >&2
        if ! "$DOTNET" build "$PROJECT" --configuration Release -nologo -clp:NoSummary --verbosity quiet >&2; then
            echo "error: the build project does not compile: fix the errors above" >&2
            exit 1
        fi
    fi
    mkdir -p "$(dirname "$STAMP")"
    echo "$hash" > "$STAMP"
fi

exec "$OUT/_build" "$@"
