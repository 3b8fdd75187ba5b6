using LlmStack.Pipeline;

partial class Build
{
    [Parameter("Timed runs per benchmark")]
    readonly int Runs = 10;

    Target BenchmarkStartup => _ => _
        .Description("Median of warm './build.sh --help' against 'dotnet run --project build -- --help' (figures for the README; nothing asserted).")
        .Executes(async ct =>
        {
            var fast = await CommandBenchmark.MeasureCommandAsync("./build.sh --help", Path.Combine(RootDirectory, "build.sh"), ["--help"], RootDirectory, Runs, 2, ct);
            var slow = await CommandBenchmark.MeasureCommandAsync("dotnet run --project build -- --help", "dotnet", ["run", "--project", "build", "--", "--help"], RootDirectory, Runs, 1, ct);
            Log.Information("{Fast}", fast.ToString());
            Log.Information("{Slow}", slow.ToString());
            ReportSummary("build.sh", $"{fast.Median.TotalSeconds:0.000}s");
            ReportSummary("dotnet run", $"{slow.Median.TotalSeconds:0.000}s");
        });
}
