#!/usr/bin/env pwsh
# LlmStack bootstrap for PowerShell: finds dotnet, rebuilds the build project only when its inputs changed,
# then runs it. Same behaviour as build.sh.
#   ./build.ps1 <Target> [--parameter value ...]
Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$Root = $PSScriptRoot
$Project = Join-Path $Root 'build/_build.csproj'
$Out = Join-Path $Root 'build/bin/Release/net10.0'
$Stamp = Join-Path $Root '.nuke/temp/build.stamp'
$Inputs = @('build', 'src', 'tests/LlmStack.Benchmarks', 'global.json', 'Directory.Build.props', 'Directory.Packages.props', 'nuget.config')
$Extensions = @('.cs', '.csproj', '.props', '.targets', '.json', '.config')

$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
$env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'

function Get-InputFiles {
    foreach ($item in $Inputs) {
        $path = Join-Path $Root $item
        if (Test-Path $path -PathType Leaf) { Get-Item $path }
        elseif (Test-Path $path) {
            Get-ChildItem $path -Recurse -File | Where-Object {
                $Extensions -contains $_.Extension -and $_.FullName -notmatch '[\\/](bin|obj)[\\/]'
            }
        }
    }
}

function Get-InputsHash {
    $sha = [System.Security.Cryptography.SHA256]::Create()
    $lines = Get-InputFiles | Sort-Object { $_.FullName.Substring($Root.Length).Replace('\', '/') } -CaseSensitive | ForEach-Object {
        $relative = $_.FullName.Substring($Root.Length + 1).Replace('\', '/')
        $hash = (Get-FileHash $_.FullName -Algorithm SHA256).Hash.ToLowerInvariant()
        "$hash  $relative"
    }
    $bytes = [System.Text.Encoding]::UTF8.GetBytes(($lines -join "`n") + "`n")
    return ([System.BitConverter]::ToString($sha.ComputeHash($bytes)) -replace '-', '').ToLowerInvariant()
}

function Find-Dotnet {
    if ($env:DOTNET_EXE -and (Test-Path $env:DOTNET_EXE)) { return $env:DOTNET_EXE }
    $command = Get-Command dotnet -ErrorAction SilentlyContinue
    if ($command) { return $command.Source }
    foreach ($candidate in @("$env:DOTNET_ROOT/dotnet", "$HOME/.dotnet/dotnet", "$env:ProgramFiles/dotnet/dotnet.exe")) {
        if ($candidate -and (Test-Path $candidate)) { return $candidate }
    }
    return $null
}

$program = if ($IsWindows -or $env:OS -eq 'Windows_NT') { Join-Path $Out '_build.exe' } else { Join-Path $Out '_build' }
$upToDate = $false
if ((Test-Path $Stamp) -and (Test-Path $program)) {
    $stampTime = (Get-Item $Stamp).LastWriteTimeUtc
    $newer = Get-InputFiles | Where-Object { $_.LastWriteTimeUtc -gt $stampTime } | Select-Object -First 1
    if (-not $newer) { $upToDate = $true }
    elseif ((Get-InputsHash) -eq (Get-Content $Stamp -Raw).Trim()) { (Get-Item $Stamp).LastWriteTimeUtc = [DateTime]::UtcNow; $upToDate = $true }
}

if (-not $upToDate) {
    $dotnet = Find-Dotnet
    if (-not $dotnet) {
        [Console]::Error.WriteLine('error: dotnet not found: install the .NET 10 SDK (https://dot.net/download) or set DOTNET_EXE')
        exit 1
    }
    $hash = Get-InputsHash
    [Console]::Error.WriteLine('Building the build project (inputs changed)...')
    & $dotnet build $Project --configuration Release -nologo -clp:NoSummary --verbosity quiet
    if ($LASTEXITCODE -ne 0) {
        [Console]::Error.WriteLine('error: the build project does not compile: fix the errors above')
        exit 1
    }
    New-Item -ItemType Directory -Force -Path (Split-Path $Stamp) | Out-Null
    Set-Content -Path $Stamp -Value $hash -NoNewline
}

& $program @args
exit $LASTEXITCODE
