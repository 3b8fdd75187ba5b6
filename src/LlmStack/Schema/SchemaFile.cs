using Serilog;

namespace LlmStack.Schema;

/// <summary>The schema as targets use it: a path relative to the repository root, loaded once per run.</summary>
public sealed class SchemaFile(string rootDirectory, string path)
{
    private ComposeSchema? _schema;
    private SchemaOutline? _outline;

    public string RootDirectory { get; } = rootDirectory;

    /// <summary>As given (for messages), e.g. <c>schemas/compose-schema.yaml</c>.</summary>
    public string DisplayPath { get; } = path;

    public string FullPath { get; } = Path.GetFullPath(path, rootDirectory);

    /// <summary>The environment names, for the --environment value set (from the cached <see cref="Outline"/>).</summary>
    public IReadOnlyList<string> EnvironmentNames() => Outline().Environments;

    /// <summary>
    /// Environment names and the stack graph, read on every start (help and the stack targets' dependencies), so they are
    /// cached in .nuke/temp keyed by the schema's path, size and modification time: parsing YAML costs ~80 ms of JIT.
    /// </summary>
    public SchemaOutline Outline()
    {
        if (_outline is not null)
        {
            return _outline;
        }

        var info = new FileInfo(FullPath);
        if (!info.Exists)
        {
            return _outline = SchemaLoader.ReadOutline(FullPath);
        }

        var key = $"{FullPath}|{info.Length}|{info.LastWriteTimeUtc.Ticks}";
        var cache = Path.Combine(RootDirectory, ".nuke", "temp", "schema-outline.cache");
        try
        {
            if (File.Exists(cache) && File.ReadAllLines(cache) is [var cachedKey, .. var lines] && cachedKey == key && OutlineText.Read(lines) is { } cached)
            {
                return _outline = cached;
            }
        }
        catch (IOException)
        {
        }

        _outline = SchemaLoader.ReadOutline(FullPath);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(cache)!);
            File.WriteAllLines(cache, [key, .. OutlineText.Write(_outline)]);
        }
        catch (IOException)
        {
        }

        return _outline;
    }

    /// <summary>Loads and validates; throws with the first error when the schema is invalid.</summary>
    public ComposeSchema Load() => _schema ??= SchemaLoader.LoadValid(FullPath, DisplayPath, RootDirectory);

    /// <summary>
    /// Variables another configuration sets for an environment, over the schema's (the retention configuration's
    /// Prometheus TSDB retention); each must be declared in the schema.
    /// </summary>
    public Func<string, IReadOnlyDictionary<string, string>>? Overlay { get; init; }

    public ResolvedEnvironment Resolve(string environment) => EnvironmentResolver.Resolve(Load(), environment, RootDirectory, Overlay?.Invoke(environment));

    /// <summary>
    /// Prints every diagnostic (file:line:col) and a count; throws when there is an error. <paramref name="asSwarm"/>: environments
    /// also checked as if their orchestrator were swarm (<c>ValidateSchema --orchestrator swarm</c>); an environment whose
    /// <c>orchestrator:</c> is swarm always is.
    /// </summary>
    public void Validate(TextWriter output, ILogger log, IReadOnlyCollection<string>? asSwarm = null)
    {
        var result = SchemaLoader.Load(FullPath, DisplayPath, RootDirectory);
        if (result.Schema is { } defined && (asSwarm ?? []).FirstOrDefault(e => !defined.Environments.ContainsKey(e)) is { } unknown)
        {
            throw new SchemaException($"environment '{unknown}' is not defined in {DisplayPath} (defined: {string.Join(", ", defined.Environments.Keys)})");
        }

        var all = new DiagnosticBag();
        foreach (var diagnostic in result.Diagnostics)
        {
            all.Add(diagnostic);
        }

        foreach (var environment in result.Schema is null ? [] : asSwarm ?? [])
        {
            foreach (var diagnostic in SwarmCompatibility.Check(result.Schema!, environment, RootDirectory))
            {
                all.Add(diagnostic);
            }
        }

        var diagnostics = all.Items;
        foreach (var diagnostic in diagnostics)
        {
            output.WriteLine(diagnostic.ToString());
        }

        var errors = diagnostics.Count(d => d.IsError);
        var warnings = diagnostics.Count - errors;
        if (errors > 0)
        {
            throw new SchemaException($"{DisplayPath}: {errors} error(s), {warnings} warning(s): fix the errors above and run ValidateSchema again");
        }

        var schema = result.Schema!;
        log.Information(
            "{Schema} is valid: {Services} services, {Stacks} stacks, {Environments} environments ({Names}), {Warnings} warning(s)",
            DisplayPath, schema.Services.Count, schema.Stacks.Count, schema.Environments.Count, string.Join(", ", schema.Environments.Keys), warnings);
        var swarm = schema.Environments.Where(e => SwarmResolver.Parse<Orchestrator>(e.Value.Orchestrator ?? "containers") == Orchestrator.Swarm).Select(e => e.Key).Union(asSwarm ?? []).ToList();
        if (swarm.Count > 0)
        {
            log.Information("Checked for Docker Swarm: {Environments} (docs/SWARM.md, What maps and what does not)", string.Join(", ", swarm));
        }
        _schema = schema;
    }
}
