using System.Text;
using LlmStack.Images;
using LlmStack.Pipeline;

namespace LlmStack.Tests.Images;

/// <summary>The engine's own logins (~/.docker/config.json) for pulls: which registry an image is on, which login it gets, masked.</summary>
public sealed class RegistryCredentialsTests : IDisposable
{
    private readonly string _directory = Repository.TempDirectory("docker-config");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("postgres:16-alpine", "docker.io")]
    [InlineData("vllm/vllm-openai:v0.6.3", "docker.io")]
    [InlineData("ghcr.io/berriai/litellm:main-v1.55.8", "ghcr.io")]
    [InlineData("docker.elastic.co/kibana/kibana:8.11.0", "docker.elastic.co")]
    [InlineData("localhost:5000/team/app:1", "localhost:5000")]
    [InlineData("localhost/app:1", "localhost")]
    [InlineData("multimodal/ai-agents:1.0.0", "docker.io")]
    public void An_images_registry_is_read_as_docker_reads_it(string image, string registry)
    {
        RegistryCredentials.RegistryOf(image).Should().Be(registry);
    }

    [Fact]
    public void Logins_are_found_by_registry_and_every_secret_is_registered_before_use()
    {
        var hub = Convert.ToBase64String(Encoding.UTF8.GetBytes("ops:hub-password-1234"));
        var path = Path.Combine(_directory, "config.json");
        File.WriteAllText(path, $$"""
            {
              "auths": {
                "https://index.docker.io/v1/": { "auth": "{{hub}}" },
                "ghcr.io": { "username": "bot", "password": "ghcr-token-5678" },
                "registry.example.com": { "identitytoken": "refresh-token-9999" },
                "helped.example.com": {}
              },
              "credHelpers": { "gcr.io": "gcloud" }
            }
            """);
        var masker = new SecretMasker();

        var credentials = RegistryCredentials.Load(path, masker.Register);

        var docker = credentials.For("docker.io")!;
        docker.Username.Should().Be("ops");
        docker.Password.Should().Be("hub-password-1234");
        docker.ServerAddress.Should().Be(RegistryCredentials.DockerHubKey);
        credentials.For("ghcr.io")!.Password.Should().Be("ghcr-token-5678");
        credentials.For("registry.example.com")!.IdentityToken.Should().Be("refresh-token-9999");
        credentials.For("quay.io").Should().BeNull("no login: anonymous");
        credentials.OnlyAHelperKnows("gcr.io").Should().BeTrue();
        credentials.OnlyAHelperKnows("helped.example.com").Should().BeTrue("an empty entry is a helper's login");
        credentials.OnlyAHelperKnows("quay.io").Should().BeFalse();
        credentials.All.Should().HaveCount(3);

        masker.Mask($"x {hub} hub-password-1234 ghcr-token-5678 refresh-token-9999").Should().Be("x **** **** **** ****");
    }

    [Fact]
    public void No_file_is_no_login_and_a_malformed_one_is_one_line()
    {
        RegistryCredentials.Load(Path.Combine(_directory, "none.json"), _ => { }).For("docker.io").Should().BeNull();

        var path = Path.Combine(_directory, "config.json");
        File.WriteAllText(path, "{ \"auths\": ");
        var load = () => RegistryCredentials.Load(path, _ => { });
        load.Should().Throw<PipelineException>().WithMessage($"{path} cannot be read (*): fix it (docker login rewrites it), or point DOCKER_CONFIG elsewhere");
    }
}
