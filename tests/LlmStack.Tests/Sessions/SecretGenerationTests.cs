using LlmStack.Engine;
using LlmStack.Schema;
using LlmStack.Sessions;

namespace LlmStack.Tests.Sessions;

public class SecretGenerationTests
{
    private static readonly SchemaFile Schema = new(Repository.Root, "schemas/compose-schema.yaml");

    private static IReadOnlyList<BoundSecret> Candidates(params string[] missing) =>
        SecretGeneration.Candidates(Schema.Resolve("testing"), missing, Schema.Load().Secrets);

    [Fact]
    public void A_database_login_is_kept_by_the_database_volume()
    {
        Candidates("POSTGRES_PASSWORD").Select(c => (c.Secret, c.Service, c.Volume.Key))
            .Should().Equal(("POSTGRES_PASSWORD", "postgres", "postgres_data"));
    }

    [Fact]
    public void An_account_password_is_kept_by_the_data_of_the_services_that_use_it_never_by_caches()
    {
        // MINIO_ROOT_PASSWORD is also the AI services' S3 key: their caches hold nothing of it.
        var minio = Candidates("MINIO_ROOT_PASSWORD");
        minio.Select(c => c.Volume.Key).Should().Equal("minio_data");
        minio.Should().OnlyContain(c => c.Volume.Holds == DataTypes.Db || c.Volume.Holds == DataTypes.AppData);
        Candidates("GRAFANA_ADMIN_PASSWORD").Select(c => (c.Service, c.Volume.Key)).Should().Equal(("grafana", "grafana_data"));
    }

    [Fact]
    public void A_stable_key_is_kept_where_its_service_keeps_data_including_what_it_depends_on()
    {
        // LiteLLM encrypts provider credentials into its PostgreSQL database.
        Candidates("LITELLM_SALT_KEY").Select(c => (c.Service, c.Volume.Key)).Should().Contain(("postgres", "postgres_data"));
        Candidates("N8N_ENCRYPTION_KEY").Select(c => c.Volume.Key).Should().Contain("n8n_data");
    }

    [Fact]
    public void Secrets_no_data_keeps_are_never_candidates()
    {
        Candidates("JWT_SECRET_KEY", "WEBUI_SECRET_KEY", "VLLM_API_KEY", "LITELLM_MASTER_KEY", "N8N_MONITORING_SECRET_KEY").Should().BeEmpty();
        Candidates("JWT_SECRET_KEY", "POSTGRES_PASSWORD").Select(c => c.Secret).Distinct().Should().Equal("POSTGRES_PASSWORD");
    }
}
