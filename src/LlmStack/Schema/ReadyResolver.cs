using System.Text.RegularExpressions;

namespace LlmStack.Schema;

/// <summary>A service's <c>ready:</c> checks, validated with their positions (<see cref="ResolvedReadyCheck"/>).</summary>
internal static class ReadyResolver
{
    private static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    public static IReadOnlyList<ResolvedReadyCheck> Resolve(string name, ServiceDefinition definition, Func<string?, string, string> sub, DiagnosticBag diagnostics)
    {
        var result = new List<ResolvedReadyCheck>();
        foreach (var (check, index) in (definition.Ready ?? []).Select((c, i) => (c, i)))
        {
            var where = $"service '{name}': ready[{index}]";
            var kinds = new[] { check.Exec is not null, check.Tcp is not null, check.Http is not null, check.Log is not null }.Count(k => k);
            if (kinds != 1)
            {
                diagnostics.Error(check.Location, $"{where} must have exactly one of exec, tcp, http, log (it has {kinds})");
                continue;
            }

            var interval = Time(check.Interval, "interval", DefaultInterval);
            var timeout = Time(check.Timeout, "timeout", DefaultTimeout);
            if (check.Exec is { } exec)
            {
                if (exec.Count == 0 || exec[0] is not ("CMD" or "CMD-SHELL") || (exec[0] == "CMD-SHELL" && exec.Count != 2) || (exec[0] == "CMD" && exec.Count < 2))
                {
                    diagnostics.Error(check.Locate("exec"), $"{where}: exec must be [CMD, program, args...] or [CMD-SHELL, \"command\"]");
                    continue;
                }

                result.Add(new ResolvedReadyCheck(ReadyKind.Exec, interval, timeout) { Exec = exec.Select((e, i) => sub(e, $"ready[{index}].exec[{i}]")).ToList() });
            }
            else if (check.Tcp is { } tcp)
            {
                if (Port(tcp, "tcp"))
                {
                    result.Add(new ResolvedReadyCheck(ReadyKind.Tcp, interval, timeout) { Port = tcp });
                }
            }
            else if (check.Http is { } http)
            {
                var path = http.Path ?? "/";
                var status = http.Status ?? 200;
                if (http.Port is not { } port)
                {
                    diagnostics.Error(http.Location, $"{where}: http needs a port (the container's, e.g. port: 6333)");
                    continue;
                }

                if (!path.StartsWith('/'))
                {
                    diagnostics.Error(http.Locate("path"), $"{where}: http path '{path}' must start with /");
                    continue;
                }

                if (status is < 100 or > 599)
                {
                    diagnostics.Error(http.Locate("status"), $"{where}: http status {status} is not an HTTP status (100-599)");
                    continue;
                }

                if (Port(port, "http.port"))
                {
                    result.Add(new ResolvedReadyCheck(ReadyKind.Http, interval, timeout) { Port = port, Path = path, Status = status });
                }
            }
            else if (check.Log is { } pattern)
            {
                try
                {
                    _ = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
                    result.Add(new ResolvedReadyCheck(ReadyKind.Log, interval, timeout) { Pattern = pattern });
                }
                catch (ArgumentException e)
                {
                    diagnostics.Error(check.Locate("log"), $"{where}: log '{pattern}' is not a regular expression ({e.Message.Split('\n')[0]})");
                }
            }

            TimeSpan Time(string? text, string key, TimeSpan fallback)
            {
                if (text is null)
                {
                    return fallback;
                }

                if (Duration.TryParse(text, out var value) && value > TimeSpan.Zero)
                {
                    return value;
                }

                diagnostics.Error(check.Locate(key), $"{where}: {key} '{text}' is not a duration like 1s or 2m");
                return fallback;
            }

            bool Port(int port, string key)
            {
                if (port is >= 1 and <= 65535)
                {
                    return true;
                }

                diagnostics.Error(key == "tcp" ? check.Locate("tcp") : check.Http!.Locate("port"), $"{where}: {key} {port} is not a port (1-65535)");
                return false;
            }
        }

        return result;
    }
}
