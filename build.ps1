#!/usr/bin/env pwsh
# The Windows twin of build.sh (PowerShell 7; also runs on Linux, where CI uses it to keep it
# honest). Same commands: native, build, test, pack, bench, demo. The sanitizer build of the
# native tests runs only in build.sh (MSVC has no UndefinedBehaviorSanitizer).
param(
    [Parameter(Position = 0)][ValidateSet('native', 'build', 'test', 'pack', 'bench', 'demo')][string]$Command = 'test'
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$root = $PSScriptRoot
$jobs = [Environment]::ProcessorCount
# build.sh's folder too: one configuration, one folder (CI runs both scripts on Linux, and the
# second then finds everything built).
$releaseDir = Join-Path $root 'build/release'
$installDir = Join-Path $root 'artifacts/install'
$packagesDir = Join-Path $root 'artifacts/packages'
$config = 'Release'

function Step([string]$text) { Write-Host "`n==> $text" }

function Invoke([string]$program, [string[]]$arguments) {
    & $program @arguments
    if ($LASTEXITCODE -ne 0) { throw "$program $($arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Require([string]$program, [string]$advice) {
    if (-not (Get-Command $program -ErrorAction SilentlyContinue)) { throw "'$program' not found. $advice" }
}

function Build-Native {
    Require cmake 'Install CMake 3.22+.'
    Step "native library ($config) -> $installDir"
    $nvcc = Get-Command nvcc -ErrorAction SilentlyContinue
    if ($nvcc) {
        $release = (& nvcc --version | Select-String 'release ([0-9]+)\.').Matches[0].Groups[1].Value
        if (-not $env:CUDAHOSTCXX -and [int]$release -lt 12 -and (Get-Command clang++-14 -ErrorAction SilentlyContinue)) {
            $env:CUDAHOSTCXX = 'clang++-14'   # nvcc 11 rejects g++ 12 as host compiler
        }
        Write-Host "CUDA backend: on (nvcc $release)"
    } else {
        Write-Host 'CUDA backend: off (nvcc not found)'
    }
    Invoke cmake (@('-S', $root, '-B', $releaseDir, "-DCMAKE_BUILD_TYPE=$config", '-DNAB_BUILD_TESTS=ON', '-DNAB_BUILD_BENCHMARKS=ON'))
    Invoke cmake @('--build', $releaseDir, '--config', $config, '-j', "$jobs", '--target', 'native_adabelief')
    Invoke cmake @('--install', $releaseDir, '--prefix', $installDir, '--config', $config)
}

function Test-Native {
    Step 'native tests (GoogleTest via CTest)'
    Invoke cmake @('--build', $releaseDir, '--config', $config, '-j', "$jobs")
    Invoke ctest @('--test-dir', $releaseDir, '-C', $config, '--output-on-failure', '-j', "$jobs")
}

function Test-Bindings {
    Step 'generated bindings match native/include/native_adabelief.h'
    Invoke dotnet @('run', '--project', (Join-Path $root 'bindings/NativeAdaBelief.Bindings'), '-c', $config, '--', 'check')
}

function Build-DotNet {
    Require dotnet 'Install the .NET 10 SDK.'
    Step ".NET solution ($config)"
    Invoke dotnet @('build', (Join-Path $root 'NativeAdaBelief.sln'), '-c', $config, '-m:1', '-nologo', '-v:quiet')
}

function Test-DotNet {
    Step '.NET tests (xunit)'
    $env:NAB_ABI_LAYOUT_REPORT = Join-Path $releaseDir 'native/tests/abi-layout.json'
    Invoke dotnet @('test', (Join-Path $root 'NativeAdaBelief.sln'), '-c', $config, '-m:1', '--no-build', '-nologo')
}

function New-Package {
    Step "NuGet package -> $packagesDir"
    if (Test-Path $packagesDir) { Remove-Item -Recurse -Force $packagesDir }
    Invoke dotnet @('pack', (Join-Path $root 'src/NativeAdaBelief'), '-c', $config, '-o', $packagesDir, '-m:1', '-nologo', '-v:quiet')
    Get-ChildItem $packagesDir | ForEach-Object { Write-Host $_.Name }
}

function Test-Package {
    Step 'the package on its own: a separate project restores it from the local feed and steps'
    $consumer = Join-Path $root 'tests/NativeAdaBelief.PackageConsumer'
    foreach ($path in @((Join-Path $root 'artifacts/consumer-packages'), (Join-Path $consumer 'bin'), (Join-Path $consumer 'obj'))) {
        if (Test-Path $path) { Remove-Item -Recurse -Force $path }
    }
    Remove-Item Env:NATIVE_ADABELIEF_LIBRARY -ErrorAction SilentlyContinue
    Invoke dotnet @('run', '--project', $consumer, '-c', $config)
}

switch ($Command) {
    'native' { Build-Native }
    'build' { Build-Native; Build-DotNet }
    'test' { Build-Native; Test-Bindings; Test-Native; Build-DotNet; Test-DotNet; New-Package; Test-Package }
    'pack' { Build-Native; New-Package }
    'demo' {
        Build-Native
        Step 'the demo: Fashion-MNIST with AdaBelief, Adam and SGD (see docs/demo.md)'
        Invoke dotnet (@('run', '--project', (Join-Path $root 'src/NativeAdaBelief.Demo'), '-c', $config, '--', '--output', (Join-Path $root 'artifacts/demo')) + $args)
    }
    default { throw "build.ps1 $Command is available through build.sh on Linux; on Windows it is not written yet." }
}
