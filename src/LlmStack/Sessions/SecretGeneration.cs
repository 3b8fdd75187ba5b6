using Docker.DotNet;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Sessions;

/// <summary>A missing secret whose value existing data already holds: generating it would lock the service out of that data.</summary>
public sealed record BoundSecret(string Secret, string Service, ResolvedVolume Volume);

/// <summary>
/// The check before a missing secret is generated. Some secrets are kept by a service in its data the first time it
/// starts: a database login (<c>login:</c>; PostgreSQL keeps the password its volume was initialised with), an account
/// password (<c>account:</c>; Grafana, MinIO), a key that encrypts stored data (<c>stable: true</c>; n8n, LiteLLM, whose
/// data lives in what they depend on). When such a secret is missing from the secrets file but a data volume
/// (<c>holds: db</c> or <c>app_data</c>) of a service that keeps it already exists, a new value would not match what the
/// data holds and every client would fail later — so nothing is generated, and one line says what to do. Secrets no
/// data keeps (session keys, API keys read at each start) are generated as before.
/// </summary>
public static class SecretGeneration
{
    private static readonly HashSet<string> DataKinds = [DataTypes.Db, DataTypes.AppData];

    /// <summary>Whether existing data may hold the secret's value.</summary>
    public static bool KeptInData(SecretDefinition definition) => definition.Login is not null || definition.Account is not null || definition.Stable;

    /// <summary>
    /// For each missing secret that data keeps, the volumes that would hold its old value (pure): those of the services
    /// that use it and of the service it logs in to, and for a stable key also those of what they depend on.
    /// </summary>
    public static IReadOnlyList<BoundSecret> Candidates(ResolvedEnvironment environment, IEnumerable<string> missing, IReadOnlyDictionary<string, SecretDefinition> definitions)
    {
        var result = new List<BoundSecret>();
        foreach (var secret in missing)
        {
            if (!definitions.TryGetValue(secret, out var definition) || !KeptInData(definition))
            {
                continue;
            }

            var keepers = environment.Services.Where(s => s.SecretReferences.Contains(secret)).Select(s => s.Name).ToList();
            if (definition.Login is { } login && environment.Services.Any(s => s.Name == login))
            {
                keepers.Add(login);
            }

            if (definition.Stable)
            {
                keepers.AddRange(keepers.SelectMany(s => environment.Graph.DependenciesOf(s)).ToList());
            }

            foreach (var service in environment.Graph.InOrder(keepers.Distinct()))
            {
                foreach (var mount in environment.Service(service).Volumes.Where(m => m.Kind == MountKind.Volume))
                {
                    var volume = environment.Volumes.First(v => v.Key == mount.Source);
                    if (DataKinds.Contains(volume.Holds) && !result.Any(r => r.Secret == secret && r.Volume.Key == volume.Key))
                    {
                        result.Add(new BoundSecret(secret, service, volume));
                    }
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Refuses, in one line, to generate <paramref name="missing"/> when a volume of ours that would hold one of their old
    /// values exists on the engine. Nothing is written either way.
    /// </summary>
    public static async Task CheckAsync(
        DockerEngine engine, ResolvedEnvironment environment, IReadOnlyList<string> missing, IReadOnlyDictionary<string, SecretDefinition> definitions, string secretsFile, CancellationToken cancellationToken)
    {
        var candidates = Candidates(environment, missing, definitions);
        if (candidates.Count == 0)
        {
            return;
        }

        var scope = Scope.Of(environment);
        var existing = new List<BoundSecret>();
        foreach (var group in candidates.GroupBy(c => c.Volume.Name))
        {
            try
            {
                var volume = await engine.CallAsync(ct => engine.Client.Volumes.InspectAsync(group.Key, ct), cancellationToken);
                if (scope.Owns(volume.Labels))
                {
                    existing.AddRange(group);
                }
            }
            catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
            }
        }

        if (existing.Count == 0)
        {
            return;
        }

        var secrets = missing.Where(m => existing.Any(e => e.Secret == m)).ToList();
        var volumes = existing.GroupBy(e => e.Volume.Name).Select(g => $"{g.Key} ({string.Join(", ", g.Select(e => e.Service).Distinct())}: {string.Join(", ", g.Select(e => e.Secret).Distinct())})");
        var wipe = existing.Any(e => e.Volume.Holds == DataTypes.Db) && existing.All(e => e.Volume.Holds == DataTypes.Db) ? "WipeDb" : "WipeDb / WipeEnvironment";
        throw new PipelineException(
            $"{secretsFile} lacks {string.Join(", ", secrets)}, but existing data keeps the old value{(secrets.Count > 1 ? "s" : string.Empty)}: volume {string.Join("; ", volumes)}; "
            + $"a generated value would lock the service out, so nothing was generated. Restore the secrets file from where you keep it (or point --secrets-dir at it), "
            + $"or write the old value{(secrets.Count > 1 ? "s" : string.Empty)} into it (then RotateSecret --secret NAME to change one), or delete that data with {wipe}");
    }
}
