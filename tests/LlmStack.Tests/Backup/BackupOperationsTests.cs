using LlmStack.Backup;
using LlmStack.Pipeline;
using LlmStack.Sessions;
using LlmStack.Tests.Sessions;

namespace LlmStack.Tests.Backup;

/// <summary>The backups of another environment (the wipes that span environments): each with its own key; nothing here talks to an engine.</summary>
public sealed class BackupOperationsTests : IDisposable
{
    private readonly EnvironmentSession _development = TestSession.Of("development");

    public void Dispose() => _development.Dispose();

    [Fact]
    public void Another_environment_gets_backups_of_its_own_once_and_this_one_these()
    {
        var backups = new BackupOperations(_development, new BackupOptions());
        var staging = _development.For("staging");

        backups.For(_development, "WipeNuclear").Should().BeSameAs(backups);
        var other = backups.For(staging, "WipeNuclear");
        other.Should().NotBeSameAs(backups);
        backups.For(staging, "WipeNuclear").Should().BeSameAs(other, "made once per environment");
    }

    [Theory]
    [InlineData("a-key-for-this-run", null)]
    [InlineData(null, "keys/development.key")]
    public void A_key_given_for_this_run_refuses_another_environment_in_one_line(string? key, string? keyFile)
    {
        var backups = new BackupOperations(_development, new BackupOptions { KeyValue = key, KeyFile = keyFile });

        backups.For(_development, "WipeNuclear").Should().BeSameAs(backups);
        var other = () => backups.For(_development.For("production"), "WipeNuclear");
        other.Should().Throw<PipelineException>()
            .WithMessage("WipeNuclear also backs up production, which has its own key (<secrets dir>/production.backup-key): drop --backup-key/--backup-key-file");
    }
}
