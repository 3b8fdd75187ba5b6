using LlmStack.Schema;

namespace LlmStack.Tests.Schema;

public class SchemaValidationTests : IDisposable
{
    private readonly string _directory = Repository.TempDirectory("schema");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private SchemaLoadResult Load(string yaml)
    {
        var path = Path.Combine(_directory, "schema.yaml");
        File.WriteAllText(path, yaml);
        return SchemaLoader.Load(path, "schema.yaml", _directory);
    }

    [Fact]
    public void The_sample_is_valid_without_warnings()
    {
        var result = Load(SchemaSamples.Valid);
        result.Diagnostics.Should().BeEmpty();
        result.Schema!.Services.Keys.Should().Equal("db", "cache", "api");
    }

    public static TheoryData<string, (string, string)[], string> Broken => new()
    {
        { "unknown key 'imag' in service 'db'", [("    image: postgres:16", "    ⟦imag: postgres:16")], "error" },
        { "unknown key 'extras' in the schema", [("environments:\n", "⟦extras: 1\nenvironments:\n")], "error" },
        { "service 'api' depends on undefined service 'cahce'", [("depends_on: [db, cache]", "depends_on: [db, ⟦cahce]")], "error" },
        { "service 'db' mounts undefined volume 'dbdata'", [("volumes: [\"db_data:", "volumes: [⟦\"dbdata:")], "error" },
        { "volume 'db_data' does not say what it holds: add holds: one of db, cache, models, logs, test_results, metrics, app_data", [("  db_data: { holds: db }", "  ⟦db_data: {}")], "error" },
        { "volume 'db_data': holds 'database' is not a data type", [("  db_data: { holds: db }", "  db_data: { ⟦holds: database }")], "error" },
        { "unknown key 'wipeable' in volume 'db_data'", [("  db_data: { holds: db }", "  db_data: { holds: db, ⟦wipeable: false }")], "error" },
        { "stack 'app' depends on undefined stack 'base'", [("depends_on: [core]", "depends_on: [⟦base]")], "error" },
        { "service 'db' uses undefined healthcheck template 'strict'", [("      template: standard", "      ⟦template: strict")], "error" },
        { "service 'api' (stack 'app') depends on 'db' in stack 'core', which is not a dependency of stack 'app'", [("depends_on: [core]", "depends_on: []"), ("depends_on: [db, cache]", "depends_on: [⟦db, cache]")], "error" },
        { "service dependency cycle: db -> cache -> db", [("  db:\n    image: postgres", "  ⟦db:\n    depends_on: [cache]\n    image: postgres"), ("    image: redis:7\n", "    image: redis:7\n    depends_on: [db]\n")], "error" },
        { "stack dependency cycle: core -> app -> core", [("  core:\n    depends_on: []", "  ⟦core:\n    depends_on: [app]")], "error" },
        { "subnet 10.90.1.128/25 (test/core) overlaps 10.90.1.0/24 (dev/core)", [("core: { subnet: 10.91.1.0/24, gateway: 10.91.1.254 }", "core: { ⟦subnet: 10.90.1.128/25 }")], "error" },
        { "subnet 172.32.0.0/24 of stack 'core' in environment 'dev' is not private", [("core: { subnet: 10.90.1.0/24 }", "core: { ⟦subnet: 172.32.0.0/24 }")], "error" },
        { "'10.90.2.1/24' has host bits set: the network address is 10.90.2.0/24", [("app: { subnet: 10.90.2.0/24 }", "app: { ⟦subnet: 10.90.2.1/24 }")], "error" },
        { "gateway 10.91.2.1 is not a host address of subnet 10.91.1.0/24", [("gateway: 10.91.1.254", "⟦gateway: 10.91.2.1")], "error" },
        { "host port 15432/tcp of service 'api' is already published by 'db' in environment 'test'", [("API_PORT: \"18000\"", "API_PORT: \"15432\""), ("ports: [\"${BIND_ADDRESS}:${API_PORT}", "ports: [⟦\"${BIND_ADDRESS}:${API_PORT}")], "error" },
        { "container name 'shared' of dev/cache is also used by dev/db", [("    image: postgres:16\n", "    image: postgres:16\n    container_name: shared\n"), ("    image: redis:7\n", "    image: redis:7\n    ⟦container_name: shared\n")], "error" },
        { "service 'cache' names unknown environment 'prod'", [("    image: redis:7\n", "    image: redis:7\n    environments: [dev, ⟦prod]\n")], "error" },
        { "environment 'dev' enables undefined stack 'web'", [("  dev:\n    gpu: false\n", "  dev:\n    gpu: false\n    stacks: [core, app, ⟦web]\n")], "error" },
        { "service 'api': undefined variable ${API_VERSION}", [("    image: example/api:${API_TAG}", "    ⟦image: example/api:${API_VERSION}")], "error" },
        { "'DB_PASSWORD' is a secret: its value lives in secrets/<environment>.env, never in the schema", [("      DB_PORT: \"15432\"", "      DB_PORT: \"15432\"\n      ⟦DB_PASSWORD: hunter2hunter2")], "error" },
        { "environment overrides undeclared variable 'DB_PROT'", [("      DB_PORT: \"15432\"", "      ⟦DB_PROT: \"15432\"")], "error" },
        { "'replicas' of service 'api' must be a whole number, not 'many'", [("    depends_on: [db, cache]", "    depends_on: [db, cache]\n    replicas: ⟦many")], "error" },
        { "'command' of service 'cache' must be a list, not 'redis-server --appendonly yes'", [("command: [redis-server, --appendonly, \"yes\"]", "command: ⟦redis-server --appendonly yes")], "error" },
        { "service 'api' has 2 replicas but publishes fixed host port 8000", [("    depends_on: [db, cache]", "    depends_on: [db, cache]\n    replicas: 2"), ("ports: [\"${BIND_ADDRESS}:${API_PORT}", "ports: [⟦\"${BIND_ADDRESS}:${API_PORT}")], "error" },
        { "environment 'dev' has no network for stack 'app'", [("      core: { subnet: 10.90.1.0/24 }\n      app: { subnet: 10.90.2.0/24 }", "      core: { subnet: 10.90.1.0/24 }"), ("  dev:\n    gpu: false\n    networks:", "  dev:\n    gpu: false\n    ⟦networks:")], "error" },
        { "service 'db': bind-mount source './missing/db.conf' does not exist", [("volumes: [\"db_data:/var/lib/postgresql/data\"]", "volumes: [\"db_data:/var/lib/postgresql/data\", ⟦\"./missing/db.conf:/etc/db.conf:ro\"]")], "warning" },
        { "service 'cache' uses a floating image tag ('redis:latest')", [("    image: redis:7", "    ⟦image: redis:latest")], "warning" },
        { "service 'db': port '127.0.0.1:5432:54x2': container port '54x2' is not a port number", [("${DB_PORT}:5432\"", "${DB_PORT}:54x2\""), ("ports: [\"${BIND_ADDRESS}:${DB_PORT}", "ports: [⟦\"${BIND_ADDRESS}:${DB_PORT}")], "error" },
        { "secret ${DB_PASSWORD} cannot have a default or message", [("      POSTGRES_PASSWORD: ${DB_PASSWORD}", "      ⟦POSTGRES_PASSWORD: ${DB_PASSWORD:-changeme}")], "error" },
        { "service 'cache': healthcheck has no test", [("    command: [redis-server, --appendonly, \"yes\"]", "    command: [redis-server, --appendonly, \"yes\"]\n    healthcheck:\n      ⟦interval: 5s")], "error" },
        { "secret 'DB_PASSWORD': account 'DB_USER' is not a variable (name the variable that holds the account, e.g. POSTGRES_USER)", [("    length: 24", "    length: 24\n    ⟦account: DB_USER")], "error" },
        { "secret 'DB_PASSWORD': login service 'cache' is not PostgreSQL (image redis:7); only PostgreSQL logins are checked", [("    length: 24", "    length: 24\n    account: API_PORT\n    ⟦login: cache")], "error" },
        { "secret 'DB_PASSWORD': login service 'dbx' is not a service of the schema", [("    length: 24", "    length: 24\n    account: API_PORT\n    ⟦login: dbx")], "error" },
        { "secret 'DB_PASSWORD': a login needs the account too (account: <variable>)", [("    length: 24", "    length: 24\n    ⟦login: db")], "error" },
        { "volume 'unused' is not used by any service", [("  db_data: { holds: db }", "  db_data: { holds: db }\n  ⟦unused: { holds: cache }")], "warning" },
        { "environment 'test' overrides undefined service 'apii'", [("    services:\n      api:\n        environment:", "    services:\n      ⟦apii:\n        environment:")], "error" },
        { "unknown key 'imagee' in service 'api'", [("        environment:\n          EXTRA", "        ⟦imagee: x\n        environment:\n          EXTRA")], "error" },
        { "service 'cache': ready[0] must have exactly one of exec, tcp, http, log (it has 2)", [("    image: redis:7\n", "    image: redis:7\n    ready:\n      - ⟦tcp: 6379\n        log: Ready\n")], "error" },
        { "service 'cache': ready[0] must have exactly one of exec, tcp, http, log (it has 0)", [("    image: redis:7\n", "    image: redis:7\n    ready:\n      - ⟦interval: 1s\n")], "error" },
        { "service 'cache': ready[1]: tcp 70000 is not a port (1-65535)", [("    image: redis:7\n", "    image: redis:7\n    ready:\n      - tcp: 6379\n      - ⟦tcp: 70000\n")], "error" },
        { "service 'cache': ready[0]: http path 'health' must start with /", [("    image: redis:7\n", "    image: redis:7\n    ready:\n      - http: { port: 80, ⟦path: health }\n")], "error" },
        { "service 'cache': ready[0]: http status 42 is not an HTTP status (100-599)", [("    image: redis:7\n", "    image: redis:7\n    ready:\n      - http: { port: 80, ⟦status: 42 }\n")], "error" },
        { "service 'cache': ready[0]: http needs a port", [("    image: redis:7\n", "    image: redis:7\n    ready:\n      - http: ⟦{ path: /health }\n")], "error" },
        { "service 'cache': ready[0]: log '([' is not a regular expression", [("    image: redis:7\n", "    image: redis:7\n    ready:\n      - ⟦log: \"([\"\n")], "error" },
        { "service 'cache': ready[0]: exec must be [CMD, program, args...]", [("    image: redis:7\n", "    image: redis:7\n    ready:\n      - ⟦exec: [redis-cli, ping]\n")], "error" },
        { "service 'cache': smoke[0] method 'FETCH' is not one of GET, HEAD, POST, PUT, DELETE, OPTIONS", [("    image: redis:7\n", "    image: redis:7\n    smoke:\n      - { path: /x, port: 80, ⟦method: FETCH }\n")], "error" },
        { "service 'cache': smoke[1] bearer_secret 'DB_PASWORD' is not a secret of the schema (did you mean 'DB_PASSWORD'?)", [("    image: redis:7\n", "    image: redis:7\n    smoke:\n      - { path: /ok, port: 80, bearer_secret: DB_PASSWORD }\n      - { path: /x, port: 80, ⟦bearer_secret: DB_PASWORD }\n")], "error" },
        { "service 'api': smoke[0] bearer_secret 'TOKEN' is not a secret of the schema (defined: DB_PASSWORD, API_KEY)", [("    services:\n      api:\n        environment:", "    services:\n      api:\n        smoke: [{ path: /x, port: 80, ⟦bearer_secret: TOKEN }]\n        environment:")], "error" },
        { "service 'cache': ready[0]: timeout 'soon' is not a duration like 1s or 2m", [("    image: redis:7\n", "    image: redis:7\n    ready:\n      - tcp: 6379\n        ⟦timeout: soon\n")], "error" },
        { "service 'api': build context './services/api' does not exist: the targets that need image example/api:${API_TAG} (Start, BuildImages) fail until the service's sources are there", [("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    build:\n      ⟦context: ./services/api\n")], "warning" },
        { "service 'api': dockerfile '../Dockerfile' is outside the build context './services/api'", [("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    build:\n      context: ./services/api\n      ⟦dockerfile: ../Dockerfile\n")], "error" },
        { "service 'api': dockerfile '/etc/Dockerfile' is outside the build context", [("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    build:\n      context: ./services/api\n      ⟦dockerfile: /etc/Dockerfile\n")], "error" },
        { "service 'api': build args TOKEN uses secret ${DB_PASSWORD}: build arguments stay in the image", [("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    build:\n      context: ./services/api\n      args:\n        ⟦TOKEN: \"${DB_PASSWORD}\"\n")], "error" },
        { "service 'api': undefined variable ${API_VERSON}", [("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    ⟦build:\n      context: ./services/api\n      args:\n        VERSION: \"${API_VERSON}\"\n")], "error" },
        { "service 'api': build needs a context", [("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    build:\n      ⟦dockerfile: Dockerfile\n")], "error" },
        { "unknown key 'contxt' in 'build' of service 'api'", [("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    build:\n      ⟦contxt: ./services/api\n")], "error" },
    };

    [Fact]
    public void A_build_resolves_its_context_from_the_root_its_dockerfile_inside_it_and_its_arguments_with_variables()
    {
        Directory.CreateDirectory(Path.Combine(_directory, "services", "api", "docker"));
        File.WriteAllText(Path.Combine(_directory, "services", "api", "docker", "Dockerfile.prod"), "FROM scratch\n");
        var (yaml, _) = SchemaSamples.Edit(("    depends_on: [db, cache]\n",
            "    depends_on: [db, cache]\n    build:\n      context: ./services/api\n      dockerfile: ./docker/../docker/Dockerfile.prod\n      args:\n        VERSION: \"${API_TAG}\"\n        PRICE: \"$$5\"\n      target: runtime\n"));
        var path = Path.Combine(_directory, "schema.yaml");
        File.WriteAllText(path, yaml);

        Load(yaml).Diagnostics.Should().BeEmpty("the context and the Dockerfile exist");
        var build = new SchemaFile(_directory, "schema.yaml").Resolve("dev").Service("api").Build!;

        build.ContextPath.Should().Be(Path.Combine(_directory, "services", "api"));
        build.Context.Should().Be("./services/api");
        build.Dockerfile.Should().Be("docker/Dockerfile.prod");
        build.Args.Should().Equal(new KeyValuePair<string, string>("VERSION", "1.0"), new KeyValuePair<string, string>("PRICE", "$$5"));
        build.Target.Should().Be("runtime");
        new SchemaFile(_directory, "schema.yaml").Resolve("dev").Service("db").Build.Should().BeNull("a service without build: is pulled");
    }

    [Fact]
    public void Smoke_checks_resolve_with_GET_and_200_by_default_and_a_bearer_secret_by_name()
    {
        var (yaml, _) = SchemaSamples.Edit(("    image: redis:7\n", "    image: redis:7\n    smoke:\n      - { path: /v1/models, port: 4000, bearer_secret: DB_PASSWORD }\n      - { name: refused, method: head, path: /v1/models, port: 4000, status: 401 }\n"));
        File.WriteAllText(Path.Combine(_directory, "schema.yaml"), yaml);

        var smoke = new SchemaFile(_directory, "schema.yaml").Resolve("dev").Service("cache").Smoke;

        smoke.Should().Equal(
            new SmokeCheck("GET /v1/models (bearer)", SmokeMethod.Get, "/v1/models", 4000, 200, "DB_PASSWORD"),
            new SmokeCheck("refused", SmokeMethod.Head, "/v1/models", 4000, 401, null));
    }

    [Fact]
    public void Ready_checks_resolve_in_order_with_their_own_interval_and_timeout()
    {
        var (yaml, _) = SchemaSamples.Edit(("    image: redis:7\n", "    image: redis:7\n    ready:\n      - tcp: 6379\n        interval: 200ms\n      - exec: [CMD, redis-cli, ping]\n        timeout: 30s\n      - http: { port: 8080, path: /ready, status: 204 }\n      - log: \"Ready to accept\"\n"));
        var path = Path.Combine(_directory, "schema.yaml");
        File.WriteAllText(path, yaml);

        var ready = new SchemaFile(_directory, "schema.yaml").Resolve("dev").Service("cache").Ready;

        ready.Select(r => r.ToString()).Should().Equal("tcp 6379", "exec redis-cli ping", "http :8080/ready → 204", "log 'Ready to accept'");
        ready[0].Interval.Should().Be(TimeSpan.FromMilliseconds(200));
        ready[1].Timeout.Should().Be(TimeSpan.FromSeconds(30));
        ready[2].Status.Should().Be(204);
        new SchemaFile(_directory, "schema.yaml").Resolve("dev").Service("db").Ready.Should().BeEmpty("without ready: the healthcheck decides");
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public void Each_broken_schema_reports_its_problem_at_its_position(string message, (string, string)[] edits, string severity)
    {
        var (yaml, position) = SchemaSamples.Edit(edits);
        position.Should().NotBeNull("every case marks where its diagnostic must point");

        var result = Load(yaml);

        var rendered = result.Diagnostics.Select(d => d.ToString()).ToList();
        rendered.Should().Contain(d => d.StartsWith($"schema.yaml:{position}: {severity}: ") && d.Contains(message),
            $"expected '{severity}: {message}' at {position}; got:\n{string.Join('\n', rendered)}");
        result.HasErrors.Should().Be(severity == "error");
    }

    /// <summary>Every kind of name the schema refers by: undefined is an error at the name, with the closest defined name.</summary>
    public static TheoryData<string, (string, string)[]> Unresolved => new()
    {
        { "stack 'app' depends on undefined stack 'cor' (did you mean 'core'?)", [("depends_on: [core]", "depends_on: [⟦cor]")] },
        { "stack 'core' lists undefined service 'cahe' (did you mean 'cache'?)", [("services: [db, cache]", "services: [db, ⟦cahe]")] },
        { "service 'api' depends on undefined service 'cahce' (did you mean 'cache'?)", [("depends_on: [db, cache]", "depends_on: [db, ⟦cahce]")] },
        { "service 'cache' names unknown environment 'tst' (did you mean 'test'?)", [("    image: redis:7\n", "    image: redis:7\n    environments: [dev, ⟦tst]\n")] },
        { "service 'db' mounts undefined volume 'dbdata' (did you mean 'db_data'?): declare it under volumes", [("volumes: [\"db_data:", "volumes: [⟦\"dbdata:")] },
        { "service 'db' uses undefined healthcheck template 'standrd' (did you mean 'standard'?)", [("      template: standard", "      ⟦template: standrd")] },
        { "environment 'dev' enables undefined stack 'ap' (did you mean 'app'?)", [("  dev:\n    gpu: false\n", "  dev:\n    gpu: false\n    stacks: [core, ⟦ap]\n")] },
        { "environment 'dev' has a network for undefined stack 'apps' (did you mean 'app'?)", [("      app: { subnet: 10.90.2.0/24 }", "      app: { subnet: 10.90.2.0/24 }\n      ⟦apps: { subnet: 10.90.3.0/24 }")] },
        { "environment 'test' overrides undefined service 'apii' (did you mean 'api'?)", [("    services:\n      api:\n        environment:", "    services:\n      ⟦apii:\n        environment:")] },
        { "environment overrides undeclared variable 'DB_PROT' (did you mean 'DB_PORT'?): declare it under the top-level variables", [("      DB_PORT: \"15432\"", "      ⟦DB_PROT: \"15432\"")] },
        { "secret 'DB_PASSWORD': login service 'dbb' is not a service of the schema (did you mean 'db'?)", [("    length: 24", "    length: 24\n    account: API_PORT\n    ⟦login: dbb")] },
        { "secret 'DB_PASSWORD': account 'DB_PROT' is not a variable (did you mean 'DB_PORT'?) (name the variable that holds the account, e.g. POSTGRES_USER)", [("    length: 24", "    length: 24\n    ⟦account: DB_PROT")] },
    };

    [Theory]
    [MemberData(nameof(Unresolved))]
    public void Every_name_that_refers_to_nothing_is_an_error_at_the_name_with_the_closest_name(string message, (string, string)[] edits)
    {
        var (yaml, position) = SchemaSamples.Edit(edits);

        var rendered = Load(yaml).Diagnostics.Select(d => d.ToString()).ToList();

        rendered.Should().Contain($"schema.yaml:{position}: error: {message}", $"got:\n{string.Join('\n', rendered)}");
    }

    [Fact]
    public void Malformed_yaml_reports_the_position_of_the_syntax_error()
    {
        var (yaml, _) = SchemaSamples.Edit(("command: [redis-server, --appendonly, \"yes\"]", "command: [redis-server, --appendonly, \"yes\""));
        var result = Load(yaml);
        result.Schema.Should().BeNull();
        result.Diagnostics.Should().ContainSingle().Which.ToString().Should().MatchRegex(@"^schema\.yaml:\d+:\d+: error: malformed YAML");
    }

    [Theory]
    [InlineData("      N8N_RUNNERS_ENABLED: \"true\"", "⟦\t  N8N_RUNNERS_ENABLED: \"true\"")]
    [InlineData("      - n8n_data:/home/node/.n8n", "    ⟦\t- n8n_data:/home/node/.n8n")]
    public void A_tab_in_the_indentation_deep_in_the_schema_is_reported_at_the_tab(string from, string to)
    {
        var (yaml, position) = ConfigEdit.Apply(File.ReadAllText(Repository.DefaultSchema), (from, to));
        position.Should().NotStartWith("1:", "the tab is deep in the file");

        var result = Load(yaml);

        result.Schema.Should().BeNull();
        result.Diagnostics.Should().ContainSingle().Which.ToString().Should().Be($"schema.yaml:{position}: error: malformed YAML: a tab in the indentation: YAML indents with spaces only");
    }

    [Fact]
    public void Duplicate_keys_are_malformed_yaml_with_a_position()
    {
        var (yaml, _) = SchemaSamples.Edit(("  cache:\n    image: redis:7\n", "  cache:\n    image: redis:7\n    image: redis:8\n"));
        var result = Load(yaml);
        result.Diagnostics.Should().ContainSingle(d => d.IsError).Which.ToString().Should().MatchRegex(@"^schema\.yaml:\d+:\d+: error: malformed YAML: .*[Dd]uplicate");
    }

    [Fact]
    public void Every_problem_is_reported_in_one_run_in_source_order()
    {
        var (yaml, _) = SchemaSamples.Edit(
            ("    image: postgres:16", "    imag: postgres:16"),
            ("depends_on: [db, cache]", "depends_on: [db, cahce]"),
            ("core: { subnet: 10.90.1.0/24 }", "core: { subnet: 8.8.8.0/24 }"));

        var result = Load(yaml);

        var errors = result.Diagnostics.Where(d => d.IsError).Select(d => d.Message).ToList();
        errors.Should().Contain(m => m.Contains("unknown key 'imag'"));
        errors.Should().Contain(m => m.Contains("service 'db' has no image"));
        errors.Should().Contain(m => m.Contains("undefined service 'cahce'"));
        errors.Should().Contain(m => m.Contains("subnet 8.8.8.0/24 of stack 'core' in environment 'dev' is not private"));
        result.Diagnostics.Select(d => d.Location.Line).Should().BeInAscendingOrder();
    }

    [Fact]
    public void A_missing_file_is_one_clear_error()
    {
        var result = SchemaLoader.Load(Path.Combine(_directory, "nope.yaml"), "nope.yaml", _directory);
        result.Diagnostics.Should().ContainSingle().Which.ToString().Should().Be("nope.yaml:1:1: error: schema file not found: pass --schema PATH");
    }
}
