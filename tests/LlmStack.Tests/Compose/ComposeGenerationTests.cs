using System.Diagnostics;
using LlmStack.Compose;
using LlmStack.Schema;
using NJsonSchema;
using YamlDotNet.RepresentationModel;

namespace LlmStack.Tests.Compose;

public partial class ComposeGenerationTests(GeneratedCompose generated) : IClassFixture<GeneratedCompose>
{
    private static readonly string[] Environments = ["development", "staging", "production", "testing"];

    [System.Text.RegularExpressions.GeneratedRegex("^(\\s+context: )\"(.+)\"$")]
    private static partial System.Text.RegularExpressions.Regex BuildContext();

    private string StandInContext(string context)
    {
        var directory = Path.Combine(generated.Output, ".contexts", Path.GetFileName(context));
        Directory.CreateDirectory(directory);
        return directory;
    }

    [Fact]
    public void A_built_service_keeps_its_image_tag_and_gets_its_build_with_the_context_relative_to_the_file()
    {
        var service = (YamlMappingNode)((YamlMappingNode)generated.Read("staging", "ai.yml")["services"])["ai-agents"];
        ((YamlScalarNode)service["image"]).Value.Should().Be("multimodal/ai-agents:1.0.0");
        var build = (YamlMappingNode)service["build"];
        var context = ((YamlScalarNode)build["context"]).Value!;
        Path.GetFullPath(context, Path.Combine(generated.Output, "staging")).Should().Be(Path.Combine(Repository.Root, "services", "ai-agents"));
        ((YamlScalarNode)build["dockerfile"]).Value.Should().Be("Dockerfile");
        ((YamlMappingNode)((YamlMappingNode)generated.Read("staging", "core.yml")["services"])["postgres"]).Children.Keys
            .Should().NotContain(new YamlScalarNode("build"), "a pulled image has no build");
    }

    [Fact]
    public void One_file_per_stack_one_for_all_stacks_and_a_swarm_stack_file_in_every_environment()
    {
        foreach (var environment in Environments)
        {
            var resolved = generated.Schema.Resolve(environment);
            var expected = resolved.Stacks.Select(s => s.Name + ".yml").Append("all.yml").Append(StackFileGenerator.FileName).Order();
            Directory.GetFiles(Path.Combine(generated.Output, environment)).Select(Path.GetFileName).Order().Should().Equal(expected);
        }

        generated.Files.Should().HaveCount(29);
    }

    [Fact]
    public async Task Every_generated_file_passes_docker_compose_v1_config()
    {
        var compose = Tools.Require("docker-compose", "apt-get install docker-compose");
        var secrets = generated.Schema.Load().Secrets.Keys.ToDictionary(k => k, k => "test-value-" + k.ToLowerInvariant());
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Parallel.ForEachAsync(generated.Files, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (file, ct) =>
        {
            // Compose v1 predates the top-level name: give it a copy without it, beside the original (relative binds). It
            // also wants every build context to exist: the stack's services/ is not in this repository, so the copy's
            // contexts point at stand-ins (an empty directory each, of the same name).
            var copy = Path.Combine(Path.GetDirectoryName(file)!, ".v1-" + Path.GetFileName(file));
            await File.WriteAllLinesAsync(copy, (await File.ReadAllLinesAsync(file, ct))
                .Where(l => !l.StartsWith("name:", StringComparison.Ordinal))
                .Select(l => BuildContext().Match(l) is { Success: true } m ? $"{m.Groups[1].Value}\"{StandInContext(m.Groups[2].Value)}\"" : l), ct);
            try
            {
                var start = new ProcessStartInfo(compose, ["-f", copy, "--project-name", "llmstack-check", "config", "-q"]) { RedirectStandardError = true, RedirectStandardOutput = true };
                foreach (var (key, value) in secrets)
                {
                    start.Environment[key] = value;
                }

                using var process = Process.Start(start)!;
                var errors = await process.StandardError.ReadToEndAsync(ct);
                await process.WaitForExitAsync(ct);
                if (process.ExitCode != 0 || errors.Contains("WARNING", StringComparison.Ordinal))
                {
                    failures.Add($"{Path.GetRelativePath(generated.Output, file)}: exit {process.ExitCode}: {errors}");
                }
            }
            finally
            {
                File.Delete(copy);
            }
        });

        failures.Should().BeEmpty();
    }

    [Fact]
    public async Task Every_generated_file_passes_the_compose_spec_json_schema()
    {
        var schema = await JsonSchema.FromFileAsync(Tools.ComposeJsonSchema());
        foreach (var file in generated.Files)
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(file))
            {
                stream.Load(reader);
            }

            var json = GeneratedCompose.ToJson(stream.Documents[0].RootNode)!.ToJsonString();
            var errors = schema.Validate(json);
            errors.Select(e => $"{e.Path}: {e.Kind}").Should().BeEmpty($"{Path.GetRelativePath(generated.Output, file)} must match the compose spec");
        }
    }

    [Fact]
    public async Task The_json_schema_check_catches_a_broken_file()
    {
        var schema = await JsonSchema.FromFileAsync(Tools.ComposeJsonSchema());
        schema.Validate("""{"services": {"a": {"image": "x", "ports": [{"target": "not-a-number"}], "bogus": 1}}}""").Should().NotBeEmpty();
    }

    [Fact]
    public void A_service_joins_its_stack_network_and_the_networks_of_its_dependencies()
    {
        var ai = generated.Read("testing", "ai.yml");
        var agents = (YamlMappingNode)((YamlMappingNode)ai["services"])["ai-agents"];
        ((YamlMappingNode)agents["networks"]).Children.Keys.Select(k => k.ToString()).Should().BeEquivalentTo("ai", "core", "inference");

        var networks = (YamlMappingNode)ai["networks"];
        networks["core"]["name"].ToString().Should().Be("multimodal-testing_core");
        networks["core"]["external"].ToString().Should().Be("true");
        networks["inference"]["external"].ToString().Should().Be("true");
        ((YamlMappingNode)networks["ai"]).Children.Should().NotContainKey("external");
        networks["ai"]["ipam"]["config"][0]["subnet"].ToString().Should().Be("10.83.3.0/24");

        // Cross-stack depends_on cannot be expressed in a standalone file: it is kept as a label.
        ((YamlMappingNode)agents["depends_on"]).Children.Keys.Select(k => k.ToString()).Should().NotContain("postgres");
        agents["labels"]["io.llmstack.depends-on"].ToString().Should().Contain("postgres").And.Contain("vllm");

        var all = generated.Read("testing", "all.yml");
        var allAgents = (YamlMappingNode)((YamlMappingNode)all["services"])["ai-agents"];
        ((YamlMappingNode)allAgents["depends_on"]).Children.Keys.Select(k => k.ToString()).Should().Contain(["postgres", "vllm"]);
        ((YamlMappingNode)all["networks"]).Children.Values.Should().OnlyContain(n => !((YamlMappingNode)n).Children.ContainsKey("external"));
        ((YamlMappingNode)((YamlMappingNode)all["services"])["postgres"]).Children.Should().NotContainKey("depends_on", "postgres depends on nothing");
    }

    [Fact]
    public void Every_file_has_the_environment_project_name_and_every_service_our_labels()
    {
        foreach (var environment in Environments)
        {
            var project = generated.Schema.Resolve(environment).Project;
            foreach (var file in Directory.GetFiles(Path.Combine(generated.Output, environment)))
            {
                var root = generated.Read(environment, Path.GetFileName(file));
                if (Path.GetFileName(file) == StackFileGenerator.FileName)
                {
                    // Format 3.8 has no top-level name: the project is the stack name docker stack deploy is given.
                    File.ReadAllText(file).Should().Contain($"docker stack deploy -c <this file> {project}\n");
                }
                else
                {
                    root["name"].ToString().Should().Be(project);
                }

                foreach (var (name, service) in ((YamlMappingNode)root["services"]).Children)
                {
                    var labels = (YamlMappingNode)service["labels"];
                    labels["io.llmstack.environment"].ToString().Should().Be(environment);
                    labels["io.llmstack.service"].ToString().Should().Be(name.ToString());
                    labels["io.llmstack.stack"].ToString().Should().NotBeEmpty();
                }
            }
        }

        Environments.Select(e => generated.Schema.Resolve(e).Project).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public void Environment_overrides_are_applied()
    {
        var production = (YamlMappingNode)generated.Read("production", "all.yml")["services"];
        var worker = (YamlMappingNode)production["multimodal-worker"];
        worker["deploy"]["replicas"].ToString().Should().Be("3");
        worker.Children.Should().NotContainKey("ports", "replicated services publish no fixed host port");
        production["postgres"]["deploy"]["resources"]["limits"]["memory"].ToString().Should().Be("4g");
        production["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]["driver"].ToString().Should().Be("nvidia");

        var staging = (YamlMappingNode)generated.Read("staging", "all.yml")["services"];
        staging["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"].Should().BeOfType<YamlSequenceNode>();
        staging["postgres"]["ports"][0].ToString().Should().Be("127.0.0.1:25432:5432");

        var development = (YamlMappingNode)generated.Read("development", "all.yml")["services"];
        ((YamlMappingNode)development["vllm"]).Children.Should().NotContainKey("deploy", "development has gpu: false");
        development["postgres"]["ports"][0].ToString().Should().Be("127.0.0.1:5432:5432");
    }

    [Fact]
    public void Secrets_are_references_never_literals()
    {
        var schema = generated.Schema.Load();
        foreach (var file in generated.Files)
        {
            var text = File.ReadAllText(file);
            foreach (var secret in schema.Secrets.Keys.Where(s => text.Contains(s, StringComparison.Ordinal)))
            {
                text.Should().NotMatchRegex($@"\b{secret}: ""(?!\$\{{{secret}:\?)", $"{secret} in {file} must be a reference");
            }
        }

        File.ReadAllText(Path.Combine(generated.Output, "testing", "core.yml"))
            .Should().Contain("POSTGRES_PASSWORD: \"${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is missing: pass --env-file secrets/testing.env}\"");
    }

    [Fact]
    public void Generation_is_deterministic()
    {
        var again = Repository.TempDirectory("compose-again");
        try
        {
            var files = ComposeCommands.GenerateAll(generated.Schema, again, Serilog.Core.Logger.None);
            files.Select(f => Path.GetRelativePath(again, f)).Should().Equal(generated.Files.Select(f => Path.GetRelativePath(generated.Output, f)));
            foreach (var file in files)
            {
                File.ReadAllBytes(file).Should().Equal(File.ReadAllBytes(Path.Combine(generated.Output, Path.GetRelativePath(again, file))));
            }
        }
        finally
        {
            Directory.Delete(again, recursive: true);
        }
    }

    [Fact]
    public void Stale_files_of_a_removed_stack_are_deleted()
    {
        var directory = Repository.TempDirectory("compose-stale");
        try
        {
            File.WriteAllText(Path.Combine(directory, "old-stack.yml"), "services: {}");
            File.WriteAllText(Path.Combine(directory, "notes.txt"), "kept");
            ComposeGenerator.Write(generated.Schema.Resolve("testing"), Repository.Root, directory);
            File.Exists(Path.Combine(directory, "old-stack.yml")).Should().BeFalse();
            File.Exists(Path.Combine(directory, "notes.txt")).Should().BeTrue();
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
