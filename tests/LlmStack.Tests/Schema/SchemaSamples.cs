namespace LlmStack.Tests.Schema;

/// <summary>A small valid schema, and broken variants whose expected error position is marked with ⟦.</summary>
internal static class SchemaSamples
{
    public const string Marker = "⟦";

    public const string Valid = """
        project:
          name: demo
          restart: unless-stopped
        variables:
          BIND_ADDRESS: 127.0.0.1
          DB_PORT: "5432"
          API_PORT: "8000"
          API_TAG: "1.0"
        secrets:
          DB_PASSWORD:
            length: 24
          API_KEY:
            prefix: "sk-"
        healthcheck_templates:
          standard: { interval: 10s, timeout: 5s, retries: 3 }
        volumes:
          db_data: { holds: db }
        stacks:
          core:
            depends_on: []
            services: [db, cache]
          app:
            depends_on: [core]
            services: [api]
        services:
          db:
            image: postgres:16
            environment:
              POSTGRES_PASSWORD: ${DB_PASSWORD}
            ports: ["${BIND_ADDRESS}:${DB_PORT}:5432"]
            volumes: ["db_data:/var/lib/postgresql/data"]
            healthcheck:
              test: [CMD-SHELL, "pg_isready"]
              template: standard
          cache:
            image: redis:7
            command: [redis-server, --appendonly, "yes"]
          api:
            image: example/api:${API_TAG}
            depends_on: [db, cache]
            ports: ["${BIND_ADDRESS}:${API_PORT}:8000"]
            environment:
              DATABASE_URL: postgresql://app:${DB_PASSWORD}@db:5432/app
              API_KEY: ${API_KEY}
              PRICE: "$$5"
        environments:
          dev:
            gpu: false
            networks:
              core: { subnet: 10.90.1.0/24 }
              app: { subnet: 10.90.2.0/24 }
          test:
            gpu: false
            variables:
              DB_PORT: "15432"
              API_PORT: "18000"
            networks:
              core: { subnet: 10.91.1.0/24, gateway: 10.91.1.254 }
              app: { subnet: 10.91.2.0/24 }
            services:
              api:
                environment:
                  EXTRA: "yes"
        """;

    /// <summary>Applies text edits to the valid schema; returns the YAML without the marker and the marker's line:col.</summary>
    public static (string Yaml, string? Position) Edit(params (string From, string To)[] edits)
    {
        var yaml = Valid;
        foreach (var (from, to) in edits)
        {
            if (!yaml.Contains(from, StringComparison.Ordinal))
            {
                throw new ArgumentException($"sample does not contain '{from}'");
            }

            yaml = yaml.Replace(from, to, StringComparison.Ordinal);
        }

        var index = yaml.IndexOf(Marker, StringComparison.Ordinal);
        string? position = null;
        if (index >= 0)
        {
            var before = yaml[..index];
            var line = before.Count(c => c == '\n') + 1;
            var column = index - (before.LastIndexOf('\n') + 1) + 1;
            position = $"{line}:{column}";
            yaml = yaml.Remove(index, Marker.Length);
        }

        return (yaml, position);
    }
}
