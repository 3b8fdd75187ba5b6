using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmStack.Backup;
using LlmStack.Schema;
using YamlDotNet.RepresentationModel;

namespace LlmStack.Monitoring;

/// <summary>
/// The dashboard checked without Grafana (which cannot run here): every panel's and query's datasource is the
/// provisioned uid, every metric a query reads is one LlmStack writes (or a generated recording rule), panel ids are
/// unique, the grid has no overlap and fits 24 columns, every <c>$variable</c> used exists (and environment, service,
/// tier are there), and the provisioning paths are the ones the schema's Grafana mounts.
/// </summary>
public static partial class DashboardCheck
{
    private static readonly HashSet<string> Keywords = ["by", "on", "without", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"];

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\{[^}]*\}|\[[^\]]*\]")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"\b(?:by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Groupings();

    [GeneratedRegex(@"(?<![\w:$.])((?>[a-zA-Z_:][a-zA-Z0-9_:]*))(?!\s*\()")]
    private static partial Regex Identifiers();

    [GeneratedRegex(@"\$(\w+)")]
    private static partial Regex VariableUses();

    /// <summary>The metric names a PromQL expression reads.</summary>
    public static IReadOnlyList<string> MetricsOf(string expression)
    {
        var bare = Groupings().Replace(Matchers().Replace(Strings().Replace(expression, " "), " "), " ");
        return Identifiers().Matches(bare).Select(m => m.Groups[1].Value)
            .Where(name => !Keywords.Contains(name) && !char.IsDigit(name[0]))
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    public static IReadOnlyList<string> Problems(string dashboardJson, string datasourceYaml, string providerYaml, ComposeSchema schema)
    {
        var problems = new List<string>();
        var dashboard = JsonNode.Parse(dashboardJson)!.AsObject();
        var uid = Yaml(datasourceYaml)["datasources"][0]["uid"].ToString();
        var known = BackupMetrics.All.Select(m => m.Name).Concat(PrometheusFiles.Recorded).ToHashSet(StringComparer.Ordinal);
        var variables = dashboard["templating"]?["list"]?.AsArray().Select(v => v!["name"]!.GetValue<string>()).ToHashSet(StringComparer.Ordinal) ?? [];
        problems.AddRange(GrafanaFiles.Variables.Where(v => !variables.Contains(v)).Select(v => $"variable ${v} is missing"));

        var queries = new List<(string Where, string Expression)>();
        foreach (var variable in dashboard["templating"]?["list"]?.AsArray() ?? [])
        {
            var name = variable!["name"]!.GetValue<string>();
            if (variable["datasource"]?["uid"]?.GetValue<string>() != uid)
            {
                problems.Add($"variable ${name} does not use datasource {uid}");
            }

            var query = variable["query"]?["query"]?.GetValue<string>() ?? string.Empty;
            var inner = Regex.Match(query, @"^label_values\((.*),\s*\w+\)$");
            queries.Add(($"variable ${name}", inner.Success ? inner.Groups[1].Value : query));
        }

        var panels = dashboard["panels"]!.AsArray().Select(p => p!.AsObject()).ToList();
        foreach (var duplicate in panels.GroupBy(p => p["id"]!.GetValue<int>()).Where(g => g.Count() > 1))
        {
            problems.Add($"panel id {duplicate.Key} is used {duplicate.Count()} times");
        }

        var boxes = new List<(string Title, int X, int Y, int W, int H)>();
        foreach (var panel in panels)
        {
            var title = panel["title"]!.GetValue<string>();
            if (panel["datasource"]?["uid"]?.GetValue<string>() != uid)
            {
                problems.Add($"panel '{title}' does not use datasource {uid}");
            }

            foreach (var target in panel["targets"]?.AsArray() ?? [])
            {
                if (target!["datasource"]?["uid"]?.GetValue<string>() != uid)
                {
                    problems.Add($"a query of panel '{title}' does not use datasource {uid}");
                }

                queries.Add(($"panel '{title}'", target["expr"]!.GetValue<string>()));
            }

            var grid = panel["gridPos"]!;
            var box = (title, grid["x"]!.GetValue<int>(), grid["y"]!.GetValue<int>(), grid["w"]!.GetValue<int>(), grid["h"]!.GetValue<int>());
            if (box.Item2 < 0 || box.Item4 <= 0 || box.Item2 + box.Item4 > 24 || box.Item3 < 0 || box.Item5 <= 0)
            {
                problems.Add($"panel '{title}' does not fit the 24-column grid");
            }

            problems.AddRange(boxes.Where(b => b.X < box.Item2 + box.Item4 && box.Item2 < b.X + b.W && b.Y < box.Item3 + box.Item5 && box.Item3 < b.Y + b.H)
                .Select(b => $"panels '{b.Title}' and '{title}' overlap"));
            boxes.Add(box);
        }

        foreach (var (where, expression) in queries)
        {
            problems.AddRange(MetricsOf(expression).Where(m => !known.Contains(m)).Select(m => $"{where} reads {m}, which LlmStack does not write"));
            problems.AddRange(VariableUses().Matches(expression).Select(m => m.Groups[1].Value).Where(v => !variables.Contains(v) && !v.StartsWith("__", StringComparison.Ordinal))
                .Select(v => $"{where} uses ${v}, which is not a variable of the dashboard"));
        }

        problems.AddRange(Mounts(providerYaml, schema));
        return problems;
    }

    /// <summary>The provider's path and the provisioning directories are mounted into the schema's Grafana from the generated files' directories.</summary>
    private static IEnumerable<string> Mounts(string providerYaml, ComposeSchema schema)
    {
        var volumes = schema.Services.GetValueOrDefault("grafana")?.Volumes ?? [];
        var path = Yaml(providerYaml)["providers"][0]["options"]["path"].ToString();
        var expected = new (string Source, string Target)[]
        {
            ("./" + Path.GetDirectoryName(MonitoringFiles.Datasource)!.Replace('\\', '/'), GrafanaFiles.DatasourcesInContainer),
            ("./" + Path.GetDirectoryName(MonitoringFiles.Provider)!.Replace('\\', '/'), GrafanaFiles.ProvidersInContainer),
            ("./" + Path.GetDirectoryName(MonitoringFiles.Dashboard)!.Replace('\\', '/'), path),
        };
        foreach (var (source, target) in expected)
        {
            if (!volumes.Any(v => v.StartsWith($"{source}:{target}", StringComparison.Ordinal)))
            {
                yield return $"the schema's grafana does not mount {source} at {target}: add \"{source}:{target}:ro\" to its volumes";
            }
        }
    }

    private static YamlNode Yaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents[0].RootNode;
    }
}
