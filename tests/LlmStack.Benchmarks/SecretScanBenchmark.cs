using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmStack.Pipeline;
using LlmStack.Security.Scanning;
using LlmStack.Tooling;
using Serilog;

namespace LlmStack.Benchmarks;

/// <summary>One side of the comparison: a scanner on a tree, its wall time and what it found.</summary>
public sealed record ScanFigure(string Tree, string Scanner, Timing Time, int Findings)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Tree}, {Scanner}: {Time.Median.TotalSeconds:0.00} s (n={Time.Runs.Count}), {Findings} finding(s)");
}

/// <summary>
/// Figures for the README, never assertions: ValidateSecurity's scanner (in process: the files, the rule table, the
/// environments' secret values) against secretlint with its recommended preset (npm, installed by TestTools) on this
/// repository's files and on a generated tree under .nuke/temp with a few planted made-up secrets.
/// </summary>
public static class SecretScanBenchmark
{
    /// <summary>Made-up secrets planted in the generated tree, one per file, at fixed files.</summary>
    public static IReadOnlyList<(string Kind, string Text)> Planted =>
    [
        ("aws-access-key-id", "aws_access_key_id = " + FakeSecrets.AwsKeyId(101)),
        ("github-token", "GITHUB_TOKEN=" + FakeSecrets.GitHub("p", 102)),
        ("private-key", FakeSecrets.PrivateKey("RSA ", 103)),
        ("slack-token", "slack: " + FakeSecrets.Slack(104)),
        ("google-api-key", "maps_key: " + FakeSecrets.Google(105)),
        ("url-password", "DATABASE_URL=postgres://app:" + FakeSecrets.Chars(20, 106) + "@db.internal:5432/app"),
        ("stripe-live-key", "stripe = \"" + FakeSecrets.Stripe("sk", 107) + "\""),
        ("generic-secret-assignment", "client_secret: " + FakeSecrets.Chars(32, 108)),
    ];

    public static async Task<IReadOnlyList<ScanFigure>> RunAsync(string root, int files, int megabytes, int runs, ILogger log, CancellationToken cancellationToken)
    {
        var secretlint = TestTools.SecretlintPath(root);
        if (!File.Exists(secretlint))
        {
            throw new PipelineException($"{secretlint} is missing: run ./build.sh TestTools (npm install secretlint)");
        }

        var tree = Path.Combine(root, ".nuke", "temp", "secret-scan-benchmark", $"{files}-{megabytes}");
        await GenerateAsync(tree, files, megabytes * 1024L * 1024, log, cancellationToken);
        var config = Path.Combine(root, ".nuke", "temp", "secret-scan-benchmark", "secretlintrc.json");
        await File.WriteAllTextAsync(config, """{ "rules": [ { "id": "@secretlint/secretlint-rule-preset-recommend" } ] }""", cancellationToken);

        var (repositoryFiles, _) = await ScanSources.ListFilesAsync(root, _ => false, cancellationToken);
        var figures = new List<ScanFigure>
        {
            await OursAsync("this repository", root, runs, cancellationToken),
            await SecretlintAsync("this repository", root, secretlint, config, repositoryFiles, runs, cancellationToken),
            await OursAsync($"{files} files / {megabytes} MB", tree, runs, cancellationToken),
            await SecretlintAsync($"{files} files / {megabytes} MB", tree, secretlint, config, ["**/*"], runs, cancellationToken),
        };
        foreach (var figure in figures)
        {
            log.Information("{Figure}", figure.ToString());
        }

        return figures;
    }

    private static async Task<ScanFigure> OursAsync(string name, string directory, int runs, CancellationToken cancellationToken)
    {
        var findings = 0;
        var time = await CommandBenchmark.MeasureAsync(name, async ct =>
        {
            // The same scan as ValidateSecurity --path (no structural checks, no allowlist outside the repository root).
            var (files, git) = await ScanSources.ListFilesAsync(directory, _ => false, ct);
            var (found, _) = await ScanSources.ScanFilesAsync(directory, files, git, new ContentScanner(SecretRules.All, []), ct);
            findings = found.Count;
        }, runs, 1, cancellationToken);
        return new ScanFigure(name, "ValidateSecurity", time, findings);
    }

    private static async Task<ScanFigure> SecretlintAsync(string name, string directory, string secretlint, string config, IReadOnlyList<string> patterns, int runs, CancellationToken cancellationToken)
    {
        var findings = 0;
        var time = await CommandBenchmark.MeasureAsync(name, async ct =>
        {
            var output = new StringBuilder();
            // --maskSecrets: secretlint's messages quote the secret otherwise; its output is parsed here, never logged.
            var result = await ProcessRunner.RunAsync(
                secretlint, ["--secretlintrc", config, "--format", "json", "--maskSecrets", "--no-color", .. patterns], directory, line => output.AppendLine(line), ct, onErrorLine: _ => { }, collect: false);
            if (result.ExitCode > 1)
            {
                throw new PipelineException($"secretlint failed on {directory} (exit {result.ExitCode})");
            }

            using var json = JsonDocument.Parse(output.ToString());
            findings = json.RootElement.EnumerateArray().Sum(file => file.GetProperty("messages").GetArrayLength());
        }, runs, 1, cancellationToken);
        return new ScanFigure(name, "secretlint", time, findings);
    }

    /// <summary>
    /// <paramref name="files"/> text files of about <paramref name="bytes"/> in all (source, YAML, JSON and log lines with
    /// secret-like keywords and placeholders, so the prefilters do not skip everything), 100 per directory, seeded, plus
    /// the <see cref="Planted"/> secrets; reused when a stamp says it was made with the same figures.
    /// </summary>
    public static async Task GenerateAsync(string tree, int files, long bytes, ILogger log, CancellationToken cancellationToken)
    {
        var stamp = tree + ".complete";
        if (File.Exists(stamp))
        {
            return;
        }

        if (Directory.Exists(tree))
        {
            Directory.Delete(tree, recursive: true);
        }

        log.Information("Generating {Files} files, {Megabytes} MB under {Tree}", files, bytes / (1024 * 1024), tree);
        var perFile = (int)(bytes / files);
        string[] templates =
        [
            "    var {0} = service.Get{1}(request, cancellationToken); // {2}",
            "  {0}_url: \"https://api.example.org/v1/{1}?page={2}\"",
            "{{\"id\": \"{2}\", \"name\": \"{0}\", \"token\": \"${{API_TOKEN}}\", \"value\": {2}}}",
            "2026-11-30T05:{2:00}:00Z INFO request {0} handled by {1} in {2} ms",
            "password: ${{{1}_PASSWORD}}  # {0} reads it from the secrets file",
            "# {0} {1}: see docs/{0}.md for the integrity sha512-{2} of the lock entry",
        ];
        string[] words = ["backup", "restore", "stack", "service", "volume", "network", "schema", "compose", "health", "model", "vector", "queue"];
        var planted = Planted;
        await Parallel.ForAsync(0, files, new ParallelOptions { CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var random = new Random(i);
            var text = new StringBuilder(perFile + 256);
            if (i % (files / planted.Count) == 0 && i / (files / planted.Count) < planted.Count)
            {
                text.Append(planted[i / (files / planted.Count)].Text).Append('\n');
            }

            while (text.Length < perFile)
            {
                var template = templates[random.Next(templates.Length)];
                text.AppendFormat(CultureInfo.InvariantCulture, template, words[random.Next(words.Length)], words[random.Next(words.Length)].ToUpperInvariant(), random.Next(100_000)).Append('\n');
            }

            var path = Path.Combine(tree, $"d{i / 100:D3}", $"f{i % 100:D2}{(i % 3 == 0 ? ".cs" : i % 3 == 1 ? ".yaml" : ".log")}");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, text.ToString(), ct);
        });
        await File.WriteAllTextAsync(stamp, string.Empty, cancellationToken);
    }
}
