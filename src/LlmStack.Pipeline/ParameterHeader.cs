namespace LlmStack.Pipeline;

/// <summary>
/// The run header: every parameter given (command line, variable, file) and those marked <c>Header</c> even at their
/// default, with where the value came from, so a run that targets the wrong environment says so before it does
/// anything. The other defaults go to the log files only. Secret values are never shown.
/// </summary>
internal static class ParameterHeader
{
    public static void Write(Serilog.ILogger log, IReadOnlyList<ParameterDescriptor> parameters, SecretMasker masker)
    {
        var rows = new List<(string Name, string Value, string Source, bool Console)>();
        foreach (var parameter in parameters)
        {
            var value = parameter.IsSecret
                ? parameter.Source is null ? null : SecretMasker.Placeholder
                : parameter.CurrentText;
            if (value is null)
            {
                continue;
            }

            rows.Add((parameter.DisplayName, masker.Mask(value), parameter.Source ?? "default", parameter.Source is not null || parameter.InHeader));
        }

        if (rows.Count == 0)
        {
            return;
        }

        var nameWidth = rows.Max(r => r.Name.Length);
        var valueWidth = Math.Min(rows.Max(r => r.Value.Length), 48);
        foreach (var (name, value, source, console) in rows)
        {
            log.Write(console ? Serilog.Events.LogEventLevel.Information : Serilog.Events.LogEventLevel.Debug,
                "{Parameter} {Value} {Source}", name.PadRight(nameWidth), value.PadRight(valueWidth), "(" + source + ")");
        }
    }
}
