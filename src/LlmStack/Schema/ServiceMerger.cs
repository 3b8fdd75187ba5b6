namespace LlmStack.Schema;

/// <summary>An environment's partial service definition on top of the base one: maps merge key by key, everything else replaces.</summary>
internal static class ServiceMerger
{
    /// <summary>The base service with an environment's partial definition on top.</summary>
    internal static ServiceDefinition Merge(ServiceDefinition baseline, ServiceDefinition overrides)
    {
        var merged = new ServiceDefinition { Location = baseline.Location };
        foreach (var property in typeof(ServiceDefinition).GetProperties().Where(p => p.CanWrite && p.SetMethod!.IsPublic && p.DeclaringType == typeof(ServiceDefinition)))
        {
            property.SetValue(merged, property.GetValue(baseline));
        }

        merged.Keys.AddRange(baseline.Keys);
        foreach (var (path, location) in baseline.Locations)
        {
            merged.Locations[path] = location;
        }

        foreach (var key in overrides.Keys)
        {
            var property = typeof(ServiceDefinition).GetProperties()
                .Single(p => YamlDotNet.Serialization.NamingConventions.UnderscoredNamingConvention.Instance.Apply(p.Name) == key);
            var value = property.GetValue(overrides);
            if (value is Dictionary<string, string> map && property.GetValue(baseline) is Dictionary<string, string> baseMap)
            {
                var combined = new Dictionary<string, string>(baseMap, StringComparer.Ordinal);
                foreach (var (k, v) in map)
                {
                    combined[k] = v;
                }

                value = combined;
            }
            else
            {
                foreach (var stale in merged.Locations.Keys.Where(p => p.StartsWith(key + "[", StringComparison.Ordinal)).ToList())
                {
                    merged.Locations.Remove(stale);
                }
            }

            property.SetValue(merged, value);
            if (!merged.Keys.Contains(key))
            {
                merged.Keys.Add(key);
            }
        }

        foreach (var (path, location) in overrides.Locations)
        {
            merged.Locations[path] = location;
        }

        return merged;
    }
}
